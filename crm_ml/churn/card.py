"""The churn model card: held-out metrics vs the recency rule, slices, calibration, drivers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crm_ml.churn.evaluation import evaluate_predictions, evaluation_figures
from crm_ml.churn.targets import encode_target
from crm_ml.data.privacy import MIN_LEVEL_CUSTOMERS, frequent_levels
from crm_ml.model_names import CHURN

__all__ = ["churn_card", "decision_policy", "model_card", "recency_rule", "slice_table"]

TENURE_BANDS = [0, 180, 365, 730, np.inf]
TENURE_LABELS = ["< 6 months", "6-12 months", "1-2 years", "> 2 years"]
CALIBRATION_TOLERANCE = 0.05  # a band is off when predicted and observed differ by more...
CALIBRATION_MIN_CUSTOMERS = 30  # ...in a band of at least this many customers...
CALIBRATION_NOISE_SE = 2.0  # ...and by more than this many binomial standard errors

_POLICY_RULE = ("Contact a customer when p x success_rate x benefit > cost "
                "(`ChurnModel.predict(X, benefit=, cost=, success_rate=)`), or contact the "
                "riskiest share your team can handle (`contact_rate=`).")


def _band(row) -> str:
    return f"{row['lower']:.1f}-{row['upper']:.1f}"


def decision_policy(cal: pd.DataFrame, *, tolerance: float = CALIBRATION_TOLERANCE,
                    min_customers: int = CALIBRATION_MIN_CUSTOMERS,
                    noise_se: float = CALIBRATION_NOISE_SE) -> str:
    """The card's decision-policy text, read off its held-out calibration table.

    A probability band is *off* when it holds at least ``min_customers`` customers and its
    mean predicted probability and observed churn rate differ by more than ``tolerance``
    and by more than ``noise_se`` binomial standard errors (``sqrt(p (1 - p) / n)`` at the
    predicted ``p``), i.e. beyond sampling noise. Only when no band is off does the text say
    a score reads as a churn rate; otherwise it names the worst band and how far off it is.

    Parameters
    ----------
    cal : DataFrame
        :func:`crm_ml.churn.evaluation.calibration_table` of held-out data (columns lower,
        upper, customers, mean_predicted, observed_rate).
    tolerance : float, default 0.05
    min_customers : int, default 30
    noise_se : float, default 2.0

    Returns
    -------
    str
    """
    t = cal.loc[cal["customers"] >= min_customers].copy()
    n = int(cal["customers"].sum())
    predicted = float((cal["customers"] * cal["mean_predicted"]).sum() / n)
    observed = float((cal["customers"] * cal["observed_rate"]).sum() / n)
    overall = (f"Overall the held-out customers were given {predicted:.2f} on average and "
               f"{observed:.2f} churned.")
    if t.empty:
        return (f"No probability band holds {min_customers} held-out customers, so the "
                f"calibration cannot be checked here. {overall} {_POLICY_RULE}")
    gap = t["observed_rate"] - t["mean_predicted"]
    p = t["mean_predicted"].clip(1e-6, 1 - 1e-6)
    se = np.sqrt(p * (1 - p) / t["customers"])
    off = (gap.abs() > tolerance) & (gap.abs() > noise_se * se)
    worst = t.loc[(gap.abs() * (off if off.any() else 1)).idxmax()]
    w_gap = float(worst["observed_rate"] - worst["mean_predicted"])
    example = (f"customers scored {_band(worst)} were given {worst['mean_predicted']:.2f} on "
               f"average and {worst['observed_rate']:.2f} of them churned "
               f"({int(worst['customers'])} customers)")
    if not off.any():
        return (f"On the held-out customers predicted and observed churn agree within "
                f"{tolerance * 100:.0f} points (or sampling noise) in every probability band with at "
                f"least {min_customers} customers (largest gap: {example}), so a score reads as "
                f"a churn rate: a customer at {worst['mean_predicted']:.2f} churns about "
                f"{worst['observed_rate']:.0%} of the time. {overall} {_POLICY_RULE}")
    word = "over-states" if w_gap < 0 else "under-states"
    return (f"On the held-out customers scores are off as churn rates in {int(off.sum())} of "
            f"{len(t)} probability bands with at least {min_customers} customers (predicted "
            f"and observed churn differ by more than {tolerance * 100:.0f} points, beyond "
            f"sampling noise). Worst: {example}, so there the model {word} risk by "
            f"{abs(w_gap) * 100:.1f} points. {overall} Read a customer's churn rate from the "
            "observed column of the calibration table, not from the score; the profit rule "
            "below assumes calibrated scores, so check its threshold against that table or "
            "contact a fixed share. " + _POLICY_RULE)


def recency_rule(X: pd.DataFrame, window_days: int) -> pd.Series:
    """The baseline a CRM team already uses: churned = no purchase in the last window."""
    return (X["recency_days"] >= window_days).astype(float).rename("recency_rule")


def slice_table(X: pd.DataFrame, y, proba: pd.Series,
                columns=("region", "channel"),
                min_customers: int = MIN_LEVEL_CUSTOMERS) -> pd.DataFrame:
    """Metrics per slice: the given attribute columns and tenure bands (``tenure_days``).

    Attribute levels shared by fewer than ``min_customers`` customers (k) are one ``"other"``
    slice: the card never names a rare level.
    """
    from sklearn.metrics import brier_score_loss, roc_auc_score

    y = pd.Series(np.asarray(y), index=X.index)
    groups = {}
    for c in columns:
        if c in X.columns:
            g = X[c].astype(object).fillna("unknown").astype(str)
            groups[c] = g.where(g.isin(frequent_levels(g, min_customers)), "other")
    if "tenure_days" in X.columns:
        groups["tenure"] = pd.cut(X["tenure_days"], TENURE_BANDS, labels=TENURE_LABELS,
                                  right=False).astype(object)
    rows = []
    for col, g in groups.items():
        for level, idx in g.groupby(g).groups.items():
            yy, pp = y.loc[idx], proba.loc[idx]
            auc = roc_auc_score(yy, pp) if yy.nunique() == 2 else np.nan
            rows.append({"slice": col, "value": str(level), "customers": len(idx),
                         "churn_rate": float(yy.mean()), "mean_probability": float(pp.mean()),
                         "roc_auc": auc, "brier": float(brier_score_loss(yy, pp))})
    return pd.DataFrame(rows)


def model_card(model, X_test: pd.DataFrame, y_test, *, horizon_days: int = 90,
               data: dict | None = None, explanation=None, comparison: pd.DataFrame | None = None,
               name: str = CHURN, n_boot: int = 200, logged=None):
    """Build the :class:`crm_ml.cards.ModelCard` of a fitted ChurnModel from held-out data.

    Parameters
    ----------
    model : ChurnModel
    X_test, y_test : held-out features and labels (a later period than training).
    horizon_days : int
        Label horizon; also the recency-rule window of the baseline.
    data : dict, optional
        Data description (periods, as_of, label definition) for the card.
    explanation : crm_ml.explain.Explanation, optional
        SHAP explanation of (a sample of) the test customers, for the drivers section.
    comparison : DataFrame, optional
        Held-out metrics of the competing algorithms (index algorithm).
    name : str, default ``crm_ml.model_names.CHURN``
    n_boot : int
        Bootstrap resamples of the metric confidence intervals.
    logged : crm_ml.tracking.ModelLogResult, optional
        What :func:`crm_ml.churn.log_model` returned: the card names its MLflow run and
        registered version.

    Returns
    -------
    crm_ml.cards.ModelCard
    """
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    from crm_ml.cards import ModelCard, metrics_table

    y = encode_target(X_test.index, y_test, model.classes_, model.pos_label_)
    p = model.predict_proba(X_test)
    ev = evaluate_predictions(y, p.to_numpy())
    metrics = metrics_table({"roc_auc": roc_auc_score, "pr_auc": average_precision_score,
                             "brier": brier_score_loss}, y, p.to_numpy(), n_boot=n_boot)
    extra = pd.DataFrame([{"metric": k, "value": ev[k], "ci_low": np.nan, "ci_high": np.nan}
                          for k in ("log_loss", "lift_top_decile", "capture_top_decile",
                                    "expected_calibration_error", "base_rate")])
    metrics = pd.concat([metrics, extra], ignore_index=True)
    base = recency_rule(X_test, horizon_days)
    base_auc = float(roc_auc_score(y, base))
    figures = evaluation_figures(y, p.to_numpy(), model.algorithm)
    drivers = None
    if explanation is not None:
        imp = explanation.importance().head(10).reset_index()
        drivers = imp[["feature", "description", "mean_abs_shap", "mean_shap"]]
        figures["shap_importance"] = explanation.plot_importance()
        figures["shap_beeswarm"] = explanation.plot_beeswarm()
    extra_sections = {
        "Decision policy": decision_policy(ev["calibration"]),
        "Explanations": (
            "Drivers are SHAP values of the uncalibrated model: LightGBM log-odds (via "
            "LightGBM's TreeSHAP, identical to shap.TreeExplainer) or the random forest's "
            "probability. Calibration is a monotone map on top, so drivers and signs carry "
            "over."),
    }
    if comparison is not None:
        extra_sections["Random forest vs LightGBM (same held-out data)"] = \
            comparison.round(4).to_string()
    deciles = ev["deciles"].reset_index()
    extra_sections["Lift and capture by decile"] = deciles.round(3).to_string(index=False)
    cal = ev["calibration"]
    return ModelCard(
        name=name,
        title=f"Churn probability ({model.algorithm}, calibrated={model.calibrate})",
        model_details={"algorithm": model.algorithm, "calibration": (
            model.calibrator_.method_ if model.calibrator_ else "none"),
            "n_estimators": model.n_estimators_,
            "models_averaged": model.n_bagged_,
            "features": len(model.feature_names_in_),
            "mlflow_run_id": getattr(logged, "run_id", None),
            "registered_version": getattr(logged, "registered_version", None),
            "parameters": {k: v for k, v in model.get_params().items() if v is not None}},
        intended_use=("Rank active customers by the probability that they make no purchase in "
                      f"the next {horizon_days} days, to target retention offers, and explain "
                      "each score with its top drivers."),
        out_of_scope=("Customers without purchase history; decisions about individuals that "
                      "need a legal basis (credit, pricing, employment); horizons other than "
                      f"{horizon_days} days without retraining."),
        data=dict(data or {}),
        metrics=metrics,
        baseline={"metric": "roc_auc", "model": float(ev["roc_auc"]), "baseline": base_auc,
                  "baseline_rule": f"recency rule: no purchase in the last {horizon_days} days",
                  "higher_is_better": True},
        slices=slice_table(X_test, y, p),
        calibration=cal,
        drivers=drivers,
        caveats=[
            "Calibrated to the training period's churn rate; if the base rate drifts "
            "(seasonality, campaigns) probabilities drift with it: retrain monthly and check "
            "the calibration table.",
            "Trained on one as_of snapshot; a customer's score changes as new purchases "
            "arrive, so score on fresh features.",
            f"Category levels shared by fewer than {model.preprocessor_.min_level_customers} "
            "training customers, and levels not seen in training, are one 'other' level "
            "(treated as missing when training had no such level); identifier-like and "
            "free-text columns are not used.",
            "SHAP drivers describe the model, not causes: a retention offer may not change them.",
        ],
        figures=figures,
        extra_sections=extra_sections,
    )


churn_card = model_card  # the name before issue #17
