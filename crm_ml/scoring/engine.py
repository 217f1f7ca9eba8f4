"""The pandas scoring engine: every customer, every registered champion, one table.

Customers are scored in chunks (by customer, so a customer's history is never split) to bound
memory. RFM cut points are fitted on the whole scored population first, so scores do not
depend on the chunk size. Customers that cannot be scored go to a rejects table with the
reason, so every customer in the input appears exactly once in one of the two.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from crm_ml._logging import get_logger
from crm_ml._progress import track
from crm_ml.data.windows import history
from crm_ml.features.ranges import check_inputs
from crm_ml.model_names import CHURN, CLV, RECOMMEND, SEGMENTS
from crm_ml.output_files import check_output_path, write_atomic  # noqa: F401 - re-exported
from crm_ml.scoring.inputs import CRMData, check_model_inputs
from crm_ml.scoring.preflight import check_scorable
from crm_ml.serve import get_model, required_fields
from crm_ml.tracking.registry import get_version

log = get_logger("scoring")

#: Output columns and their dtypes, in order (``customer_id`` is the index). Both engines
#: write exactly these, followed by one ``model_<name>`` column per model used.
SCORE_DTYPES = {
    "as_of": "datetime64[ns]",
    "recency_days": "int64", "frequency": "int64", "monetary": "float64",
    "r_score": "int64", "f_score": "int64", "m_score": "int64", "rfm_code": "object",
    "rfm_segment": "object", "segment": "int64", "segment_name": "object",
    "churn_probability": "float64", "reason_1": "object", "reason_2": "object",
    "reason_3": "object", "expected_purchases": "float64", "p_alive": "float64",
    "expected_value": "float64", "clv": "float64", "clv_tier": "object",
    "value_at_risk": "float64",
}
SCORE_COLUMNS = [c for c in SCORE_DTYPES if c != "as_of"]
#: The registered models a scoring run uses.
MODEL_NAMES = (CHURN, CLV, SEGMENTS)
#: Product recommendations added (pandas engine) when the transactions carry ``product_id``
#: and a ``crm-recommend`` model is registered at the alias; absent otherwise.
REC_COLUMNS = ("rec_1", "rec_2", "rec_3")
REJECT_NO_PURCHASE = "no purchase on or before as_of"
REJECT_ONLY_RETURNS = "only returns or zero amounts on or before as_of"
#: Batch features are built from validated transactions, so a customer beyond the training
#: range (a new big spender) is real: score them and warn (InputRangeWarning) instead of
#: refusing the run. Impossible values (infinite, negative durations) are still refused.
BATCH_RANGE_CHECK = {"range_check": "warn"}


@dataclass
class ScoreResult:
    """Scores (index ``customer_id``), rejects (``customer_id``, ``reason``) and a summary."""

    scores: pd.DataFrame
    rejects: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Champions:
    """The registered models a scoring run uses, loaded once."""

    churn: Any
    clv: Any
    segments: Any
    versions: dict[str, str]
    recommend: Any = None

    @classmethod
    def load(cls, alias: str = "champion", recommend: bool = False) -> Champions:
        """Load the three registered models at ``alias`` (a clear error if one is missing)
        and, with ``recommend``, ``crm-recommend`` when it is registered there (else None)."""
        versions = {name: str(get_version(name, alias).version) for name in MODEL_NAMES}
        rec = None
        if recommend:
            from crm_ml.errors import ModelNotFoundError

            try:
                versions[RECOMMEND] = str(get_version(RECOMMEND, alias).version)
            except ModelNotFoundError:
                pass
            else:
                rec = get_model(RECOMMEND, alias)
        return cls(churn=get_model(CHURN, alias), clv=get_model(CLV, alias),
                   segments=get_model(SEGMENTS, alias), versions=versions, recommend=rec)


def has_products(tx: pd.DataFrame) -> bool:
    """Whether the transactions name a product on at least one row."""
    return "product_id" in tx.columns and bool(tx["product_id"].notna().any())


def recommendation_columns(data: CRMData, ids: pd.Index, model) -> pd.DataFrame:
    """``rec_1..rec_3`` (product ids) for customers ``ids`` from their purchases up to as_of.

    Each customer's purchase lines (with timestamps, and the segment the model was fitted
    with when the customers table has it) are the input of the ``crm-recommend`` pyfunc
    (:func:`crm_ml.recommend.pyfunc.recommend_rows`); a customer with no product line gets
    popular items.
    """
    from crm_ml.recommend.baskets import purchase_lines
    from crm_ml.recommend.pyfunc import recommend_rows

    wrapper = model.unwrap_python_model()
    lines = purchase_lines(data.transactions, data.as_of)
    lines = lines.loc[lines["customer_id"].isin(ids), ["customer_id", "product_id",
                                                       "timestamp"]]
    empty = ids[~ids.isin(lines["customer_id"])]
    history = pd.concat([lines, pd.DataFrame({"customer_id": empty, "product_id": None})],
                        ignore_index=True)
    column = getattr(wrapper.model, "segment_column", None)
    if column and data.customers is not None and column in data.customers.columns:
        seg = data.customers.drop_duplicates("customer_id").set_index("customer_id")[column]
        history["segment"] = history["customer_id"].map(seg)
    recs = recommend_rows(wrapper.model, history, k=len(REC_COLUMNS))
    wide = recs.pivot(index="customer_id", columns="rank", values="product_id")
    return pd.DataFrame({c: wide[i].reindex(ids.astype(str)).to_numpy() if i in wide else None
                         for i, c in enumerate(REC_COLUMNS, start=1)}, index=ids)


def _universe(data: CRMData) -> tuple[pd.Index, pd.DataFrame]:
    """All customers in the input and the rejects among them (sorted by customer_id)."""
    hist = history(data.transactions, data.as_of)
    ids = set(data.transactions["customer_id"].unique())
    if data.customers is not None:
        ids |= set(data.customers["customer_id"])
    if data.interactions is not None:
        ids |= set(data.interactions["customer_id"].unique())
    everyone = pd.Index(sorted(ids), name="customer_id")
    buyers = pd.Index(hist.loc[hist["amount"] > 0, "customer_id"].unique())
    any_row = pd.Index(hist["customer_id"].unique())
    reason = pd.Series(REJECT_NO_PURCHASE, index=everyone)
    reason[everyone.isin(any_row)] = REJECT_ONLY_RETURNS
    reason = reason[~everyone.isin(buyers)]
    rejects = reason.rename("reason").reset_index()
    return everyone[everyone.isin(buyers)], rejects


def fit_rfm_scorer(rfm: pd.DataFrame):
    """RFM cut points fitted on the whole scored population (not per chunk)."""
    from crm_ml.rfm import RFMScorer

    return RFMScorer().fit(rfm)


def rfm_scores(rfm: pd.DataFrame, scorer) -> pd.DataFrame:
    """RFM columns of the scores table for the customers in ``rfm``."""
    scored = scorer.transform(rfm)
    return scored[["recency_days", "frequency", "monetary", "r_score", "f_score", "m_score",
                   "rfm_code", "segment"]].rename(columns={"segment": "rfm_segment"})


def n_chunks(n_customers: int, chunk_size: int) -> int:
    """How many chunks of ``chunk_size`` customers hold ``n_customers``."""
    return -(-n_customers // chunk_size)


def _rows_by_chunk(df: pd.DataFrame | None, ids: pd.Index, chunk_size: int):
    """A function: chunk number -> that chunk's rows of ``df`` in input order (``None`` if
    ``df`` is). Hashes ``df``'s ids once; rows of customers outside ``ids`` are in no chunk.
    """
    if df is None:
        return lambda i: None
    chunk = ids.get_indexer(df["customer_id"]) // chunk_size  # -1 (not scored) stays -1
    order = np.argsort(chunk, kind="stable")  # stable: rows keep their input order
    bounds = np.searchsorted(chunk[order], np.arange(n_chunks(len(ids), chunk_size) + 1))
    return lambda i: df.iloc[order[bounds[i]:bounds[i + 1]]]


def chunk_data(data: CRMData, ids: pd.Index, chunk_size: int):
    """The data of every chunk of ``chunk_size`` customers of ``ids``, one chunk at a time.

    Yields (customer ids, CRMData with just their rows); each frame is hashed once, not once
    per chunk.
    """
    parts = {name: _rows_by_chunk(getattr(data, name), ids, chunk_size)
             for name in ("transactions", "customers", "interactions")}
    for i, start in enumerate(range(0, len(ids), chunk_size)):
        yield ids[start:start + chunk_size], CRMData(
            transactions=parts["transactions"](i), as_of=data.as_of,
            customers=parts["customers"](i), interactions=parts["interactions"](i))


def score_chunk(data: CRMData, ids: pd.Index, models: Champions,
                rfm: pd.DataFrame) -> pd.DataFrame:
    """Scores for customers ``ids`` (all have a purchase).

    ``data`` holds those customers' rows (it may hold others too); ``rfm`` holds their RFM
    columns (:func:`rfm_scores`), scored with the population's cut points. Adds churn with
    reasons, cluster segments, CLV and value at risk.
    """
    from crm_ml.clv import purchase_summary
    from crm_ml.clv.pyfunc import input_columns
    from crm_ml.clv.risk import value_at_risk
    from crm_ml.features import build
    from crm_ml.segmentation import segmentation_features

    tx, as_of = data.transactions, data.as_of
    out = rfm.reindex(ids)

    churn = models.churn.unwrap_python_model()
    churn_model = churn.model
    # the model's own columns passed the privacy screen (or were allowed) at training; a
    # chunk of a few customers must not lose them to the near-unique rule
    X = build(tx, as_of, interactions=data.interactions, customers=data.customers,
              allow_columns=churn_model.feature_names_in_).reindex(ids)
    check_inputs(churn.input_ranges, X, BATCH_RANGE_CHECK, "the churn model")
    reasons = churn_model.explain(X, top_k=3).reasons
    out["churn_probability"] = reasons["churn_probability"]
    for i in (1, 2, 3):
        out[f"reason_{i}"] = reasons.get(f"reason_{i}")

    seg_in = segmentation_features(tx, as_of).reindex(ids)
    needed = required_fields(models.segments)  # the model's own features, nothing extra
    # indexed by customer_id, so that range warnings name the customers
    seg = models.segments.unwrap_python_model().predict(
        None, seg_in[needed or seg_in.columns], params=BATCH_RANGE_CHECK)
    out["segment"] = seg["segment"].to_numpy()
    out["segment_name"] = seg["segment_name"].to_numpy()

    clv_wrapper = models.clv.unwrap_python_model()
    clv_model = clv_wrapper.model
    summary = purchase_summary(tx, as_of, clv_model.time_unit,
                               clv_model.zero_amount).reindex(ids)
    clv_in = summary[input_columns(clv_model)]  # + total_spend for a hybrid model
    clv = clv_wrapper.predict(None, clv_in, params=BATCH_RANGE_CHECK)
    for c in ("expected_purchases", "p_alive", "expected_value", "clv", "clv_tier"):
        out[c] = clv[c].to_numpy()
    # the one value-at-risk rule, as in crm-ml train's clv_value_at_risk.csv
    known = out["clv"].notna() & out["churn_probability"].notna()
    var = value_at_risk(out.loc[known, "clv"], out.loc[known, "churn_probability"])
    out["value_at_risk"] = var["value_at_risk"].reindex(out.index.astype(str)).to_numpy()
    if models.recommend is not None:
        recs = recommendation_columns(data, ids, models.recommend)
        for c in REC_COLUMNS:
            out[c] = recs[c].to_numpy()
    return out


def score_customers(data: CRMData, alias: str = "champion", chunk_size: int = 200_000,
                    show_progress: bool | None = None) -> ScoreResult:
    """Score every customer with the registered models at ``alias``.

    Parameters
    ----------
    data : CRMData
        From :func:`crm_ml.scoring.load_inputs` (or a :class:`~crm_ml.datasets.CRMDataset`).
    alias : str, default "champion"
        Registry alias (or version) of the models of :data:`MODEL_NAMES`.
    chunk_size : int, default 200,000
        Customers per chunk (>= 1); bounds memory, does not change results.
    show_progress : bool, optional
        Progress bar per chunk (default: the global setting).

    Returns
    -------
    ScoreResult
        ``scores`` indexed by ``customer_id`` with :data:`SCORE_COLUMNS` plus ``as_of`` and the
        model versions used; ``rejects`` with the reason for every customer not scored.
    """
    from crm_ml.rfm import rfm_table

    t0 = time.perf_counter()
    if int(chunk_size) < 1:
        raise ValueError(f"chunk_size: must be >= 1, got {chunk_size}")
    chunk_size = int(chunk_size)
    check_scorable(data)
    products = has_products(data.transactions)
    models = Champions.load(alias, recommend=products)
    check_model_inputs(required_fields(models.churn), data,
                       model=f"{CHURN}@{alias} (version {models.versions[CHURN]})")
    ids, rejects = _universe(data)
    rfm = rfm_table(data.transactions, data.as_of)
    rfm = rfm_scores(rfm, fit_rfm_scorer(rfm))
    chunks = chunk_data(data, ids, chunk_size)
    parts = [score_chunk(chunk, chunk_ids, models, rfm.reindex(chunk_ids))
             for chunk_ids, chunk in track(chunks, "Scoring customers",
                                           total=n_chunks(len(ids), chunk_size),
                                           show=show_progress)]
    scores = finalize(pd.concat(parts) if parts else pd.DataFrame(index=ids), data.as_of,
                      models.versions, alias)
    summary = {
        "as_of": str(data.as_of.date()),
        "customers_in_input": int(len(ids) + len(rejects)),
        "customers_scored": int(len(scores)),
        "customers_rejected": int(len(rejects)),
        "rejects_by_reason": {str(k): int(v) for k, v in
                              rejects["reason"].value_counts().items()},
        "rows_read": {k: int(v.get("rows_in", 0)) for k, v in data.quality.items()},
        "rows_dropped": {k: v.get("dropped", {}) for k, v in data.quality.items()},
        "models": models.versions,
        "recommendations": recommendation_note(products, models, alias),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    missing = scores["churn_probability"].isna() | scores["clv"].isna()
    if missing.any():  # never expected; surfaced rather than hidden
        log.warning("%d scored customers have a missing churn or CLV score", int(missing.sum()))
        summary["customers_with_missing_scores"] = int(missing.sum())
    return ScoreResult(scores=scores, rejects=rejects, summary=summary)


def recommendation_note(products: bool, models: Champions, alias: str) -> str:
    """The run summary's line on the ``rec_1..rec_3`` columns: added, or why not."""
    if not products:
        return "not added: the transactions have no product_id"
    if models.recommend is None:
        return f"not added: no {RECOMMEND} model is registered at {alias!r}"
    return f"rec_1..rec_3 from {RECOMMEND}@{alias} (version {models.versions[RECOMMEND]})"


def finalize(scores: pd.DataFrame, as_of, versions: dict[str, str], alias: str) -> pd.DataFrame:
    """Order, type and label a scores frame the same way in every engine.

    ``rec_1..rec_3`` follow :data:`SCORE_DTYPES` when present; one ``model_<name>`` column
    per model of ``versions``."""
    scores = scores.copy()
    scores["as_of"] = pd.Timestamp(as_of)
    for column, dtype in SCORE_DTYPES.items():
        if column not in scores:
            scores[column] = None
        if dtype == "object":
            scores[column] = scores[column].astype(object).where(scores[column].notna(), None)
            scores[column] = scores[column].map(lambda v: v if v is None else str(v))
        else:
            scores[column] = scores[column].astype(dtype)
    recs = [c for c in REC_COLUMNS if c in scores.columns]
    for c in recs:
        scores[c] = scores[c].astype(object).where(scores[c].notna(), None)
    scores = scores[list(SCORE_DTYPES) + recs]
    for name in MODEL_NAMES + ((RECOMMEND,) if recs and RECOMMEND in versions else ()):
        scores[f"model_{name.replace('-', '_')}"] = f"{name}@{alias}=v{versions[name]}"
    scores.index = pd.Index(scores.index.astype(str), name="customer_id")
    return scores.sort_index()


def stable_float(df: pd.DataFrame, decimals: int = 10) -> pd.DataFrame:
    """Round float columns so re-runs write byte-identical files despite float noise."""
    out = df.copy()
    for c in out.columns:
        if out[c].dtype.kind == "f":
            out[c] = np.round(out[c].to_numpy(), decimals)
    return out
