"""Write the API reference pages (docs/api/*.md) from the packages' ``__all__``.

Run from the repository root: ``python docs/gen_api.py`` (``--check`` exits 1 when a page
is out of date). Each public name gets one ``:::`` entry pointing at the module that defines
it, found with griffe (what mkdocstrings reads), so lazily exported names work too.
tests/test_docs.py checks that every name is on a page; this script keeps the pages complete.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import griffe

ROOT = Path(__file__).resolve().parents[1]
API = ROOT / "docs" / "api"

# page -> (title, intro, [modules whose __all__ (or public names) the page documents])
PAGES = {
    "crm_ml": ("crm_ml", "The top-level package: errors, logging, progress and the predict "
               "functions. Each subpackage has its own page.", ["crm_ml"]),
    "data": ("crm_ml.data", "The data contract: standardize, readers, time windows.",
             ["crm_ml.data"]),
    "datasets": ("crm_ml.datasets", "Built-in synthetic data and the CDNOW loader.",
                 ["crm_ml.datasets"]),
    "features": ("crm_ml.features", "Customer summary and snapshot features.",
                 ["crm_ml.features"]),
    "rfm": ("crm_ml.rfm", "RFM tables, scores, segments and migration.", ["crm_ml.rfm"]),
    "segmentation": ("crm_ml.segmentation", "Clustering-based customer segments.",
                     ["crm_ml.segmentation"]),
    "churn": ("crm_ml.churn", "Churn labels, model, evaluation, policies and backtests.",
              ["crm_ml.churn"]),
    "explain": ("crm_ml.explain", "SHAP values and plain-word reasons.", ["crm_ml.explain"]),
    "clv": ("crm_ml.clv", "Customer lifetime value.", ["crm_ml.clv"]),
    "forecast": ("crm_ml.forecast", "Sales series, ARIMA forecasts, backtests and the "
                 "hand-written ARIMA engine.", ["crm_ml.forecast", "crm_ml.forecast.arima"]),
    "tracking": ("crm_ml.tracking", "MLflow runs, pyfunc models, registry, serialisation.",
                 ["crm_ml.tracking"]),
    "cards": ("crm_ml.cards", "Model cards and the grade rule.", ["crm_ml.cards"]),
    "pipelines": ("crm_ml.pipelines", "Training pipelines and the typed TrainConfig.",
                  ["crm_ml.pipelines"]),
    "scoring": ("crm_ml.scoring", "Batch scoring (pandas and Spark engines).",
                ["crm_ml.scoring", "crm_ml.scoring.spark_engine"]),
    "campaigns": ("crm_ml.campaigns", "Campaign contacts, campaign summary, uplift models, "
                  "Qini evaluation and targeting.", ["crm_ml.campaigns"]),
    "recommend": ("crm_ml.recommend", "Association rules and product recommendations.",
                  ["crm_ml.recommend"]),
    "kpi": ("crm_ml.kpi", "Retention cohorts, the KPI table and the HTML KPI report.",
            ["crm_ml.kpi"]),
    "serve": ("crm_ml.serve", "Predict functions for other backends.", ["crm_ml.serve"]),
    "cli": ("crm_ml.cli, crm_ml.demo, crm_ml.model_names",
            "The command line, the demo and the registered model names.",
            ["crm_ml.cli", "crm_ml.demo", "crm_ml.model_names"]),
}

# names griffe cannot see statically (built at run time), documented by hand
MANUAL = {
    ("crm_ml", "NotFittedError"): (
        "{hashes} NotFittedError\n\n"
        "`crm_ml.NotFittedError`: raised when a model is used before `fit`. A subclass of "
        "`crm_ml.CrmMlError` and of scikit-learn's `NotFittedError` (itself a `ValueError` "
        "and an `AttributeError`), so `except sklearn.exceptions.NotFittedError` catches it. "
        "Built on first access, so importing crm_ml does not import scikit-learn.\n"),
}


def public_names(module_name: str) -> list[str]:
    mod = importlib.import_module(module_name)
    names = getattr(mod, "__all__", None)
    if names is None:
        names = [n for n, v in vars(mod).items() if not n.startswith("_")
                 and getattr(v, "__module__", None) == module_name and callable(v)]
    return list(names)


def _defined(module: griffe.Module, name: str) -> griffe.Object | None:
    try:
        member = module.members[name]
    except KeyError:
        return None
    if member.is_alias:
        try:
            return member.final_target
        except (griffe.AliasResolutionError, griffe.CyclicAliasError):
            return None
    return member


def _search(module: griffe.Module, name: str) -> griffe.Object | None:
    found = _defined(module, name)
    if found is not None:
        return found
    for sub in module.modules.values():
        found = _search(sub, name)
        if found is not None:
            return found
    return None


def target(package: griffe.Module, module_name: str, name: str) -> str | None:
    module = package
    for part in module_name.split(".")[1:]:
        module = module.modules[part]
    obj = _search(module, name)
    if obj is None:
        return None
    if obj.is_module:  # a submodule sharing the name (crm_ml.data.standardize)
        obj = _defined(obj, name)
    return None if obj is None or obj.is_module else obj.path


def render(package: griffe.Module, page: str) -> str:
    title, intro, modules = PAGES[page]
    out = [f"# {title}", "", intro, "",
           "<!-- generated by docs/gen_api.py from each package's __all__: do not edit -->", ""]
    for module_name in modules:
        names = public_names(module_name)
        if len(modules) > 1:
            out += [f"## {module_name}", ""]
        out += [f"::: {module_name}", "    options:", "      members: false",
                "      show_root_heading: false", ""]
        level = 3 if len(modules) > 1 else 2
        for name in names:
            if (module_name, name) in MANUAL:
                out += [MANUAL[(module_name, name)].format(hashes="#" * level)]
                continue
            mod_obj = getattr(importlib.import_module(module_name), name)
            if type(mod_obj).__name__ == "module":
                sub = mod_obj.__name__.split(".")[-1]
                link = f"{sub}.md" if sub in PAGES else "cli.md"
                out += [f"{'#' * level} {name}", "",
                        f"`{mod_obj.__name__}`: see its page, [{mod_obj.__name__}]({link}).",
                        ""]
                continue
            path = target(package, module_name, name)
            if path is None:
                raise SystemExit(f"{module_name}.{name}: no definition found for the API page")
            out += [f"::: {path}", "    options:", f"      heading_level: {level}", ""]
    text = "\n".join(out)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    package = griffe.load("crm_ml", search_paths=[str(ROOT)], docstring_parser="numpy",
                          resolve_aliases=True, resolve_external=False)
    stale = []
    for page in PAGES:
        path = API / f"{page}.md"
        text = render(package, page)
        if not path.exists() or path.read_text() != text:
            stale.append(path)
            if "--check" not in argv:
                path.write_text(text)
    if "--check" in argv and stale:
        print("out of date:", *stale, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
