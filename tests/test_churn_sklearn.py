"""ChurnModel under issue #17: labels in every form, no tracking in fit, one-way imports."""

from __future__ import annotations

import ast
import json
import pathlib
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import crm_ml as cm
from crm_ml.churn import ChurnModel
from crm_ml.errors import DataValidationError


@pytest.fixture(scope="module")
def data():
    ds = cm.datasets.make_crm_dataset(n_customers=600, seed=5)
    as_of = ds.as_of - pd.Timedelta(days=90)
    X = cm.features.build(ds.transactions, as_of, ds.interactions, ds.customers)
    y = cm.churn.make_labels(ds.transactions, as_of, 90).reindex(X.index)
    return X, y


@pytest.fixture(scope="module")
def model(data):
    X, y = data
    return ChurnModel(cv=3).fit(X, y)


def test_a_list_of_labels_fits(data, model):
    # before issue #17: 'builtin_function_or_method' object has no attribute 'has_duplicates'
    X, y = data
    m = ChurnModel(cv=3).fit(X, y.tolist())
    pd.testing.assert_series_equal(m.predict_proba(X), model.predict_proba(X))


@pytest.mark.parametrize("form", [
    lambda y: y.to_frame(),                                    # one-column DataFrame
    lambda y: y.map({1: " YES ", 0: "no"}),                    # case and spaces ignored
    lambda y: y.map({1: "churned", 0: "retained"}),
    lambda y: y.astype(float),                                 # 0.0 / 1.0
    lambda y: y.map({1: "1", 0: "0"}),                         # digits as text
], ids=["frame", "YES-no", "churned-retained", "float", "text-digits"])
def test_more_label_forms_give_the_same_model(data, model, form):
    X, y = data
    pd.testing.assert_series_equal(ChurnModel(cv=3).fit(X, form(y)).predict_proba(X),
                                   model.predict_proba(X))


def test_a_column_vector_warns_and_fits(data, model):
    from sklearn.exceptions import DataConversionWarning

    X, y = data
    with pytest.warns(DataConversionWarning, match="column-vector"):
        m = ChurnModel(cv=3).fit(X, y.to_numpy().reshape(-1, 1))
    pd.testing.assert_series_equal(m.predict_proba(X), model.predict_proba(X))


def test_classes_are_the_labels_as_given_and_predict_stays_0_1(data):
    X, y = data
    m = ChurnModel(cv=3).fit(X, y.map({1: "yes", 0: "no"}))
    assert m.classes_.tolist() == ["no", "yes"] and m.pos_label_ == "yes"
    flags = m.predict(X)
    assert flags.name == "churn_flag" and set(flags.unique()) <= {0, 1}
    # score and evaluate read the model's own labels, or 0/1
    assert m.score(X, y.map({1: "yes", 0: "no"})) == pytest.approx(m.score(X, y))
    assert m.evaluate(X, y.map({1: "yes", 0: "no"}), plots=False)["roc_auc"] == \
        pytest.approx(m.score(X, y))


@pytest.mark.parametrize("labels, match", [
    (lambda y: y.map({1: "gold", 0: "silver"}), "pass pos_label="),
    (lambda y: y.map({1: "yes", 0: "churn"}), "pass pos_label="),       # both read as churn
    (lambda y: y.replace(1, 2), "pass pos_label="),                     # numbers without 1
    (lambda y: y.where(y.index != y.index[0], 7), "Only binary"),        # three classes
    (lambda y: y + np.linspace(0, 0.5, len(y)), "continuous"),
    (lambda y: y.iloc[:-1].to_numpy(), "labels for"),                   # array too short
    (lambda y: y.astype(object).where(y.index != y.index[3], None), "missing"),
], ids=["no-churn-word", "two-churn-words", "0-2", "three", "continuous", "short", "null"])
def test_bad_labels_are_typed_errors(data, labels, match):
    X, y = data
    with pytest.raises(DataValidationError, match=match):
        ChurnModel(cv=3).fit(X, labels(y))


def test_pos_label_must_be_one_of_the_labels(data):
    X, y = data
    with pytest.raises(DataValidationError, match="pos_label: 'churn' is not one of"):
        ChurnModel(cv=3).fit(X, y, pos_label="churn")


def test_decision_function_is_the_log_odds_of_predict_proba(data, model):
    X, _ = data
    p = model.predict_proba(X).to_numpy()
    d = model.decision_function(X)
    assert isinstance(d, np.ndarray) and d.shape == (len(X),)
    np.testing.assert_allclose(1 / (1 + np.exp(-d)), p, rtol=1e-9)


def test_roc_auc_scoring_is_right_when_the_churn_label_sorts_first(data):
    # scikit-learn's roc_auc_score takes the larger label as positive: "stay" > "churn"
    from sklearn.model_selection import cross_val_score

    X, y = data
    words = y.map({1: "churn", 0: "stay"})
    m = ChurnModel(cv=3).fit(X, words)
    assert m.classes_.tolist() == ["churn", "stay"] and m.pos_label_ == "churn"
    np.testing.assert_allclose(m.decision_function(X), -ChurnModel(cv=3).fit(X, y)
                               .decision_function(X), rtol=1e-12)
    by_words = cross_val_score(ChurnModel(cv=3), X, words, scoring="roc_auc", cv=3)
    by_numbers = cross_val_score(ChurnModel(cv=3), X, y, scoring="roc_auc", cv=3)
    np.testing.assert_allclose(by_words, by_numbers)
    assert (by_words > 0.6).all()


def test_a_plain_array_fits_and_a_wrong_width_is_refused(data):
    X, y = data
    num = X.select_dtypes("number").to_numpy()
    m = ChurnModel(cv=3).fit(num, y.to_numpy())
    assert len(m.predict_proba(num)) == len(num)
    with pytest.raises(DataValidationError, match="expecting"):
        m.predict_proba(num[:, :-1])


def test_save_load_keeps_labels_and_old_files_with_track_load(tmp_path, data):
    X, y = data
    m = ChurnModel(cv=3).fit(X, y.map({1: "left", 0: "active"}))
    m.save(tmp_path)
    back = ChurnModel.load(tmp_path)
    assert back.classes_.tolist() == ["active", "left"] and back.pos_label_ == "left"
    spec = json.loads((tmp_path / "spec.json").read_text())
    spec["params"]["track"] = None  # what files saved before issue #17 hold
    spec.pop("classes")
    spec.pop("pos_label")
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    old = ChurnModel.load(tmp_path)
    assert old.classes_.tolist() == [0, 1] and old.pos_label_ == 1
    np.testing.assert_allclose(old.predict_proba(X), m.predict_proba(X), atol=1e-12)


def test_log_model_without_the_model_and_with_tracking_off(data, model):
    import mlflow

    logged = cm.churn.log_model(model, include_model=False)
    assert logged.model_uri is None and logged.run_id
    run = mlflow.get_run(logged.run_id)
    assert run.data.params["n_rows"] == str(len(data[0]))
    assert "cv_roc_auc" in run.data.metrics
    cm.tracking.configure(enabled=False)
    try:
        off = cm.churn.log_model(model)
    finally:
        cm.tracking.configure(enabled=True)
    assert off == cm.tracking.ModelLogResult(None, None, None)


def test_the_card_names_the_logged_run(data, model):
    X, y = data
    logged = cm.tracking.ModelLogResult("models:/m-1", "3", "abc")
    card = cm.churn.model_card(model, X, y, logged=logged, n_boot=10)
    assert card.model_details["mlflow_run_id"] == "abc"
    assert card.model_details["registered_version"] == "3"
    assert cm.churn.churn_card is cm.churn.model_card


def test_backtest_fits_are_not_logged(small_dataset):
    import mlflow

    client = mlflow.MlflowClient(cm.tracking.tracking_uri())
    ids = lambda: {r.info.run_id for r in client.search_runs(  # noqa: E731
        [e.experiment_id for e in client.search_experiments()], max_results=10_000)}
    before = ids()
    cm.tracking.autolog()
    try:
        cm.churn.backtest(small_dataset.transactions,
                          [small_dataset.as_of - pd.Timedelta(days=200)], horizon_days=90,
                          n_estimators=20, cv=2)
    finally:
        cm.tracking.autolog(disable=True)
    assert ids() == before


def test_model_does_not_import_pyfunc_or_mlflow():
    code = ("import sys, crm_ml.churn.model, crm_ml.explain\n"
            "print('crm_ml.churn.pyfunc' in sys.modules, 'mlflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120).stdout.split()
    assert out == ["False", "False"]


def test_the_model_never_imports_its_pyfunc_wrapper():
    # one way: crm_ml.churn.pyfunc imports the model (before issue #17 each imported the other)
    source = pathlib.Path(sys.modules[ChurnModel.__module__].__file__).read_text()
    imported = {node.module for node in ast.walk(ast.parse(source))
                if isinstance(node, ast.ImportFrom)}
    assert "crm_ml.churn.pyfunc" not in imported


def test_explain_imports_no_private_churn_name():
    root = pathlib.Path(cm.explain.__file__).parent
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("crm_ml."):
                package = node.module.split(".")[1]
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert package == "explain" or not private, (path.name, node.module, private)
                assert package != "churn", (path.name, node.module)
