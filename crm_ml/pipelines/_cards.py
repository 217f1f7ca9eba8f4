"""What every card of a training run states: the data source, its quality report, the config.

TODO(merge): ``crm_ml.cards.data_source_section`` and ``crm_ml.cards.quality_section`` are
being written on another branch; :func:`data_source_section` and :func:`quality_section` here
are the pipeline's own small versions, to be replaced by those at the merge.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

#: How the built-in data is named on cards.
BUILT_IN = "crm_ml built-in synthetic data"


def data_source_section(data) -> dict[str, Any]:
    """The data's origin for a card's data section.

    Files (``data.sources``, recorded by :func:`crm_ml.scoring.load_inputs`): per input its file
    name, rows read and SHA-256; the built-in data: its name, seed and number of customers.
    Both: the transactions' period and the as_of day.
    """
    tx = data.transactions
    out: dict[str, Any] = {}
    sources = getattr(data, "sources", None) or {}
    if sources:
        for kind, facts in sources.items():
            out[f"{kind} source"] = facts.get("file", "in-memory DataFrame")
            out[f"{kind} rows"] = facts.get("rows")
            if facts.get("sha256"):
                out[f"{kind} sha256"] = facts["sha256"]
    elif getattr(data, "seed", None) is not None:
        out["source"] = BUILT_IN
        out["seed"] = int(data.seed)
        out["customers"] = int(len(data.customers))
    else:
        out["source"] = "in-memory data (no file)"
    if len(tx):
        out["period"] = (f"{pd.Timestamp(tx['timestamp'].min()).date()} to "
                         f"{pd.Timestamp(tx['timestamp'].max()).date()}")
    out["as_of"] = str(pd.Timestamp(data.as_of).date())
    return out


def quality_section(data) -> dict[str, Any] | None:
    """The run's data-quality report per input (rows read, dropped and kept by each rule), and
    the row policies in words; None for the built-in data, which has no report."""
    from crm_ml.data.quality import row_policies

    quality = getattr(data, "quality", None) or {}
    if not quality:
        return None
    out: dict[str, Any] = {kind: dict(report) for kind, report in quality.items()}
    for kind, line in row_policies(quality).items():
        out.setdefault(kind, {})["row policy"] = line
    return out


def config_text(config, sections) -> str:
    """The config ``sections`` a step used, as TOML (a ``--config`` file reproduces them;
    unset optional keys are comments)."""
    full = config.to_dict()
    lines = []
    for section in sections:
        lines.append(f"[{section}]")
        for key, value in full[section].items():
            lines.append(f"# {key}: not set (default)" if value is None
                         else f"{key} = {json.dumps(value)}")
    return "\n".join(lines)


def document(card, data, config, sections) -> None:
    """Put the data source, the quality report and the config ``sections`` on ``card``."""
    from crm_ml.data.quality import card_row_policies

    card.data.update(data_source_section(data))
    card.data.update(card_row_policies(data))
    quality = quality_section(data)
    if quality is not None:
        card.data_quality = quality
    else:
        card.data_quality = {"report": "none: built-in synthetic data is generated clean, no "
                                       "row was dropped or kept by a policy"} \
            if getattr(data, "seed", None) is not None else None
    card.extra_sections["Configuration"] = config_text(config, sections)
