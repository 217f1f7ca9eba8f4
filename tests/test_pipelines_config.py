"""The training config: TOML, overrides and the `crm-ml train` flags, with clear errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from crm_ml.cli import main
from crm_ml.pipelines.config import ConfigError, TrainConfig, demo_config


def _write(tmp_path, text: str):
    path = tmp_path / "train.toml"
    path.write_text(text)
    return path


def test_toml_sets_sections_and_round_trips(tmp_path):
    path = _write(tmp_path, '[churn]\nhorizon_days = 60\nalgorithms = ["lightgbm"]\n'
                            '[clv]\nhorizon = 26\nmargin = 0.3\n[forecast]\nby = "none"\n'
                            '[segmentation]\nn_segments = 4\nk_range = [2, 6]\n')
    config = TrainConfig.from_toml(path)
    assert config.churn.horizon_days == 60 and config.churn.algorithms == ("lightgbm",)
    assert config.churn.holdout == 60  # the holdout defaults to the horizon
    assert config.clv.horizon == 26.0 and config.clv.margin == 0.3
    assert config.forecast.by is None and config.segmentation.k_range == (2, 6)
    assert config.rfm == TrainConfig().rfm
    assert TrainConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize(("text", "key", "why"), [
    ("[churn]\nhorizn_days = 3\n", "churn.horizn_days", "unknown key"),
    ("[chrun]\ncv = 3\n", "chrun", "unknown section"),
    ('[churn]\ncv = "3"\n', "churn.cv", "expected an integer"),
    ("[churn]\ncv = true\n", "churn.cv", "expected an integer"),
    ("[churn]\ncv = 1\n", "churn.cv", ">= 2"),
    ("[clv]\nmargin = 30\n", "clv.margin", "(0, 1]"),
    ('[churn]\nalgorithms = ["xgboost"]\n', "churn.algorithms", "lightgbm"),
    ("[churn]\nhorizon_days = 90\nholdout_days = 30\n", "churn.holdout_days", ">= horizon"),
    ('[forecast]\nfreq = "Y"\n', "forecast.freq", "one of"),
    ("[segmentation]\nk_range = [5, 3]\n", "segmentation.k_range", "low <= high"),
])
def test_bad_toml_names_the_key_and_the_file(tmp_path, text, key, why):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        TrainConfig.from_toml(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: {key}:") and why in msg


def test_overrides_are_checked_like_the_file():
    config = demo_config().override({"churn.horizon_days": 30, "clv.discount_rate": 0})
    assert config.churn.horizon_days == 30 and config.clv.discount_rate == 0.0
    assert config.churn.cv == 3  # the demo's other settings are kept
    with pytest.raises(ConfigError, match="churn.cv: must be >= 2"):
        config.override({"churn.cv": 0})


def test_demo_config_is_smaller_than_production():
    prod, demo = TrainConfig(), demo_config()
    assert (prod.churn.cv, prod.churn.n_estimators) == (5, None)
    assert (demo.churn.cv, demo.churn.n_estimators) == (3, 100)


def test_train_help_shows_the_config_options():
    out = subprocess.run([sys.executable, "-m", "crm_ml.cli", "train", "--help"],
                         capture_output=True, text=True, check=True).stdout
    for flag in ("--config", "--horizon-days", "--algorithms", "--cv", "--clv-horizon",
                 "--discount-rate", "--margin", "--freq", "--by"):
        assert flag in out


@pytest.mark.parametrize(("flags", "expected"), [
    (["--cv", "1"], "--cv churn.cv: must be >= 2"),
    (["--algorithms", "lightgbm,xgb"], "--algorithms churn.algorithms"),
    (["--horizon-days", "ninety"], "--horizon-days: cannot read 'ninety'"),
])
def test_bad_train_flags_fail_before_reading_data(tmp_path, capsys, flags, expected):
    # the transactions file does not exist: the flags are refused before it is read
    assert main(["train", "--transactions", str(tmp_path / "none.csv"), *flags]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err


def test_a_bad_config_file_is_a_one_line_error(tmp_path, capsys):
    path = _write(tmp_path, "[churn]\nfolds = 3\n")
    assert main(["train", "--transactions", str(tmp_path / "none.csv"),
                 "--config", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "churn.folds: unknown key" in err and str(path) in err and "\n" not in err


def test_every_purchase_model_the_clv_model_knows_is_a_valid_config_value():
    from crm_ml.clv._fitting import PURCHASE_PARAMS
    from crm_ml.pipelines.config import CLVConfig

    for name in PURCHASE_PARAMS:
        assert TrainConfig.from_dict({"clv": {"purchase_model": name}}).clv.purchase_model == name
    with pytest.raises(ConfigError, match="clv.purchase_model"):
        TrainConfig.from_dict({"clv": {"purchase_model": "paretonbd"}})
    assert CLVConfig().purchase_model in PURCHASE_PARAMS
