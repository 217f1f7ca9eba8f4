"""Batch scoring: load inputs, train every model, score every customer into one table."""

from crm_ml.scoring.engine import (
    SCORE_COLUMNS,
    SCORE_DTYPES,
    Champions,
    ScoreResult,
    score_customers,
    stable_float,
    write_atomic,
)
from crm_ml.scoring.inputs import CRMData, load_inputs
from crm_ml.scoring.outputs import pair_is_consistent, write_scores
from crm_ml.scoring.train import train_all

__all__ = [
    "SCORE_COLUMNS",
    "SCORE_DTYPES",
    "CRMData",
    "Champions",
    "ScoreResult",
    "load_inputs",
    "pair_is_consistent",
    "score_customers",
    "stable_float",
    "train_all",
    "write_atomic",
    "write_scores",
]
