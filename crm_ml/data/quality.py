"""What standardize did to the rows: the data-quality report and the policy warning."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import pandas as pd

ATTRS_KEY = "data_quality"


class DataPolicyWarning(UserWarning):
    """Rows were dropped by an explicit row policy (returns, zero amounts, duplicates).

    The warning text says how many rows each policy dropped; the same numbers are on the
    :class:`DataQualityReport`.
    """


@dataclass
class DataQualityReport:
    """Row accounting of one :func:`crm_ml.data.standardize` call.

    Attributes
    ----------
    kind : str
        ``"transactions"``, ``"customers"`` or ``"interactions"``.
    rows_in, rows_out : int
        Rows received and rows returned. ``rows_in == rows_out + sum(dropped.values())``.
    dropped : dict[str, int]
        Rows dropped by each policy that was switched on (``returns``, ``zero_amounts``,
        ``duplicates``), in the order the policies were applied.
    columns : dict[str, str]
        Canonical column -> the input column (or ``"A x B"`` for a derived amount).
    notes : list[str]
        Plain-language observations (returns kept, columns matched by name, unknown kinds...).
    exact_duplicates : int or None
        Exact duplicate rows found (rows equal in every column to an earlier row, after the
        amount policies), whether they were dropped (``drop_duplicates=True``) or kept.
        ``None`` for customer tables, where a repeated customer id is an error.
    """

    kind: str
    rows_in: int
    rows_out: int
    dropped: dict[str, int] = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    exact_duplicates: int | None = None

    @property
    def n_dropped(self) -> int:
        """Total rows dropped by policies."""
        return int(sum(self.dropped.values()))

    def to_dict(self) -> dict:
        """JSON-serialisable dict (this is what ``result.attrs["data_quality"]`` holds)."""
        d = asdict(self)
        d["n_dropped"] = self.n_dropped
        return d

    @classmethod
    def from_dict(cls, d: dict) -> DataQualityReport:
        """Rebuild a report from :meth:`to_dict` output."""
        keys = ("kind", "rows_in", "rows_out", "dropped", "columns", "notes",
                "exact_duplicates")
        return cls(**{k: d[k] for k in keys if k in d})

    @classmethod
    def of(cls, df: pd.DataFrame) -> DataQualityReport | None:
        """The report attached to a standardized frame (``None`` if there is none)."""
        d = df.attrs.get(ATTRS_KEY)
        return None if d is None else cls.from_dict(d)

    def summary(self) -> str:
        """One line: rows in, rows out and what was dropped."""
        parts = ", ".join(f"{k}={v:,}" for k, v in self.dropped.items()) or "nothing"
        return (f"{self.kind}: {self.rows_in:,} rows in, {self.rows_out:,} rows out; "
                f"dropped by policy: {parts}")

    def duplicates_policy(self) -> str | None:
        """``"exact duplicate rows: N kept"`` or ``"... N dropped"`` (None when not counted)."""
        return duplicates_policy(self.to_dict())

    def __str__(self) -> str:
        lines = [self.summary(), *(f"  - {n}" for n in self.notes)]
        return "\n".join(lines)


def duplicates_policy(report: dict) -> str | None:
    """What happened to exact duplicate rows, from a report dict (:meth:`DataQualityReport.to_dict`).

    ``"exact duplicate rows: 255 kept"`` or ``"exact duplicate rows: 255 dropped"``; ``None``
    when the report did not count them (customer tables, reports from older versions).
    """
    n = report.get("exact_duplicates")
    if n is None:
        return None
    verb = "dropped" if "duplicates" in (report.get("dropped") or {}) else "kept"
    return f"exact duplicate rows: {int(n):,} {verb}"


def row_policies(quality: dict) -> dict[str, str]:
    """The duplicate-row policy of each input, for a summary or a model card.

    Parameters
    ----------
    quality : dict
        ``{kind: report dict}``, e.g. ``CRMData.quality`` from
        :func:`crm_ml.scoring.load_inputs` (empty for data that was not read from files).

    Returns
    -------
    dict
        ``{"transactions": "exact duplicate rows: 255 kept", ...}``, one entry per input
        whose duplicates were counted.
    """
    lines = {kind: duplicates_policy(report) for kind, report in (quality or {}).items()}
    return {kind: line for kind, line in lines.items() if line is not None}


def card_row_policies(data) -> dict[str, str]:
    """Row-policy lines for a model card's data section, from a CRMData (``{}`` without).

    ``{"transactions row policy": "exact duplicate rows: 255 kept"}``; data without a
    ``quality`` attribute (the built-in synthetic data) give an empty dict.
    """
    quality = getattr(data, "quality", None) or {}
    return {f"{kind} row policy": line for kind, line in row_policies(quality).items()}
