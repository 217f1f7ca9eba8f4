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


def test_champions_reload_in_a_fresh_process_and_match_the_in_memory_models(demo_workspace):
    """Each registered champion, loaded with mlflow.pyfunc in a new process, reproduces what the
    in-memory model wrote during the demo (churn scores, CLV predictions, segments)."""
    from crm_ml.clv import purchase_summary
    from crm_ml.features import build
    from crm_ml.segmentation import segmentation_features
    from crm_ml.tracking.testing import predict_in_fresh_process

    data, out = demo_workspace["data"], demo_workspace["output"]
    read = {"dtype": {"customer_id": str}}
    tx = pd.read_csv(data / "transactions.csv", parse_dates=["timestamp"], **read)
    ix = pd.read_csv(data / "interactions.csv", parse_dates=["timestamp"], **read)
    cust = pd.read_csv(data / "customers.csv", parse_dates=["signup_date"], **read)
    as_of = demo_workspace["summary"]["dataset"]["as_of"]
    ids = sorted(tx["customer_id"].unique())[:150]

    X = build(tx[tx["customer_id"].isin(ids)], as_of, ix, cust)
    churn_in = X.reset_index()
    cats = churn_in.select_dtypes("category").columns
    churn_in[cats] = churn_in[cats].astype(object).where(churn_in[cats].notna(), None)
    got = predict_in_fresh_process("models:/crm-churn@champion", churn_in)
    expected = pd.read_csv(out / "churn_scores.csv", **read).set_index("customer_id")
    assert (got["churn_probability"].to_numpy()
            - expected.loc[X.index, "churn_probability"].to_numpy()).max() < 1e-9

    summary = purchase_summary(tx, as_of, "W").loc[ids]
    got = predict_in_fresh_process("models:/crm-clv@champion",
                                   summary[["frequency", "recency", "T", "monetary_value"]]
                                   .reset_index(drop=True))
    expected = pd.read_csv(out / "clv_predictions.csv", **read).set_index("customer_id")
    assert abs(got["clv"].to_numpy() - expected.loc[ids, "clv"].to_numpy()).max() < 1e-6

    feats = segmentation_features(tx, as_of).loc[ids]
    got = predict_in_fresh_process("models:/crm-segments@champion", feats.reset_index(drop=True))
    expected = pd.read_csv(out / "segments.csv", **read).set_index("customer_id")
    assert (got["segment"].to_numpy() == expected.loc[ids, "segment"].to_numpy()).all()


def test_demo_writes_the_kpi_report_and_table(demo_workspace):
    out = demo_workspace["output"]
    html = (out / "kpi_report.html").read_text(encoding="utf-8")
    assert "<h2>Segment mix by region</h2>" in html and "<script" not in html.lower()
    table = pd.read_csv(out / "kpi_table.csv", parse_dates=["period"])
    assert table["period"].max() == pd.Timestamp("2024-12-01") and table["active"].max() > 100
    assert demo_workspace["summary"]["modules"]["kpi"]["last_complete_period"] == "2024-12-01"
