"""UpliftModel, Qini/AUUC evaluation and targeting (crm_ml.campaigns)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

import crm_ml as cm
from crm_ml.campaigns import evaluation as ev
from crm_ml.campaigns.uplift import UpliftModel
from tests._uplift_data import simulated_campaign


@pytest.fixture(scope="module")
def camp():
    return simulated_campaign(4000, seed=0), simulated_campaign(4000, seed=1)


@pytest.fixture(scope="module")
def fitted(camp):
    (X, t, y, _), _ = camp
    return UpliftModel(method="auto").fit(X, t, y)


# ------------------------------------------------------------------ fit / predict contract
def test_predict_is_a_series_named_uplift_indexed_like_x(fitted, camp):
    _, (Xt, _, _, _) = camp
    u = fitted.predict(Xt.iloc[::-1])
    assert u.name == "uplift" and u.index.equals(Xt.index[::-1])
    assert np.isfinite(u).all() and (u.abs() <= 1).all()
    r = fitted.predict_response(Xt)
    assert r.name == "response_probability" and r.between(0, 1).all()
    assert fitted.method_ in ("t_learner", "x_learner")
    assert set(fitted.cv_scores_) == {"t_learner", "x_learner"}
    assert fitted.cv_scores_[fitted.method_] == max(fitted.cv_scores_.values())


def test_same_seed_same_uplift_and_treated_aligned_by_index(camp):
    (X, t, y, _), (Xt, _, _, _) = camp
    a = UpliftModel(method="t_learner").fit(X, t, y).predict(Xt)
    b = UpliftModel(method="t_learner").fit(X, t.iloc[::-1], y.sample(frac=1, random_state=2))
    pd.testing.assert_series_equal(a, b.predict(Xt))


@pytest.mark.parametrize("method", ["t_learner", "x_learner"])
def test_both_learners_recover_a_known_uplift_and_beat_response_targeting(camp, method):
    (X, t, y, _), (Xt, tt, yt, true) = camp
    m = UpliftModel(method=method).fit(X, t, y)
    rho = spearmanr(m.predict(Xt), true)[0]
    assert rho > 0.6, rho
    e = m.evaluate(Xt, tt, yt)
    assert e.qini_coefficient > e.response_qini_coefficient + 0.02
    assert e.auuc > e.random_auuc
    # the decile table: top predicted decile shows a clearly larger observed uplift
    assert e.deciles["observed_uplift"].iloc[:3].mean() > e.deciles["observed_uplift"].iloc[
        -3:].mean() + 0.15


def test_x_learner_uses_the_estimated_propensity_clipped(camp):
    (X, t, y, _), _ = camp
    m = UpliftModel(method="x_learner").fit(X, t, y)
    e = m.boosters_["propensity"].predict(m.encoder_.transform(X))
    assert abs(e.mean() - t.mean()) < 0.02  # randomised: about the treated share


def test_evaluate_plot_is_a_figure_with_three_curves(fitted, camp):
    import matplotlib.pyplot as plt

    _, (Xt, tt, yt, _) = camp
    e = fitted.evaluate(Xt, tt, yt)
    fig = e.plot()
    labels = [ln.get_label() for ln in fig.axes[0].lines]
    assert any("uplift model" in s for s in labels) and any("response" in s for s in labels)
    assert any("random" in s for s in labels)
    assert e.to_dict()["n"] == len(Xt)
    assert fitted.score(Xt, tt, yt) == pytest.approx(e.qini_coefficient)
    plt.close(fig)


# ------------------------------------------------------------------ hostile input
def test_one_arm_only_is_a_typed_error(camp):
    (X, t, y, _), _ = camp
    with pytest.raises(cm.DataValidationError, match="no control"):
        UpliftModel().fit(X, np.ones(len(X), dtype=int), y)


@pytest.mark.parametrize("bad", [2, np.nan, -1])
def test_y_not_0_1_is_a_typed_error(camp, bad):
    (X, t, y, _), _ = camp
    y2 = y.astype(float).copy()
    y2.iloc[5] = bad
    with pytest.raises(cm.DataValidationError) as err:
        UpliftModel().fit(X, t, y2)
    assert err.value.column == "y" and 5 in err.value.rows


def test_small_or_degenerate_arms_unknown_ids_and_duplicates_refused(camp):
    (X, t, y, _), _ = camp
    t2 = t.copy()
    t2.iloc[:] = 1
    t2.iloc[:3] = 0
    with pytest.raises(cm.DataValidationError, match="control group has 3"):
        UpliftModel().fit(X, t2, y)
    with pytest.raises(cm.DataValidationError, match="no value for customers"):
        UpliftModel().fit(X, t.iloc[1:], y)
    with pytest.raises(cm.DataValidationError, match="duplicate"):
        UpliftModel().fit(pd.concat([X, X.iloc[:1]]), np.r_[t, 1], np.r_[y, 0])
    with pytest.raises(cm.DataValidationError, match="0 rows"):
        UpliftModel().fit(X.iloc[:0], [], [])
    with pytest.raises(cm.DataValidationError, match="method"):
        UpliftModel(method="s_learner").fit(X, t, y)


def test_unfitted_and_missing_column(fitted, camp):
    (X, _, _, _), _ = camp
    with pytest.raises(cm.NotFittedError):
        UpliftModel().predict(X)
    with pytest.raises(cm.DataValidationError, match="x1"):
        fitted.predict(X.drop(columns="x1"))
    # NaN/inf features are missing values, not errors; unseen categories too
    X2 = X.iloc[:5].copy()
    X2.iloc[0, 0] = np.inf
    X2["region"] = ["mars", None, "north", "south", "east"]
    assert np.isfinite(fitted.predict(X2)).all()


# ------------------------------------------------------------------ save / load
def test_save_load_round_trip_and_tampered_files_refused(fitted, camp, tmp_path):
    _, (Xt, _, _, _) = camp
    paths = fitted.save(tmp_path / "m")
    assert not list((tmp_path / "m").glob("*.pkl"))
    back = UpliftModel.load(tmp_path / "m")
    pd.testing.assert_series_equal(back.predict(Xt), fitted.predict(Xt))
    pd.testing.assert_series_equal(back.predict_response(Xt), fitted.predict_response(Xt))
    assert back.method_ == fitted.method_ and back.get_params() == fitted.get_params()
    import json

    spec = json.loads(open(paths["spec"]).read())
    for key, val in [("method", "pickle"), ("format", 99), ("params", {"evil": 1}),
                     ("encoder", {"columns": [1], "kinds": {}, "categories": {}})]:
        broken = dict(spec, **{key: val})
        (tmp_path / "m" / "spec.json").write_text(json.dumps(broken))
        with pytest.raises(cm.errors.ModelFilesError):
            UpliftModel.load(tmp_path / "m")
    (tmp_path / "m" / "spec.json").write_text(json.dumps(spec))
    (tmp_path / "m" / "treated.txt").write_text("not a booster")
    with pytest.raises(cm.errors.ModelFilesError, match="treated.txt"):
        UpliftModel.load(tmp_path / "m")


# ------------------------------------------------------------------ evaluation numbers
def test_qini_and_auuc_on_a_hand_computed_example():
    y, t, s = [1, 0, 0, 1], [1, 0, 1, 0], [4.0, 3.0, 2.0, 1.0]
    # Q(k) = Y_t - Y_c * N_t / N_c: k=1: 1 (no control yet), k=2: 1, k=3: 1, k=4: 1 - 1 * 2/2
    c = ev.qini_curve(y, s, t)
    assert c["incremental_conversions"].tolist() == [0, 1, 1, 1, 0]
    # area 3, random line to (4, 0) has area 0, the perfect ranking's area is 3 too
    assert ev.qini_coefficient(y, s, t) == pytest.approx(1.0)
    assert ev.qini_coefficient(y, s, t, normalize=False) == pytest.approx(3 / 16)
    # U(k) = (rate_t - rate_c) * k / N: 0 (no control), 0.5, 0.375, 0 over shares 0..1
    assert ev.auuc(y, s, t) == pytest.approx(0.25 * (0.5 / 2 + 0.875 / 2 + 0.375 / 2))
    assert ev.qini_coefficient(y, [1.0, 2, 3, 4], t) < 0  # the reverse ranking


def _brute_qini(y, s, t):
    """Independent: every cut k = 0..N of the sorted rows, areas summed by hand."""
    order = sorted(range(len(y)), key=lambda i: -s[i])

    def curve(order):
        q, yt, yc, nt, nc = [0.0], 0, 0, 0, 0
        for i in order:
            nt += t[i]
            nc += 1 - t[i]
            yt += y[i] * t[i]
            yc += y[i] * (1 - t[i])
            q.append(yt - (yc * nt / nc if nc else 0.0))
        return q

    def area(q, cuts=None):  # trapezoids between the cuts (every k unless given)
        cuts = cuts or list(range(len(q)))
        return sum((q[a] + q[b]) / 2 * (b - a) for a, b in zip(cuts[:-1], cuts[1:], strict=True))

    q = curve(order)
    n = len(y)
    rand = q[-1] * n / 2
    tp = [i for i in range(n) if y[i] and t[i]]
    mid = [i for i in range(n) if not y[i]]
    cn = [i for i in range(n) if y[i] and not t[i]]
    # the perfect ranking's three groups are tied scores: its curve has cuts at group ends
    cuts = [0, len(tp), len(tp) + len(mid), n]
    return (area(q) - rand) / (area(curve(tp + mid + cn), cuts) - rand)


def test_qini_coefficient_matches_an_independent_computation():
    rng = np.random.default_rng(5)
    for _ in range(5):
        n = 300
        t = rng.integers(0, 2, n).tolist()
        s = rng.normal(size=n).tolist()  # no ties
        y = (rng.random(n) < 0.2 + 0.2 * (np.array(s) > 0) * np.array(t)).astype(int).tolist()
        assert ev.qini_coefficient(y, s, t) == pytest.approx(_brute_qini(y, s, t), abs=1e-9)


def test_random_scores_score_near_zero_and_deciles_add_up(camp):
    _, (Xt, tt, yt, true) = camp
    rng = np.random.default_rng(0)
    vals = [ev.qini_coefficient(yt, rng.random(len(yt)), tt) for _ in range(20)]
    assert abs(np.mean(vals)) < 0.05
    assert ev.qini_coefficient(yt, true, tt) > 0.15  # the true uplift ranks well
    d = ev.uplift_by_decile(yt, true + 1e-9 * np.arange(len(true)), tt)
    assert d["n"].sum() == len(yt) and len(d) == 10
    assert d["n_treated"].sum() == tt.sum()
    with pytest.raises(cm.DataValidationError, match="finite"):
        ev.qini_coefficient(yt, np.r_[np.nan, np.zeros(len(yt) - 1)], tt)


# ------------------------------------------------------------------ targeting
def test_targeting_by_hand():
    u = pd.Series([0.2, 0.05, -0.1, 0.15], index=["a", "b", "c", "d"])
    out = cm.campaigns.targeting(u, value=100.0, cost=10.0)
    # profit = uplift * 100 - 10: a 10, b -5, c -20, d 5
    assert out.index.tolist() == ["a", "d", "b", "c"]
    assert out["expected_profit"].tolist() == pytest.approx([10, 5, -5, -20])
    assert out["cumulative_profit"].tolist() == pytest.approx([10, 15, 10, -10])
    assert out["selected"].tolist() == [True, True, False, False]
    assert out.attrs["n_selected"] == 2 and out.attrs["expected_profit"] == pytest.approx(15)
    budget = cm.campaigns.targeting(u, value=100.0, cost=10.0, budget=15)
    assert budget["selected"].sum() == 1 and "budget" in budget.attrs["rule"]


def test_targeting_with_clv_and_churn_probability():
    u = pd.Series([0.2, 0.1, -0.05], index=["a", "b", "c"])
    clv = pd.Series({"c": 1000.0, "b": 500.0, "a": 100.0})
    p = pd.Series({"a": 0.05, "b": 0.9, "c": 0.5})
    out = cm.campaigns.targeting(u, clv=clv, cost=pd.Series({"a": 1.0, "b": 2.0, "c": 0.0}),
                                 churn_probability=p)
    # a: min(0.2, 0.05) * 100 - 1 = 4; b: 0.1 * 500 - 2 = 48; c: -0.05 * 1000 = -50 (kept)
    assert out["expected_profit"].to_dict() == pytest.approx({"b": 48, "a": 4, "c": -50})
    assert out.loc["a", "uplift_used"] == pytest.approx(0.05)
    with pytest.raises(cm.DataValidationError, match="exactly one"):
        cm.campaigns.targeting(u, value=1.0, clv=clv)
    with pytest.raises(cm.DataValidationError, match="no value for customers"):
        cm.campaigns.targeting(u, clv=clv.iloc[:2])
    with pytest.raises(cm.DataValidationError, match="cost"):
        cm.campaigns.targeting(u, value=1.0, cost=-1.0)
    with pytest.raises(cm.DataValidationError, match="uplift"):
        cm.campaigns.targeting(pd.Series([np.nan], index=["a"]), value=1.0)
    empty = cm.campaigns.targeting(u.iloc[:0], value=1.0)
    assert empty.empty and empty.attrs["n_selected"] == 0


# ------------------------------------------------------------------ card and tracking
def test_card_is_graded_against_response_targeting_and_its_sentences_are_computed(fitted,
                                                                                   camp):
    import re

    import matplotlib.pyplot as plt

    from crm_ml.campaigns.card import card_sentences

    _, (Xt, tt, yt, true) = camp
    e = fitted.evaluate(Xt, tt, yt)
    card = cm.campaigns.model_card(fitted, e, n_boot=30)
    assert card.baseline["model"] == e.qini_coefficient
    assert card.baseline["baseline"] == e.response_qini_coefficient
    assert card.grade == "A"  # the model's Qini is >= 5 % above response targeting's here
    m = card.metrics.set_index("metric")
    q = m.loc["qini_coefficient (uplift model)"]
    assert q.ci_low <= q.value <= q.ci_high
    s = card_sentences(e)
    # recompute every number of every sentence independently
    u = fitted.predict(Xt).to_numpy()
    r = fitted.predict_response(Xt).to_numpy()
    y_, t_ = yt.to_numpy(), tt.to_numpy()

    def incr(score, share=0.3):
        k = int(round(share * len(score)))
        top = np.argsort(-score, kind="stable")[:k]
        yy, tt_ = y_[top], t_[top]
        return yy[tt_ == 1].sum() - yy[tt_ == 0].sum() * (tt_ == 1).sum() / (tt_ == 0).sum()

    nums = [float(x) for x in re.findall(r"(\d+\.\d)", s["top_share"])]
    assert nums[0] == pytest.approx(incr(u), abs=0.15)
    assert nums[1] == pytest.approx(incr(r), abs=0.15)
    total = y_[t_ == 1].sum() - y_[t_ == 0].sum() * (t_ == 1).sum() / (t_ == 0).sum()
    assert nums[2] == pytest.approx(0.3 * total, abs=0.06)
    top = np.argsort(-u, kind="stable")[: len(u) // 10]
    obs = y_[top][t_[top] == 1].mean() - y_[top][t_[top] == 0].mean()
    assert f"{obs:+.1%}" in s["top_decile"]
    assert f"{y_[t_ == 1].mean() - y_[t_ == 0].mean():+.1%}" in s["top_decile"]
    assert s["put_off"].startswith(f"{(u < 0).mean():.0%} ")
    assert all(v in card.caveats for v in s.values())
    assert "c00" not in card.to_markdown()  # no customer id on the card
    plt.close("all")


def test_log_model_logs_metrics_plot_and_a_pyfunc_that_predicts_like_the_model(fitted, camp):
    import mlflow

    _, (Xt, tt, yt, _) = camp
    e = fitted.evaluate(Xt, tt, yt)
    res = cm.campaigns.log_model(fitted, evaluation=e, registered_name=cm.model_names.UPLIFT)
    run = mlflow.get_run(res.run_id)
    assert run.data.metrics["holdout_qini_coefficient"] == pytest.approx(e.qini_coefficient)
    assert "holdout_response_qini_coefficient" in run.data.metrics
    client = mlflow.MlflowClient()
    arts = [a.path for a in client.list_artifacts(res.run_id, "plots")]
    assert "plots/qini_curves.png" in arts
    assert not any("c0" in str(v) for v in run.data.params.values())  # no ids
    from crm_ml.tracking.trust import load_version

    pf = load_version(cm.model_names.UPLIFT, res.registered_version)
    out = pf.predict(Xt.iloc[:50])
    assert list(out.columns) == ["uplift", "response_probability"]
    np.testing.assert_allclose(out["uplift"], fitted.predict(Xt.iloc[:50]), rtol=1e-6)
    assert res.registered_version is not None
    # far outside the training range: refused by the pyfunc, as every crm_ml model does
    odd = Xt.iloc[:2].copy()
    odd["x0"] = 1e6
    with pytest.raises(cm.DataValidationError, match="x0"):
        pf.predict(odd)
    served = cm.serve.predict_uplift(Xt.iloc[:3].reset_index(), alias=res.registered_version)
    assert served.index.tolist() == Xt.index[:3].tolist()
    np.testing.assert_allclose(served["uplift"], fitted.predict(Xt.iloc[:3]), rtol=1e-6)
