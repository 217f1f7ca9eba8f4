"""The campaigns step of the training runner: skipped without contacts; with the built-in
campaign it fits on half, evaluates on the other half, registers ``crm-uplift`` and writes its
tables and card."""

from __future__ import annotations

import pandas as pd
import pytest

import crm_ml as cm
from crm_ml.model_names import UPLIFT
from crm_ml.pipelines.config import ConfigError, TrainConfig
from crm_ml.pipelines.runner import run_steps


def test_without_contacts_the_step_is_skipped_with_one_line(small_dataset, tmp_path):
    data = cm.scoring.CRMData(transactions=small_dataset.transactions,
                              as_of=small_dataset.as_of)
    lines = []
    out = run_steps(data, ["campaigns"], output_dir=tmp_path / "out",
                    models_dir=tmp_path / "models", say=lines.append)
    assert out["modules"]["campaigns"]["skipped"] == "no campaign contacts"
    assert sum("skipped" in s for s in lines) == 1
    assert list((tmp_path / "out").iterdir()) == []
    assert not (tmp_path / "models").exists() or not list((tmp_path / "models").iterdir())


def test_campaigns_config_section_is_checked():
    c = TrainConfig().override({"campaigns.method": "x_learner", "campaigns.test_share": 0.3})
    assert c.campaigns.method == "x_learner" and c.to_dict()["campaigns"]["test_share"] == 0.3
    for key, bad in [("campaigns.test_share", 1.0), ("campaigns.method", "s_learner"),
                     ("campaigns.window_days", 0), ("campaigns.cost", -1.0)]:
        with pytest.raises(ConfigError, match=key):
            TrainConfig().override({key: bad})
    assert pd.Series(TrainConfig().to_dict()["campaigns"]).index.tolist()[:3] == [
        "method", "window_days", "test_share"]
    assert UPLIFT == "crm-uplift"


@pytest.fixture(scope="module")
def campaign_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("campaigns")
    ds = cm.datasets.make_crm_dataset(n_customers=3000, seed=5)
    lines = []
    out = run_steps(ds, ["campaigns"], output_dir=root / "out", models_dir=root / "models",
                    say=lines.append)
    return {"root": root, "ds": ds, "summary": out["modules"]["campaigns"], "lines": lines}


def test_built_in_campaign_is_fitted_graded_registered_and_written(campaign_run):
    s, root = campaign_run["summary"], campaign_run["root"]
    assert s["registered_version"] is not None and s["promoted"] is True
    assert s["holdout_qini"] > s["response_qini"]  # the card's grade is not a C
    assert s["grade"] in ("A", "B")
    summary = pd.read_csv(root / "out" / "campaign_summary.csv")
    assert set(campaign_run["ds"].campaigns["campaign_id"]) <= set(summary["campaign_id"])
    ranked = pd.read_csv(root / "out" / "uplift_targeting.csv", index_col="customer_id")
    assert ranked["rank"].tolist() == list(range(1, len(ranked) + 1))
    assert ranked["expected_profit"].is_monotonic_decreasing
    assert ranked["selected"].sum() == s["to_contact"]
    card = (root / "models" / UPLIFT / "card.md").read_text()
    assert "response probability" in card and "[campaigns]" in card
    assert f"scored the other {s['customers'] - s['customers'] // 2}; the registered model " \
        f"is refitted on all {s['customers']}" in card


def test_cli_train_reads_contacts_and_runs_the_campaigns_step(tmp_path, monkeypatch, capsys):
    from crm_ml import scoring
    from crm_ml.cli import main

    ds = cm.datasets.make_crm_dataset(n_customers=1500, seed=7)
    ds.transactions.to_csv(tmp_path / "tx.csv", index=False)
    ds.campaigns.to_csv(tmp_path / "contacts.csv", index=False)
    real = scoring.train_all
    # only the campaigns step: the other steps have their own CLI tests
    monkeypatch.setattr(scoring, "train_all",
                        lambda data, **kw: real(data, modules=("campaigns",), **kw))
    monkeypatch.chdir(tmp_path)
    assert main(["--quiet", "train", "--transactions", "tx.csv", "--contacts", "contacts.csv",
                 "--as-of", str(ds.as_of.date()), "--output", "out",
                 "--models-dir", "models"]) == 0
    printed = capsys.readouterr().out
    assert f"Read {len(ds.campaigns):,} campaign contacts" in printed
    assert "campaigns: version" in printed
    assert (tmp_path / "out" / "uplift_targeting.csv").is_file()
    assert (tmp_path / "models" / UPLIFT / "card.md").is_file()


def test_train_refuses_to_overwrite_a_contacts_file_with_its_outputs(tmp_path, monkeypatch,
                                                                     capsys):
    from crm_ml.cli import main

    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "uplift_targeting.csv").write_text("customer_id\n")
    (tmp_path / "tx.csv").write_text("customer_id,timestamp,amount\n")
    monkeypatch.chdir(tmp_path)
    code = main(["--quiet", "train", "--transactions", "tx.csv", "--contacts",
                 "out/uplift_targeting.csv", "--output", "out"])
    assert code != 0
    assert "--contacts" in capsys.readouterr().err
    assert (tmp_path / "out" / "uplift_targeting.csv").read_text() == "customer_id\n"
