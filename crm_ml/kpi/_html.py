"""Small HTML pieces for the KPI report: escaped tables, inline PNG figures, number formats.

Every value that comes from data (segment names, column names, notes) goes through
:func:`esc`, so a category named ``<script>`` is shown as text, never run.
"""

from __future__ import annotations

import base64
import html
import io
import math

import pandas as pd

RATES = {"churn_rate", "retention_rate", "repeat_purchase_rate", "csat_share_4_5",
         "complaint_rate"}
COUNTS = {"active", "new", "lost", "orders"}

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;
max-width:1200px;color:#222;padding:0 1em}
h1{font-size:1.6em}h2{font-size:1.25em;border-bottom:1px solid #ccc;padding-bottom:.2em;
margin-top:2em}
table{border-collapse:collapse;font-size:.82em;margin:.5em 0}
th,td{border:1px solid #ddd;padding:.25em .5em;text-align:right}
th{background:#f3f5f8;position:sticky;top:0}
td.text,th.text{text-align:left}
.cards{display:flex;flex-wrap:wrap;gap:.8em}
.card{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;min-width:9em}
.card .v{font-size:1.4em;font-weight:600}.card .d{font-size:.85em;color:#555}
.scroll{overflow-x:auto}.note{color:#555;font-size:.9em}
img{max-width:100%}dt{font-weight:600;margin-top:.4em}dd{margin-left:1.5em}
"""


def esc(value) -> str:
    """``value`` as text safe inside HTML (quotes escaped too)."""
    return html.escape(str(value), quote=True)


def is_rate(column: str) -> bool:
    """Whether ``column`` is a share (shown in %)."""
    return column in RATES or (column.startswith("csat_") and column.endswith("_share_4_5"))


def fmt(column: str, value) -> str:
    """A KPI value as display text (not escaped)."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return "–"
    if isinstance(value, pd.Timestamp):
        return str(value.date())
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        if column in COUNTS or column.endswith("_count"):
            return f"{value:,.0f}"
        if is_rate(column):
            return f"{100 * value:.1f} %"
        return f"{value:,.2f}"
    return str(value)


def table(df: pd.DataFrame, text_columns=()) -> str:
    """``df`` as an escaped HTML table; a cell listed in its row's ``suppressed`` column shows
    "suppressed"."""
    columns = [c for c in df.columns if c != "suppressed"]
    head = "".join(f'<th class="{"text" if c in text_columns else ""}">{esc(c)}</th>'
                   for c in columns)
    rows = []
    for _, row in df.iterrows():
        hidden = set(str(row.get("suppressed", "") or "").split(","))
        cells = []
        for c in columns:
            text = "suppressed" if c in hidden else fmt(c, row[c])
            cls = ' class="text"' if c in text_columns else ""
            cells.append(f"<td{cls}>{esc(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>'
            + "".join(rows) + "</tbody></table></div>")


def figure(fig, alt: str) -> str:
    """A matplotlib Figure as an inline base64 PNG ``<img>`` (the figure is closed)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight",
                metadata={"Software": None})
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{data}">'


def plain(label) -> str:
    """A label matplotlib draws literally (``$`` would start math text)."""
    return str(label).replace("$", r"\$")
