"""`crm-ml demo` end to end on a small built-in dataset, and the CLI's user-error contract."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from crm_ml.demo import STEPS

pytestmark = pytest.mark.slow


def test_demo_runs_every_module_and_writes_summary(demo_workspace):
    summary = demo_workspace["summary"]
    assert summary["dataset"]["customers"] == 1500
    assert (demo_workspace["data"] / "transactions.csv").exists()
    assert json.loads((demo_workspace["output"] / "summary.json").read_text()) == summary
    assert summary["mlflow_run_id"]
    assert summary["skipped"] == []
    assert set(summary["modules"]) == {m for m, _ in STEPS}


def test_demo_registers_champions_and_writes_cards(demo_workspace):
    from crm_ml.tracking import get_version

    cards = sorted(p.parent.name for p in demo_workspace["models"].glob("*/card.md"))
    assert {"crm-churn", "crm-clv", "crm-segments"} <= set(cards)
    for name in cards:
        folder = demo_workspace["models"] / name
        assert (folder / "card.html").stat().st_size > 1000
        card = json.loads((folder / "card.json").read_text())
        assert card["grade"] in {"A", "B", "C"}
        if name in {"crm-churn", "crm-clv", "crm-segments"}:
            assert get_version(name, "champion").version


def test_demo_logs_no_customer_ids(demo_workspace):
    import mlflow

    from crm_ml.tracking import find_in_run_artifacts

    ids = pd.read_csv(demo_workspace["data"] / "customers.csv", usecols=["customer_id"],
                      dtype=str)["customer_id"]
    needles = ids.sample(40, random_state=0).tolist()
    parent = demo_workspace["summary"]["mlflow_run_id"]
    demo_runs = mlflow.search_runs(search_all_experiments=True, output_format="list",
                                   filter_string=f"tags.mlflow.parentRunId = '{parent}'")
    demo_runs.append(mlflow.get_run(parent))
    assert len(demo_runs) >= 4
    for run in demo_runs:
        assert find_in_run_artifacts(run.info.run_id, needles) == [], run.data.tags["module"]


def test_cli_help_lists_the_commands():
    out = subprocess.run([sys.executable, "-m", "crm_ml.cli", "--help"], capture_output=True,
                         text=True, check=True).stdout
    for command in ("demo", "train", "score", "forecast", "card"):
        assert command in out


def test_card_command_regenerates_a_card(demo_workspace, tmp_path, capsys):
    from crm_ml.cli import main

    assert main(["card", "crm-clv", "--models-dir", str(tmp_path)]) == 0
    assert (tmp_path / "crm-clv" / "card.md").exists()


def test_card_command_on_unknown_model_is_a_one_line_error(capsys):
    from crm_ml.cli import main

    assert main(["card", "no-such-model"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("crm-ml card: error:") and "no-such-model" in err
    assert "Traceback" not in err
