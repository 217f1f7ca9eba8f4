"""Churn evaluation: ranking, calibration and lift metrics, tables and plots."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crm_ml.errors import DataValidationError

__all__ = ["evaluate_predictions", "decile_table", "calibration_table", "plot_roc", "plot_pr",
           "plot_calibration", "plot_gains", "evaluation_figures"]


def _check(y_true, proba):
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(proba, dtype=float)
    if y.shape != p.shape:
        raise DataValidationError(f"y and probabilities differ in length ({len(y)} vs {len(p)})",
                                  column="y", rule="same length")
    if np.isnan(y).any() or np.isnan(p).any():
        raise DataValidationError("y and probabilities must not contain missing values",
                                  column="y", rule="not null")
    if len(np.unique(y)) < 2:
        raise DataValidationError(
            "y: evaluation needs both churners (1) and non-churners (0); got a single class",
            column="y", rule="two classes")
    return y.astype(int), p


def decile_table(y_true, proba, n_bins: int = 10) -> pd.DataFrame:
    """Customers ranked by risk and cut into ``n_bins`` equal groups (decile 1 = riskiest).

    Columns: customers, churners, churn_rate, mean_probability, lift (churn rate / overall),
    capture_rate (share of all churners in this decile) and cumulative_capture.
    """
    y, p = _check(y_true, proba)
    order = np.argsort(-p, kind="stable")
    bins = np.empty(len(p), dtype=int)
    bins[order] = np.minimum(np.arange(len(p)) * n_bins // len(p), n_bins - 1) + 1
    df = pd.DataFrame({"decile": bins, "y": y, "p": p})
    t = df.groupby("decile").agg(customers=("y", "size"), churners=("y", "sum"),
                                 mean_probability=("p", "mean"))
    t["churn_rate"] = t["churners"] / t["customers"]
    t["lift"] = t["churn_rate"] / y.mean()
    t["capture_rate"] = t["churners"] / y.sum()
    t["cumulative_capture"] = t["capture_rate"].cumsum()
    return t[["customers", "churners", "churn_rate", "mean_probability", "lift", "capture_rate",
              "cumulative_capture"]]


def calibration_table(y_true, proba, n_bins: int = 10) -> pd.DataFrame:
    """Predicted vs observed churn rate in ``n_bins`` equal-width probability bins."""
    y, p = _check(y_true, proba)
    edges = np.linspace(0, 1, n_bins + 1)
    b = np.clip(np.digitize(p, edges[1:-1]), 0, n_bins - 1)
    df = pd.DataFrame({"bin": b, "y": y, "p": p})
    t = df.groupby("bin").agg(customers=("y", "size"), mean_predicted=("p", "mean"),
                              observed_rate=("y", "mean"))
    t.insert(0, "upper", edges[1:][t.index])
    t.insert(0, "lower", edges[:-1][t.index])
    return t.reset_index(drop=True)


def evaluate_predictions(y_true, proba, n_bins: int = 10) -> dict:
    """Metrics of churn probabilities against observed labels.

    Returns
    -------
    dict
        ``roc_auc``, ``pr_auc`` (average precision), ``brier``, ``log_loss``, ``base_rate``,
        ``n``, ``lift_top_decile``, ``capture_top_decile``, ``expected_calibration_error``,
        ``deciles`` (DataFrame, :func:`decile_table`), ``calibration`` (DataFrame,
        :func:`calibration_table`).
    """
    from sklearn.metrics import (
        average_precision_score,
        brier_score_loss,
        log_loss,
        roc_auc_score,
    )

    y, p = _check(y_true, proba)
    deciles = decile_table(y, p, n_bins)
    cal = calibration_table(y, p, n_bins)
    ece = float((cal["customers"] * (cal["mean_predicted"] - cal["observed_rate"]).abs()).sum()
                / len(y))
    return {
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, np.clip(p, 1e-15, 1 - 1e-15), labels=[0, 1])),
        "base_rate": float(y.mean()),
        "n": int(len(y)),
        "lift_top_decile": float(deciles["lift"].iloc[0]),
        "capture_top_decile": float(deciles["capture_rate"].iloc[0]),
        "expected_calibration_error": ece,
        "deciles": deciles,
        "calibration": cal,
    }


def _fig(title):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 4), layout="constrained")
    ax = fig.subplots()
    ax.set_title(title)
    return fig, ax


def plot_roc(y_true, proba, label: str = "model"):
    """ROC curve with its AUC, as a matplotlib Figure."""
    from sklearn.metrics import roc_auc_score, roc_curve

    y, p = _check(y_true, proba)
    fpr, tpr, _ = roc_curve(y, p)
    fig, ax = _fig("ROC curve")
    ax.plot(fpr, tpr, label=f"{label} (AUC {roc_auc_score(y, p):.3f})")
    ax.plot([0, 1], [0, 1], "--", color="grey", lw=1, label="random")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate (churners found)")
    ax.legend(loc="lower right")
    return fig


def plot_pr(y_true, proba, label: str = "model"):
    """Precision-recall curve with average precision, as a Figure."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    y, p = _check(y_true, proba)
    prec, rec, _ = precision_recall_curve(y, p)
    fig, ax = _fig("Precision-recall curve")
    ax.plot(rec, prec, label=f"{label} (AP {average_precision_score(y, p):.3f})")
    ax.axhline(y.mean(), ls="--", color="grey", lw=1, label=f"base rate {y.mean():.2f}")
    ax.set_xlabel("recall (share of churners found)")
    ax.set_ylabel("precision")
    ax.legend(loc="lower left")
    return fig


def plot_calibration(y_true, proba, n_bins: int = 10, label: str = "model"):
    """Reliability diagram: mean predicted probability vs observed churn rate."""
    cal = calibration_table(y_true, proba, n_bins)
    fig, ax = _fig("Calibration")
    ax.plot([0, 1], [0, 1], "--", color="grey", lw=1, label="perfect")
    ax.plot(cal["mean_predicted"], cal["observed_rate"], "o-", label=label)
    ax.set_xlabel("predicted churn probability")
    ax.set_ylabel("observed churn rate")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left")
    return fig


def plot_gains(y_true, proba, label: str = "model"):
    """Cumulative gains: share of churners reached when contacting the riskiest x %."""
    y, p = _check(y_true, proba)
    order = np.argsort(-p, kind="stable")
    x = np.r_[0, np.arange(1, len(y) + 1) / len(y)]
    g = np.r_[0, np.cumsum(y[order]) / y.sum()]
    fig, ax = _fig("Cumulative gains")
    ax.plot(x, g, label=label)
    ax.plot([0, 1], [0, 1], "--", color="grey", lw=1, label="random")
    ax.set_xlabel("share of customers contacted (riskiest first)")
    ax.set_ylabel("share of churners reached")
    ax.legend(loc="lower right")
    return fig


def evaluation_figures(y_true, proba, label: str = "model") -> dict:
    """The four evaluation plots: ``roc``, ``pr``, ``calibration``, ``gains``."""
    return {"roc": plot_roc(y_true, proba, label), "pr": plot_pr(y_true, proba, label),
            "calibration": plot_calibration(y_true, proba, label=label),
            "gains": plot_gains(y_true, proba, label)}
