"""Segmenter: recovers true groups, predict/profile/names, stability, tracking, pyfunc."""

from __future__ import annotations

import matplotlib.figure
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

import crm_ml as cm
from crm_ml import DataValidationError
from crm_ml.segmentation import Segmenter, choose_transforms, segmentation_features

FEATS = ["purchase_rate", "monetary"]


@pytest.fixture(scope="module")
def data():
    from crm_ml.datasets import make_crm_dataset

    ds = make_crm_dataset(n_customers=1500, seed=3)
    X = segmentation_features(ds.transactions, ds.as_of)
    return ds, X


@pytest.fixture(scope="module")
def fitted(data):
    _, X = data
    return Segmenter(features=FEATS, k_range=(2, 6)).fit(X)


def test_recovers_true_groups(data, fitted):
    ds, X = data
    truth = ds.truth.loc[X.index, "group"]
    assert fitted.n_segments_ == 4
    assert adjusted_rand_score(truth, fitted.labels_) >= 0.6


def test_gmm_with_fixed_k_recovers_groups(data):
    ds, X = data
    s = Segmenter(n_segments=4, method="gmm", features=FEATS).fit(X)
    assert adjusted_rand_score(ds.truth.loc[X.index, "group"], s.labels_) >= 0.6
    auto = Segmenter(method="gmm", features=FEATS, k_range=(2, 4)).fit(X)
    assert auto.n_segments_ == int(auto.k_scores_.loc[auto.k_scores_["bic"].idxmin(), "k"])


def test_profile_names_and_predict(data, fitted):
    _, X = data
    prof = fitted.profile()
    assert prof["size"].sum() == len(X)
    assert prof["revenue_share"].sum() == pytest.approx(1.0)
    # segment 0 has the highest mean value; names are unique and say what the segment is
    assert prof["total_spend_mean"].idxmax() == 0
    assert prof["name"].is_unique
    # words from thresholds on each segment's statistics (tests/test_segment_names.py)
    assert prof.loc[0, "name"] == "high value, frequent, large orders"
    assert set(prof["name"]) == {"high value, frequent, large orders",
                                 "mid value, rare, large orders", "mid value, frequent",
                                 "low value, rare, small orders"}
    pred = fitted.predict(X)
    assert (pred == fitted.labels_).all()
    names = fitted.predict_names(X.head(3))
    assert list(names.columns) == ["segment", "segment_name"]
    assert set(fitted.k_scores_["k"]) == set(range(2, 7))
    assert fitted.transforms_ == {"purchase_rate": "log", "monetary": "log"}


def test_stability_and_plots(data, fitted):
    _, X = data
    st = fitted.stability(X, n_boot=3)
    assert st["ari_min"] >= 0.8 and len(st["ari"]) == 3
    for fig in (fitted.plot_projection(), fitted.plot_k_scores()):
        assert isinstance(fig, matplotlib.figure.Figure)


def test_reproducible(data):
    _, X = data
    a = Segmenter(n_segments=3, features=FEATS).fit(X).labels_
    b = Segmenter(n_segments=3, features=FEATS).fit(X).labels_
    pd.testing.assert_series_equal(a, b)


def test_skew_aware_scaling_rule():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"spend": rng.lognormal(3, 1.5, 2000), "net": rng.lognormal(3, 1.5, 2000)
                      - 30, "tenure": rng.uniform(0, 900, 2000)})
    assert choose_transforms(X) == {"spend": "log", "net": "quantile", "tenure": "standard"}


def test_bad_input():
    with pytest.raises(DataValidationError, match="finite"):
        Segmenter(n_segments=2).fit(pd.DataFrame({"a": [1.0, np.nan, 3.0]}))
    with pytest.raises(DataValidationError, match="lacks"):
        Segmenter(features=["nope"]).fit(pd.DataFrame({"a": [1.0, 2.0]}))
    with pytest.raises(cm.NotFittedError):
        Segmenter().predict(pd.DataFrame({"a": [1.0]}))


def test_identical_customers_give_a_clear_error():
    X = pd.DataFrame({"a": np.ones(30), "b": np.full(30, 2.0)},
                     index=pd.Index([f"c{i}" for i in range(30)], name="customer_id"))
    with pytest.raises(DataValidationError, match="distinct") as e:
        Segmenter(n_segments=2).fit(X)
    assert e.value.column == "n_segments"
    with pytest.raises(DataValidationError, match="distinct"):
        Segmenter().fit(X)


def test_n_segments_must_be_below_number_of_customers(data):
    _, X = data
    for k in (20, 10):
        with pytest.raises(DataValidationError, match="below the number of customers") as e:
            Segmenter(n_segments=k).fit(X.head(10))
        assert e.value.column == "n_segments"
    assert Segmenter(n_segments=9).fit(X.head(10)).n_segments_ == 9


def test_fewer_distinct_points_than_segments():
    X = pd.DataFrame({"const": 7.0, "a": [1.0, 2, 3] * 10, "b": [5.0, 1, 9] * 10},
                     index=pd.Index([f"c{i}" for i in range(30)], name="customer_id"))
    with pytest.raises(DataValidationError, match="3 distinct customers"):
        Segmenter(n_segments=6).fit(X)
    # "auto" caps the k range at the number of distinct customers: no empty segments
    s = Segmenter(k_range=(2, 6)).fit(X)
    assert s.n_segments_ <= 3 and (s.profile()["size"] > 0).all()
    assert not any("const" in n for n in s.names_.values())


def test_names_use_the_right_columns_and_ignore_constant_features(data):
    _, X = data
    # const is scaled "standard" and monetary "log": the scaled columns come out reordered
    s = Segmenter(n_segments=2, features=["const", "monetary"]).fit(
        X.assign(const=1.0))
    prof = s.profile()
    assert s.transforms_ == {"const": "standard", "monetary": "log"}
    assert not any("const" in n for n in prof["name"])
    hi = prof["monetary_mean"].idxmax()
    assert prof.loc[hi, "name"] == "high value, large orders"
    assert "const" not in set(s.name_rules_["column"])
    assert s.centres_.loc[hi, "monetary"] > 0 and (s.centres_["const"] == 0).all()
    # identical statistics are numbered, not "disambiguated" by an arbitrary column
    from crm_ml.segmentation.naming import naming_rules, segment_statistics

    D = pd.DataFrame({"x": [1.0, 2.0, 3.0, 1.0, 2.0, 3.0]})
    rules = naming_rules(D, ["x"])
    stats = segment_statistics(D, [0, 0, 0, 1, 1, 1], rules)
    assert cm.segmentation.segment_names(stats, rules) == {0: "average", 1: "average #2"}


def test_value_column_is_validated(data):
    _, X = data
    with pytest.raises(DataValidationError, match="total_spnd") as e:
        Segmenter(n_segments=3, features=FEATS, value_column="total_spnd").fit(X)
    assert e.value.column == "total_spnd"
    Xn = X.copy()
    Xn.loc[X.index[3], "total_spend"] = np.nan
    with pytest.raises(DataValidationError, match="finite") as e:
        Segmenter(n_segments=3, features=FEATS).fit(Xn)
    assert e.value.column == "total_spend" and e.value.rows == [X.index[3]]


def test_negative_values_of_a_log_scaled_feature(data, fitted):
    _, X = data
    assert fitted.transforms_["monetary"] == "log"
    neg = fitted.predict(X.head(20).assign(monetary=-5.0))
    pd.testing.assert_series_equal(neg, fitted.predict(X.head(20).assign(monetary=0.0)))


def test_pyfunc_rejects_missing_values_like_predict(fitted, tmp_path):
    from types import SimpleNamespace

    from crm_ml.segmentation.pyfunc import SegmentsModel

    paths = fitted.save(tmp_path)
    model = SegmentsModel()
    model.load_context(SimpleNamespace(artifacts={k: str(v) for k, v in paths.items()}))
    X = fitted.synthetic_example()
    X["monetary"] = X["monetary"].astype(object)
    X.iloc[1, X.columns.get_loc("monetary")] = None
    for f in (fitted.predict, lambda x: model.predict(None, x)):
        with pytest.raises(DataValidationError, match="finite") as e:
            f(X)
        assert e.value.column == "monetary" and e.value.rows == [X.index[1]]
    ok = fitted.synthetic_example().assign(monetary=-5.0)
    assert (model.predict(None, ok)["segment"] == fitted.predict(ok)).all()


def test_parameter_validation(data):
    _, X = data
    s = Segmenter(n_segments=2, features="monetary").fit(X)
    assert s.features_ == ["monetary"]
    with pytest.raises(DataValidationError, match="scaling") as e:
        Segmenter(n_segments=2, scaling="bogus").fit(X)
    assert e.value.column == "scaling"
    with pytest.raises(DataValidationError, match="k_range") as e:
        Segmenter(k_range=(5, 2)).fit(X)
    assert e.value.column == "k_range"


def test_tracking_logs_aggregates_and_registers_pyfunc(data, fitted, tmp_path, monkeypatch):
    import mlflow

    from crm_ml.model_names import SEGMENTS
    from crm_ml.tracking import find_in_run_artifacts

    monkeypatch.chdir(tmp_path)
    _, X = data
    s = Segmenter(n_segments=4, features=FEATS).fit(X)
    before = dict(vars(s))
    res = cm.segmentation.log_model(s, registered_name=f"{SEGMENTS}-test")
    assert vars(s).keys() == before.keys()  # the model is not modified
    run = mlflow.get_run(res.run_id)
    assert run.data.metrics["k"] == 4
    assert "silhouette" in run.data.metrics and "segment_0_size" in run.data.metrics
    assert run.data.params["n_segments"] == "4" and run.data.params["n_customers"] == str(len(X))
    assert not find_in_run_artifacts(res.run_id, list(X.index[:20]))
    assert res.registered_version is not None
    model = mlflow.pyfunc.load_model(res.model_uri)
    out = model.predict(X.head(50))
    assert list(out.columns) == ["segment", "segment_name"]
    assert (out["segment"].to_numpy() == s.predict(X.head(50)).to_numpy()).all()
    assert out["segment_name"].iloc[0] == s.names_[int(out["segment"].iloc[0])]
    neg = X.head(5).assign(monetary=-5.0)  # returns exceeding purchases
    assert (model.predict(neg)["segment"].to_numpy() == s.predict(neg).to_numpy()).all()
    with pytest.raises(DataValidationError, match="finite") as e:
        model.predict(X.head(5).assign(monetary=[1.0, np.nan, 2.0, 3.0, 4.0]))
    assert e.value.column == "monetary" and e.value.rows == [X.index[1]]


def test_log_model_without_model_or_tracking(fitted, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    cm.tracking.configure(enabled=False)
    try:
        assert cm.segmentation.log_model(fitted) == cm.tracking.ModelLogResult(None, None, None)
    finally:
        cm.tracking.configure(enabled=True)
    res = cm.segmentation.log_model(fitted, include_model=False)
    assert res.model_uri is None and res.run_id is not None
    with pytest.raises(cm.NotFittedError):
        cm.segmentation.log_model(Segmenter())


def test_k_search_and_stability_refits_are_not_logged(data, monkeypatch):
    _, X = data
    seen = []
    original = Segmenter._cluster_model

    def spy(self, k, n_rows):
        seen.append(cm.tracking.fit_is_logged())
        return original(self, k, n_rows)

    monkeypatch.setattr(Segmenter, "_cluster_model", spy)
    cm.tracking.autolog()
    try:
        s = Segmenter(features=FEATS, k_range=(2, 3)).fit(X)
        s.stability(X, n_boot=2)
    finally:
        cm.tracking.autolog(disable=True)
    # k search (2 fits) paused; the final fit is the user's; the 2 refits paused
    assert seen == [False, False, True, False, False]


def test_score_is_the_silhouette_on_a_sample(data, fitted):
    from sklearn.metrics import silhouette_score

    _, X = data
    assert fitted.score(X) == pytest.approx(fitted.silhouette_)
    head = X.head(300)
    Z = fitted.pipeline_.named_steps["preprocess"].transform(head[FEATS])
    assert fitted.score(head) == pytest.approx(silhouette_score(Z, fitted.predict(head)))
    one = X.loc[fitted.labels_[fitted.labels_ == 0].index[:10]]
    assert np.isnan(fitted.score(one))  # one segment: the silhouette is undefined


def test_save_load_round_trip(data, fitted, tmp_path):
    _, X = data
    fitted.save(tmp_path)
    loaded = Segmenter.load(tmp_path)
    assert loaded.get_params() == fitted.get_params()
    pd.testing.assert_series_equal(loaded.predict(X), fitted.predict(X))
    pd.testing.assert_frame_equal(loaded.profile(), fitted.profile())
    pd.testing.assert_frame_equal(loaded.k_scores_, fitted.k_scores_)
    assert loaded.names_ == fitted.names_ and loaded.score(X) == fitted.score(X)
    assert not hasattr(loaded, "labels_")  # no customer ids in model files
    assert not any(str(i) in (tmp_path / "spec.json").read_text() for i in X.index[:50])
    loaded.plot_k_scores()
    with pytest.raises(cm.CrmMlError, match="plot_projection"):
        loaded.plot_projection()


def test_load_accepts_old_specs_with_track(data, fitted, tmp_path):
    import json

    _, X = data
    fitted.save(tmp_path)
    spec = json.loads((tmp_path / "spec.json").read_text())
    old = {k: spec[k] for k in ("features", "label_map", "names", "method", "n_segments")}
    (tmp_path / "spec.json").write_text(json.dumps({**old, "track": False}))
    loaded = Segmenter.load(tmp_path)
    pd.testing.assert_series_equal(loaded.predict(X), fitted.predict(X))
    assert list(loaded.profile()["name"]) == [fitted.names_[i] for i in range(len(fitted.names_))]
    (tmp_path / "spec.json").write_text(json.dumps({**spec, "params": {**spec["params"],
                                                                       "track": True}}))
    assert "track" not in Segmenter.load(tmp_path).get_params()
    (tmp_path / "spec.json").write_text("{")
    with pytest.raises(cm.ModelFilesError):
        Segmenter.load(tmp_path)


def test_arrays_are_accepted_and_checked_like_scikit_learn(data):
    _, X = data
    A = X[FEATS].to_numpy()
    s = Segmenter(n_segments=4).fit(A)
    assert s.n_features_in_ == 2 and not hasattr(s, "feature_names_in_")
    assert s.features_ == ["x0", "x1"]
    np.testing.assert_array_equal(s.predict(A).to_numpy(), s.labels_.to_numpy())
    with pytest.raises(DataValidationError, match="X has 3 features, but Segmenter is "
                                                  "expecting 2 features"):
        s.predict(np.ones((4, 3)))
    with pytest.raises(DataValidationError, match="Reshape your data"):
        s.predict(A[:, 0])
    framed = Segmenter(n_segments=4, features=FEATS).fit(X)
    assert framed.n_features_in_ == X.shape[1]
    assert list(framed.feature_names_in_) == list(X.columns)
    with pytest.warns(UserWarning, match="valid feature names"):
        framed.predict(X.to_numpy())
    with pytest.raises(DataValidationError, match="n_samples=1"):
        Segmenter(n_segments=2).fit(A[:1])


def test_model_card(data, fitted):
    from crm_ml.segmentation.card import build_card

    assert build_card is cm.segmentation.model_card  # the old name stays
    _, X = data
    fitted.stability(X, n_boot=2)
    card = cm.segmentation.model_card(fitted, holdout_silhouette=0.5, baseline_silhouette=0.4, truth_ari=0.7)
    assert card.grade == "A"
    md = card.to_markdown()
    assert "high value, frequent" in md and "bootstrap_stability_ari_mean" in md
