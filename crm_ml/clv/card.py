"""The CLV model card: holdout metrics, baseline, approaches compared, parameters, caveats.

Sections hold what their names say: "Metrics on held-out data" has a bootstrap interval on
every row (the card template says so under it); "Results per slice" splits the holdout into
one-time buyers and repeat customers; "Top drivers (SHAP)" is the hybrid spend model's mean
|SHAP| per feature (empty for the probabilistic model, which has no drivers, only
parameters); the approach comparison and the fitted parameters have their own sections.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crm_ml.model_names import CLV

BASELINE_RULE = ("past average spend carried forward: each customer's spend per day over the "
                 "calibration history times the holdout length")


def _row(metric, value, ci=(np.nan, np.nan)):
    return {"metric": metric, "value": float(value), "ci_low": float(ci[0]),
            "ci_high": float(ci[1])}


APPROACH_NAMES = {"probabilistic": "probabilistic (purchase model x Gamma-Gamma)",
                  "hybrid": "hybrid (purchase model + RFM -> LightGBM spend)"}
SECTION_APPROACHES = "Approaches compared on the holdout"
SECTION_PARAMETERS = "Purchase and spend model parameters"
SECTION_CHOICE = "Approach chosen in fit (backtest inside the calibration history)"
ONE_TIME_ALIVE = ("P(alive) is 1.0 for every one-time buyer under {model} ({n:,} customers, "
                  "{share:.0%} of those scored), however long ago they bought: this model "
                  "assumes nobody drops out before a repeat purchase. Rank one-time buyers by "
                  "clv, not p_alive, or use purchase_model='mbgnbd', which lets them drop out.")


def comparison_table(validation: dict, ml_validation: dict | None = None) -> pd.DataFrame:
    """Holdout spend metrics of the CLV model, the LightGBM alternative and the baseline."""
    keys = ["spearman", "gini", "value_mae", "value_predicted_total", "value_actual_total"]
    name = APPROACH_NAMES.get(validation.get("method", "probabilistic"), "CLV model")
    rows = [{"approach": f"CLV model: {name}", **{k: validation[k] for k in keys}}]
    if ml_validation is not None:
        rows.append({"approach": "LightGBM on features", **{k: ml_validation[k] for k in keys}})
    rows.append({"approach": "baseline: past spend carried forward",
                 **{k: validation["baseline"][k] for k in keys}})
    return pd.DataFrame(rows)


def model_card(model, validation: dict, ml_validation: dict | None = None, *,
               name: str = CLV, run_id: str | None = None,
               registered_version: str | None = None, n_boot: int = 200):
    """Build the :class:`crm_ml.cards.ModelCard` of a fitted :class:`CLVModel`.

    Parameters
    ----------
    model : CLVModel
        The fitted production model.
    validation : dict
        :func:`crm_ml.clv.backtest` (or ``validate``) output for the same settings.
    ml_validation : dict, optional
        :func:`crm_ml.clv.backtest_ml` (or ``validate_ml``) output on the same holdout
        customers.
    name : str
        Card name (the registered model name).
    run_id, registered_version : str, optional
        The MLflow run and registry version shown on the card.
    n_boot : int
        Bootstrap resamples for the metric intervals.

    Returns
    -------
    crm_ml.cards.ModelCard
    """
    from crm_ml.cards import ModelCard, bootstrap_ci
    from crm_ml.clv.plots import deciles_plot
    from crm_ml.clv.validation import gini

    per = validation["per_customer"]

    def _spearman(a, b):
        return float(pd.Series(a).rank().corr(pd.Series(b).rank()))

    def _mean_abs(a, b):
        return float(np.mean(np.abs(np.asarray(b, float) - np.asarray(a, float))))

    def _total(a, b):
        return float(np.sum(np.asarray(b, float)))

    def _ci(fn, a, b):
        return bootstrap_ci(fn, per[a], per[b], n_boot=n_boot)

    metrics = pd.DataFrame([
        _row("gini (holdout value)", validation["gini"],
             bootstrap_ci(gini, per["actual_value"], per["predicted_value"], n_boot=n_boot)),
        _row("spearman (holdout value)", validation["spearman"],
             bootstrap_ci(_spearman, per["actual_value"], per["predicted_value"],
                          n_boot=n_boot)),
        _row("mae (holdout purchases per customer)", validation["mae"],
             _ci(_mean_abs, "actual_purchases", "predicted_purchases")),
        _row("predicted repeat purchases (total)", validation["predicted_total"],
             _ci(_total, "actual_purchases", "predicted_purchases")),
        _row("actual repeat purchases (total)", validation["actual_total"],
             _ci(_total, "predicted_purchases", "actual_purchases")),
        _row("value_mae (holdout spend per customer)", validation["value_mae"],
             _ci(_mean_abs, "actual_value", "predicted_value")),
    ])
    comp = comparison_table(validation, ml_validation)
    best = comp.iloc[comp["gini"].astype(float).idxmax()]["approach"]
    better = (f"On this holdout the best ranking of future spend (normalised Gini) comes from: "
              f"**{best}**. Probabilistic models need only purchase history, extrapolate to "
              f"any horizon and give P(alive); LightGBM can use any feature but needs a label "
              f"window as long as the horizon.")
    d = model.diagnostics_
    alive = _one_time_alive(model)
    caveats = list(d.get("warnings", [])) + ([alive] if alive else []) + [
        "CLV is gross of returns (returns are not purchases); use margin to net them out.",
        f"Gamma-Gamma assumes spend is independent of frequency; observed correlation "
        f"{d['frequency_spend_corr']:.2f}.",
        "BG/NBD-type models assume a stationary purchase rate while alive (no seasonality, "
        "no marketing effects); refit monthly and re-run the holdout check.",
        "The holdout covers one period; a different period can rank customers differently.",
    ]
    figs = dict(validation.get("figures", {}))
    figs["deciles"] = deciles_plot(validation["deciles"])
    method = getattr(model, "method_", "probabilistic")
    extra = {SECTION_APPROACHES: comp.to_string(index=False, float_format=lambda v: f"{v:.4g}"),
             "Probabilistic model or machine learning?": better,
             SECTION_PARAMETERS: model.params_table_.to_string(
                 index=False, float_format=lambda v: f"{v:.4g}")}
    sel = getattr(model, "selection_", None)
    if sel:
        extra[SECTION_CHOICE] = selection_text(sel)
    algorithm = (f"{model.purchase_model} + gamma_gamma (lifetimes)" if method != "hybrid" else
                 f"{model.purchase_model} + gamma_gamma (lifetimes) -> LightGBM spend model")
    return ModelCard(
        name=name,
        title=f"Customer lifetime value ({APPROACH_NAMES[method]}, {model.purchase_model})",
        model_details={"algorithm": algorithm, "method": method,
                       "time_unit": model.time_unit, "penalizer": model.penalizer,
                       "zero_amount": model.zero_amount,
                       "parameters": {k: round(v, 6) for k, v in model.params_.items()},
                       "mlflow_run_id": run_id, "registered_version": registered_version},
        intended_use=("Rank customers by expected future value, size retention budgets, and "
                      "combine with churn probability (value at risk) to decide whom to retain."),
        out_of_scope=("Contractual/subscription businesses (use a survival model), individual "
                      "revenue guarantees, customers with no purchase yet, pricing decisions."),
        data={"as_of": str(model.as_of_.date()) if model.as_of_ is not None else None,
              "customers": d["n_customers"], "repeat_customers": d["n_repeat_customers"],
              "holdout_days": validation["holdout_days"],
              "holdout_customers": validation["n_customers"],
              "label": "repeat purchase days and spend in the holdout"},
        metrics=metrics,
        baseline={"metric": "normalised Gini of predicted holdout spend",
                  "model": validation["gini"], "baseline": validation["baseline"]["gini"],
                  "baseline_rule": BASELINE_RULE, "higher_is_better": True},
        slices=slice_table(per),
        calibration=validation["deciles"].reset_index(),
        drivers=shap_drivers(model),
        caveats=caveats,
        data_quality=d.get("data_policy"),
        figures=figs,
        extra_sections=extra,
    )


def slice_table(per: pd.DataFrame) -> pd.DataFrame:
    """Holdout ranking per slice: one-time buyers (frequency 0) and repeat customers."""
    from crm_ml.clv.validation import value_metrics

    rows = []
    for label, mask in (("one-time buyers", per["frequency"] == 0),
                        ("repeat customers", per["frequency"] > 0)):
        part = per[mask]
        if len(part) < 2:
            continue
        m = value_metrics(part["actual_value"], part["predicted_value"])
        rows.append({"slice": label, "customers": int(len(part)), "gini": m["gini"],
                     "spearman": m["spearman"], "predicted_value": m["value_predicted_total"],
                     "actual_value": m["value_actual_total"]})
    return pd.DataFrame(rows)


def shap_drivers(model, top_k: int = 10, max_rows: int = 5000) -> pd.DataFrame | None:
    """Mean |SHAP| of the hybrid's spend model per feature (None when probabilistic).

    Computed with LightGBM's exact TreeSHAP (``pred_contrib``) on up to ``max_rows`` of the
    fitted customers (an evenly spaced subset), in the booster's raw (log) scale.
    """
    if getattr(model, "method_", "probabilistic") != "hybrid":
        return None
    X = model.spend_features()
    if len(X) > max_rows:
        X = X.iloc[np.linspace(0, len(X) - 1, max_rows).astype(int)]
    contrib = np.asarray(model.booster_.predict(X, pred_contrib=True))[:, :-1]
    imp = pd.DataFrame({"feature": list(X.columns),
                        "mean_abs_shap": np.abs(contrib).mean(axis=0)})
    return (imp.sort_values("mean_abs_shap", ascending=False, kind="stable")
            .head(top_k).reset_index(drop=True))


def _one_time_alive(model) -> str | None:
    """The P(alive) = 1 caveat, when the fitted model gives it to one-time buyers."""
    summary = getattr(model, "summary_", None)
    if summary is None:
        return None
    pred = model.predict(horizon=1.0)
    one = (summary["frequency"].reindex(pred.index) == 0).to_numpy()
    alive = one & (pred["p_alive"].to_numpy() >= 1.0 - 1e-12)
    if not one.any() or alive.sum() < one.sum():
        return None
    return ONE_TIME_ALIVE.format(model=model.purchase_model, n=int(alive.sum()),
                                 share=alive.sum() / len(pred))


def selection_text(sel: dict) -> str:
    """One paragraph on how ``method_`` was chosen, from ``selection_``."""
    if "hybrid_gini" not in sel:
        return f"Used: {sel['chosen']} ({sel['reason']})."
    return (f"Used: {sel['chosen']}. On spend in ({sel['features_at']}, {sel['as_of']}] "
            f"({sel['window_days']} days, {sel['customers']:,} customers) the hybrid trained "
            f"at {sel['trained_at']} ranked with Gini {sel['hybrid_gini']:.3f} (Spearman "
            f"{sel['hybrid_spearman']:.3f}), the probabilistic model with "
            f"{sel['probabilistic_gini']:.3f} ({sel['probabilistic_spearman']:.3f}), past "
            f"spend rate with {sel['baseline_gini']:.3f} ({sel['baseline_spearman']:.3f}).")


#: the older name of :func:`model_card`
build_card = model_card
