"""Register a pipeline's models only once every step has succeeded, and promote them together.

A training pipeline (``crm-ml train``, ``crm-ml demo``) fits several models. Registering and
promoting each as soon as it is fitted left the registry half-updated when a later step
failed: one model promoted, the others not, so scoring mixed models of different runs. Each
step now adds its logged model to a :class:`ReleasePlan`; when all steps have succeeded,
:meth:`ReleasePlan.release` registers every model, decides every promotion (comparing each
new version, by its version number, with the champion) and only then moves the aliases.

Release invariant (what a reader of the registry can rely on):

* every ``challenger`` and ``champion`` alias points to a version registered by a release
  that completed, i.e. by a pipeline all of whose steps succeeded;
* one release registers, decides and moves aliases under the store's ``release`` lock
  (:func:`~crm_ml.tracking.locks.store_lock`), so two pipelines' releases never interleave:
  the versions of one release carry the same ``crm_ml.release_id`` tag, the ``challenger``
  aliases all point to the last release's versions, and each champion was decided against the
  champion the previous release left;
* when registering or deciding fails, the versions this release registered are deleted again
  and no alias has moved.

Champions can still come from different releases: each model is promoted only when it beats
its own champion (that is champion/challenger), and each champion's version carries the
``crm_ml.release_id`` of the release that promoted it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from crm_ml._logging import get_logger
from crm_ml.tracking.locks import store_lock
from crm_ml.tracking.registry import apply_decision, decide, register
from crm_ml.tracking.runs import tracking_uri
from crm_ml.tracking.store import CHALLENGER
from crm_ml.tracking.store import client as _client

log = get_logger("tracking")

#: Version tag naming the release (one pipeline's registration) that registered a version.
RELEASE_TAG = "crm_ml.release_id"
#: Version tag naming the pipeline's MLflow run (the ``crm-ml train``/``demo`` parent run).
PIPELINE_RUN_TAG = "crm_ml.pipeline_run_id"


@dataclass
class Candidate:
    """One model a pipeline step wants registered, and how to judge it against the champion.

    Attributes
    ----------
    name : str
        Registered model name, e.g. ``"crm-churn"``.
    model_uri : str or None
        The logged model; None when tracking is off (nothing is registered, the card is still
        written).
    run_id : str or None
        The MLflow run that logged the model.
    score_fn : callable or None
        ``score_fn(pyfunc_model) -> float`` on held-out data, applied to the new version and
        to the champion.
    higher_is_better : bool
    card : object, optional
        The model card to publish once the version is known (a
        :class:`~crm_ml.cards.ModelCard`).
    version : str or None
        Filled in by :meth:`ReleasePlan.release`.
    decision : dict or None
        The promotion decision (see :func:`crm_ml.tracking.promote`), filled in by the release.
    """

    name: str
    model_uri: str | None
    run_id: str | None = None
    score_fn: Callable[[Any], float] | None = None
    higher_is_better: bool = True
    card: Any = None
    version: str | None = None
    decision: dict | None = None

    @property
    def promoted(self) -> bool | None:
        """Whether the release made this model champion (None: not registered)."""
        return None if self.decision is None else bool(self.decision["promoted"])


@dataclass
class ReleasePlan:
    """The models of one pipeline, held back until every step has succeeded."""

    candidates: list[Candidate] = field(default_factory=list)

    def add(self, name: str, model_uri: str | None, *, run_id: str | None = None,
            score_fn: Callable[[Any], float] | None = None, higher_is_better: bool = True,
            card: Any = None) -> Candidate:
        """Add a model (and its card) to the plan; see :class:`Candidate`. Returns it."""
        if model_uri is not None and score_fn is None:
            raise ValueError(f"{name}: a registered model needs a score_fn to compare it "
                             "with the champion")
        candidate = Candidate(name, model_uri, run_id, score_fn, higher_is_better, card)
        self.candidates.append(candidate)
        return candidate

    def release(self, *, tags: dict[str, str] | None = None) -> list[Candidate]:
        """Register every logged model, decide every promotion, then move the aliases.

        Under the store's ``release`` lock: (1) register each model without an alias, tagged
        with this release's id, (2) compare each new version with its champion by version
        number, (3) point ``challenger`` at each new version and ``champion`` at each winner,
        recording each decision. A failure in (1) or (2) deletes the versions registered so
        far and moves no alias.

        Parameters
        ----------
        tags : dict, optional
            Extra version tags, e.g. ``{PIPELINE_RUN_TAG: run_id}``.

        Returns
        -------
        list of Candidate
            The candidates, with ``version`` and ``decision`` filled in.
        """
        todo = [c for c in self.candidates if c.model_uri is not None]
        if not todo:
            return self.candidates
        client = _client()
        all_tags = {RELEASE_TAG: uuid.uuid4().hex, **(tags or {})}
        with store_lock(tracking_uri(), "release"):
            try:
                for c in todo:
                    c.version = register(c.model_uri, c.name, run_id=c.run_id, alias=None,
                                         tags=all_tags)
                decisions = [decide(c.name, c.version, c.score_fn,
                                    higher_is_better=c.higher_is_better) for c in todo]
            except BaseException:
                self._unregister(client, todo)
                raise
            for c, decision in zip(todo, decisions, strict=True):
                client.set_registered_model_alias(c.name, CHALLENGER, c.version)
                apply_decision(decision, client=client)
                c.decision = decision
        return self.candidates

    @staticmethod
    def _unregister(client, candidates: list[Candidate]) -> None:
        for c in candidates:
            if c.version is None:
                continue
            try:
                client.delete_model_version(c.name, c.version)
            except Exception as exc:  # keep the original error; this one is secondary
                log.warning("could not delete version %s of %s after a failed release: %s",
                            c.version, c.name, exc)
            c.version = None
