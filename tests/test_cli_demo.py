"""`crm-ml demo` end to end on a small built-in dataset, and the CLI's user-error contract."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from crm_ml.cli import main


@pytest.mark.slow
def test_demo_runs_every_module_and_writes_summary(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert main(["--quiet", "demo", "--n-customers", "1500", "--output", "out"]) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["dataset"]["customers"] == 1500
    assert (tmp_path / "out" / "data" / "transactions.csv").exists()
    assert summary["mlflow_run_id"]
    for module, result in summary["modules"].items():
        assert result["seconds"] >= 0, module


def test_cli_help_lists_the_commands():
    out = subprocess.run([sys.executable, "-m", "crm_ml.cli", "--help"], capture_output=True,
                         text=True, check=True).stdout
    for command in ("demo", "card"):
        assert command in out
