"""Lazy package exports: a name is imported from its module on first access."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Iterable, Mapping


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], object]:
    """A module ``__getattr__`` that loads ``exports[name]`` (a module path) on first use.

    Submodules load the same way, so ``crm_ml.clv.pyfunc`` works without importing it first.
    """

    def __getattr__(name: str):
        if name in exports:
            return getattr(importlib.import_module(exports[name]), name)
        if not name.startswith("__") and importlib.util.find_spec(f"{package}.{name}"):
            return importlib.import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__


def lazy_dir(namespace: Mapping[str, object], names: Iterable[str]) -> Callable[[], list[str]]:
    """A module ``__dir__`` listing the loaded ``namespace`` and the lazy ``names`` too.

    ``dir(module)`` (and so tab completion in IPython and Jupyter) then shows public names
    before they are first used.
    """

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(names))

    return __dir__
