"""`crm-ml demo`: the whole pipeline on the built-in data.

Builds a synthetic CRM dataset, then runs the training pipelines (:mod:`crm_ml.pipelines`,
the same runner ``crm-ml train`` uses) with the demo's smaller settings
(:func:`~crm_ml.pipelines.config.demo_config`) inside one MLflow pipeline run. Each step
fits, evaluates and writes its tables under the output folder, and adds its model and card to
the run's release plan; when every step has succeeded the models are registered and promoted
together and the model cards written under ``models/``. The demo prints the headline numbers
and writes ``summary.json``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from crm_ml._logging import get_logger
from crm_ml.cards.card import to_jsonable
from crm_ml.datasets import make_crm_dataset
from crm_ml.pipelines.config import TrainConfig, demo_config
from crm_ml.pipelines.runner import STEPS, run_steps
from crm_ml.tracking import start_run, tracking_uri

log = get_logger("demo")

__all__ = ["STEPS", "run_demo", "run_steps"]


def run_demo(output: str | Path = "output", n_customers: int = 5000, seed: int = 0,
             models_dir: str | Path = "models", steps: tuple[str, ...] | None = None,
             echo: bool = True, config: TrainConfig | None = None) -> dict[str, Any]:
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
    config : TrainConfig, optional
        Default: :func:`~crm_ml.pipelines.config.demo_config` (smaller than production).

    Returns
    -------
    dict
        Per-module summaries, dataset size and timings (also written to ``summary.json``).
    """
    output, models_dir = Path(output), Path(models_dir)
    output.mkdir(parents=True, exist_ok=True)
    models_dir.mkdir(parents=True, exist_ok=True)
    say = print if echo else (lambda *a, **k: None)
    config = config or demo_config()

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
        "config": config.to_dict(),
        "tracking_uri": tracking_uri(),
        "modules": {},
        "skipped": [],
    }
    wanted = steps or tuple(m for m, _ in STEPS)

    def report(module: str, result: dict) -> None:
        say(f"  done in {result['seconds']} s: {_headline(result)}")

    with start_run("demo", run_name="crm-ml demo", data=ds.transactions,
                   params={"n_customers": n_customers, "seed": seed}) as pipeline:
        pipeline.log_dict(config.to_dict(), "config.json")
        done = run_steps(ds, wanted, config=config, output_dir=output, models_dir=models_dir,
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
