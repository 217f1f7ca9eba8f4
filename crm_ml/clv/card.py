"""The CLV model card: holdout metrics, baseline, ML alternative, parameters, caveats."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crm_ml.model_names import CLV

BASELINE_RULE = ("past average spend carried forward: each customer's spend per day over the "
                 "calibration history times the holdout length")


def _row(metric, value, ci=(np.nan, np.nan)):
    return {"metric": metric, "value": float(value), "ci_low": float(ci[0]),
            "ci_high": float(ci[1])}


def comparison_table(validation: dict, ml_validation: dict | None = None) -> pd.DataFrame:
    """Holdout spend metrics of the CLV model, the LightGBM alternative and the baseline."""
    keys = ["spearman", "gini", "value_mae", "value_predicted_total", "value_actual_total"]
    rows = [{"approach": "probabilistic (lifetimes)", **{k: validation[k] for k in keys}}]
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

    metrics = pd.DataFrame([
        _row("gini (holdout value)", validation["gini"],
             bootstrap_ci(gini, per["actual_value"], per["predicted_value"], n_boot=n_boot)),
        _row("spearman (holdout value)", validation["spearman"],
             bootstrap_ci(_spearman, per["actual_value"], per["predicted_value"],
                          n_boot=n_boot)),
        _row("mae (holdout purchases per customer)", validation["mae"]),
        _row("predicted repeat purchases (total)", validation["predicted_total"]),
        _row("actual repeat purchases (total)", validation["actual_total"]),
        _row("value_mae (holdout spend per customer)", validation["value_mae"]),
    ])
    comp = comparison_table(validation, ml_validation)
    best = comp.iloc[comp["gini"].astype(float).idxmax()]["approach"]
    better = (f"On this holdout the best ranking of future spend (normalised Gini) comes from: "
              f"**{best}**. Probabilistic models need only purchase history, extrapolate to "
              f"any horizon and give P(alive); LightGBM can use any feature but needs a label "
              f"window as long as the horizon.")
    d = model.diagnostics_
    caveats = list(d.get("warnings", [])) + [
        "CLV is gross of returns (returns are not purchases); use margin to net them out.",
        f"Gamma-Gamma assumes spend is independent of frequency; observed correlation "
        f"{d['frequency_spend_corr']:.2f}.",
        "BG/NBD-type models assume a stationary purchase rate while alive (no seasonality, "
        "no marketing effects); refit monthly and re-run the holdout check.",
        "The holdout covers one period; a different period can rank customers differently.",
    ]
    figs = dict(validation.get("figures", {}))
    figs["deciles"] = deciles_plot(validation["deciles"])
    params = model.params_table_.copy()
    params.insert(0, "feature", params.pop("parameter"))
    return ModelCard(
        name=name,
        title="Customer lifetime value (" + model.purchase_model + " + Gamma-Gamma)",
        model_details={"algorithm": f"{model.purchase_model} + gamma_gamma (lifetimes)",
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
        slices=comp,
        calibration=validation["deciles"].reset_index(),
        drivers=params,
        caveats=caveats,
        data_quality=d.get("data_policy"),
        figures=figs,
        extra_sections={"Probabilistic model or machine learning?": better},
    )


#: the older name of :func:`model_card`
build_card = model_card
