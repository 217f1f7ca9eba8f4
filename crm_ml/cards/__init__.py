"""Model cards (Markdown, self-contained HTML, JSON) with a quality grade against a baseline.

>>> from crm_ml.cards import ModelCard, grade, bootstrap_ci
"""

from crm_ml.cards.card import ModelCard, library_versions
from crm_ml.cards.grading import (
    GRADE_A_MIN,
    GRADE_B_MIN,
    bootstrap_ci,
    calibration_table,
    grade,
    grade_rule_text,
    metrics_table,
)
from crm_ml.cards.sections import data_source_section, quality_section


def card_from_registry(name: str, alias: str = "champion", models_dir="models") -> dict:
    """Regenerate the card of a registered model version (see :mod:`crm_ml.cards.registry`)."""
    from crm_ml.cards.registry import card_from_registry as _impl

    return _impl(name, alias=alias, models_dir=models_dir)


__all__ = [
    "GRADE_A_MIN",
    "GRADE_B_MIN",
    "ModelCard",
    "bootstrap_ci",
    "calibration_table",
    "card_from_registry",
    "data_source_section",
    "grade",
    "grade_rule_text",
    "library_versions",
    "metrics_table",
    "quality_section",
]
