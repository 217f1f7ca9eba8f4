"""The MLflow store crm_ml tracks into: a client for it, model URIs, alias names.

The bottom layer of :mod:`crm_ml.tracking` (it imports only :mod:`crm_ml.tracking.runs`), so
the registry, the trust checks, the release plan and :mod:`crm_ml.cards` use it without
importing each other.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from crm_ml.tracking.runs import ensure_store, tracking_uri

__all__ = ["CHALLENGER", "CHAMPION", "client", "download_run_folder", "model_uri"]

CHALLENGER = "challenger"
CHAMPION = "champion"


def client():
    """An ``mlflow.MlflowClient`` for crm_ml's store (:func:`~crm_ml.tracking.tracking_uri`).

    The store is created when missing, and it becomes MLflow's tracking and registry URI.
    """
    import mlflow

    uri = ensure_store(tracking_uri())
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)


def model_uri(name: str, alias: str = CHAMPION) -> str:
    """``models:/NAME@alias``, or ``models:/NAME/VERSION`` when ``alias`` is a version number."""
    alias = str(alias)
    return f"models:/{name}/{alias}" if alias.isdigit() else f"models:/{name}@{alias}"


def download_run_folder(run_id: str, artifact_path: str, dst_path: str | Path | None = None,
                        *, required: str | None = None) -> Path:
    """Download the artifact folder ``artifact_path`` of run ``run_id``.

    Parameters
    ----------
    run_id : str
        The MLflow run.
    artifact_path : str
        Folder inside the run's artifacts (e.g. ``"card"``).
    dst_path : path, optional
        Local folder to download into (default: a new temporary folder).
    required : str, optional
        Artifact path (e.g. ``"card/card.json"``) that must exist in the folder.

    Returns
    -------
    Path
        The local copy of the folder.

    Raises
    ------
    FileNotFoundError
        ``required`` is not among the folder's artifacts (or the run has none there).
    mlflow.exceptions.MlflowException
        The run or its artifacts cannot be read.
    """
    import mlflow

    if required is not None:
        names = [a.path for a in client().list_artifacts(run_id, artifact_path)]
        if required not in names:
            raise FileNotFoundError(f"run {run_id} has no artifact {required}")
    dst = str(dst_path) if dst_path is not None else tempfile.mkdtemp(prefix="crm_ml-")
    return Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=artifact_path,
                                                    dst_path=dst))
