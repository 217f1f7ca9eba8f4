"""Segment names mean what they say: each word is re-derived here from the raw customer table
(population quantiles and segment medians computed independently of crm_ml's naming code), on
real data (CDNOW, nobody here generated it) and on the built-in data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import crm_ml as cm
from crm_ml.segmentation import Segmenter, segmentation_features
from crm_ml.segmentation.naming import feature_family, naming_rules, segment_statistics

FEATS = ["purchase_rate", "monetary"]
VALUE = ("high value", "mid value", "low value")
FREQ = ("frequent", "regular", "rare")
ORDERS = ("large orders", None, "small orders")


@pytest.fixture(scope="module")
def cdnow():
    tx = cm.datasets.load_cdnow("sample")
    X = segmentation_features(tx, "1997-09-30")
    return X, Segmenter(features=FEATS).fit(X)


@pytest.fixture(scope="module")
def builtin():
    ds = cm.datasets.make_crm_dataset(n_customers=1500, seed=3)
    X = segmentation_features(ds.transactions, ds.as_of)
    return X, Segmenter(features=FEATS, k_range=(2, 6)).fit(X)


def _expected(stat: float, pop: np.ndarray, words) -> str | None:
    lo, hi = np.quantile(pop, [1 / 3, 2 / 3])
    return words[0] if stat > hi else (words[2] if stat < lo else words[1])


def _words(name: str) -> list[str]:
    return [w.strip() for w in name.split(" (")[0].split(" #")[0].split(",")]


def _check(X: pd.DataFrame, seg: Segmenter) -> pd.DataFrame:
    """Each name's words against thresholds recomputed from ``X``; returns the statistics."""
    lab = seg.labels_.loc[X.index]
    repeat = X["frequency"] > 1
    st = pd.DataFrame({
        "name": pd.Series(seg.names_),
        "value": X["total_spend"].groupby(lab).median(),
        "repeat_share": repeat.groupby(lab).mean(),
        "median_orders": X["frequency"].groupby(lab).median(),
        "rate": X.loc[repeat, "purchase_rate"].groupby(lab[repeat]).median(),
        "order": X["monetary"].groupby(lab).median(),
    })
    for _, r in st.iterrows():
        words = _words(r["name"])
        assert _expected(r["value"], X["total_spend"], VALUE) in words, r["name"]
        want = _expected(r["order"], X["monetary"], ORDERS)
        assert [w for w in words if w in ORDERS] == ([want] if want else []), r["name"]
        one_time = r["median_orders"] == 1  # the segment's median customer bought once
        assert ("one-time" in words) == one_time == (r["repeat_share"] < 0.5), r["name"]
        if one_time:
            assert not set(words) & set(FREQ), r["name"]
        else:
            want = _expected(r["rate"], X.loc[repeat, "purchase_rate"], FREQ)
            assert want in words, (r["name"], r["rate"])
    # the statistic behind every word is a column of profile(), with the same value
    prof = seg.profile()
    np.testing.assert_allclose(prof["total_spend_median"], st["value"])
    np.testing.assert_allclose(prof["repeat_share"], st["repeat_share"])
    assert prof["name"].is_unique
    return st


def _consistent(st: pd.DataFrame, column: str, words) -> None:
    """A word higher on a dimension means a strictly higher statistic; equal statistics get
    equal words."""
    rank = {w: i for i, w in enumerate(words) if w}
    found = st["name"].map(lambda n: next((rank[w] for w in _words(n) if w in rank), None))
    sub = st.assign(rank=found).dropna(subset=["rank", column])
    for _, a in sub.iterrows():
        for _, b in sub.iterrows():
            if a["rank"] < b["rank"]:  # a named higher
                assert a[column] > b[column], (a["name"], b["name"])
            if a[column] == b[column]:
                assert a["rank"] == b["rank"], (a["name"], b["name"])


@pytest.mark.parametrize("which", ["cdnow", "builtin"])
def test_names_follow_from_thresholds_and_are_consistent(which, request):
    X, seg = request.getfixturevalue(which)
    st = _check(X, seg)
    _consistent(st, "value", VALUE)
    _consistent(st, "order", ORDERS)
    _consistent(st[~st["name"].str.contains("one-time")], "rate", FREQ)
    # one-time ranks below every repeat word on the repeat share
    one = st["name"].str.contains("one-time")
    if one.any() and (~one).any():
        assert st.loc[one, "repeat_share"].max() < st.loc[~one, "repeat_share"].min()


def test_cdnow_names_state_what_issue_18_found_wrong(cdnow):
    X, seg = cdnow
    prof = seg.profile()
    one = prof["name"].str.contains("one-time")
    # CDNOW: 60 % buy once; segments of one-time buyers exist and are named so
    assert one.any() and (prof.loc[one, "repeat_share"] < 0.5).all()
    # equal median purchase rates -> equal frequency words (all one-time here)
    rate = prof["purchase_rate_median"].round(9)
    for _, grp in prof.groupby(rate):
        assert grp["name"].str.contains("one-time").nunique() == 1
    # every "high value" segment's median customer spends more than every "mid value" one's
    hi = prof["name"].str.startswith("high value")
    mid = prof["name"].str.startswith("mid value")
    if hi.any() and mid.any():
        assert prof.loc[hi, "total_spend_median"].min() > prof.loc[mid, "total_spend_median"].max()


def test_card_shows_thresholds_and_statistics_behind_each_name(cdnow):
    _, seg = cdnow
    md = cm.segmentation.model_card(seg, holdout_silhouette=0.5,
                                    baseline_silhouette=0.4).to_markdown()
    section = md.split("## How segments are named", 1)[1]
    rules = seg.name_rules_
    for r in rules.itertuples():
        assert r.statistic in section
        assert f"{r.low:.4g}" in section
        if r.profile_column != "repeat_share":
            assert f"{r.high:.4g}" in section
    prof = seg.profile()
    for s, row in prof.iterrows():
        line = next(ln for ln in section.splitlines() if ln.startswith(f"{s} ") and
                    row["name"] in ln)
        assert f"{row['total_spend_median']:.4g}" in line and f"{row['repeat_share']:.4g}" in line


def test_rules_and_statistics_survive_save_and_load(cdnow, tmp_path):
    _, seg = cdnow
    seg.save(tmp_path)
    loaded = Segmenter.load(tmp_path)
    pd.testing.assert_frame_equal(loaded.name_rules_, seg.name_rules_)
    assert "How segments are named" in cm.segmentation.model_card(
        loaded, holdout_silhouette=0.5, baseline_silhouette=0.4).to_markdown()


def test_repeat_count_columns():
    # lifetimes' frequency counts repeat purchases (0 = bought once): a repeat is > 0
    D = pd.DataFrame({"frequency": [0, 0, 0, 2, 3, 4], "spend": [1.0, 2, 3, 4, 5, 6]})
    rules = naming_rules(D, ["spend"], "spend")
    rep = rules.set_index("profile_column").loc["repeat_share"]
    assert rep["repeat_above"] == 0 and rep["statistic"] == "share of customers with frequency > 0"
    stats = segment_statistics(D, [0, 0, 0, 1, 1, 1], rules)
    assert stats["repeat_share"].tolist() == [0.0, 1.0]
    names = cm.segmentation.segment_names(stats, rules)
    assert names == {0: "low value, one-time", 1: "high value"}
    # n_orders (a count, at least 1) wins over frequency
    D2 = D.assign(n_orders=[1, 1, 2, 2, 2, 2])
    rules2 = naming_rules(D2, ["spend"]).set_index("profile_column")
    assert rules2.loc["repeat_share", "column"] == "n_orders"
    assert rules2.loc["repeat_share", "repeat_above"] == 1


def test_feature_families_by_name():
    assert feature_family("average_order_value") == "orders"  # not "age" -> tenure
    assert feature_family("monetary_value") == "orders"
    assert feature_family("total_spend") == "value"
    assert feature_family("purchase_rate") == "frequency"
    assert feature_family("customer_age") == "tenure"
    assert feature_family("usage_minutes") is None


def test_duplicates_name_the_statistic_they_differ_on():
    D = pd.DataFrame({"x": np.arange(1.0, 10.0)})
    rules = naming_rules(D, ["x"])
    # three segments all between the thresholds of x -> "average", told apart by x
    stats = pd.DataFrame({"x_median": [4.0, 5.0, 6.0]})
    names = cm.segmentation.segment_names(stats, rules)
    assert names == {0: "average (lowest median x)", 1: "average (2nd highest median x)",
                     2: "average (highest median x)"}
