"""Churn labels, model behaviour, calibration, policies, persistence and MLflow round trip."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

import crm_ml as cm
from crm_ml.churn import ChurnModel, make_labels
from crm_ml.errors import DataValidationError, NotFittedError


@pytest.fixture(scope="module")
def churn_data():
    from crm_ml.datasets import make_crm_dataset

    # without the built-in campaigns: the main one falls in the test horizon and lowers its
    # churn by about 3 points, which a model fitted before it cannot know (the calibration
    # check below is about a stable world)
    ds = make_crm_dataset(n_customers=1000, seed=3, campaigns=False)
    t1 = ds.as_of - pd.Timedelta(days=180)
    t2 = ds.as_of - pd.Timedelta(days=90)
    X = cm.features.build(ds.transactions, t1, ds.interactions, ds.customers)
    y = make_labels(ds.transactions, t1, 90).reindex(X.index)
    Xt = cm.features.build(ds.transactions, t2, ds.interactions, ds.customers)
    yt = make_labels(ds.transactions, t2, 90).reindex(Xt.index)
    return ds, t1, X, y, Xt, yt


@pytest.fixture(scope="module")
def lgb_model(churn_data):
    _, _, X, y, _, _ = churn_data
    return ChurnModel().fit(X, y)


def test_labels_hand_made():
    tx = pd.DataFrame({
        "customer_id": ["a", "a", "b", "c", "c", "d", "e", "e"],
        "timestamp": pd.to_datetime(["2024-01-05", "2024-02-15", "2024-01-10", "2024-01-20",
                                     "2024-04-30", "2024-02-05", "2024-01-02", "2024-05-01"]),
        "amount": [10, 20, 5, 7, 8, 9, 3, -3],
    })
    # as_of 2024-01-31, horizon 90 days: Feb 1 .. Apr 30 inclusive
    y = make_labels(tx, "2024-01-31", 90)
    # a returns in Feb; b never; c on the last horizon day; d first bought after as_of;
    # e only returns an item (not a purchase)
    assert y.to_dict() == {"a": 0, "b": 1, "c": 0, "e": 1}
    assert y.name == "churned"


def test_labels_refuse_rows_that_could_decide_a_label_either_way():
    tx = pd.DataFrame({"customer_id": ["a", "a", "b", "b"],
                       "timestamp": pd.to_datetime(["2024-01-05", "2024-02-15", "2024-01-10",
                                                    "2024-09-01"]),
                       "amount": [10.0, np.nan, 5.0, np.nan]})
    # a's only purchase in the window has no amount: churned or not is unknowable
    with pytest.raises(DataValidationError, match="amount is missing in 1 row") as err:
        make_labels(tx, "2024-01-31", 90)
    assert err.value.rows == [1]
    # after the window it does not matter
    assert make_labels(tx.drop(index=1), "2024-01-31", 90).to_dict() == {"a": 1, "b": 1}
    undated = tx.drop(index=1).assign(timestamp=lambda d: d["timestamp"].where(d.index != 2))
    with pytest.raises(DataValidationError, match="timestamp is missing"):
        make_labels(undated, "2024-01-31", 90)
    with pytest.raises(DataValidationError, match="'timestamp' has missing values"):
        cm.features.build(undated, "2024-01-31")


def test_labels_warn_when_data_stop_early():
    tx = pd.DataFrame({"customer_id": ["a", "a"], "amount": [1.0, 2.0],
                       "timestamp": pd.to_datetime(["2024-01-01", "2024-02-01"])})
    with pytest.warns(UserWarning, match="data end"):
        make_labels(tx, "2024-01-31", 90)


def test_leakage_purchase_after_as_of_changes_nothing(churn_data, lgb_model):
    ds, t1, X, _, _, _ = churn_data
    who = X.index[:3]
    late = pd.DataFrame({"customer_id": who, "amount": 999.0, "order_id": "late",
                         "timestamp": t1 + pd.Timedelta(days=1)})
    tx2 = pd.concat([ds.transactions, late], ignore_index=True)
    X2 = cm.features.build(tx2, t1, ds.interactions, ds.customers)
    pd.testing.assert_frame_equal(X, X2)
    pd.testing.assert_series_equal(lgb_model.predict_proba(X), lgb_model.predict_proba(X2))


def test_predict_proba_contract(churn_data, lgb_model):
    _, _, _, _, Xt, yt = churn_data
    p = lgb_model.predict_proba(Xt)
    assert p.name == "churn_probability" and p.index.equals(Xt.index)
    assert p.between(0, 1).all()
    ev = lgb_model.evaluate(Xt, yt)
    assert ev["roc_auc"] > 0.8  # the synthetic data carry a strong signal
    for k in ("pr_auc", "brier", "log_loss", "lift_top_decile", "capture_top_decile"):
        assert np.isfinite(ev[k])
    assert ev["deciles"]["customers"].sum() == len(Xt)
    assert ev["deciles"]["cumulative_capture"].iloc[-1] == pytest.approx(1.0)
    assert ev["lift_top_decile"] > 1
    assert set(ev["figures"]) == {"roc", "pr", "calibration", "gains"}
    # calibrated: predicted and observed churn rate agree overall within a few points
    assert abs(p.mean() - yt.mean()) < 0.08


def test_unreadable_numbers_and_wholly_missing_features_are_warned(churn_data, lgb_model):
    _, _, _, _, Xt, _ = churn_data
    spelled = Xt.assign(total_spend=Xt["total_spend"].map("{:,.2f}".format).astype(object),
                        mean_gap_days=np.nan)
    with pytest.warns(UserWarning) as record:
        lgb_model.predict_proba(spelled)
    messages = " | ".join(str(w.message) for w in record)
    assert "'total_spend'" in messages and "not numbers" in messages
    assert "['mean_gap_days'] are missing for all" in messages
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a few customers with a gap unknown are normal
        lgb_model.predict_proba(Xt.head(5).assign(mean_gap_days=np.nan))


@pytest.mark.parametrize("algorithm", ["lightgbm", "random_forest"])
def test_calibration_improves_brier_on_held_out(algorithm):
    from sklearn.metrics import brier_score_loss

    rng = np.random.default_rng(1)
    n = 4000
    Z = pd.DataFrame(rng.normal(size=(n, 4)), columns=list("abcd"),
                     index=pd.Index([f"c{i}" for i in range(n)], name="customer_id"))
    logit = -2.6 + 1.2 * Z["a"] - 0.8 * Z["b"] + 0.5 * Z["c"] * Z["d"]
    y = pd.Series((rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int), index=Z.index)
    tr, te = Z.index[:2500], Z.index[2500:]
    # balanced class weights inflate raw probabilities (~11 % churners); calibration on
    # held-out folds must bring them back
    kw = {"class_weight": "balanced",
          "n_estimators": 100 if algorithm == "random_forest" else None}
    raw = ChurnModel(algorithm, calibrate=False, **kw).fit(Z.loc[tr], y.loc[tr])
    cal = ChurnModel(algorithm, calibrate=True, **kw).fit(Z.loc[tr], y.loc[tr])
    b_raw = brier_score_loss(y.loc[te], raw.predict_proba(Z.loc[te]))
    b_cal = brier_score_loss(y.loc[te], cal.predict_proba(Z.loc[te]))
    assert b_cal < b_raw - 0.01
    assert abs(cal.predict_proba(Z.loc[te]).mean() - y.loc[te].mean()) < 0.03


def test_same_seed_same_probabilities(churn_data):
    _, _, X, y, Xt, _ = churn_data
    for alg, trees in (("lightgbm", None), ("random_forest", 60)):
        kw = {"random_state": 7, "n_estimators": trees, "cv": 3}
        a = ChurnModel(alg, **kw).fit(X, y).predict_proba(Xt)
        b = ChurnModel(alg, **kw).fit(X, y).predict_proba(Xt)
        pd.testing.assert_series_equal(a, b)


def test_duplicate_customers_and_bad_arguments_are_clear_errors(churn_data, lgb_model):
    _, _, X, y, Xt, _ = churn_data
    with pytest.raises(DataValidationError, match="X: 1 customer id"):
        ChurnModel().fit(pd.concat([X, X.iloc[:1]]), y)
    with pytest.raises(DataValidationError, match="y: 1 customer id"):
        ChurnModel().fit(X, pd.concat([y, y.iloc[:1]]))
    for top_k in (0, -1, 2.5):
        with pytest.raises(DataValidationError, match="top_k"):
            lgb_model.explain(Xt.head(3), top_k=top_k)
    with pytest.raises(DataValidationError, match="no customers to explain"):
        lgb_model.explain(Xt.iloc[:0])
    with pytest.raises(DataValidationError, match="threshold"):
        lgb_model.predict(Xt.head(3), threshold=2)


def test_few_churners_are_warned_about(churn_data):
    _, _, X, y, _, _ = churn_data
    small = pd.concat([X[y == 1].head(12), X[y == 0].head(100)])
    with pytest.warns(UserWarning, match="only 12 customers in the smaller class"):
        ChurnModel(cv=3).fit(small, y.loc[small.index])


def test_single_class_y_is_a_clear_error(churn_data):
    _, _, X, _, _, _ = churn_data
    with pytest.raises(DataValidationError, match="only one class"):
        ChurnModel().fit(X, pd.Series(1, index=X.index))


def test_bad_labels_are_named(churn_data):
    _, _, X, y, _, _ = churn_data
    with pytest.raises(DataValidationError, match="0/1"):
        ChurnModel().fit(X, y.replace(1, 2))
    with pytest.raises(DataValidationError, match="no label"):
        ChurnModel().fit(X, y.iloc[:-3])
    with pytest.raises(NotFittedError):
        ChurnModel().predict_proba(X)


@pytest.mark.parametrize("algorithm", ["lightgbm", "random_forest"])
def test_any_customer_table_and_unseen_categories(algorithm):
    rng = np.random.default_rng(0)
    n = 600
    plan = rng.choice(["basic", "pro", "team"], n)
    tab = pd.DataFrame({
        "customer_id": [f"u{i}" for i in range(n)],
        "plan": plan,  # object column
        "seats": np.where(rng.random(n) < 0.1, np.nan, rng.integers(1, 50, n)),
        "active": rng.random(n) < 0.5,
        "signed_up": pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 365, n), "D"),
        "note": [f"free text {i}" for i in range(n)],  # identifier-like: dropped
    })
    logit = -1 + 2.0 * (plan == "basic") - 0.03 * np.nan_to_num(tab["seats"], nan=10)
    y = pd.Series((rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int),
                  index=tab["customer_id"])
    m = ChurnModel(algorithm, n_estimators=50 if algorithm == "random_forest"
                   else None).fit(tab, y)
    assert "note" in m.preprocessor_.dropped_
    new = tab.iloc[[0, 0, 0, 0]].copy()
    new["customer_id"] = ["n1", "n2", "n3", "n4"]
    new["plan"] = ["enterprise", None, "basic", "pro"]  # unseen level and missing
    p = m.predict_proba(new)
    assert p.notna().all() and list(p.index) == list(new["customer_id"])
    # documented: an unseen level is treated exactly like a missing value when training had
    # no rare ("__other__") level
    assert p.iloc[0] == pytest.approx(p.iloc[1])
    with pytest.raises(DataValidationError, match="seats"):
        m.predict_proba(new.drop(columns="seats"))


def test_predict_thresholds(churn_data, lgb_model):
    _, _, _, _, Xt, _ = churn_data
    p = lgb_model.predict_proba(Xt)
    flag = lgb_model.predict(Xt, benefit=200, cost=20, success_rate=0.25)
    assert flag.attrs["threshold"] == pytest.approx(0.4)
    assert (flag == (p >= 0.4)).all()
    top = lgb_model.predict(Xt, contact_rate=0.1)
    assert top.sum() == int(0.1 * len(Xt))
    assert p[top == 1].min() >= p[top == 0].max()
    assert lgb_model.predict(Xt, threshold=0.9).sum() == (p >= 0.9).sum()
    with pytest.raises(DataValidationError, match="success_rate"):
        lgb_model.predict(Xt, benefit=10, cost=1, success_rate=1.5)


def test_save_load_round_trip(tmp_path, churn_data):
    _, _, X, y, Xt, _ = churn_data
    for alg in ("lightgbm", "random_forest"):
        m = ChurnModel(alg, cv=2,
                       n_estimators=30 if alg == "random_forest" else None)
        m.fit(X, y)
        m.save(tmp_path / alg)
        back = ChurnModel.load(tmp_path / alg)
        np.testing.assert_allclose(back.predict_proba(Xt), m.predict_proba(Xt), atol=1e-12)


def test_backtest_walks_forward(small_dataset):
    ds = small_dataset
    t = ds.as_of - pd.Timedelta(days=200)
    res = cm.churn.backtest(ds.transactions, [t], horizon_days=90, n_estimators=50)
    assert list(res["test_as_of"]) == [t + pd.Timedelta(days=90)]
    assert 0.5 < res["roc_auc"].iloc[0] <= 1
    with pytest.raises(DataValidationError, match="needs data up to"):
        cm.churn.backtest(ds.transactions, [ds.as_of - pd.Timedelta(days=100)])


def test_pyfunc_round_trip_in_fresh_process(tmp_path, churn_data):
    import mlflow

    from crm_ml.tracking import find_in_run_artifacts

    _, _, X, y, Xt, _ = churn_data
    m = ChurnModel(cv=3).fit(X, y)
    before = pickle.dumps(m)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logged = cm.churn.log_model(m, registered_name="crm-churn-test")
    assert logged.run_id and logged.model_uri and logged.registered_version
    assert pickle.dumps(m) == before  # logging does not modify the model
    run = mlflow.get_run(logged.run_id)
    assert "cv_roc_auc" in run.data.metrics and run.data.params["algorithm"] == "lightgbm"
    client = mlflow.MlflowClient()
    arts = {a.path for folder in ("", "tables", "plots")
            for a in client.list_artifacts(logged.run_id, folder or None)}
    assert {"features.json", "tables/cv_deciles.csv", "tables/cv_calibration.csv",
            "plots/cv_roc.png"} <= arts, arts
    # no customer id in any logged artifact
    assert find_in_run_artifacts(logged.run_id, list(X.index[:20])) == []
    sample = Xt.head(25).reset_index()
    # MLflow schemas have no categorical type: categorical columns travel as strings
    cats = sample.select_dtypes("category").columns
    sample[cats] = sample[cats].astype(object).where(sample[cats].notna(), None)
    sample.to_parquet(tmp_path / "in.parquet")
    code = (
        "import sys, mlflow, pandas as pd\n"
        f"mlflow.set_tracking_uri({mlflow.get_tracking_uri()!r})\n"
        f"model = mlflow.pyfunc.load_model({logged.model_uri!r})\n"
        f"out = model.predict(pd.read_parquet({str(tmp_path / 'in.parquet')!r}))\n"
        f"out.to_json({str(tmp_path / 'out.json')!r}, orient='records')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    out = pd.DataFrame(json.loads((tmp_path / "out.json").read_text()))
    assert list(out.columns) == ["customer_id", "churn_probability"]
    np.testing.assert_allclose(out["churn_probability"],
                               m.predict_proba(Xt.head(25)).to_numpy(), atol=1e-9)


def test_encoding_one_customer_equals_encoding_the_whole_table():
    """Online scoring encodes a few rows on a fast path; it must match the batch path."""
    from crm_ml.churn.preprocess import TabularPreprocessor

    rng = np.random.default_rng(3)
    n = 400
    train = pd.DataFrame({
        "spend": rng.gamma(2, 50, n),
        "orders": rng.poisson(3, n),  # int
        "vip": rng.random(n) < 0.2,  # bool
        "plan": rng.choice(["basic", "pro", "team"] + [f"rare{i}" for i in range(40)], n,
                           p=[0.3, 0.3, 0.2] + [0.2 / 40] * 40),  # rare levels -> __other__
        "region": pd.Categorical(rng.choice(["N", "S", "E"], n)),
        "store": rng.choice([1.0, 2.0, 3.0], n).astype(object),  # numbers in an object column
    })
    pre = TabularPreprocessor(max_categories=3)
    pre.fit_transform(train)
    new = train.head(150).copy()
    new.loc[new.index[:5], "plan"] = ["unseen", None, "rare7", "pro", np.nan]
    new.loc[new.index[5:8], "region"] = np.nan
    new.loc[new.index[8:10], "spend"] = np.nan
    batch = pre.transform(new)  # > 100 rows: the pandas path
    one_by_one = pd.concat([pre.transform(new.iloc[[i]]) for i in range(len(new))])
    pd.testing.assert_frame_equal(one_by_one, batch)
    assert np.isnan(batch["plan"].iloc[[1, 4]]).all()  # missing
    # rare and unseen levels are one "__other__" level (rare levels are never stored)
    other = pre.categories_["plan"].index("__other__")
    assert batch["plan"].iloc[0] == batch["plan"].iloc[2] == other
