"""Time windows: the as_of day is history, the label horizon is the next h days, half-open."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from crm_ml.data import LabelWindow, as_of_day, future, history, history_end, split_at
from crm_ml.errors import DataValidationError


@pytest.fixture()
def tx():
    ts = pd.to_datetime(format="ISO8601", arg=[
        "2024-06-29 12:00", "2024-06-30 00:00", "2024-06-30 23:59:59", "2024-07-01 00:00",
        "2024-07-30 23:59:59", "2024-07-31 00:00", "2024-08-15",
    ])
    return pd.DataFrame({"customer_id": list("abcdefg"), "timestamp": ts, "amount": 1.0})


@pytest.mark.parametrize("value", ["2024-06-30", "2024-06-30 17:45", dt.date(2024, 6, 30),
                                   pd.Timestamp("2024-06-30 08:00"),
                                   pd.Timestamp("2024-06-30 20:00", tz="US/Eastern")
                                   - pd.Timedelta(hours=1)])
def test_as_of_day_is_a_naive_midnight(value):
    day = as_of_day(value)
    assert day == pd.Timestamp("2024-06-30") and day.tzinfo is None


def test_tz_aware_as_of_is_taken_in_utc():
    # 22:00 in New York on June 30 is already July 1 in UTC
    assert as_of_day(pd.Timestamp("2024-06-30 22:00", tz="America/New_York")) == \
        pd.Timestamp("2024-07-01")


def test_bad_as_of():
    with pytest.raises(DataValidationError, match="as_of"):
        as_of_day("not a date")
    with pytest.raises(DataValidationError, match="as_of"):
        as_of_day(pd.NaT)
    with pytest.raises(DataValidationError, match="day-first or month-first"):
        as_of_day("01/02/2024")
    assert as_of_day("31/12/2024") == as_of_day("12/31/2024") == pd.Timestamp("2024-12-31")


def test_history_includes_the_whole_as_of_day(tx):
    assert history_end("2024-06-30 09:00") == pd.Timestamp("2024-07-01")
    assert history(tx, "2024-06-30")["customer_id"].tolist() == ["a", "b", "c"]


def test_future_is_the_next_h_days_half_open(tx):
    w = LabelWindow.after("2024-06-30", 30)
    assert (w.start, w.end) == (pd.Timestamp("2024-07-01"), pd.Timestamp("2024-07-31"))
    got = future(tx, "2024-06-30", 30)["customer_id"].tolist()
    assert got == ["d", "e"]  # July 1 00:00 in, July 30 23:59:59 in, July 31 00:00 out
    assert "c" not in got  # the as_of day is history, never label


def test_split_at_partitions(tx):
    before, after = split_at(tx, "2024-06-30")
    assert len(before) + len(after) == len(tx)
    assert set(before.index).isdisjoint(after.index)
    assert before["timestamp"].max() < history_end("2024-06-30") <= after["timestamp"].min()


def test_label_window_rules():
    with pytest.raises(DataValidationError, match="horizon_days"):
        LabelWindow.after("2024-06-30", 0)
    w = LabelWindow.after("2024-06-30", 30)
    assert w.covered_by("2024-07-30")  # data through July 30 observe the whole horizon
    assert not w.covered_by("2024-07-29")
