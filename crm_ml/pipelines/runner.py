"""The one training runner: ``crm-ml demo``, ``crm-ml train`` and the tests all use it.

:func:`run_steps` runs the model pipelines (:data:`STEPS`, ``crm_ml.pipelines.<step>.run``)
on one dataset with one :class:`~crm_ml.pipelines.config.TrainConfig`. Each step fits its
models with tracking paused, logs its chosen model with one call, writes its tables and adds
the model and its card to the run's release plan. Only when every step has succeeded are the
models registered and the promotions decided and carried out together; a failing step
registers nothing. Then the cards (with their registered version) are written under
``models_dir`` and logged with their models' runs.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crm_ml.errors import PipelineError
from crm_ml.pipelines.config import TrainConfig

#: Steps in the order they run: (module, what it shows). Churn runs before CLV: the value at
#: risk multiplies the CLV by the churn step's probabilities.
STEPS = (
    ("rfm", "RFM scores, named segments and clustering-based segments"),
    ("churn", "churn probability with reasons (LightGBM vs random forest)"),
    ("clv", "customer lifetime value (BG/NBD + Gamma-Gamma) and value at risk"),
    ("recommend", "next products per customer with reasons, graded against popular items"),
    ("forecast", "ARIMA sales forecast, overall and per group"),
    ("campaigns", "campaign summary and uplift model (when campaign contacts are given)"),
    ("kpi", "KPI table and HTML report (no model)"),
)


@dataclass
class StepContext:
    """What every step gets besides the data and the config.

    Attributes
    ----------
    output_dir, models_dir : Path
        Output tables; model cards (written by the runner after the release).
    plan : ReleasePlan
        The run's :class:`~crm_ml.tracking.release.ReleasePlan`.
    config : TrainConfig
    say : callable
        Prints progress.
    shared : dict
        Results one step hands to a later one (``"churn_probability"``: the churn step's
        probability per customer at as_of).
    """

    output_dir: Path
    models_dir: Path
    plan: Any
    config: TrainConfig
    say: Callable[..., None] = print
    shared: dict[str, Any] = field(default_factory=dict)


def load_step(module: str):
    """The pipeline module of ``module`` (``crm_ml.pipelines.<module>``), or None when the model
    module it trains is not in this build."""
    name = f"crm_ml.pipelines.{module}"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name in (name, f"crm_ml.{module}"):
            return None
        raise


def run_steps(data, modules: Iterable[str], *, config: TrainConfig | None = None,
              output_dir: str | Path, models_dir: str | Path,
              pipeline_run_id: str | None = None, say: Callable[..., None] = print,
              after_step: Callable[[str, dict], None] | None = None) -> dict[str, Any]:
    """Run the model pipelines on ``data``, then register, promote and document their models.

    Parameters
    ----------
    data : object
        ``transactions``, ``as_of`` and optionally ``interactions``, ``customers``, ``truth``,
        ``quality``, ``sources`` (a built-in dataset or :class:`~crm_ml.scoring.CRMData`).
    modules : iterable of str
        The steps of :data:`STEPS` to run (always in the order of :data:`STEPS`).
    config : TrainConfig, optional
        Default: ``TrainConfig()`` (production settings).
    output_dir, models_dir : path
        Output tables and model cards.
    pipeline_run_id : str, optional
        The MLflow run of the whole pipeline, recorded on every registered version.
    say : callable
        Prints progress.
    after_step : callable, optional
        ``after_step(module, summary)`` after each step succeeded.

    Returns
    -------
    dict
        ``{"modules": {module: summary}, "skipped": [...]}``; each summary has
        ``registered_version`` and ``promoted`` filled in.

    Raises
    ------
    PipelineError
        When a step or the release fails. Nothing was registered and no alias moved (the
        original error is the ``__cause__``).
    """
    from crm_ml.tracking.release import PIPELINE_RUN_TAG, ReleasePlan

    context = StepContext(output_dir=Path(output_dir), models_dir=Path(models_dir),
                          plan=ReleasePlan(), config=config or TrainConfig(), say=say)
    context.output_dir.mkdir(parents=True, exist_ok=True)
    modules = set(modules)
    summaries: dict[str, dict] = {}
    owners: dict[int, str] = {}  # candidate index in the plan -> module that added it
    skipped: list[str] = []
    for module, what in STEPS:
        if module not in modules:
            continue
        step = load_step(module)
        if step is None:
            skipped.append(module)
            say(f"- {module}: not in this build, skipped")
            continue
        say(f"- {module}: {what} ...")
        t = time.perf_counter()
        first = len(context.plan.candidates)
        try:
            out = dict(step.run(data, context) or {})
        except Exception as exc:
            raise PipelineError(
                f"the {module} step failed, so no model of this run was registered or "
                f"promoted (the registry is unchanged): {_describe(exc)}") from exc
        out["seconds"] = round(time.perf_counter() - t, 1)
        owners.update(dict.fromkeys(range(first, len(context.plan.candidates)), module))
        summaries[module] = out
        if after_step is not None:
            after_step(module, out)
    try:
        context.plan.release(tags={PIPELINE_RUN_TAG: pipeline_run_id}
                             if pipeline_run_id else None)
    except Exception as exc:
        raise PipelineError(
            "registering the trained models failed, so no model of this run was promoted and "
            f"no alias moved: {_describe(exc)}") from exc
    for i, candidate in enumerate(context.plan.candidates):
        _publish_card(candidate, context.models_dir)
        if candidate.model_uri is not None:
            summaries[owners[i]].update(registered_version=candidate.version,
                                        promoted=candidate.promoted)
    return {"modules": summaries, "skipped": skipped}


def _publish_card(candidate, models_dir: Path) -> None:
    """Write the candidate's card (with its registered version) and log it with its run."""
    from crm_ml.tracking.runs import resume_run

    card = candidate.card
    if card is None:
        return
    if candidate.version is not None:
        card.model_details["registered_version"] = candidate.version
    if candidate.run_id:
        with resume_run(candidate.run_id) as run:
            card.log(run)
    card.write(models_dir / candidate.name)


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"
