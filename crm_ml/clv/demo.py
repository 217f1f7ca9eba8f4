"""Demo step: CLV on the built-in data (validated, logged, card; registered by the pipeline)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd

from crm_ml.clv._fitting import CLVAssumptionWarning
from crm_ml.data.quality import card_row_policies
from crm_ml.output_files import write_atomic

HORIZON_WEEKS = 52
DISCOUNT_RATE = 0.10
HOLDOUT_DAYS = 182
REGISTERED_NAME = "crm-clv"


def run(ds, output_dir: Path, models_dir: Path, plan) -> dict:
    """Fit, validate and document the CLV model on dataset ``ds``; add it to ``plan``.

    ``plan`` is the pipeline's :class:`~crm_ml.tracking.release.ReleasePlan`: the model is
    registered (and its card written under ``models_dir``) only when every step succeeded.

    Validation: calibration up to ``ds.as_of - 182 days``, holdout the last 182 days; the
    production model is then refitted on everything up to ``ds.as_of`` and predicts 52 weeks
    with a 10 % annual discount rate. Value at risk uses ``1 - p_alive`` as the churn
    probability (the churn module's scores can be joined the same way by the pipeline).
    """
    from crm_ml.clv.card import build_card
    from crm_ml.clv.ml import validate_ml
    from crm_ml.clv.model import CLVModel
    from crm_ml.clv.pyfunc import log_clv_model
    from crm_ml.clv.risk import value_at_risk
    from crm_ml.clv.validation import gini
    from crm_ml.tracking import start_run

    output_dir, models_dir = Path(output_dir), Path(models_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    tx, as_of = ds.transactions, pd.Timestamp(ds.as_of)
    cal_end = as_of - pd.Timedelta(days=HOLDOUT_DAYS)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CLVAssumptionWarning)
        model = CLVModel(purchase_model="bgnbd", time_unit="W")
        val = model.validate(tx, cal_end, as_of)
        ml = validate_ml(tx, cal_end, as_of, customers=val["per_customer"].index)
        model.fit(tx, as_of)
    pred = model.predict(HORIZON_WEEKS, discount_rate=DISCOUNT_RATE)
    var = value_at_risk(pred, 1.0 - pred["p_alive"])

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

    with start_run("clv", run_name="clv-model", data=tx,
                   params={"purchase_model": model.purchase_model,
                           "time_unit": model.time_unit, "horizon": HORIZON_WEEKS,
                           "discount_rate": DISCOUNT_RATE}) as run:
        run.log_metrics({f"holdout_{k}": val[k] for k in ("gini", "spearman", "mae")})
        run.log_metrics({"ml_holdout_gini": ml["gini"],
                         "baseline_holdout_gini": val["baseline"]["gini"]})
        logged = log_clv_model(run, model, registered_name=None, horizon=HORIZON_WEEKS,
                               discount_rate=DISCOUNT_RATE)
        card = build_card(model, val, ml, name=REGISTERED_NAME, run_id=run.run_id)
    card.data.update(card_row_policies(ds))
    # registered, promoted and the card written by the pipeline once every step has succeeded
    plan.add(REGISTERED_NAME, logged.model_uri, run_id=run.run_id, score_fn=score_fn,
             higher_is_better=True, card=card)
    write_atomic(pred, output_dir / "clv_predictions.csv")
    write_atomic(var.head(500), output_dir / "clv_value_at_risk.csv")
    write_atomic(val["deciles"], output_dir / "clv_holdout_deciles.csv")
    write_atomic(model.params_table_, output_dir / "clv_params.csv", index=False)
    top = pred["clv_tier"] == "top 10%"
    return {
        "customers": int(len(pred)),
        "total_clv_52w": round(float(pred["clv"].sum()), 2),
        "top10_share_of_clv": round(float(pred.loc[top, "clv"].sum() / pred["clv"].sum()), 3),
        "holdout_gini": round(val["gini"], 3),
        "lightgbm_gini": round(ml["gini"], 3),
        "baseline_gini": round(val["baseline"]["gini"], 3),
        "holdout_predicted_vs_actual_purchases": f"{val['predicted_total']:.0f} / "
                                                 f"{val['actual_total']:.0f}",
        "grade": card.grade,
        "promoted": None,             # filled in by the pipeline's release
        "registered_version": None,
        "warnings": sorted({str(w.message) for w in caught
                            if issubclass(w.category, CLVAssumptionWarning)}),
        "params": {k: round(v, 4) for k, v in model.params_.items()},
    }
