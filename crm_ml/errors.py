"""Exceptions raised by crm_ml."""

from __future__ import annotations


class CrmMlError(Exception):
    """Base class of every error crm_ml raises on purpose."""


class DataValidationError(CrmMlError, ValueError):
    """Input data break the data contract.

    The message names the column, the rule that failed and up to five offending rows.
    """

    def __init__(self, message: str, *, column: str | None = None, rule: str | None = None,
                 rows=None):
        super().__init__(message)
        self.column = column
        self.rule = rule
        self.rows = rows


class NotFittedError(CrmMlError, AttributeError):
    """A model was used before `fit` was called."""


class ModelNotFoundError(CrmMlError, LookupError):
    """A registered model, version or alias does not exist."""


class PipelineError(CrmMlError):
    """A training pipeline (``crm-ml train``/``demo``) stopped; its message says what was
    (not) registered or promoted. The original error is its ``__cause__``."""
