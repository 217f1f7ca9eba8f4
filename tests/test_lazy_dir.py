"""Every package lists its public names in dir() and resolves them by attribute (issue #17)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "crm_ml"
PACKAGES = sorted(".".join(p.parent.relative_to(ROOT.parent).parts)
                  for p in ROOT.rglob("__init__.py"))


@pytest.mark.parametrize("name", PACKAGES)
def test_all_names_are_in_dir_and_resolve(name):
    pkg = importlib.import_module(name)
    public = getattr(pkg, "__all__", None)
    assert public is not None, f"{name} has no __all__"
    listed = dir(pkg)
    missing = [n for n in public if n not in listed]
    assert not missing, f"dir({name}) lacks {missing}"
    for n in public:
        assert getattr(pkg, n) is not None or n == "logger", f"{name}.{n}"


@pytest.mark.parametrize("path", ["crm_ml.clv.pyfunc", "crm_ml.churn.pyfunc",
                                  "crm_ml.features.facts", "crm_ml.tracking.store"])
def test_submodules_resolve_by_attribute_as_the_readme_writes_them(path):
    import crm_ml

    obj = crm_ml
    for part in path.split(".")[1:]:
        obj = getattr(obj, part)
    assert obj.__name__ == path
