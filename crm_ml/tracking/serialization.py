"""Safe, portable model files for pyfunc artifacts: LightGBM text, skops, JSON.

Model modules save fitted state with these helpers and load it in their
``PythonModel.load_context``. None of them unpickles arbitrary code:

- LightGBM boosters are stored in LightGBM's native text format.
- scikit-learn estimators are stored with skops; :func:`load_sklearn` only loads types that
  belong to an explicit allow-list of module prefixes defined *here, in code* (not read from
  the model file), and raises otherwise.
- Parameters and small tables are JSON.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from crm_ml.errors import CrmMlError

#: Module prefixes whose types skops may load without further confirmation.
TRUSTED_TYPE_PREFIXES: tuple[str, ...] = ("sklearn.", "numpy.", "scipy.")


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
    """Types in a skops file that skops does not trust by default."""
    import skops.io as sio

    return list(sio.get_untrusted_types(file=str(path)))


def load_sklearn(path: str | os.PathLike, trusted_prefixes: Iterable[str] = TRUSTED_TYPE_PREFIXES,
                 trusted: Iterable[str] = ()):
    """Load a skops file, trusting only types from an explicit allow-list.

    Parameters
    ----------
    path : path-like
        A file written by :func:`save_sklearn`.
    trusted_prefixes : iterable of str
        Module prefixes whose types are accepted (default scikit-learn, numpy, scipy).
    trusted : iterable of str
        Extra fully qualified type names to accept.

    Returns
    -------
    The estimator.

    Raises
    ------
    CrmMlError
        When the file contains a type outside the allow-list (it is not loaded).
    """
    import skops.io as sio

    prefixes = tuple(trusted_prefixes)
    extra = set(trusted)
    found = untrusted_types(path)
    bad = [t for t in found if t not in extra and not t.startswith(prefixes)]
    if bad:
        raise CrmMlError(
            f"Refusing to load {path}: it contains types outside the trusted list: {bad}. "
            "Only load model files from a registry you trust; pass trusted=[...] to accept them."
        )
    return sio.load(str(path), trusted=found)


def save_lightgbm(model, path: str | os.PathLike) -> Path:
    """Save a LightGBM Booster (or fitted LGBMModel) in LightGBM's native text format."""
    booster = getattr(model, "booster_", model)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(path))
    return path


def load_lightgbm(path: str | os.PathLike):
    """Load a LightGBM ``Booster`` from its native text file."""
    import lightgbm as lgb

    return lgb.Booster(model_file=str(path))


def save_json(obj: Any, path: str | os.PathLike) -> Path:
    """Write a JSON file (numpy scalars and timestamps are converted)."""
    from crm_ml.cards.card import to_jsonable

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_jsonable(obj), indent=2), encoding="utf-8")
    return path


def load_json(path: str | os.PathLike) -> Any:
    """Read a JSON file."""
    return json.loads(Path(path).read_text(encoding="utf-8"))
