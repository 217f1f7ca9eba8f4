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


class UntrustedModelError(CrmMlError):
    """A model (version or file) is not one crm_ml wrote, so it is refused before it runs.

    Raised before anything in the model is unpickled, imported or executed; the message
    names the model, the version and what was wrong.
    """


class ModelFilesError(CrmMlError):
    """A model's files, or the registry that lists them, are missing or damaged.

    The message names the file (or store) and what to do: restore it, or re-train.
    """

    def __init__(self, message: str, *, path: str | None = None):
        super().__init__(message)
        self.path = path


class PipelineError(CrmMlError):
    """A training pipeline (``crm-ml train``/``demo``) stopped; its message says what was
    (not) registered or promoted. The original error is its ``__cause__``."""
