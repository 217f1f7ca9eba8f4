"""Progress bars for long work, silenced globally or per call.

Progress is shown with rich when the output is a terminal (or when forced) and can be
turned off with ``crm_ml.set_progress(False)`` or the environment variable
``CRM_ML_PROGRESS=0``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_enabled: bool | None = None


def set_progress(enabled: bool | None) -> None:
    """Turn progress bars on (True), off (False) or back to automatic (None)."""
    global _enabled
    _enabled = enabled


def progress_enabled(override: bool | None = None) -> bool:
    """Whether a progress bar should be shown, given a per-call ``override``."""
    if override is not None:
        return override
    if _enabled is not None:
        return _enabled
    return os.environ.get("CRM_ML_PROGRESS", "1").lower() not in ("0", "false", "no", "off")


def track(iterable: Iterable[T], description: str, total: int | None = None,
          show: bool | None = None) -> Iterator[T]:
    """Iterate over ``iterable`` with a progress bar labelled ``description``."""
    if not progress_enabled(show):
        yield from iterable
        return
    from rich.progress import track as rich_track

    yield from rich_track(iterable, description=description, total=total, transient=False)
