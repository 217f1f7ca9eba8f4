"""``Segmenter``: k-means or Gaussian-mixture customer segments with automatic k.

Criterion for ``n_segments="auto"``: every k in ``k_range`` is fitted on a random sample of
``sample_size`` customers (k above the number of distinct customers in the sample, or not
below the sample size, is skipped); k-means keeps the k with the highest silhouette score
(computed on ``silhouette_sample`` customers of that sample), the Gaussian mixture the k with
the lowest BIC. All scores are kept in ``k_scores_``. The final model is then fitted on all
customers (``MiniBatchKMeans`` above ``max_fit_rows`` customers; the mixture on a sample of
``max_fit_rows`` customers) and segments are numbered by decreasing mean value (segment 0 =
highest value), so labels are stable and meaningful.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.mixture import GaussianMixture
from sklearn.pipeline import Pipeline

from crm_ml._logging import get_logger
from crm_ml._progress import track
from crm_ml.errors import DataValidationError, NotFittedError
from crm_ml.features.ranges import RANGES_FILE, InputRanges
from crm_ml.segmentation.naming import feature_family, segment_names
from crm_ml.segmentation.preprocess import (
    SCALINGS,
    choose_transforms,
    feature_matrix,
    make_preprocessor,
)

log = get_logger("segmentation")

__all__ = ["Segmenter"]


def _n_distinct(Z: np.ndarray) -> int:
    """Number of distinct rows of ``Z``."""
    return int((~pd.DataFrame(Z).duplicated()).sum())


def _two_digits(x) -> float:
    """``x`` rounded to two significant digits (0.0 stays 0.0; NaN stays NaN)."""
    x = float(x)
    if x == 0 or not np.isfinite(x):
        return x
    return float(round(x, 1 - int(np.floor(np.log10(abs(x))))))


class Segmenter:
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
    track : bool, optional
        Log the fit to MLflow via :func:`crm_ml.tracking.start_run`; default: the global
        tracking switch.
    n_jobs : int, default 1
        Threads for the numeric libraries (OpenMP/BLAS). One thread is fastest for the small
        problems here and on shared machines (many threads fight over few cores).

    Attributes
    ----------
    labels_ : Series
        Segment number per customer (index of the fitted table), 0 = highest mean value.
    names_ : dict
        ``{segment: human-readable name}``.
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
    run_id_ : str or None
        MLflow run of the fit.
    """

    def __init__(self, n_segments="auto", method: str = "kmeans", features=None,
                 k_range=(2, 8), scaling: str = "auto", sample_size: int = 20_000,
                 silhouette_sample: int = 5_000, max_fit_rows: int = 200_000, n_init: int = 4,
                 value_column: str | None = None, random_state: int = 0,
                 track: bool | None = None, n_jobs: int = 1):
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
        self.track = track
        self.n_jobs = n_jobs

    # ------------------------------------------------------------------ helpers
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
        rows = []
        for k in track(range(lo, hi + 1), "Choosing the number of segments",
                       total=hi - lo + 1):
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
            rows.append(row)
        return pd.DataFrame(rows)

    # ---------------------------------------------------------------------- fit
    def _threads(self):
        from threadpoolctl import threadpool_limits

        return threadpool_limits(limits=self.n_jobs)

    def fit(self, X: pd.DataFrame, y=None) -> Segmenter:
        """Fit scaling and clustering on a customer table (index = customer_id)."""
        with self._threads():
            self._fit(X)
        from crm_ml.tracking import start_run

        self.run_id_ = None
        with start_run("segmentation", run_name=f"segmenter-{self.method}",
                       enabled=self.track) as run:
            if run.active:
                self.log_to(run)
                self.run_id_ = run.run_id
        return self

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
            raise DataValidationError("need at least 2 customers to segment", rule="size")
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
        self.silhouette_ = (float(silhouette_score(Z[ev], labels[ev]))
                            if len(set(labels[ev])) > 1 else float("nan"))
        self._profile = self._make_profile(M, Z, labels, value_col, value)
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

    def _make_profile(self, M, Z, labels, value_col, value) -> pd.DataFrame:
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
        # a feature constant at fit says nothing about any segment: keep it out of the names
        varying = [c for c in self.features_ if np.ptp(M[c].to_numpy()) > 0]
        names = segment_names(centres[varying])
        prof.insert(0, "name", [names[i] for i in prof.index])
        return prof

    # ------------------------------------------------------------------ predict
    def _check(self):
        if not hasattr(self, "pipeline_"):
            raise NotFittedError("Segmenter is not fitted yet: call fit() first")

    def predict(self, X: pd.DataFrame) -> pd.Series:
        """Segment numbers for new customers (same fitted scaling and clusters)."""
        self._check()
        M = feature_matrix(X, self.features_)
        with self._threads():
            raw = self.pipeline_.predict(M)
        return pd.Series(self.label_map_[raw], index=X.index, name="segment")

    def predict_names(self, X: pd.DataFrame) -> pd.DataFrame:
        """``segment`` and ``segment_name`` for each customer of ``X``."""
        seg = self.predict(X)
        return pd.DataFrame({"segment": seg, "segment_name": seg.map(self.names_)})

    def fit_predict(self, X: pd.DataFrame, y=None) -> pd.Series:
        """``fit(X).labels_``."""
        return self.fit(X).labels_

    def profile(self) -> pd.DataFrame:
        """Per segment: ``name``, ``size``, ``share``, ``revenue_share`` and the mean and
        median of each feature (index = segment number, 0 = highest value)."""
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
        M = feature_matrix(X, self.features_)
        Z = self.pipeline_.named_steps["preprocess"].transform(M)
        base = self.predict(X).to_numpy()
        ev = self._sample(len(Z), min(self.silhouette_sample, len(Z)), 3)
        size = min(sample_size or self.sample_size, len(Z))
        rng = np.random.default_rng(self.random_state + 4)
        scores = []
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

    # ------------------------------------------------------------ tracking / IO
    def log_to(self, run) -> None:
        """Log parameters, metrics (silhouette, k scores, segment sizes), profile and plots
        to a :class:`crm_ml.tracking.TrackedRun` (aggregates only; no customer ids)."""
        import matplotlib.pyplot as plt

        self._check()
        run.log_params({"method": self.method, "n_segments": self.n_segments,
                        "k_range": list(self.k_range), "scaling": self.scaling,
                        "features": ",".join(self.features_),
                        "transforms": json.dumps(self.transforms_),
                        "sample_size": self.sample_size, "random_state": self.random_state,
                        "n_customers": len(self.labels_)})
        metrics = {"k": self.n_segments_, "silhouette": self.silhouette_}
        for _, row in self.k_scores_.iterrows():
            for c in ("silhouette", "bic"):
                if c in row and pd.notna(row[c]):
                    metrics[f"k_{c}_{int(row['k'])}"] = row[c]
        for s, row in self._profile.iterrows():
            metrics[f"segment_{s}_size"] = row["size"]
            metrics[f"segment_{s}_share"] = row["share"]
        if hasattr(self, "stability_"):
            metrics["stability_ari_mean"] = self.stability_["ari_mean"]
            metrics["stability_ari_min"] = self.stability_["ari_min"]
        run.log_metrics(metrics)
        run.log_table(self._profile, "segment_profile")
        run.log_dict({int(k): v for k, v in self.names_.items()}, "segment_names.json")
        for name, fig in (("segment_projection", self.plot_projection()),
                          ("k_scores", self.plot_k_scores())):
            run.log_figure(fig, name)
            plt.close(fig)

    def save(self, directory) -> dict[str, Path]:
        """Write ``pipeline.skops`` (scaling + clusters, no pickle), ``spec.json`` and
        ``input_ranges.json`` (training range of each feature)."""
        from crm_ml.tracking.serialization import save_json, save_sklearn

        self._check()
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        pipe = save_sklearn(self.pipeline_, d / "pipeline.skops")
        spec = save_json({"features": self.features_, "label_map": self.label_map_.tolist(),
                          "names": {str(k): v for k, v in self.names_.items()},
                          "method": self.method, "n_segments": int(self.n_segments_)},
                         d / "spec.json")
        ranges = self.input_ranges_.save(d / RANGES_FILE)
        return {"pipeline": pipe, "spec": spec, "input_ranges": ranges}

    def log_model(self, run, registered_name: str | None = "crm-segments"):
        """Log the fitted segmenter as a pyfunc model (input: customer feature table;
        output: ``segment``, ``segment_name``) and register it (``challenger``)."""
        from crm_ml.segmentation.pyfunc import SegmentsModel
        from crm_ml.tracking import log_pyfunc_model

        self._check()
        with tempfile.TemporaryDirectory() as tmp:
            paths = self.save(tmp)
            return log_pyfunc_model(run, SegmentsModel(),
                                    artifacts={k: str(v) for k, v in paths.items()},
                                    input_example=self.synthetic_example(),
                                    name="segments", registered_name=registered_name)

    def synthetic_example(self, n: int = 5) -> pd.DataFrame:
        """A few synthetic customers: per-segment feature medians rounded to two significant
        digits (a median may be one real customer's exact value); no real rows or ids."""
        self._check()
        rows = [{c: _two_digits(self._profile.loc[s, f"{c}_median"]) for c in self.features_}
                for s in range(min(n, self.n_segments_))]
        return pd.DataFrame(rows, index=pd.Index([f"example_{i}" for i in range(len(rows))],
                                                 name="customer_id"))
