"""`crm-ml demo`: the whole pipeline on the built-in data.

Builds a synthetic CRM dataset, then runs the demo step of every model module
(``crm_ml.<module>.demo.run``) inside one MLflow pipeline run with a nested run per module.
Each step fits, evaluates and writes its tables under the output folder, and adds its model
and card to the pipeline's release plan; when every step has succeeded, :func:`run_steps`
registers and promotes the models together and writes the model cards under ``models/``.
The demo prints the headline numbers and writes ``summary.json``.
"""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from crm_ml._logging import get_logger
from crm_ml.cards.card import to_jsonable
from crm_ml.datasets import make_crm_dataset
from crm_ml.errors import PipelineError
from crm_ml.tracking import start_run, tracking_uri

log = get_logger("demo")

#: Demo steps in the order they run: (module, what it shows).
STEPS = (
    ("rfm", "RFM scores, named segments and clustering-based segments"),
    ("churn", "churn probability with reasons (random forest vs LightGBM)"),
    ("clv", "customer lifetime value (BG/NBD + Gamma-Gamma) and value at risk"),
    ("forecast", "ARIMA sales forecast, overall and per region"),
)


def load_pipeline(module: str):
    """The module's pipeline, or None when the module is not installed.

    ``crm_ml.<module>.demo.run(ds, output_dir, models_dir, plan)`` fits, tracks and writes
    its tables, and adds its model and card to ``plan`` (a
    :class:`~crm_ml.tracking.release.ReleasePlan`). The same pipelines serve ``crm-ml demo``
    and ``crm-ml train``, through :func:`run_steps`.
    """
    name = f"crm_ml.{module}.demo"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name in (name, f"crm_ml.{module}"):
            return None
        raise


def run_steps(ds, modules: Iterable[str], *, output_dir: str | Path,
              models_dir: str | Path, pipeline_run_id: str | None = None,
              say: Callable[..., None] = print,
              after_step: Callable[[str, dict], None] | None = None) -> dict[str, Any]:
    """Run the module pipelines on ``ds``, then register, promote and document their models.

    Every step runs first; only when all have succeeded are their models registered and the
    promotions decided and carried out together (:meth:`ReleasePlan.release
    <crm_ml.tracking.release.ReleasePlan.release>`), and the model cards written (with their
    registered version) under ``models_dir/<name>/`` and logged with the models' runs.

    Parameters
    ----------
    ds : object
        The data: ``transactions``, ``as_of`` and optionally ``interactions``, ``customers``,
        ``truth`` (a built-in dataset or :class:`~crm_ml.scoring.CRMData`).
    modules : iterable of str
        The modules of :data:`STEPS` to run (in the order of :data:`STEPS`).
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
        ``{module: summary}`` with ``registered_version`` and ``promoted`` filled in, and
        ``"skipped"``: the modules not in this build.

    Raises
    ------
    PipelineError
        When a step or the release fails. Nothing was registered and no alias moved (the
        original error is the ``__cause__``).
    """
    from crm_ml.tracking.release import PIPELINE_RUN_TAG, ReleasePlan

    output_dir, models_dir = Path(output_dir), Path(models_dir)
    modules = set(modules)
    plan = ReleasePlan()
    summaries: dict[str, dict] = {}
    owners: dict[int, str] = {}  # candidate index in the plan -> module that added it
    skipped: list[str] = []
    for module, what in STEPS:
        if module not in modules:
            continue
        step = load_pipeline(module)
        if step is None:
            skipped.append(module)
            say(f"- {module}: not in this build, skipped")
            continue
        say(f"- {module}: {what} ...")
        t = time.perf_counter()
        first = len(plan.candidates)
        try:
            out = dict(step.run(ds, output_dir=output_dir, models_dir=models_dir, plan=plan)
                       or {})
        except Exception as exc:
            raise PipelineError(
                f"the {module} step failed, so no model of this run was registered or "
                f"promoted (the registry is unchanged): {_describe(exc)}") from exc
        out["seconds"] = round(time.perf_counter() - t, 1)
        owners.update(dict.fromkeys(range(first, len(plan.candidates)), module))
        summaries[module] = out
        if after_step is not None:
            after_step(module, out)
    try:
        plan.release(tags={PIPELINE_RUN_TAG: pipeline_run_id} if pipeline_run_id else None)
    except Exception as exc:
        raise PipelineError(
            "registering the trained models failed, so no model of this run was promoted and "
            f"no alias moved: {_describe(exc)}") from exc
    for i, candidate in enumerate(plan.candidates):
        _publish_card(candidate, models_dir)
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


def run_demo(output: str | Path = "output", n_customers: int = 5000, seed: int = 0,
             models_dir: str | Path = "models", steps: tuple[str, ...] | None = None,
             echo: bool = True) -> dict[str, Any]:
    """Run every available module on the built-in data.

    Parameters
    ----------
    output : path
        Folder for output tables and ``summary.json`` (created).
    n_customers : int
        Size of the built-in dataset.
    seed : int
        Seed of the built-in dataset.
    models_dir : path
        Folder for model cards (``models/<registered-name>/``).
    steps : tuple of str, optional
        Restrict to these modules (default: all of :data:`STEPS`).
    echo : bool
        Print progress and the summary.

    Returns
    -------
    dict
        Per-module summaries, dataset size and timings (also written to ``summary.json``).
    """
    output, models_dir = Path(output), Path(models_dir)
    output.mkdir(parents=True, exist_ok=True)
    models_dir.mkdir(parents=True, exist_ok=True)
    say = print if echo else (lambda *a, **k: None)

    t0 = time.perf_counter()
    ds = make_crm_dataset(n_customers=n_customers, seed=seed)
    say(f"Built-in data: {ds}")
    data_dir = output / "data"
    data_dir.mkdir(exist_ok=True)
    ds.customers.to_csv(data_dir / "customers.csv", index=False)
    ds.transactions.to_csv(data_dir / "transactions.csv", index=False)
    ds.interactions.to_csv(data_dir / "interactions.csv", index=False)

    summary: dict[str, Any] = {
        "dataset": {"customers": len(ds.customers), "transactions": len(ds.transactions),
                    "interactions": len(ds.interactions), "as_of": str(ds.as_of.date()),
                    "seed": seed},
        "tracking_uri": tracking_uri(),
        "modules": {},
        "skipped": [],
    }
    wanted = steps or tuple(m for m, _ in STEPS)

    def report(module: str, result: dict) -> None:
        say(f"  done in {result['seconds']} s: {_headline(result)}")

    with start_run("demo", run_name="crm-ml demo", data=ds.transactions,
                   params={"n_customers": n_customers, "seed": seed}) as pipeline:
        done = run_steps(ds, wanted, output_dir=output, models_dir=models_dir,
                         pipeline_run_id=pipeline.run_id, say=say, after_step=report)
        summary["modules"] = {m: to_jsonable(r) for m, r in done["modules"].items()}
        summary["skipped"] = done["skipped"]
        for module, result in done["modules"].items():
            if result.get("registered_version") is not None:
                say(f"  {module}: registered version {result['registered_version']}, "
                    f"promoted={result['promoted']}")
        summary["seconds"] = round(time.perf_counter() - t0, 1)
        summary["mlflow_run_id"] = pipeline.run_id
        pipeline.log_dict(summary, "demo_summary.json")

    (output / "summary.json").write_text(json.dumps(summary, indent=2))
    say(f"Done in {summary['seconds']} s. Output: {output}/, model cards: {models_dir}/, "
        f"MLflow: {summary['tracking_uri']} (browse with `mlflow ui --backend-store-uri "
        f"{summary['tracking_uri']}`)")
    return summary


def _headline(result: dict[str, Any]) -> str:
    parts = [f"{k}={v}" for k, v in result.items()
             if k != "seconds" and isinstance(v, str | int | float) and not isinstance(v, bool)]
    return ", ".join(parts[:6]) or "ok"
