"""Built-in data: a seeded synthetic CRM dataset with ground truth, and CDNOW."""

from crm_ml.datasets.cdnow import cdnow_path, load_cdnow
from crm_ml.datasets.synthetic import CRMDataset, make_crm_dataset

__all__ = ["CRMDataset", "cdnow_path", "load_cdnow", "make_crm_dataset"]
