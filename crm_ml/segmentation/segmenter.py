"""``Segmenter``: k-means or Gaussian-mixture customer segments with automatic k.

Criterion for ``n_segments="auto"``: every k in ``k_range`` is fitted on a random sample of
``sample_size`` customers (k above the number of distinct customers in the sample, or not
below the sample size, is skipped); k-means keeps the k with the highest silhouette score
(computed on ``silhouette_sample`` customers of that sample), the Gaussian mixture the k with
the lowest BIC. All scores are kept in ``k_scores_``. The final model is then fitted on all
customers (``MiniBatchKMeans`` above ``max_fit_rows`` customers; the mixture on a sample of
``max_fit_rows`` customers) and segments are numbered by decreasing mean value (segment 0 =
highest value), so labels are stable and meaningful. Names follow from documented thresholds
on each segment's statistics (:mod:`crm_ml.segmentation.naming`; rules in ``name_rules_``,
statistics in :meth:`Segmenter.profile`).

``Segmenter`` is a scikit-learn clusterer (``ClusterMixin``): ``clone``, ``get_params``,
``check_is_fitted``, pipelines and model selection work. Unlike scikit-learn's clusterers it
keeps pandas: ``labels_`` and ``predict`` are Series indexed like the input (customer_id).
Features are chosen by column name; NumPy arrays and lists are accepted too (their columns
are named ``x0, x1, ...``). ``fit`` writes nothing: it is logged only when the user asks
(:func:`crm_ml.tracking.autolog`, an active MLflow run, or
:func:`crm_ml.segmentation.log_model`).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.mixture import GaussianMixture
from sklearn.pipeline import Pipeline
from sklearn.utils import check_array

from crm_ml._logging import get_logger
from crm_ml._progress import track
from crm_ml.errors import CrmMlError, DataValidationError, NotFittedError
from crm_ml.features.ranges import RANGES_FILE, InputRanges, load_input_ranges
from crm_ml.segmentation.naming import (
    feature_family,
    naming_rules,
    segment_names,
    segment_statistics,
)
from crm_ml.segmentation.preprocess import (
    SCALINGS,
    choose_transforms,
    feature_matrix,
    make_preprocessor,
)
from crm_ml.tracking.autologging import after_fit, paused

log = get_logger("segmentation")

__all__ = ["Segmenter"]


def _n_distinct(Z: np.ndarray) -> int:
    """Number of distinct rows of ``Z``."""
    return int((~pd.DataFrame(Z).duplicated()).sum())


def _silhouette(Z: np.ndarray, labels: np.ndarray) -> float:
    """Silhouette of ``labels`` on ``Z``; NaN where it is undefined (one segment, or every
    customer in a segment of its own)."""
    n = len(set(labels.tolist()))
    return float(silhouette_score(Z, labels)) if 2 <= n < len(labels) else float("nan")


def _two_digits(x) -> float:
    """``x`` rounded to two significant digits (0.0 stays 0.0; NaN stays NaN)."""
    x = float(x)
    if x == 0 or not np.isfinite(x):
        return x
    return float(round(x, 1 - int(np.floor(np.log10(abs(x))))))


class Segmenter(ClusterMixin, BaseEstimator):
    """Customer segments from a customer feature table.

    Parameters
    ----------
    n_segments : int or "auto", default "auto"
        Number of segments, or pick it in ``k_range`` (see the module docstring). A fixed
        number must be below the number of customers and at most the number of distinct
        customers (distinct feature rows after scaling), else ``DataValidationError``.
    method : {"kmeans", "gmm"}, default "kmeans"
    features : str or list of str, optional
        Column(s) to use; default every numeric (non-boolean) column.
    k_range : tuple of int, default (2, 8)
        Inclusive range of k tried by ``"auto"``.
    scaling : {"auto", "log", "quantile", "standard"}, default "auto"
        Skew-aware scaling (see :mod:`crm_ml.segmentation.preprocess`).
    sample_size : int, default 20000
        Customers sampled for the k search and the stability refits.
    silhouette_sample : int, default 5000
        Customers used for each silhouette score.
    max_fit_rows : int, default 200000
        Above this many customers k-means uses ``MiniBatchKMeans`` and the mixture is fitted on
        a sample of this size (all customers are still labelled).
    n_init : int, default 4
        Restarts of each k-means / mixture fit.
    value_column : str, optional
        Column whose sum is each segment's revenue in ``profile()`` and which orders segment
        numbers; default the first of ``total_spend``, ``monetary``, ``monetary_value`` found.
        It must exist and, like the features, be finite (else ``DataValidationError``).
    random_state : int, default 0
    n_jobs : int, default 1
        Threads for the numeric libraries (OpenMP/BLAS). One thread is fastest for the small
        problems here and on shared machines (many threads fight over few cores).

    Attributes
    ----------
    labels_ : Series
        Segment number per customer (index of the fitted table), 0 = highest mean value.
        A pandas Series, not an array as in scikit-learn's clusterers, so that segments stay
        keyed by customer_id. Not stored by :meth:`save` (no customer ids in model files).
    names_ : dict
        ``{segment: human-readable name}``: each word follows from a documented threshold
        on a statistic of the segment (see :mod:`crm_ml.segmentation.naming`); the
        statistics are columns of :meth:`profile`.
    name_rules_ : DataFrame
        The naming rules with their thresholds on the fitted customers
        (:func:`~crm_ml.segmentation.naming.naming_rules`).
    n_segments_ : int
    k_scores_ : DataFrame
        ``k`` and ``silhouette`` (k-means) or ``bic`` (mixture) for each k tried.
    features_ : list of str
    input_ranges_ : crm_ml.features.ranges.InputRanges
        Training range of each feature, stored with the logged model and checked before
        the registered model scores.
    transforms_ : dict
        Scaling chosen per feature (``log``, ``quantile``, ``standard``).
    pipeline_ : sklearn Pipeline
        Fitted scaling + clustering model (raw cluster ids; see ``label_map_``).
    label_map_ : ndarray
        Raw cluster id -> segment number.
    silhouette_ : float
        Silhouette of the final segments on a sample.
    stability_ : dict
        Set by :meth:`stability`.
    n_features_in_ : int
        Number of columns of the fitted table (all of them, not only ``features_``).
    feature_names_in_ : ndarray of str
        Column names of the fitted table, when they are all strings.
    """

    def __init__(self, n_segments="auto", method: str = "kmeans", features=None,
                 k_range=(2, 8), scaling: str = "auto", sample_size: int = 20_000,
                 silhouette_sample: int = 5_000, max_fit_rows: int = 200_000, n_init: int = 4,
                 value_column: str | None = None, random_state: int = 0, n_jobs: int = 1):
        self.n_segments = n_segments
        self.method = method
        self.features = features
        self.k_range = k_range
        self.scaling = scaling
        self.sample_size = sample_size
        self.silhouette_sample = silhouette_sample
        self.max_fit_rows = max_fit_rows
        self.n_init = n_init
        self.value_column = value_column
        self.random_state = random_state
        self.n_jobs = n_jobs

    # ------------------------------------------------------------------ helpers
    def _as_frame(self, X, *, reset: bool) -> pd.DataFrame:
        """``X`` as a DataFrame; arrays and lists get the fitted column names (``x0, ...``).

        With ``reset`` (in ``fit``) the input's width and column names are recorded
        (``n_features_in_``, ``feature_names_in_``); otherwise an array must have the
        fitted width.
        """
        if isinstance(X, pd.DataFrame):
            if reset:
                self.n_features_in_ = X.shape[1]
                self._columns_in = list(X.columns)
                if self._columns_in and all(isinstance(c, str) for c in self._columns_in):
                    self.feature_names_in_ = np.asarray(self._columns_in, dtype=object)
                elif hasattr(self, "feature_names_in_"):
                    del self.feature_names_in_
            return X
        try:
            A = check_array(X, dtype="numeric", ensure_all_finite=False, input_name="X")
        except ValueError as exc:  # 1-D, complex, empty: scikit-learn's wording, our type
            raise DataValidationError(str(exc), column="X", rule="2-D numeric array") from None
        if reset:
            self.n_features_in_ = A.shape[1]
            self._columns_in = [f"x{i}" for i in range(A.shape[1])]
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        else:
            if A.shape[1] != self.n_features_in_:
                raise DataValidationError(
                    f"X has {A.shape[1]} features, but {type(self).__name__} is expecting "
                    f"{self.n_features_in_} features as input", column="X", rule="width")
            if hasattr(self, "feature_names_in_"):
                warnings.warn(f"X does not have valid feature names, but {type(self).__name__}"
                              " was fitted with feature names", UserWarning, stacklevel=3)
        return pd.DataFrame(A, columns=self._columns_in)

    def _select(self, X: pd.DataFrame) -> list[str]:
        if not isinstance(X, pd.DataFrame):
            raise DataValidationError("X must be a pandas DataFrame (one row per customer)",
                                      rule="DataFrame")
        if self.features is not None:
            cols = [self.features] if isinstance(self.features, str) else list(self.features)
            missing = [c for c in cols if c not in X.columns]
            if missing:
                raise DataValidationError(f"X lacks feature column(s) {missing}",
                                          column=missing[0], rule="required column")
        else:
            cols = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c])
                    and not pd.api.types.is_bool_dtype(X[c])]
        if not cols:
            raise DataValidationError("X has no numeric feature columns", rule="numeric")
        return cols

    def _cluster_model(self, k: int, n_rows: int):
        if self.method == "kmeans":
            if n_rows > self.max_fit_rows:
                return MiniBatchKMeans(n_clusters=k, batch_size=4096, n_init=self.n_init,
                                       random_state=self.random_state)
            return KMeans(n_clusters=k, n_init=self.n_init, random_state=self.random_state)
        return GaussianMixture(n_components=k, covariance_type="full", n_init=self.n_init,
                               random_state=self.random_state, reg_covar=1e-4)

    def _sample(self, n: int, size: int, seed_offset: int = 0) -> np.ndarray:
        rng = np.random.default_rng(self.random_state + seed_offset)
        return np.sort(rng.choice(n, size=size, replace=False)) if n > size else np.arange(n)

    def _search_k(self, Z: np.ndarray) -> pd.DataFrame:
        lo, hi = (int(v) for v in self.k_range)
        idx = self._sample(len(Z), self.sample_size)
        Zs = Z[idx]
        n_distinct = _n_distinct(Zs)
        hi = min(hi, len(Zs) - 1, n_distinct)
        if hi < lo:
            raise DataValidationError(
                f"too few customers ({len(Zs)} sampled, {n_distinct} distinct) for k in "
                f"{tuple(self.k_range)}", column="k_range", rule="size")
        with paused():
            rows = [self._score_k(k, Zs) for k in track(
                range(lo, hi + 1), "Choosing the number of segments", total=hi - lo + 1)]
        return pd.DataFrame(rows)

    def _score_k(self, k: int, Zs: np.ndarray) -> dict:
        """One k of the search, fitted on the sample ``Zs``."""
        model = self._cluster_model(k, len(Zs))
        labels = model.fit_predict(Zs)
        row = {"k": k}
        if self.method == "kmeans":
            row["silhouette"] = (float(silhouette_score(
                Zs, labels, sample_size=min(self.silhouette_sample, len(Zs)),
                random_state=self.random_state)) if len(set(labels)) > 1 else -1.0)
            row["inertia"] = float(model.inertia_)
        else:
            row["bic"] = float(model.bic(Zs))
        return row

    # ---------------------------------------------------------------------- fit
    def _threads(self):
        from threadpoolctl import threadpool_limits

        return threadpool_limits(limits=self.n_jobs)

    def fit(self, X: pd.DataFrame, y=None) -> Segmenter:
        """Fit scaling and clustering on a customer table.

        Parameters
        ----------
        X : DataFrame
            One row per customer (index = customer_id). An array or list of rows is
            accepted too (columns ``x0, x1, ...``).
        y : None
            Ignored (scikit-learn API).

        Returns
        -------
        Segmenter
            ``self``, fitted. Nothing is written unless the user asked for tracking (see
            :mod:`crm_ml.tracking.autologging`).
        """
        X = self._as_frame(X, reset=True)
        with self._threads():
            self._fit(X)
        after_fit(self, "segmentation", data=X,
                  run_name=f"segmenter-{self.method}")
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "pipeline_")

    def _fit(self, X: pd.DataFrame) -> None:
        if self.method not in ("kmeans", "gmm"):
            raise DataValidationError(f"method must be 'kmeans' or 'gmm', got {self.method!r}",
                                      column="method", rule="allowed value")
        if self.n_segments != "auto" and (not isinstance(self.n_segments, int | np.integer)
                                          or self.n_segments < 1):
            raise DataValidationError("n_segments must be 'auto' or a positive integer",
                                      column="n_segments", rule="allowed value")
        if self.scaling not in SCALINGS:
            raise DataValidationError(
                f"scaling must be one of {SCALINGS}, got {self.scaling!r}",
                column="scaling", rule="allowed value")
        if self.n_segments == "auto":
            kr = self.k_range
            if (len(kr) != 2 or not all(isinstance(v, int | np.integer) for v in kr)
                    or not 1 <= kr[0] <= kr[1]):
                raise DataValidationError(
                    f"k_range must be (low, high) integers with 1 <= low <= high, got {kr!r}",
                    column="k_range", rule="allowed value")
        cols = self._select(X)
        M = feature_matrix(X, cols)
        if len(M) < 2:
            raise DataValidationError(
                f"need at least 2 customers (rows) to segment; got n_samples={len(M)}",
                rule="size")
        value_col, value = self._value(X, cols)
        self.features_ = cols
        self.input_ranges_ = InputRanges.from_training(M, cols)
        self.transforms_ = choose_transforms(M, self.scaling)
        pre = make_preprocessor(self.transforms_, len(M), self.random_state)
        Z = pre.fit_transform(M)
        if self.n_segments == "auto":
            self.k_scores_ = self._search_k(Z)
            if self.method == "kmeans":
                k = int(self.k_scores_.loc[self.k_scores_["silhouette"].idxmax(), "k"])
            else:
                k = int(self.k_scores_.loc[self.k_scores_["bic"].idxmin(), "k"])
        else:
            k = int(self.n_segments)
            if k >= len(M):
                raise DataValidationError(
                    f"n_segments ({k}) must be below the number of customers ({len(M)})",
                    column="n_segments", rule="size")
            # a sample usually shows enough distinct customers; count all only when not
            if (_n_distinct(Z[self._sample(len(Z), self.sample_size)]) < k
                    and (n_distinct := _n_distinct(Z)) < k):
                raise DataValidationError(
                    f"n_segments ({k}) exceeds the {n_distinct} distinct customers (distinct "
                    f"scaled feature rows); use n_segments <= {n_distinct}",
                    column="n_segments", rule="size")
            self.k_scores_ = pd.DataFrame({"k": [k]})
        model = self._cluster_model(k, len(M))
        if self.method == "gmm" and len(M) > self.max_fit_rows:
            model.fit(Z[self._sample(len(M), self.max_fit_rows, 1)])
        else:
            model.fit(Z)
        raw = model.predict(Z)
        self.pipeline_ = Pipeline([("preprocess", pre), ("cluster", model)])
        self._order_labels(raw, k, value)
        labels = self.label_map_[raw]
        self.labels_ = pd.Series(labels, index=X.index, name="segment")
        self.n_segments_ = k
        ev = self._sample(len(Z), min(self.silhouette_sample, len(Z)), 2)
        self._Z_sample, self._labels_sample = Z[ev], labels[ev]
        self.silhouette_ = _silhouette(Z[ev], labels[ev])
        self._n_fitted = len(M)
        self._profile = self._make_profile(X, M, Z, labels, value_col, value)
        self.names_ = self._profile["name"].to_dict()

    def _value(self, X: pd.DataFrame, cols: list[str]) -> tuple[str | None, np.ndarray | None]:
        """The value column (see ``value_column``) and its checked values, or ``(None, None)``."""
        col = self.value_column
        if col is None:
            col = next((c for c in ("total_spend", "monetary", "monetary_value",
                                    "lt_monetary_value") if c in X.columns),
                       next((c for c in cols if feature_family(c) == "value"), None))
        elif col not in X.columns:
            raise DataValidationError(f"value_column {col!r} is not a column of X",
                                      column=col, rule="required column")
        if col is None:
            return None, None
        return col, feature_matrix(X, [col])[col].to_numpy()

    def _order_labels(self, raw, k, value) -> None:
        if value is not None:
            key = np.bincount(raw, weights=value, minlength=k) / np.maximum(
                np.bincount(raw, minlength=k), 1)
        else:
            key = np.bincount(raw, minlength=k).astype(float)
        order = np.argsort(-key, kind="stable")
        self.label_map_ = np.empty(k, dtype=np.int64)
        self.label_map_[order] = np.arange(k)

    def _make_profile(self, X, M, Z, labels, value_col, value) -> pd.DataFrame:
        k = len(self.label_map_)
        counts = np.bincount(labels, minlength=k)
        prof = pd.DataFrame({"size": counts, "share": counts / counts.sum()},
                            index=pd.RangeIndex(k, name="segment"))
        if value is not None:
            rev = np.bincount(labels, weights=value, minlength=k)
            prof["revenue_share"] = rev / rev.sum() if rev.sum() else 0.0
            if value_col not in M.columns:
                prof[f"{value_col}_mean"] = rev / np.maximum(counts, 1)
        g = M.groupby(labels)
        means, medians = g.mean(), g.median()
        for c in M.columns:
            prof[f"{c}_mean"] = means[c]
            prof[f"{c}_median"] = medians[c]
        # Z columns are grouped by scaling kind, not in feature order
        z_cols = self.pipeline_.named_steps["preprocess"].get_feature_names_out()
        centres = pd.DataFrame(Z, columns=z_cols)[self.features_].groupby(labels).mean()
        centres = centres.reindex(range(k)).fillna(0.0)  # an empty segment sits at the mean
        self.centres_ = centres
        # names: words from thresholds on each segment's statistics (crm_ml.segmentation.naming)
        extra = [c for c in X.columns if c not in M.columns]
        D = pd.concat([M.reset_index(drop=True), X[extra].reset_index(drop=True)], axis=1)
        if value_col is not None:
            D[value_col] = value
        self.name_rules_ = naming_rules(D, self.features_, value_col)
        stats = segment_statistics(D, labels, self.name_rules_, k)
        for c in stats.columns:
            if c not in prof.columns:
                prof[c] = stats[c]
        names = segment_names(stats, self.name_rules_)
        prof.insert(0, "name", [names[i] for i in prof.index])
        return prof

    # ------------------------------------------------------------------ predict
    def _check(self):
        if not hasattr(self, "pipeline_"):
            raise NotFittedError("Segmenter is not fitted yet: call fit() first")

    def predict(self, X: pd.DataFrame) -> pd.Series:
        """Segment numbers for new customers (same fitted scaling and clusters).

        Parameters
        ----------
        X : DataFrame
            Customers with the ``features_`` columns (an array of the fitted width also).

        Returns
        -------
        Series
            ``segment`` (int), index of ``X``.
        """
        self._check()
        X = self._as_frame(X, reset=False)
        M = feature_matrix(X, self.features_)
        with self._threads():
            raw = self.pipeline_.predict(M)
        return pd.Series(self.label_map_[raw], index=X.index, name="segment")

    def predict_names(self, X: pd.DataFrame) -> pd.DataFrame:
        """``segment`` and ``segment_name`` for each customer of ``X``."""
        seg = self.predict(X)
        return pd.DataFrame({"segment": seg, "segment_name": seg.map(self.names_)})

    def fit_predict(self, X: pd.DataFrame, y=None) -> pd.Series:
        """``fit(X).labels_``: a Series of segment numbers indexed like ``X``."""
        return self.fit(X).labels_

    def score(self, X: pd.DataFrame, y=None) -> float:
        """Silhouette of the segments on ``X`` (-1..1, higher is better).

        ``X`` is scaled with the fitted scaling and segmented with :meth:`predict`; the
        silhouette (mean over customers of how much closer each is to its own segment than
        to the nearest other one, in the scaled space) is computed on a random sample of
        ``silhouette_sample`` customers drawn as in ``fit``, so ``score(X_fit)`` equals
        ``silhouette_``.

        Parameters
        ----------
        X : DataFrame
            Customers with the ``features_`` columns.
        y : None
            Ignored (scikit-learn API).

        Returns
        -------
        float
            The silhouette; NaN when it is undefined (the sample falls in one segment, or
            every sampled customer is a segment of its own). ``GridSearchCV`` ranks NaN last.
        """
        self._check()
        M = feature_matrix(self._as_frame(X, reset=False), self.features_)
        with self._threads():
            Z = self.pipeline_.named_steps["preprocess"].transform(M)
            labels = self.label_map_[self.pipeline_.named_steps["cluster"].predict(Z)]
        ev = self._sample(len(Z), min(self.silhouette_sample, len(Z)), 2)
        return _silhouette(Z[ev], labels[ev])

    def profile(self) -> pd.DataFrame:
        """Per segment: ``name``, ``size``, ``share``, ``revenue_share``, the mean and
        median of each feature and the statistic behind each word of the name (columns
        ``name_rules_["profile_column"]``, e.g. ``total_spend_median``, ``repeat_share``,
        ``purchase_rate_median_repeat``). Index = segment number, 0 = highest mean value."""
        self._check()
        return self._profile.copy()

    # ---------------------------------------------------------------- stability
    def stability(self, X: pd.DataFrame, n_boot: int = 5, sample_size: int | None = None
                  ) -> dict:
        """Adjusted Rand index between the fitted segments and bootstrap refits.

        Each refit (same k, same scaling) uses a bootstrap sample of ``sample_size``
        customers (default ``self.sample_size``) and labels a fixed evaluation sample; its ARI
        against the fitted labels of that sample is recorded (1 = identical partitions).

        Returns
        -------
        dict
            ``ari_mean``, ``ari_min``, ``ari`` (list), ``n_boot``. Also stored in
            ``stability_``.
        """
        with self._threads():
            return self._stability(X, n_boot, sample_size)

    def _stability(self, X, n_boot, sample_size) -> dict:
        self._check()
        X = self._as_frame(X, reset=False)
        M = feature_matrix(X, self.features_)
        Z = self.pipeline_.named_steps["preprocess"].transform(M)
        base = self.predict(X).to_numpy()
        ev = self._sample(len(Z), min(self.silhouette_sample, len(Z)), 3)
        size = min(sample_size or self.sample_size, len(Z))
        rng = np.random.default_rng(self.random_state + 4)
        scores = []
        with paused():
            for b in track(range(n_boot), "Bootstrap stability", total=n_boot):
                idx = rng.choice(len(Z), size=size, replace=True)
                model = self._cluster_model(self.n_segments_, size)
                model.set_params(random_state=self.random_state + 100 + b)
                model.fit(Z[idx])
                scores.append(float(adjusted_rand_score(base[ev], model.predict(Z[ev]))))
        self.stability_ = {"ari_mean": float(np.mean(scores)), "ari_min": float(np.min(scores)),
                           "ari": scores, "n_boot": n_boot}
        return self.stability_

    # -------------------------------------------------------------------- plots
    def plot_projection(self, max_points: int = 5000):
        """2-D PCA projection of (a sample of) the scaled customers, coloured by segment."""
        import matplotlib.pyplot as plt
        from sklearn.decomposition import PCA

        self._check()
        if not hasattr(self, "_Z_sample"):
            raise CrmMlError("plot_projection needs the fitted sample of customers, which "
                             "save() does not store (no customer rows in model files): "
                             "plot before saving, or refit")
        Z, lab = self._Z_sample[:max_points], self._labels_sample[:max_points]
        fig, ax = plt.subplots(figsize=(7, 5.5))
        if Z.shape[1] >= 2:
            pca = PCA(n_components=2, random_state=self.random_state).fit(Z)
            P = pca.transform(Z)
            ev = pca.explained_variance_ratio_
            ax.set_xlabel(f"PC1 ({ev[0]:.0%} of variance)")
            ax.set_ylabel(f"PC2 ({ev[1]:.0%} of variance)")
        else:
            P = np.column_stack([Z[:, 0], np.zeros(len(Z))])
            ax.set_xlabel(self.features_[0] + " (scaled)")
        for s in range(self.n_segments_):
            m = lab == s
            ax.scatter(P[m, 0], P[m, 1], s=6, alpha=0.5, label=f"{s}: {self.names_[s]}")
        ax.set_title(f"Segments ({self.method}, k={self.n_segments_})")
        ax.legend(fontsize=7, markerscale=2, loc="best")
        fig.tight_layout()
        return fig

    def plot_k_scores(self):
        """The k search: silhouette (k-means) or BIC (mixture) by k, chosen k marked."""
        import matplotlib.pyplot as plt

        self._check()
        col = "silhouette" if "silhouette" in self.k_scores_ else "bic"
        fig, ax = plt.subplots(figsize=(5, 3.5))
        if col in self.k_scores_:
            ax.plot(self.k_scores_["k"], self.k_scores_[col], marker="o")
            ax.axvline(self.n_segments_, color="grey", ls="--", label=f"chosen k={self.n_segments_}")
            ax.set_ylabel(col)
            ax.legend()
        ax.set_xlabel("k")
        ax.set_title("Choice of the number of segments")
        fig.tight_layout()
        return fig

    # ------------------------------------------------------------ persistence
    def save(self, directory) -> dict[str, Path]:
        """Write the fitted segmenter to ``directory`` in trusted formats (no pickle).

        ``pipeline.skops`` (scaling + clusters, loaded with an allow-list), ``spec.json``
        (parameters, features, label map, names, k scores and the segment profile:
        aggregates only) and ``input_ranges.json`` (training range of each feature). No
        customer rows or ids are written, so ``labels_`` is not saved.

        Parameters
        ----------
        directory : path-like
            Created if needed.

        Returns
        -------
        dict
            ``{"pipeline": Path, "spec": Path, "input_ranges": Path}``.
        """
        from crm_ml.tracking.serialization import save_json, save_sklearn

        self._check()
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        pipe = save_sklearn(self.pipeline_, d / "pipeline.skops")
        params = {k: (list(v) if isinstance(v, tuple) else v)
                  for k, v in self.get_params().items()}
        spec = save_json({
            "features": self.features_, "label_map": self.label_map_.tolist(),
            "names": {str(k): v for k, v in self.names_.items()},
            "method": self.method, "n_segments": int(self.n_segments_),
            "params": params, "transforms": self.transforms_,
            "columns_in": [str(c) for c in getattr(self, "_columns_in", self.features_)],
            "feature_names_in": (self.feature_names_in_.tolist()
                                 if hasattr(self, "feature_names_in_") else None),
            "n_customers": getattr(self, "_n_fitted", None),
            "silhouette": self.silhouette_,
            "k_scores": self.k_scores_.to_dict(orient="list"),
            "profile": self._profile.to_dict(orient="split"),
            "centres": self.centres_.to_dict(orient="split"),
            "name_rules": (self.name_rules_.to_dict(orient="split")
                           if hasattr(self, "name_rules_") else None),
            "stability": getattr(self, "stability_", None),
        }, d / "spec.json")
        ranges = self.input_ranges_.save(d / RANGES_FILE)
        return {"pipeline": pipe, "spec": spec, "input_ranges": ranges}

    @classmethod
    def load(cls, directory) -> Segmenter:
        """A fitted segmenter from a folder written by :meth:`save`.

        Files of older versions load too (a ``track`` parameter is dropped; specs without
        profile or k scores give a model that predicts and names segments). The pipeline is
        read with skops and an exact allow-list of types, never unpickled.

        Parameters
        ----------
        directory : path-like

        Returns
        -------
        Segmenter
            Fitted, without ``labels_`` (customer labels are not saved).

        Raises
        ------
        crm_ml.ModelFilesError
            A file is missing or damaged.
        crm_ml.UntrustedModelError
            ``pipeline.skops`` holds a type outside the allow-list.
        """
        from crm_ml.tracking.serialization import load_json, load_sklearn

        d = Path(directory)
        spec = load_json(d / "spec.json", required=("features", "label_map", "names"))
        known = cls._get_param_names()
        params = {k: v for k, v in (spec.get("params") or {"method": spec.get("method",
                                                                              "kmeans")}).items()
                  if k in known}  # drops parameters that are gone, such as ``track``
        if isinstance(params.get("k_range"), list):
            params["k_range"] = tuple(params["k_range"])
        seg = cls(**params)
        seg.pipeline_ = load_sklearn(d / "pipeline.skops")
        seg.features_ = list(spec["features"])
        seg.label_map_ = np.asarray(spec["label_map"], dtype=np.int64)
        seg.names_ = {int(k): v for k, v in spec["names"].items()}
        seg.n_segments_ = int(spec.get("n_segments", len(seg.label_map_)))
        seg.input_ranges_ = load_input_ranges(d / RANGES_FILE, seg.features_)
        seg.transforms_ = dict(spec.get("transforms") or {})
        seg._columns_in = list(spec.get("columns_in") or seg.features_)
        seg.n_features_in_ = len(seg._columns_in)
        if spec.get("feature_names_in"):
            seg.feature_names_in_ = np.asarray(spec["feature_names_in"], dtype=object)
        if spec.get("n_customers") is not None:
            seg._n_fitted = int(spec["n_customers"])
        seg.silhouette_ = float("nan") if spec.get("silhouette") is None else \
            float(spec["silhouette"])
        seg.k_scores_ = pd.DataFrame(spec.get("k_scores") or {"k": [seg.n_segments_]})
        if spec.get("profile"):
            p = spec["profile"]
            seg._profile = pd.DataFrame(p["data"], index=pd.Index(p["index"], name="segment"),
                                        columns=p["columns"])
        else:
            seg._profile = pd.DataFrame({"name": [seg.names_[i] for i in range(
                seg.n_segments_)]}, index=pd.RangeIndex(seg.n_segments_, name="segment"))
        if spec.get("centres"):
            c = spec["centres"]
            seg.centres_ = pd.DataFrame(c["data"], index=c["index"], columns=c["columns"])
        if spec.get("name_rules"):
            r = spec["name_rules"]
            seg.name_rules_ = pd.DataFrame(r["data"], columns=r["columns"]).astype(
                {"low": float, "high": float, "repeat_above": float})
        if spec.get("stability"):
            seg.stability_ = dict(spec["stability"])
        return seg

    def synthetic_example(self, n: int = 5) -> pd.DataFrame:
        """A few synthetic customers: per-segment feature medians rounded to two significant
        digits (a median may be one real customer's exact value); no real rows or ids."""
        self._check()
        rows = [{c: _two_digits(self._profile.loc[s, f"{c}_median"]) for c in self.features_}
                for s in range(min(n, self.n_segments_))]
        return pd.DataFrame(rows, index=pd.Index([f"example_{i}" for i in range(len(rows))],
                                                 name="customer_id"))
