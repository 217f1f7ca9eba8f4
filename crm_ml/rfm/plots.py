"""RFM plots (matplotlib Figures, never shown): R x F heatmaps and segment sizes/value."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crm_ml.errors import DataValidationError

__all__ = ["plot_rf_heatmap", "plot_segments"]


def _need(df: pd.DataFrame, cols) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataValidationError(f"scored RFM table lacks {missing} (use crm_ml.rfm.score)",
                                  column=missing[0], rule="required column")


def plot_rf_heatmap(scored: pd.DataFrame, value: str = "count", *, monetary: str = "monetary"):
    """Heatmap of R score (rows, 5 on top) by F score (columns).

    Parameters
    ----------
    scored : DataFrame
        Output of :func:`crm_ml.rfm.score`.
    value : {"count", "monetary"}, default "count"
        ``"count"``: customers per cell; ``"monetary"``: mean of the ``monetary`` column.
    monetary : str, default "monetary"
        Column averaged when ``value="monetary"``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    _need(scored, ["r_score", "f_score"] + ([monetary] if value == "monetary" else []))
    if value not in ("count", "monetary"):
        raise DataValidationError("value: must be 'count' or 'monetary'", column="value",
                                  rule="allowed value")
    bins = int(max(scored["r_score"].max(), scored["f_score"].max(), 1))
    levels = list(range(1, bins + 1))
    if value == "count":
        grid = pd.crosstab(scored["r_score"], scored["f_score"])
        title, fmt = "Customers per R x F cell", "{:,.0f}"
    else:
        grid = scored.pivot_table(index="r_score", columns="f_score", values=monetary,
                                  aggfunc="mean", observed=True)
        title, fmt = f"Mean {monetary} per R x F cell", "{:,.1f}"
    grid = grid.reindex(index=levels[::-1], columns=levels)
    fig, ax = plt.subplots(figsize=(6, 5))
    data = grid.to_numpy(dtype=float)
    im = ax.imshow(np.nan_to_num(data, nan=0.0), cmap="Blues", aspect="auto")
    for i in range(data.shape[0]):
        for j in range(data.shape[1]):
            if np.isfinite(data[i, j]):
                ax.text(j, i, fmt.format(data[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if data[i, j] > np.nanmax(data) * 0.6 else "black")
    ax.set_xticks(range(bins), labels=[str(v) for v in levels])
    ax.set_yticks(range(bins), labels=[str(v) for v in levels[::-1]])
    ax.set_xlabel("F score (frequency)")
    ax.set_ylabel("R score (recency)")
    ax.set_title(title)
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    return fig


def segment_summary(scored: pd.DataFrame, value: str | None = None) -> pd.DataFrame:
    """Customers and value per segment: ``customers, customer_share, value, value_share``."""
    _need(scored, ["segment"])
    value = value or ("total_spend" if "total_spend" in scored.columns else "monetary")
    _need(scored, [value])
    g = scored.groupby("segment", observed=False)[value]
    out = pd.DataFrame({"customers": g.size(), "value": g.sum()})
    out["customer_share"] = out["customers"] / max(out["customers"].sum(), 1)
    total = out["value"].sum()
    out["value_share"] = out["value"] / total if total else 0.0
    return out[["customers", "customer_share", "value", "value_share"]]


def plot_segments(scored: pd.DataFrame, value: str | None = None):
    """Bar chart of each segment's share of customers next to its share of value.

    Parameters
    ----------
    scored : DataFrame
        Output of :func:`crm_ml.rfm.score`.
    value : str, optional
        Value column (default ``total_spend`` if present, else ``monetary``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    s = segment_summary(scored, value)
    s = s[s["customers"] > 0]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(s) + 1.5))
    y = np.arange(len(s))
    ax.barh(y - 0.2, s["customer_share"] * 100, height=0.4, label="% of customers")
    ax.barh(y + 0.2, s["value_share"] * 100, height=0.4, label="% of value")
    ax.set_yticks(y, labels=[f"{n} ({c:,})" for n, c in zip(s.index, s["customers"],
                                                               strict=True)])
    ax.invert_yaxis()
    ax.set_xlabel("share (%)")
    ax.set_title("Segment sizes and value share")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig
