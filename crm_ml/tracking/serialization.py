"""Safe, portable model files for pyfunc artifacts: LightGBM text, skops, JSON.

Model modules save fitted state with these helpers and load it in their
``PythonModel.load_context``. None of them unpickles arbitrary code:

- LightGBM boosters are stored in LightGBM's native text format.
- scikit-learn estimators are stored with skops; :func:`load_sklearn` loads a file only when
  every type skops does not trust by default is in :data:`TRUSTED_TYPES`, an explicit list of
  exact, fully qualified names defined *here, in code* (never read from the model file, never
  a module prefix), and raises otherwise - before anything in the file is built.
- Parameters and small tables are JSON.

A file that is missing, truncated or lacks what it must hold raises
:class:`~crm_ml.errors.ModelFilesError` naming the file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from crm_ml._json import to_jsonable
from crm_ml.errors import ModelFilesError, UntrustedModelError

#: The types, beyond those skops trusts by default, that crm_ml's own skops files contain:
#: the trees of the churn random forest, and the ``np.clip`` of the segmentation pipeline's
#: log scaling. Found by saving every model crm_ml writes with skops (random forest with and
#: without calibration, bagging and class weights; segmentation with k-means, mini-batch
#: k-means and Gaussian mixtures under every scaling) and collecting
#: ``skops.io.get_untrusted_types``. Exact names only: a prefix such as ``numpy.`` would also
#: admit functions like ``numpy.testing._private.utils.runstring``, which is ``exec``.
TRUSTED_TYPES: frozenset[str] = frozenset({
    "sklearn.tree._tree.Tree",
    "numpy.clip",
})


def save_sklearn(estimator, path: str | os.PathLike) -> Path:
    """Save a scikit-learn estimator (or pipeline) with skops.

    Parameters
    ----------
    estimator : sklearn estimator
    path : path-like
        Target file, conventionally ``*.skops``.

    Returns
    -------
    Path
    """
    import skops.io as sio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sio.dump(estimator, path)
    return path


def untrusted_types(path: str | os.PathLike) -> list[str]:
    """Types in a skops file that skops does not trust by default (nothing is built).

    Raises
    ------
    ModelFilesError
        When the file is missing or not a readable skops file.
    """
    import skops.io as sio

    try:
        return sorted(sio.get_untrusted_types(file=str(path)))
    except Exception as exc:  # zipfile, JSON and skops schema errors alike
        raise _unreadable(path, "a skops file", exc) from exc


def load_sklearn(path: str | os.PathLike, trusted: Iterable[str] = ()):
    """Load a skops file, trusting only exact type names from an explicit allow-list.

    The file's types are checked before anything in it is built: a file with any other type
    is refused, and nothing of it runs.

    Parameters
    ----------
    path : path-like
        A file written by :func:`save_sklearn`.
    trusted : iterable of str
        Extra fully qualified type names to accept (exact names, e.g.
        ``"sklearn.tree._tree.Tree"``; a module prefix matches nothing), for files of your
        own. :data:`TRUSTED_TYPES` is always accepted.

    Returns
    -------
    The estimator.

    Raises
    ------
    UntrustedModelError
        When the file contains a type outside the allow-list (it is not loaded).
    ModelFilesError
        When the file is missing or not a readable skops file (e.g. truncated).
    """
    import skops.io as sio

    allowed = TRUSTED_TYPES | set(trusted)
    found = untrusted_types(path)
    bad = [t for t in found if t not in allowed]
    if bad:
        raise UntrustedModelError(
            f"Refusing to load {path}: it contains types that crm_ml's own models never "
            f"contain: {bad}. Nothing in the file was run. Do not use this file; re-train the "
            "model with crm-ml train (or pass trusted=[...] only for a file you made yourself)."
        )
    try:
        return sio.load(str(path), trusted=found)
    except Exception as exc:
        raise _unreadable(path, "a skops file", exc) from exc


def _unreadable(path, what: str, exc: BaseException) -> ModelFilesError:
    """The error for a model file that is missing or cannot be read as ``what``."""
    if isinstance(exc, FileNotFoundError) or not Path(path).exists():
        problem = "is missing"
    else:
        problem = f"is not {what} ({type(exc).__name__}: {exc}); it may be truncated or damaged"
    return ModelFilesError(f"{path} {problem}. Restore it from a backup, or re-train the "
                           "model with crm-ml train.", path=str(path))


def save_lightgbm(model, path: str | os.PathLike) -> Path:
    """Save a LightGBM Booster (or fitted LGBMModel) in LightGBM's native text format."""
    booster = getattr(model, "booster_", model)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(path))
    return path


def load_lightgbm(path: str | os.PathLike):
    """Load a LightGBM ``Booster`` from its native text file.

    Raises
    ------
    ModelFilesError
        When the file is missing or LightGBM cannot read it.
    """
    import lightgbm as lgb

    try:
        return lgb.Booster(model_file=str(path))
    except Exception as exc:  # lightgbm.basic.LightGBMError
        raise _unreadable(path, "a LightGBM model file", exc) from exc


def save_json(obj: Any, path: str | os.PathLike) -> Path:
    """Write a JSON file (numpy scalars and timestamps are converted)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_jsonable(obj), indent=2), encoding="utf-8")
    return path


def load_json(path: str | os.PathLike, required: Iterable[str] = ()) -> Any:
    """Read a JSON file.

    Parameters
    ----------
    path : path-like
    required : iterable of str
        Keys the file must hold (it must then be a JSON object).

    Raises
    ------
    ModelFilesError
        When the file is missing, not JSON, or lacks a required key.
    """
    try:
        obj = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # ValueError: bad JSON or bad UTF-8
        raise _unreadable(path, "a JSON file", exc) from exc
    required = list(required)
    if required:
        missing = [k for k in required if not isinstance(obj, dict) or k not in obj]
        if missing:
            raise ModelFilesError(
                f"{path} lacks the key(s) {missing} that crm_ml writes there; it is damaged "
                "or from another program. Restore it from a backup, or re-train the model "
                "with crm-ml train.", path=str(path))
    return obj
