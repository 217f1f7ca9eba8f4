"""`crm-ml demo`: the whole pipeline on the built-in data.

Builds a synthetic CRM dataset, then runs the demo step of every model module
(``crm_ml.<module>.demo.run``) inside one MLflow pipeline run with a nested run per module.
Each step registers its model, writes its model card under ``models/`` and its tables under
the output folder; the demo prints the headline numbers and writes ``summary.json``.
"""

from __future__ import annotations

import importlib
import json
import time
from pathlib import Path
from typing import Any

from crm_ml._logging import get_logger
from crm_ml.cards.card import to_jsonable
from crm_ml.datasets import make_crm_dataset
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
    """The module's pipeline (``crm_ml.<module>.demo``: ``run(ds, output_dir, models_dir)``
    fits, tracks, registers and writes the card), or None when the module is not installed.

    The same pipelines serve ``crm-ml demo`` and ``crm-ml train``.
    """
    name = f"crm_ml.{module}.demo"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name in (name, f"crm_ml.{module}"):
            return None
        raise


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
    with start_run("demo", run_name="crm-ml demo", data=ds.transactions,
                   params={"n_customers": n_customers, "seed": seed}) as pipeline:
        for module, what in STEPS:
            if module not in wanted:
                continue
            step = load_pipeline(module)
            if step is None:
                summary["skipped"].append(module)
                say(f"- {module}: not in this build, skipped")
                continue
            say(f"- {module}: {what} ...")
            t = time.perf_counter()
            result = step.run(ds, output_dir=output, models_dir=models_dir)
            result = dict(result or {})
            result["seconds"] = round(time.perf_counter() - t, 1)
            summary["modules"][module] = to_jsonable(result)
            say(f"  done in {result['seconds']} s: {_headline(result)}")
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
