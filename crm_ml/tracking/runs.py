"""One way to track: an MLflow run per fit, or a no-op when tracking is off.

Every model module logs through :func:`start_run`. The default store is a local SQLite
database ``mlflow.db`` with artifacts in ``mlartifacts/``, both in the working directory and
created on first use. ``MLFLOW_TRACKING_URI`` (or :func:`configure`) points it elsewhere;
``CRM_ML_TRACKING=0`` (or ``configure(enabled=False)``) switches tracking off.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from crm_ml._logging import get_logger

log = get_logger("tracking")

DEFAULT_EXPERIMENT = "crm_ml"


@dataclass
class _Settings:
    enabled: bool | None = None
    tracking_uri: str | None = None
    experiment: str | None = None


_settings = _Settings()


def configure(enabled: bool | None = None, tracking_uri: str | None = None,
              experiment: str | None = None) -> None:
    """Set tracking options for this process.

    Parameters
    ----------
    enabled : bool, optional
        False switches tracking off (fits log nothing); None leaves the current setting.
    tracking_uri : str, optional
        An MLflow tracking URI; overrides ``MLFLOW_TRACKING_URI`` and the local default.
    experiment : str, optional
        Experiment name (default ``"crm_ml"`` or ``MLFLOW_EXPERIMENT_NAME``).
    """
    if enabled is not None:
        _settings.enabled = enabled
    if tracking_uri is not None:
        _settings.tracking_uri = tracking_uri
    if experiment is not None:
        _settings.experiment = experiment


def tracking_enabled() -> bool:
    """Whether fits are tracked in MLflow."""
    if _settings.enabled is not None:
        return _settings.enabled
    return os.environ.get("CRM_ML_TRACKING", "1").lower() not in ("0", "false", "no", "off")


def tracking_uri() -> str:
    """The tracking URI in force: explicit setting, ``MLFLOW_TRACKING_URI``, or local SQLite."""
    if _settings.tracking_uri:
        return _settings.tracking_uri
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    return "sqlite:///" + str(Path.cwd() / "mlflow.db")


#: (tracking URI, experiment) pairs this process has already created or found.
_ready: set[tuple[str, str | None]] = set()


def ensure_store(uri: str | None = None, experiment: str | None = None) -> str:
    """Create the tracking store at ``uri`` (and ``experiment`` in it) once, under a lock.

    MLflow creates a fresh SQLite store's tables when a client first opens it; two processes
    doing that at once make one fail ("table experiments already exists"), and two creating
    the same experiment make one fail too. This runs the first opening in each process
    under :func:`~crm_ml.tracking.locks.store_lock`, so the second process waits and then
    finds the tables and the experiment in place.

    Parameters
    ----------
    uri : str, optional
        Tracking URI (default :func:`tracking_uri`).
    experiment : str, optional
        Also get or create this experiment (artifacts of a SQLite store go to
        ``mlartifacts/`` beside the database).

    Returns
    -------
    str
        The URI.
    """
    uri = uri or tracking_uri()
    if (uri, experiment) in _ready:
        return uri
    import mlflow

    from crm_ml.tracking.locks import sqlite_path, store_lock

    with store_lock(uri, "init"):
        client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
        client.search_experiments(max_results=1)           # creates the tracking tables
        client.search_registered_models(max_results=1)     # and the registry's
        if experiment is not None and client.get_experiment_by_name(experiment) is None:
            db = sqlite_path(uri)
            # Keep artifacts beside the local database instead of MLflow's default ./mlruns.
            location = (db.resolve().parent / "mlartifacts").as_uri() if db else None
            client.create_experiment(experiment, artifact_location=location)
    _ready.add((uri, experiment))
    return uri


def _setup_mlflow():
    import mlflow

    if mlflow.active_run() is not None:
        # Inside a run someone already opened (a pipeline, or the user's own
        # ``mlflow.start_run()``): log where that run lives, never re-point MLflow.
        return mlflow
    uri = tracking_uri()
    name = _settings.experiment or os.environ.get("MLFLOW_EXPERIMENT_NAME") or DEFAULT_EXPERIMENT
    ensure_store(uri, name)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    mlflow.set_experiment(name)
    return mlflow


def data_fingerprint(df: pd.DataFrame) -> str:
    """A short, stable SHA-256 hash of a frame's contents (values, index and columns)."""
    h = hashlib.sha256()
    h.update(json.dumps([str(c) for c in df.columns]).encode())
    h.update(pd.util.hash_pandas_object(df, index=True).to_numpy().tobytes())
    return h.hexdigest()[:16]


def describe_data(df: pd.DataFrame, prefix: str = "data") -> dict[str, str]:
    """Tags that describe training data without revealing any row: rows, hash, period."""
    tags = {f"{prefix}.rows": str(len(df)), f"{prefix}.hash": data_fingerprint(df)}
    if "timestamp" in df.columns and len(df):
        tags[f"{prefix}.start"] = str(pd.Timestamp(df["timestamp"].min()).date())
        tags[f"{prefix}.end"] = str(pd.Timestamp(df["timestamp"].max()).date())
    if "customer_id" in df.columns:
        tags[f"{prefix}.customers"] = str(df["customer_id"].nunique())
    return tags


class TrackedRun:
    """A thin handle on an active MLflow run; every method is a no-op when disabled."""

    def __init__(self, mlflow_module=None, run=None):
        self._mlflow = mlflow_module
        self._run = run

    @property
    def active(self) -> bool:
        """True when this handle logs to a real MLflow run."""
        return self._run is not None

    @property
    def run_id(self) -> str | None:
        """The MLflow run id, or None when tracking is off."""
        return self._run.info.run_id if self._run is not None else None

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log parameters (values are converted to strings by MLflow)."""
        if self.active and params:
            self._mlflow.log_params({k: _short(v) for k, v in params.items()})

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Log finite numeric metrics; non-numeric or NaN values are skipped."""
        if not self.active:
            return
        clean = {}
        for k, v in metrics.items():
            try:
                f = float(v)
            except (TypeError, ValueError):
                continue
            if f == f and abs(f) != float("inf"):
                clean[k] = f
        if clean:
            self._mlflow.log_metrics(clean, step=step)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Set run tags."""
        if self.active and tags:
            self._mlflow.set_tags({k: str(v) for k, v in tags.items()})

    def log_figure(self, figure, name: str) -> None:
        """Log a matplotlib Figure as ``plots/<name>.png``."""
        if self.active and figure is not None:
            self._mlflow.log_figure(figure, f"plots/{name}.png")

    def log_table(self, df: pd.DataFrame, name: str, fmt: str = "csv") -> None:
        """Log a DataFrame as ``tables/<name>.csv`` (or ``.parquet``).

        Only aggregate tables belong here: never raw customer rows or identifiers.
        """
        if not self.active:
            return
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{name}.{fmt}"
            if fmt == "parquet":
                df.to_parquet(path)
            else:
                df.to_csv(path)
            self._mlflow.log_artifact(str(path), artifact_path="tables")

    def log_dict(self, data: Mapping[str, Any], name: str) -> None:
        """Log a JSON-serialisable mapping as an artifact file ``name``."""
        if self.active:
            self._mlflow.log_dict(dict(data), name)

    def log_text(self, text: str, name: str) -> None:
        """Log text as an artifact file ``name``."""
        if self.active:
            self._mlflow.log_text(text, name)

    def log_artifact(self, path: str | os.PathLike, artifact_path: str | None = None) -> None:
        """Log a local file or folder."""
        if not self.active:
            return
        path = Path(path)
        if path.is_dir():
            self._mlflow.log_artifacts(str(path), artifact_path=artifact_path)
        else:
            self._mlflow.log_artifact(str(path), artifact_path=artifact_path)


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 500 else text[:497] + "..."


def _version() -> str:
    from crm_ml import __version__

    return __version__


@contextlib.contextmanager
def start_run(module: str, *, run_name: str | None = None,
              params: Mapping[str, Any] | None = None, tags: Mapping[str, Any] | None = None,
              data: pd.DataFrame | None = None, nested: bool | None = None,
              enabled: bool | None = None) -> Iterator[TrackedRun]:
    """Open an MLflow run for one fit (or a no-op handle when tracking is off).

    Parameters
    ----------
    module : str
        The crm_ml module that fits, e.g. ``"churn"``; recorded as the ``module`` tag.
    run_name : str, optional
        A readable run name; defaults to the module name.
    params, tags : mapping, optional
        Parameters and extra tags to record at the start.
    data : DataFrame, optional
        Training data; only its row count, hash and period are recorded, never its rows.
    nested : bool, optional
        Nest under the active run (a pipeline). Default: nest when a run is active.
    enabled : bool, optional
        Override the global switch for this run.

    Yields
    ------
    TrackedRun
    """
    on = tracking_enabled() if enabled is None else enabled
    if not on:
        yield TrackedRun()
        return
    mlflow = _setup_mlflow()
    if nested is None:
        nested = mlflow.active_run() is not None
    all_tags = {"module": module, "crm_ml.version": _version()}
    if data is not None:
        all_tags.update(describe_data(data))
    if tags:
        all_tags.update({k: str(v) for k, v in tags.items()})
    with mlflow.start_run(run_name=run_name or module, nested=nested, tags=all_tags) as run:
        handle = TrackedRun(mlflow, run)
        if params:
            handle.log_params(params)
        log.info("MLflow run %s (%s) at %s", run.info.run_id, module, tracking_uri())
        yield handle


@contextlib.contextmanager
def resume_run(run_id: str) -> Iterator[TrackedRun]:
    """Reopen a finished run (nested under the active one, if any) to log more to it.

    Parameters
    ----------
    run_id : str

    Yields
    ------
    TrackedRun
    """
    mlflow = _setup_mlflow()
    with mlflow.start_run(run_id=run_id, nested=mlflow.active_run() is not None) as run:
        yield TrackedRun(mlflow, run)
