"""The library logger: ``logging.getLogger("crm_ml")``."""

from __future__ import annotations

import logging

logger = logging.getLogger("crm_ml")
logger.addHandler(logging.NullHandler())


def get_logger(name: str | None = None) -> logging.Logger:
    """Return the crm_ml logger or one of its children (``crm_ml.<name>``)."""
    return logger if not name else logger.getChild(name)
