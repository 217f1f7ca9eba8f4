"""Adversarial: model files that would run code, and damaged stores and model files.

A registry anyone can write to must not be a way to run code in a scoring job: a skops file
that calls ``exec``, a cloudpickled pyfunc registered as the champion, an edited model script.
Each is refused before anything of it runs (a payload would create a marker file; the tests
check it does not exist, and that the payload is live when loaded without crm_ml's checks).
A damaged store or model file ends in a one-line error naming the file and the fix.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sqlite3
import zipfile
from pathlib import Path
from urllib.parse import unquote, urlparse

import mlflow
import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest
import skops.io as sio
import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from crm_ml import ModelFilesError, UntrustedModelError
from crm_ml.cli import main
from crm_ml.errors import CrmMlError
from crm_ml.serve import assign_segment, clear_cache, get_model, predict_churn
from crm_ml.tracking import load_model, load_sklearn, promote, save_sklearn, start_run
from crm_ml.tracking.pyfunc import log_sklearn_model
from crm_ml.tracking.registry import _client
from crm_ml.tracking.trust import check_model_folder

FEATURES = ["recency_days", "n_orders"]
EXAMPLE = pd.DataFrame({"recency_days": [3.0, 120.0, 400.0], "n_orders": [12.0, 3.0, 1.0]})


# ----------------------------------------------------------------------------- helpers
@contextlib.contextmanager
def use_store(root: Path):
    """Point crm_ml and MLflow at the SQLite store in ``root`` (restored afterwards)."""
    from mlflow.tracking import fluent

    from crm_ml.tracking import runs

    before = mlflow.get_tracking_uri()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        mp.setattr(runs, "_settings", runs._Settings())
        # the active experiment is an id in another store: forget it here, restore it after
        mp.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
        mp.setattr(fluent, "_active_experiment_id", None)
        clear_cache()
        try:
            yield root
        finally:
            clear_cache()
            mlflow.set_tracking_uri(before)
            mlflow.set_registry_uri(before)


def copy_store(src: Path, dst: Path) -> Path:
    """Copy a store folder (database and artifacts); the copy's database points at the
    copy's artifacts (MLflow stores absolute artifact locations)."""
    shutil.copytree(src, dst)
    con = sqlite3.connect(dst / "mlflow.db")
    old, new = f"{src}/", f"{dst}/"
    tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    for table in tables:
        for col in con.execute(f"PRAGMA table_info('{table}')").fetchall():
            if str(col[2]).upper().startswith(("VARCHAR", "TEXT")):
                con.execute(f'UPDATE "{table}" SET "{col[1]}" = replace("{col[1]}", ?, ?) '
                            f'WHERE instr("{col[1]}", ?) > 0', (old, new, old))
    con.commit()
    con.close()
    return dst


def model_folder(name: str, alias: str = "champion") -> Path:
    """The local artifact folder of ``name@alias`` in the store in use."""
    client = _client()
    version = client.get_model_version_by_alias(name, alias).version
    return Path(unquote(urlparse(client.get_model_version_download_uri(name, version)).path))


def _strip_ids(node):
    if isinstance(node, dict):
        return {k: _strip_ids(v) for k, v in node.items() if k != "__id__"}
    if isinstance(node, list):
        return [_strip_ids(v) for v in node]
    return node


def inject_exec(path: Path, code: str) -> Path:
    """Add to a skops file an attribute built by calling numpy.testing's ``runstring`` (that
    is ``exec``) on ``code``: skops builds it with ``runstring(code, {})`` at load time."""
    with zipfile.ZipFile(io.BytesIO(sio.dumps((code, {})))) as z:
        call_args = _strip_ids(json.loads(z.read("schema.json")))
    for key in ("protocol", "_skops_version"):
        call_args.pop(key, None)
    payload = {"__class__": "runstring", "__module__": "numpy.testing._private.utils",
               "__loader__": "ConstructorFromReduceNode", "content": call_args}
    with zipfile.ZipFile(path) as z:
        files = {n: z.read(n) for n in z.namelist()}
    schema = json.loads(files["schema.json"])
    attrs = schema["content"]  # the estimator's attribute dict
    attrs["content"]["crm_ml_test_payload"] = payload
    attrs["key_types"]["content"].append(
        {"__class__": "str", "__module__": "builtins", "__loader__": "TypeNode"})
    files["schema.json"] = json.dumps(schema).encode()
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return path


def touch_code(marker: Path) -> str:
    return f"open({str(marker)!r}, 'w').write('payload ran')"


class PicklePayload(mlflow.pyfunc.PythonModel):
    """A plain MLflow pyfunc whose cloudpickle runs ``exec`` when it is unpickled."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('payload ran')",))

    def predict(self, context, model_input, params=None):
        return model_input


def register_pickle_payload(name: str, marker: Path) -> str:
    """Log :class:`PicklePayload` with cloudpickle, register it and make it the champion."""
    client = _client()  # points MLflow at the store in use
    mlflow.set_experiment("crm-ml-test-payload")
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(name="model", python_model=PicklePayload(str(marker)))
    version = mlflow.register_model(info.model_uri, name).version
    client.set_registered_model_alias(name, "champion", version)
    marker.unlink(missing_ok=True)  # MLflow reloads the model while logging it
    return str(version)


def one_line_error(capsys, command: str = "score") -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"crm-ml {command}: error:") and "\n" not in err, err
    assert "Traceback" not in err
    return err


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A store with crm-churn, crm-clv and crm-segments champions (the demo on 600
    customers), and the demo's input files. Tests damage copies, never this one."""
    from crm_ml.demo import run_demo

    root = tmp_path_factory.mktemp("trained")
    store = root / "store"
    store.mkdir()
    with use_store(store):
        run_demo(output=root / "output", models_dir=root / "models", n_customers=600,
                 seed=1, steps=("rfm", "churn", "clv"), echo=False)
    data = root / "output" / "data"
    as_of = pd.read_csv(data / "transactions.csv", usecols=["timestamp"])["timestamp"].max()
    return {"store": store, "data": data, "as_of": str(pd.Timestamp(as_of).date())}


@pytest.fixture()
def store_copy(trained, tmp_path):
    """A copy of the trained store, in use for the test."""
    with use_store(copy_store(trained["store"], tmp_path / "store")) as root:
        yield root


def score(trained, out: Path) -> int:
    data = trained["data"]
    return main(["--quiet", "score", "--transactions", str(data / "transactions.csv"),
                 "--interactions", str(data / "interactions.csv"),
                 "--customers", str(data / "customers.csv"), "--as-of", trained["as_of"],
                 "--output", str(out)])


# ----------------------------------------------------------------------------- skops
def test_skops_file_calling_exec_is_refused_before_anything_runs(tmp_path):
    marker = tmp_path / "marker"
    pipe = Pipeline([("scale", StandardScaler())]).fit(np.arange(10.0).reshape(5, 2))
    path = inject_exec(save_sklearn(pipe, tmp_path / "pipeline.skops"), touch_code(marker))
    with pytest.raises(UntrustedModelError, match="numpy.testing._private.utils.runstring"):
        load_sklearn(path)
    assert not marker.exists()
    # the payload is live: trusting what the file lists (as a prefix rule did) runs it
    sio.load(path, trusted=sio.get_untrusted_types(file=path))
    assert marker.exists()


def test_skops_types_are_trusted_by_exact_name_not_by_module(tmp_path):
    """A numpy function crm_ml's models never contain is refused, even though numpy's
    ``clip`` (which they do contain) is trusted; naming it exactly lets it through."""
    pipe = Pipeline([("mean", FunctionTransformer(np.nanmean))]).fit(np.ones((3, 2)))
    path = save_sklearn(pipe, tmp_path / "nanmean.skops")
    with pytest.raises(UntrustedModelError, match="numpy.nanmean"):
        load_sklearn(path)
    with pytest.raises(UntrustedModelError):
        load_sklearn(path, trusted=["numpy."])   # a prefix matches nothing
    assert load_sklearn(path, trusted=["numpy.nanmean"]) is not None


def test_registered_segments_model_with_exec_in_its_skops_is_refused(store_copy, trained,
                                                                    tmp_path, capsys):
    marker = tmp_path / "marker"
    inject_exec(model_folder("crm-segments") / "artifacts" / "pipeline.skops",
                touch_code(marker))
    assert score(trained, tmp_path / "scores.parquet") == 2
    err = one_line_error(capsys)
    assert "crm-segments" in err and "runstring" in err and "crm-ml train" in err
    with pytest.raises(UntrustedModelError, match="runstring"):
        assign_segment([{"customer_id": "1", "recency_days": 3.0}])
    assert not marker.exists()
    assert not (tmp_path / "scores.parquet").exists()


# ----------------------------------------------------------------------------- pickles, code
def test_cloudpickled_champion_is_refused_before_it_is_unpickled(tmp_path):
    marker = tmp_path / "marker"
    store = tmp_path / "fresh"
    store.mkdir()
    with use_store(store):
        version = register_pickle_payload("crm-churn", marker)
        calls = {"load_model": lambda: load_model("crm-churn"),
                 "get_model": lambda: get_model("crm-churn"),
                 "predict_churn": lambda: predict_churn([{"customer_id": "1", "x": 1.0}])}
        for call in calls.values():
            with pytest.raises(UntrustedModelError) as info:
                call()
            message = str(info.value)
            assert f"crm-churn (@champion, version {version})" in message
            assert "cloudpickle" in message and "crm-ml train" in message
            assert not marker.exists()
        # the payload is live: MLflow's own loader runs it (then fails: exec returns None)
        with contextlib.suppress(AttributeError):
            mlflow.pyfunc.load_model("models:/crm-churn@champion")
        assert marker.exists()


def test_promotion_refuses_a_cloudpickled_version_before_it_is_unpickled(tmp_path):
    """train's champion comparison loads both versions by number: each goes through the check."""
    marker = tmp_path / "marker"
    store = tmp_path / "fresh"
    store.mkdir()
    with use_store(store):
        first = register_pickle_payload("crm-churn", marker)
        register_pickle_payload("crm-churn", marker)  # now the champion
        with pytest.raises(UntrustedModelError):
            promote("crm-churn", lambda model: 1.0, version=first)
        assert not marker.exists()


def test_cloudpickled_champion_is_refused_by_score_and_card(store_copy, trained, tmp_path,
                                                            capsys):
    marker = tmp_path / "marker"
    version = register_pickle_payload("crm-churn", marker)
    capsys.readouterr()  # MLflow's messages while registering
    assert score(trained, tmp_path / "scores.parquet") == 2
    err = one_line_error(capsys)
    assert f"crm-churn (@champion, version {version})" in err and "cloudpickle" in err
    assert main(["card", "crm-churn", "--models-dir", str(tmp_path / "models")]) == 2
    assert "cloudpickle" in one_line_error(capsys, "card")
    assert not marker.exists()
    assert not (tmp_path / "models").exists()


@pytest.fixture()
def logged_sklearn(tmp_path):
    """A fresh store with one crm_ml model from code, registered as champion of ``name``."""
    store = tmp_path / "fresh"
    store.mkdir()
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"recency_days": rng.exponential(100, 200),
                      "n_orders": rng.poisson(5, 200).astype(float)})
    y = (X["recency_days"] > 100).astype(int)
    with use_store(store):
        with start_run("test") as run:
            res = log_sklearn_model(run, LogisticRegression().fit(X, y),
                                    feature_columns=FEATURES, input_example=EXAMPLE,
                                    output_column="churn_probability",
                                    registered_name="crm-test-edited")
        _client().set_registered_model_alias("crm-test-edited", "champion",
                                             res.registered_version)
        yield {"name": "crm-test-edited", "folder": model_folder("crm-test-edited"), "X": X}


def test_crm_ml_model_from_code_loads(logged_sklearn):
    model = load_model(logged_sklearn["name"])
    proba = model.predict(logged_sklearn["X"])["churn_probability"]
    assert proba.between(0, 1).all() and len(proba) == 200


def test_edited_model_script_is_refused(logged_sklearn, tmp_path):
    marker = tmp_path / "marker"
    script = logged_sklearn["folder"] / "crm_ml_model.py"
    script.write_text(script.read_text() + touch_code(marker) + "\n")
    for call in (lambda: load_model(logged_sklearn["name"]),
                 lambda: predict_churn(EXAMPLE, name=logged_sklearn["name"])):
        with pytest.raises(UntrustedModelError, match="crm_ml_model.py is not the script"):
            call()
    assert not marker.exists()


@pytest.mark.parametrize("edit, expected", [
    (lambda m: m["flavors"].update(sklearn={"pickled_model": "model.pkl"}), "other flavours"),
    (lambda m: m["flavors"]["python_function"].update(code="code"), "code_paths"),
    (lambda m: m["flavors"]["python_function"].update(python_model="python_model.pkl"),
     "cloudpickle"),
    (lambda m: m["flavors"]["python_function"].update(loader_module="mlflow.sklearn"),
     "mlflow.sklearn"),
    (lambda m: m["flavors"]["python_function"].update(model_code_path="/x/other.py"),
     "other.py"),
    (lambda m: next(iter(m["flavors"]["python_function"]["artifacts"].values())).update(
        path="../../elsewhere/spec.json"), "not inside the model folder"),
    (lambda m: m["flavors"]["python_function"].update(model_config={"a": 1}), "model_config"),
])
def test_model_description_that_is_not_a_crm_ml_model_from_code_is_refused(
        logged_sklearn, tmp_path, edit, expected):
    folder = shutil.copytree(logged_sklearn["folder"], tmp_path / "model")
    assert check_model_folder(folder, "model x") == "crm_ml.tracking.pyfunc.SkopsEstimatorModel"
    meta = yaml.safe_load((folder / "MLmodel").read_text())
    edit(meta)
    (folder / "MLmodel").write_text(yaml.safe_dump(meta))
    with pytest.raises(UntrustedModelError, match=expected):
        check_model_folder(folder, "model x")


def test_clv_model_saved_to_a_folder_is_a_model_from_code(tmp_path):
    from crm_ml.clv import CLVModel, load_cdnow_sample
    from crm_ml.clv.pyfunc import INPUT_COLUMNS, input_example, save_pyfunc
    from crm_ml.tracking.trust import load_trusted

    fitted = CLVModel(time_unit="W").fit(load_cdnow_sample(), "1997-09-30")
    folder = save_pyfunc(fitted, tmp_path / "clv_model")
    assert not (folder / "python_model.pkl").exists()
    assert check_model_folder(folder, "clv") == "crm_ml.clv.pyfunc.CLVPyfuncModel"
    out = load_trusted(str(folder)).predict(input_example()[INPUT_COLUMNS])
    assert out["clv"].notna().all()


def test_a_wrapper_crm_ml_would_not_load_is_not_logged():
    from crm_ml.tracking import log_pyfunc_model

    class_ = type("OtherModel", (mlflow.pyfunc.PythonModel,), {"__module__": "json"})
    with start_run("test") as run, pytest.raises(CrmMlError, match="only its own pyfunc"):
        log_pyfunc_model(run, class_(), artifacts={}, input_example=EXAMPLE)


# ----------------------------------------------------------------------------- damage
def test_undamaged_copy_scores(store_copy, trained, tmp_path):
    """The baseline of the damage tests below: the copied store itself works."""
    assert score(trained, tmp_path / "scores.parquet") == 0
    assert len(pd.read_parquet(tmp_path / "scores.parquet")) > 0


def _overwrite_db(store: Path) -> str:
    rng = np.random.default_rng(0)
    (store / "mlflow.db").write_bytes(rng.integers(0, 256, 200_000, dtype=np.uint8).tobytes())
    return "mlflow.db"


def _truncate_db(store: Path) -> str:
    path = store / "mlflow.db"
    os.truncate(path, path.stat().st_size // 2)
    return "mlflow.db"


def _truncate_skops(store: Path) -> str:
    path = model_folder("crm-segments") / "artifacts" / "pipeline.skops"
    os.truncate(path, path.stat().st_size // 2)
    return "pipeline.skops"


def _empty_params(store: Path) -> str:
    (model_folder("crm-clv") / "artifacts" / "clv_params.json").write_text("{}")
    return "clv_params.json"


def _delete_model_folder(store: Path) -> str:
    folder = model_folder("crm-churn")
    shutil.rmtree(folder.parent)
    return "crm-churn"


@pytest.mark.parametrize("damage", [_overwrite_db, _truncate_db, _truncate_skops,
                                    _empty_params, _delete_model_folder],
                         ids=["random_bytes_db", "truncated_db", "truncated_skops",
                              "params_without_keys", "deleted_model_folder"])
def test_damaged_store_or_model_file_is_a_one_line_error(store_copy, trained, tmp_path,
                                                         capsys, damage):
    named = damage(store_copy)
    capsys.readouterr()
    assert score(trained, tmp_path / "scores.parquet") == 2
    err = one_line_error(capsys)
    assert named in err, err
    assert "Restore" in err and "crm-ml train" in err, err
    assert not (tmp_path / "scores.parquet").exists()
    with pytest.raises(ModelFilesError):
        for name in ("crm-churn", "crm-clv", "crm-segments"):
            load_model(name)
