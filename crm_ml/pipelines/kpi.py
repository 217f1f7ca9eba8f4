"""KPI step: the KPI table and the HTML KPI report of the data the other steps trained on.

It fits no model and registers nothing. It writes ``kpi_report.html`` and ``kpi_table.csv``
(monthly, whole customer base) under the output folder and logs both, with the last complete
month's headline KPIs as metrics, to an MLflow run: aggregates only, small cells suppressed
(:data:`crm_ml.kpi.definitions.DEFAULT_MIN_CUSTOMERS`). The report is split by ``region`` when
the customers or transactions have that column.
"""

from __future__ import annotations

from pathlib import Path

from crm_ml.output_files import write_atomic

#: Period of the step's table and report.
FREQ = "M"
#: The segment column of the report, when the data have it.
BY = "region"
#: Headline KPIs logged as MLflow metrics (last complete period), when present.
METRICS = ("active", "new", "churn_rate", "retention_rate", "repeat_purchase_rate",
           "average_order_value", "revenue", "csat_mean", "nps", "complaint_rate")


def run(data, context) -> dict:
    """Write the KPI table and report and log them to MLflow.

    Returns
    -------
    dict
        Headline numbers of the last complete month and the files written.
    """
    from crm_ml.kpi import kpi_table, report
    from crm_ml.kpi.definitions import DEFAULT_MIN_CUSTOMERS
    from crm_ml.tracking import start_run

    output_dir = Path(context.output_dir)
    tx = data.transactions
    interactions = getattr(data, "interactions", None)
    customers = getattr(data, "customers", None)
    by = BY if BY in tx.columns or (customers is not None and BY in customers.columns) \
        else None
    options = dict(interactions=interactions, customers=customers, freq=FREQ,
                   min_customers=DEFAULT_MIN_CUSTOMERS)
    table = kpi_table(tx, data.as_of, **options)
    html = report(tx, data.as_of, by=by, path=output_dir / "kpi_report.html", **options)
    write_atomic(table, output_dir / "kpi_table.csv", index=False)
    full = table.loc[table["complete"]]
    last = full.iloc[-1] if len(full) else None
    headline = {} if last is None else \
        {c: float(last[c]) for c in METRICS if c in table.columns and last[c] == last[c]}
    with start_run("kpi", run_name="kpi-report",
                   params={"freq": FREQ, "by": by, "min_customers": DEFAULT_MIN_CUSTOMERS},
                   tags={"kpi.as_of": table.attrs["as_of"]}) as run:
        run.log_metrics({f"last_period_{k}": v for k, v in headline.items()})
        run.log_text(html, "kpi/kpi_report.html")
        run.log_table(table, "kpi_table")
        run.log_dict(table.attrs["definitions"], "kpi/definitions.json")
    return {
        "last_complete_period": None if last is None else str(last["period"].date()),
        **{k: round(v, 4) for k, v in headline.items()},
        "suppressed_cells": int(table.attrs["suppressed_cells"]),
        "report": str(output_dir / "kpi_report.html"),
    }
