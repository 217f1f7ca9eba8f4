"""`crm-ml train` on CSV files: honest cards, the config logged, one value at risk."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest

from crm_ml.cli import main
from crm_ml.datasets import make_crm_dataset
from crm_ml.model_names import CHURN, CLV, SALES_FORECAST, SEGMENTS

pytestmark = pytest.mark.slow

#: A small but real config: quick enough for the test suite.
SMALL = """
[churn]
horizon_days = 60
algorithms = ["lightgbm"]
cv = 2
[forecast]
engine = "fast"
by = "none"
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    import os

    from crm_ml.tracking import runs

    root = tmp_path_factory.mktemp("train")
    ds = make_crm_dataset(n_customers=700, seed=11)
    tx = pd.concat([ds.transactions, ds.transactions.head(7)])  # a file exported twice, in part
    tx.to_csv(root / "tx.csv", index=False)
    ds.customers.to_csv(root / "customers.csv", index=False)
    (root / "train.toml").write_text(SMALL)
    old_cwd, old_uri = os.getcwd(), os.environ.get("MLFLOW_TRACKING_URI")
    os.chdir(root)
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{root / 'train.db'}"
    runs._settings.tracking_uri = None
    try:
        assert main(["--quiet", "train", "--transactions", "tx.csv", "--customers",
                     "customers.csv", "--as-of", "2024-12-31", "--config", "train.toml",
                     "--discount-rate", "0.05"]) == 0
        assert main(["--quiet", "score", "--transactions", "tx.csv", "--customers",
                     "customers.csv", "--as-of", "2024-12-31", "--output", "scores.csv"]) == 0
        yield {"root": root, "rows": len(tx), "uri": os.environ["MLFLOW_TRACKING_URI"]}
    finally:
        os.chdir(old_cwd)
        if old_uri is not None:
            os.environ["MLFLOW_TRACKING_URI"] = old_uri
        runs._settings.tracking_uri = None


@pytest.mark.parametrize("name", [CHURN, CLV, SEGMENTS, SALES_FORECAST])
def test_cards_name_the_csv_files_their_rows_and_sha256(trained, name):
    root = trained["root"]
    card = json.loads((root / "models" / name / "card.json").read_text())
    data = card["data"]
    assert data["transactions"]["file"] == "tx.csv"
    assert data["transactions"]["rows"] == trained["rows"]
    assert data["transactions"]["sha256"] == \
        hashlib.sha256((root / "tx.csv").read_bytes()).hexdigest()
    assert data["customers"]["file"] == "customers.csv"
    assert data["customers"]["sha256"] == \
        hashlib.sha256((root / "customers.csv").read_bytes()).hexdigest()
    assert "built-in" not in json.dumps(data)
    assert data["as_of"] == "2024-12-31" and data["period"].startswith("20")
    # the data-quality report of this run: the 7 duplicated rows were counted and kept
    quality = card["data_quality"]["transactions"]
    assert quality["rows read"] == trained["rows"]
    assert "7" in quality["row policy"] and "kept" in quality["row policy"]
    # the configuration the model was trained with
    config = card["extra_sections"]["Configuration"]
    if name == CHURN:
        assert "horizon_days = 60" in config and 'algorithms = ["lightgbm"]' in config
        assert "60 days" in data["label"]
    if name == CLV:
        assert "discount_rate = 0.05" in config
    md = (root / "models" / name / "card.md").read_text()
    assert "## Configuration" in md and "tx.csv" in md


def test_the_config_is_logged_on_the_pipeline_run(trained):
    import mlflow

    mlflow.set_tracking_uri(trained["uri"])
    run = mlflow.search_runs(search_all_experiments=True, output_format="list",
                             filter_string="attributes.run_name = 'crm-ml train'")[0]
    logged = mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/config.json")
    assert logged["churn"]["horizon_days"] == 60 and logged["clv"]["discount_rate"] == 0.05
    assert logged["churn"]["cv"] == 2 and logged["forecast"]["by"] is None


def test_train_and_score_give_a_customer_the_same_value_at_risk(trained):
    root = trained["root"]
    train = pd.read_csv(root / "output" / "clv_value_at_risk.csv",
                        dtype={"customer_id": str}).set_index("customer_id")
    score = pd.read_csv(root / "scores.csv", dtype={"customer_id": str}).set_index("customer_id")
    assert len(train) > 100
    both = score.loc[train.index]
    assert both["clv"].to_numpy() == pytest.approx(train["clv"].to_numpy(), rel=1e-8)
    assert both["churn_probability"].to_numpy() == \
        pytest.approx(train["churn_probability"].to_numpy(), rel=1e-8, abs=1e-9)
    assert both["value_at_risk"].to_numpy() == \
        pytest.approx(train["value_at_risk"].to_numpy(), rel=1e-8, abs=1e-9)



def test_forecast_groups_of_a_few_customers_are_pooled_or_left_out():
    """A per-group forecast of a region of three customers is their spending: it must not
    reach the group table (logged to MLflow and written to the output folder)."""
    from crm_ml.pipelines.forecast import OTHER, pool_rare_groups

    ds = make_crm_dataset(n_customers=300, seed=2, campaigns=False)
    tx = ds.transactions.copy()
    ids = tx["customer_id"].drop_duplicates()
    tx.loc[tx["customer_id"].isin(ids.iloc[:3]), "region"] = "Smallville"
    said = []
    out = pool_rare_groups(tx, "region", say=said.append)
    # alone, the pool would be three customers too: left out of the groups
    assert not out["region"].isin(["Smallville", OTHER]).any() and said
    assert len(out) == len(tx) - int(tx["customer_id"].isin(ids.iloc[:3]).sum())

    # 27 one-customer regions together reach k = 20 customers: one pooled group
    tiny = {c: f"Tiny{i}" for i, c in enumerate(ids.iloc[3:30])}
    tx["region"] = tx["customer_id"].map(tiny).fillna(tx["region"])
    pooled = pool_rare_groups(tx, "region", say=said.append)
    assert OTHER in set(pooled["region"]) and len(pooled) == len(tx)
    assert not pooled["region"].str.startswith(("Tiny", "Smallville")).any()
    assert set(pooled["region"]) - {OTHER} <= set(ds.transactions["region"])
