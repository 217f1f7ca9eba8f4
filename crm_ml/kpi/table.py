"""The KPI table: one row per period (and segment) with the KPIs CRM teams manage by."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crm_ml.data.windows import utc_naive
from crm_ml.errors import DataValidationError
from crm_ml.features.facts import row_order_keys
from crm_ml.kpi import _segments as segments
from crm_ml.kpi import definitions as defs
from crm_ml.kpi._costs import costs_per_period
from crm_ml.kpi._data import (
    FREQS,
    check_freq,
    check_transactions,
    ordinals,
    period_complete,
)
from crm_ml.kpi._segments import label
from crm_ml.kpi._service import service_kpis


def _check_min_customers(min_customers) -> int:
    if isinstance(min_customers, bool) or not isinstance(min_customers, int | np.integer) \
            or min_customers < 0:
        raise DataValidationError(f"min_customers: must be an integer >= 0, got "
                                  f"{min_customers!r}", column="min_customers",
                                  rule="integer >= 0")
    return int(min_customers)


def _clv_per_customer(clv, as_of: pd.Timestamp) -> pd.Series | None:
    if clv is None:
        return None
    if isinstance(clv, pd.Series):
        values = pd.to_numeric(clv, errors="coerce")
        bad = ~np.isfinite(values.to_numpy(dtype=float)) & clv.notna().to_numpy()
        if bad.any():
            rows = clv.index[bad][:5].tolist()
            raise DataValidationError(f"clv: {int(bad.sum())} values are not finite numbers "
                                      f"(customers {rows})", column="clv", rule="finite",
                                      rows=rows)
        if clv.index.has_duplicates:
            raise DataValidationError("clv: the Series index (customer_id) has duplicates",
                                      column="clv", rule="unique customer_id")
        return values.astype(float)
    if hasattr(clv, "predict") and hasattr(clv, "as_of_"):
        fitted = getattr(clv, "as_of_", None)
        if fitted is not None and pd.Timestamp(fitted).normalize() > as_of:
            raise DataValidationError(f"clv: the CLV model was fitted as of {fitted.date()}, "
                                      f"after as_of {as_of.date()}; its values would use "
                                      "later data", column="clv", rule="fitted on or before as_of")
        return clv.predict()["clv"].astype(float)
    raise DataValidationError(f"clv: must be a Series keyed by customer_id or a fitted "
                              f"crm_ml.clv.CLVModel, got {type(clv).__name__}", column="clv",
                              rule="type")


def _purchase_kpis(past, freq, seg, clv, pooled) -> tuple[pd.DataFrame, dict]:
    """Transaction KPIs per (segment, period) and the customer counts behind them."""
    frame = pd.DataFrame({"customer_id": past["customer_id"].to_numpy(),
                          "segment": label(past["customer_id"], seg, pooled),
                          "amount": past["amount"].to_numpy(dtype=float)})
    frame["p"] = ordinals(past["timestamp"], freq)
    keys = ["segment", "p"]
    buy = frame.loc[(frame["amount"] > 0).to_numpy()].copy()
    buy["order"] = row_order_keys(past, (past["amount"] > 0).to_numpy())
    out = pd.DataFrame({"revenue": frame.groupby(keys)["amount"].sum()})
    out["active"] = buy.groupby(keys)["customer_id"].nunique()
    out["orders"] = buy.groupby(keys)["order"].nunique()
    out["gross"] = buy.groupby(keys)["amount"].sum()
    pairs = buy.drop_duplicates(["customer_id", "p"])[["customer_id", "segment", "p"]]
    first = pairs.groupby("customer_id")["p"].transform("min")
    out["new"] = pairs.loc[pairs["p"] == first].groupby(keys).size()
    stayed = pairs.merge(pairs[["customer_id", "p"]].assign(p=pairs["p"] + 1),
                         on=["customer_id", "p"])
    out["retained"] = stayed.groupby(keys).size()
    # orders to date per (customer, period): order periods counted cumulatively
    first_of_order = buy.groupby(["customer_id", "order"])["p"].min().reset_index()
    per = first_of_order.groupby(["customer_id", "p"]).size().rename("n").reset_index()
    per = per.sort_values(["customer_id", "p"])
    per["to_date"] = per.groupby("customer_id")["n"].cumsum()
    pairs = pairs.merge(per[["customer_id", "p", "to_date"]], on=["customer_id", "p"],
                        how="left")
    pairs["to_date"] = pairs.groupby("customer_id")["to_date"].ffill().fillna(0)
    out["repeaters"] = pairs.loc[pairs["to_date"] >= 2].groupby(keys).size()
    extra = {}
    if clv is not None:
        pairs["clv"] = pairs["customer_id"].map(clv).to_numpy(dtype=float)
        out["mean_clv"] = pairs.groupby(keys)["clv"].mean()
        new = pairs.loc[pairs["p"] == pairs.groupby("customer_id")["p"].transform("min")]
        extra["new_clv"] = new.groupby(keys)["clv"].mean()
    return out, extra


def kpi_table(tx: pd.DataFrame, as_of=None, interactions: pd.DataFrame | None = None,
              customers: pd.DataFrame | None = None, costs: pd.DataFrame | None = None,
              clv=None, freq: str = "M", by: str | None = None,
              min_customers: int = defs.DEFAULT_MIN_CUSTOMERS) -> pd.DataFrame:
    """KPIs per period (and segment): customers, retention, orders, revenue, CLV, satisfaction,
    NPS, complaints, resolution time, CAC and CLV:CAC.

    Parameters
    ----------
    tx : DataFrame
        Canonical transactions (``customer_id``, ``timestamp``, ``amount``; optional
        ``order_id`` and any column named in ``by``). Negative amounts are returns.
    as_of : date-like, optional
        Last day read (default: the day of the last transaction). Nothing dated after it is
        read, in any input; the last row is the period that contains it.
    interactions : DataFrame, optional
        ``customer_id``, ``timestamp``; optional ``kind`` ("complaint" rows count as
        complaints), ``satisfaction`` (1..5) and further ``satisfaction_<dimension>``
        columns (one pair of CSAT columns each), ``nps`` (0..10), ``resolution_hours``.
    customers : DataFrame, optional
        ``customer_id`` plus attributes; used for ``by``.
    costs : DataFrame, optional
        ``period`` (or ``timestamp``), ``acquisition_cost`` (>= 0), and the ``by`` column to
        split costs by segment. Costs are summed per period of their date (a monthly cost
        dated on the 1st goes to the week of the 1st with ``freq="W"``: give costs at the
        table's period or finer).
    clv : Series or CLVModel, optional
        CLV per customer (index ``customer_id``), or a fitted :class:`crm_ml.clv.CLVModel`
        (its ``predict()["clv"]``; refused when fitted after ``as_of``).
    freq : {"M", "Q", "W"}
        Period length (weeks start on Monday).
    by : str, optional
        A column of ``customers`` (looked up first) or of ``tx`` (the value on the customer's
        first transaction): one row per period and segment. Customers without a value form the
        segment ``"unknown"``; values with fewer than ``min_customers`` purchasing customers
        are pooled into ``"other"`` (listed in ``attrs["notes"]``), so a segment's name never
        labels a handful of people.
    min_customers : int, default 10
        Small-cell suppression threshold (0 or 1: none); see Notes.

    Returns
    -------
    DataFrame
        One row per period (x segment), columns in the order below (optional ones only when
        their input is given). ``attrs["definitions"]`` maps every column to its definition;
        ``attrs`` also holds ``as_of``, ``freq``, ``by``, ``min_customers``,
        ``suppression_rule``, ``suppressed_cells`` and ``data_start``.

    Raises
    ------
    DataValidationError
        Missing columns, missing or infinite values, satisfaction outside 1..5, nps outside
        0..10 or not whole, negative costs or resolution hours, a ``by`` column that exists
        nowhere, unknown ``freq``, a CLV model fitted after ``as_of``.

    Notes
    -----
    Definitions (a purchase is a transaction with a positive amount; the same sentences as
    :data:`crm_ml.kpi.definitions.DEFINITIONS`, checked by a test):

    - ``period``: First day of the period (month, quarter, or week starting Monday); periods
      run from the first transaction's period to the one containing as_of.
    - ``complete``: True when the period has ended by the end of the as_of day; the last
      period is usually partial (False) and should not be compared with full periods.
    - ``active``: Customers with at least one purchase (a transaction with a positive
      amount) in the period.
    - ``new``: Customers whose first purchase ever (in the data up to as_of) is in the
      period.
    - ``lost``: Customers active in the previous period who made no purchase in this period.
    - ``churn_rate``: lost / customers active in the previous period (NaN in the first
      period).
    - ``retention_rate``: Customers active in both the previous and this period / customers
      active in the previous period (= 1 - churn_rate).
    - ``repeat_purchase_rate``: Share of the period's active customers who have placed at
      least 2 orders to date (from their first order to the period's end, or as_of if
      earlier).
    - ``orders``: Distinct orders with a positive amount in the period (order_id per
      customer; without one, the customer's purchase timestamp).
    - ``orders_per_customer``: orders / active.
    - ``average_order_value``: Gross sales (sum of positive amounts) in the period / orders;
      returns are not subtracted, so it is the value of an order when placed.
    - ``revenue``: Sum of amounts in the period, net of returns (negative amounts subtract).
    - ``mean_clv``: Mean customer lifetime value (the CLV given, one value per customer, or
      the `clv` of a fitted CLVModel's predict()) over the period's active customers that
      have one.
    - ``csat_mean``: Mean satisfaction rating (1..5) of the interactions in the period.
    - ``csat_share_4_5``: Share of the period's satisfaction ratings that are 4 or 5.
    - ``nps``: Net Promoter Score of the period's 0..10 answers: % promoters (9-10) minus %
      detractors (0-6), from -100 to 100.
    - ``complaint_rate``: Interactions of kind 'complaint' in the period / active customers.
    - ``median_resolution_hours``: Median resolution_hours of the period's interactions that
      have one.
    - ``acquisition_cost``: Acquisition cost recorded for the period (the costs table,
      summed; costs dated after as_of are not read).
    - ``cac``: Customer acquisition cost: acquisition_cost / new customers (NaN with no new
      customer).
    - ``clv_cac``: Mean CLV of the period's new customers / cac.
    - ``suppressed``: Columns of this row set to NaN by the small-cell rule
      (comma-separated; empty when none).

    A ``satisfaction_<dimension>`` column adds ``csat_<dimension>_mean`` and
    ``csat_<dimension>_share_4_5``, defined as the CSAT columns.

    Small-cell suppression: A cell computed from fewer than min_customers customers (default
    10) is suppressed: set to NaN and its column named in that row's `suppressed` column.
    The group a cell describes is: the active customers for active, orders, orders per
    customer, average order value, revenue, repeat-purchase rate, mean CLV and complaint
    rate; the new customers for new, CAC and CLV:CAC; the customers active in the previous
    period for lost, churn rate and retention rate; the customers who gave a rating for
    CSAT, an NPS score for NPS, and who had an interaction with a resolution time for median
    resolution hours. A cell with 0 customers is not suppressed (it describes nobody). With
    `by`, segment values with fewer than min_customers purchasing customers in all are
    pooled into one segment 'other', so a value's name (a company, a small town) never
    labels a handful of people. Ten is a common, cautious threshold in statistical
    disclosure control: a figure about fewer people (a region with 3 customers in a month)
    can reveal one person's purchases or complaints to a reader who knows who they are.
    Suppression protects each cell on its own; it does not stop differencing between cells
    (e.g. a total minus the other segments), so publish segments only as fine as needed.
    """
    check_freq(freq)
    k = _check_min_customers(min_customers)
    past, day = check_transactions(tx, as_of)
    seg = segments.segments(past, customers, by)
    seg, pooled = segments.pool_small_segments(seg, past, k)
    pooled_set = frozenset(pooled)
    clv_values = _clv_per_customer(clv, day)
    kpis, extra = _purchase_kpis(past, freq, seg, clv_values, pooled_set)
    service, bases, dims = (service_kpis(interactions, day, freq, seg, pooled_set)
                            if interactions is not None else (None, {}, []))
    cost, cost_note = (costs_per_period(costs, day, freq, by, pooled_set) if costs is not None
                       else (None, None))

    # every segment and period any input has, so no interaction or cost is left out
    indexes = [x.index for x in (kpis, service, cost) if x is not None and len(x)]
    first = min(int(i.get_level_values("p").min()) for i in indexes)
    last = pd.Period(day, FREQS[freq]).ordinal
    groups = sorted(set().union(*(i.get_level_values("segment") for i in indexes)))
    grid = pd.MultiIndex.from_product([groups, range(first, last + 1)],
                                      names=["segment", "p"])
    t = kpis.reindex(grid)
    for col in ("revenue", "active", "orders", "gross", "new", "retained", "repeaters"):
        t[col] = t[col].fillna(0.0)
    prev = t.groupby(level="segment")["active"].shift(1).fillna(0.0)
    out = pd.DataFrame(index=grid)
    out["period"] = [pd.Period(ordinal=int(p), freq=FREQS[freq]).start_time
                     for p in grid.get_level_values("p")]
    out["complete"] = [period_complete(s, freq, day) for s in out["period"]]
    out["active"] = t["active"].astype(int)
    out["new"] = t["new"].astype(int)
    out["lost"] = (prev - t["retained"]).astype(int)
    out["churn_rate"] = (prev - t["retained"]) / prev.where(prev > 0)
    out["retention_rate"] = t["retained"] / prev.where(prev > 0)
    act = t["active"].where(t["active"] > 0)
    out["repeat_purchase_rate"] = t["repeaters"] / act
    out["orders"] = t["orders"].astype(int)
    out["orders_per_customer"] = t["orders"] / act
    out["average_order_value"] = t["gross"] / t["orders"].where(t["orders"] > 0)
    out["revenue"] = t["revenue"].astype(float)
    if clv_values is not None:
        out["mean_clv"] = t["mean_clv"]
    base = {c: t["active"] for c in ("active", "repeat_purchase_rate", "orders",
                                     "orders_per_customer", "average_order_value", "revenue",
                                     "mean_clv", "complaint_rate")}
    base.update({"new": t["new"], "lost": prev, "churn_rate": prev, "retention_rate": prev})
    definitions = {c: defs.DEFINITIONS[c] for c in ("period", "complete")}
    if service is not None:
        s = service.reindex(grid)
        for col in dims:
            name = "csat" if col == "satisfaction" else f"csat_{col[len('satisfaction_'):]}"
            for stat in ("mean", "share_4_5"):
                out[f"{name}_{stat}"] = s[f"{name}_{stat}"]
                base[f"{name}_{stat}"] = bases[name].reindex(grid).fillna(0)
            if name != "csat":
                definitions.update(defs.dimension_definitions(name[len("csat_"):]))
        if "nps" in s.columns:
            out["nps"] = s["nps"]
            base["nps"] = bases["nps"].reindex(grid).fillna(0)
        if "complaints" in s.columns:
            out["complaint_rate"] = s["complaints"].fillna(0.0) / act
        if "median_resolution_hours" in s.columns:
            out["median_resolution_hours"] = s["median_resolution_hours"]
            base["median_resolution_hours"] = bases["resolution"].reindex(grid).fillna(0)
    if cost is not None:
        spent = cost.reindex(grid)
        if cost_note is None:
            spent = spent.fillna(0.0)
        out["acquisition_cost"] = spent.to_numpy(dtype=float)
        out["cac"] = out["acquisition_cost"] / t["new"].where(t["new"] > 0)
        base["cac"] = t["new"]
        if clv_values is not None:
            out["clv_cac"] = extra["new_clv"].reindex(grid) / out["cac"]
            base["clv_cac"] = t["new"]
    suppressed = pd.Series("", index=grid)
    n_suppressed = 0
    for col, b in base.items():
        if col not in out.columns:
            continue
        small = (b > 0) & (b < k)
        if small.any():
            out[col] = out[col].astype(float).mask(small)
            suppressed = suppressed.where(~small, suppressed + "," + col)
            n_suppressed += int(small.sum())
    out["suppressed"] = suppressed.str.lstrip(",")
    out = out.reset_index()
    out = out.drop(columns="p") if by is not None else out.drop(columns=["segment", "p"])
    if by is not None:
        out = out.rename(columns={"segment": by})
        out = out[["period", by] + [c for c in out.columns if c not in ("period", by)]]
        out = out.sort_values(["period", by], kind="stable").reset_index(drop=True)
    for col in out.columns:
        if col in defs.DEFINITIONS and col not in definitions:
            definitions[col] = defs.DEFINITIONS[col]
    if by is not None:
        definitions[by] = (f"Segment: the customer's {by!r} "
                           + ("in the customers table" if customers is not None and
                              by in customers.columns else "on their first transaction")
                           + " ('unknown' when missing).")
    out.attrs["definitions"] = {c: definitions[c] for c in out.columns}
    out.attrs.update(as_of=str(day.date()), freq=freq, by=by, min_customers=k,
                     suppression_rule=defs.SUPPRESSION_RULE.replace("(default 10)",
                                                                    f"(here {k})"),
                     suppressed_cells=n_suppressed,
                     data_start=str(utc_naive(past["timestamp"]).min().date()))
    notes = [cost_note] if cost_note else []
    if pooled:
        notes.append(f"{len(pooled)} {by} value(s) with fewer than {k} customers are pooled "
                     f"into {segments.OTHER!r}.")
    if notes:
        out.attrs["notes"] = notes
    return out
