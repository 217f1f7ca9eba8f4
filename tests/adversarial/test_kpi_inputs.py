"""Adversarial inputs to crm_ml.kpi: empty and one-row frames, missing and infinite values,
time zones, returns only, duplicate ids, hostile category names and costs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crm_ml.errors import DataValidationError
from crm_ml.kpi import kpi_table, report, retention_cohorts

AS_OF = "2024-03-31"


def _tx(n_customers: int = 12, months: int = 3) -> pd.DataFrame:
    """``n_customers`` customers buying once a month for ``months`` months from January."""
    rows = [(f"c{i:02d}", pd.Timestamp(2024, m, 1 + i % 27), 10.0 + i)
            for i in range(n_customers) for m in range(1, months + 1)]
    tx = pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount"])
    tx["region"] = np.where(np.arange(len(tx)) % 2 == 0, "N", "S")
    return tx


@pytest.mark.parametrize("frame,column", [
    (_tx().iloc[:0], "timestamp"),
    (_tx().assign(amount=np.nan), "amount"),
    (_tx().assign(amount=np.inf), "amount"),
    (_tx().assign(timestamp=pd.NaT), "timestamp"),
    (_tx().assign(customer_id=None), "customer_id"),
    (_tx().drop(columns="customer_id"), "customer_id"),
    (_tx().assign(timestamp=_tx()["timestamp"].astype(str)), "timestamp"),
])
def test_broken_transactions_are_typed_errors(frame, column):
    for fn in (lambda: kpi_table(frame, AS_OF), lambda: retention_cohorts(frame, as_of=AS_OF)):
        with pytest.raises(DataValidationError) as err:
            fn()
        assert err.value.column == column


def test_not_a_frame_and_as_of_before_the_data():
    with pytest.raises(DataValidationError, match="DataFrame"):
        kpi_table([1, 2], AS_OF)
    with pytest.raises(DataValidationError, match="no transaction on or before"):
        kpi_table(_tx(), "2023-06-30")
    with pytest.raises(DataValidationError, match="as_of"):
        kpi_table(_tx(), "not a date")


def test_one_row_works():
    t = kpi_table(_tx().iloc[:1], AS_OF, min_customers=1)
    assert t["active"].tolist() == [1, 0, 0] and t["lost"].tolist() == [0, 1, 0]
    assert retention_cohorts(_tx().iloc[:1], as_of=AS_OF).cohort_size.sum() == 1
    assert "<h2>KPI table</h2>" in report(_tx().iloc[:1], AS_OF)


def test_returns_only_give_zero_activity_and_no_cohorts():
    tx = _tx().assign(amount=-5.0)
    t = kpi_table(tx, AS_OF, min_customers=1)
    assert (t["active"] == 0).all() and t["revenue"].sum() == pytest.approx(-5.0 * len(tx))
    with pytest.raises(DataValidationError, match="no purchase"):
        retention_cohorts(tx, as_of=AS_OF)
    assert "No cohort matrix" in report(tx, AS_OF, min_customers=1)


def test_time_zones_are_read_as_utc():
    naive = kpi_table(_tx(), AS_OF, min_customers=1)
    aware = _tx().assign(timestamp=_tx()["timestamp"].dt.tz_localize("UTC"))
    pd.testing.assert_frame_equal(kpi_table(aware, AS_OF, min_customers=1), naive)


def test_duplicate_customers_rows_with_by_are_refused():
    customers = pd.DataFrame({"customer_id": ["c00", "c00"], "tier": ["a", "b"]})
    with pytest.raises(DataValidationError) as err:
        kpi_table(_tx(), AS_OF, customers=customers, by="tier")
    assert err.value.column == "customer_id" and err.value.rows == [0, 1]


@pytest.mark.parametrize("by", ["revenue", "period", "csat_mean", ["region"]])
def test_a_by_that_collides_or_is_not_a_name_is_refused(by):
    tx = _tx().assign(revenue="x", period="y", csat_mean="z")
    with pytest.raises(DataValidationError):
        kpi_table(tx, AS_OF, by=by)


def test_interactions_of_unknown_customers_and_missing_kinds():
    it = pd.DataFrame({"customer_id": ["zz", "c01", "c02"],
                       "timestamp": pd.to_datetime(["2024-01-03", "2024-01-04", "2024-02-01"]),
                       "kind": ["complaint", None, "Complaint "], "satisfaction": [5, 4, 1]})
    t = kpi_table(_tx(), AS_OF, interactions=it, min_customers=1)
    assert t["complaint_rate"].tolist() == pytest.approx([1 / 12, 1 / 12, 0.0])
    t = kpi_table(_tx(), AS_OF, interactions=it, by="region", min_customers=1)
    assert "unknown" in set(t["region"])  # zz bought nothing: its segment is unknown


@pytest.mark.parametrize("costs,column", [
    (pd.DataFrame({"period": ["2024-01"], "acquisition_cost": [np.nan]}), "acquisition_cost"),
    (pd.DataFrame({"period": ["2024-01"], "acquisition_cost": ["lots"]}), "acquisition_cost"),
    (pd.DataFrame({"period": ["someday"], "acquisition_cost": [1.0]}), "period"),
    (pd.DataFrame({"when": ["2024-01"], "acquisition_cost": [1.0]}), "timestamp"),
    (pd.DataFrame({"period": ["2024-01"], "acquisition_cost": [-1.0]}), "acquisition_cost"),
    # corrupt: two of these in one period sum to inf
    (pd.DataFrame({"period": ["2024-01"] * 2, "acquisition_cost": [1e308] * 2}),
     "acquisition_cost"),
])
def test_bad_costs_are_typed_errors(costs, column):
    with pytest.raises(DataValidationError) as err:
        kpi_table(_tx(), AS_OF, costs=costs)
    assert err.value.column == column


def test_costs_given_as_periods_and_timestamps_agree():
    as_periods = pd.DataFrame({"period": pd.period_range("2024-01", periods=3, freq="M"),
                               "acquisition_cost": [120.0, 0.0, 0.0]})
    as_days = pd.DataFrame({"timestamp": pd.to_datetime(["2024-01-31"]),
                            "acquisition_cost": [120.0]})
    a = kpi_table(_tx(), AS_OF, costs=as_periods, min_customers=1)
    b = kpi_table(_tx(), AS_OF, costs=as_days, min_customers=1)
    assert a["cac"].iloc[0] == b["cac"].iloc[0] == 10.0


def test_clv_with_infinite_values_or_duplicate_ids_is_refused():
    with pytest.raises(DataValidationError, match="finite"):
        kpi_table(_tx(), AS_OF, clv=pd.Series({"c00": np.inf}))
    with pytest.raises(DataValidationError, match="duplicates"):
        kpi_table(_tx(), AS_OF, clv=pd.Series([1.0, 2.0], index=["c00", "c00"]))
    with pytest.raises(DataValidationError, match="CLVModel"):
        kpi_table(_tx(), AS_OF, clv={"c00": 1.0})


HOSTILE = ["$\\frac{$", '=HYPERLINK("http://x")', "a\nb", "<img src=x onerror=alert(1)>",
           "", "   ", "-1+2"]


def test_hostile_segment_names_are_drawn_escaped_and_neutralised(tmp_path):
    from crm_ml.output_files import write_atomic

    tx = _tx(28)
    tx["region"] = [HOSTILE[i % len(HOSTILE)] for i in range(len(tx))]
    tx = tx.sort_values("timestamp")
    html = report(tx, AS_OF, by="region", min_customers=1)  # draws every name in a legend
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    t = kpi_table(tx, AS_OF, by="region", min_customers=1)
    assert set(t["region"]) == set(HOSTILE)  # every name is a segment of its own
    write_atomic(t, tmp_path / "t.csv", index=False)
    written = (tmp_path / "t.csv").read_text()
    assert "'=HYPERLINK" in written and ",=HYPERLINK" not in written


def test_corrupt_huge_amounts_are_refused_not_summed_to_infinity():
    tx = _tx()
    tx.loc[[0, 3], "amount"] = 1e308  # two corrupt rows: their sum overflows to inf
    for fn in (lambda: kpi_table(tx, AS_OF, min_customers=0),
               lambda: retention_cohorts(tx, as_of=AS_OF)):
        with pytest.raises(DataValidationError, match="1e12") as err:
            fn()
        assert err.value.column == "amount" and list(err.value.rows) == [0, 3]


def test_report_path_that_is_a_folder_is_refused_saying_so(tmp_path):
    folder = tmp_path / "report.html"
    folder.mkdir()
    with pytest.raises(ValueError, match="is a folder"):
        report(_tx(), AS_OF, path=folder)
    assert list(folder.iterdir()) == []  # nothing written into it


def test_cli_report_output_that_is_a_folder_is_refused_saying_so(tmp_path, capsys):
    from crm_ml.cli import main

    (tmp_path / "report.html").mkdir()
    _tx().to_csv(tmp_path / "tx.csv", index=False)
    code = main(["report", "--transactions", str(tmp_path / "tx.csv"),
                 "--output", str(tmp_path / "report.html")])
    assert code != 0 and "is a folder" in capsys.readouterr().err
