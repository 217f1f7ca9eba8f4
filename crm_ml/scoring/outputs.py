"""The scores and rejects files of one scoring run, written so that a reader can trust the pair.

Both files carry the run's identity in a ``scoring_run`` column, on every row:
``<digest>-<customers scored>-<customers rejected>``. The digest is a SHA-256 of the
as_of date, the model versions, the scored customer ids and the rejects, so re-running on
the same input gives the same identity and byte-identical files.

Writing order: both tables are written in full to temporary files first; then the rejects
file is renamed into place, then the scores file. A run that is killed between the two
renames leaves the previous run's scores beside the new rejects: :func:`pair_is_consistent`
tells such a pair from a real one (the identities differ, or the row counts do not match the
counts in the identity). A temporary file left by a killed run is removed at the next write.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pandas as pd

from crm_ml.output_files import check_excel_rows, write_temporary

RUN_COLUMN = "scoring_run"


def scoring_run_id(scores: pd.DataFrame, rejects: pd.DataFrame) -> str:
    """The identity of a scoring run: ``<digest>-<n scored>-<n rejected>``.

    ``scores`` is indexed by ``customer_id`` and has ``as_of`` and ``model_*`` columns;
    ``rejects`` has ``customer_id`` and ``reason``. The same run gives the same identity.
    """
    digest = hashlib.sha256()
    models = [c for c in scores.columns if c.startswith("model_")]
    head = scores[["as_of", *models]].drop_duplicates().astype(str).to_numpy().tolist()
    for part in (repr(head), "\x1e".join(map(str, scores.index)),
                 "\x1e".join(f"{i}\x1f{r}" for i, r in
                             zip(rejects["customer_id"], rejects["reason"], strict=True))):
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\x1d")
    return f"{digest.hexdigest()[:16]}-{len(scores)}-{len(rejects)}"


def pair_is_consistent(scores: pd.DataFrame, rejects: pd.DataFrame) -> bool:
    """Whether a scores table and a rejects table (as read back from their files) come from
    the same scoring run.

    True when every row of both carries one ``scoring_run`` identity whose counts match the
    rows of both tables (so an empty file is checked too).
    """
    ids = set(scores.get(RUN_COLUMN, pd.Series(dtype=object)).astype(str)) | \
        set(rejects.get(RUN_COLUMN, pd.Series(dtype=object)).astype(str))
    if RUN_COLUMN not in scores.columns or RUN_COLUMN not in rejects.columns or len(ids) != 1:
        return False
    run = ids.pop()
    try:
        n_scored, n_rejected = (int(n) for n in run.rsplit("-", 2)[1:])
    except ValueError:
        return False
    return (n_scored, n_rejected) == (len(scores), len(rejects))


def write_scores(scores: pd.DataFrame, rejects: pd.DataFrame, scores_path,
                 rejects_path) -> str:
    """Write the scores and rejects of one run (see the module for the guarantees).

    Each file is CSV, Parquet or Excel by its suffix. A table with more rows than an Excel
    sheet holds raises :class:`crm_ml.output_files.OutputTooLargeError` before either file
    is written.

    Returns
    -------
    str
        The ``scoring_run`` identity both files carry.
    """
    run = scoring_run_id(scores, rejects)
    scores_path, rejects_path = Path(scores_path), Path(rejects_path)
    # both checked before either is written: an Excel file refuses too many rows
    check_excel_rows(len(scores), scores_path, "the scores table")
    check_excel_rows(len(rejects), rejects_path, "the rejects table")
    staged = []
    try:
        staged.append((write_temporary(rejects.assign(**{RUN_COLUMN: run}), rejects_path,
                                       index=False), rejects_path))
        # customer_id a plain first column, as the Spark engine writes it
        staged.append((write_temporary(scores.assign(**{RUN_COLUMN: run}).reset_index(),
                                       scores_path, index=False), scores_path))
        for tmp, path in staged:  # rejects first: the scores file publishes the run
            os.replace(tmp, path)
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
    return run
