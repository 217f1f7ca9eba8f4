"""Map raw model scores (log-odds) to calibrated probabilities; JSON-serialisable.

A calibrated probability is never 0 or 1: every output lies in
``[PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR]``. An isotonic fit puts 0.0 (or 1.0) on a block of
training scores in which nobody (or everybody) churned; that is a statement about a finite
sample, not certainty about a new customer.

:func:`cross_fitted_probabilities` gives the held-out calibrated probabilities that calibration
metrics may honestly be computed on: each fold is calibrated by a calibrator fitted on the
other folds' scores only.
"""

from __future__ import annotations

import numpy as np

from crm_ml.errors import DataValidationError

__all__ = ["PROBABILITY_FLOOR", "ScoreCalibrator", "cross_fitted_probabilities"]

#: Smallest probability a calibrator returns (and 1 minus it the largest): 0.1 %.
PROBABILITY_FLOOR = 1e-3
_TIE_BREAK = 1e-6  # isotonic tie-break by the raw score, far below any reported digit


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.clip(z, -500, 500)))


class ScoreCalibrator:
    """Isotonic or sigmoid (Platt) calibration of a 1-D score, fitted on held-out scores.

    Parameters
    ----------
    method : {"isotonic", "sigmoid", "auto"}, default "auto"
        ``auto`` uses isotonic regression with at least 5,000 held-out scores and Platt scaling
        below that (isotonic overfits small samples). Isotonic outputs get a 1e-6 tie-break by the
        raw score so that calibration never changes the ranking (ROC-AUC is preserved).

    Notes
    -----
    Outputs are bounded to ``[PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR]`` (0.001 and 0.999):
    no customer is called certain to churn or certain to stay. Isotonic levels are clipped a
    tie-break's width inside the bounds, so the ranking is still preserved.
    """

    def __init__(self, method: str = "auto"):
        if method not in ("isotonic", "sigmoid", "auto"):
            raise DataValidationError(f"calibration: unknown method {method!r}",
                                      column="calibration", rule="isotonic|sigmoid|auto")
        self.method = method

    def fit(self, score, y, sample_weight=None) -> ScoreCalibrator:
        """Fit the map from raw scores to churn probabilities.

        Parameters
        ----------
        score : array-like of shape (n,)
            Held-out raw scores (log-odds).
        y : array-like of shape (n,)
            0/1 labels.
        sample_weight : array-like of shape (n,), optional

        Returns
        -------
        self
        """
        score = np.asarray(score, dtype=float)
        y = np.asarray(y, dtype=float)
        method = self.method
        if method == "auto":
            method = "isotonic" if len(score) >= 5000 else "sigmoid"
        self.method_ = method
        if method == "isotonic":
            from sklearn.isotonic import IsotonicRegression

            iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
            iso.fit(score, y, sample_weight=sample_weight)
            self.x_ = iso.X_thresholds_.astype(float).tolist()
            self.y_ = iso.y_thresholds_.astype(float).tolist()
        else:
            from sklearn.linear_model import LogisticRegression

            lr = LogisticRegression(C=1e6, max_iter=1000)
            lr.fit(score.reshape(-1, 1), y, sample_weight=sample_weight)
            self.a_ = float(lr.coef_[0, 0])
            self.b_ = float(lr.intercept_[0])
        return self

    def transform(self, score) -> np.ndarray:
        """Calibrated probabilities for raw scores, in ``[PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR]``."""
        score = np.asarray(score, dtype=float)
        lo, hi = PROBABILITY_FLOOR, 1.0 - PROBABILITY_FLOOR
        if self.method_ == "isotonic":
            # levels kept a tie-break inside the bounds, so the tie-break still orders them
            levels = np.clip(self.y_, lo + _TIE_BREAK, hi - _TIE_BREAK)
            p = np.interp(score, self.x_, levels)
            return np.clip(p + _TIE_BREAK * (_sigmoid(score) - 0.5), lo, hi)
        return np.clip(_sigmoid(self.a_ * score + self.b_), lo, hi)

    def to_dict(self) -> dict:
        if self.method_ == "isotonic":
            return {"method": "isotonic", "x": self.x_, "y": self.y_}
        return {"method": "sigmoid", "a": self.a_, "b": self.b_}

    @classmethod
    def from_dict(cls, d: dict) -> ScoreCalibrator:
        self = cls(d["method"])
        self.method_ = d["method"]
        if self.method_ == "isotonic":
            self.x_, self.y_ = list(d["x"]), list(d["y"])
        else:
            self.a_, self.b_ = float(d["a"]), float(d["b"])
        return self


def cross_fitted_probabilities(score, y, folds, method: str) -> np.ndarray:
    """Held-out calibrated probabilities: each fold mapped by a calibrator fitted without it.

    A calibrator scored on the scores it was fitted on looks perfectly calibrated (an
    isotonic fit has an expected calibration error near 0 on its own data by construction);
    this is the honest estimate of how calibrated the final model's probabilities are.

    Parameters
    ----------
    score : array-like of shape (n,)
        Held-out (out-of-fold) raw scores.
    y : array-like of shape (n,)
        0/1 labels.
    folds : iterable of (train_idx, test_idx)
        A partition of the rows (e.g. the folds the scores were computed on).
    method : {"isotonic", "sigmoid"}
        The method of the calibrator being assessed (use its ``method_``, not ``"auto"``,
        since the fold calibrators see fewer rows).

    Returns
    -------
    ndarray of shape (n,)
        Row ``i``'s probability from a calibrator that never saw row ``i``.
    """
    score = np.asarray(score, dtype=float)
    y = np.asarray(y, dtype=float)
    out = np.full(len(score), np.nan)
    for tr, te in folds:
        out[te] = ScoreCalibrator(method).fit(score[tr], y[tr]).transform(score[te])
    if np.isnan(out).any():
        raise DataValidationError("cross_fitted_probabilities: the folds do not cover every row",
                                  column="folds", rule="a partition of the rows")
    return out
