"""Hostile numbers through the predict functions: impossible or far-out values are refused.

Each model is trained on a small synthetic dataset and registered under its own name in the
session's MLflow store, then scored through ``crm_ml.serve`` as a backend would.
"""

from __future__ import annotations

import math
import uuid
import warnings

import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest

from crm_ml import DataValidationError
from crm_ml.features.ranges import InputRangeWarning
from crm_ml.serve import assign_segment, clear_cache, get_model, predict_churn, predict_clv
from crm_ml.tracking import start_run

pytestmark = pytest.mark.slow


def _name(kind: str) -> str:
    return f"adv-{kind}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def data():
    from crm_ml.clv import purchase_summary
    from crm_ml.datasets import make_crm_dataset
    from crm_ml.features import build
    from crm_ml.segmentation import segmentation_features

    ds = make_crm_dataset(n_customers=600, seed=3)
    tx, as_of = ds.transactions, ds.as_of
    X = build(tx, as_of)
    return {"tx": tx, "as_of": as_of, "X": X,
            "y": (X["recency_days"] > X["recency_days"].median()).astype(int),
            "summary": purchase_summary(tx, as_of, "W"),
            "seg": segmentation_features(tx, as_of)}


def _log_churn(model) -> str:
    from crm_ml.churn.pyfunc import log_churn_model

    name = _name("churn")
    with start_run("churn") as run:
        log_churn_model(model, run, registered_name=name)
    return name


@pytest.fixture(scope="module")
def churn(data):
    from crm_ml.churn import ChurnModel

    model = ChurnModel(algorithm="lightgbm", n_jobs=1).fit(data["X"], data["y"])
    return model, _log_churn(model)


@pytest.fixture(scope="module")
def forest(data):
    from crm_ml.churn import ChurnModel

    model = ChurnModel(algorithm="random_forest", n_jobs=1,
                       calibrate=False).fit(data["X"], data["y"])
    return model, _log_churn(model)


@pytest.fixture(scope="module")
def clv(data):
    from crm_ml.clv import CLVModel, log_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = CLVModel().fit(data["tx"], data["as_of"])
    name = _name("clv")
    with start_run("clv") as run:
        log_model(model, run=run, registered_name=name)
    return model, name


@pytest.fixture(scope="module")
def segments(data):
    from crm_ml.segmentation import Segmenter, log_model

    model = Segmenter(n_segments=3).fit(data["seg"])
    name = _name("segments")
    with start_run("segmentation") as run:
        log_model(model, run=run, registered_name=name)
    return model, name


def _records(frame: pd.DataFrame, n: int = 3) -> list[dict]:
    return frame.head(n).reset_index().to_dict("records")


def _hostile(records: list[dict], field: str, value, at: int = 1) -> list[dict]:
    records = [dict(r) for r in records]
    records[at][field] = value
    return records


# field, value, rule: the rule the refusal must name (1e308 is inf to float32 models)
CHURN_CASES = [("recency_days", -1e9, "non-negative"), ("recency_days", math.inf, "finite"),
               ("total_spend", -math.inf, "finite"), ("n_orders", -1, "non-negative"),
               ("total_spend", 1e308, "finite"), ("total_spend", 1e9, "training range"),
               ("recency_days", 1e9, "training range")]
CLV_CASES = [("monetary_value", 1e308, "finite"), ("monetary_value", math.inf, "finite"),
             ("monetary_value", 1e7, "training range"), ("recency", -1e9, "non-negative"),
             ("frequency", math.inf, "finite"), ("T", -3, "non-negative"),
             ("frequency", 1e6, "training range")]
SEGMENT_CASES = [("recency_days", -1e9, "non-negative"), ("monetary", 1e308, "finite"),
                 ("monetary", 1e7, "training range"), ("frequency", math.inf, "finite"),
                 ("tenure_days", -5, "non-negative")]


def _assert_refused(excinfo, field: str, rule: str, customer_id: str) -> None:
    err = excinfo.value
    assert err.column == field and err.rule == rule
    msg = str(err)
    assert msg.startswith(f"{field}:")
    assert f"rule: {rule}" in msg and "allowed " in msg
    assert repr(customer_id) in msg and err.rows == [customer_id]


@pytest.mark.parametrize(("field", "value", "rule"), CHURN_CASES)
def test_predict_churn_refuses_hostile_values(data, churn, field, value, rule):
    _, name = churn
    records = _records(data["X"])
    with pytest.raises(DataValidationError) as excinfo:
        predict_churn(_hostile(records, field, value), name=name, alias="challenger")
    _assert_refused(excinfo, field, rule, str(records[1]["customer_id"]))


@pytest.mark.parametrize(("field", "value", "rule"), CLV_CASES)
def test_predict_clv_refuses_hostile_values(data, clv, field, value, rule):
    _, name = clv
    records = _records(data["summary"][["frequency", "recency", "T", "monetary_value"]])
    with pytest.raises(DataValidationError) as excinfo:
        predict_clv(_hostile(records, field, value), name=name, alias="challenger")
    _assert_refused(excinfo, field, rule, str(records[1]["customer_id"]))


@pytest.mark.parametrize(("field", "value", "rule"), SEGMENT_CASES)
def test_assign_segment_refuses_hostile_values(data, segments, field, value, rule):
    _, name = segments
    records = _records(data["seg"])
    with pytest.raises(DataValidationError) as excinfo:
        assign_segment(_hostile(records, field, value), name=name, alias="challenger")
    _assert_refused(excinfo, field, rule, str(records[1]["customer_id"]))


def test_records_without_ids_are_named_by_position(data, clv):
    _, name = clv
    records = _records(data["summary"][["frequency", "recency", "T", "monetary_value"]])
    records = [{k: v for k, v in r.items() if k != "customer_id"} for r in records]
    with pytest.raises(DataValidationError, match=r"offending records: record 2: inf") as exc:
        predict_clv(_hostile(records, "monetary_value", math.inf, at=2), name=name,
                    alias="challenger")
    assert exc.value.rows == [2]


def test_random_forest_with_infinity_is_a_validation_error_not_sklearns(data, forest):
    _, name = forest
    records = _records(data["X"])
    with pytest.raises(ValueError) as excinfo:
        predict_churn(_hostile(records, "recency_days", math.inf), name=name,
                      alias="challenger")
    assert type(excinfo.value) is DataValidationError  # not sklearn's "Input contains inf"
    assert excinfo.value.column == "recency_days" and excinfo.value.rule == "finite"


def test_mlflow_pyfunc_callers_are_protected_too(data, forest):
    _, name = forest
    frame = data["X"].head(3).reset_index()
    frame.loc[0, "recency_days"] = math.inf
    loaded = mlflow.pyfunc.load_model(f"models:/{name}@challenger")
    with pytest.raises(DataValidationError, match="recency_days") as excinfo:
        loaded.predict(frame)
    assert excinfo.value.rows == [frame.loc[0, "customer_id"]]


def test_normal_records_score_as_before(data, churn, forest, clv, segments):
    X = data["X"].head(40)
    for model, name in (churn, forest):
        out = predict_churn(X.reset_index().to_dict("records"), name=name, alias="challenger")
        np.testing.assert_allclose(out["churn_probability"].to_numpy(),
                                   model.predict_proba(X).to_numpy(), rtol=0, atol=1e-12)
    summary = data["summary"][["frequency", "recency", "T", "monetary_value"]].head(40)
    model, name = clv
    out = predict_clv(summary.reset_index().to_dict("records"), name=name, alias="challenger")
    spec = get_model(name, "challenger").unwrap_python_model().spec
    direct = model.predict(horizon=spec["horizon"], summary=summary,
                           tier_thresholds=tuple(spec["tier_thresholds"]))
    np.testing.assert_allclose(out["clv"].to_numpy(), direct["clv"].to_numpy(), rtol=1e-12)
    model, name = segments
    seg_in = data["seg"].head(40)
    out = assign_segment(seg_in.reset_index().to_dict("records"), name=name, alias="challenger")
    assert out["segment"].tolist() == model.predict(seg_in).tolist()


def test_missing_values_are_still_allowed_for_churn(data, churn):
    _, name = churn
    records = _hostile(_records(data["X"]), "recency_days", None)
    assert predict_churn(records, name=name, alias="challenger")["churn_probability"].notna().all()


def test_tolerance_is_one_training_range_beyond_either_end(data, clv):
    model, name = clv
    low, high = model.summary_["monetary_value"].min(), model.summary_["monetary_value"].max()
    edge = high + 1.0 * (high - low)
    records = _records(data["summary"][["frequency", "recency", "T", "monetary_value"]])
    assert len(predict_clv(_hostile(records, "monetary_value", edge), name=name,
                           alias="challenger")) == 3
    with pytest.raises(DataValidationError, match=r"allowed \[0, "):
        predict_clv(_hostile(records, "monetary_value", edge * 1.01), name=name,
                    alias="challenger")
    # a wider tolerance is the per-call escape hatch
    assert len(predict_clv(_hostile(records, "monetary_value", edge * 1.01), name=name,
                           alias="challenger", range_tolerance=2)) == 3


def test_warn_scores_far_out_values_but_never_impossible_ones(data, churn):
    _, name = churn
    records = _records(data["X"])
    far = _hostile(records, "recency_days", 1e6)
    with pytest.warns(InputRangeWarning, match="recency_days"):
        out = predict_churn(far, name=name, alias="challenger", range_check="warn")
    assert out["churn_probability"].between(0, 1).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        predict_churn(far, name=name, alias="challenger", range_check="off")
    for mode in ("warn", "off"):
        with pytest.raises(DataValidationError, match="recency_days"):
            predict_churn(_hostile(records, "recency_days", -1), name=name,
                          alias="challenger", range_check=mode)


@pytest.mark.parametrize(("kwargs", "field"), [({"range_check": "ignore"}, "range_check"),
                                               ({"range_tolerance": -1}, "range_tolerance"),
                                               ({"range_tolerance": "wide"}, "range_tolerance")])
def test_bad_range_options_are_clear_errors(data, churn, kwargs, field):
    _, name = churn
    with pytest.raises(DataValidationError, match=field) as excinfo:
        predict_churn(_records(data["X"]), name=name, alias="challenger", **kwargs)
    assert excinfo.value.column == field


def test_model_registered_without_ranges_loads_and_applies_impossible_rules(data):
    from crm_ml.churn import ChurnModel

    model = ChurnModel(algorithm="random_forest", n_jobs=1,
                       calibrate=False).fit(data["X"], data["y"])
    model.input_ranges_ = None  # what a model logged before ranges were stored looks like
    name = _log_churn(model)
    records = _records(data["X"])
    far = predict_churn(_hostile(records, "total_spend", 1e30), name=name, alias="challenger")
    assert far["churn_probability"].between(0, 1).all()  # no range known: not refused
    with pytest.raises(DataValidationError, match="cannot be negative") as excinfo:
        predict_churn(_hostile(records, "recency_days", -1e9), name=name, alias="challenger")
    assert excinfo.value.rule == "non-negative"
    for value in (math.inf, 1e308):  # 1e308 is inf to the forest (float32)
        with pytest.raises(DataValidationError, match="any finite number"):
            predict_churn(_hostile(records, "total_spend", value), name=name,
                          alias="challenger")


def test_batch_scores_a_new_big_spender_beyond_the_training_range(data, churn, clv, segments):
    from crm_ml.rfm import rfm_table
    from crm_ml.scoring.engine import Champions, fit_rfm_scorer, rfm_scores, score_chunk
    from crm_ml.scoring.inputs import CRMData

    tx = data["tx"]
    whale = pd.DataFrame({"customer_id": ["whale"] * 2,
                          "timestamp": [data["as_of"] - pd.Timedelta(days=30),
                                        data["as_of"] - pd.Timedelta(days=3)],
                          "amount": [tx["amount"].max() * 500] * 2})
    batch = CRMData(transactions=pd.concat([tx, whale.astype(tx[whale.columns].dtypes)],
                                           ignore_index=True), as_of=data["as_of"])
    clear_cache()
    models = Champions(churn=get_model(churn[1], "challenger"), clv=get_model(clv[1], "challenger"),
                       segments=get_model(segments[1], "challenger"), versions={})
    ids = pd.Index(["whale", *data["X"].index[:5]], name="customer_id")
    rfm = rfm_table(batch.transactions, batch.as_of)
    rfm = rfm_scores(rfm, fit_rfm_scorer(rfm)).reindex(ids)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = score_chunk(batch, ids, models, rfm)
    assert out.loc["whale", ["churn_probability", "clv"]].notna().all()
    notes = [str(w.message) for w in caught if issubclass(w.category, InputRangeWarning)]
    assert {n.split(":")[0] for n in notes} == {"the churn model", "the CLV model",
                                                "the segmentation model"}
    assert all("customer_id 'whale'" in n for n in notes)  # named, not by position
    # the same customer sent to the backend path is refused by default
    X = data["X"].head(0)  # the churn fields, for the record's shape
    from crm_ml.features import build

    record = build(batch.transactions, batch.as_of).reindex(["whale"])[X.columns]
    with pytest.raises(DataValidationError, match="whale"):
        predict_churn(record.reset_index(), name=churn[1], alias="challenger")


def test_stored_ranges_hold_numbers_of_numeric_fields_only(tmp_path):
    import json

    from crm_ml.churn import ChurnModel

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"recency_days": rng.exponential(100, 200),
                      "region": rng.choice(["north", "south"], 200)},
                     index=pd.Index([f"c{i}" for i in range(200)], name="customer_id"))
    y = pd.Series(rng.integers(0, 2, 200), index=X.index)
    model = ChurnModel(n_jobs=1, calibrate=False).fit(X, y)
    stored = json.loads(open(model.save(tmp_path)["input_ranges"]).read())
    assert list(stored["fields"]) == ["recency_days"]  # no text column, no ids
    assert stored["fields"]["recency_days"]["min"] == X["recency_days"].min()
    back = ChurnModel.load(tmp_path)  # a saved model keeps its ranges
    assert back.input_ranges_.to_dict() == model.input_ranges_.to_dict()
