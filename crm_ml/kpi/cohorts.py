"""Retention cohorts: customers grouped by the period of their first purchase.

A customer's cohort is the period of their first purchase (a row with a positive amount;
returns are not purchases). ``active_share[c, k]`` is the share of cohort ``c``'s customers
who bought in the ``k``-th period after it (``k = 0`` is the acquisition period, so it is 1).
``revenue_retention[c, k]`` is the cohort's revenue in that period, net of returns, divided by
its revenue in period 0. Only complete periods (ended by the as_of day) are shown; a period
not yet observed at as_of is NaN, never 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from crm_ml.kpi._data import (
    FREQS,
    PERIOD_NAMES,
    check_freq,
    check_transactions,
    ordinals,
    period_complete,
    period_start,
)

_METRICS = ("active", "revenue")


@dataclass
class CohortResult:
    """Cohort x period-since-acquisition matrices from :func:`retention_cohorts`.

    Attributes
    ----------
    active_share : DataFrame
        Index ``cohort`` (first day of the acquisition period), columns ``0, 1, ...``
        (periods since acquisition): share of the cohort's customers with a purchase in that
        period. NaN where the period is not observed yet (or the cohort is suppressed).
    revenue_retention : DataFrame
        Same shape: the cohort's revenue (net of returns) in that period divided by its
        revenue in period 0 (NaN when period-0 revenue is not positive).
    cohort_size : Series
        Customers acquired in each cohort (the true size, also for suppressed cohorts; the
        plot and :meth:`to_frame` hide it for those).
    freq : str
        ``"W"``, ``"M"`` or ``"Q"``.
    as_of : Timestamp
        The last day of history read.
    metric : str
        The matrix :meth:`plot` and :meth:`to_frame` show first (``"active"`` or ``"revenue"``).
    min_customers : int
        Cohorts with fewer customers are suppressed (all their cells NaN).
    """

    active_share: pd.DataFrame
    revenue_retention: pd.DataFrame
    cohort_size: pd.Series
    freq: str
    as_of: pd.Timestamp
    metric: str = "active"
    min_customers: int = 0

    @property
    def suppressed(self) -> pd.Index:
        """Cohorts whose cells are suppressed (fewer than ``min_customers`` customers)."""
        return self.cohort_size.index[self.cohort_size < self.min_customers]

    def to_frame(self) -> pd.DataFrame:
        """Long form: one row per observed (cohort, periods since acquisition) cell.

        Returns
        -------
        DataFrame
            Columns ``cohort``, ``period`` (first day of the calendar period),
            ``periods_since``, ``cohort_size``, ``active_share``, ``revenue_retention``.
        """
        active = self.active_share.stack(future_stack=True).rename("active_share")
        revenue = self.revenue_retention.stack(future_stack=True).rename("revenue_retention")
        out = pd.concat([active, revenue], axis=1).reset_index()
        out.columns = ["cohort", "periods_since", "active_share", "revenue_retention"]
        observed = out["active_share"].notna() | out["cohort"].isin(self.suppressed)
        out = out.loc[observed & self._observed(out)].reset_index(drop=True)
        out.insert(1, "period", [(pd.Period(c, FREQS[self.freq]) + int(k)).start_time
                                 for c, k in zip(out["cohort"], out["periods_since"],
                                                 strict=True)])
        size = self.cohort_size.where(self.cohort_size >= self.min_customers)
        out.insert(3, "cohort_size", out["cohort"].map(size))  # suppressed: NaN
        return out

    def _observed(self, long: pd.DataFrame) -> pd.Series:
        last = pd.Period(self.as_of, FREQS[self.freq])
        if not period_complete(last.start_time, self.freq, self.as_of):
            last -= 1
        c = long["cohort"].map(lambda t: pd.Period(t, FREQS[self.freq]).ordinal)
        return (c + long["periods_since"].astype(int)) <= last.ordinal

    def plot(self, kind: str | None = None, ax=None):
        """An annotated heatmap of one matrix.

        Parameters
        ----------
        kind : {"active", "revenue"}, optional
            ``"active"``: active share; ``"revenue"``: revenue retention. Default: ``metric``.
        ax : matplotlib Axes, optional
            Draw here instead of a new figure.

        Returns
        -------
        matplotlib.figure.Figure
        """
        import matplotlib.pyplot as plt

        kind = kind or self.metric
        if kind not in _METRICS:
            raise ValueError(f"kind: must be one of {_METRICS}, got {kind!r}")
        m = self.active_share if kind == "active" else self.revenue_retention
        n_rows, n_cols = m.shape
        if ax is None:
            fig, ax = plt.subplots(figsize=(min(2 + 0.55 * max(n_cols, 1), 18),
                                            min(1.5 + 0.35 * max(n_rows, 1), 14)))
        else:
            fig = ax.figure
        values = m.to_numpy(dtype=float)
        vmax = 1.0 if kind == "active" else max(1.0, float(np.nanmax(values)) if
                                                 np.isfinite(values).any() else 1.0)
        image = ax.imshow(np.ma.masked_invalid(values), aspect="auto", cmap="Blues",
                          vmin=0.0, vmax=vmax)
        if n_rows * n_cols <= 900:
            for i in range(n_rows):
                for j in range(n_cols):
                    v = values[i, j]
                    if np.isfinite(v):
                        ax.text(j, i, f"{100 * v:.0f}", ha="center", va="center", fontsize=7,
                                color="white" if v > 0.6 * vmax else "black")
        fmt = {"W": "%Y-%m-%d", "M": "%Y-%m", "Q": "%Y-%m"}[self.freq]
        labels = [f"{pd.Timestamp(c).strftime(fmt)} "
                  + (f"(n={int(self.cohort_size[c])})" if self.cohort_size[c] >= self.min_customers
                     else f"(n<{self.min_customers})")
                  for c in m.index]
        step = max(1, n_rows // 40)
        ax.set_yticks(range(0, n_rows, step), labels[::step], fontsize=7)
        ax.set_xticks(range(0, n_cols, max(1, n_cols // 30)))
        ax.set_xlabel(f"{PERIOD_NAMES[self.freq]}s since first purchase")
        ax.set_ylabel("cohort (first purchase)")
        what = "customers buying again (%)" if kind == "active" else \
            "revenue vs the first period (%)"
        ax.set_title(f"Retention by cohort: {what}")
        fig.colorbar(image, ax=ax, fraction=0.03)
        fig.tight_layout()
        return fig


def retention_cohorts(tx: pd.DataFrame, freq: str = "M", as_of=None, metric: str = "active",
                      min_customers: int = 0) -> CohortResult:
    """Cohort x period retention matrices (active share and revenue retention).

    Parameters
    ----------
    tx : DataFrame
        Canonical transactions (``customer_id``, ``timestamp``, ``amount``; negative amounts
        are returns).
    freq : {"M", "Q", "W"}
        Period length (weeks start on Monday).
    as_of : date-like, optional
        Last day of history read (default: the day of the last transaction). Nothing after it
        is used; periods not complete by then are left out (NaN), not counted as 0.
    metric : {"active", "revenue"}
        The matrix :meth:`CohortResult.plot` shows by default.
    min_customers : int, default 0
        Cohorts with fewer customers are suppressed (their cells NaN; their size is kept), so
        a published matrix cannot describe one person. :func:`crm_ml.kpi.report` uses 10.

    Returns
    -------
    CohortResult

    Raises
    ------
    DataValidationError
        Missing columns, missing values, unknown ``freq`` or ``metric``, no purchase in a
        complete period up to as_of.

    Notes
    -----
    Cohort = period of a customer's first purchase (positive amount; a return is not a
    purchase, so a customer whose only rows are returns is in no cohort). Active = at least
    one purchase in the period. Revenue is net of returns: a return lowers the revenue of
    the period it happens in.
    """
    from crm_ml.errors import DataValidationError

    check_freq(freq)
    if metric not in _METRICS:
        raise DataValidationError(f"metric: must be one of {_METRICS}, got {metric!r}",
                                  column="metric", rule="known metric")
    past, day = check_transactions(tx, as_of)
    period = period_start(past["timestamp"], freq)
    last = pd.Period(day, FREQS[freq])
    if not period_complete(last.start_time, freq, day):
        last -= 1
    keep = (period <= last.start_time).to_numpy()
    past, period = past.loc[keep], period.loc[keep]
    buy = (past["amount"] > 0).to_numpy()
    if not buy.any():
        raise DataValidationError(
            f"transactions: no purchase in a complete {PERIOD_NAMES[freq]} up to as_of "
            f"{day.date()}", column="amount", rule="at least one purchase")
    ordinal = ordinals(past["timestamp"], freq)
    frame = pd.DataFrame({"customer_id": past["customer_id"].to_numpy(),
                          "p": ordinal, "amount": past["amount"].to_numpy(float),
                          "buy": buy})
    first = frame.loc[frame["buy"]].groupby("customer_id")["p"].min()
    frame = frame.loc[frame["customer_id"].isin(first.index)]
    frame["cohort"] = frame["customer_id"].map(first).to_numpy()
    frame["k"] = frame["p"] - frame["cohort"]
    frame = frame.loc[frame["k"] >= 0]  # a return before the first purchase
    size = first.value_counts().sort_index()
    n_cols = int(last.ordinal - size.index.min()) + 1
    cols = pd.RangeIndex(n_cols, name="periods_since")
    active = (frame.loc[frame["buy"]].groupby(["cohort", "k"])["customer_id"].nunique()
              .unstack("k").reindex(index=size.index, columns=cols).fillna(0.0)
              .div(size, axis=0))
    revenue = (frame.groupby(["cohort", "k"])["amount"].sum().unstack("k")
               .reindex(index=size.index, columns=cols).fillna(0.0))
    base = revenue[0].where(revenue[0] > 0)
    rev_ret = revenue.div(base, axis=0)
    unobserved = (size.index.to_numpy()[:, None] + np.arange(n_cols)[None, :]) > last.ordinal
    small = (size < min_customers).to_numpy()[:, None]
    mask = unobserved | small
    active, rev_ret = active.mask(mask), rev_ret.mask(mask)
    starts = pd.DatetimeIndex([pd.Period(ordinal=int(o), freq=FREQS[freq]).start_time
                               for o in size.index], name="cohort")
    for m in (active, rev_ret):
        m.index = starts
        m.columns = cols
    size.index = starts
    size.name = "cohort_size"
    return CohortResult(active_share=active.astype(float), revenue_retention=rev_ret.astype(float),
                        cohort_size=size.astype(int), freq=freq, as_of=day, metric=metric,
                        min_customers=int(min_customers))
