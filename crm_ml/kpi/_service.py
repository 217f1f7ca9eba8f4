"""Service KPIs per (segment, period): CSAT per dimension, NPS, complaints, resolution time."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crm_ml.data.windows import history
from crm_ml.errors import DataValidationError
from crm_ml.kpi._data import check_range, ordinals, require_columns
from crm_ml.kpi._segments import label


def check_interactions(interactions: pd.DataFrame) -> list[str]:
    """Validate the interactions (typed errors naming column, rule, rows); return their
    satisfaction columns (``satisfaction`` and ``satisfaction_*``)."""
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


def service_kpis(interactions, as_of, freq, seg, pooled) -> tuple[pd.DataFrame, dict, list[str]]:
    """CSAT, NPS, complaints and resolution time per (segment, period), and the number of
    customers behind each."""
    dims = check_interactions(interactions)
    it = history(interactions, as_of)
    frame = pd.DataFrame({"customer_id": it["customer_id"].to_numpy(),
                          "segment": label(it["customer_id"], seg, pooled),
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
