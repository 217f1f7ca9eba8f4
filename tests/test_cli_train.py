"""`crm-ml train` on a company's own files: every model registered, documented, promoted."""

from __future__ import annotations

import pytest

from crm_ml.cli import main
from crm_ml.datasets import make_crm_dataset
from crm_ml.errors import ModelNotFoundError

pytestmark = pytest.mark.slow


def test_train_registers_every_model_from_files(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'train.db'}")
    ds = make_crm_dataset(n_customers=700, seed=11)
    ds.transactions.to_parquet(tmp_path / "tx.parquet", index=False)
    ds.interactions.to_csv(tmp_path / "ix.csv", index=False)
    ds.customers.to_csv(tmp_path / "customers.csv", index=False)

    assert main(["--quiet", "train", "--transactions", "tx.parquet", "--interactions",
                 "ix.csv", "--customers", "customers.csv", "--as-of", "2024-12-31"]) == 0

    from crm_ml.tracking import get_version

    for name in ("crm-churn", "crm-clv", "crm-segments"):
        assert str(get_version(name, "champion").version) == "1"
        assert (tmp_path / "models" / name / "card.md").exists()
    printed = capsys.readouterr().out
    for module in ("rfm", "churn", "clv", "forecast"):
        assert f"  {module}: version 1," in printed  # the churn version too, not None

    # the champion was trained with customer attributes: a run without them cannot compare
    # the new model with it, and is refused before anything is fitted or registered
    assert main(["--quiet", "train", "--transactions", "tx.parquet", "--interactions",
                 "ix.csv", "--as-of", "2024-12-31"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("crm-ml train: error:") and "--customers" in err
    assert "\n" not in err and "Traceback" not in err
    for name in ("crm-churn", "crm-segments"):
        with pytest.raises(ModelNotFoundError):
            get_version(name, "2")


def test_train_on_a_file_without_required_columns_fails_cleanly(tmp_path, capsys):
    bad = tmp_path / "tx.csv"
    bad.write_text("who,when\nA,2024-01-01\n")
    assert main(["train", "--transactions", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "customer_id" in err and "Traceback" not in err
