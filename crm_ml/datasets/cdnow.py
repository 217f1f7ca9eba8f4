"""The CDNOW transaction data that ships with the lifetimes package, as real data.

The file is read from the installed lifetimes package at run time; it is not copied into
this repository. CDNOW is a music retailer; the data hold the first purchases and every repeat
purchase until the end of June 1998 of a cohort that first bought in the first quarter of 1997.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from crm_ml.errors import CrmMlError

_FILES = {"sample": "CDNOW_sample.txt", "master": "CDNOW_master.txt"}


def cdnow_path(kind: str = "sample") -> Path:
    """Path of the CDNOW file inside the installed lifetimes package."""
    if kind not in _FILES:
        raise ValueError(f"kind must be one of {sorted(_FILES)}, got {kind!r}")
    try:
        import lifetimes.datasets
    except ImportError as exc:  # pragma: no cover - lifetimes is a hard dependency
        raise CrmMlError("load_cdnow needs the lifetimes package: pip install lifetimes") from exc
    path = Path(lifetimes.datasets.__file__).parent / _FILES[kind]
    if not path.exists():
        raise CrmMlError(f"{path} is missing from the installed lifetimes package")
    return path


def load_cdnow(kind: str = "sample") -> pd.DataFrame:
    """Load CDNOW transactions in canonical form.

    Parameters
    ----------
    kind : {"sample", "master"}
        ``"sample"``: the 1/10th sample of 2,357 customers used in Fader, Hardie & Lee (2005);
        ``"master"``: all 23,570 customers.

    Returns
    -------
    DataFrame
        ``customer_id`` (str), ``timestamp`` (day of the purchase), ``amount`` (US dollars),
        ``quantity`` (CDs bought). Purchases on the same day are separate rows, as in the file.
    """
    # the sample has no header and a second, renumbered id column; the master file has a
    # header line and only the original id (the sample's ids are the master's)
    names = (["customer_id", "customer_id_2", "date", "quantity", "amount"] if kind == "sample"
             else ["customer_id", "date", "quantity", "amount"])
    raw = pd.read_csv(cdnow_path(kind), sep=r"\s+", header=None if kind == "sample" else 0,
                      names=names, dtype={"customer_id": str, "date": str})
    return pd.DataFrame({
        "customer_id": raw["customer_id"].astype(str),
        "timestamp": pd.to_datetime(raw["date"], format="%Y%m%d"),
        "amount": raw["amount"].astype("float64"),
        "quantity": raw["quantity"].astype("int64"),
    })
