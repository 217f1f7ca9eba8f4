"""Segment migration between two as_of dates, on one fitted scale."""

from __future__ import annotations

import pandas as pd

from crm_ml.data.windows import as_of_day
from crm_ml.errors import DataValidationError
from crm_ml.rfm.scoring import RFMScorer
from crm_ml.rfm.table import rfm_table
from crm_ml.tracking.autologging import paused

__all__ = ["migration_table", "segment_migration"]

NEW = "(new customer)"
GONE = "(no longer present)"


def migration_table(before: pd.DataFrame, after: pd.DataFrame,
                    normalize: str | None = None) -> pd.DataFrame:
    """Cross-table of segments: rows = segment ``before``, columns = segment ``after``.

    Parameters
    ----------
    before, after : DataFrame
        Scored RFM tables (with a ``segment`` column) indexed by ``customer_id``.
    normalize : {None, "index"}, default None
        ``"index"``: each row sums to 1 (share of the ``before`` segment that moved where).

    Returns
    -------
    DataFrame
        Counts (or row shares). Customers only in ``after`` are in the row
        ``"(new customer)"``; customers only in ``before`` in the column
        ``"(no longer present)"``.
    """
    if normalize not in (None, "index"):
        raise DataValidationError("normalize: must be None or 'index'", column="normalize",
                                  rule="allowed value")
    for name, df in (("before", before), ("after", after)):
        if "segment" not in df.columns:
            raise DataValidationError(f"{name}: needs a 'segment' column (use rfm.score)",
                                      column="segment", rule="required column")
    b = before["segment"].astype(str)
    a = after["segment"].astype(str)
    joined = pd.concat([b.rename("before"), a.rename("after")], axis=1, join="outer")
    joined["before"] = joined["before"].fillna(NEW)
    joined["after"] = joined["after"].fillna(GONE)
    order = [s for s in _order(before, after)]
    table = pd.crosstab(joined["before"], joined["after"])
    rows = [s for s in order + [NEW] if s in table.index]
    cols = [s for s in order + [GONE] if s in table.columns]
    table = table.reindex(index=rows, columns=cols, fill_value=0)
    table.index.name, table.columns.name = "segment_before", "segment_after"
    if normalize == "index":
        table = table.div(table.sum(axis=1).where(lambda s: s > 0, 1), axis=0)
    return table


def _order(before, after) -> list[str]:
    cats: list[str] = []
    for df in (before, after):
        seg = df["segment"]
        names = list(seg.cat.categories) if isinstance(seg.dtype, pd.CategoricalDtype) else \
            sorted(seg.astype(str).unique())
        cats += [str(c) for c in names if str(c) not in cats]
    return cats


def segment_migration(transactions: pd.DataFrame, as_of_from, as_of_to, *, bins: int = 5,
                      segments: pd.DataFrame | None = None, normalize: str | None = None,
                      **rfm_kwargs) -> pd.DataFrame:
    """How customers moved between segments from ``as_of_from`` to ``as_of_to``.

    Cut points are fitted at ``as_of_from`` (:class:`RFMScorer`) and applied unchanged at
    ``as_of_to``, so a move is a change in behaviour, not in the scale.

    Parameters
    ----------
    transactions : DataFrame
        Canonical transactions.
    as_of_from, as_of_to : date-like
        The two snapshot days (``as_of_from`` < ``as_of_to``).
    bins, segments
        As in :func:`crm_ml.rfm.score`.
    normalize : {None, "index"}
        See :func:`migration_table`.
    **rfm_kwargs
        Passed to :func:`crm_ml.rfm.rfm_table` (``frequency``, ``monetary``).

    Returns
    -------
    DataFrame
        The migration table.
    """
    if as_of_day(as_of_from) >= as_of_day(as_of_to):
        raise DataValidationError("as_of_from must be before as_of_to", column="as_of",
                                  rule="ordered dates")
    r0 = rfm_table(transactions, as_of_from, **rfm_kwargs)
    r1 = rfm_table(transactions, as_of_to, **rfm_kwargs)
    with paused():  # an internal step of this function, not a fit of its own
        scorer = RFMScorer(bins=bins, segments=segments).fit(r0)
    return migration_table(scorer.transform(r0), scorer.transform(r1), normalize=normalize)
