"""Regenerate a model card from the registry (``crm-ml card <registered-model>``)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from crm_ml.cards.card import ModelCard
from crm_ml.errors import ModelNotFoundError


def card_from_registry(name: str, alias: str = "champion",
                       models_dir: str | os.PathLike = "models") -> dict[str, Path]:
    """Rebuild the card of ``models:/NAME@alias`` from the ``card/`` logged with its run.

    The registered version, its aliases and the run id are filled in from the registry (they
    may not have been known when the card was first written).

    Parameters
    ----------
    name : str
        Registered model name, e.g. ``"crm-churn"``.
    alias : str, default "champion"
    models_dir : path-like, default "models"
        The card is written to ``models_dir/NAME/``.

    Returns
    -------
    dict
        Paths as returned by :meth:`ModelCard.write`.

    Raises
    ------
    ModelNotFoundError
        When the name/alias does not exist or the version's run has no logged card.
    """
    from mlflow.exceptions import MlflowException

    from crm_ml.tracking.registry import get_version
    from crm_ml.tracking.store import download_run_folder
    from crm_ml.tracking.trust import verify_version

    mv = get_version(name, alias)
    # a card vouches for the model: none for a version crm_ml would refuse to load
    verify_version(name, str(mv.version), alias)
    run_id = mv.run_id
    with tempfile.TemporaryDirectory() as tmp:
        try:
            if not run_id:
                raise FileNotFoundError
            local = download_run_folder(run_id, "card", tmp, required="card/card.json")
        except (FileNotFoundError, MlflowException) as e:
            raise ModelNotFoundError(
                f"Version {mv.version} of {name!r} (alias {alias!r}) has no model card logged "
                f"with its run {run_id}: log one with ModelCard.log(run) when training."
            ) from e
        d = json.loads((local / "card.json").read_text(encoding="utf-8"))
        figures = {p.stem: p.read_bytes() for p in sorted((local / "plots").glob("*.png"))}
        card = ModelCard.from_dict(d, figures=figures)
        card.name = name
        card.model_details.update({
            "registered_model": name,
            "registered_version": str(mv.version),
            "aliases": ", ".join(sorted(getattr(mv, "aliases", []) or [])),
            "mlflow_run_id": run_id,
        })
        return card.write(Path(models_dir) / name)
