"""Model registry: register, champion/challenger promotion, loading by alias, privacy scan.

A new model version gets the ``challenger`` alias. :func:`promote` scores a version (the
challenger by default) and the champion with the same function (on the same held-out data)
and moves ``champion`` only when that version wins, when there is no champion yet, or when
forced. Decisions and alias moves hold the store's ``release`` lock
(:func:`~crm_ml.tracking.locks.store_lock`), so concurrent jobs promote one after the other,
each against the champion the previous one left.

Loading checks first that a version is a crm_ml model from code (:mod:`crm_ml.tracking.trust`):
a cloudpickled or foreign model is refused before anything of it runs.
"""

from __future__ import annotations

import datetime as _dt
import math
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from crm_ml._logging import get_logger
from crm_ml.errors import ModelNotFoundError
from crm_ml.tracking.locks import store_lock
from crm_ml.tracking.runs import tracking_uri
from crm_ml.tracking.store import (
    CHALLENGER,
    CHAMPION,
    model_uri,  # noqa: F401 (public here since before store.py)
)
from crm_ml.tracking.store import client as _client
from crm_ml.tracking.trust import readable_store

log = get_logger("tracking")


def register(model_uri_: str, name: str, *, run_id: str | None = None,
             alias: str | None = CHALLENGER, tags: dict[str, str] | None = None) -> str:
    """Register a logged model under ``name`` and point ``alias`` (default challenger) at it.

    Parameters
    ----------
    model_uri_ : str
        URI of the logged model (``models:/<model_id>`` or ``runs:/...``).
    name : str
        Registered model name.
    run_id : str, optional
        Recorded as the version's ``run_id`` tag.
    alias : str or None, default "challenger"
        Alias moved to the new version; None moves no alias (a pipeline that registers
        first and moves aliases only once every model is registered and decided).
    tags : dict, optional
        Further version tags.

    Returns
    -------
    str
        The new version number.
    """
    import mlflow

    client = _client()
    mv = mlflow.register_model(model_uri_, name, await_registration_for=60)
    for key, value in {**({"run_id": run_id} if run_id else {}), **(tags or {})}.items():
        client.set_model_version_tag(name, mv.version, key, str(value))
    if alias:
        client.set_registered_model_alias(name, alias, mv.version)
    log.info("registered %s version %s%s", name, mv.version, f" as {alias}" if alias else "")
    return str(mv.version)


@readable_store()
def get_version(name: str, alias: str = CHAMPION):
    """The ``ModelVersion`` that ``alias`` points to (or version ``alias`` when it is a number).

    Raises
    ------
    ModelNotFoundError
        When the registered model or the alias does not exist.
    ModelFilesError
        When the registry's database is damaged.
    """
    from mlflow.exceptions import MlflowException

    client = _client()
    try:
        client.get_registered_model(name)
    except MlflowException as e:
        raise ModelNotFoundError(
            f"No registered model named {name!r} in the registry at {tracking_uri()}. "
            "Train and register it first (e.g. `crm-ml demo` or `crm-ml train`)."
        ) from e
    alias = str(alias)
    try:
        if alias.isdigit():
            return client.get_model_version(name, alias)
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as e:
        raise ModelNotFoundError(
            f"Registered model {name!r} has no version "
            + (alias if alias.isdigit() else f"with alias {alias!r}") + " "
            f"(registry {tracking_uri()}). Promote a version first with crm_ml.tracking.promote()."
        ) from e


def _alias_version(name: str, alias: str) -> str | None:
    try:
        return str(get_version(name, alias).version)
    except ModelNotFoundError:
        return None


def load_model(name: str, alias: str = CHAMPION):
    """Load ``models:/NAME@alias`` as an MLflow pyfunc model, if it is a crm_ml model.

    The alias is resolved to a version once; that version's ``MLmodel`` and model script are
    checked before anything of it is loaded (:func:`crm_ml.tracking.trust.load_trusted`).

    Raises
    ------
    ModelNotFoundError
        When the name or alias does not exist.
    UntrustedModelError
        When the version is not a crm_ml model from code (e.g. a cloudpickled pyfunc or an
        edited script); nothing of it is run.
    ModelFilesError
        When the version's files are missing or damaged.
    """
    from crm_ml.tracking.trust import load_version

    version = str(get_version(name, alias).version)  # clear error first
    return load_version(name, version, alias)


def promote(name: str, score_fn: Callable, higher_is_better: bool = True,
            force: bool = False, *, version: str | int | None = None) -> dict:
    """Champion/challenger: move ``champion`` to a new version when it wins.

    Parameters
    ----------
    name : str
        Registered model name.
    score_fn : callable
        ``score_fn(pyfunc_model) -> float``, computed on the same held-out data for the
        candidate version and the champion.
    higher_is_better : bool, default True
    force : bool, default False
        Promote even when the candidate does not win.
    version : str or int, optional
        The version to promote. Default: the version the ``challenger`` alias points to.
        Give it when other jobs may register versions of ``name`` at the same time: the
        shared ``challenger`` alias may by then point to another job's model.

    Returns
    -------
    dict
        ``promoted`` (bool), ``reason``, ``challenger_version`` (the candidate),
        ``champion_before``, ``champion_after``, ``challenger_score``, ``champion_score``,
        ``higher_is_better``, ``forced``, ``decided_at``. Also stored as tags on the candidate
        version and as ``promotion/<version>_<time>.json`` in its run.

    Raises
    ------
    ModelNotFoundError
        When ``name`` has no ``challenger`` (or no version ``version``).
    """
    client = _client()
    with store_lock(tracking_uri(), "release"):
        candidate = get_version(name, CHALLENGER if version is None else str(version))
        decision = decide(name, str(candidate.version), score_fn,
                          higher_is_better=higher_is_better, force=force)
        apply_decision(decision, client=client)
    return decision


def decide(name: str, version: str, score_fn: Callable, *, higher_is_better: bool = True,
           force: bool = False) -> dict:
    """Compare version ``version`` of ``name`` with the current champion; move nothing.

    Both are loaded by version number and scored with ``score_fn``. Hold the store's
    ``release`` lock from this call until :func:`apply_decision`, so that no other job moves
    the champion in between. Returns the decision dict described in :func:`promote`.
    """
    version = str(version)
    champ_version = _alias_version(name, CHAMPION)
    decision = {
        "name": name,
        "challenger_version": version,
        "champion_before": champ_version,
        "higher_is_better": bool(higher_is_better),
        "forced": bool(force),
        "challenger_score": None,
        "champion_score": None,
        "decided_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    if champ_version == version:
        decision.update(promoted=False, champion_after=champ_version,
                        reason="challenger is already the champion")
        return decision

    ch_score = float(score_fn(load_model(name, version)))
    decision["challenger_score"] = ch_score
    if champ_version is None:
        promoted, reason = True, "no champion yet: the first model becomes champion"
    else:
        cp_score = float(score_fn(load_model(name, champ_version)))
        decision["champion_score"] = cp_score
        if not math.isfinite(ch_score):
            wins = False
        elif not math.isfinite(cp_score):
            wins = True
        else:
            wins = ch_score > cp_score if higher_is_better else ch_score < cp_score
        if wins:
            promoted, reason = True, "challenger beats champion on the same held-out data"
        elif force:
            promoted, reason = True, "forced promotion (challenger did not beat champion)"
        else:
            promoted, reason = False, "challenger does not beat champion: champion unchanged"
    decision.update(promoted=promoted, reason=reason,
                    champion_after=version if promoted else champ_version)
    return decision


def apply_decision(decision: dict, *, client=None) -> None:
    """Carry out a :func:`decide` result: move ``champion`` when promoted, record the decision.

    A decision whose candidate already was the champion changes and records nothing.
    """
    if decision["champion_before"] == decision["challenger_version"]:
        return
    client = client or _client()
    name, version = decision["name"], decision["challenger_version"]
    if decision["promoted"]:
        client.set_registered_model_alias(name, CHAMPION, version)
    _record_decision(client, name, client.get_model_version(name, version), decision)
    log.info("promote %s version %s: %s", name, version, decision["reason"])


def _record_decision(client, name: str, challenger, decision: dict) -> None:
    tags = {"promotion.promoted": str(decision["promoted"]),
            "promotion.reason": decision["reason"],
            "promotion.challenger_score": str(decision["challenger_score"]),
            "promotion.champion_score": str(decision["champion_score"]),
            "promotion.champion_before": str(decision["champion_before"])}
    for k, v in tags.items():
        client.set_model_version_tag(name, challenger.version, k, v)
    run_id = getattr(challenger, "run_id", None)
    if run_id:
        stamp = decision["decided_at"].replace(":", "").replace("+", "_")
        client.log_dict(run_id, decision,
                        f"promotion/v{decision['challenger_version']}_{stamp}.json")


def find_in_run_artifacts(run_id: str, needles: Iterable[str]) -> list[tuple[str, str]]:
    """Search every artifact of a run (and the models it logged) for strings.

    Used to prove that no customer identifier reached MLflow. Params, tags and metric names
    are searched too (reported as ``params/<key>``, ``tags/<key>``, ``metrics/<key>``).

    Parameters
    ----------
    run_id : str
    needles : iterable of str
        E.g. the customer ids of the training data.

    Returns
    -------
    list of (artifact_path, needle)
        Empty when nothing was found.
    """
    import mlflow

    client = _client()
    needles = [str(n) for n in needles if str(n)]
    encoded = [(n, n.encode("utf-8")) for n in needles]
    hits: list[tuple[str, str]] = []
    run = client.get_run(run_id)

    def scan_text(label: str, text: str) -> None:
        for n in needles:
            if n in text:
                hits.append((label, n))

    for k, v in run.data.params.items():
        scan_text(f"params/{k}", f"{k}={v}")
    for k, v in run.data.tags.items():
        scan_text(f"tags/{k}", f"{k}={v}")
    for k in run.data.metrics:
        scan_text(f"metrics/{k}", k)

    def scan_dir(root: Path, prefix: str) -> None:
        for path in sorted(root.rglob("*")):
            if not path.is_file():
                continue
            data = path.read_bytes()
            rel = f"{prefix}{path.relative_to(root).as_posix()}"
            for n, b in encoded:
                if b in data:
                    hits.append((rel, n))

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if client.list_artifacts(run_id):
            local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="",
                                                        dst_path=str(root / "run"))
            scan_dir(Path(local), "")
        try:
            models = mlflow.search_logged_models(
                experiment_ids=[run.info.experiment_id],
                filter_string=f"source_run_id = '{run_id}'", output_format="list")
        except Exception:  # pragma: no cover - older MLflow without logged models
            models = []
        for m in models:
            dst = root / "models" / m.model_id
            dst.mkdir(parents=True)
            local = mlflow.artifacts.download_artifacts(artifact_uri=m.artifact_location,
                                                        dst_path=str(dst))
            scan_dir(Path(local), f"models/{m.name}/")
    return hits
