"""crm_ml.kpi: the KPIs CRM teams manage by -- retention cohorts, a KPI table and an HTML report.

>>> cohorts = cm.kpi.retention_cohorts(tx, freq="M"); cohorts.plot()          # doctest: +SKIP
>>> table = cm.kpi.kpi_table(tx, as_of, interactions=it, by="region")          # doctest: +SKIP
>>> html = cm.kpi.report(tx, as_of, interactions=it, path="report.html")       # doctest: +SKIP

Every KPI is defined in :data:`crm_ml.kpi.definitions.DEFINITIONS` (also in the table's
``attrs["definitions"]``); a cell about fewer than ``min_customers`` customers is suppressed.
"""

from __future__ import annotations

from crm_ml._lazy import lazy_dir, lazy_exports

_EXPORTS = {
    "CohortResult": "crm_ml.kpi.cohorts",
    "DEFINITIONS": "crm_ml.kpi.definitions",
    "SUPPRESSION_RULE": "crm_ml.kpi.definitions",
    "kpi_table": "crm_ml.kpi.table",
    "report": "crm_ml.kpi.html_report",
    "retention_cohorts": "crm_ml.kpi.cohorts",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
__dir__ = lazy_dir(globals(), _EXPORTS)
