"""Edited UpliftModel files are refused with ModelFilesError at load, never a bare TypeError."""

from __future__ import annotations

import json
import shutil

import pytest

import crm_ml as cm
from crm_ml.campaigns.uplift import UpliftModel
from tests._uplift_data import simulated_campaign


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    X, t, y, _ = simulated_campaign(600, seed=5)
    folder = tmp_path_factory.mktemp("uplift") / "m"
    UpliftModel(method="t_learner", n_estimators=20).fit(X, t, y).save(folder)
    return folder, X


@pytest.mark.parametrize("key, value", [
    ("features", "x0"), ("features", [1, 2]), ("features", ["x0"]), ("cv_scores", [1, 2]),
    ("cv_scores", {"t_learner": "high"}), ("n_train", "../../etc/passwd"),
    ("treated_share", {"a": 1}), ("observed_uplift", [0.1])])
def test_edited_spec_is_a_model_files_error(saved, tmp_path, key, value):
    folder, _ = saved
    copy = tmp_path / "m"
    shutil.copytree(folder, copy)
    spec = json.loads((copy / "spec.json").read_text())
    (copy / "spec.json").write_text(json.dumps({**spec, key: value}))
    with pytest.raises(cm.ModelFilesError, match=key):
        UpliftModel.load(copy)


def test_unedited_files_still_load_and_predict(saved):
    folder, X = saved
    assert UpliftModel.load(folder).predict(X.head(5)).notna().all()
