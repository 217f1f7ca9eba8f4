"""What every card of a training run states: the data source, its quality report, the config."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

#: How the built-in data is named on cards.
BUILT_IN = "crm_ml built-in synthetic data"
INPUTS = ("transactions", "customers", "interactions")


def data_source_section(data) -> dict[str, Any]:
    """The data's origin for a card's data section.

    Per input (:func:`crm_ml.cards.data_source_section`): for a file (``data.sources``,
    recorded by :func:`crm_ml.scoring.load_inputs`) its name, size and SHA-256; for the
    built-in data its name, seed and size; and the rows, period and customers the model saw.
    Then the transactions' period and the as_of day.
    """
    from crm_ml.cards import data_source_section as describe

    frames = {k: getattr(data, k) for k in INPUTS if getattr(data, k, None) is not None}
    sources = getattr(data, "sources", None) or {}
    files = {k: s["path"] for k, s in sources.items() if s.get("path")}
    description = None
    if getattr(data, "seed", None) is not None:
        description = f"{BUILT_IN} (seed {int(data.seed)}, {len(data.customers)} customers)"
    out: dict[str, Any] = describe(files, frames, description=description)
    tx = data.transactions
    if len(tx):
        out["period"] = (f"{pd.Timestamp(tx['timestamp'].min()).date()} to "
                         f"{pd.Timestamp(tx['timestamp'].max()).date()}")
    out["as_of"] = str(pd.Timestamp(data.as_of).date())
    return out


def quality_section(data) -> dict[str, Any] | None:
    """The run's data-quality report per input (:func:`crm_ml.cards.quality_section`: rows
    read, kept and dropped by each rule) with the row policies in words; None for the
    built-in data, which has no report."""
    from crm_ml.cards import quality_section as render
    from crm_ml.data.quality import row_policies

    quality = getattr(data, "quality", None) or {}
    if not quality:
        return None
    out: dict[str, Any] = render(dict(quality))
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
