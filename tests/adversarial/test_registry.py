"""The registry is never left half-updated: a training run registers and promotes all its
models together, or nothing; concurrent runs do not crash or interleave their promotions."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from crm_ml.cli import main
from crm_ml.datasets import make_crm_dataset

pytestmark = pytest.mark.slow

#: what `crm-ml train` registers from transactions with product ids (no campaign contacts)
MODELS = ("crm-segments", "crm-churn", "crm-clv", "crm-recommend", "crm-sales-forecast")
#: what `crm-ml demo` registers: the built-in data also has campaigns
DEMO_MODELS = (*MODELS, "crm-uplift")


def _registry() -> dict[str, dict]:
    """Every registered model: its versions and where each alias points."""
    from crm_ml.tracking.registry import _client

    client = _client()
    out = {}
    for rm in client.search_registered_models():
        versions = client.search_model_versions(f"name = '{rm.name}'")
        out[rm.name] = {"aliases": {k: str(v) for k, v in rm.aliases.items()},
                        "versions": sorted(int(v.version) for v in versions)}
    return out


@pytest.fixture()
def trained_store(tmp_path, monkeypatch):
    """A fresh store in tmp_path with the champions of one successful `crm-ml train`."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'train.db'}")
    ds = make_crm_dataset(n_customers=600, seed=5)
    ds.transactions.to_csv(tmp_path / "tx.csv", index=False)
    assert main(["--quiet", "train", "--transactions", "tx.csv", "--as-of", "2024-12-31"]) == 0
    before = _registry()
    assert set(before) == set(MODELS)
    assert all(r["aliases"] == {"champion": "1", "challenger": "1"} for r in before.values()), \
        before
    return tmp_path, before


def test_a_failing_last_step_registers_and_promotes_nothing(trained_store, monkeypatch, capsys):
    tmp_path, before = trained_store
    cards_before = {p: p.read_bytes() for p in (tmp_path / "models").glob("*/card.json")}
    capsys.readouterr()

    def broken_forecast(*args, **kwargs):
        raise RuntimeError("simulated failure in the forecast step")

    monkeypatch.setattr("crm_ml.pipelines.forecast.run", broken_forecast)
    # segments, churn and CLV fit (on other data) before the forecast step fails
    other = make_crm_dataset(n_customers=600, seed=6)
    other.transactions.to_csv(tmp_path / "tx2.csv", index=False)
    assert main(["--quiet", "train", "--transactions", "tx2.csv", "--as-of", "2024-12-31"]) == 2

    err = capsys.readouterr().err.strip()
    assert err.startswith("crm-ml train: error:") and "\n" not in err, err
    assert "forecast" in err and "simulated failure" in err
    assert "promoted" in err and ("nothing" in err or "no model" in err)
    assert _registry() == before  # no new version, no alias moved, no champion changed
    # the model cards still describe the champions
    assert {p: p.read_bytes() for p in (tmp_path / "models").glob("*/card.json")} == \
        cards_before


def test_data_that_breaks_a_later_step_leaves_the_registry_unchanged(trained_store, capsys):
    """The reported trigger: an as-of date after all data fitted the segments and failed in
    churn, after crm-segments had been promoted."""
    tmp_path, before = trained_store
    capsys.readouterr()
    code = main(["--quiet", "train", "--transactions", "tx.csv", "--as-of", "2100-01-01"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("crm-ml train: error:") and "\n" not in err, err
    assert _registry() == before


@pytest.fixture()
def two_models(tmp_path):
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"recency_days": rng.exponential(100, 400),
                      "n_orders": rng.poisson(5, 400).astype(float)})
    y = pd.Series((rng.random(400) < 1 / (1 + np.exp(0.02 * X["recency_days"] - 3))).astype(int))
    good = LogisticRegression().fit(X, y)
    bad = DummyClassifier(strategy="prior").fit(X, y)
    return X, y, good, bad


def _log(estimator, name):
    from crm_ml.tracking import start_run
    from crm_ml.tracking.pyfunc import log_sklearn_model

    example = pd.DataFrame({"recency_days": [3.0, 120.0], "n_orders": [12.0, 1.0]})
    with start_run("test") as run:
        return log_sklearn_model(run, estimator, feature_columns=["recency_days", "n_orders"],
                                 input_example=example, output_column="churn_probability",
                                 registered_name=name).registered_version


def test_promote_a_given_version_not_whatever_the_challenger_alias_points_to(two_models):
    """Another job registering a version moves the shared challenger alias; promoting by
    version number judges the model this job trained."""
    from crm_ml.tracking import get_version, promote

    X, y, good, bad = two_models
    name = "crm-test-promote-version"

    def auc(m):
        return roc_auc_score(y, m.predict(X)["churn_probability"])

    v_bad = _log(bad, name)
    promote(name, auc)                              # first model: champion
    v_mine = _log(good, name)
    v_other = _log(bad, name)                       # another job's model, now the challenger
    assert str(get_version(name, "challenger").version) == v_other
    decision = promote(name, auc, version=v_mine)
    assert decision["promoted"] and decision["challenger_version"] == v_mine
    assert decision["champion_before"] == v_bad
    assert str(get_version(name, "champion").version) == v_mine
    assert get_version(name, v_mine).tags["promotion.promoted"] == "True"
    # the default still promotes the challenger (the README's documented call)
    assert not promote(name, auc)["promoted"]
    assert str(get_version(name, "champion").version) == v_mine


def test_two_concurrent_trainings_on_a_fresh_store(tmp_path, monkeypatch):
    """Two `crm-ml demo` at once on a fresh SQLite store (the data the train tests above
    use): both succeed (no "table experiments already exists"), and their releases do not
    interleave.

    Invariant (see crm_ml.tracking.release): each run registers all its models in one release
    under the store's release lock, so version N of every model belongs to the same run; the
    challenger aliases all point to the last release; each champion was promoted by a
    complete run, and the second release compared its models with the first one's champions.
    """
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
           "CRM_ML_PROGRESS": "0"}
    procs = [subprocess.Popen([sys.executable, "-m", "crm_ml.cli", "--quiet", "demo",
                               "--n-customers", "600", "--seed", "5", "--output", f"out{i}",
                               "--models-dir", f"models{i}"],
                              cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(2)]
    try:
        results = [p.communicate(timeout=900) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (_, err) in zip(procs, results, strict=True):
        assert p.returncode == 0 and "Traceback" not in err, err[-3000:]

    import mlflow

    from crm_ml.tracking import get_version
    from crm_ml.tracking.release import PIPELINE_RUN_TAG, RELEASE_TAG

    monkeypatch.setenv("MLFLOW_TRACKING_URI", env["MLFLOW_TRACKING_URI"])
    assert set(_registry()) == set(DEMO_MODELS)
    releases: dict[str, set] = {}
    for name in DEMO_MODELS:
        for v in ("1", "2"):
            mv = get_version(name, v)
            releases.setdefault(v, set()).add((mv.tags[RELEASE_TAG], mv.tags[PIPELINE_RUN_TAG]))
            assert mlflow.get_run(mv.tags[PIPELINE_RUN_TAG]).info.status == "FINISHED"
        assert str(get_version(name, "challenger").version) == "2"
        assert get_version(name, "2").tags["promotion.champion_before"] == "1"
        assert str(get_version(name, "champion").version) in {"1", "2"}
    # version N of every model came from one run's release, and the two runs differ
    assert len(releases["1"]) == 1 and len(releases["2"]) == 1
    assert releases["1"] != releases["2"]


def test_a_release_whose_comparison_fails_leaves_no_version_and_moves_no_alias(two_models):
    """Scoring the second model against its champion fails: the first model, already
    registered by then, is unregistered again and neither champion moves."""
    from crm_ml.tracking import ReleasePlan, get_version, promote, start_run
    from crm_ml.tracking.pyfunc import log_sklearn_model

    X, y, good, bad = two_models
    names = ("crm-test-release-a", "crm-test-release-b")
    for name in names:
        _log(bad, name)
        promote(name, lambda m: 0.5)
    before = {n: v for n, v in _registry().items() if n in names}

    def auc(m):
        return roc_auc_score(y, m.predict(X)["churn_probability"])

    def broken(m):
        raise RuntimeError("held-out data unreadable")

    plan = ReleasePlan()
    example = pd.DataFrame({"recency_days": [3.0, 120.0], "n_orders": [12.0, 1.0]})
    for name, score in zip(names, (auc, broken), strict=True):
        with start_run("test") as run:
            logged = log_sklearn_model(run, good, feature_columns=["recency_days", "n_orders"],
                                       input_example=example,
                                       output_column="churn_probability")
        plan.add(name, logged.model_uri, run_id=run.run_id, score_fn=score)
    with pytest.raises(RuntimeError, match="unreadable"):
        plan.release()
    assert {n: v for n, v in _registry().items() if n in names} == before
    assert all(c.version is None and c.decision is None for c in plan.candidates)
    assert str(get_version(names[0], "champion").version) == "1"
