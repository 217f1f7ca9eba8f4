"""A self-contained HTML KPI report a manager opens without Python.

One file: CSS inline, plots as inline base64 PNG, no JavaScript and no network access. Every
value taken from the data is HTML-escaped. Small cells are suppressed as in
:func:`~crm_ml.kpi.kpi_table`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from crm_ml.kpi import definitions as defs
from crm_ml.kpi._data import PERIOD_NAMES
from crm_ml.kpi._html import CSS, esc, figure, fmt, plain, table
from crm_ml.kpi.cohorts import retention_cohorts
from crm_ml.kpi.table import kpi_table

#: KPIs shown as headline cards (when present in the table).
HEADLINE = ("active", "new", "churn_rate", "retention_rate", "revenue", "average_order_value",
            "repeat_purchase_rate", "mean_clv", "csat_mean", "nps", "complaint_rate",
            "median_resolution_hours", "cac", "clv_cac")
#: Trend panels: (column, title).
TRENDS = (("active", "Active customers"), ("revenue", "Revenue (net of returns)"),
          ("churn_rate", "Churn rate"), ("csat_mean", "CSAT (mean 1-5)"))
#: Cohorts drawn in the heatmap (the most recent ones).
MAX_COHORTS = 24
HTML_SUFFIXES = (".html", ".htm")


def _headline(total: pd.DataFrame, freq: str) -> str:
    full = total.loc[total["complete"]]
    if full.empty:
        return '<p class="note">No complete period yet: no headline.</p>'
    last = full.iloc[-1]
    before = full.iloc[-2] if len(full) > 1 else None
    hidden = set(str(last["suppressed"]).split(","))
    hidden_before = set(str(before["suppressed"]).split(",")) if before is not None else set()
    cards = []
    for col in HEADLINE:
        if col not in total.columns:
            continue
        value = "suppressed" if col in hidden else fmt(col, last[col])
        delta = ""
        if before is not None and col not in hidden and col not in hidden_before:
            a, b = last[col], before[col]
            if pd.notna(a) and pd.notna(b):
                change = float(a) - float(b)
                delta = ("change " + ("+" if change >= 0 else "−")
                         + fmt(col, abs(change)).replace(" %", " pts"))
        cards.append(f'<div class="card"><div>{esc(col)}</div><div class="v">{esc(value)}'
                     f'</div><div class="d">{esc(delta)}</div></div>')
    title = (f"Last full {PERIOD_NAMES[freq]}: {last['period'].date()}"
             + (f" (vs {before['period'].date()})" if before is not None else ""))
    return f"<p>{esc(title)}</p><div class=\"cards\">{''.join(cards)}</div>"


def _trends(total: pd.DataFrame) -> str:
    import matplotlib.pyplot as plt

    panels = [(c, t) for c, t in TRENDS if c in total.columns]
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.2), squeeze=False)
    full = total.loc[total["complete"]]
    for ax, (col, title) in zip(axes[0], panels, strict=True):
        ax.plot(full["period"], full[col].astype(float), marker=".")
        ax.set_title(title, fontsize=10)
        ax.tick_params(axis="x", labelrotation=45, labelsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return figure(fig, "KPI trends over complete periods")


def _cohorts(tx, freq, as_of, k) -> str:
    try:
        result = retention_cohorts(tx, freq=freq, as_of=as_of, min_customers=k)
    except ValueError as exc:  # e.g. no complete period yet
        return f'<p class="note">No cohort matrix: {esc(exc)}</p>'
    if len(result.cohort_size) > MAX_COHORTS:
        keep = result.cohort_size.index[-MAX_COHORTS:]
        n = int(result.active_share.loc[keep].notna().any().sum()) or 1
        result.active_share = result.active_share.loc[keep].iloc[:, :n]
        result.revenue_retention = result.revenue_retention.loc[keep].iloc[:, :n]
        result.cohort_size = result.cohort_size.loc[keep]
    return figure(result.plot("active"), "Retention heatmap by acquisition cohort")


def _segment_mix(by_table: pd.DataFrame, by: str) -> str:
    import matplotlib.pyplot as plt

    full = by_table.loc[by_table["complete"]]
    mix = full.pivot_table(index="period", columns=by, values="active", aggfunc="sum",
                           dropna=False)
    share = mix.div(mix.sum(axis=1).where(lambda s: s > 0), axis=0)
    fig, ax = plt.subplots(figsize=(9, 3.5))
    bottom = np.zeros(len(share))
    for seg in share.columns:
        values = share[seg].fillna(0.0).to_numpy()
        ax.bar(share.index, values, bottom=bottom, width=20 if len(share) < 60 else 5,
               label=plain(seg))
        bottom += values
    ax.set_ylabel("share of active customers")
    ax.set_title(plain(f"Active customers by {by} (suppressed cells left out)"))
    ax.legend(fontsize=7, bbox_to_anchor=(1.01, 1), loc="upper left")
    fig.tight_layout()
    return figure(fig, f"Segment mix by {by}")


def _definitions(table_: pd.DataFrame) -> str:
    items = "".join(f"<dt>{esc(c)}</dt><dd>{esc(d)}</dd>"
                    for c, d in table_.attrs["definitions"].items())
    return f"<dl>{items}</dl>"


def write_html(text: str, path) -> Path:
    """Write ``text`` to ``path`` atomically (a temporary file renamed into place)."""
    from crm_ml.output_files import check_output_folder, remove_stale_temporaries, temp_path

    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a folder; give the report's file name, e.g. "
                         f"{path / 'report.html'}")
    if path.suffix.lower() not in HTML_SUFFIXES:
        raise ValueError(f"{path}: the report must be an .html file, e.g. "
                         f"{path.with_suffix('.html').name}")
    check_output_folder(path.parent)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = temp_path(path)
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def report(tx: pd.DataFrame, as_of=None, interactions: pd.DataFrame | None = None,
           customers: pd.DataFrame | None = None, costs: pd.DataFrame | None = None,
           clv=None, freq: str = "M", by: str | None = None,
           min_customers: int = defs.DEFAULT_MIN_CUSTOMERS, path=None,
           title: str = "CRM KPI report") -> str:
    """A self-contained HTML report of the CRM KPIs.

    Headline KPIs of the last complete period against the one before, trend lines (active
    customers, revenue, churn rate, CSAT), the cohort retention heatmap, the segment mix
    (with ``by``), the KPI table(s), every definition, the data period and the suppression
    rule. CSS is inline and plots are inline PNG: no JavaScript, no network, opens in any
    browser. Values from the data (segment names...) are HTML-escaped.

    Parameters
    ----------
    tx, as_of, interactions, customers, costs, clv, freq, by, min_customers
        As :func:`~crm_ml.kpi.kpi_table` (the cohort heatmap suppresses cohorts of fewer
        than ``min_customers`` customers too).
    path : str or Path, optional
        Also write the report there (``.html``; atomically: a temporary file renamed into
        place, so a failure leaves any earlier file as it was).
    title : str
        The report's heading.

    Returns
    -------
    str
        The HTML document.

    Raises
    ------
    DataValidationError
        Bad input, as :func:`~crm_ml.kpi.kpi_table`.
    ValueError
        ``path`` is not an ``.html`` file in a writable folder.
    """
    if path is not None and Path(path).suffix.lower() not in HTML_SUFFIXES:
        # refused before the work; the folder is checked when writing
        raise ValueError(f"{path}: the report must be an .html file")
    if path is not None and Path(path).is_dir():
        raise ValueError(f"{path} is a folder; give the report's file name, e.g. "
                         f"{Path(path) / 'report.html'}")
    args = dict(interactions=interactions, customers=customers, costs=costs, clv=clv,
                freq=freq, min_customers=min_customers)
    total = kpi_table(tx, as_of, **args)
    by_table = kpi_table(tx, as_of, by=by, **args) if by is not None else None
    attrs = total.attrs
    day = pd.Timestamp(attrs["as_of"])
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        'img-src data:; style-src \'unsafe-inline\'">',
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        f'<p class="note">Data from {esc(attrs["data_start"])} to {esc(attrs["as_of"])} '
        f"(as_of; nothing later is read), one row per {esc(PERIOD_NAMES[freq])}"
        + (f", segments by {esc(by)}" if by is not None else "") + ". Cells about fewer than "
        f"{esc(attrs['min_customers'])} customers are suppressed "
        f"({esc(attrs['suppressed_cells'] + (by_table.attrs['suppressed_cells'] if by_table is not None else 0))} "
        "cells here).</p>",
        "<h2>Headline</h2>", _headline(total, freq),
        "<h2>Trends</h2>", _trends(total),
        "<h2>Retention by cohort</h2>",
        '<p class="note">Share of each acquisition cohort (period of first purchase) that '
        "bought again n periods later, in %.</p>",
        _cohorts(tx, freq, day, attrs["min_customers"]),
    ]
    if by_table is not None:
        parts += [f"<h2>Segment mix by {esc(by)}</h2>", _segment_mix(by_table, by),
                  f"<h2>KPIs by {esc(by)}</h2>", table(by_table, text_columns=(by,))]
    parts += ["<h2>KPI table</h2>", table(total)]
    notes = list(attrs.get("notes", [])) + \
        (list(by_table.attrs.get("notes", [])) if by_table is not None else [])
    if notes:
        parts += ["<h2>Notes</h2>", "<ul>" + "".join(f"<li>{esc(n)}</li>" for n in notes)
                  + "</ul>"]
    parts += ["<h2>Definitions</h2>", _definitions(by_table if by_table is not None else total),
              "<h2>Small-cell suppression</h2>", f"<p>{esc(attrs['suppression_rule'])}</p>",
              "</body></html>"]
    text = "\n".join(parts)
    if path is not None:
        write_html(text, path)
    return text
