"""Log fitted models as MLflow pyfunc models (with signature and a synthetic input example).

A model module writes a small ``mlflow.pyfunc.PythonModel`` subclass whose ``load_context``
reads native artifacts (LightGBM text, skops, JSON; see :mod:`crm_ml.tracking.serialization`)
and whose ``predict`` takes raw customer inputs and returns the documented output columns.
:func:`log_pyfunc_model` logs it in the run and optionally registers it as ``challenger``.

The wrapper is logged as MLflow "model from code": a three-line script (``crm_ml_model.py``
in the model folder) that imports the wrapper class from ``crm_ml`` and hands MLflow a fresh
instance, so no pickle is stored. Keep wrappers stateless: fitted state belongs in the native
artifacts. The loading environment needs ``crm_ml`` installed, and the registry that serves
the model files is the trust boundary (see docs/reliability.md).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from dataclasses import dataclass
from importlib import metadata as _md
from pathlib import Path

import pandas as pd

from crm_ml._logging import get_logger
from crm_ml.errors import CrmMlError
from crm_ml.tracking.model_code import MODEL_CODE_FILE, model_code
from crm_ml.tracking.model_code import quiet_mlflow_logging as _quiet_mlflow_logging
from crm_ml.tracking.store import CHALLENGER, CHAMPION  # noqa: F401 (their old home)

log = get_logger("tracking")

#: Packages pinned (to the installed version) in every logged model's requirements.
PINNED_PACKAGES = ("mlflow", "cloudpickle", "numpy", "pandas", "scipy", "scikit-learn",
                   "lightgbm", "skops", "lifetimes", "statsmodels", "pyarrow")



@dataclass(frozen=True)
class ModelLogResult:
    """Where a logged model lives.

    Attributes
    ----------
    model_uri : str or None
        ``models:/<model_id>`` of the logged model; None when tracking is off.
    registered_version : str or None
        The registry version (aliased ``challenger``) when a registered name was given.
    run_id : str or None
        The MLflow run the model (and its parameters, metrics and plots) was logged in.
    """

    model_uri: str | None
    registered_version: str | None = None
    run_id: str | None = None


def default_pip_requirements(packages=PINNED_PACKAGES) -> list[str]:
    """``name==installed_version`` for each installed package in ``packages``.

    Pinning avoids MLflow's slow requirement inference, and with
    ``mlflow models serve --env-manager local`` the current environment is used as is.
    ``crm_ml`` itself is not listed (it is not on PyPI): install it where models are loaded.
    """
    out = []
    for name in packages:
        try:
            out.append(f"{name}=={_md.version(name)}")
        except _md.PackageNotFoundError:
            continue
    return out


@contextlib.contextmanager
def _as_active(run):
    """Make ``run`` the active MLflow run for the duration (resume it if needed)."""
    import mlflow

    active = mlflow.active_run()
    if active is not None and active.info.run_id == run.run_id:
        yield
        return
    with mlflow.start_run(run_id=run.run_id, nested=active is not None):
        yield


def _model_code_file(python_model, folder: str) -> str:
    """Write the models-from-code script that rebuilds ``python_model``; return its path."""
    cls = type(python_model)
    if vars(python_model):
        raise CrmMlError(f"{cls.__name__} holds state ({sorted(vars(python_model))}): a "
                         "pyfunc wrapper must be stateless, with fitted state in artifacts")
    if cls.__module__ == "__main__" or cls.__qualname__ != cls.__name__:
        raise CrmMlError(f"{cls.__qualname__}: a pyfunc wrapper must be a module-level class "
                         "in an importable module, so that the model can rebuild it on load")
    from crm_ml.tracking.trust import check_wrapper_class

    check_wrapper_class(cls)  # crm_ml's loaders would refuse any other
    path = Path(folder) / MODEL_CODE_FILE
    path.write_text(model_code(cls.__module__, cls.__name__))
    return str(path)


#: Customer ids in an input example must start with one of these (``synthetic-1``, ...).
SYNTHETIC_ID_PREFIXES = ("synthetic", "example")


def _check_synthetic(input_example: pd.DataFrame) -> None:
    """Refuse input examples that may hold real customer data: more than 20 rows, customer
    ids that are not marked synthetic, or values that look like e-mail addresses, phone
    numbers or URLs."""
    if not isinstance(input_example, pd.DataFrame) or input_example.empty:
        raise CrmMlError("input_example must be a non-empty, SYNTHETIC pandas DataFrame")
    if len(input_example) > 20:
        raise CrmMlError(
            f"input_example has {len(input_example)} rows; use a few synthetic rows "
            "(never real customer rows or ids)"
        )
    if "customer_id" in input_example.columns:
        real = [v for v in input_example["customer_id"]
                if not str(v).lower().startswith(SYNTHETIC_ID_PREFIXES)]
        if real:
            raise CrmMlError(
                f"input_example: customer_id {real[0]!r} is not a synthetic id; use ids "
                f"starting with {' or '.join(SYNTHETIC_ID_PREFIXES)} (e.g. 'synthetic-1'), "
                "never real customer ids")
    from crm_ml.data.privacy import looks_like_contact

    for col in input_example.columns:
        if input_example[col].dtype.kind not in "OSUc" and not isinstance(
                input_example[col].dtype, pd.CategoricalDtype | pd.StringDtype):
            continue
        hit = next((v for v in input_example[col] if looks_like_contact(v)), None)
        if hit is not None:
            raise CrmMlError(
                f"input_example: column {col!r} holds a value that looks like an e-mail "
                "address, phone number or URL; input examples must be synthetic (build them "
                "from kept category levels or '__other__', see crm_ml.data.privacy)")


def log_pyfunc_model(run, python_model, *, artifacts: dict[str, str],
                     input_example: pd.DataFrame, name: str = "model",
                     registered_name: str | None = None,
                     pip_requirements: list[str] | None = None,
                     metadata: dict | None = None, signature=None) -> ModelLogResult:
    """Log a pyfunc model in ``run``; register it as ``challenger`` when a name is given.

    Parameters
    ----------
    run : TrackedRun
        From :func:`crm_ml.tracking.start_run`. When tracking is off nothing is logged and
        ``ModelLogResult(None, None)`` is returned.
    python_model : mlflow.pyfunc.PythonModel
        A stateless wrapper whose ``load_context`` reads ``artifacts``, of a module-level
        class; the model stores a script that imports and instantiates it, not a pickle.
    artifacts : dict
        ``{key: local path}`` of native model files (LightGBM text, skops, JSON).
    input_example : DataFrame
        A few SYNTHETIC rows of raw inputs (never real customer rows or identifiers). The
        signature is inferred from it and from the model's prediction on it.
    name : str, default "model"
        Name of the logged model within the run.
    registered_name : str, optional
        Registry name (``"crm-churn"`` ...). The new version gets the ``challenger`` alias.
    pip_requirements : list of str, optional
        Defaults to :func:`default_pip_requirements`.
    metadata : dict, optional
        Extra metadata stored in the MLmodel file.
    signature : mlflow.models.ModelSignature, optional
        Declared instead of inferred, e.g. to make an input optional; the example must fit
        it (its whole numbers are then kept as they are).

    Returns
    -------
    ModelLogResult
    """
    if run is None or not getattr(run, "active", False):
        log.info("tracking is off: model %s not logged", name)
        return ModelLogResult(None, None)
    _check_synthetic(input_example)
    # whole-number inputs are declared as doubles: an integer schema would refuse missing
    # values at inference time (and MLflow warns about it); the predict functions cast ints
    if signature is None:
        ints = [c for c, t in input_example.dtypes.items() if pd.api.types.is_integer_dtype(t)]
        input_example = input_example.astype(dict.fromkeys(ints, "float64"))
    import mlflow
    import mlflow.pyfunc

    for key, path in artifacts.items():
        if not os.path.exists(path):
            raise CrmMlError(f"artifact {key!r} not found at {path}")
    reqs = pip_requirements if pip_requirements is not None else default_pip_requirements()
    with (_as_active(run), warnings.catch_warnings(), _quiet_mlflow_logging(),
          tempfile.TemporaryDirectory() as code_dir):
        # the inputs are doubles (above); this hint is then about integer *outputs* (segment
        # numbers, horizons), which predict never returns missing
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer",
                                category=UserWarning)
        info = mlflow.pyfunc.log_model(
            name=name,
            python_model=_model_code_file(python_model, code_dir),
            artifacts=dict(artifacts),
            input_example=input_example,
            signature=signature,
            pip_requirements=reqs,
            metadata=metadata,
        )
    if info.signature is None or info.signature.outputs is None:
        raise CrmMlError(
            f"could not infer a model signature for {name!r} from its input example: "
            "check that predict() works on the example and returns a DataFrame or Series"
        )
    version = None
    if registered_name:
        from crm_ml.tracking.registry import register

        version = register(info.model_uri, registered_name, run_id=run.run_id)
    run.set_tags({f"model.{name}.uri": info.model_uri,
                  **({f"model.{name}.registered": f"{registered_name}/{version}"}
                     if version else {})})
    return ModelLogResult(info.model_uri, version, run.run_id)
