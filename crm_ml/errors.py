"""Exceptions raised by crm_ml."""

from __future__ import annotations

import functools


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


@functools.cache
def _not_fitted_error() -> type:
    # Built on first use: importing scikit-learn takes about a second, and
    # ``import crm_ml`` should not pay for it before any model is touched.
    from sklearn.exceptions import NotFittedError as SklearnNotFittedError

    class NotFittedError(CrmMlError, SklearnNotFittedError):
        """A model was used before `fit` was called.

        A subclass of scikit-learn's ``NotFittedError`` (itself a ``ValueError`` and an
        ``AttributeError``), so ``except sklearn.exceptions.NotFittedError`` and
        ``sklearn.utils.validation.check_is_fitted`` callers catch it.
        """

    NotFittedError.__module__ = __name__
    NotFittedError.__qualname__ = "NotFittedError"
    return NotFittedError


def __getattr__(name: str):
    if name == "NotFittedError":
        return _not_fitted_error()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
