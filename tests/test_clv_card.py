"""The CLV card: every section holds what its name says, every statement from its numbers."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

from crm_ml.clv import CLVModel, hybrid, load_cdnow_sample, model_card
from crm_ml.clv.card import SECTION_APPROACHES, SECTION_CHOICE, SECTION_PARAMETERS

CAL_END = "1997-09-30"


@pytest.fixture(scope="module")
def cdnow():
    return load_cdnow_sample()


def _card(tx, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = CLVModel(**params).fit(tx, CAL_END)
        val = model.backtest(tx, "1997-06-30", 92, plots=False)
        return model, val, model_card(model, val, n_boot=30)


def _section(md: str, title: str) -> str:
    """Text of the Markdown section ``## title`` up to the next ``## ``."""
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", md, flags=re.S | re.M)
    assert m, f"no section {title!r}"
    return m.group(1)


@pytest.fixture(scope="module")
def bgnbd_card(cdnow):
    return _card(cdnow, purchase_model="bgnbd", method="probabilistic")


@pytest.fixture(scope="module")
def hybrid_card(cdnow):
    return _card(cdnow, purchase_model="mbgnbd", method="hybrid")


def test_drivers_section_is_not_the_parameter_table(bgnbd_card):
    model, _, card = bgnbd_card
    md = card.to_markdown()
    drivers = _section(md, "Top drivers (SHAP)")
    assert "No driver analysis" in drivers      # a probabilistic model has parameters, no SHAP
    assert "alpha" not in drivers
    params = _section(md, SECTION_PARAMETERS)
    for k in ("r", "alpha", "a", "b", "p", "q", "v"):
        assert re.search(rf"\b{k}\b", params)
    assert f"{model.params_['alpha']:.4g}" in params


def test_hybrid_drivers_are_mean_abs_shap_of_its_spend_model(hybrid_card):
    model, _, card = hybrid_card
    assert model.method_ == "hybrid"
    drv = card.drivers
    assert list(drv.columns) == ["feature", "mean_abs_shap"]
    assert set(drv["feature"]) <= set(hybrid.FEATURES)
    assert (np.diff(drv["mean_abs_shap"].to_numpy()) <= 0).all()
    # recompute: exact TreeSHAP contributions add up to the booster's raw prediction
    X = model.spend_features()
    contrib = model.booster_.predict(X, pred_contrib=True)
    np.testing.assert_allclose(contrib.sum(axis=1), model.booster_.predict(X, raw_score=True),
                               rtol=1e-6, atol=1e-6)
    top = drv.iloc[0]
    k = list(X.columns).index(top["feature"])
    assert np.abs(contrib[:, k]).mean() == pytest.approx(top["mean_abs_shap"], rel=1e-9)


def test_slices_are_customer_slices_and_approaches_have_their_section(bgnbd_card):
    _, val, card = bgnbd_card
    assert list(card.slices["slice"]) == ["one-time buyers", "repeat customers"]
    per = val["per_customer"]
    assert card.slices["customers"].sum() == len(per)
    assert card.slices.loc[0, "customers"] == int((per["frequency"] == 0).sum())
    md = card.to_markdown()
    assert "approach" not in _section(md, "Results per slice")
    approaches = _section(md, SECTION_APPROACHES)
    assert "baseline: past spend carried forward" in approaches
    assert "probabilistic" in approaches


def test_every_metric_row_has_the_interval_the_card_promises(bgnbd_card):
    _, _, card = bgnbd_card
    m = card.metrics
    assert np.isfinite(m[["ci_low", "ci_high"]].to_numpy()).all()
    assert (m["ci_low"] <= m["value"] + 1e-9).all() and (m["value"] <= m["ci_high"] + 1e-9).all()
    assert "Intervals are 95 % percentile bootstrap" in card.to_markdown()


def test_one_time_buyers_p_alive_caveat_is_counted_and_only_where_true(bgnbd_card, hybrid_card):
    model, _, card = bgnbd_card
    pred = model.predict(1.0)
    one = model.summary_["frequency"].reindex(pred.index) == 0
    assert (pred.loc[one, "p_alive"] == 1.0).all()
    [caveat] = [c for c in card.caveats if c.startswith("P(alive) is 1.0")]
    assert f"({int(one.sum()):,} customers, {one.mean():.0%} of those scored)" in caveat
    mb_model, _, mb_card = hybrid_card     # MBG/NBD lets one-time buyers drop out
    assert not [c for c in mb_card.caveats if c.startswith("P(alive) is 1.0")]


def test_card_names_the_approach_used_and_how_it_was_chosen(cdnow):
    model, val, card = _card(cdnow, purchase_model="mbgnbd")
    sel = model.selection_
    assert card.model_details["method"] == model.method_ == sel["chosen"]
    text = _section(card.to_markdown(), SECTION_CHOICE)
    assert f"Gini {sel['hybrid_gini']:.3f}" in text
    assert f"{sel['probabilistic_gini']:.3f}" in text
    assert pd.Timestamp(sel["features_at"]) < pd.Timestamp(CAL_END)
