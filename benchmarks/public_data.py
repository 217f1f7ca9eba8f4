"""Public churn tables from R's modeldata package: where they come from, checked by SHA-256.

Three tables nobody on this project generated, exported from Debian's ``r-cran-modeldata``
1.1.0 (the R package modeldata, MIT licence):

* ``mlc_churn`` - 5,000 telecom customers, 19 features, ``churn`` yes/no (MLC++ churn data);
* ``wa_churn`` - IBM Watson telco churn, 7,043 customers, 19 features, ``churn`` Yes/No;
* ``attrition`` - IBM HR employee attrition, 1,470 rows, 30 features, ``Attrition`` Yes/No.

Offline route (what produced the files under ``/work/data/modeldata``)::

    apt-get install r-base-core r-cran-modeldata
    for t in mlc_churn wa_churn attrition; do
      Rscript -e "library(modeldata); data($t); write.csv($t, '$t.csv', row.names=FALSE)"
    done

or ``python benchmarks/public_data.py --export DIR`` which runs those ``Rscript`` calls. The
loader refuses a file whose SHA-256 differs from the one recorded here (another modeldata
version, or an edited file), so every benchmark reads the same rows.

Usage: python benchmarks/public_data.py [--dir /work/data/modeldata] [--export DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
from pathlib import Path

import pandas as pd

DEFAULT_DIR = Path(os.environ.get("CRM_ML_MODELDATA", "/work/data/modeldata"))

# name: (file, label column, churn label, SHA-256 of write.csv's output, modeldata 1.1.0)
TABLES = {
    "mlc_churn": ("mlc_churn.csv", "churn", "yes",
                  "7eaf98ebcdf529c260539b939b6d1e8f5001b9d3d5266810560ba070c5bc2046"),
    "wa_churn": ("wa_churn.csv", "churn", "Yes",
                 "d4323faeaab5cd2826e22eab230ec489d9e210f56ac5505750fb4721fa230ef3"),
    "attrition": ("attrition.csv", "Attrition", "Yes",
                  "29ea5e79efb1936e95f50e684842192d4f468f247cca230b47d81f15d2315f06"),
}
DEVELOPMENT = ("mlc_churn", "wa_churn")  # attrition is held out: confirmation only


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def export(directory: Path) -> list[Path]:
    """Write the three CSVs with R (needs ``r-base-core`` and ``r-cran-modeldata``)."""
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for name, (file, *_rest) in TABLES.items():
        path = directory / file
        subprocess.run(["Rscript", "-e", f"library(modeldata); data({name}); "
                        f"write.csv({name}, '{path}', row.names=FALSE)"], check=True)
        out.append(path)
    return out


def load(name: str, directory: Path | str | None = None) -> tuple[pd.DataFrame, pd.Series]:
    """``(X, y)`` of a public table: features as read from the CSV, ``y`` 1 = churned.

    Raises
    ------
    FileNotFoundError
        The CSV is not there (see the module docstring for how to export it).
    ValueError
        The file's SHA-256 is not the recorded one.
    """
    file, label, positive, digest = TABLES[name]
    path = Path(directory or DEFAULT_DIR) / file
    if not path.is_file():
        raise FileNotFoundError(f"{path}: export it with `python benchmarks/public_data.py "
                                f"--export {path.parent}` (needs r-cran-modeldata)")
    got = sha256(path)
    if got != digest:
        raise ValueError(f"{path}: SHA-256 {got} is not modeldata 1.1.0's {digest}")
    df = pd.read_csv(path)
    y = (df.pop(label) == positive).astype(int).rename("churned")
    df.index = y.index = pd.RangeIndex(len(df), name="customer_id")
    return df, y


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    ap.add_argument("--export", type=Path, default=None, help="write the CSVs here with R")
    args = ap.parse_args(argv)
    if args.export is not None:
        export(args.export)
        args.dir = args.export
    for name in TABLES:
        X, y = load(name, args.dir)
        print(f"{name}: {len(X)} rows, {X.shape[1]} features, churn rate {y.mean():.3f}, "
              "SHA-256 OK")


if __name__ == "__main__":
    main()
