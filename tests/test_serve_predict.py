"""Predict functions for backends: registered champions, cached, thread-safe, clear errors."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest

from crm_ml import DataValidationError, predict_churn, predict_clv
from crm_ml.serve import assign_segment, clear_cache, get_model

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def features(demo_workspace):
    from crm_ml.features import build

    data = demo_workspace["data"]
    tx = pd.read_csv(data / "transactions.csv", dtype={"customer_id": str},
                     parse_dates=["timestamp"])
    ix = pd.read_csv(data / "interactions.csv", dtype={"customer_id": str},
                     parse_dates=["timestamp"])
    cust = pd.read_csv(data / "customers.csv", dtype={"customer_id": str},
                       parse_dates=["signup_date"])
    return build(tx, "2024-12-31", ix, cust).head(50), tx


def test_predict_churn_takes_dicts_and_keeps_customer_ids(features):
    X, _ = features
    records = X.reset_index().to_dict("records")
    out = predict_churn(records)
    assert list(out.index) == list(X.index)
    assert out["churn_probability"].between(0, 1).all()
    in_memory = get_model("crm-churn").unwrap_python_model().model.predict_proba(X)
    assert (out["churn_probability"] - in_memory.to_numpy()).abs().max() < 1e-12
    one = predict_churn(records[0])
    assert one.index[0] == X.index[0]


def test_model_is_loaded_once_and_shared_between_threads(features):
    X, _ = features
    clear_cache()
    records = X.reset_index().to_dict("records")
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda r: predict_churn([r]), records[:16]))
    assert get_model("crm-churn") is get_model("crm-churn")
    got = pd.concat(results)["churn_probability"]
    assert (got - predict_churn(records[:16])["churn_probability"]).abs().max() < 1e-12


def test_missing_field_is_a_clear_error(features):
    X, _ = features
    record = X.reset_index().to_dict("records")[0]
    record.pop(X.columns[0])
    with pytest.raises(DataValidationError, match=X.columns[0]):
        predict_churn([record])
    # also when only some records lack it (it used to be scored as unknown)
    full = X.reset_index().to_dict("records")[1]
    with pytest.raises(DataValidationError, match=rf"{X.columns[0]}: missing from record\(s\) "
                       r"\[1\]"):
        predict_churn([full, record])
    # None is how a record says "unknown"
    assert len(predict_churn([full, {**record, X.columns[0]: None}])) == 2


def test_ids_are_the_strings_standardize_makes(features):
    X, _ = features
    record = {**X.reset_index().to_dict("records")[0], "customer_id": 12346.0}
    assert predict_churn(record).index.tolist() == ["12346"]


def test_predict_clv_accepts_whole_numbers(features):
    out = predict_clv([{"customer_id": "x1", "frequency": 3, "recency": 40, "T": 60,
                        "monetary_value": 50},
                       {"customer_id": "x2", "frequency": 0, "recency": 0, "T": 10,
                        "monetary_value": 0}])
    assert list(out.index) == ["x1", "x2"]
    assert {"expected_purchases", "p_alive", "clv"} <= set(out.columns)
    assert (out["clv"] >= 0).all()
    with pytest.raises(DataValidationError, match="frequency"):
        predict_clv([{"frequency": "many", "recency": 40, "T": 60, "monetary_value": 50}])


@pytest.mark.parametrize("field", ["frequency", "recency", "T", "monetary_value"])
def test_predict_clv_missing_value_names_its_field(features, field):
    good = {"frequency": 3, "recency": 40, "T": 60, "monetary_value": 50}
    with pytest.raises(DataValidationError, match=rf"{field} breaks rule 'no missing values'"
                       r".*offending rows: \[0\]") as err:
        predict_clv({**good, field: None})
    assert err.value.column == field
    partial = {k: v for k, v in good.items() if k != field}
    with pytest.raises(DataValidationError, match=rf"{field}: missing from record\(s\) \[1\]") \
            as err:
        predict_clv([good, partial])
    assert err.value.column == field


def test_predict_clv_rejects_negative_spend_and_infinite_T(features):
    with pytest.raises(DataValidationError, match="monetary_value: .*cannot be negative"):
        predict_clv({"frequency": 3, "recency": 40, "T": 60, "monetary_value": -55})
    with pytest.raises(DataValidationError, match=r"T: .*\(rule: finite"):
        predict_clv({"frequency": 3, "recency": 40, "T": float("inf"), "monetary_value": 55})


def test_assign_segment_returns_label_and_name(features):
    from crm_ml.segmentation import segmentation_features

    _, tx = features
    seg_in = segmentation_features(tx, "2024-12-31").head(20)
    out = assign_segment(seg_in.reset_index())
    assert list(out.index) == list(seg_in.index)
    assert {"segment", "segment_name"} <= set(out.columns)
    assert out["segment_name"].str.len().gt(0).all()


def test_text_in_a_numeric_field_is_a_clear_error(features):
    X, _ = features
    record = X.reset_index().to_dict("records")[0]
    record["recency_days"] = "yesterday"
    with pytest.raises(DataValidationError, match="recency_days: must be a number"):
        predict_churn([record])
    record["recency_days"] = "12"  # numbers sent as text are accepted
    assert predict_churn([record])["churn_probability"].between(0, 1).all()
