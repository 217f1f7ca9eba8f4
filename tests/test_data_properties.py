"""Property tests for standardize: any valid frame round-trips, is idempotent, and the
row-policy counts always add up."""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_ml.data import DataPolicyWarning, standardize

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

text_ids = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
                   min_size=1, max_size=8).filter(lambda s: s.strip() != "")
int_ids = st.integers(min_value=-(2**53), max_value=2**53)
naive_times = st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2035, 1, 1))
amounts = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)
# small pools so that duplicates, zeros and returns actually happen
pooled_amounts = st.one_of(amounts, st.sampled_from([0.0, -1.0, 5.0]))


@st.composite
def raw_transactions(draw):
    n = draw(st.integers(min_value=1, max_value=25))
    id_kind = draw(st.sampled_from(["text", "int", "float"]))
    if id_kind == "text":
        ids = draw(st.lists(text_ids, min_size=n, max_size=n))
        expected_ids = [s.strip() for s in ids]
    else:
        ints = draw(st.lists(int_ids, min_size=n, max_size=n))
        ids = ints if id_kind == "int" else [float(i) for i in ints]
        expected_ids = [str(i) for i in ints]
    times = draw(st.lists(naive_times, min_size=n, max_size=n))
    amt = draw(st.lists(pooled_amounts, min_size=n, max_size=n))
    raw = pd.DataFrame({"cid": ids, "when": pd.to_datetime(times), "value": amt})
    if draw(st.booleans()):  # some rows repeated exactly
        k = draw(st.integers(min_value=1, max_value=n))
        raw = pd.concat([raw, raw.iloc[:k]], ignore_index=True)
        expected_ids = expected_ids + expected_ids[:k]
    return raw, expected_ids


MAP = dict(customer_id="cid", timestamp="when", amount="value")


@SETTINGS
@given(raw_transactions())
def test_valid_frames_round_trip(case):
    raw, expected_ids = case
    out = standardize(raw, **MAP)
    assert len(out) == len(raw)
    assert list(out.columns) == ["customer_id", "timestamp", "amount"]
    assert out["customer_id"].dtype == object
    assert out["timestamp"].dtype == "datetime64[ns]"
    assert out["amount"].dtype == "float64"
    assert out["customer_id"].tolist() == expected_ids
    assert all(isinstance(v, str) for v in out["customer_id"])
    np.testing.assert_array_equal(out["timestamp"].to_numpy(), raw["when"].to_numpy())
    np.testing.assert_array_equal(out["amount"].to_numpy(), raw["value"].to_numpy())
    assert out.index.equals(raw.index)


@SETTINGS
@given(raw_transactions())
def test_standardize_is_idempotent(case):
    raw, _ = case
    once = standardize(raw, **MAP)
    twice = standardize(once)
    pd.testing.assert_frame_equal(twice, once)


@SETTINGS
@given(raw_transactions(), st.booleans(), st.booleans(), st.booleans())
def test_policy_counts_add_up(case, returns, zeros, dups):
    raw, _ = case
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out, report = standardize(raw, drop_returns=returns, drop_zero_amounts=zeros,
                                  drop_duplicates=dups, return_report=True, **MAP)
    assert report.rows_in == len(raw)
    assert report.rows_out == len(out)
    assert report.rows_out + sum(report.dropped.values()) == report.rows_in
    policy_warnings = [w for w in caught if issubclass(w.category, DataPolicyWarning)]
    assert bool(policy_warnings) == (report.n_dropped > 0)
    # what is left obeys the policies, and exactly the offending rows were removed
    full = standardize(raw, **MAP)
    keep = np.ones(len(full), dtype=bool)
    if returns:
        keep &= full["amount"].to_numpy() >= 0
    if zeros:
        keep &= full["amount"].to_numpy() != 0
    expected = full.loc[keep]
    if dups:
        expected = expected.loc[~expected.duplicated()]
    pd.testing.assert_frame_equal(out, expected, check_like=False)


@SETTINGS
@given(st.lists(naive_times, min_size=1, max_size=10),
       st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata",
                        "Pacific/Chatham"]))
def test_timezone_aware_input_becomes_naive_utc(times, tz):
    aware = pd.Series(pd.to_datetime(times)).dt.tz_localize(tz, ambiguous=True,
                                                            nonexistent="shift_forward")
    raw = pd.DataFrame({"customer_id": "c", "timestamp": aware, "amount": 1.0})
    out = standardize(raw)
    assert out["timestamp"].dt.tz is None
    expected = aware.dt.tz_convert("UTC").dt.tz_localize(None)
    np.testing.assert_array_equal(out["timestamp"].to_numpy(), expected.to_numpy())
    # the same instants written as ISO strings with offsets give the same result
    as_text = pd.DataFrame({"customer_id": "c", "amount": 1.0,
                            "timestamp": aware.map(lambda t: t.isoformat())})
    np.testing.assert_array_equal(standardize(as_text)["timestamp"].to_numpy(),
                                  expected.to_numpy())
