"""The CLV pyfunc model: saved as JSON parameters, loaded and used in a fresh process."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from crm_ml.clv import CLVModel, load_cdnow_sample
from crm_ml.clv.pyfunc import input_columns, save_pyfunc


@pytest.fixture(scope="module")
def fitted():
    return CLVModel(time_unit="W").fit(load_cdnow_sample(), "1997-09-30")


@pytest.fixture(scope="module")
def saved(fitted, tmp_path_factory):
    return save_pyfunc(fitted, tmp_path_factory.mktemp("clv") / "clv_model", horizon=39,
                       discount_rate=0.1)


def test_pyfunc_round_trip_in_fresh_process(fitted, saved, tmp_path):
    path = saved
    stored = json.loads((path / "artifacts" / "clv_params.json").read_text())
    assert stored["model"]["params"]["r"] == pytest.approx(fitted.params_["r"])
    summary = fitted.summary_.head(50)
    columns = input_columns(fitted)  # + total_spend for a hybrid, as batch scoring passes
    inp = summary[columns].reset_index()
    inp_file = tmp_path / "input.csv"
    out_file = tmp_path / "output.csv"
    inp.to_csv(inp_file, index=False)
    code = (
        "import mlflow.pyfunc, pandas as pd;"
        f"m = mlflow.pyfunc.load_model({str(path)!r});"
        f"x = pd.read_csv({str(inp_file)!r}, dtype={{'customer_id': str}});"
        # MLflow's signature drops customer_id; rows come back in input order (as serve does)
        "out = m.predict(x.drop(columns='customer_id')).reset_index(drop=True);"
        "out.index = pd.Index(x['customer_id'], name='customer_id');"
        f"out.to_csv({str(out_file)!r})"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    got = pd.read_csv(out_file, index_col="customer_id", dtype={"customer_id": str})
    want = fitted.predict(39, discount_rate=0.1, summary=summary[columns])
    assert list(got.columns) == ["expected_purchases", "p_alive", "expected_value", "clv",
                                 "clv_tier"]
    num = ["expected_purchases", "p_alive", "expected_value", "clv"]
    np.testing.assert_allclose(got.loc[want.index, num], want[num], rtol=1e-9)
    # tiers use the training customers' absolute cut-offs: one row scores like in the batch
    full = fitted.predict(39, discount_rate=0.1, summary=fitted.summary_[columns])
    assert (got.loc[want.index, "clv_tier"] == full.loc[want.index, "clv_tier"].astype(str)).all()


def test_pyfunc_rejects_missing_columns(saved):
    import mlflow.pyfunc

    from crm_ml.errors import DataValidationError

    model = mlflow.pyfunc.load_model(str(saved))
    with pytest.raises((DataValidationError, Exception), match="monetary_value"):
        model.predict(pd.DataFrame({"frequency": [1.0], "recency": [2.0], "T": [5.0]}))
