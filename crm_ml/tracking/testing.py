"""Test helpers for model modules: predict with a registered model in a fresh process."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

from crm_ml.tracking.runs import tracking_uri

_SCRIPT = """
import sys
import pandas as pd
from crm_ml.tracking.trust import load_trusted
model = load_trusted(sys.argv[1])
x = pd.read_parquet(sys.argv[2])
out = model.predict(x)
if isinstance(out, pd.Series):
    out = out.to_frame()
pd.DataFrame(out).reset_index(drop=True).to_parquet(sys.argv[3])
"""


def predict_in_fresh_process(model_uri: str, model_input: pd.DataFrame,
                             timeout: float = 180) -> pd.DataFrame:
    """Load ``model_uri`` (e.g. ``models:/crm-churn@champion``) in a new Python process and
    predict ``model_input`` there; proves the model reloads without this process's state.

    Returns
    -------
    DataFrame
        The prediction, index reset.
    """
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.parquet", Path(tmp) / "out.parquet"
        model_input.to_parquet(src)
        env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri()}
        proc = subprocess.run([sys.executable, "-c", _SCRIPT, model_uri, str(src), str(dst)],
                              capture_output=True, text=True, timeout=timeout, env=env)
        if proc.returncode != 0:
            raise RuntimeError(f"loading {model_uri} in a fresh process failed:\n"
                               f"{proc.stderr[-3000:]}")
        return pd.read_parquet(dst)
