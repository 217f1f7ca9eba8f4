"""`crm-ml train`: fit, register and document every model on a company's own data.

The training pipelines are the ones `crm-ml demo` runs on the built-in data
(:mod:`crm_ml.pipelines`, through :func:`crm_ml.pipelines.run_steps`), here with the
production settings of :class:`~crm_ml.pipelines.config.TrainConfig` unless told otherwise:
each fits and evaluates on the data; only when every one has succeeded are the new models
registered, each compared with its registered ``champion`` on held-out data and promoted when
it wins, and the model cards written under ``models/``. A failing step registers and promotes
nothing. The config used is logged (``config.json`` on the pipeline run) and printed on every
card.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from crm_ml.cards.card import to_jsonable
from crm_ml.model_names import CHURN, CLV, RECOMMEND, SALES_FORECAST, SEGMENTS, UPLIFT
from crm_ml.pipelines.config import TrainConfig
from crm_ml.pipelines.runner import STEPS, run_steps
from crm_ml.scoring.inputs import CRMData, check_model_inputs
from crm_ml.scoring.preflight import check_trainable
from crm_ml.tracking import start_run, tracking_enabled, tracking_uri

#: Tables ``crm-ml train`` writes into its output folder (the pipelines' tables; plus
#: ``forecast_by_<forecast.by>.csv``, see :func:`tables`).
TABLES = ("rfm_scores.csv", "rfm_segment_summary.csv", "rfm_migration.csv", "segments.csv",
          "segment_profile.csv", "churn_scores.csv", "clv_predictions.csv",
          "clv_value_at_risk.csv", "clv_holdout_deciles.csv", "clv_params.csv",
          "forecast_overall.csv", "forecast_backtest.csv", "recommendations.csv",
          "kpi_table.csv", "kpi_report.html",
          # with --contacts only (the campaigns step)
          "campaign_summary.csv", "uplift_targeting.csv")
#: Model cards it writes, each into ``<models_dir>/<name>/``.
CARDS = (SEGMENTS, CHURN, CLV, SALES_FORECAST, RECOMMEND, UPLIFT)  # UPLIFT: with --contacts only
CARD_FILES = ("card.md", "card.html", "card.json")


def tables(config: TrainConfig | None = None) -> tuple[str, ...]:
    """Every table a run with ``config`` writes into its output folder."""
    by = (config or TrainConfig()).forecast.by
    return TABLES + ((f"forecast_by_{by}.csv",) if by else ())


def refuse_overwriting_inputs(output_dir, models_dir, inputs: dict,
                              config: TrainConfig | None = None) -> None:
    """Raise ``ValueError`` when a file ``train`` writes is one of the ``inputs``.

    Parameters
    ----------
    output_dir, models_dir : path
        As given to :func:`train_all`.
    inputs : dict
        ``label -> path`` of the input files (``None`` paths are skipped).
    config : TrainConfig, optional
        The run's config (it names the per-group forecast table).
    """
    from crm_ml.output_files import inputs_inside
    from crm_ml.output_files import refuse_overwriting_inputs as refuse

    written = {f"--output {output_dir} (it writes {name})": Path(output_dir) / name
               for name in tables(config)}
    for card in CARDS:
        written.update({f"--models-dir {models_dir} (it writes {card}/{name})":
                        Path(models_dir) / card / name for name in CARD_FILES})
        plots = Path(models_dir) / card / "plots"  # plot names are known only when written
        for label, path in inputs_inside(plots, inputs):
            raise ValueError(f"the input file {label} {path} is in {plots}, where train writes "
                             "plots; move it or give another --models-dir")
        written.update({f"--models-dir {models_dir} (it writes {card}/plots/{p.name})": p
                        for p in (plots.glob("*.png") if plots.is_dir() else ())})
    refuse(written, inputs)


def _champion_inputs(name: str) -> list[str] | None:
    """Input columns of the registered champion of ``name`` (None: no champion yet)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from crm_ml.errors import ModelNotFoundError
    from crm_ml.tracking import get_version, model_uri

    try:
        get_version(name)
    except ModelNotFoundError:
        return None
    mlflow.set_tracking_uri(tracking_uri())
    mlflow.set_registry_uri(tracking_uri())
    try:
        schema = mlflow.models.get_model_info(model_uri(name)).signature
    except (MlflowException, OSError):
        return None  # unreadable: the step itself reports it
    if schema is None or not schema.inputs.has_input_names():
        return None
    return list(schema.inputs.input_names())


def check_champion_inputs(data: CRMData, modules=("churn",)) -> None:
    """Refuse, before any training, data the churn champion cannot be compared on.

    Each new churn model is compared with the registered champion on held-out features built
    from the same files; a champion trained with interactions or customer attributes cannot
    score data without them.
    """
    if "churn" not in modules or not tracking_enabled():
        return
    required = _champion_inputs(CHURN)
    if required:
        check_model_inputs(required, data, model=f"the registered {CHURN} champion")


def train_all(data: CRMData, output_dir: str | Path = "output", models_dir: str | Path = "models",
              modules: tuple[str, ...] | None = None, echo: bool = True,
              allow_columns=None, config: TrainConfig | None = None) -> dict[str, Any]:
    """Train every model module on ``data`` inside one MLflow pipeline run.

    Parameters
    ----------
    data : CRMData
        From :func:`crm_ml.scoring.load_inputs`.
    output_dir, models_dir : path
        Output tables and model cards.
    modules : tuple of str, optional
        Subset of ``("rfm", "churn", "clv", "recommend", "forecast")``.
    echo : bool
        Print one line per module.
    allow_columns : list of str, optional
        Customer columns to use as features although they look like personal identifiers
        or free text (otherwise dropped with a
        :class:`~crm_ml.data.privacy.PersonalDataWarning`).
    config : TrainConfig, optional
        Every setting of the pipelines (default: ``TrainConfig()``, production defaults).

    Returns
    -------
    dict
        Per-module summaries (registered versions, promotion decisions, headline metrics).

    Raises
    ------
    PipelineError
        When a step fails: no model of this run is registered or promoted.
    """
    output_dir, models_dir = Path(output_dir), Path(models_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    models_dir.mkdir(parents=True, exist_ok=True)
    if allow_columns:
        data = dataclasses.replace(data, allow_columns=tuple(allow_columns))
    say = print if echo else (lambda *a, **k: None)
    config = config or TrainConfig()
    wanted = modules or tuple(m for m, _ in STEPS)
    check_trainable(data, wanted, config)
    check_champion_inputs(data, wanted)
    result: dict[str, Any] = {"as_of": str(data.as_of.date()), "modules": {},
                              "config": config.to_dict(),
                              "data_sources": to_jsonable(getattr(data, "sources", {})),
                              "data_quality": to_jsonable(data.quality)}
    with start_run("train", run_name="crm-ml train", data=data.transactions,
                   params={"as_of": str(data.as_of.date())}) as pipeline:
        pipeline.log_dict(config.to_dict(), "config.json")
        done = run_steps(data, wanted, config=config, output_dir=output_dir,
                         models_dir=models_dir, pipeline_run_id=pipeline.run_id, say=say)
        result["modules"] = {m: to_jsonable(out) for m, out in done["modules"].items()}
        result["mlflow_run_id"] = pipeline.run_id
        pipeline.log_dict(result, "train_summary.json")
    return result
