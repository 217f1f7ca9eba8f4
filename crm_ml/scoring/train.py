"""`crm-ml train`: fit, register and document every model on a company's own data.

The module pipelines are the same ones `crm-ml demo` runs on the built-in data
(``crm_ml.<module>.demo.run``, through :func:`crm_ml.demo.run_steps`): each fits and
evaluates on the data; only when every one has succeeded are the new models registered, each
compared with its registered ``champion`` on held-out data and promoted when it wins, and the
model cards written under ``models/``. A failing step registers and promotes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crm_ml.cards.card import to_jsonable
from crm_ml.churn.pyfunc import REGISTERED_NAME as CHURN_MODEL
from crm_ml.demo import STEPS, run_steps
from crm_ml.scoring.inputs import CRMData, check_model_inputs
from crm_ml.tracking import start_run, tracking_enabled, tracking_uri


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
    required = _champion_inputs(CHURN_MODEL)
    if required:
        check_model_inputs(required, data, model="the registered crm-churn champion")


def train_all(data: CRMData, output_dir: str | Path = "output", models_dir: str | Path = "models",
              modules: tuple[str, ...] | None = None, echo: bool = True) -> dict[str, Any]:
    """Train every model module on ``data`` inside one MLflow pipeline run.

    Parameters
    ----------
    data : CRMData
        From :func:`crm_ml.scoring.load_inputs`.
    output_dir, models_dir : path
        Output tables and model cards.
    modules : tuple of str, optional
        Subset of ``("rfm", "churn", "clv", "forecast")``.
    echo : bool
        Print one line per module.

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
    say = print if echo else (lambda *a, **k: None)
    wanted = modules or tuple(m for m, _ in STEPS)
    check_champion_inputs(data, wanted)
    result: dict[str, Any] = {"as_of": str(data.as_of.date()), "modules": {},
                              "data_quality": to_jsonable(data.quality)}
    with start_run("train", run_name="crm-ml train", data=data.transactions,
                   params={"as_of": str(data.as_of.date())}) as pipeline:
        done = run_steps(data, wanted, output_dir=output_dir, models_dir=models_dir,
                         pipeline_run_id=pipeline.run_id, say=say)
        result["modules"] = {m: to_jsonable(out) for m, out in done["modules"].items()}
        result["mlflow_run_id"] = pipeline.run_id
        pipeline.log_dict(result, "train_summary.json")
    return result
