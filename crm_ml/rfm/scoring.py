"""R, F and M scores 1..bins by tie-robust quantiles, the RFM code and the named segment.

Tie rule
--------
Customers with the same value always get the same score. The cut points are placed *between
distinct values*: for score boundary ``k`` (k = 1 .. bins-1) the cut goes after the distinct
value whose cumulative share of customers is closest to ``k / bins``, moved up or down just
enough that every score keeps at least one distinct value. So

* with at least ``bins`` distinct values every score 1..bins is used (no empty bins), even
  when 60 % of the customers have frequency 1 (they all get F = 1, and the remaining
  customers are spread over 2..bins);
* with fewer distinct values than ``bins`` each distinct value gets its own score, spread
  evenly over 1..bins (2 values -> 1 and bins; a single value -> the middle score).

Higher is better for all three scores: R uses ``-recency_days`` (recent buyers get 5).
Fitted cut points are kept (:class:`RFMScorer`), so another period can be scored on the same
scale and segment migration is meaningful.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from crm_ml.errors import DataValidationError, ModelFilesError, NotFittedError
from crm_ml.rfm.segments import SEGMENTS, default_segment_table, validate_segment_table

__all__ = ["RFMScorer", "score", "fit_bins", "apply_bins"]


def fit_bins(values, bins: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Tie-robust quantile cut points (see the module docstring for the rule).

    Parameters
    ----------
    values : array-like of float
        Finite values; higher values get higher scores.
    bins : int
        Number of scores.

    Returns
    -------
    edges : ndarray
        Upper-inclusive cut values; a value ``x`` falls in bin ``#(edges < x)``.
    score_map : ndarray of int
        The score of each bin (length ``len(edges) + 1``).
    """
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        raise DataValidationError("cannot fit RFM bins on zero customers", rule="non-empty")
    if not np.isfinite(x).all():
        raise DataValidationError("RFM values must be finite (no NaN or inf)", rule="finite")
    v, c = np.unique(x, return_counts=True)
    m = len(v)
    if m <= bins:
        edges = v[:-1]
        if m == 1:
            score_map = np.array([(bins + 1) // 2])
        else:
            score_map = np.rint(1 + np.arange(m) * (bins - 1) / (m - 1)).astype(np.int64)
        return edges, score_map
    cum = np.cumsum(c) / x.size
    cuts = []
    prev = -1
    for k in range(1, bins):
        j = int(np.argmin(np.abs(cum - k / bins)))
        j = min(max(j, prev + 1), m - 1 - (bins - k))
        cuts.append(j)
        prev = j
    return v[cuts], np.arange(1, bins + 1)


def apply_bins(values, edges: np.ndarray, score_map: np.ndarray) -> np.ndarray:
    """Scores of ``values`` under fitted ``edges`` / ``score_map`` (values outside the fitted
    range get the lowest or highest score)."""
    x = np.asarray(values, dtype=np.float64)
    if np.isnan(x).any():
        raise DataValidationError("RFM values must not be NaN", rule="not null")
    return score_map[np.searchsorted(edges, x, side="left")]


def _rescale_scores(scores: np.ndarray, bins: int, to_bins: int) -> np.ndarray:
    """Map scores 1..bins linearly onto 1..to_bins: ends onto ends, the rest to the nearest."""
    s = scores.astype(np.int64) - 1
    # 1 + round(s * (to_bins - 1) / (bins - 1)), halves up, in integers
    return 1 + (2 * s * (to_bins - 1) + (bins - 1)) // (2 * (bins - 1))


_SCORE_COLUMNS = ("r_score", "f_score", "m_score", "rfm_code", "segment")


class RFMScorer(TransformerMixin, BaseEstimator):
    """Fit R/F/M cut points on one period, score any period on the same scale.

    A scikit-learn transformer: pandas in, pandas out (``transform`` returns the RFM table
    plus the score columns). ``fit`` writes nothing; it is logged only when the user asks
    (:func:`crm_ml.tracking.autolog`, an active MLflow run, or :func:`crm_ml.rfm.log_model`).

    Parameters
    ----------
    bins : int, default 5
        Scores run 1..bins (2..9).
    segments : DataFrame, optional
        A segment table (cells or range rules, see :mod:`crm_ml.rfm.segments`); default the
        standard 11-segment table. It must cover all ``bins**3`` cells exactly once. With the
        default table and ``bins != 5`` scores are mapped linearly onto 1..5 for the lookup
        (lowest to 1, highest to 5, nearest in between).
    recency, frequency, monetary : str
        Column names in the RFM table.

    Attributes
    ----------
    edges_ : dict
        ``{"r"|"f"|"m": ndarray}`` cut points (R on ``-recency``).
    score_maps_ : dict
        Score per bin for each of r, f, m.
    segment_table_ : DataFrame
        The validated table, one row per cell.
    n_customers_ : int
        Customers the cut points were fitted on.
    n_features_in_ : int
        Columns of the fitted RFM table.
    feature_names_in_ : ndarray of str
        Their names (when all are strings).
    """

    def __init__(self, bins: int = 5, segments: pd.DataFrame | None = None,
                 recency: str = "recency_days", frequency: str = "frequency",
                 monetary: str = "monetary"):
        self.bins = bins
        self.segments = segments
        self.recency = recency
        self.frequency = frequency
        self.monetary = monetary

    def _values(self, rfm: pd.DataFrame) -> dict[str, np.ndarray]:
        cols = {"r": self.recency, "f": self.frequency, "m": self.monetary}
        missing = [c for c in cols.values() if c not in rfm.columns]
        if missing:
            raise DataValidationError(
                f"RFM table lacks column(s) {missing} (build it with crm_ml.rfm.rfm_table)",
                column=missing[0], rule="required column")
        out = {}
        for key, col in cols.items():
            v = rfm[col].to_numpy(dtype=np.float64)
            bad = ~np.isfinite(v)
            if bad.any():
                rows = rfm.index[bad][:5].tolist()
                raise DataValidationError(f"{col}: values must be finite (rows {rows})",
                                          column=col, rule="finite", rows=rows)
            out[key] = -v if key == "r" else v
        return out

    def fit(self, rfm: pd.DataFrame, y=None) -> RFMScorer:
        """Learn cut points from an RFM table (one row per customer).

        Parameters
        ----------
        rfm : DataFrame
            From :func:`crm_ml.rfm.rfm_table` (the ``recency``, ``frequency`` and
            ``monetary`` columns are used).
        y : None
            Ignored (scikit-learn API).

        Returns
        -------
        RFMScorer
            ``self``, fitted.
        """
        if not isinstance(rfm, pd.DataFrame):
            raise DataValidationError("rfm must be a pandas DataFrame (one row per customer, "
                                      "from crm_ml.rfm.rfm_table)", rule="DataFrame")
        if not isinstance(self.bins, int | np.integer) or not 2 <= self.bins <= 9:
            raise DataValidationError(f"bins: must be an integer in 2..9, got {self.bins!r}",
                                      column="bins", rule="2..9")
        if self.segments is None:
            self.segment_table_ = default_segment_table()
            table_bins = 5
        else:
            self.segment_table_ = validate_segment_table(self.segments, self.bins)
            table_bins = self.bins
        self._table_bins = table_bins
        vals = self._values(rfm)
        self.edges_, self.score_maps_ = {}, {}
        for key, v in vals.items():
            self.edges_[key], self.score_maps_[key] = fit_bins(v, self.bins)
        self.n_customers_ = len(rfm)
        self.n_features_in_ = rfm.shape[1]
        if all(isinstance(c, str) for c in rfm.columns):
            self.feature_names_in_ = np.asarray(list(rfm.columns), dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        from crm_ml.tracking.autologging import after_fit

        after_fit(self, "rfm", data=rfm, run_name="rfm-scorer")
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "edges_")

    def _check_fitted(self):
        if not hasattr(self, "edges_"):
            raise NotFittedError("RFMScorer is not fitted yet: call fit() first")

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Columns of :meth:`transform`'s output: the input columns, then the score columns.

        Parameters
        ----------
        input_features : array-like of str, optional
            The input columns; default ``feature_names_in_``.

        Returns
        -------
        ndarray of str
        """
        self._check_fitted()
        if input_features is None:
            if not hasattr(self, "feature_names_in_"):
                raise NotFittedError("RFMScorer was fitted without string column names; pass "
                                     "input_features")
            input_features = self.feature_names_in_
        names = list(dict.fromkeys([*map(str, input_features), *_SCORE_COLUMNS]))
        return np.asarray(names, dtype=object)

    def transform(self, rfm: pd.DataFrame) -> pd.DataFrame:
        """Add ``r_score, f_score, m_score`` (1..bins), ``rfm_code`` ("545") and ``segment``.

        Parameters
        ----------
        rfm : DataFrame
            An RFM table of any period (the fitted cut points are applied unchanged).

        Returns
        -------
        DataFrame
            A copy of ``rfm`` with the score columns; the input is not modified.
        """
        self._check_fitted()
        if not isinstance(rfm, pd.DataFrame):
            raise DataValidationError("rfm must be a pandas DataFrame (one row per customer, "
                                      "from crm_ml.rfm.rfm_table)", rule="DataFrame")
        vals = self._values(rfm)
        out = rfm.copy()
        scores = {k: apply_bins(vals[k], self.edges_[k], self.score_maps_[k]).astype(np.int8)
                  for k in ("r", "f", "m")}
        for k in ("r", "f", "m"):
            out[f"{k}_score"] = scores[k]
        code = (scores["r"].astype(np.int16) * 100 + scores["f"].astype(np.int16) * 10
                + scores["m"])
        out["rfm_code"] = pd.Series(code, index=out.index).astype(str)
        out["segment"] = self._segments(scores, out.index)
        return out

    def fit_transform(self, rfm: pd.DataFrame, y=None, **fit_params) -> pd.DataFrame:
        """``fit(rfm).transform(rfm)``."""
        return self.fit(rfm).transform(rfm)

    def score(self, rfm: pd.DataFrame, y=None) -> float:
        """How faithfully the 1..bins scores rank the customers of ``rfm`` (higher is better).

        The mean Spearman rank correlation of ``r_score`` with ``-recency``, ``f_score``
        with ``frequency`` and ``m_score`` with ``monetary`` on ``rfm``, scored with the
        fitted cut points. 1 means the scores never order two customers against their
        values; fewer bins, heavy ties or cut points fitted on another period give less.
        A column whose values are all equal has nothing to rank and is left out; a column
        whose values vary but whose scores do not counts 0.

        Parameters
        ----------
        rfm : DataFrame
            An RFM table (any period).
        y : None
            Ignored (scikit-learn API).

        Returns
        -------
        float
            In -1..1; NaN when every column is constant.
        """
        from scipy.stats import spearmanr

        self._check_fitted()
        vals = self._values(rfm)
        rhos = []
        for k in ("r", "f", "m"):
            v = vals[k]
            if v.size == 0 or np.ptp(v) == 0:
                continue
            s = apply_bins(v, self.edges_[k], self.score_maps_[k])
            rhos.append(0.0 if np.ptp(s) == 0 else float(spearmanr(s, v).statistic))
        return float(np.mean(rhos)) if rhos else float("nan")

    def save(self, path) -> Path:
        """Write the fitted scorer as JSON (:meth:`to_dict`; no pickle).

        Parameters
        ----------
        path : path-like
            The JSON file (conventionally ``rfm_scorer.json``); its folder is created.

        Returns
        -------
        Path
        """
        from crm_ml.tracking.serialization import save_json

        return save_json(self.to_dict(), path)

    @classmethod
    def load(cls, path) -> RFMScorer:
        """A fitted scorer from a JSON file written by :meth:`save`.

        Raises
        ------
        crm_ml.ModelFilesError
            The file is missing, not JSON, or not a valid scorer spec.
        """
        from crm_ml.tracking.serialization import load_json

        spec = load_json(path, required=("bins", "edges", "score_maps"))
        try:
            return cls.from_dict(spec)
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFilesError(f"{path} is not a valid RFM scorer spec ({exc}); re-fit "
                                  "and save the scorer", path=str(path)) from exc

    def _segments(self, scores: dict[str, np.ndarray], index) -> pd.Categorical:
        t = self.segment_table_
        names = list(SEGMENTS) if self.segments is None else list(dict.fromkeys(t["segment"]))
        name_code = {n: i for i, n in enumerate(names)}
        tb = self._table_bins
        lut = np.full((tb + 1,) * 3, -1, dtype=np.int16)
        lut[t["r_score"], t["f_score"], t["m_score"]] = t["segment"].map(name_code).to_numpy()
        r, f, m = scores["r"], scores["f"], scores["m"]
        if tb != self.bins:  # default 5-bin table with another number of bins
            r, f, m = (_rescale_scores(s, self.bins, tb) for s in (r, f, m))
        return pd.Series(pd.Categorical.from_codes(lut[r, f, m], categories=names),
                         index=index)

    def edges_table(self) -> pd.DataFrame:
        """Cut points as a readable table (recency shown in days, not negated)."""
        self._check_fitted()
        rows = []
        names = {"r": self.recency, "f": self.frequency, "m": self.monetary}
        for k in ("r", "f", "m"):
            e = -self.edges_[k] if k == "r" else self.edges_[k]
            for i, val in enumerate(e):
                rows.append({"score": k.upper(), "column": names[k], "boundary": i + 1,
                             "cut_value": float(val),
                             "rule": (f"{names[k]} >= {val:g} -> {self.score_maps_[k][i]}"
                                      if k == "r" else
                                      f"{names[k]} <= {val:g} -> {self.score_maps_[k][i]}")})
        return pd.DataFrame(rows)

    def to_dict(self) -> dict:
        """JSON-serialisable fitted state (for pyfunc artifacts; no pickle)."""
        self._check_fitted()
        return {
            "bins": int(self.bins), "recency": self.recency, "frequency": self.frequency,
            "monetary": self.monetary, "n_customers": int(self.n_customers_),
            "edges": {k: v.tolist() for k, v in self.edges_.items()},
            "score_maps": {k: v.tolist() for k, v in self.score_maps_.items()},
            "segments": None if self.segments is None else
            self.segment_table_.to_dict(orient="list"),
            "feature_names_in": (self.feature_names_in_.tolist()
                                 if hasattr(self, "feature_names_in_") else None),
        }

    @classmethod
    def from_dict(cls, d: dict) -> RFMScorer:
        """Rebuild a fitted scorer from :meth:`to_dict` output."""
        seg = None if d.get("segments") is None else pd.DataFrame(d["segments"])
        self = cls(bins=d["bins"], segments=seg, recency=d["recency"],
                   frequency=d["frequency"], monetary=d["monetary"])
        self.segment_table_ = default_segment_table() if seg is None else \
            validate_segment_table(seg, d["bins"])
        self._table_bins = 5 if seg is None else d["bins"]
        self.edges_ = {k: np.asarray(v, dtype=np.float64) for k, v in d["edges"].items()}
        self.score_maps_ = {k: np.asarray(v, dtype=np.int64) for k, v in d["score_maps"].items()}
        self.n_customers_ = d.get("n_customers", 0)
        if d.get("feature_names_in"):
            self.feature_names_in_ = np.asarray(d["feature_names_in"], dtype=object)
            self.n_features_in_ = len(self.feature_names_in_)
        return self


def score(rfm: pd.DataFrame, bins: int = 5, *, segments: pd.DataFrame | None = None,
          scorer: RFMScorer | None = None) -> pd.DataFrame:
    """Score an RFM table: ``r_score, f_score, m_score`` (1..bins), ``rfm_code``, ``segment``.

    Parameters
    ----------
    rfm : DataFrame
        From :func:`crm_ml.rfm.rfm_table` (needs ``recency_days``, ``frequency``,
        ``monetary``).
    bins : int, default 5
        Number of scores (2..9). Higher is better for R, F and M.
    segments : DataFrame, optional
        Replacement segment table (validated: each cell exactly once).
    scorer : RFMScorer, optional
        A scorer fitted on another period; when given, its cut points are used as they are
        (``bins`` and ``segments`` are ignored) so scores are comparable across periods.

    Returns
    -------
    DataFrame
        ``rfm`` plus the score columns; ``segment`` is categorical (11 names by default).
    """
    if scorer is not None:
        return scorer.transform(rfm)
    return RFMScorer(bins=bins, segments=segments).fit_transform(rfm)
