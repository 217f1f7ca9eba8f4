"""campaign_summary: numbers by hand, windows, intervals, no-control campaigns, bad contacts."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import crm_ml as cm
from crm_ml.campaigns import campaign_summary, newcombe_interval, welch_interval
from crm_ml.errors import DataValidationError

T0 = pd.Timestamp("2024-03-01 10:00")
D = pd.Timedelta(days=1)


def _tiny():
    """Campaign A: 4 treated (2 buy: 100 and 50 + 30), 4 control (1 buys: 30); campaign B:
    3 treated, no control."""
    contacts = pd.DataFrame({
        "customer_id": ["t1", "t2", "t3", "t4", "c1", "c2", "c3", "c4", "b1", "b2", "b3"],
        "campaign_id": ["A"] * 8 + ["B"] * 3,
        "timestamp": [T0] * 8 + [T0 + 2 * D] * 3,
        "treated": [1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1],
        "channel": "email",
        "cost": [2.0] * 4 + [0.0] * 4 + [1.0] * 3,
        "opened": [1, 1, 0, np.nan, np.nan, np.nan, np.nan, np.nan, 1, 0, 0],
        "clicked": [1, 0, 0, np.nan, np.nan, np.nan, np.nan, np.nan, 0, 0, 0],
    })
    tx = pd.DataFrame({
        "customer_id": ["t1", "t2", "t2", "c1", "t3", "t4", "c2", "b1", "zz", "t3"],
        "timestamp": [T0 + 3 * D, T0 + 5 * D, T0 + 29 * D, T0 + 1 * D, T0 - D, T0 + 40 * D,
                      T0 + 2 * D, T0 + 5 * D, T0 + 60 * D, T0 + 4 * D],
        "amount": [100.0, 50.0, 30.0, 30.0, 500.0, 80.0, -20.0, 10.0, 1.0, -5.0],
    })
    return contacts, tx


def test_numbers_by_hand():
    contacts, tx = _tiny()
    s = campaign_summary(contacts, tx, window_days=30, margin=0.5)
    assert list(s.index) == ["A", "B"]
    a = s.loc["A"]
    assert (a["contacted"], a["control"]) == (4, 4)
    assert a["open_rate"] == pytest.approx(2 / 3) and a["click_rate"] == pytest.approx(1 / 3)
    # t3 bought before the contact and returned in the window, t4 after the window, c2 only
    # returned: none of them converted
    assert a["conversion_treated"] == 0.5 and a["conversion_control"] == 0.25
    assert a["conversion_lift"] == 0.25
    assert a["revenue_per_treated"] == pytest.approx((100 + 80) / 4)
    assert a["revenue_per_control"] == pytest.approx(30 / 4)
    assert a["revenue_lift"] == pytest.approx(45 - 7.5)
    assert a["incremental_conversions"] == pytest.approx(1.0)
    assert a["incremental_revenue"] == pytest.approx(4 * 37.5)
    assert a["cost"] == 8.0
    assert a["roi"] == pytest.approx((150 * 0.5 - 8) / 8)
    lo, hi = newcombe_interval(2, 4, 1, 4)
    assert (a["conversion_lift_lower"], a["conversion_lift_upper"]) == (lo, hi)
    welch = stats.ttest_ind([100, 80, 0, 0], [30, 0, 0, 0], equal_var=False)
    ci = welch.confidence_interval(0.95)
    assert a["revenue_lift_lower"] == pytest.approx(ci.low)
    assert a["revenue_lift_upper"] == pytest.approx(ci.high)
    assert a["note"] == ""
    assert s.attrs["definitions"]["roi"].startswith("(incremental_revenue x margin")


def test_newcombe_matches_the_published_example():
    # Newcombe (1998), Table II, example (a): 56/70 vs 48/80 -> 0.0524 to 0.3339
    lo, hi = newcombe_interval(56, 70, 48, 80)
    assert lo == pytest.approx(0.0524, abs=1e-4) and hi == pytest.approx(0.3339, abs=1e-4)
    assert np.isnan(newcombe_interval(1, 0, 1, 3)[0])
    assert np.isnan(welch_interval([1.0], [1.0, 2.0])[0])
    assert welch_interval([2.0, 2.0], [1.0, 1.0]) == (1.0, 1.0)


def test_a_campaign_without_control_says_so():
    contacts, tx = _tiny()
    b = campaign_summary(contacts, tx).loc["B"]
    assert b["note"] == "no control group: lift cannot be measured"
    assert b["contacted"] == 3 and b["control"] == 0
    assert b["conversion_treated"] == pytest.approx(1 / 3) and np.isnan(b["conversion_control"])
    for k in ("conversion_lift", "conversion_lift_lower", "revenue_lift", "revenue_lift_upper",
              "incremental_conversions", "incremental_revenue", "roi"):
        assert np.isnan(b[k]), k
    assert b["cost"] == 3.0


def test_window_edges_and_nothing_after_the_window_is_read():
    contacts, tx = _tiny()
    one = contacts.iloc[[0, 4]]
    edge = pd.DataFrame({"customer_id": ["t1", "c1"],
                         "timestamp": [T0 + pd.Timedelta(days=30), T0],
                         "amount": [5.0, 5.0]})
    out = cm.campaigns.conversions(one, edge.assign(customer_id=["t1", "c1"]))
    # t1: exactly window end -> in; c1: exactly at the contact -> out
    assert list(out["converted"]) == [1, 0]
    later = pd.concat([edge, pd.DataFrame({"customer_id": ["t1", "c1"],
                                           "timestamp": [T0 + pd.Timedelta(days=30, seconds=1),
                                                         T0 + 90 * D],
                                           "amount": [1e6, 1e6]})], ignore_index=True)
    out2 = cm.campaigns.conversions(one, later)
    assert list(out2["revenue"]) == [5.0, 0.0]


def test_intervals_cover_the_truth_about_95_percent():
    rng = np.random.default_rng(0)
    hit_c = hit_r = 0
    n_sim, nt, nc, p1, p2 = 400, 300, 300, 0.3, 0.2
    for _ in range(n_sim):
        yt, yc = rng.random(nt) < p1, rng.random(nc) < p2
        lo, hi = newcombe_interval(yt.sum(), nt, yc.sum(), nc)
        hit_c += lo <= p1 - p2 <= hi
        rt, rc = yt * rng.gamma(2.0, 50.0, nt), yc * rng.gamma(2.0, 50.0, nc)
        lo, hi = welch_interval(rt, rc)
        hit_r += lo <= (p1 - p2) * 100.0 <= hi
    assert 0.92 <= hit_c / n_sim <= 0.98
    assert 0.92 <= hit_r / n_sim <= 0.98


def test_builtin_data_main_lift_covers_the_true_mean_uplift():
    ds = cm.datasets.make_crm_dataset(n_customers=3000, seed=2)
    s = campaign_summary(ds.campaigns, ds.transactions)
    meta = ds.meta["campaigns"]
    main = s.loc[meta["main_campaign"]]
    true = ds.truth["true_uplift"].mean()
    assert main["conversion_lift_lower"] <= true <= main["conversion_lift_upper"]
    assert main["control"] > 0.45 * (main["control"] + main["contacted"])
    assert s.loc[meta["followup_campaign"], "note"].startswith("no control group")
    assert np.isfinite(main["roi"])


@pytest.mark.parametrize("change, rule", [
    (lambda c: pd.concat([c, c.iloc[[1]]], ignore_index=True), "one row per customer"),
    (lambda c: c.assign(treated=c["treated"].where(c.index != 2, 2)), "0 or 1"),
    (lambda c: c.assign(treated=c["treated"].astype(float).where(c.index != 2)), "not null"),
    (lambda c: c.assign(cost=c["cost"].where(c.index != 3, -1.0)), "non-negative"),
    (lambda c: c.assign(cost=c["cost"].where(c.index != 3, np.inf)), "non-negative"),
    (lambda c: c.assign(cost=c["cost"].where(c.index != 3)), "not null"),
    (lambda c: c.assign(opened=c["opened"].where(c.index != 0, 3)), "0 or 1"),
    (lambda c: c.assign(timestamp=c["timestamp"].astype(object).where(c.index != 1,
                                                                      "not a date")),
     "parseable timestamp"),
    (lambda c: c.drop(columns="treated"), "required column"),
])
def test_bad_contacts_are_typed_errors_naming_rows(change, rule):
    contacts, tx = _tiny()
    with pytest.raises(DataValidationError) as err:
        campaign_summary(change(contacts), tx)
    assert err.value.rule.startswith(rule)
    if rule != "required column":
        assert "row" in str(err.value)


def test_duplicate_contact_error_names_both_rows():
    contacts, tx = _tiny()
    dup = pd.concat([contacts, contacts.iloc[[1]]], ignore_index=True)
    with pytest.raises(DataValidationError, match="row 1: customer_id='t2'") as err:
        cm.data.standardize(dup, kind="contacts")
    assert err.value.rows == [1, 11]


def test_unknown_customers_do_not_convert_and_late_contacts_are_refused():
    contacts, tx = _tiny()
    ghost = pd.concat([contacts, contacts.iloc[[0]].assign(customer_id="ghost")],
                      ignore_index=True)
    s = campaign_summary(ghost, tx)
    assert s.loc["A", "contacted"] == 5 and s.loc["A", "conversion_treated"] == 0.4
    late = contacts.assign(timestamp=T0 + 200 * D)
    with pytest.raises(DataValidationError, match="after the observed transactions"):
        campaign_summary(late, tx)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = campaign_summary(contacts, tx, as_of=T0 + 10 * D)
    assert any("undercounted" in str(w.message) for w in caught)
    assert "past the end of the data" in s.loc["A", "note"]


def test_bad_arguments():
    contacts, tx = _tiny()
    with pytest.raises(ValueError, match="window_days"):
        campaign_summary(contacts, tx, window_days=0)
    with pytest.raises(ValueError, match="margin"):
        campaign_summary(contacts, tx, margin=np.nan)
    with pytest.raises(DataValidationError, match="missing required column"):
        campaign_summary(contacts, tx.drop(columns="amount"))
    with pytest.raises(DataValidationError, match="no rows"):
        campaign_summary(contacts.iloc[:0], tx)
    with pytest.raises(DataValidationError, match="DataFrame"):
        campaign_summary([1, 2], tx)
