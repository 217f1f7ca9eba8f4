"""Issue #18, churn card honesty: every statement on the card is read off its own numbers.

* the decision-policy sentence comes from the held-out calibration table;
* the calibration the model logs is held-out (cross-fitted), never the calibrator scored on
  the scores it was fitted on;
* no probability is exactly 0 or 1;
* a customer's reasons state each fact once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import crm_ml as cm
from crm_ml.churn import ChurnModel, make_labels
from crm_ml.churn.calibration import (
    PROBABILITY_FLOOR,
    ScoreCalibrator,
    cross_fitted_probabilities,
)
from crm_ml.churn.card import decision_policy, model_card
from crm_ml.churn.evaluation import evaluate_predictions
from crm_ml.explain import phrases, top_reasons


def _table(rows):
    """A calibration table from (lower, customers, mean_predicted, observed_rate) rows."""
    return pd.DataFrame([{"lower": lo, "upper": lo + 0.1, "customers": n, "mean_predicted": p,
                          "observed_rate": o} for lo, n, p, o in rows])


# ------------------------------------------------------------------ decision-policy sentence
def test_policy_names_the_band_that_is_off_instead_of_promising_calibration():
    # the card: 0.35 predicted vs 0.23 observed
    cal = _table([(0.0, 500, 0.05, 0.06), (0.1, 300, 0.15, 0.16), (0.3, 200, 0.35, 0.23),
                  (0.6, 400, 0.65, 0.66)])
    text = decision_policy(cal)
    assert "0.3 churns about 30 %" not in text and "reads as a churn rate" not in text
    assert "customers scored 0.3-0.4 were given 0.35 on average and 0.23 of them churned" in text
    assert "over-states risk by 12.0 points" in text
    assert "1 of 4 probability bands" in text


def test_policy_says_scores_read_as_rates_only_when_every_band_agrees():
    cal = _table([(0.0, 500, 0.05, 0.06), (0.2, 300, 0.25, 0.28), (0.6, 400, 0.65, 0.64)])
    text = decision_policy(cal)
    assert "reads as a churn rate" in text and "off as churn rates" not in text
    # the example is the table's largest gap, with its own numbers
    assert "customers scored 0.2-0.3 were given 0.25 on average and 0.28 of them churned" in text


def test_policy_ignores_gaps_within_sampling_noise_or_in_tiny_bands():
    # 0.45 vs 0.30 in a band of 12 customers: noise (2 SE ~ 0.29), and below 30 customers
    cal = _table([(0.0, 900, 0.05, 0.05), (0.4, 12, 0.45, 0.30), (0.9, 900, 0.95, 0.95)])
    assert "reads as a churn rate" in decision_policy(cal)
    cal = _table([(0.0, 900, 0.05, 0.05), (0.4, 40, 0.45, 0.30), (0.9, 900, 0.95, 0.95)])
    assert "reads as a churn rate" in decision_policy(cal)  # 2 SE = 0.157 > 0.15
    cal = _table([(0.0, 900, 0.05, 0.05), (0.4, 400, 0.45, 0.30), (0.9, 900, 0.95, 0.95)])
    assert "under-states" not in decision_policy(cal)
    assert "over-states risk by 15.0 points" in decision_policy(cal)


# ------------------------------------------------------------------ a fitted model
@pytest.fixture(scope="module")
def fitted():
    ds = cm.datasets.make_crm_dataset(n_customers=900, seed=3)
    t = ds.as_of - pd.Timedelta(days=180)
    X = cm.features.build(ds.transactions, t, ds.interactions)
    y = make_labels(ds.transactions, t, 90).reindex(X.index)
    t2 = ds.as_of - pd.Timedelta(days=90)
    Xt = cm.features.build(ds.transactions, t2, ds.interactions)
    yt = make_labels(ds.transactions, t2, 90).reindex(Xt.index)
    return X, y, Xt, yt


def test_card_policy_is_read_off_the_cards_calibration_table(fitted):
    X, y, Xt, yt = fitted
    m = ChurnModel(cv=3).fit(X, y)
    card = model_card(m, Xt, yt, n_boot=5)
    text = card.extra_sections["Decision policy"]
    assert text == decision_policy(card.calibration)
    big = card.calibration[card.calibration["customers"] >= 30]
    gap = (big["observed_rate"] - big["mean_predicted"]).abs()
    worst = big.loc[gap.idxmax()]
    if gap.max() > 0.05:  # this model on a later period: its worst band is named
        assert f"were given {worst['mean_predicted']:.2f}" in text
        assert f"{worst['observed_rate']:.2f} of them churned" in text


def test_logged_calibration_is_held_out_not_the_calibrators_own_fit(fitted, monkeypatch):
    X, y, _, _ = fitted
    seen = []
    fit = ScoreCalibrator.fit

    def spy(self, score, yy, sample_weight=None):
        seen.append((np.array(score, dtype=float), np.array(yy, dtype=float)))
        return fit(self, score, yy, sample_weight)

    monkeypatch.setattr(ScoreCalibrator, "fit", spy)
    m = ChurnModel(cv=3, calibration="isotonic").fit(X, y)
    oof, yv = seen[0]  # the final calibrator is fitted on all held-out scores
    assert len(oof) == len(X)
    in_sample = evaluate_predictions(yv, m.calibrator_.transform(oof))
    logged = m.cv_metrics_["expected_calibration_error"]
    # what is logged is computed from the held-out probabilities the model keeps...
    assert logged == pytest.approx(
        evaluate_predictions(yv, m.oof_proba_.to_numpy())["expected_calibration_error"])
    # ...which are not the calibrator applied to its own fit data
    assert not np.allclose(m.oof_proba_.to_numpy(), m.calibrator_.transform(oof))
    assert in_sample["expected_calibration_error"] < 1e-3  # isotonic on its own data: ~0
    assert logged > 5 * in_sample["expected_calibration_error"]
    assert m.cv_metrics_["brier"] > in_sample["brier"]


def test_cross_fitted_probabilities_never_use_the_fold_they_score():
    rng = np.random.default_rng(0)
    score = rng.normal(size=600)
    y = (rng.random(600) < 1 / (1 + np.exp(-2 * score))).astype(float)
    folds = [(np.setdiff1d(np.arange(600), te), te) for te in np.array_split(np.arange(600), 3)]
    p = cross_fitted_probabilities(score, y, folds, "isotonic")
    y2 = y.copy()
    y2[folds[0][1]] = 1 - y2[folds[0][1]]  # change the labels of fold 0 only
    p2 = cross_fitted_probabilities(score, y2, folds, "isotonic")
    np.testing.assert_array_equal(p[folds[0][1]], p2[folds[0][1]])
    assert not np.allclose(p[folds[1][1]], p2[folds[1][1]])


# ------------------------------------------------------------------ never certain
@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
def test_calibrated_probabilities_are_never_exactly_0_or_1(method):
    rng = np.random.default_rng(1)
    score = np.r_[rng.uniform(-9, -5, 300), rng.normal(0, 1, 400), rng.uniform(5, 9, 300)]
    y = np.r_[np.zeros(300), (rng.random(400) < 0.5), np.ones(300)].astype(float)
    cal = ScoreCalibrator(method).fit(score, y)
    grid = np.linspace(-60, 60, 2001)
    p = cal.transform(grid)
    assert p.min() >= PROBABILITY_FLOOR and p.max() <= 1 - PROBABILITY_FLOOR
    assert 0 < p.min() and p.max() < 1
    if method == "isotonic":  # still one ranking: strictly increasing in the score
        assert (np.diff(cal.transform(np.linspace(-8, 8, 2001))) > 0).all()
        # a calibrator saved before the bound (levels 0.0 and 1.0) is bounded when loaded
        old = ScoreCalibrator.from_dict(cal.to_dict())
        assert old.y_[0] == 0.0 and old.y_[-1] == 1.0
        assert old.transform([-100.0])[0] == pytest.approx(PROBABILITY_FLOOR, abs=1e-6)


def test_model_probabilities_are_never_certain(fitted):
    X, y, Xt, _ = fitted
    p = ChurnModel(cv=3, calibration="isotonic").fit(X, y).predict_proba(Xt)
    assert p.between(PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR).all()


# ------------------------------------------------------------------ one fact, one reason
def _one_day_customers():
    idx = pd.Index(["a", "b", "c"], name="customer_id")
    data = pd.DataFrame({
        "recency_days": [455.0, 20.0, 300.0],
        "n_purchase_days": [1.0, 5.0, 1.0],
        "mean_gap_days": [np.nan, 30.0, np.nan],
        "std_gap_days": [np.nan, 4.0, np.nan],
        "max_gap_days": [np.nan, 40.0, np.nan],
        "gap_ratio": [np.nan, 0.7, np.nan],
        "total_spend": [12.0, 300.0, 40.0],
    }, index=idx)
    shap = pd.DataFrame({
        "recency_days": [0.9, 0.1, 0.2],
        "n_purchase_days": [0.3, 0.05, -0.6],
        "mean_gap_days": [0.5, 0.2, 0.1],
        "std_gap_days": [0.2, 0.01, 0.05],
        "max_gap_days": [0.4, 0.3, 0.4],
        "gap_ratio": [0.6, 0.4, 0.3],
        "total_spend": [0.1, -0.02, 0.15],
    }, index=idx)
    return shap, data


def test_reasons_state_the_one_purchase_day_fact_once():
    shap, data = _one_day_customers()
    r = top_reasons(shap, data, top_k=3)
    texts = r[["reason_1", "reason_2", "reason_3"]]
    facts = texts.apply(lambda col: col.str.replace(r" \((raises|lowers) churn risk\)$", "",
                                                    regex=True))
    assert (facts.nunique(axis=1) == 3).all()
    # a: recency, then the fact by its strongest feature (gap_ratio 0.6), then total spend
    assert list(r.loc["a", ["feature_1", "feature_2", "feature_3"]]) == [
        "recency_days", "gap_ratio", "total_spend"]
    assert r.at["a", "reason_2"] == "only one purchase day so far (raises churn risk)"
    assert r.at["a", "shap_2"] == 0.6 and r.at["a", "shap_3"] == 0.1
    # c: the strongest statement is n_purchase_days = 1, lowering risk
    assert r.at["c", "feature_1"] == "n_purchase_days"
    assert r.at["c", "reason_1"] == "only one purchase day so far (lowers churn risk)"
    assert list(r.loc["c", ["feature_2", "feature_3"]]) == ["recency_days", "total_spend"]
    # b has gaps: nothing merged, plain top 3 by |SHAP|
    assert list(r.loc["b", ["feature_1", "feature_2", "feature_3"]]) == [
        "gap_ratio", "max_gap_days", "mean_gap_days"]


def test_reasons_with_fewer_distinct_facts_than_asked_are_blank():
    shap, data = _one_day_customers()
    cols = ["mean_gap_days", "max_gap_days", "gap_ratio", "recency_days"]
    r = top_reasons(shap[cols], data[cols], top_k=3)
    assert r.at["a", "reason_3"] is None and np.isnan(r.at["a", "shap_3"])
    assert r.at["b", "reason_3"] is not None
    inc = top_reasons(shap, data, top_k=3, direction_filter="increase")
    assert list(inc.loc["c", ["feature_1", "feature_2", "feature_3"]]) == [
        "max_gap_days", "recency_days", "total_spend"]


def test_one_purchase_day_phrases_read_alike():
    assert phrases("n_purchase_days", [1.0, 4.0]) == ["only one purchase day so far",
                                                      "bought on 4 different days"]
    assert phrases("std_gap_days", [np.nan, np.nan], {"mean_gap_days": [np.nan, 12.0]}) == [
        "only one purchase day so far", "fewer than three purchase days"]
    assert phrases("gap_ratio", [np.nan]) == ["only one purchase day so far"]
