"""The KPI table: one row per period (and segment) with the KPIs CRM teams manage by."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crm_ml.data.windows import history, utc_naive
from crm_ml.errors import DataValidationError
from crm_ml.kpi import definitions as defs
from crm_ml.kpi._data import (
    FREQS,
    check_freq,
    check_range,
    check_transactions,
    order_keys,
    ordinals,
    period_complete,
    require_columns,
)

_ALL = "all"


def _check_min_customers(min_customers) -> int:
    if isinstance(min_customers, bool) or not isinstance(min_customers, int | np.integer) \
            or min_customers < 0:
        raise DataValidationError(f"min_customers: must be an integer >= 0, got "
                                  f"{min_customers!r}", column="min_customers",
                                  rule="integer >= 0")
    return int(min_customers)


def _segments(past: pd.DataFrame, customers, by) -> pd.Series | None:
    """customer_id -> segment label (str), or None without ``by``."""
    if by is None:
        return None
    if not isinstance(by, str):
        raise DataValidationError(f"by: must be a column name (str), got {type(by).__name__}",
                                  column="by", rule="column name")
    if by in defs.DEFINITIONS or by.startswith("csat_"):
        raise DataValidationError(f"{by}: `by` names a column of the KPI table itself; rename "
                                  "the segment column", column=by, rule="by is not a KPI name")
    if customers is not None:
        require_columns(customers, ("customer_id",), "customers")
    if customers is not None and by in customers.columns:
        dup = customers["customer_id"].duplicated(keep=False).to_numpy()
        if dup.any():
            rows = customers.index[dup][:5].tolist()
            raise DataValidationError(f"customer_id: {int(dup.sum())} customers rows repeat a "
                                      f"customer_id, so their {by!r} is ambiguous (rows {rows})",
                                      column="customer_id", rule="unique", rows=rows)
        return pd.Series(customers[by].astype("string").fillna("unknown").to_numpy(),
                         index=customers["customer_id"].to_numpy())
    if by in past.columns:  # a transaction column: the value on the customer's first row
        first = past.sort_values("timestamp", kind="stable").drop_duplicates("customer_id")
        return pd.Series(first[by].astype("string").fillna("unknown").to_numpy(),
                         index=first["customer_id"].to_numpy())
    where = "customers or transactions" if customers is not None else \
        "transactions (and no customers table was given)"
    raise DataValidationError(f"{by}: column named in `by` is missing from {where}",
                              column=str(by), rule="by column exists")


#: The segment that pools segments of fewer than ``min_customers`` customers.
OTHER = "other"


def _pool_small_segments(seg: pd.Series | None, past: pd.DataFrame,
                         k: int) -> tuple[pd.Series | None, list[str]]:
    """Segments with fewer than ``k`` purchasing customers merged into :data:`OTHER`, so a
    segment name (a company, a tiny town) never labels a row about a handful of people."""
    if seg is None or k <= 1:
        return seg, []
    buyers = past.loc[past["amount"] > 0, "customer_id"].unique()
    sizes = seg.reindex(buyers).fillna("unknown").value_counts()
    small = sorted(str(v) for v in sizes.index[sizes < k]) + \
        sorted(str(v) for v in set(seg) - set(sizes.index))
    return seg, small


def _label(ids: pd.Series, seg: pd.Series | None, pooled=()) -> np.ndarray:
    """The segment of each customer id (``unknown`` when unmapped, pooled ones ``other``)."""
    if seg is None:
        return np.full(len(ids), _ALL, dtype=object)
    return _pooled(ids.map(seg).astype("string").fillna("unknown"), pooled)


def _pooled(labels: pd.Series, pooled) -> np.ndarray:
    labels = labels.astype("string").fillna("unknown")
    if len(pooled):
        labels = labels.where(~labels.isin(list(pooled)), OTHER)
    return labels.to_numpy(dtype=object)


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
                          "segment": _label(past["customer_id"], seg, pooled),
                          "amount": past["amount"].to_numpy(dtype=float)})
    frame["p"] = ordinals(past["timestamp"], freq)
    keys = ["segment", "p"]
    buy = frame.loc[(frame["amount"] > 0).to_numpy()].copy()
    buy["order"] = order_keys(past.loc[(past["amount"] > 0).to_numpy()]).to_numpy()
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


def _check_interactions(interactions: pd.DataFrame) -> list[str]:
    require_columns(interactions, ("customer_id", "timestamp"), "interactions")
    if not pd.api.types.is_datetime64_any_dtype(interactions["timestamp"]):
        raise DataValidationError("timestamp: interactions timestamps must be datetime64 (use "
                                  "crm_ml.data.standardize)", column="timestamp",
                                  rule="datetime dtype")
    missing = interactions["timestamp"].isna().to_numpy()
    if missing.any():
        rows = interactions.index[missing][:5].tolist()
        raise DataValidationError(f"timestamp: {int(missing.sum())} interactions have no "
                                  f"timestamp (rows {rows})", column="timestamp",
                                  rule="not null", rows=rows)
    dims = [c for c in interactions.columns
            if isinstance(c, str) and (c == "satisfaction" or c.startswith("satisfaction_"))]
    for col in dims:
        check_range(interactions, col, 1, 5, "interactions")
    if "nps" in interactions.columns:
        check_range(interactions, "nps", 0, 10, "interactions", integer=True)
    if "resolution_hours" in interactions.columns:
        check_range(interactions, "resolution_hours", 0, np.inf, "interactions")
    return dims


def _service_kpis(interactions, as_of, freq, seg, pooled) -> tuple[pd.DataFrame, dict, list[str]]:
    """CSAT, NPS, complaints and resolution time per (segment, period), and the number of
    customers behind each."""
    dims = _check_interactions(interactions)
    it = history(interactions, as_of)
    frame = pd.DataFrame({"customer_id": it["customer_id"].to_numpy(),
                          "segment": _label(it["customer_id"], seg, pooled),
                          "p": ordinals(it["timestamp"], freq)})
    keys = ["segment", "p"]
    out = pd.DataFrame(index=pd.MultiIndex.from_arrays([[], []], names=keys))
    bases: dict[str, pd.Series] = {}

    def rated(col: str) -> pd.DataFrame:
        values = pd.to_numeric(it[col], errors="coerce").to_numpy(dtype=float)
        return frame.assign(v=values).loc[~np.isnan(values)]

    for col in dims:
        name = "csat" if col == "satisfaction" else f"csat_{col[len('satisfaction_'):]}"
        r = rated(col)
        g = r.groupby(keys)
        out = out.join(pd.DataFrame({f"{name}_mean": g["v"].mean(),
                                     f"{name}_share_4_5": g["v"].apply(lambda v: (v >= 4).mean())}),
                       how="outer")
        bases[name] = g["customer_id"].nunique()
    if "nps" in it.columns:
        r = rated("nps")
        g = r.groupby(keys)["v"]
        out = out.join((100.0 * (g.apply(lambda v: (v >= 9).mean())
                                 - g.apply(lambda v: (v <= 6).mean()))).rename("nps"),
                       how="outer")
        bases["nps"] = r.groupby(keys)["customer_id"].nunique()
    if "kind" in it.columns:
        is_complaint = it["kind"].astype("string").str.strip().str.lower() \
            .eq("complaint").fillna(False).to_numpy(dtype=bool)
        out = out.join(frame.loc[is_complaint].groupby(keys).size().rename("complaints"),
                       how="outer")
    if "resolution_hours" in it.columns:
        r = rated("resolution_hours")
        out = out.join(r.groupby(keys)["v"].median().rename("median_resolution_hours"),
                       how="outer")
        bases["resolution"] = r.groupby(keys)["customer_id"].nunique()
    return out, bases, dims


def _costs_per_period(costs, as_of, freq, by, pooled) -> tuple[pd.Series, str | None]:
    """Acquisition cost per (segment, period) up to as_of, and a note when it cannot be split
    by segment."""
    if not isinstance(costs, pd.DataFrame):
        raise DataValidationError(f"costs: must be a pandas DataFrame, got {type(costs).__name__}",
                                  column="costs", rule="DataFrame")
    when = "period" if "period" in costs.columns else "timestamp"
    require_columns(costs, (when, "acquisition_cost"), "costs")
    cost = pd.to_numeric(costs["acquisition_cost"], errors="coerce")
    bad = ~np.isfinite(cost.to_numpy(dtype=float))
    if bad.any():
        rows = costs.index[bad][:5].tolist()
        raise DataValidationError(f"acquisition_cost: {int(bad.sum())} costs rows are missing "
                                  f"or not finite numbers (rows {rows})",
                                  column="acquisition_cost", rule="finite number", rows=rows)
    check_range(costs.assign(acquisition_cost=cost), "acquisition_cost", 0, np.inf, "costs")
    raw = costs[when]
    if isinstance(raw.dtype, pd.PeriodDtype):
        stamps = raw.dt.start_time
    else:
        stamps = pd.to_datetime(raw.map(lambda v: v.start_time if isinstance(v, pd.Period)
                                        else v), errors="coerce")
    bad = stamps.isna().to_numpy()
    if bad.any():
        rows = costs.index[bad][:5].tolist()
        raise DataValidationError(f"{when}: {int(bad.sum())} costs rows have no readable date "
                                  f"(rows {rows}; write e.g. 2024-03 or 2024-03-01)",
                                  column=when, rule="date", rows=rows)
    stamps = utc_naive(stamps)
    keep = (stamps < as_of + pd.Timedelta(days=1)).to_numpy()  # nothing after as_of
    p = ordinals(stamps[keep], freq)
    note = None
    if by is not None and by in costs.columns:
        segment = _pooled(costs.loc[keep, by], pooled)
    elif by is not None:
        segment = None
        note = (f"The costs table has no {by!r} column, so acquisition cost, CAC and CLV:CAC "
                "are not split by segment (left empty).")
    else:
        segment = np.full(int(keep.sum()), _ALL, dtype=object)
    if segment is None:
        return pd.Series(dtype=float), note
    frame = pd.DataFrame({"segment": segment, "p": p,
                          "cost": cost[keep].to_numpy(dtype=float)})
    return frame.groupby(["segment", "p"])["cost"].sum(), note


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
    seg = _segments(past, customers, by)
    seg, pooled = _pool_small_segments(seg, past, k)
    pooled_set = frozenset(pooled)
    clv_values = _clv_per_customer(clv, day)
    kpis, extra = _purchase_kpis(past, freq, seg, clv_values, pooled_set)
    service, bases, dims = (_service_kpis(interactions, day, freq, seg, pooled_set)
                            if interactions is not None else (None, {}, []))
    cost, cost_note = (_costs_per_period(costs, day, freq, by, pooled_set) if costs is not None
                       else (None, None))

    # every segment and period any input has, so no interaction or cost is left out
    indexes = [x.index for x in (kpis, service, cost) if x is not None and len(x)]
    first = min(int(i.get_level_values("p").min()) for i in indexes)
    last = pd.Period(day, FREQS[freq]).ordinal
    segments = sorted(set().union(*(i.get_level_values("segment") for i in indexes)))
    grid = pd.MultiIndex.from_product([segments, range(first, last + 1)],
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
                     f"into {OTHER!r}.")
    if notes:
        out.attrs["notes"] = notes
    return out
