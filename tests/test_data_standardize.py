"""standardize(): renames, coercion, validation errors, policies and the data-quality report."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import crm_ml
from crm_ml.data import (
    ONLINE_RETAIL,
    DataPolicyWarning,
    DataQualityReport,
    load_column_map,
    standardize,
)
from crm_ml.errors import DataValidationError

MAP = dict(customer_id="CustomerID", timestamp="InvoiceDate", amount="Sales")


def raw_tx(n=6, **overrides):
    df = pd.DataFrame({
        "CustomerID": [12346.0, 12347.0, 12347.0, 12348.0, 12349.0, 12350.0][:n],
        "InvoiceDate": ["2024-01-05 10:00", "2024-01-06", "2024-02-01", "2024-03-01",
                        "2024-03-02", "2024-03-03"][:n],
        "Sales": [10.0, 20.5, -5.0, 0.0, 7.25, 3.0][:n],
        "Note": list("abcdef")[:n],
    })
    for k, v in overrides.items():
        df[k] = v
    return df


def expect_error(df, column, rule, *, kind="transactions", **kw):
    with pytest.raises(DataValidationError) as info:
        standardize(df, kind, **kw)
    err = info.value
    msg = str(err)
    assert column in msg, msg
    assert rule in msg, msg
    assert err.column == column
    assert err.rule == rule
    return err


# --- renaming and coercion -------------------------------------------------------------------

def test_renames_coerces_and_keeps_extra_columns_after_canonical_ones():
    raw = raw_tx()
    before = raw.copy()
    out = standardize(raw, **MAP)
    assert list(out.columns) == ["customer_id", "timestamp", "amount", "Note"]
    assert out["customer_id"].tolist() == ["12346", "12347", "12347", "12348", "12349", "12350"]
    assert out["customer_id"].dtype == object
    assert out["timestamp"].dtype == "datetime64[ns]"
    assert out["amount"].dtype == "float64"
    assert out["timestamp"].iloc[0] == pd.Timestamp("2024-01-05 10:00")
    pd.testing.assert_frame_equal(raw, before)  # input untouched
    out.loc[0, "Note"] = "changed"
    assert raw.loc[0, "Note"] == "a"  # and not sharing memory
    assert crm_ml.data.standardize is standardize


def test_index_labels_are_kept():
    raw = raw_tx().set_axis(list("uvwxyz"))
    assert list(standardize(raw, **MAP).index) == list("uvwxyz")


def test_ids_of_every_type_become_clean_strings():
    raw = pd.DataFrame({
        "customer_id": [1, "1", 1.0, " 00042 ", 2.5, "A-7"],
        "timestamp": pd.date_range("2024-01-01", periods=6),
        "amount": 1.0,
    })
    out = standardize(raw)
    assert out["customer_id"].tolist() == ["1", "1", "1", "00042", "2.5", "A-7"]
    ints = standardize(raw.assign(customer_id=pd.array([5, 6, 7, 8, 9, 10], dtype="Int64")))
    assert ints["customer_id"].tolist() == ["5", "6", "7", "8", "9", "10"]


def test_timezone_aware_timestamps_become_naive_utc():
    ts = pd.Series(pd.date_range("2024-03-01 10:00", periods=3, freq="h", tz="Europe/Berlin"))
    out = standardize(pd.DataFrame({"customer_id": "a", "timestamp": ts, "amount": 1.0}))
    assert out["timestamp"].dt.tz is None
    assert out["timestamp"].iloc[0] == pd.Timestamp("2024-03-01 09:00")
    strings = pd.DataFrame({"customer_id": "a", "amount": 1.0,
                            "timestamp": ["2024-01-01T10:00:00+02:00", "2024-01-02",
                                          "2024/01/03 12:30"]})
    got = standardize(strings)["timestamp"].tolist()
    assert got == [pd.Timestamp("2024-01-01 08:00"), pd.Timestamp("2024-01-02"),
                   pd.Timestamp("2024-01-03 12:30")]


def test_amounts_as_strings_are_parsed():
    out = standardize(raw_tx(3, Sales=["10", " 2.5", "-1e1"]), **MAP)
    assert out["amount"].tolist() == [10.0, 2.5, -10.0]


def test_mapping_dict_and_keyword_override():
    raw = raw_tx().assign(Other=1.0)
    out = standardize(raw, columns={**MAP, "amount": "Other"})
    assert (out["amount"] == 1.0).all()
    out = standardize(raw, columns={**MAP, "amount": "Other"}, amount="Sales")
    assert out["amount"].iloc[1] == 20.5
    assert "Other" in out.columns


def test_columns_matched_by_name_ignoring_case_and_punctuation():
    raw = pd.DataFrame({"Customer ID": ["a", "b"], "TIMESTAMP": ["2024-01-01", "2024-01-02"],
                        "Amount": [1, 2]})
    out, report = standardize(raw, return_report=True)
    assert list(out.columns[:3]) == ["customer_id", "timestamp", "amount"]
    assert any("Customer ID" in n for n in report.notes)


def test_online_retail_mapping_derives_amount_from_quantity_times_price():
    raw = pd.DataFrame({
        "InvoiceNo": ["536365", "536365", "C536379"],
        "StockCode": ["85123A", "71053", "D"],
        "Description": ["HEART", "LANTERN", "Discount"],
        "Quantity": [6, 2, -1],
        "InvoiceDate": ["12/1/2010 8:26", "12/1/2010 8:26", "12/1/2010 9:41"],
        "UnitPrice": [2.55, 3.39, 27.5],
        "CustomerID": [17850.0, 17850.0, 14527.0],
        "Country": ["United Kingdom", "United Kingdom", "United Kingdom"],
    })
    out = standardize(raw, **ONLINE_RETAIL)
    assert out["amount"].tolist() == pytest.approx([15.3, 6.78, -27.5])
    assert out["customer_id"].tolist() == ["17850", "17850", "14527"]
    assert out["order_id"].tolist() == ["536365", "536365", "C536379"]
    assert out["quantity"].tolist() == [6, 2, -1]
    assert out["region"].iloc[0] == "United Kingdom"
    assert out["timestamp"].iloc[2] == pd.Timestamp("2010-12-01 09:41")
    # nothing lost: the unit price and description are still there
    assert {"UnitPrice", "Description"} <= set(out.columns)
    with pytest.raises(TypeError):
        ONLINE_RETAIL["amount"] = "x"  # read-only constant


def test_load_column_map_from_toml(tmp_path):
    p = tmp_path / "map.toml"
    p.write_text('customer_id = "CustomerID"\ntimestamp = "InvoiceDate"\n'
                 'amount = ["Quantity", "UnitPrice"]\n')
    cmap = load_column_map(p)
    assert cmap == {"customer_id": "CustomerID", "timestamp": "InvoiceDate",
                    "amount": ("Quantity", "UnitPrice")}
    raw = pd.DataFrame({"CustomerID": [1], "InvoiceDate": ["2024-01-01"], "Quantity": [3],
                        "UnitPrice": [2.0]})
    assert standardize(raw, columns=cmap)["amount"].tolist() == [6.0]
    tables = tmp_path / "tables.toml"
    tables.write_text('[transactions]\ncustomer_id = "CustomerID"\n'
                      '[interactions]\nkind = "Type"\n')
    assert load_column_map(tables) == {"customer_id": "CustomerID"}
    assert load_column_map(tables, kind="interactions") == {"kind": "Type"}
    assert load_column_map(tables, kind="customers") == {}
    bad = tmp_path / "bad.toml"
    bad.write_text("amount = 3\n")
    with pytest.raises(ValueError, match="amount"):
        load_column_map(bad)
    with pytest.raises(FileNotFoundError):
        load_column_map(tmp_path / "nope.toml")


def test_interactions_kind_lower_case_and_ranges():
    raw = pd.DataFrame({
        "cust": ["1", "2", "3"],
        "when": ["2024-01-01", "2024-01-02", "2024-01-03"],
        "Type": [" Ticket", "COMPLAINT", "chat"],
        "satisfaction": [1, None, 5],
        "resolution_hours": [0.0, 12.5, None],
    })
    out, report = standardize(raw, "interactions", customer_id="cust", timestamp="when",
                              columns={"kind": "Type"}, return_report=True)
    assert out["kind"].tolist() == ["ticket", "complaint", "chat"]
    assert out["satisfaction"].dtype == "float64"
    assert np.isnan(out["satisfaction"].iloc[1])
    assert any("'chat'" in n for n in report.notes)  # unknown kind kept, and said so


def test_customers_signup_date_and_attributes():
    raw = pd.DataFrame({"id": [1, 2], "signup": ["2023-01-01", None], "region": ["N", "S"],
                        "company_size": [10, 200]})
    out = standardize(raw, "customers", customer_id="id", signup_date="signup")
    assert out["customer_id"].tolist() == ["1", "2"]
    assert out["signup_date"].dtype == "datetime64[ns]"
    assert out["signup_date"].isna().tolist() == [False, True]
    assert list(out.columns) == ["customer_id", "signup_date", "region", "company_size"]


# --- every bad input gets a clear error --------------------------------------------------------

def test_missing_required_column_names_columns_and_mapping():
    err = expect_error(raw_tx(), "timestamp", "required column", customer_id="CustomerID",
                       amount="Sales")
    msg = str(err)
    assert "InvoiceDate" in msg  # the columns that exist
    assert "amount='Sales'" in msg  # the mapping used


def test_the_suggested_mapping_works_for_kind():
    raw = pd.DataFrame({"customer_id": ["a"], "timestamp": ["2024-01-01"], "Type": ["Ticket"]})
    err = expect_error(raw, "kind", "required column", kind="interactions")
    assert "columns={'kind': ...}" in str(err)  # kind= is standardize's own argument
    out = standardize(raw, "interactions", columns={"kind": "Type"})
    assert out["kind"].tolist() == ["ticket"]


def test_mapped_column_not_in_frame():
    err = expect_error(raw_tx(), "amount", "required column", **{**MAP, "amount": "Revenue"})
    assert "'Revenue'" in str(err) and "Sales" in str(err)


def test_null_ids():
    err = expect_error(raw_tx(CustomerID=[1.0, np.nan, 3.0, None, 5.0, 6.0]), "customer_id",
                       "not null", **MAP)
    assert err.rows == [1, 3]
    assert "CustomerID" in str(err)  # the user's column name too


def test_empty_ids():
    err = expect_error(raw_tx(CustomerID=["a", "", "  ", "b", "c", "d"]), "customer_id",
                       "non-empty", **MAP)
    assert err.rows == [1, 2]


def test_unparseable_timestamps_show_row_labels_and_values():
    raw = raw_tx(InvoiceDate=["2024-01-01", "yesterday", "2024-13-45", "2024-01-04",
                              "2024-01-05", "2024-01-06"]).set_axis(list("pqrstu"))
    err = expect_error(raw, "timestamp", "parseable timestamp", **MAP)
    assert err.rows == ["q", "r"]
    assert "'yesterday'" in str(err) and "'2024-13-45'" in str(err)
    assert "row 'q'" in str(err)


def test_day_first_dates_are_read_day_first_throughout():
    # the first value fits month-first, but 31/12 can only be day-first: all are day-first
    raw = raw_tx(InvoiceDate=["05/01/2024", "31/12/2024", "02/03/2024 10:00", "15/06/2024",
                              "2024-01-06", "01.02.2024"])
    out = standardize(raw, "transactions", **MAP)
    assert [str(t) for t in out["timestamp"]] == [
        "2024-01-05 00:00:00", "2024-12-31 00:00:00", "2024-03-02 10:00:00",
        "2024-06-15 00:00:00", "2024-01-06 00:00:00", "2024-02-01 00:00:00"]
    # month-first evidence keeps month-first; both kinds in one column is an error
    us = raw_tx(InvoiceDate=["05/01/2024", "12/31/2024", "02/03/2024", "01/02/2024",
                             "06/07/2024", "08/09/2024"])
    assert str(standardize(us, "transactions", **MAP)["timestamp"].iloc[0]) == "2024-05-01 00:00:00"
    both = raw_tx(InvoiceDate=["05/01/2024", "31/12/2024", "12/31/2024", "01/02/2024",
                               "06/07/2024", "08/09/2024"])
    err = expect_error(both, "timestamp", "parseable timestamp", **MAP)
    assert "both day-first" in str(err)


def test_missing_timestamps():
    expect_error(raw_tx(InvoiceDate=[None, "2024-01-01", "2024-01-01", "2024-01-01",
                                     "2024-01-01", "2024-01-01"]), "timestamp", "not null",
                 **MAP)


def test_numeric_timestamps_are_refused_with_a_hint():
    err = expect_error(raw_tx(InvoiceDate=np.arange(6) * 86400), "timestamp",
                       "parseable timestamp", **MAP)
    assert "unit=" in str(err)


def test_non_numeric_amounts():
    err = expect_error(raw_tx(Sales=["1", "x", "3", "$4", "5", "6"]), "amount", "numeric",
                       **MAP)
    assert err.rows == [1, 3]
    assert "'$4'" in str(err)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, None])
def test_nan_inf_and_missing_amounts(bad):
    sales = pd.Series([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], dtype=object)
    sales[4] = bad
    err = expect_error(raw_tx(Sales=sales), "amount", "finite", **MAP)
    assert err.rows == [4]


def test_derived_amount_non_numeric_component():
    raw = pd.DataFrame({"CustomerID": [1, 2], "InvoiceDate": ["2024-01-01"] * 2,
                        "Quantity": [1, 2], "UnitPrice": ["2.0", "n/a"]})
    err = expect_error(raw, "amount", "numeric", customer_id="CustomerID",
                       timestamp="InvoiceDate", amount=("Quantity", "UnitPrice"))
    assert "UnitPrice='n/a'" in str(err) and "Quantity x UnitPrice" in str(err)


def test_timestamps_after_as_of_day():
    raw = raw_tx()
    # the as_of day itself is history, up to its last second
    ok = standardize(raw.assign(InvoiceDate="2024-03-03 23:59:59"), as_of="2024-03-03", **MAP)
    assert len(ok) == 6
    err = expect_error(raw, "timestamp", "on or before as_of", as_of="2024-03-01", **MAP)
    assert err.rows == [4, 5]
    assert "2024-03-01" in str(err)


def test_signup_after_as_of():
    raw = pd.DataFrame({"customer_id": ["a", "b"], "signup_date": ["2024-01-01", "2025-01-01"]})
    expect_error(raw, "signup_date", "on or before as_of", kind="customers", as_of="2024-06-30")


def test_empty_frame():
    with pytest.raises(DataValidationError, match="no rows") as info:
        standardize(raw_tx().iloc[:0], **MAP)
    assert info.value.rule == "non-empty frame"


def test_at_most_five_rows_are_shown_but_all_are_counted():
    raw = pd.DataFrame({"customer_id": [None] * 8 + ["a"], "timestamp": "2024-01-01",
                        "amount": 1.0})
    err = expect_error(raw, "customer_id", "not null")
    assert err.rows == [0, 1, 2, 3, 4]
    assert "8 rows" in str(err)
    assert "row 5" not in str(err)


def test_other_failures_are_summarised():
    raw = raw_tx(CustomerID=[None, 1, 2, 3, 4, 5], Sales=[1, 2, 3, "x", 5, 6])
    err = expect_error(raw, "customer_id", "not null", **MAP)
    assert "amount 'numeric'" in str(err)


def test_interaction_rules():
    base = pd.DataFrame({"customer_id": ["1", "2"], "timestamp": ["2024-01-01"] * 2,
                         "kind": ["ticket", "call"]})
    expect_error(base.assign(satisfaction=[3, 6]), "satisfaction", "between 1 and 5",
                 kind="interactions")
    expect_error(base.assign(satisfaction=[0, 2]), "satisfaction", "between 1 and 5",
                 kind="interactions")
    expect_error(base.assign(resolution_hours=[-1.0, 2.0]), "resolution_hours",
                 "non-negative", kind="interactions")
    expect_error(base.assign(kind=["ticket", None]), "kind", "not null", kind="interactions")
    expect_error(base.assign(satisfaction=["good", 2]), "satisfaction", "numeric",
                 kind="interactions")


def test_duplicate_customer_ids_in_customer_table():
    err = expect_error(pd.DataFrame({"customer_id": [1, 2, 2.0]}), "customer_id", "unique",
                       kind="customers")
    assert 2 in err.rows


def test_clashing_column_and_bad_arguments():
    expect_error(raw_tx().assign(amount=1.0), "amount", "no clashing column", **MAP)
    with pytest.raises(ValueError, match="not a canonical"):
        standardize(raw_tx(), custmer_id="CustomerID")
    with pytest.raises(ValueError, match="kind must be one of"):
        standardize(raw_tx(), "orders")
    with pytest.raises(TypeError):
        standardize([1, 2, 3])
    with pytest.raises(ValueError, match="transactions only"):
        standardize(pd.DataFrame({"customer_id": [1]}), "customers", drop_returns=True)


def test_errors_are_value_errors_and_crm_ml_errors():
    with pytest.raises(ValueError):
        standardize(raw_tx(Sales="x"), **MAP)
    with pytest.raises(crm_ml.CrmMlError):
        standardize(raw_tx(Sales="x"), **MAP)


# --- row policies and the report -------------------------------------------------------------

def test_no_policy_keeps_every_row_and_says_so():
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataPolicyWarning)
        out, report = standardize(raw_tx(), return_report=True, **MAP)
    assert report.rows_in == report.rows_out == len(out) == 6
    assert report.dropped == {}
    assert any("negative amount" in n for n in report.notes)
    assert any("zero amount" in n for n in report.notes)


def test_policies_count_what_they_drop_and_warn():
    raw = pd.concat([raw_tx(), raw_tx().iloc[[0, 1, 2]]], ignore_index=True)  # 3 duplicates
    with pytest.warns(DataPolicyWarning, match=r"returns=2.*zero_amounts=1.*duplicates=2"):
        out, report = standardize(raw, drop_returns=True, drop_zero_amounts=True,
                                  drop_duplicates=True, return_report=True, **MAP)
    # the duplicated return (row 2 and its copy) is counted once, as a return
    assert report.dropped == {"returns": 2, "zero_amounts": 1, "duplicates": 2}
    assert report.rows_in == 9 and report.rows_out == 4 == len(out)
    assert report.rows_out + report.n_dropped == report.rows_in
    assert (out["amount"] > 0).all()
    assert not out.duplicated().any()
    assert out.attrs["data_quality"] == report.to_dict()
    assert DataQualityReport.of(out) == report
    assert "duplicates=2" in str(report)


def test_each_policy_alone():
    raw = raw_tx()
    with pytest.warns(DataPolicyWarning, match="returns=1"):
        out = standardize(raw, drop_returns=True, **MAP)
    assert len(out) == 5 and 0.0 in out["amount"].tolist()
    with pytest.warns(DataPolicyWarning, match="zero_amounts=1"):
        out = standardize(raw, drop_zero_amounts=True, **MAP)
    assert len(out) == 5 and -5.0 in out["amount"].tolist()
    # duplicates are judged on the whole row, extra columns included
    dup = pd.concat([raw, raw.assign(Note="other")], ignore_index=True)
    report = standardize(dup, drop_duplicates=True, return_report=True, **MAP)[1]
    assert report.dropped == {"duplicates": 0}


def test_report_survives_parquet(tmp_path):
    out = standardize(raw_tx(), **MAP)
    out.to_parquet(tmp_path / "tx.parquet")
    back = pd.read_parquet(tmp_path / "tx.parquet")
    pd.testing.assert_frame_equal(back, out)
    assert DataQualityReport.of(back).rows_in == 6


# --- the built-in data satisfy the contract ---------------------------------------------------

def test_builtin_dataset_is_already_canonical(small_dataset):
    ds = small_dataset
    for kind in ("transactions", "customers", "interactions"):
        raw = getattr(ds, kind)
        out, report = standardize(raw, kind, as_of=ds.as_of, return_report=True)
        assert report.rows_out == report.rows_in == len(raw)
        if "order_id" in raw:  # ids come out as strings whatever their input type
            assert out["order_id"].tolist() == raw["order_id"].astype(str).tolist()
            out, raw = out.drop(columns="order_id"), raw.drop(columns="order_id")
        pd.testing.assert_frame_equal(out, raw)


def test_duplicate_rows_match_pandas_duplicated_with_signed_zeros_and_nan_payloads():
    """The hash prefilter of the duplicate count finds exactly what duplicated() finds."""
    import struct

    from crm_ml.data.standardize import _duplicated_rows

    odd_nan = struct.unpack("d", struct.pack("Q", 0x7FF8000000000001))[0]
    rng = np.random.default_rng(3)
    n = 2_000
    frame = pd.DataFrame({
        "amount": rng.choice([0.0, -0.0, np.nan, odd_nan, 1.5, 2.0], n),
        "channel": rng.choice(["web", "store", None], n),
        "timestamp": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 3, n), "D"),
        "order_id": rng.integers(0, 4, n),
    })
    expected = frame.duplicated(keep="first").to_numpy()
    assert expected.sum() > 100 and (~expected).sum() > 10
    np.testing.assert_array_equal(_duplicated_rows(frame, {}, None), expected)
