"""Check that a model is one crm_ml wrote itself before anything in it is loaded.

A registered model is files in an artifact store: an ``MLmodel`` description, the script or
pickle that rebuilds the Python model, and its fitted state. Loading it with
``mlflow.pyfunc.load_model`` runs that script or unpickles that pickle, so a version
registered by anyone with write access to the registry could run any code in a scoring job.
crm_ml therefore loads a model only when

- its ``MLmodel`` has exactly one flavour, ``python_function``, loaded by MLflow's
  models-from-code loader (:data:`CODE_LOADER`) from the script ``crm_ml_model.py``, with no
  cloudpickled ``python_model``, no ``code_paths`` and no setting outside
  :data:`PYFUNC_KEYS`; its artifacts lie inside the model folder;
- the script's bytes are exactly what crm_ml writes
  (:func:`crm_ml.tracking.model_code.model_code`) for one of its own wrapper classes
  (:data:`CRM_ML_WRAPPERS`);
- the wrapper then reads the fitted state with crm_ml's loaders: JSON, LightGBM text, or
  skops with the exact type list of :mod:`crm_ml.tracking.serialization`.

:func:`load_trusted` checks the two small files first (nothing else is downloaded for a
refused model), then downloads the whole model, checks the local copy again (the bytes that
are loaded are the bytes that were checked, even if the store changes meanwhile) and loads
it. A refused model raises :class:`~crm_ml.errors.UntrustedModelError`; missing or damaged
files raise :class:`~crm_ml.errors.ModelFilesError`. Both name the model and what to do.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from crm_ml.errors import CrmMlError, ModelFilesError, UntrustedModelError
from crm_ml.tracking.model_code import MODEL_CODE_FILE, model_code
from crm_ml.tracking.model_code import quiet_mlflow_logging as _quiet_mlflow_logging

#: crm_ml's own pyfunc wrapper classes, ``(module, class name)``: the only Python models a
#: crm_ml loader builds.
CRM_ML_WRAPPERS: tuple[tuple[str, str], ...] = (
    ("crm_ml.churn.pyfunc", "ChurnPyfuncModel"),
    ("crm_ml.clv.pyfunc", "CLVPyfuncModel"),
    ("crm_ml.forecast.pyfunc", "ForecastPyfunc"),
    ("crm_ml.recommend.pyfunc", "RecommendPyfuncModel"),
    ("crm_ml.segmentation.pyfunc", "SegmentsModel"),
    ("crm_ml.tracking.pyfunc", "SkopsEstimatorModel"),
    ("crm_ml.campaigns.pyfunc", "UpliftPyfuncModel"),
)

#: The MLflow loader of models from code (the script is run, nothing is unpickled).
CODE_LOADER = "mlflow.pyfunc.loaders.code_model"
PYFUNC = "python_function"
#: Settings MLflow writes in the ``python_function`` flavour of a model from code. Anything
#: else is refused, e.g. ``python_model`` (a cloudpickle) or ``data``.
PYFUNC_KEYS = frozenset({"loader_module", "model_code_path", "artifacts", "code", "env",
                         "python_version", "cloudpickle_version", "streamable"})

_FIX = ("Re-train and register the model with `crm-ml train` (then promote it), and find out "
        "who registered this version.")


def wrapper_code() -> dict[bytes, str]:
    """The script of every crm_ml wrapper, as bytes, mapped to the wrapper's full name."""
    return {model_code(module, cls).encode("utf-8"): f"{module}.{cls}"
            for module, cls in CRM_ML_WRAPPERS}


def check_wrapper_class(cls: type) -> None:
    """Refuse to log a wrapper that crm_ml's loaders would refuse to load.

    Raises
    ------
    CrmMlError
        When ``cls`` is not one of :data:`CRM_ML_WRAPPERS`.
    """
    if (cls.__module__, cls.__name__) not in CRM_ML_WRAPPERS:
        known = ", ".join(f"{m}.{c}" for m, c in CRM_ML_WRAPPERS)
        raise CrmMlError(f"{cls.__module__}.{cls.__qualname__}: crm_ml logs and loads only its "
                         f"own pyfunc wrappers ({known}); save other models with "
                         "mlflow.pyfunc.log_model directly")


def _read_mlmodel(folder: Path, label: str) -> dict:
    import yaml

    path = folder / "MLmodel"
    try:
        meta = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise ModelFilesError(
            f"{label}: its MLmodel file cannot be read ({type(exc).__name__}: {exc}). "
            "Restore the model's files from a backup, or re-train it with `crm-ml train`.",
            path=str(path)) from exc
    if not isinstance(meta, dict):
        raise ModelFilesError(
            f"{label}: its MLmodel file is not an MLflow model description. Restore the "
            "model's files from a backup, or re-train it with `crm-ml train`.", path=str(path))
    return meta


def _flavour_problem(meta: dict) -> str | None:
    """What makes an MLmodel description something other than a crm_ml model from code."""
    flavors = meta.get("flavors")
    if not isinstance(flavors, dict) or PYFUNC not in flavors:
        return "it has no python_function flavour"
    others = sorted(set(flavors) - {PYFUNC})
    if others:
        return f"it has other flavours besides python_function ({', '.join(others)})"
    conf = flavors[PYFUNC]
    if not isinstance(conf, dict):
        return "its python_function flavour is malformed"
    if "python_model" in conf:
        return (f"its python_function flavour loads a cloudpickle ({conf['python_model']}), "
                "which runs code when it is unpickled")
    if conf.get("loader_module") != CODE_LOADER:
        return (f"its python_function flavour is loaded by {conf.get('loader_module')!r}, "
                f"not by MLflow's models-from-code loader {CODE_LOADER!r}")
    code_path = conf.get("model_code_path")
    if not isinstance(code_path, str) or os.path.basename(code_path) != MODEL_CODE_FILE:
        return f"its model code is {code_path!r}, not crm_ml's {MODEL_CODE_FILE}"
    if conf.get("code"):
        return f"it puts extra code on the import path (code_paths: {conf['code']!r})"
    extra = sorted(set(conf) - PYFUNC_KEYS)
    if extra:
        return f"its python_function flavour has settings crm_ml never writes ({extra})"
    artifacts = conf.get("artifacts") or {}
    if not isinstance(artifacts, dict):
        return "its artifacts list is malformed"
    for key, info in artifacts.items():
        rel = info.get("path") if isinstance(info, dict) else None
        parts = PurePosixPath(rel).parts if isinstance(rel, str) else ()
        if not parts or parts[0] != "artifacts" or ".." in parts or rel.startswith("/"):
            return f"its artifact {key!r} is not inside the model folder ({rel!r})"
    return None


def check_model_folder(folder: str | os.PathLike, label: str) -> str:
    """Check a model's ``MLmodel`` and ``crm_ml_model.py`` in a local folder.

    Only these two files are read; nothing is imported, unpickled or run.

    Parameters
    ----------
    folder : path-like
        The model folder (or a folder holding just those two files).
    label : str
        How to name the model in errors, e.g. ``"model crm-churn version 3"``.

    Returns
    -------
    str
        The full name of the crm_ml wrapper class the model builds.

    Raises
    ------
    UntrustedModelError
        When the model is not a crm_ml model from code.
    ModelFilesError
        When a file is missing or unreadable.
    """
    folder = Path(folder)
    meta = _read_mlmodel(folder, label)
    problem = _flavour_problem(meta)
    if problem is None:
        code_file = folder / MODEL_CODE_FILE
        try:
            code = code_file.read_bytes()
        except OSError as exc:
            raise ModelFilesError(
                f"{label}: its model code {MODEL_CODE_FILE} is missing "
                f"({type(exc).__name__}). Restore the model's files from a backup, or re-train "
                "it with `crm-ml train`.", path=str(code_file)) from exc
        wrapper = wrapper_code().get(code)
        if wrapper is not None:
            return wrapper
        problem = (f"its {MODEL_CODE_FILE} is not the script crm_ml writes for one of its "
                   "wrappers (it was edited or written by another program)")
    raise UntrustedModelError(f"Refusing to load {label}: {problem}. Nothing in it was run; "
                              f"crm_ml loads only models it wrote itself. {_FIX}")


def _download(uri: str, dst: str, label: str, location: str) -> str:
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        with _quiet_mlflow_logging():
            return mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=dst)
    except (MlflowException, OSError) as exc:
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        reason = lines[-1] if lines else type(exc).__name__
        raise ModelFilesError(
            f"{label}: its files are missing or unreadable in the artifact store at "
            f"{location} ({reason}). Restore the model's folder from a backup, or re-train "
            "it with `crm-ml train`.", path=location) from exc


def verify_model(model_uri: str, label: str | None = None, location: str | None = None) -> str:
    """Check a stored model without loading it: download and check only its ``MLmodel``
    and ``crm_ml_model.py``.

    Parameters
    ----------
    model_uri : str
        E.g. ``models:/crm-churn/3`` (pin a version rather than an alias, so that what is
        checked is what is loaded).
    label : str, optional
        How to name the model in errors (default: the URI).
    location : str, optional
        Where the model's files are stored, for error messages (default: the URI).

    Returns
    -------
    str
        The full name of the crm_ml wrapper class the model builds.

    Raises
    ------
    UntrustedModelError, ModelFilesError
    """
    label = label or f"model {model_uri}"
    location = location or model_uri
    with tempfile.TemporaryDirectory() as tmp:
        meta_dir = Path(tmp)
        _download(f"{model_uri.rstrip('/')}/MLmodel", tmp, label, location)
        if _flavour_problem(_read_mlmodel(meta_dir, label)) is None:
            _download(f"{model_uri.rstrip('/')}/{MODEL_CODE_FILE}", tmp, label, location)
        return check_model_folder(meta_dir, label)


def load_trusted(model_uri: str, label: str | None = None, location: str | None = None):
    """Load a stored model as an MLflow pyfunc model, only if it is a crm_ml model.

    Parameters are those of :func:`verify_model`.

    Returns
    -------
    mlflow.pyfunc.PyFuncModel

    Raises
    ------
    UntrustedModelError
        When the model is not a crm_ml model from code, or a file holds types crm_ml's
        models never contain (nothing of it is run).
    ModelFilesError
        When the model's files are missing, truncated or incomplete.
    """
    import mlflow.pyfunc

    label = label or f"model {model_uri}"
    location = location or model_uri
    verify_model(model_uri, label, location)
    with tempfile.TemporaryDirectory() as tmp:
        local = _download(model_uri, tmp, label, location)
        check_model_folder(local, label)  # the copy that is loaded is the copy checked
        try:
            # the wrappers read every artifact in load_context, so the copy can go afterwards
            return mlflow.pyfunc.load_model(local)
        except UntrustedModelError as exc:
            raise UntrustedModelError(f"{label}: {_in_store(exc, local, location)}") from exc
        except ModelFilesError as exc:
            raise ModelFilesError(f"{label}: {_in_store(exc, local, location)}",
                                  path=location) from exc
        except CrmMlError:
            raise
        except Exception as exc:  # the code is crm_ml's own: its files are damaged
            raise ModelFilesError(
                f"{label}: its files in {location} cannot be read ({type(exc).__name__}: "
                f"{exc}). Restore the model's files from a backup, or re-train it with "
                "`crm-ml train`.", path=location) from exc


def _in_store(exc: Exception, local: str, location: str) -> str:
    """The message of ``exc`` with the local copy's folder replaced by the store's."""
    return str(exc).replace(str(Path(local)), location.rstrip("/"))


def _registered(name: str, version: str, alias: str | None) -> dict[str, str]:
    """URI (pinned to the version), label and store location of a registered version."""
    from crm_ml.tracking.store import client as _client
    from crm_ml.tracking.store import model_uri

    shown = f"@{alias}, " if alias is not None and str(alias) != str(version) else ""
    return {"model_uri": model_uri(name, str(version)),
            "label": f"model {name} ({shown}version {version})",
            "location": _client().get_model_version_download_uri(name, str(version))}


def verify_version(name: str, version: str, alias: str | None = None) -> str:
    """:func:`verify_model` for version ``version`` of registered model ``name``.

    ``alias`` (the alias that pointed to the version) is only used in messages.
    """
    return verify_model(**_registered(name, version, alias))


def load_version(name: str, version: str, alias: str | None = None):
    """:func:`load_trusted` for version ``version`` of registered model ``name``.

    ``alias`` (the alias that pointed to the version) is only used in messages.
    """
    return load_trusted(**_registered(name, version, alias))


def _damaged_database(exc: BaseException) -> BaseException | None:
    """The SQLite error in ``exc``'s chain that says the database file itself is damaged.

    ``sqlite3.DatabaseError`` proper ("file is not a database", "database disk image is
    malformed"); its subclasses (locked, cannot open, constraint failed) are other problems.
    SQLAlchemy keeps the driver's error in ``.orig``; MLflow re-raises with a cause.
    """
    seen: set[int] = set()
    todo = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if type(e) is sqlite3.DatabaseError:
            return e
        todo.extend([getattr(e, "orig", None), e.__cause__, e.__context__])
    return None


@contextlib.contextmanager
def readable_store() -> Iterator[None]:
    """Turn "the registry database is damaged" into a one-line :class:`ModelFilesError`.

    A SQLite store that is truncated or overwritten otherwise surfaces as a SQLAlchemy
    traceback, or as MLflow saying the model does not exist. Usable as a decorator.
    """
    try:
        yield
    except Exception as exc:
        damaged = _damaged_database(exc)
        if damaged is None:
            raise
        from crm_ml.tracking.runs import tracking_uri

        uri = tracking_uri()
        where = uri.removeprefix("sqlite:///") if uri.startswith("sqlite:///") else uri
        raise ModelFilesError(
            f"the MLflow registry database {where} cannot be read ({damaged}): it is damaged "
            "or not an MLflow database. Restore it from a backup, or re-train the models "
            "into a new store with `crm-ml train`.", path=where) from exc
