"""Tracking on request: a crm_ml ``fit`` writes nothing unless the user asks for it.

MLflow's own convention: a library's estimators do not log by themselves; the user opts in.
A fit is logged only

- after :func:`autolog` was called (every later fit in the process is logged, like
  ``mlflow.autolog()``), or
- while an MLflow run is active (``with mlflow.start_run():`` or
  ``with crm_ml.tracking.start_run(...)``): the fit gets its own run nested under it.

Otherwise logging is explicit: ``crm_ml.<module>.log_model(model, run=None,
registered_name=None)`` (see :func:`model_run`). ``CRM_ML_TRACKING=0`` or
``crm_ml.tracking.configure(enabled=False)`` switches every kind of logging off.

Fits that crm_ml makes inside its own work (calibration folds, backtests, the many series of
``forecast_many``, a pipeline step that logs its model explicitly) run under :func:`paused`,
so one user-visible fit is one run, never dozens.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

import pandas as pd

from crm_ml.tracking.runs import TrackedRun, start_run, tracking_enabled


@dataclass
class _AutologSettings:
    enabled: bool = False
    log_models: bool = True


_autolog = _AutologSettings()
_paused: ContextVar[bool] = ContextVar("crm_ml_autolog_paused", default=False)


def autolog(disable: bool = False, log_models: bool = True) -> None:
    """Log every later crm_ml fit in this process to MLflow (opt-in, like ``mlflow.autolog``).

    Each fit gets a run of its own (nested under the active run, if any) holding its
    parameters, held-out metrics, plots and, with ``log_models=True``, the model as an MLflow
    pyfunc model. The store is :func:`crm_ml.tracking.tracking_uri` (``MLFLOW_TRACKING_URI``
    or ``./mlflow.db``).

    Parameters
    ----------
    disable : bool, default False
        True switches autologging off again.
    log_models : bool, default True
        Also log each fitted model (a pyfunc model with a synthetic input example).
    """
    _autolog.enabled = not disable
    _autolog.log_models = log_models


def autolog_enabled() -> bool:
    """Whether :func:`autolog` is on."""
    return _autolog.enabled


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """Fits inside this block are not logged by autologging or an active run.

    crm_ml wraps its internal refits in it (folds, backtests, per-series fits), and the
    pipelines wrap each step, which then logs its chosen model explicitly.
    """
    token = _paused.set(True)
    try:
        yield
    finally:
        _paused.reset(token)


def _mlflow_run_active() -> bool:
    mlflow = sys.modules.get("mlflow")  # no run can be active if MLflow was never imported
    return mlflow is not None and mlflow.active_run() is not None


def fit_is_logged() -> bool:
    """Whether a fit finishing now would be logged (see the module docstring)."""
    if _paused.get() or not tracking_enabled():
        return False
    return _autolog.enabled or _mlflow_run_active()


def after_fit(model, module: str, *, data: pd.DataFrame | None = None,
              run_name: str | None = None) -> None:
    """Log ``model`` if the user asked for it; estimators call this last in ``fit``.

    The logging itself is the module's ``crm_ml.<module>.tracking.log_model``, imported
    only when a fit is logged: the estimator does not depend on its logging code (which
    depends on the estimator), and a fit that is not logged never imports MLflow.

    Parameters
    ----------
    model : estimator
        The fitted model.
    module : str
        The crm_ml package the estimator belongs to (``"churn"``...): its ``tracking``
        module logs the model, and it is recorded as the run's ``module`` tag.
    data : DataFrame, optional
        Training data: only its row count, hash and period are recorded as tags.
    run_name : str, optional
        Readable run name (default: the model's class name).
    """
    if not fit_is_logged():
        return
    log_model = importlib.import_module(f"crm_ml.{module}.tracking").log_model
    with paused(), start_run(module, run_name=run_name or type(model).__name__, data=data,
                             nested=_mlflow_run_active()) as run:
        log_model(model, run=run, include_model=_autolog.log_models)


@contextlib.contextmanager
def model_run(module: str, run: TrackedRun | None = None, *, run_name: str | None = None,
              data: pd.DataFrame | None = None) -> Iterator[TrackedRun]:
    """The run a ``log_model`` call logs into.

    ``run`` if given; otherwise the active MLflow run (as ``mlflow.<flavor>.log_model``
    does); otherwise a new run that ends when the block ends. With tracking switched off
    (``CRM_ML_TRACKING=0``) the handle is inactive and nothing is written.

    Parameters
    ----------
    module : str
        The crm_ml module, recorded as the ``module`` tag of a new run.
    run : TrackedRun, optional
        A run from :func:`crm_ml.tracking.start_run`.
    run_name : str, optional
        Name of a new run.
    data : DataFrame, optional
        Training data of a new run: only its row count, hash and period are recorded.

    Yields
    ------
    TrackedRun
    """
    if run is not None:
        yield run
        return
    if not tracking_enabled():
        yield TrackedRun()
        return
    if _mlflow_run_active():
        mlflow = sys.modules["mlflow"]
        yield TrackedRun(mlflow, mlflow.active_run())
        return
    with start_run(module, run_name=run_name, data=data, nested=False) as new:
        yield new
