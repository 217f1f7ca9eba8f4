"""Recommender: the next products of each customer, with the reason for each.

>>> r = cm.recommend.Recommender(method="auto").fit(tx, as_of, customers=customers)
>>> r.recommend(["C000001"], k=5)          # customer_id, rank, product_id, score, reason
>>> r.recommend_for(history_frame, k=3)     # the same for histories from a CRM backend
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator

from crm_ml.data.windows import as_of_day, future, history_end, utc_naive
from crm_ml.errors import DataValidationError, NotFittedError
from crm_ml.recommend import als as _als
from crm_ml.recommend import item_knn as _knn
from crm_ml.recommend import reasons as _reasons
from crm_ml.recommend._topk import top_k
from crm_ml.recommend.baskets import purchase_lines
from crm_ml.recommend.evaluation import holdout_last, lists_by_customer, ranking_metrics
from crm_ml.recommend.popular import buyer_weights, popularity, segment_table

METHODS = ("popular", "item_knn", "als")  # in order of simplicity: ties go to the first
RECOMMEND_COLUMNS = ["customer_id", "rank", "product_id", "score", "reason"]
METRICS = ("recall_at_k", "precision_at_k", "ndcg_at_k", "map_at_k", "coverage")
_BATCH_CELLS = 1 << 24
#: below this many customers in the auto time split, a last-20 % holdout is pooled in
MIN_BACKTEST_CUSTOMERS = 500
_EPOCH = np.datetime64("1970-01-01", "D")


def _days(ts: pd.Series) -> np.ndarray:
    """Calendar day of each timestamp as days since 1970-01-01."""
    values = pd.to_datetime(utc_naive(pd.Series(ts))).to_numpy().astype("datetime64[D]")
    return (values - _EPOCH).astype(np.int64)


class Recommender(BaseEstimator):
    """Next products for each customer: popular, item-kNN, ALS, or the best of them.

    Parameters
    ----------
    method : {"auto", "popular", "item_knn", "als"}
        ``"popular"``: recently popular products (in the customer's segment when
        ``segment_column`` is given); ``"item_knn"``: products similar (cosine over
        customers) to those the customer bought; ``"als"``: implicit-feedback matrix
        factorisation (``implicit``); ``"auto"``: whichever of the three has the best
        recall@10 on a time-split backtest inside the history (see ``backtest_``).
    k_neighbors : int
        Similar products kept per product (item_knn). 200 rather than 50: on the built-in
        data (200 products) 50 neighbours lost 7 % of recall@10 against plain cosine kNN;
        on MovieLens 100k the two are within noise (``benchmarks/decision-log.md``).
    half_life_days : float or None
        A purchase weighs ``0.5 ** (age / half_life_days)`` at ``as_of`` (None: all equal);
        popularity counts each buyer once, at the weight of their last purchase. A year
        (rather than 180 days) was as good on MovieLens and 2 % better on the built-in data.
    factors, regularization, iterations : int, float, int
        ALS latent factors, L2 penalty (implicit's absolute ``regularization``) and sweeps.
        ``regularization=10`` and ``alpha=1`` were chosen on MovieLens 100k (recall@10
        0.204 against 0.187 at 0.05; ``benchmarks/decision-log.md``).
    segment_column : str, optional
        Column of ``customers`` (e.g. ``"region"``) giving "popular in your segment".
    backtest_days : int
        Test window of the auto backtest: history up to ``as_of - backtest_days`` predicts
        the purchases in the last ``backtest_days``.
    random_state : int
        Seed of ALS.
    alpha : float
        ALS confidence ``1 + alpha * weight``.
    shrinkage : float
        item_knn similarity shrinkage (``dot / (|a| |b| + shrinkage)``, on 0/1 columns: in
        customers); see :mod:`crm_ml.recommend.item_knn`.
    min_segment_customers : int
        Segments with fewer customers use the overall popularity.
    batch_size : int
        Customers scored at a time, at most (bounds memory: ``batch_size x n_products``
        floats; large catalogues use smaller batches, about 16 M scores each).

    Attributes
    ----------
    method_ : str
        The method used ("popular", "item_knn" or "als").
    products_ : Index
        Product ids seen in fit (the only ones ever recommended), sorted.
    popular_ : Series
        Product -> recency-weighted number of distinct buyers.
    segment_popular_ : DataFrame
        Segment x product popularity (segments with ``min_segment_customers`` or more).
    backtest_ : DataFrame or None
        One row per candidate method (auto only): the pooled ``recall_at_k, precision_at_k,
        ndcg_at_k, map_at_k, coverage, n_customers``, the recall and customers of each test
        (``recall_at_k_time_split``, ``recall_at_k_holdout_last``...) and ``chosen``.
    selection_ : dict
        Why ``method_`` was chosen.
    as_of_ : Timestamp
    n_customers_ : int
        Customers with at least one purchase line up to ``as_of``.
    histories_ : csr_matrix or None
        Customers x products purchase weights kept from fit (rows: ``customer_ids_``);
        None after loading a model saved without histories.
    """

    def __init__(self, method: str = "auto", k_neighbors: int = 200,
                 half_life_days: float | None = 365, factors: int = 64,
                 regularization: float = 10.0, iterations: int = 15,
                 segment_column: str | None = None, backtest_days: int = 90,
                 random_state: int = 0, alpha: float = 1.0, shrinkage: float = 5.0,
                 min_segment_customers: int = 20, batch_size: int = 2000):
        self.method = method
        self.k_neighbors = k_neighbors
        self.half_life_days = half_life_days
        self.factors = factors
        self.regularization = regularization
        self.iterations = iterations
        self.segment_column = segment_column
        self.backtest_days = backtest_days
        self.random_state = random_state
        self.alpha = alpha
        self.shrinkage = shrinkage
        self.min_segment_customers = min_segment_customers
        self.batch_size = batch_size

    # ------------------------------------------------------------------ fitting
    def _check_params(self) -> None:
        if self.method not in ("auto", *METHODS):
            raise DataValidationError(
                f"method: must be one of {('auto', *METHODS)}, got {self.method!r}",
                column="method", rule="known method")
        for name in ("k_neighbors", "factors", "iterations", "backtest_days", "batch_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise DataValidationError(f"{name}: must be an integer >= 1, got {v!r}",
                                          column=name, rule="integer >= 1")
        if self.half_life_days is not None and not (
                np.isfinite(float(self.half_life_days)) and float(self.half_life_days) > 0):
            raise DataValidationError(
                f"half_life_days: must be a positive number or None, got "
                f"{self.half_life_days!r}", column="half_life_days", rule="> 0")
        v = self.min_segment_customers
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise DataValidationError(
                f"min_segment_customers: must be an integer >= 0, got {v!r}",
                column="min_segment_customers", rule="integer >= 0")
        for name in ("regularization", "alpha", "shrinkage"):
            v = float(getattr(self, name))
            if not (np.isfinite(v) and v >= 0):
                raise DataValidationError(f"{name}: must be a finite number >= 0",
                                          column=name, rule=">= 0")

    def fit(self, tx: pd.DataFrame, as_of, customers: pd.DataFrame | None = None
            ) -> Recommender:
        """Learn from the purchase lines up to and including the ``as_of`` day.

        Parameters
        ----------
        tx : DataFrame
            Canonical transactions with ``product_id`` (returns and lines without a product
            are not purchases; see :func:`crm_ml.recommend.baskets.purchase_lines`). Rows
            after ``as_of`` are never read.
        as_of : date-like
            Last day of history.
        customers : DataFrame, optional
            ``customer_id`` (column or index) and ``segment_column``: the segment of each
            customer for popular-in-segment.

        Returns
        -------
        Recommender
            self

        Raises
        ------
        DataValidationError
            ``product_id`` missing, no purchase line up to ``as_of``, bad parameters.
        """
        self._check_params()
        day = as_of_day(as_of)
        lines = purchase_lines(tx, day)
        if lines.empty:
            raise DataValidationError(
                f"product_id: no purchase line with a product on or before {day.date()}",
                column="product_id", rule="at least one purchase up to as_of")
        self.backtest_ = None
        if self.method == "auto":
            chosen, table, reason = self._backtest(lines, day, customers)
            self.backtest_ = table
        else:
            chosen, reason = self.method, f"method={self.method!r}"
        self.selection_ = {"chosen": chosen, "reason": reason}
        self._fit_lines(lines, day, customers, chosen)
        from crm_ml.tracking.autologging import after_fit

        after_fit(self, "recommend", data=tx, run_name=f"recommend-{self.method_}")
        return self

    def _fit_lines(self, lines: pd.DataFrame, day: pd.Timestamp, customers, method: str
                   ) -> Recommender:
        """Fit ``method`` on purchase lines that end on ``day`` (sets the fitted state)."""
        hl = None if self.half_life_days is None else float(self.half_life_days)
        product_codes, products = pd.factorize(lines["product_id"], sort=True)
        customer_codes, customer_ids = pd.factorize(lines["customer_id"], sort=False)
        days = _days(lines["timestamp"])
        day_n = int((day.to_datetime64().astype("datetime64[D]") - _EPOCH).astype(np.int64))
        line_w = (np.power(0.5, np.clip(day_n + 1 - days, 0, None) / hl) if hl
                  else np.ones(len(days)))
        n_p = len(products)
        pair = customer_codes.astype(np.int64) * n_p + product_codes
        pairs = pd.DataFrame({"pair": pair, "w": line_w, "day": days}).groupby(
            "pair", sort=True).agg(w=("w", "sum"), day=("day", "max"))
        rows = (pairs.index.to_numpy() // n_p).astype(np.int64)
        cols = (pairs.index.to_numpy() % n_p).astype(np.int64)
        shape = (len(customer_ids), n_p)
        # a very old purchase may weigh ~0 but must still count as owned (kept in the matrix)
        weights = np.maximum(pairs["w"].to_numpy(), 1e-30).astype(np.float32)
        hist = sp.csr_matrix((weights, (rows, cols)), shape=shape)
        last = sp.csr_matrix((pairs["day"].to_numpy().astype(np.int32), (rows, cols)),
                             shape=shape)
        hist.sort_indices()
        last.sort_indices()

        self.as_of_ = day
        self.products_ = pd.Index(products.astype(str), name="product_id")
        self.customer_ids_ = pd.Index(customer_ids, name="customer_id")
        self.n_customers_ = int(len(customer_ids))
        self.histories_ = hist
        self.last_bought_ = last
        buyer_w = buyer_weights(pairs["day"].to_numpy(), day_n, hl)
        self.popular_ = pd.Series(popularity(rows, cols, buyer_w, n_p), index=self.products_,
                                  name="popularity")
        seg = segment_table(self.customer_ids_, customers, self.segment_column)
        self.segment_popular_ = self._segment_popularity(seg, rows, cols, buyer_w, n_p)
        # customers without a purchase yet keep their segment: they get popular-in-segment
        self.customer_segments_ = _with_customers_without_purchases(
            seg, customers, self.segment_column)
        self.similarity_ = None
        self.item_factors_ = None
        if method == "item_knn":
            self.similarity_ = _knn.similarity(hist, self.k_neighbors, self.shrinkage)
        elif method == "als":
            self.item_factors_ = _als.fit_item_factors(
                hist, self.factors, self.regularization, self.iterations, self.alpha,
                self.random_state)
        self.method_ = method
        return self

    def _segment_popularity(self, seg: pd.Series, rows, cols, buyer_w, n_p) -> pd.DataFrame:
        known = seg.dropna()
        if known.empty:
            return pd.DataFrame(np.zeros((0, n_p)), columns=self.products_)
        sizes = known.astype(str).value_counts()
        keep = sorted(sizes.index[sizes >= self.min_segment_customers])
        if not keep:
            return pd.DataFrame(np.zeros((0, n_p)), columns=self.products_)
        code_of = {s: i for i, s in enumerate(keep)}
        seg_code = np.array([code_of.get(str(v), -1) if v is not None and v == v else -1
                             for v in seg.to_numpy()], dtype=np.int64)
        table = popularity(rows, cols, buyer_w, n_p, groups=seg_code[rows],
                           n_groups=len(keep))
        return pd.DataFrame(table, index=pd.Index(keep, name=self.segment_column),
                            columns=self.products_)

    def _backtest(self, lines: pd.DataFrame, day: pd.Timestamp, customers):
        """Recall@10 of each method on the history's own future (see ``backtest_``).

        The time split (history up to ``day - backtest_days`` predicts the new products of
        the last ``backtest_days``) is the primary test. When it has fewer than
        ``MIN_BACKTEST_CUSTOMERS`` customers, each customer's last 20 % of purchase lines
        up to ``day`` is held out as a second test and the recalls are pooled over the
        customers of both.
        """
        cut = day - pd.Timedelta(days=int(self.backtest_days))
        ts = utc_naive(lines["timestamp"])
        past = lines[ts < history_end(cut)]
        splits = []
        truth = _truth(past, lines[ts >= history_end(cut)], exclude_purchased=True)
        if len(past) and truth:
            splits.append(("time_split", past, cut, truth))
        if sum(len(s[3]) for s in splits) < MIN_BACKTEST_CUSTOMERS:
            train, test = holdout_last(lines, 0.2)
            held = _truth(train, test, exclude_purchased=True)
            if len(train) and held:
                splits.append(("holdout_last", train, day, held))
        if not splits:
            return "item_knn", None, (
                f"no customer with a history before {cut.date()} bought a new product in the "
                f"last {self.backtest_days} days, and no customer has enough lines to hold "
                "out their last 20 %, so nothing to backtest; item_knn is the default")
        rows = []
        for m in METHODS:
            row = {"method": m}
            total = {name: 0.0 for name in METRICS}
            n_all = 0
            for name, train, end, truth in splits:
                sub = self._copy_params()._fit_lines(train, end, customers, m)
                recs = sub._recommend_ids(list(truth), k=10, exclude_purchased=True)
                scores = ranking_metrics(lists_by_customer(recs), truth, 10,
                                         catalogue=sub.products_)
                n = scores["n_customers"]
                for metric in METRICS:
                    total[metric] += scores[metric] * n
                n_all += n
                row[f"recall_at_k_{name}"] = scores["recall_at_k"]
                row[f"n_customers_{name}"] = n
            row.update({metric: total[metric] / n_all for metric in METRICS})
            row["n_customers"] = n_all
            rows.append(row)
        table = pd.DataFrame(rows)
        first = ["method", *METRICS, "n_customers"]
        table = table[first + [c for c in table.columns if c not in first]]
        best = table["recall_at_k"].to_numpy()
        chosen = METHODS[int(np.nanargmax(best))] if np.isfinite(best).any() else "item_knn"
        table["chosen"] = table["method"] == chosen
        tests = " and ".join(
            f"the time split {cut.date()} -> {day.date()}" if name == "time_split"
            else "each customer's last 20 % of lines" for name, *_ in splits)
        reason = (f"best recall@10 ({table.loc[table.chosen, 'recall_at_k'].iloc[0]:.4f}) on "
                  f"{tests}, {n_all} customers; ties go to the simpler method")
        return chosen, table, reason

    def _copy_params(self) -> Recommender:
        return type(self)(**self.get_params())

    # -------------------------------------------------------------- recommending
    def _require_fit(self) -> None:
        if not hasattr(self, "method_"):
            raise NotFittedError("Recommender is not fitted: call fit(tx, as_of) first")

    def recommend(self, customers=None, k: int = 10, exclude_purchased: bool = True
                  ) -> pd.DataFrame:
        """Top-``k`` products for customers known from fit (and popular ones for others).

        Parameters
        ----------
        customers : list-like, optional
            Customer ids, in the order wanted; default every customer with a purchase in
            fit. An id not seen in fit gets popular(-in-segment) products.
        k : int
            Products per customer (fewer when the catalogue, minus what they bought, is
            smaller).
        exclude_purchased : bool
            Leave out the products the customer bought up to ``as_of``.

        Returns
        -------
        DataFrame
            ``customer_id, rank, product_id, score, reason``: ranks 1..k, one block per
            customer in the order asked. ``score`` is the method's score (item_knn: sum of
            weight x similarity over the owned products; als: predicted preference;
            popular: recency-weighted buyers).

        Raises
        ------
        ModelFilesError
            The model was loaded from files saved without histories (use
            :meth:`recommend_for`).
        """
        self._require_fit()
        if self.histories_ is None:
            from crm_ml.errors import ModelFilesError

            raise ModelFilesError(
                "this Recommender was saved without customer histories "
                "(include_histories=False); give the histories with recommend_for(history)")
        ids = self.customer_ids_ if customers is None else customers
        return self._recommend_ids(ids, k, exclude_purchased)

    def _recommend_ids(self, customers, k: int, exclude_purchased: bool) -> pd.DataFrame:
        ids = _id_list(customers)
        pos = self.customer_ids_.get_indexer(pd.Index(ids, dtype=object)) if len(ids) else \
            np.zeros(0, dtype=np.int64)
        hist, last = _take_rows(self.histories_, pos), _take_rows(self.last_bought_, pos)
        seg = self.customer_segments_.reindex(pd.Index(ids, dtype=object)).to_numpy() \
            if len(ids) else np.zeros(0, dtype=object)
        return self._rank(ids, hist, last, seg, k, exclude_purchased)

    def recommend_for(self, history: pd.DataFrame, k: int = 10, exclude_purchased: bool = True,
                      segments=None) -> pd.DataFrame:
        """Top-``k`` products for customers described by their purchase history.

        Needs no customer stored in the model: this is the path of the pyfunc, of
        :func:`crm_ml.serve.recommend_products` and of ``crm-ml score``.

        Parameters
        ----------
        history : DataFrame
            ``customer_id, product_id[, timestamp]``: each customer's products (e.g. their
            recent purchases). With ``timestamp`` the lines are recency-weighted at the
            model's ``as_of`` (later lines weigh 1) and the reason gives the purchase date.
            Products never seen in fit are ignored; a customer with none left gets popular
            products.
        k : int
        exclude_purchased : bool
            Leave out the products in the customer's history.
        segments : Series, dict or DataFrame, optional
            Customer id -> segment (a DataFrame: ``customer_id`` and ``segment_column``);
            default the segments known from fit.

        Returns
        -------
        DataFrame
            ``customer_id, rank, product_id, score, reason`` (see :meth:`recommend`), one
            block per customer in order of first appearance in ``history``.
        """
        self._require_fit()
        ids, hist, last = self._history_matrices(history)
        seg = self._segments_of(ids, segments)
        return self._rank(list(ids), hist, last, seg, k, exclude_purchased)

    def _history_matrices(self, history: pd.DataFrame):
        if not isinstance(history, pd.DataFrame):
            raise DataValidationError("history: must be a DataFrame with customer_id and "
                                      "product_id", column="history", rule="DataFrame")
        for column in ("customer_id", "product_id"):
            if column not in history.columns:
                raise DataValidationError(
                    f"{column}: column is missing from the history; it has "
                    f"{sorted(map(str, history.columns))}", column=column,
                    rule="required column")
        h = history[history["customer_id"].notna()]
        ids = pd.Index(pd.unique(h["customer_id"]), dtype=object, name="customer_id")
        h = h[h["product_id"].notna()]
        col = self.products_.get_indexer(h["product_id"].astype(str))
        known = col >= 0
        row = ids.get_indexer(h["customer_id"])[known]
        col = col[known]
        n_p = len(self.products_)
        if "timestamp" in h.columns:
            ts = pd.to_datetime(h["timestamp"], errors="coerce")[known]
            days = _days(ts.fillna(pd.Timestamp(0))).astype(np.int64)
            days[ts.isna().to_numpy()] = -1
        else:
            days = np.full(len(row), -1, dtype=np.int64)
        day_n = int((self.as_of_.to_datetime64().astype("datetime64[D]") - _EPOCH).astype(
            np.int64))
        if self.half_life_days is not None:
            age = np.where(days >= 0, np.clip(day_n + 1 - days, 0, None), 0)
            w = np.power(0.5, age / float(self.half_life_days))
        else:
            w = np.ones(len(row))
        pair = row.astype(np.int64) * n_p + col
        agg = pd.DataFrame({"pair": pair, "w": w, "day": days}).groupby("pair", sort=True).agg(
            w=("w", "sum"), day=("day", "max"))
        r = (agg.index.to_numpy() // max(n_p, 1)).astype(np.int64)
        c = (agg.index.to_numpy() % max(n_p, 1)).astype(np.int64)
        shape = (len(ids), n_p)
        hist = sp.csr_matrix((np.maximum(agg["w"].to_numpy(), 1e-30).astype(np.float32),
                              (r, c)), shape=shape)
        last = sp.csr_matrix((agg["day"].to_numpy().astype(np.int32), (r, c)), shape=shape)
        hist.sort_indices()
        last.sort_indices()
        return ids, hist, last

    def _segments_of(self, ids: pd.Index, segments) -> np.ndarray:
        if segments is None:
            known = getattr(self, "customer_segments_", None)
            if known is None or not len(ids):
                return np.full(len(ids), None, dtype=object)
            return known.reindex(ids).to_numpy()
        if isinstance(segments, pd.DataFrame):
            return segment_table(ids, segments, self.segment_column).to_numpy()
        mapping = pd.Series(segments) if isinstance(segments, dict) else segments
        return pd.Series(mapping).reindex(ids).to_numpy()

    def _rank(self, ids: list, hist: sp.csr_matrix, last: sp.csr_matrix, seg: np.ndarray,
              k: int, exclude_purchased: bool) -> pd.DataFrame:
        """Score, rank and explain, one batch of customers at a time."""
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise DataValidationError(f"k: must be an integer >= 1, got {k!r}", column="k",
                                      rule="integer >= 1")
        n_p = len(self.products_)
        pop = self.popular_.to_numpy(dtype=np.float64)
        seg_pop = self.segment_popular_
        seg_index = {str(s): i for i, s in enumerate(seg_pop.index)}
        seg_code = np.array([seg_index.get(str(s), -1) if s is not None and s == s else -1
                             for s in seg], dtype=np.int64)
        pop_table = np.vstack([pop[None, :], seg_pop.to_numpy(dtype=np.float64)]) \
            if len(seg_pop) else pop[None, :]
        # popularity as a fallback key in [-1, 0): below every positive model score
        pop_key = (-1.0 + pop_table / (pop_table.max(axis=1, keepdims=True) * 1.001 + 1e-300)
                   ).astype(np.float32)
        parts = []
        # at most batch_size customers, and at most ~16 M score cells, per batch
        step = int(max(1, min(self.batch_size, _BATCH_CELLS // max(n_p, 1))))
        for start in range(0, len(ids), step):
            stop = min(len(ids), start + step)
            h = hist[start:stop]
            codes = seg_code[start:stop]
            model = self._scores(h)
            base = pop_key[codes + 1]
            has_hist = np.diff(h.indptr) > 0
            if model is None:
                key, from_model = base, np.zeros_like(base, dtype=bool)
            elif self.method_ == "als":
                from_model = np.broadcast_to(has_hist[:, None], base.shape)
                key = np.where(from_model, model, base)
            else:
                from_model = model > 0
                key = np.where(from_model, model, base)
            if exclude_purchased and h.nnz:
                r, c = h.nonzero()
                key[r, c] = -np.inf
            rows, cols, ranks = top_k(key, k)
            modelled = from_model[rows, cols]
            score = np.where(modelled, key[rows, cols],
                             pop_table[codes[rows] + 1, cols]).astype(float)
            kind = np.where(modelled, _reasons.OWNED,
                            np.where(codes[rows] >= 0, _reasons.SEGMENT, _reasons.POPULAR))
            owned_pid = np.full(len(rows), None, dtype=object)
            owned_day = np.full(len(rows), -1, dtype=np.int64)
            if modelled.any():
                m_rows, m_cols = rows[modelled], cols[modelled]
                if self.method_ == "als":
                    unit, table = self._als_cosines()
                    best, _ = _reasons.best_owned(
                        h, m_rows, m_cols, partial(_als.pair_similarity, unit, table=table),
                        use_weight=False)
                else:
                    best, _ = _reasons.best_owned(
                        h, m_rows, m_cols, partial(_knn.pair_similarity, self.similarity_))
                ok = best >= 0
                idx = np.flatnonzero(modelled)
                owned_pid[idx[ok]] = self.products_.to_numpy()[h.indices[best[ok]]]
                owned_day[idx[ok]] = last[start:stop].data[best[ok]]
                kind[idx[~ok]] = np.where(codes[rows[idx[~ok]]] >= 0, _reasons.SEGMENT,
                                          _reasons.POPULAR)
            seg_names = np.asarray(seg_pop.index, dtype=object)[np.maximum(codes[rows], 0)] \
                if len(seg_pop) else np.full(len(rows), None, dtype=object)
            parts.append(pd.DataFrame({
                "customer_id": np.asarray(ids, dtype=object)[start + rows] if len(rows)
                else np.zeros(0, dtype=object),
                "rank": ranks.astype(np.int64),
                "product_id": self.products_.to_numpy()[cols] if n_p else
                np.zeros(0, dtype=object),
                "score": score,
                "reason": _reasons.texts(kind, owned_pid, owned_day, seg_names,
                                         self.segment_column).to_numpy(),
            }))
        if not parts:
            return pd.DataFrame({"customer_id": pd.Series(dtype=object),
                                 "rank": pd.Series(dtype=np.int64),
                                 "product_id": pd.Series(dtype=object),
                                 "score": pd.Series(dtype=float),
                                 "reason": pd.Series(dtype=object)})
        return pd.concat(parts, ignore_index=True)[RECOMMEND_COLUMNS]

    def _als_cosines(self):
        """Unit product factors and their cosine table (computed once, not saved)."""
        cached = getattr(self, "_cosines", None)
        if cached is None or cached[0] is not self.item_factors_:
            unit = _als.normalized(self.item_factors_)
            cached = (self.item_factors_, unit, _als.cosine_table(unit))
            self._cosines = cached
        return cached[1], cached[2]

    def _scores(self, h: sp.csr_matrix) -> np.ndarray | None:
        if self.method_ == "item_knn":
            return _knn.scores(h, self.similarity_)
        if self.method_ == "als":
            return _als.scores(h, self.item_factors_, self.regularization, self.alpha)
        return None

    # -------------------------------------------------------------- evaluation
    def evaluate(self, tx: pd.DataFrame, as_of=None, horizon_days: int = 90, k: int = 10,
                 exclude_purchased: bool = True) -> dict:
        """Ranking quality on the purchases after ``as_of``, against the popular baseline.

        Each customer's history is their purchase lines up to ``as_of``; the truth is the
        products they bought in the ``horizon_days`` days after it (with
        ``exclude_purchased``, only products they had not bought before: those are the
        only ones a recommendation can name). Customers with a history and a non-empty
        truth count. The baseline is ``method="popular"`` fitted on the same history.
        Metrics are defined in :mod:`crm_ml.recommend.evaluation`.

        Parameters
        ----------
        tx : DataFrame
            Transactions covering the history and the horizon.
        as_of : date-like, optional
            End of history; default the model's ``as_of_``. Another date refits a copy of
            the model (its chosen ``method_``) on the history up to it; the fitted model is
            unchanged.
        horizon_days : int
        k : int
        exclude_purchased : bool

        Returns
        -------
        dict
            ``recall_at_k, precision_at_k, ndcg_at_k, map_at_k, coverage, n_customers``,
            the same with a ``baseline_`` prefix (without n_customers), ``k``, ``method``.

        Raises
        ------
        DataValidationError
            No purchase line up to ``as_of`` (nothing to recommend from), bad ``k`` or
            ``horizon_days``.
        """
        self._require_fit()
        day = self.as_of_ if as_of is None else as_of_day(as_of)
        lines = purchase_lines(tx)
        ts = utc_naive(lines["timestamp"])
        past = lines[ts < history_end(day)]
        if past.empty:
            raise DataValidationError(
                f"product_id: no purchase line with a product on or before {day.date()}, so "
                "there is no history to recommend from", column="product_id",
                rule="at least one purchase up to as_of")
        window = future(lines, day, int(horizon_days))
        truth = _truth(past, window, exclude_purchased)
        seg_frame = self._segment_frame()
        model = self if day == self.as_of_ else \
            self._copy_params()._fit_lines(past, day, seg_frame, self.method_)
        baseline = self._copy_params().set_params(method="popular")._fit_lines(
            past, day, seg_frame, "popular")
        ids = list(truth)
        hist_frame = past[past["customer_id"].isin(ids)]
        truth = {c: truth[c] for c in ids}
        out = {}
        for prefix, m in (("", model), ("baseline_", baseline)):
            recs = m.recommend_for(hist_frame, k=k, exclude_purchased=exclude_purchased)
            scores = ranking_metrics(lists_by_customer(recs), truth, k,
                                     catalogue=m.products_)
            for name in METRICS:
                out[prefix + name] = scores[name]
            if not prefix:
                out["n_customers"] = scores["n_customers"]
        out["k"] = int(k)
        out["method"] = self.method_
        return out

    def _segment_frame(self) -> pd.DataFrame | None:
        seg = getattr(self, "customer_segments_", None)
        if self.segment_column is None or seg is None:
            return None
        return pd.DataFrame({"customer_id": seg.index, self.segment_column: seg.to_numpy()})

    def score(self, tx: pd.DataFrame, as_of=None) -> float:
        """Recall@10 on the 90 days after ``as_of`` (see :meth:`evaluate`); higher is better.

        ``recall@10 = hits / min(10, |products bought|)`` averaged over the customers with a
        history who bought a new product in the window.
        """
        return float(self.evaluate(tx, as_of=as_of, horizon_days=90, k=10)["recall_at_k"])

    # ------------------------------------------------------------ persistence
    def save(self, path, include_histories: bool = True):
        """Write the model to the folder ``path`` as JSON and NPZ (never pickle).

        Parameters
        ----------
        path : path-like
            Folder (created): ``recommender.json`` and ``arrays.npz``.
        include_histories : bool
            Keep the customers' histories (and so customer ids) for :meth:`recommend`.
            False writes no customer id: the loaded model serves :meth:`recommend_for`.

        Returns
        -------
        dict
            ``{"spec": Path, "arrays": Path}``.
        """
        from crm_ml.recommend._persist import save

        self._require_fit()
        return save(self, path, include_histories)

    @classmethod
    def load(cls, path) -> Recommender:
        """A fitted Recommender from a folder written by :meth:`save`.

        Raises
        ------
        ModelFilesError
            Files missing, damaged or changed since they were written.
        UntrustedModelError
            The folder is not a crm_ml Recommender (unknown format, or arrays holding
            Python objects).
        """
        from crm_ml.recommend._persist import load

        return load(cls, path)


def _with_customers_without_purchases(seg: pd.Series, customers, segment_column) -> pd.Series:
    """``seg`` (purchasers) plus the other customers of ``customers`` with their segment."""
    if customers is None or segment_column is None:
        return seg
    ids = customers["customer_id"] if "customer_id" in customers.columns else customers.index
    ids = pd.Index(pd.unique(pd.Series(ids).dropna()), dtype=object)
    extra = ids[~ids.isin(seg.index)]
    if not len(extra):
        return seg
    return pd.concat([seg, segment_table(extra, customers, segment_column)])


def _id_list(customers) -> list:
    if isinstance(customers, (str, bytes)) or np.isscalar(customers):
        customers = [customers]
    return list(pd.Index(customers, dtype=object))


def _take_rows(m: sp.csr_matrix, pos: np.ndarray) -> sp.csr_matrix:
    """Rows ``pos`` of ``m`` (-1: an empty row)."""
    if not len(pos):
        return sp.csr_matrix((0, m.shape[1]), dtype=m.dtype)
    safe = np.where(pos >= 0, pos, 0)
    out = m[safe].tocsr()
    if (pos < 0).any():
        counts = np.where(pos >= 0, np.diff(out.indptr), 0)
        keep = np.repeat(pos >= 0, np.diff(out.indptr))
        indptr = np.concatenate([[0], np.cumsum(counts)])
        out = sp.csr_matrix((out.data[keep], out.indices[keep], indptr), shape=out.shape)
    out.sort_indices()
    return out


def _truth(past: pd.DataFrame, window: pd.DataFrame, exclude_purchased: bool) -> dict:
    """Customer -> set of products bought in ``window`` (new ones only when excluding),
    for customers with a history in ``past`` and a non-empty set."""
    known = set(past["customer_id"])
    w = window[window["customer_id"].isin(known)][["customer_id", "product_id"]]
    w = w.astype({"product_id": str}).drop_duplicates()
    if exclude_purchased and len(w):
        owned = past[["customer_id", "product_id"]].astype({"product_id": str}) \
            .drop_duplicates()
        w = w.merge(owned, how="left", indicator=True)
        w = w[w["_merge"] == "left_only"].drop(columns="_merge")
    if w.empty:
        return {}
    return {c: set(g) for c, g in w.groupby("customer_id", sort=False)["product_id"]}
