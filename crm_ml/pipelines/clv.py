"""CLV pipeline: validated on a holdout, refitted, value at risk from the churn step's model.

Validation: calibration up to ``as_of - clv.holdout_days``, holdout the days after it; the
production model is then refitted on everything up to ``as_of`` and predicts ``clv.horizon``
periods with ``clv.discount_rate`` and ``clv.margin``. The value at risk
(:func:`crm_ml.clv.risk.value_at_risk`, the same function ``crm-ml score`` uses) multiplies
each customer's CLV by the churn step's probability; without the churn step in the run it is
not written.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd

from crm_ml.clv import CLVAssumptionWarning
from crm_ml.model_names import CLV
from crm_ml.output_files import write_atomic
from crm_ml.pipelines import _cards, _logging

#: Rows of the value-at-risk table written (highest first).
VALUE_AT_RISK_ROWS = 500


def run(data, context) -> dict:
    """Fit, validate and document the CLV model on ``data``; add it to ``context.plan``.

    The model is registered (and its card written) by the runner only when every step
    succeeded.
    """
    from crm_ml.clv import (
        CLVModel,
        backtest_ml,
        gini,
        log_backtest,
        model_card,
        value_at_risk,
    )
    from crm_ml.tracking import start_run
    from crm_ml.tracking.autologging import paused

    config = context.config
    cc = config.clv
    output_dir = Path(context.output_dir)
    tx, as_of = data.transactions, pd.Timestamp(data.as_of)
    cal_end = as_of - pd.Timedelta(days=cc.holdout_days)
    with warnings.catch_warnings(record=True) as caught, paused():
        warnings.simplefilter("always", CLVAssumptionWarning)
        model = CLVModel(purchase_model=cc.purchase_model, time_unit=cc.time_unit,
                         method=cc.method)
        val = model.backtest(tx, cal_end, horizon_days=cc.holdout_days)
        ml = backtest_ml(tx, cal_end, horizon_days=cc.holdout_days,
                         customers=val["per_customer"].index)
        model.fit(tx, as_of)
    pred = model.predict(cc.horizon, discount_rate=cc.discount_rate, margin=cc.margin)
    churn = context.shared.get("churn_probability")
    var = None if churn is None else value_at_risk(pred, churn)

    # held-out scoring for champion/challenger: calibration summary -> holdout spend ranking
    cal_summary = val["calibration_summary"]
    actual = val["per_customer"]["actual_value"]
    holdout_input = cal_summary[["frequency", "recency", "T", "monetary_value"]]

    def score_fn(pyfunc_model) -> float:
        # an older champion may see holdout customers beyond its training range: score them
        # with a warning rather than fail the comparison
        out = pyfunc_model.unwrap_python_model().predict(
            None, holdout_input.reset_index(drop=True), params={"range_check": "warn"})
        return gini(actual.to_numpy(), out["clv"].to_numpy())

    with start_run("clv", run_name="clv-model", data=tx) as run:
        logged = _logging.log_clv(model, run, horizon=cc.horizon,
                                  discount_rate=cc.discount_rate, margin=cc.margin)
        log_backtest(val, run=run)
        log_backtest(ml, run=run, prefix="ml_holdout")
        card = model_card(model, val, ml, name=CLV, run_id=run.run_id)
    _cards.document(card, data, config, ("clv",))
    # registered, promoted and the card written by the runner once every step has succeeded
    context.plan.add(CLV, logged.model_uri, run_id=run.run_id, score_fn=score_fn,
                     higher_is_better=True, card=card)
    write_atomic(pred, output_dir / "clv_predictions.csv")
    if var is not None:
        write_atomic(var.head(VALUE_AT_RISK_ROWS), output_dir / "clv_value_at_risk.csv")
    else:
        context.say("  clv: no churn step in this run, so no value at risk "
                    "(clv_value_at_risk.csv not written)")
    write_atomic(val["deciles"], output_dir / "clv_holdout_deciles.csv")
    write_atomic(model.params_table_, output_dir / "clv_params.csv", index=False)
    top = pred["clv_tier"] == "top 10%"
    horizon = f"{cc.horizon:g}{cc.time_unit}"
    return {
        "customers": int(len(pred)),
        f"total_clv_{horizon}": round(float(pred["clv"].sum()), 2),
        "top10_share_of_clv": round(float(pred.loc[top, "clv"].sum() / pred["clv"].sum()), 3),
        "total_value_at_risk": None if var is None else
        round(float(var["value_at_risk"].sum()), 2),
        "holdout_gini": round(val["gini"], 3),
        "lightgbm_gini": round(ml["gini"], 3),
        "baseline_gini": round(val["baseline"]["gini"], 3),
        "holdout_predicted_vs_actual_purchases": f"{val['predicted_total']:.0f} / "
                                                 f"{val['actual_total']:.0f}",
        "grade": card.grade,
        "promoted": None,             # filled in by the runner's release
        "registered_version": None,
        "warnings": sorted({str(w.message) for w in caught
                            if issubclass(w.category, CLVAssumptionWarning)}),
        "params": {k: round(v, 4) for k, v in model.params_.items()},
    }
