"""The models-from-code script of every model crm_ml logs, and quiet MLflow model logging.

Shared by :mod:`crm_ml.tracking.models` (which writes the script) and
:mod:`crm_ml.tracking.trust` (which compares a model's script with it, byte for byte).
"""

from __future__ import annotations

import contextlib
import logging
import os

__all__ = ["MODEL_CODE_FILE", "model_code", "quiet_mlflow_logging"]

#: File name of the models-from-code script in every model crm_ml logs.
MODEL_CODE_FILE = "crm_ml_model.py"


def model_code(module: str, class_name: str) -> str:
    """The models-from-code script crm_ml writes for wrapper class ``module.class_name``.

    :mod:`crm_ml.tracking.trust` compares a model's script with this text, byte for byte.
    """
    return ("# Written by crm_ml: the model is this stateless wrapper; its load_context\n"
            "# reads the fitted state from the model's artifacts.\n"
            "from mlflow.models import set_model\n\n"
            f"from {module} import {class_name}\n\n"
            f"set_model({class_name}())\n")


@contextlib.contextmanager
def quiet_mlflow_logging():
    """No artifact progress bars and no INFO lines from MLflow while a model is logged."""
    key = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
    previous_env = os.environ.get(key)
    if previous_env is None:  # the user's own setting wins
        os.environ[key] = "false"
    loggers = [logging.getLogger(n) for n in ("mlflow.pyfunc", "mlflow.models")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(max(lg.getEffectiveLevel(), logging.WARNING))
    try:
        yield
    finally:
        if previous_env is None:
            os.environ.pop(key, None)
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)
