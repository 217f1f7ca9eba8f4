"""The documentation site covers the public API and every page is reachable from the nav.

`make test` builds the site with `mkdocs build --strict` (a broken link or an API entry naming
a function that no longer exists fails it); these tests check what a strict build cannot: that
no public name is missing from the API reference and no page is left out of the menu.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import crm_ml

ROOT = Path(__file__).parents[1]
DOCS = ROOT / "docs"
API = DOCS / "api"


def _public_packages() -> dict[str, list[str]]:
    """crm_ml and every subpackage (and crm_ml's public modules) with an ``__all__``."""
    found = {"crm_ml": list(crm_ml.__all__)}
    for info in pkgutil.walk_packages(crm_ml.__path__, "crm_ml."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        public_module = info.name.count(".") == 1 and info.name.split(".")[1] in crm_ml.__all__
        if not (info.ispkg or public_module):
            continue
        module = importlib.import_module(info.name)
        if hasattr(module, "__all__"):
            found[info.name] = list(module.__all__)
    return found


def _documented_names() -> set[str]:
    names = set()
    for page in API.glob("*.md"):
        for line in page.read_text().splitlines():
            entry = re.match(r"^:::\s+([\w.]+)\s*$", line)
            heading = re.match(r"^#{1,6}\s+`?([\w.]+)`?\s*$", line)
            if entry:
                names.add(entry.group(1).rsplit(".", 1)[-1])
            elif heading:
                names.add(heading.group(1).rsplit(".", 1)[-1])
    return names


def test_every_public_name_is_in_the_api_reference():
    documented = _documented_names()
    packages = _public_packages()
    assert {"crm_ml", "crm_ml.churn", "crm_ml.forecast.arima", "crm_ml.tracking"} <= set(packages)
    missing = [f"{pkg}.{name}" for pkg, names in packages.items() for name in names
               if name not in documented]
    assert not missing, ("not in docs/api/*.md (run `python docs/gen_api.py` and add the "
                         f"package to its PAGES if it is new): {missing}")


def test_every_package_has_its_api_page_entry():
    text = "\n".join(p.read_text() for p in API.glob("*.md"))
    for pkg in _public_packages():
        assert re.search(rf"^::: {re.escape(pkg)}$", text, re.M), pkg


def _nav_files(nav) -> list[str]:
    files = []
    for item in nav:
        if isinstance(item, str):
            files.append(item)
        elif isinstance(item, dict):
            for value in item.values():
                files.extend([value] if isinstance(value, str) else _nav_files(value))
    return files


def _doc_pages() -> set[str]:
    pages = set()
    for folder, _dirs, files in os.walk(DOCS, followlinks=True):
        for name in files:
            if name.endswith((".md", ".ipynb")):
                pages.add(str((Path(folder) / name).relative_to(DOCS)))
    return pages


def test_every_page_is_in_the_nav_and_every_nav_entry_exists():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    nav = _nav_files(config["nav"])
    assert len(nav) == len(set(nav)), "a page is in the nav twice"
    pages = _doc_pages()
    assert not pages - set(nav), f"pages missing from the nav in mkdocs.yml: {sorted(pages - set(nav))}"
    assert not set(nav) - pages, f"nav entries without a page: {sorted(set(nav) - pages)}"


def test_the_notebooks_are_included_from_notebooks_not_copied():
    assert (DOCS / "notebooks").is_symlink()
    assert (DOCS / "notebooks").resolve() == (ROOT / "notebooks").resolve()
    notebooks = {p.name for p in (ROOT / "notebooks").glob("*.ipynb")}
    # one notebook per module, each in the site
    assert {"rfm_segmentation.ipynb", "churn.ipynb", "clv.ipynb", "forecast.ipynb",
            "recommend.ipynb", "kpi.ipynb", "campaigns.ipynb"} <= notebooks
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    assert {f"notebooks/{n}" for n in notebooks} <= set(_nav_files(config["nav"]))


def test_make_test_builds_the_docs_strictly():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^test:.*\bdocs\b", makefile, re.M)
    assert "mkdocs build --strict" in makefile
    assert yaml.safe_load((ROOT / "mkdocs.yml").read_text())["strict"] is True


def test_the_api_pages_are_what_gen_api_writes():
    pytest.importorskip("griffe")
    result = subprocess.run([sys.executable, str(DOCS / "gen_api.py"), "--check"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
