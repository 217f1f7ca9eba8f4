"""The model card: one object, three renderings (Markdown, self-contained HTML, JSON).

Sections follow Mitchell et al., "Model Cards for Model Reporting" (FAT* 2019), and the card
opens with a quality grade against a simple baseline (see :func:`crm_ml.cards.grade`).
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import json
import math
import os
import re
import tempfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from markupsafe import Markup

from crm_ml._json import frame_records, to_jsonable  # to_jsonable: importable from here too
from crm_ml.cards import _templates
from crm_ml.cards.grading import GRADE_MEANING, grade

SCHEMA = "crm_ml.model_card/1"

#: Libraries whose versions every card records.
DEFAULT_LIBRARIES = ("crm_ml", "numpy", "pandas", "scikit-learn", "lightgbm", "lifetimes",
                     "statsforecast", "shap", "mlflow", "skops")

_FRAME_FIELDS = ("metrics", "slices", "calibration", "drivers")


def library_versions(packages=DEFAULT_LIBRARIES) -> dict[str, str]:
    """Installed versions of ``packages`` (those not installed are left out)."""
    out = {}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


@dataclass
class ModelCard:
    """A model card for a reviewer who never opens a notebook.

    Parameters
    ----------
    name : str
        Registered model name, e.g. ``"crm-churn"`` (also the folder under ``models/``).
    title : str
        Human title.
    model_details : dict
        Algorithm, version, date, ``mlflow_run_id``, ``registered_version``, parameters ...
        ``date`` and ``library_versions`` are filled in when missing.
    intended_use, out_of_scope : str
        Who should use it for what, and what it must not be used for.
    data : dict
        Training and evaluation data: period, as_of, label definition, rows, base rate ...
    metrics : DataFrame
        Held-out metrics, columns ``metric, value, ci_low, ci_high``.
    baseline : dict
        ``metric``, ``model`` (score), ``baseline`` (score), ``baseline_rule`` (words),
        ``higher_is_better``.
    slices, calibration, drivers : DataFrame, optional
        Per-slice results, reliability table, top SHAP drivers.
    caveats : list of str
        Drift, retraining cadence, must-not-use ...
    data_quality : dict, optional
        The report from ``standardize`` (rows dropped and why).
    figures : dict
        ``name -> matplotlib Figure`` (or PNG bytes, or a path to a PNG).
    extra_sections : dict
        ``title -> text`` appended after the standard sections.
    """

    name: str
    title: str
    model_details: dict = field(default_factory=dict)
    intended_use: str = ""
    out_of_scope: str = ""
    data: dict = field(default_factory=dict)
    metrics: pd.DataFrame | None = None
    baseline: dict = field(default_factory=dict)
    slices: pd.DataFrame | None = None
    calibration: pd.DataFrame | None = None
    drivers: pd.DataFrame | None = None
    caveats: list[str] = field(default_factory=list)
    data_quality: dict | None = None
    figures: dict[str, Any] = field(default_factory=dict)
    extra_sections: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        self.model_details = dict(self.model_details or {})
        self.model_details.setdefault("date", _dt.date.today().isoformat())
        self.model_details.setdefault("library_versions", library_versions())
        if self.metrics is None:
            self.metrics = pd.DataFrame(columns=["metric", "value", "ci_low", "ci_high"])
        self.caveats = list(self.caveats or [])
        self.figures = dict(self.figures or {})
        self.extra_sections = dict(self.extra_sections or {})
        self.baseline = dict(self.baseline or {})
        self.data_quality = _as_plain(self.data_quality)
        if isinstance(self.data_quality, dict):
            self.data_quality = {k: _as_plain(v) for k, v in self.data_quality.items()}

    # ----------------------------------------------------------------- grade
    def _grade(self) -> tuple[str, str]:
        b = self.baseline
        hib = bool(b.get("higher_is_better", True))
        if b.get("model") is None or b.get("baseline") is None:
            return "C", ("No baseline was measured, so the model is not shown to be better than "
                         "a simple rule: C.")
        return grade(b["model"], b["baseline"], higher_is_better=hib)

    @property
    def grade(self) -> str:
        """Quality grade A/B/C against the simple baseline."""
        return self._grade()[0]

    @property
    def grade_text(self) -> str:
        """Both scores, the grade and the rule in one sentence."""
        return self._grade()[1]

    # ------------------------------------------------------------ renderings
    def to_dict(self) -> dict:
        """A JSON-serialisable dict (the content of ``card.json``); figures by file name."""
        letter, text = self._grade()
        out = {
            "schema": SCHEMA,
            "name": self.name,
            "title": self.title,
            "grade": letter,
            "grade_text": text,
            "model_details": self.model_details,
            "intended_use": self.intended_use,
            "out_of_scope": self.out_of_scope,
            "data": self.data,
            "baseline": self.baseline,
            "caveats": self.caveats,
            "data_quality": self.data_quality,
            "extra_sections": self.extra_sections,
            "figures": [f"plots/{_safe(n)}.png" for n in self.figures],
        }
        for f in _FRAME_FIELDS:
            df = getattr(self, f)
            out[f] = None if df is None else _records(df)
        return to_jsonable(out)

    @classmethod
    def from_dict(cls, d: dict, figures: dict[str, Any] | None = None) -> ModelCard:
        """Rebuild a card from :meth:`to_dict` output (e.g. a logged ``card.json``)."""
        kwargs = {k: d.get(k) for k in ("name", "title", "model_details", "intended_use",
                                          "out_of_scope", "data", "baseline", "caveats",
                                          "data_quality", "extra_sections")}
        for f in _FRAME_FIELDS:
            kwargs[f] = None if d.get(f) is None else pd.DataFrame(d[f])
        kwargs = {k: v for k, v in kwargs.items() if v is not None or k in _FRAME_FIELDS}
        kwargs.setdefault("name", "model")
        kwargs.setdefault("title", kwargs["name"])
        return cls(**kwargs, figures=figures or {})

    def _context(self, fmt: str, figure_refs: dict[str, str]) -> dict:
        letter, text = self._grade()
        details = {k: v for k, v in self.model_details.items() if k != "library_versions"}
        libs = self.model_details.get("library_versions") or {}
        lib_text = ", ".join(f"{k} {v}" for k, v in libs.items())
        table = _md_table if fmt == "md" else _html_table
        metrics = self.metrics
        tables = {
            "model_details": table(_kv_frame(details)),
            "data": table(_kv_frame(_flatten(self.data))),
            "metrics": table(metrics) if metrics is not None and len(metrics) else
            (Markup("_No metrics._") if fmt == "md" else '<p class="muted">No metrics.</p>'),
            "slices": table(self.slices) if _has(self.slices) else "",
            "calibration": table(self.calibration) if _has(self.calibration) else "",
            "drivers": table(self.drivers) if _has(self.drivers) else "",
            "data_quality": table(_kv_frame(_flatten(self.data_quality)))
            if self.data_quality else "",
        }
        return {
            "card": self,
            "grade": letter,
            "grade_meaning": GRADE_MEANING[letter].capitalize(),
            "grade_text": text,
            "baseline": _Attr(self.baseline),
            "library_versions": lib_text,
            "tables": tables,
            "figures": figure_refs,
            "ci_level": "95 %",
        }

    def to_markdown(self, figure_dir: str = "plots") -> str:
        """The card as Markdown; figures are linked as ``<figure_dir>/<name>.png``."""
        refs = {n: f"{figure_dir}/{_safe(n)}.png" for n in self.figures}
        refs = {n: Markup(path) for n, path in refs.items()}  # built from _safe(name)
        return _render(_templates.MARKDOWN, self._context("md", refs), markdown=True)

    def to_html(self) -> str:
        """The card as one self-contained HTML page (figures embedded as base64 PNG)."""
        refs = {n: base64.b64encode(_png_bytes(f)).decode("ascii")
                for n, f in self.figures.items()}
        return _render(_templates.HTML, self._context("html", refs))

    def write(self, directory: str | os.PathLike) -> dict[str, Path]:
        """Write ``card.md``, ``card.html``, ``card.json`` and ``plots/*.png`` to ``directory``.

        Returns
        -------
        dict
            ``{"md": path, "html": path, "json": path, "plot:<name>": path, ...}``.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        paths: dict[str, Path] = {}
        if self.figures:
            (directory / "plots").mkdir(exist_ok=True)
            for n, f in self.figures.items():
                p = directory / "plots" / f"{_safe(n)}.png"
                p.write_bytes(_png_bytes(f))
                paths[f"plot:{n}"] = p
        paths["md"] = directory / "card.md"
        paths["md"].write_text(self.to_markdown(), encoding="utf-8")
        paths["html"] = directory / "card.html"
        paths["html"].write_text(self.to_html(), encoding="utf-8")
        paths["json"] = directory / "card.json"
        paths["json"].write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")
        return paths

    def log(self, run, artifact_path: str = "card") -> None:
        """Log the card files under ``card/`` of a :class:`~crm_ml.tracking.TrackedRun`.

        Fills ``model_details["mlflow_run_id"]`` when missing and sets the ``card.grade``
        tag. A no-op when tracking is off.
        """
        if run is None or not getattr(run, "active", False):
            return
        if not self.model_details.get("mlflow_run_id"):
            self.model_details["mlflow_run_id"] = run.run_id
        with tempfile.TemporaryDirectory() as tmp:
            self.write(tmp)
            run.log_artifact(tmp, artifact_path=artifact_path)
        run.set_tags({"card.grade": self.grade})


# ------------------------------------------------------------------ helpers
class _Attr(dict):
    def __getattr__(self, item):
        return self.get(item)


def _render(template: str, context: dict, markdown: bool = False) -> str:
    """Render a card template. HTML templates escape user text with ``| e``; in Markdown every
    ``{{ value }}`` is escaped by :func:`md_escape` unless it is :class:`~markupsafe.Markup`
    (tables and code spans built here), so no user text becomes markup, a link or HTML."""
    import jinja2
    from markupsafe import Markup

    def finalize(value):
        return value if isinstance(value, Markup) or not markdown else md_escape(value)

    env = jinja2.Environment(autoescape=False, keep_trailing_newline=True,
                             undefined=jinja2.ChainableUndefined, finalize=finalize)
    env.filters["code"] = lambda v: Markup(_md_code(v))
    env.filters["block"] = lambda v: Markup(_md_block(v))
    return env.from_string(template).render(**context)


_MD_SPECIAL = re.compile(r"[\\`*\[\]<>|~&]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])|:(?=//)")
_MD_LINE_START = re.compile(r"^(?:[#>+-](?=\s|$|#)|(\d{1,9})([.)])(?=\s|$)|=+\s*$)")


def md_escape(value) -> str:
    """``value`` as literal Markdown text on one line: characters that would make emphasis,
    code, links, images, HTML, entities, table cells, headings or lists are backslash-escaped
    (CommonMark), ``://`` so that no bare URL becomes a link; line breaks become spaces."""
    text = " ".join(str(value).splitlines())
    text = _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), text)
    return _MD_LINE_START.sub(lambda m: f"{m[1]}\\{m[2]}" if m[1] else "\\" + m[0], text)


def _md_code(value) -> str:
    """``value`` as one Markdown code span (a fence longer than any backtick run inside)."""
    text = " ".join(str(value).splitlines())
    fence = "`" * (max((len(r) for r in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _md_block(value) -> str:
    """Multi-line text as a fenced code block (kept as typed, never interpreted), one line as
    escaped text."""
    text = str(value)
    if "\n" not in text.strip():
        return md_escape(text)
    fence = "`" * max(3, max((len(r) for r in re.findall(r"`+", text)), default=0) + 1)
    return f"{fence}text\n{text.strip(chr(10))}\n{fence}"


def _has(df) -> bool:
    return df is not None and len(df) > 0


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(name))


def _png_bytes(fig) -> bytes:
    if isinstance(fig, bytes | bytearray):
        return bytes(fig)
    if isinstance(fig, str | os.PathLike):
        return Path(fig).read_bytes()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float | np.floating):
        if not math.isfinite(float(v)):
            return "" if math.isnan(float(v)) else str(v)
        return f"{float(v):.4g}"
    if isinstance(v, dict | list):
        return json.dumps(to_jsonable(v))
    if isinstance(v, pd.Timestamp):
        return str(v.date()) if v == v.normalize() else str(v)
    return str(v)


def _as_plain(obj):
    """A report object (e.g. ``DataQualityReport``) as a dict via its ``to_dict``."""
    if obj is not None and not isinstance(obj, dict) and hasattr(obj, "to_dict"):
        return obj.to_dict()
    return obj


def _flatten(d: dict, prefix: str = "") -> dict:
    """Nested dicts to dotted keys, lists to '; '-joined text (for readable tables)."""
    out = {}
    for k, v in (d or {}).items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(_flatten(v, key + "."))
        elif isinstance(v, list | tuple):
            out[key] = "; ".join(_fmt(x) for x in v)
        else:
            out[key] = v
    return out


def _kv_frame(d: dict | None) -> pd.DataFrame:
    d = d or {}
    return pd.DataFrame({"item": list(d.keys()), "value": [_fmt(v) for v in d.values()]})


def _frame_for_display(df: pd.DataFrame) -> pd.DataFrame:
    if df.index.name is not None or not isinstance(df.index, pd.RangeIndex):
        df = df.reset_index()
    return df


def _md_table(df: pd.DataFrame) -> str:
    df = _frame_for_display(df)
    cols = [str(c) for c in df.columns]

    def cell(v):
        return md_escape(_fmt(v))

    lines = ["| " + " | ".join(cell(c) for c in cols) + " |", "|" + "|".join(" --- " for _ in cols) + "|"]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return Markup("\n".join(lines))


def _html_table(df: pd.DataFrame) -> str:
    df = _frame_for_display(df)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row) + "</tr>"
        for row in df.itertuples(index=False)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _records(df: pd.DataFrame) -> list[dict]:
    return frame_records(df)
