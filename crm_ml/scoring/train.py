"""`crm-ml train`: fit, register and document every model on a company's own data.

The module pipelines are the same ones `crm-ml demo` runs on the built-in data
(``crm_ml.<module>.demo.run``): each fits on the data, compares the new model (the
``challenger``) with the registered ``champion`` on held-out data, promotes it when it wins,
and writes its model card under ``models/``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from crm_ml.cards.card import to_jsonable
from crm_ml.demo import STEPS, load_pipeline
from crm_ml.scoring.inputs import CRMData
from crm_ml.tracking import start_run


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
    """
    output_dir, models_dir = Path(output_dir), Path(models_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    models_dir.mkdir(parents=True, exist_ok=True)
    say = print if echo else (lambda *a, **k: None)
    wanted = modules or tuple(m for m, _ in STEPS)
    result: dict[str, Any] = {"as_of": str(data.as_of.date()), "modules": {},
                              "data_quality": to_jsonable(data.quality)}
    with start_run("train", run_name="crm-ml train", data=data.transactions,
                   params={"as_of": str(data.as_of.date())}) as pipeline:
        for module, what in STEPS:
            if module not in wanted:
                continue
            step = load_pipeline(module)
            if step is None:
                continue
            say(f"- {module}: {what} ...")
            t = time.perf_counter()
            out = dict(step.run(data, output_dir=output_dir, models_dir=models_dir) or {})
            out["seconds"] = round(time.perf_counter() - t, 1)
            result["modules"][module] = to_jsonable(out)
        result["mlflow_run_id"] = pipeline.run_id
        pipeline.log_dict(result, "train_summary.json")
    return result
