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
    """

    kind: str
    rows_in: int
    rows_out: int
    dropped: dict[str, int] = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

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
        keys = ("kind", "rows_in", "rows_out", "dropped", "columns", "notes")
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

    def __str__(self) -> str:
        lines = [self.summary(), *(f"  - {n}" for n in self.notes)]
        return "\n".join(lines)
