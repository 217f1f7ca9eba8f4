"""RFM table, tie-robust scores, the 125-cell segment table, migration and plots."""

from __future__ import annotations

import itertools

import matplotlib.figure
import numpy as np
import pandas as pd
import pytest
from _frames import transactions
from hypothesis import given, settings
from hypothesis import strategies as st

import crm_ml as cm
from crm_ml import DataValidationError
from crm_ml.rfm import (
    SEGMENTS,
    RFMScorer,
    default_segment_table,
    fit_bins,
    migration_table,
    rfm_table,
    score,
    validate_segment_table,
)


@pytest.fixture()
def hand():
    return transactions([
        ("a", "2024-03-01 10:00", 100.0), ("a", "2024-03-01 18:00", 50.0),
        ("a", "2024-03-20 10:00", 150.0), ("a", "2024-03-31 10:00", 100.0),
        ("b", "2024-01-10 10:00", 20.0),
        ("c", "2024-02-01 10:00", 60.0), ("c", "2024-03-01 10:00", 40.0),
        ("c", "2024-03-05 10:00", -40.0),
        ("d", "2024-01-02 10:00", 5.0),
        ("e", "2024-03-30 10:00", 300.0),
        ("f", "2024-02-15 10:00", -10.0),      # only a return
        ("a", "2024-04-02 10:00", 1000.0),     # after as_of
    ])


def test_exact_rfm_values(hand):
    r = rfm_table(hand, "2024-03-31")
    assert sorted(r.index) == list("abcde")
    exp = pd.DataFrame({
        "recency_days": [0, 81, 30, 89, 1],
        "frequency": [4, 1, 2, 1, 1],
        "monetary": [100.0, 20.0, 30.0, 5.0, 300.0],   # net spend per order
        "tenure_days": [30, 81, 59, 89, 1],
    }, index=pd.Index(list("abcde"), name="customer_id"))
    pd.testing.assert_frame_equal(r.loc[exp.index, exp.columns], exp, check_dtype=False)
    days = rfm_table(hand, "2024-03-31", frequency="days", monetary="total")
    assert days.loc["a", "frequency"] == 3 and days.loc["a", "monetary"] == 400.0
    assert days.loc["c", "monetary"] == 60.0   # 60 + 40 - 40 returned
    assert r.loc["a", "lt_frequency"] == 2 and r.loc["a", "lt_monetary_value"] == 125.0


def test_exact_scores_and_segments(hand):
    s = score(rfm_table(hand, "2024-03-31"))
    # 5 customers, 5 distinct recencies -> one per score, most recent = 5
    assert s["r_score"].to_dict() == {"a": 5, "b": 2, "c": 3, "d": 1, "e": 4}
    # frequency has 3 distinct values (1, 2, 4) -> scores spread 1, 3, 5
    assert s["f_score"].to_dict() == {"a": 5, "b": 1, "c": 3, "d": 1, "e": 1}
    assert s.loc["a", "rfm_code"] == "554"
    assert s.loc["a", "segment"] == "Champions"
    assert s.loc["d", "segment"] == "Lost"
    assert s["segment"].isin(SEGMENTS).all()


def test_as_of_excludes_later_transactions(hand):
    late = pd.concat([hand, transactions([("b", "2024-04-01 00:00", 500.0),
                                 ("z", "2024-04-10", 10.0)])])
    pd.testing.assert_frame_equal(rfm_table(hand, "2024-03-31"), rfm_table(late, "2024-03-31"))


def test_edge_cases_one_customer_one_transaction_identical_and_returns():
    one = transactions([("a", "2024-01-05", 10.0)])
    s = score(rfm_table(one, "2024-01-31"))
    assert len(s) == 1 and s.loc["a", "rfm_code"] == "333"
    assert s.loc["a", "segment"] == "Need attention"
    same = transactions([(f"c{i}", "2024-01-05", 10.0) for i in range(50)])
    s = score(rfm_table(same, "2024-01-31"))
    assert s["rfm_code"].nunique() == 1 and s["segment"].nunique() == 1
    only_returns = transactions([("a", "2024-01-05", -10.0), ("b", "2024-01-06", 20.0)])
    r = rfm_table(only_returns, "2024-01-31")
    assert list(r.index) == ["b"]
    none = rfm_table(transactions([("a", "2024-01-05", -10.0)]), "2024-01-31")
    assert none.empty
    with pytest.raises(DataValidationError):
        score(none)


def test_heavy_ties_share_a_score_and_leave_no_empty_bin():
    rng = np.random.default_rng(0)
    freq = np.where(rng.random(5000) < 0.6, 1, rng.integers(2, 40, 5000))
    edges, smap = fit_bins(freq, 5)
    rfm = pd.DataFrame({"recency_days": rng.integers(0, 400, 5000), "frequency": freq,
                        "monetary": rng.gamma(2, 30, 5000)})
    s = score(rfm)
    assert sorted(s["f_score"].unique()) == [1, 2, 3, 4, 5]
    assert s.loc[s["frequency"] == 1, "f_score"].nunique() == 1
    # ties never split: each distinct value maps to one score
    assert (s.groupby("frequency")["f_score"].nunique() == 1).all()
    # scores are monotone in the value (higher = better)
    per_value = s.groupby("frequency")["f_score"].first()
    assert per_value.is_monotonic_increasing
    assert (s.groupby("recency_days")["r_score"].first().diff().dropna() <= 0).all()


def test_fewer_distinct_values_than_bins_spreads_scores():
    assert list(fit_bins([1, 1, 2, 2, 2], 5)[1]) == [1, 5]
    assert list(fit_bins([3, 3, 3], 5)[1]) == [3]


@pytest.mark.parametrize("bins", [2, 3, 4, 6, 9])
def test_default_segments_with_other_bin_counts_keep_best_and_worst(small_dataset, bins):
    scored = score(rfm_table(small_dataset.transactions, small_dataset.as_of), bins=bins)
    top = scored[(scored[["r_score", "f_score", "m_score"]] == bins).all(axis=1)]
    bottom = scored[(scored[["r_score", "f_score", "m_score"]] == 1).all(axis=1)]
    assert len(top) and (top["segment"] == "Champions").all()
    assert len(bottom) and (bottom["segment"] == "Lost").all()


def test_default_table_maps_every_cell_exactly_once():
    t = default_segment_table()
    assert len(t) == 125
    cells = set(map(tuple, t[["r_score", "f_score", "m_score"]].to_numpy().tolist()))
    assert cells == set(itertools.product(range(1, 6), repeat=3))
    assert set(t["segment"]) == set(SEGMENTS) and len(SEGMENTS) == 11
    pd.testing.assert_frame_equal(validate_segment_table(t), t)


def test_common_published_overlapping_rules_are_rejected():
    published = pd.DataFrame([
        ("Champions", 4, 5, 4, 5, 4, 5), ("Loyal", 2, 5, 3, 5, 3, 5),
        ("Potential loyalist", 3, 5, 1, 3, 1, 3), ("New", 4, 5, 1, 1, 1, 1),
        ("Promising", 3, 4, 1, 1, 1, 1), ("Need attention", 2, 3, 2, 3, 2, 3),
        ("About to sleep", 2, 3, 1, 2, 1, 2), ("At risk", 1, 2, 2, 5, 2, 5),
        ("Can't lose them", 1, 1, 4, 5, 4, 5), ("Hibernating", 1, 2, 1, 2, 1, 2),
        ("Lost", 1, 2, 1, 2, 1, 2),
    ], columns=["segment", "r_min", "r_max", "f_min", "f_max", "m_min", "m_max"])
    with pytest.raises(DataValidationError) as err:
        validate_segment_table(published)
    msg = str(err.value)
    assert "unmatched" in msg and "more than once" in msg
    assert "111 -> ['Hibernating', 'Lost']" in msg


def test_user_tables_are_validated_and_used():
    t = default_segment_table()
    with pytest.raises(DataValidationError, match="1 unmatched cell.*325"):
        validate_segment_table(t[t["r_score"].astype(str) + t["f_score"].astype(str)
                                 + t["m_score"].astype(str) != "325"])
    with pytest.raises(DataValidationError, match="more than once: 111"):
        validate_segment_table(pd.concat([t, t.iloc[[0]].assign(segment="Other")]))
    rules = pd.DataFrame([("Recent", 4, 5, 1, 5, 1, 5), ("Not recent", 1, 3, 1, 5, 1, 5)],
                         columns=["segment", "r_min", "r_max", "f_min", "f_max", "m_min",
                                  "m_max"])
    rng = np.random.default_rng(1)
    rfm = pd.DataFrame({"recency_days": rng.integers(0, 300, 200),
                        "frequency": rng.integers(1, 20, 200), "monetary": rng.random(200)})
    s = score(rfm, segments=rules)
    assert set(s["segment"]) == {"Recent", "Not recent"}
    assert (s.loc[s["r_score"] >= 4, "segment"] == "Recent").all()


def test_scorer_reuses_cut_points_across_periods(small_dataset):
    tx = small_dataset.transactions
    r0 = rfm_table(tx, "2023-12-31")
    r1 = rfm_table(tx, "2024-06-30")
    scorer = RFMScorer().fit(r0)
    s1 = scorer.transform(r1)
    again = RFMScorer.from_dict(scorer.to_dict()).transform(r1)
    pd.testing.assert_frame_equal(s1, again)
    refit = score(r1)
    assert not refit["m_score"].equals(s1["m_score"]) or not refit["r_score"].equals(
        s1["r_score"])
    with pytest.raises(cm.NotFittedError):
        RFMScorer().transform(r1)


def test_migration_counts_every_customer(small_dataset):
    tx = small_dataset.transactions
    m = cm.rfm.segment_migration(tx, "2024-06-30", small_dataset.as_of)
    n_after = len(rfm_table(tx, small_dataset.as_of))
    assert m.to_numpy().sum() == n_after
    assert "(new customer)" in m.index
    shares = migration_table(score(rfm_table(tx, "2024-06-30")),
                             score(rfm_table(tx, small_dataset.as_of)), normalize="index")
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)
    # On one fitted scale, customers who did not buy in between can only lose R score.
    r0, r1 = rfm_table(tx, "2024-06-30"), rfm_table(tx, small_dataset.as_of)
    scorer = RFMScorer().fit(r0)
    b, a = scorer.transform(r0), scorer.transform(r1).loc[r0.index]
    idle = a["last_purchase"] == b["last_purchase"]
    assert idle.sum() > 50
    assert (a.loc[idle, "r_score"] <= b.loc[idle, "r_score"]).all()
    assert (a.loc[idle, "f_score"] == b.loc[idle, "f_score"]).all()


def test_plots_return_figures(small_dataset):
    s = score(rfm_table(small_dataset.transactions, small_dataset.as_of))
    for fig in (cm.rfm.plot_rf_heatmap(s), cm.rfm.plot_rf_heatmap(s, "monetary"),
                cm.rfm.plot_segments(s)):
        assert isinstance(fig, matplotlib.figure.Figure)
    summ = cm.rfm.segment_summary(s)
    assert summ["customers"].sum() == len(s)
    assert summ["value_share"].sum() == pytest.approx(1.0)


def test_rfm_logging_records_aggregates_only(small_dataset, tmp_path, monkeypatch):
    import mlflow

    from crm_ml.pipelines.rfm import log_rfm
    from crm_ml.tracking import find_in_run_artifacts, start_run

    monkeypatch.chdir(tmp_path)
    rfm = rfm_table(small_dataset.transactions, small_dataset.as_of)
    scorer = RFMScorer().fit(rfm)
    scored = scorer.transform(rfm)
    with start_run("rfm") as run:
        log_rfm(run, scored, scorer)
    metrics = mlflow.get_run(run.run_id).data.metrics
    assert metrics["segment_share.champions"] == pytest.approx(
        (scored["segment"] == "Champions").mean())
    assert "value_share.cant_lose_them" in metrics
    assert not find_in_run_artifacts(run.run_id, list(rfm.index[:20]))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 12), min_size=1, max_size=200), st.integers(2, 9))
def test_binning_properties(values, bins):
    from crm_ml.rfm import apply_bins

    edges, smap = fit_bins(values, bins)
    scores = apply_bins(values, edges, smap)
    v = np.asarray(values)
    assert scores.min() >= 1 and scores.max() <= bins
    order = np.argsort(v, kind="stable")
    assert (np.diff(scores[order]) >= 0).all()                   # monotone in the value
    for x in np.unique(v):
        assert len(set(scores[v == x])) == 1                     # ties share a score
    if len(np.unique(v)) >= bins:
        assert set(scores) == set(range(1, bins + 1))            # no empty score


# ---------------------------------------------------------------- RFMScorer as an estimator
def test_scorer_score_is_the_mean_rank_correlation(small_dataset):
    from scipy.stats import spearmanr

    rfm = rfm_table(small_dataset.transactions, small_dataset.as_of)
    scorer = RFMScorer().fit(rfm)
    s = scorer.transform(rfm)
    expected = np.mean([spearmanr(s["r_score"], -rfm["recency_days"]).statistic,
                        spearmanr(s["f_score"], rfm["frequency"]).statistic,
                        spearmanr(s["m_score"], rfm["monetary"]).statistic])
    assert scorer.score(rfm) == pytest.approx(expected)
    assert 0.8 < scorer.score(rfm) <= 1.0
    assert RFMScorer(bins=2).fit(rfm).score(rfm) < scorer.score(rfm)  # coarser ranks
    rho_m = spearmanr(s["m_score"], rfm["monetary"]).statistic
    # a constant column is left out; one that varies but gets a single score counts 0
    flat = rfm.assign(monetary=rfm["monetary"].max() * 10)
    assert scorer.score(flat) == pytest.approx((expected * 3 - rho_m) / 2)
    above = rfm.assign(monetary=rfm["monetary"].max() * 10 + np.arange(len(rfm)))
    assert scorer.score(above) == pytest.approx((expected * 3 - rho_m) / 3)
    one = RFMScorer().fit(rfm.assign(frequency=3))
    assert np.isfinite(one.score(rfm.assign(frequency=3)))


def test_scorer_save_load_round_trip(small_dataset, tmp_path):
    rfm = rfm_table(small_dataset.transactions, small_dataset.as_of)
    scorer = RFMScorer(bins=4).fit(rfm)
    path = scorer.save(tmp_path / "rfm_scorer.json")
    loaded = RFMScorer.load(path)
    assert loaded.get_params()["bins"] == 4
    pd.testing.assert_frame_equal(loaded.transform(rfm), scorer.transform(rfm))
    assert list(loaded.get_feature_names_out()) == list(scorer.get_feature_names_out())
    path.write_text('{"bins": 5}')
    with pytest.raises(cm.ModelFilesError, match="edges"):
        RFMScorer.load(path)
    path.write_text('{"bins": 5, "edges": {}, "score_maps": {}}')
    with pytest.raises(cm.ModelFilesError):
        RFMScorer.load(path)


def test_scorer_in_scikit_learn_tools(small_dataset):
    from sklearn.base import clone
    from sklearn.pipeline import Pipeline
    from sklearn.utils.validation import check_is_fitted

    rfm = rfm_table(small_dataset.transactions, small_dataset.as_of)
    out = RFMScorer().set_output(transform="pandas").fit_transform(rfm)
    pd.testing.assert_frame_equal(out, score(rfm))
    assert list(RFMScorer().fit(rfm).get_feature_names_out()) == [
        *rfm.columns, "r_score", "f_score", "m_score", "rfm_code", "segment"]
    piped = Pipeline([("rfm", RFMScorer(bins=4))]).fit(rfm)
    check_is_fitted(piped.named_steps["rfm"])
    pd.testing.assert_frame_equal(piped.transform(rfm), score(rfm, bins=4))
    with pytest.raises(DataValidationError, match="DataFrame"):
        clone(RFMScorer()).fit(rfm.to_numpy())


def test_scorer_log_model(small_dataset, tmp_path, monkeypatch):
    import json
    import os

    import mlflow

    from crm_ml.tracking import find_in_run_artifacts

    monkeypatch.chdir(tmp_path)
    rfm = rfm_table(small_dataset.transactions, small_dataset.as_of)
    scorer = RFMScorer().fit(rfm)
    res = cm.rfm.log_model(scorer)
    run = mlflow.get_run(res.run_id)
    assert run.data.params["bins"] == "5" and run.data.params["segments"] == "default"
    assert res.model_uri.startswith("models:/") and res.registered_version is None
    folder = mlflow.artifacts.download_artifacts(res.model_uri, dst_path=str(tmp_path / "dl"))
    spec = os.path.join(folder, "rfm_scorer.json")
    again = RFMScorer.load(spec)
    pd.testing.assert_frame_equal(again.transform(rfm), scorer.transform(rfm))
    assert json.loads(open(spec).read())["edges"]
    assert not find_in_run_artifacts(res.run_id, list(rfm.index[:20]))
    with pytest.raises(cm.CrmMlError, match="registered"):
        cm.rfm.log_model(scorer, registered_name="crm-rfm")
    assert cm.rfm.log_model(scorer, include_model=False).model_uri is None


def test_migration_refit_is_not_logged_on_its_own(small_dataset, monkeypatch):
    seen = []
    monkeypatch.setattr("crm_ml.rfm.tracking.log_model",
                        lambda *a, **k: seen.append(a) or None)
    cm.tracking.autolog()
    try:
        cm.rfm.segment_migration(small_dataset.transactions, "2024-06-30",
                                 small_dataset.as_of)
        assert not seen
        RFMScorer().fit(rfm_table(small_dataset.transactions, small_dataset.as_of))
        assert len(seen) == 1  # a user's fit is logged
    finally:
        cm.tracking.autolog(disable=True)
