"""`mlflow models serve` on a registered champion answers REST requests with probabilities."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import numpy as np
import pandas as pd
import pytest

from crm_ml.tracking import promote, start_run, tracking_uri

STARTUP_TIMEOUT_S = 45


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_up(proc, port: int, log_path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=1) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    pytest.fail(f"server not up after {STARTUP_TIMEOUT_S}s:\n{log_path.read_text()[-3000:]}")


def _stop(proc) -> None:
    """Stop the server's own process group (started with start_new_session) and reap it."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=10)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.mark.slow
def test_mlflow_models_serve_returns_churn_probabilities(tmp_path):
    from crm_ml.churn import ChurnModel
    from crm_ml.churn.pyfunc import log_churn_model

    rng = np.random.default_rng(0)
    n = 400
    X = pd.DataFrame({"recency_days": rng.exponential(100, n),
                      "n_orders": rng.poisson(5, n).astype(float),
                      "region": rng.choice(["north", "south"], n)},
                     index=pd.Index([f"c{i}" for i in range(n)], name="customer_id"))
    logit = 0.02 * X["recency_days"] - 0.3 * X["n_orders"]
    y = pd.Series((rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int), index=X.index)
    model = ChurnModel(algorithm="lightgbm", n_jobs=1).fit(X, y)
    name = f"crm-churn-serve-{uuid.uuid4().hex[:6]}"
    with start_run("churn") as run:
        res = log_churn_model(model, run, registered_name=name)
    assert res.registered_version == "1"
    assert promote(name, lambda m: 1.0)["promoted"]

    port = _free_port()
    log_path = tmp_path / "serve.log"
    cmd = [sys.executable, "-m", "mlflow", "models", "serve", "-m", f"models:/{name}@champion",
           "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port), "-w", "1"]
    # mlflow serve execs `uvicorn` by name: the venv's bin must be on PATH even when the tests
    # run as .venv/bin/python -m pytest without an activated venv.
    bin_dir = os.path.dirname(sys.executable)
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri(),
           "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
    try:
        _wait_until_up(proc, port, log_path)
        query = pd.DataFrame({"customer_id": ["q1", "q2", "q3"],
                              "recency_days": [5.0, 150.0, 400.0], "n_orders": [8.0, 2.0, 1.0],
                              "region": ["north", "south", "north"]})
        body = json.dumps({"dataframe_split": query.to_dict(orient="split")}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=body,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=20) as r:
            answer = json.loads(r.read())
    finally:
        _stop(proc)

    assert [row["customer_id"] for row in answer["predictions"]] == ["q1", "q2", "q3"]
    got = np.array([row["churn_probability"] for row in answer["predictions"]])
    np.testing.assert_allclose(got, model.predict_proba(query).to_numpy(), rtol=1e-6)
    assert ((got >= 0) & (got <= 1)).all()
