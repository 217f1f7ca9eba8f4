"""Quality grade against a simple baseline, and bootstrap confidence intervals."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

#: Relative improvement over the baseline needed for grade A ("clearly better").
GRADE_A_MIN = 0.05
#: Relative improvement over the baseline needed for grade B ("slightly better").
GRADE_B_MIN = 0.01

GRADE_MEANING = {"A": "clearly better than", "B": "slightly better than", "C": "not better than"}


def grade_rule_text(higher_is_better: bool = True) -> str:
    """The grading rule in words (printed on every card)."""
    direction = "higher" if higher_is_better else "lower"
    return (
        f"Grade rule: relative improvement of the model over the baseline on the same held-out "
        f"data ({direction} is better), improvement = "
        + ("(model - baseline) / |baseline|" if higher_is_better
           else "(baseline - model) / |baseline|")
        + f". A (clearly better) when the improvement is at least {GRADE_A_MIN:.0%}; "
        f"B (slightly better) when it is at least {GRADE_B_MIN:.0%} and below {GRADE_A_MIN:.0%}; "
        f"C (not better) below {GRADE_B_MIN:.0%}, including when the model is worse."
    )


def relative_improvement(model_score: float, baseline_score: float,
                         higher_is_better: bool = True) -> float:
    """Signed relative improvement of the model over the baseline (positive = model better)."""
    diff = (model_score - baseline_score) if higher_is_better else (baseline_score - model_score)
    denom = abs(baseline_score)
    if denom < 1e-12:
        return math.inf if diff > 0 else (-math.inf if diff < 0 else 0.0)
    return diff / denom


def grade(model_score: float, baseline_score: float,
          higher_is_better: bool = True) -> tuple[str, str]:
    """Grade a model against a simple baseline measured on the same held-out data.

    Parameters
    ----------
    model_score, baseline_score : float
        The headline metric of the model and of the baseline.
    higher_is_better : bool, default True
        False for error metrics (MAE, RMSE, MAPE ...).

    Returns
    -------
    (str, str)
        The grade ``"A"`` (clearly better: at least 5 % relative improvement), ``"B"``
        (slightly better: 1 % to 5 %) or ``"C"`` (not better: below 1 % or worse, or a score
        that is missing), and a sentence with both numbers and the rule.
    """
    rule = grade_rule_text(higher_is_better)
    try:
        m, b = float(model_score), float(baseline_score)
    except (TypeError, ValueError):
        m = b = math.nan
    if not (math.isfinite(m) and math.isfinite(b)):
        return "C", f"Model {m:.4g} vs baseline {b:.4g}: a score is missing, so C. {rule}"
    rel = relative_improvement(m, b, higher_is_better)
    if rel >= GRADE_A_MIN:
        letter = "A"
    elif rel >= GRADE_B_MIN:
        letter = "B"
    else:
        letter = "C"
    word = "better" if rel >= 0 else "worse"
    amount = "infinitely" if math.isinf(rel) else f"{abs(rel):.1%}"
    text = (f"Model {m:.4g} vs baseline {b:.4g}: {amount} {word} -> {letter} "
            f"({GRADE_MEANING[letter]} the baseline). {rule}")
    return letter, text


def bootstrap_ci(metric_fn: Callable, y_true, y_score, n_boot: int = 200, alpha: float = 0.05,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of ``metric_fn(y_true, y_score)``.

    Rows are resampled with replacement ``n_boot`` times; resamples on which the metric is
    undefined (e.g. one class only for ROC AUC) are skipped.

    Parameters
    ----------
    metric_fn : callable
        ``metric_fn(y_true, y_score) -> float``.
    y_true, y_score : array-like
        Held-out truth and predictions, aligned by position.
    n_boot : int, default 200
        Number of bootstrap resamples.
    alpha : float, default 0.05
        1 - confidence level (0.05 gives a 95 % interval).
    seed : int, default 0
        Random seed: same inputs, same interval.

    Returns
    -------
    (float, float)
        Lower and upper bounds; ``(nan, nan)`` when fewer than 10 resamples gave a value.
    """
    yt = np.asarray(y_true)
    ys = np.asarray(y_score)
    if len(yt) != len(ys):
        raise ValueError(f"y_true has {len(yt)} rows but y_score has {len(ys)}")
    n = len(yt)
    if n == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    values = []
    with warnings.catch_warnings():
        # resamples with one class only are expected; they are skipped below
        warnings.simplefilter("ignore")
        for _ in range(int(n_boot)):
            idx = rng.integers(0, n, n)
            try:
                v = float(metric_fn(yt[idx], ys[idx]))
            except (ValueError, ZeroDivisionError, FloatingPointError):
                continue
            if math.isfinite(v):
                values.append(v)
    if len(values) < 10:
        return math.nan, math.nan
    low, high = np.quantile(values, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def metrics_table(metric_fns: Mapping[str, Callable], y_true, y_score, n_boot: int = 200,
                  alpha: float = 0.05, seed: int = 0) -> pd.DataFrame:
    """Point estimates with bootstrap intervals, in the card's metrics layout.

    Parameters
    ----------
    metric_fns : mapping
        ``{"roc_auc": sklearn.metrics.roc_auc_score, ...}``.
    y_true, y_score : array-like
        Held-out truth and predictions.
    n_boot, alpha, seed
        Passed to :func:`bootstrap_ci`.

    Returns
    -------
    DataFrame
        Columns ``metric, value, ci_low, ci_high``.
    """
    rows = []
    yt, ys = np.asarray(y_true), np.asarray(y_score)
    for name, fn in metric_fns.items():
        try:
            value = float(fn(yt, ys))
        except ValueError:
            value = math.nan
        low, high = bootstrap_ci(fn, yt, ys, n_boot=n_boot, alpha=alpha, seed=seed)
        rows.append({"metric": name, "value": value, "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows, columns=["metric", "value", "ci_low", "ci_high"])


def calibration_table(y_true, y_prob, n_bins: int = 10) -> pd.DataFrame:
    """Reliability table: mean predicted vs observed rate per probability quantile bin.

    Returns
    -------
    DataFrame
        Columns ``bin, n, mean_predicted, observed_rate``.
    """
    yt = np.asarray(y_true, dtype=float)
    yp = np.asarray(y_prob, dtype=float)
    frame = pd.DataFrame({"y": yt, "p": yp})
    bins = pd.qcut(frame["p"].rank(method="first"), q=min(n_bins, max(len(frame), 1)),
                   labels=False)
    out = frame.groupby(bins).agg(n=("y", "size"), mean_predicted=("p", "mean"),
                                  observed_rate=("y", "mean")).reset_index(names="bin")
    out["bin"] = out["bin"].astype(int) + 1
    return out
