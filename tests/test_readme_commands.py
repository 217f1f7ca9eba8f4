"""The README's two commands are the ones the Makefile defines and CI runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[1]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- commands -->\s*```(?:sh|bash)?\n(.*?)```", text, re.S)
    assert block, "README must hold the two commands in a fenced block after <!-- commands -->"
    return [line.strip() for line in block.group(1).splitlines()
            if line.strip() and not line.strip().startswith("#")]


def test_readme_gives_exactly_two_commands_demo_then_test():
    assert _readme_commands() == ["make demo", "make test"]


def test_ci_runs_exactly_the_readme_test_command():
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
          if line.strip() and not line.strip().startswith(("#", "set ", "cd "))]
    assert ci == [_readme_commands()[1]]


def test_makefile_targets_install_before_running():
    makefile = (ROOT / "Makefile").read_text()
    for target, runs in (("demo", "crm-ml demo"), ("test", "pytest")):
        assert re.search(rf"^{target}:.*\$\(STAMP\)", makefile, re.M), target
        assert runs in makefile
    assert "python -m venv" in makefile.replace("$(PYTHON)", "python")
    assert 'pip install -e ".[dev]"' in makefile


def test_the_quick_start_runs_and_a_plain_fit_writes_nothing(tmp_path, monkeypatch):
    """The README's quick start, as written (on fewer customers), in an empty folder: the
    fits before the first logging call leave the folder empty."""
    import os

    text = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- quick start -->\s*```python\n(.*?)```", text, re.S)
    assert block, "README must hold the quick start in a python block after <!-- quick start -->"
    code = block.group(1).replace("n_customers=10_000", "n_customers=1_500")
    before_logging, logging_part = code.split("cm.churn.log_model(", 1)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")
    (tmp_path / "runs").mkdir()
    namespace: dict = {}
    exec(compile(before_logging, "README quick start", "exec"), namespace)
    assert os.listdir(tmp_path) == ["runs"] and not os.listdir(tmp_path / "runs")
    import crm_ml as cm

    try:
        exec(compile("cm.churn.log_model(" + logging_part, "README quick start", "exec"),
             namespace)
    finally:
        cm.tracking.autolog(disable=True)
    import mlflow

    client = mlflow.MlflowClient(os.environ["MLFLOW_TRACKING_URI"])
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert {r.data.tags.get("module") for r in runs} == {"churn", "clv"}
