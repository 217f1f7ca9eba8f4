"""The data contract: canonical columns, standardize/validate, readers and time windows.

>>> from crm_ml.data import standardize
>>> tx = standardize(raw, customer_id="CustomerID", timestamp="InvoiceDate", amount="Sales")
"""

from crm_ml.data.columns import ONLINE_RETAIL, load_column_map
from crm_ml.data.privacy import MIN_LEVEL_CUSTOMERS, PersonalDataWarning, screen_columns
from crm_ml.data.quality import DataPolicyWarning, DataQualityReport
from crm_ml.data.readers import (
                                 read_contacts,
                                 read_customers,
                                 read_interactions,
                                 read_table,
                                 read_transactions,
)
from crm_ml.data.standardize import standardize
from crm_ml.data.windows import LabelWindow, as_of_day, future, history, history_end, split_at

__all__ = [
    "ONLINE_RETAIL",
    "DataPolicyWarning",
    "DataQualityReport",
    "LabelWindow",
    "MIN_LEVEL_CUSTOMERS",
    "PersonalDataWarning",
    "as_of_day",
    "future",
    "history",
    "history_end",
    "load_column_map",
    "read_contacts",
    "read_customers",
    "read_interactions",
    "read_table",
    "read_transactions",
    "screen_columns",
    "split_at",
    "standardize",
]
