"""The definition of every KPI column: one source for the docstring of
:func:`~crm_ml.kpi.kpi_table`, its ``attrs["definitions"]``, the report and the guide.

A purchase is a transaction row with a positive amount; a return (negative amount) is not a
purchase, but it lowers revenue in the period it happens in.
"""

from __future__ import annotations

#: Why 10: see :data:`SUPPRESSION_RULE`.
DEFAULT_MIN_CUSTOMERS = 10

SUPPRESSION_RULE = (
    "A cell computed from fewer than min_customers customers (default 10) is suppressed: "
    "set to NaN and its column named in that row's `suppressed` column. The group a cell "
    "describes is: the active customers for active, orders, orders per customer, average "
    "order value, revenue, repeat-purchase rate, mean CLV and complaint rate; the new "
    "customers for new, CAC and CLV:CAC; the customers active in the previous period for "
    "lost, churn rate and retention rate; the customers who gave a rating for CSAT, an NPS "
    "score for NPS, and who had an interaction with a resolution time for median resolution "
    "hours. A cell with 0 customers is not suppressed (it describes nobody). With `by`, "
    "segment values with fewer than min_customers purchasing customers in all are pooled into "
    "one segment 'other', so a value's name (a company, a small town) never labels a handful "
    "of people. Ten is a common, "
    "cautious threshold in statistical disclosure control: a figure about fewer people (a "
    "region with 3 customers in a month) can reveal one person's purchases or complaints to "
    "a reader who knows who they are. Suppression protects each cell on its own; it does not "
    "stop differencing between cells (e.g. a total minus the other segments), so publish "
    "segments only as fine as needed.")

#: column -> sentence, in the table's column order.
DEFINITIONS: dict[str, str] = {
    "period": "First day of the period (month, quarter, or week starting Monday); periods run "
              "from the first transaction's period to the one containing as_of.",
    "complete": "True when the period has ended by the end of the as_of day; the last period "
                "is usually partial (False) and should not be compared with full periods.",
    "active": "Customers with at least one purchase (a transaction with a positive amount) "
              "in the period.",
    "new": "Customers whose first purchase ever (in the data up to as_of) is in the period.",
    "lost": "Customers active in the previous period who made no purchase in this period.",
    "churn_rate": "lost / customers active in the previous period (NaN in the first period).",
    "retention_rate": "Customers active in both the previous and this period / customers "
                      "active in the previous period (= 1 - churn_rate).",
    "repeat_purchase_rate": "Share of the period's active customers who have placed at least "
                            "2 orders to date (from their first order to the period's end, "
                            "or as_of if earlier).",
    "orders": "Distinct orders with a positive amount in the period (order_id per customer; "
              "without one, the customer's purchase timestamp).",
    "orders_per_customer": "orders / active.",
    "average_order_value": "Gross sales (sum of positive amounts) in the period / orders; "
                           "returns are not subtracted, so it is the value of an order when "
                           "placed.",
    "revenue": "Sum of amounts in the period, net of returns (negative amounts subtract).",
    "mean_clv": "Mean customer lifetime value (the CLV given, one value per customer, or the "
                "`clv` of a fitted CLVModel's predict()) over the period's active customers "
                "that have one.",
    "csat_mean": "Mean satisfaction rating (1..5) of the interactions in the period.",
    "csat_share_4_5": "Share of the period's satisfaction ratings that are 4 or 5.",
    "nps": "Net Promoter Score of the period's 0..10 answers: % promoters (9-10) minus % "
           "detractors (0-6), from -100 to 100.",
    "complaint_rate": "Interactions of kind 'complaint' in the period / active customers.",
    "median_resolution_hours": "Median resolution_hours of the period's interactions that "
                               "have one.",
    "acquisition_cost": "Acquisition cost recorded for the period (the costs table, summed; "
                        "costs dated after as_of are not read).",
    "cac": "Customer acquisition cost: acquisition_cost / new customers (NaN with no new "
           "customer).",
    "clv_cac": "Mean CLV of the period's new customers / cac.",
    "suppressed": "Columns of this row set to NaN by the small-cell rule (comma-separated; "
                  "empty when none).",
}


def dimension_definitions(dimension: str) -> dict[str, str]:
    """Definitions of the CSAT columns of one extra satisfaction dimension
    (``satisfaction_<dimension>`` in the interactions)."""
    return {
        f"csat_{dimension}_mean": f"Mean of satisfaction_{dimension} (1..5) over the "
                                  "period's interactions that have one.",
        f"csat_{dimension}_share_4_5": f"Share of the period's satisfaction_{dimension} "
                                       "ratings that are 4 or 5.",
    }


def definitions_text(definitions: dict[str, str] | None = None, indent: str = "    ") -> str:
    """The definitions as a numpydoc-friendly list (``column : sentence`` lines)."""
    definitions = DEFINITIONS if definitions is None else definitions
    return "\n".join(f"{indent}- ``{k}``: {v}" for k, v in definitions.items())
