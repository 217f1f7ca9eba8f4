"""RFM: recency, frequency, monetary per customer, scores 1..5, codes and named segments.

>>> rfm = cm.rfm.rfm_table(tx, as_of)
>>> scored = cm.rfm.score(rfm, bins=5)   # r_score, f_score, m_score, rfm_code, segment
>>> scorer = cm.rfm.RFMScorer().fit(rfm); cm.rfm.log_model(scorer)   # MLflow, on request
"""

from crm_ml.rfm.migration import migration_table, segment_migration
from crm_ml.rfm.plots import plot_rf_heatmap, plot_segments, segment_summary
from crm_ml.rfm.scoring import RFMScorer, apply_bins, fit_bins, score
from crm_ml.rfm.segments import (
    DEFAULT_GRID,
    SEGMENTS,
    default_segment_table,
    validate_segment_table,
)
from crm_ml.rfm.table import rfm_table
from crm_ml.rfm.tracking import log_model

__all__ = [
    "DEFAULT_GRID",
    "RFMScorer",
    "SEGMENTS",
    "apply_bins",
    "default_segment_table",
    "fit_bins",
    "log_model",
    "migration_table",
    "plot_rf_heatmap",
    "plot_segments",
    "rfm_table",
    "score",
    "segment_migration",
    "segment_summary",
    "validate_segment_table",
]
