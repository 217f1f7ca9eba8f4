"""Acquisition costs per (segment, period), for CAC and CLV:CAC."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crm_ml.data._validate import MAX_ABS_AMOUNT
from crm_ml.data.windows import utc_naive
from crm_ml.errors import DataValidationError
from crm_ml.kpi._data import check_range, ordinals, require_columns
from crm_ml.kpi._segments import ALL, pooled_labels


def costs_per_period(costs, as_of, freq, by, pooled) -> tuple[pd.Series, str | None]:
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
    # at most 1e12, as amounts: corrupt values such as 1e308 would sum to an infinite CAC
    check_range(costs.assign(acquisition_cost=cost), "acquisition_cost", 0, MAX_ABS_AMOUNT,
                "costs")
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
        segment = pooled_labels(costs.loc[keep, by], pooled)
    elif by is not None:
        segment = None
        note = (f"The costs table has no {by!r} column, so acquisition cost, CAC and CLV:CAC "
                "are not split by segment (left empty).")
    else:
        segment = np.full(int(keep.sum()), ALL, dtype=object)
    if segment is None:
        return pd.Series(dtype=float), note
    frame = pd.DataFrame({"segment": segment, "p": p,
                          "cost": cost[keep].to_numpy(dtype=float)})
    return frame.groupby(["segment", "p"])["cost"].sum(), note
