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
    return Segmenter(features=FEATS, k_range=(2, 6), track=False).fit(X)


def test_recovers_true_groups(data, fitted):
    ds, X = data
    truth = ds.truth.loc[X.index, "group"]
    assert fitted.n_segments_ == 4
    assert adjusted_rand_score(truth, fitted.labels_) >= 0.6


def test_gmm_with_fixed_k_recovers_groups(data):
    ds, X = data
    s = Segmenter(n_segments=4, method="gmm", features=FEATS, track=False).fit(X)
    assert adjusted_rand_score(ds.truth.loc[X.index, "group"], s.labels_) >= 0.6
    auto = Segmenter(method="gmm", features=FEATS, k_range=(2, 4), track=False).fit(X)
    assert auto.n_segments_ == int(auto.k_scores_.loc[auto.k_scores_["bic"].idxmin(), "k"])


def test_profile_names_and_predict(data, fitted):
    _, X = data
    prof = fitted.profile()
    assert prof["size"].sum() == len(X)
    assert prof["revenue_share"].sum() == pytest.approx(1.0)
    # segment 0 has the highest mean value; names are unique and say what the segment is
    assert prof["total_spend_mean"].idxmax() == 0
    assert prof["name"].is_unique
    assert prof.loc[0, "name"] == "high value, frequent"
    assert set(prof["name"]) == {"high value, frequent", "high value, rare",
                                 "low value, frequent", "low value, rare"}
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
    a = Segmenter(n_segments=3, features=FEATS, track=False).fit(X).labels_
    b = Segmenter(n_segments=3, features=FEATS, track=False).fit(X).labels_
    pd.testing.assert_series_equal(a, b)


def test_skew_aware_scaling_rule():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"spend": rng.lognormal(3, 1.5, 2000), "net": rng.lognormal(3, 1.5, 2000)
                      - 30, "tenure": rng.uniform(0, 900, 2000)})
    assert choose_transforms(X) == {"spend": "log", "net": "quantile", "tenure": "standard"}


def test_bad_input():
    with pytest.raises(DataValidationError, match="finite"):
        Segmenter(n_segments=2, track=False).fit(pd.DataFrame({"a": [1.0, np.nan, 3.0]}))
    with pytest.raises(DataValidationError, match="lacks"):
        Segmenter(features=["nope"], track=False).fit(pd.DataFrame({"a": [1.0, 2.0]}))
    with pytest.raises(cm.NotFittedError):
        Segmenter().predict(pd.DataFrame({"a": [1.0]}))


def test_identical_customers_do_not_crash():
    X = pd.DataFrame({"a": np.ones(30), "b": np.full(30, 2.0)},
                     index=pd.Index([f"c{i}" for i in range(30)], name="customer_id"))
    s = Segmenter(n_segments=2, track=False).fit(X)
    assert len(s.labels_) == 30 and s.profile()["size"].sum() == 30


def test_tracking_logs_aggregates_and_registers_pyfunc(data, fitted, tmp_path, monkeypatch):
    import mlflow

    from crm_ml.tracking import find_in_run_artifacts, start_run

    monkeypatch.chdir(tmp_path)
    _, X = data
    s = Segmenter(n_segments=4, features=FEATS, track=True).fit(X)
    run = mlflow.get_run(s.run_id_)
    assert run.data.metrics["k"] == 4
    assert "silhouette" in run.data.metrics and "segment_0_size" in run.data.metrics
    assert not find_in_run_artifacts(s.run_id_, list(X.index[:20]))
    with start_run("segmentation") as r:
        res = s.log_model(r, registered_name="crm-segments-test")
    assert res.registered_version is not None
    model = mlflow.pyfunc.load_model(res.model_uri)
    out = model.predict(X.head(50))
    assert list(out.columns) == ["segment", "segment_name"]
    assert (out["segment"].to_numpy() == s.predict(X.head(50)).to_numpy()).all()
    assert out["segment_name"].iloc[0] == s.names_[int(out["segment"].iloc[0])]


def test_model_card(data, fitted):
    from crm_ml.segmentation.card import build_card

    _, X = data
    fitted.stability(X, n_boot=2)
    card = build_card(fitted, holdout_silhouette=0.5, baseline_silhouette=0.4, truth_ari=0.7)
    assert card.grade == "A"
    md = card.to_markdown()
    assert "high value, frequent" in md and "bootstrap_stability_ari_mean" in md
