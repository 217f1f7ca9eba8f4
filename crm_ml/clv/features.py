"""Purchase-model outputs as customer features (for churn and other tabular models).

:func:`purchase_features` fits BG/NBD, MBG/NBD and/or Pareto/NBD on the purchase history up to
``as_of`` (the CLV data policy of :func:`crm_ml.clv.purchase_summary`) and returns, per
customer, the expected number of purchases in the ``horizon_days`` after ``as_of`` and the
probability of being alive at ``as_of``. Nothing after ``as_of`` is read: the fits and the
features depend on the history only.

A model that cannot be fitted (no convergence, non-finite outputs, too few repeat buyers) does
not stop the caller: its columns are left out with a :class:`PurchaseFeatureWarning`.

Example
-------
>>> X = cm.features.build(tx, as_of).join(
...     cm.clv.purchase_features(tx, as_of, horizon_days=90))      # doctest: +SKIP
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from crm_ml.clv import _data
from crm_ml.clv._fitting import CLVConvergenceError, compress, fit_model
from crm_ml.errors import DataValidationError

__all__ = ["purchase_features", "PurchaseFeatureWarning", "PURCHASE_MODELS",
           "MIN_REPEAT_BUYERS"]

#: The purchase models :func:`purchase_features` can use, in their default order.
PURCHASE_MODELS = ("bgnbd", "mbgnbd", "pareto_nbd")
#: Fewer customers with a repeat purchase than this and no model is fitted (all dropped).
MIN_REPEAT_BUYERS = 20


class PurchaseFeatureWarning(UserWarning):
    """A purchase model's features were left out (the fit failed or could not be trusted)."""


def _check_models(models) -> tuple[str, ...]:
    if isinstance(models, str):
        models = (models,)
    models = tuple(models)
    bad = [m for m in models if m not in PURCHASE_MODELS]
    if bad or not models or len(set(models)) != len(models):
        raise DataValidationError(
            f"models: one or more distinct of {list(PURCHASE_MODELS)}, got {list(models)}",
            column="models", rule=f"distinct values of {list(PURCHASE_MODELS)}")
    return models


def _outputs(fitter, horizon: float, s: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Expected purchases over ``horizon`` periods and P(alive), per row of ``s`` (computed
    once per distinct frequency/recency/T pattern)."""
    key = s[["frequency", "recency", "T"]].to_numpy(dtype=float)
    uniq, inv = np.unique(key, axis=0, return_inverse=True)
    inv = inv.ravel()
    x, rec, T = uniq[:, 0], uniq[:, 1], uniq[:, 2]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = np.asarray(
            fitter.conditional_expected_number_of_purchases_up_to_time(horizon, x, rec, T),
            dtype=float)
        alive = np.asarray(fitter.conditional_probability_alive(x, rec, T), dtype=float)
    return expected[inv], alive[inv]


def purchase_features(transactions: pd.DataFrame, as_of, horizon_days: int = 90,
                      models=PURCHASE_MODELS, time_unit: str = "W",
                      penalizer: float = 0.0) -> pd.DataFrame:
    """Expected purchases and P(alive) from purchase models fitted on history up to ``as_of``.

    Parameters
    ----------
    transactions : DataFrame
        Canonical transactions (``customer_id``, ``timestamp``, ``amount``). Rows after the
        ``as_of`` day are ignored; returns, zero and missing amounts are not purchase
        occasions (the data policy of :func:`crm_ml.clv.purchase_summary`).
    as_of : date-like
        The snapshot day: the models see only the history on or before it.
    horizon_days : int, default 90
        Days after ``as_of`` the expected purchases count (e.g. the churn label's horizon).
    models : sequence of {"bgnbd", "mbgnbd", "pareto_nbd"}, default all three
        The purchase models fitted, one pair of columns each.
    time_unit : {"D", "W", "M"}, default "W"
        Period the models are fitted in (weeks: fast and well conditioned).
    penalizer : float, default 0.0
        L2 penalty of the lifetimes fitters (0.001..0.1 helps a fit that does not converge).

    Returns
    -------
    DataFrame
        Indexed by ``customer_id``, sorted (every customer with a purchase on or before
        ``as_of``, as :func:`crm_ml.features.build`):
        ``<model>_expected_purchases`` and ``<model>_p_alive`` for every model that could be
        fitted. A failed model's columns are left out with a :class:`PurchaseFeatureWarning`;
        with fewer than :data:`MIN_REPEAT_BUYERS` repeat buyers no model is fitted and the
        frame has no columns.

    Raises
    ------
    DataValidationError
        Missing canonical columns, a non-datetime ``timestamp``, no purchase on or before
        ``as_of``, an unknown model or ``time_unit``, or ``horizon_days`` not > 0.

    Examples
    --------
    >>> X = cm.features.build(tx, as_of).join(
    ...     cm.clv.purchase_features(tx, as_of, horizon_days=90))    # doctest: +SKIP
    """
    models = _check_models(models)
    unit = _data.check_time_unit(time_unit)
    if not (isinstance(horizon_days, int | float) and np.isfinite(horizon_days)
            and horizon_days > 0):
        raise DataValidationError(f"horizon_days: must be a number > 0, got {horizon_days!r}",
                                  column="horizon_days", rule="> 0")
    tx, _ = _data.apply_policy(transactions, as_of)
    summary = _data.summarise(tx, as_of, time_unit)
    s = summary[["frequency", "recency", "T"]].astype(float).sort_index()
    out = pd.DataFrame(index=s.index.copy())
    n_repeat = int((s["frequency"] > 0).sum())
    if n_repeat < MIN_REPEAT_BUYERS:
        warnings.warn(
            f"purchase_features: only {n_repeat} customer(s) with a repeat purchase on or "
            f"before as_of (fewer than {MIN_REPEAT_BUYERS}); no purchase model fitted, the "
            f"columns of {list(models)} are left out", PurchaseFeatureWarning, stacklevel=2)
        return out
    data = compress(s, ["frequency", "recency", "T"])
    horizon = float(horizon_days) / unit
    for kind in models:
        try:
            fitter, _ = fit_model(kind, data, penalizer)
            expected, alive = _outputs(fitter, horizon, s)
        except (CLVConvergenceError, ValueError, FloatingPointError, OverflowError) as exc:
            warnings.warn(f"purchase_features: {kind} could not be fitted ({exc}); its columns "
                          "are left out", PurchaseFeatureWarning, stacklevel=2)
            continue
        bad = ~(np.isfinite(expected) & np.isfinite(alive))
        if bad.any():
            warnings.warn(
                f"purchase_features: {kind} gives non-finite outputs for {int(bad.sum())} "
                f"customer(s), e.g. {list(s.index[bad][:5])}; its columns are left out",
                PurchaseFeatureWarning, stacklevel=2)
            continue
        out[f"{kind}_expected_purchases"] = expected
        out[f"{kind}_p_alive"] = np.clip(alive, 0.0, 1.0)
    return out
