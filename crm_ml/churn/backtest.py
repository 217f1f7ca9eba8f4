"""Time-based backtest: train at as_of T, evaluate on the next period T + horizon."""

from __future__ import annotations

import pandas as pd

from crm_ml._progress import track
from crm_ml.data.windows import LabelWindow, as_of_day
from crm_ml.errors import DataValidationError

__all__ = ["backtest"]


def backtest(transactions: pd.DataFrame, as_of_dates, horizon_days: int = 90, *,
             interactions: pd.DataFrame | None = None, customers: pd.DataFrame | None = None,
             windows=(30, 90, 180, 365), show_progress: bool | None = None,
             **model_params) -> pd.DataFrame:
    """Walk forward through time the way the model will be used.

    For every ``T`` in ``as_of_dates``: features at ``T`` and labels in ``(T, T + h]`` train a
    :class:`~crm_ml.churn.ChurnModel`; it then scores the features at ``T + h`` and is
    evaluated on the labels in ``(T + h, T + 2h]`` -- data it could not have seen.

    Parameters
    ----------
    transactions : DataFrame
        Canonical transactions covering every ``T + 2 * horizon_days``.
    as_of_dates : iterable of date-like
    horizon_days : int, default 90
    interactions, customers : DataFrame, optional
        Passed to :func:`crm_ml.features.build` (with ``allow_columns`` when given in
        ``model_params``).
    windows : tuple of int
        Feature windows.
    show_progress : bool, optional
    **model_params
        ``ChurnModel`` parameters (``algorithm``, ``random_state`` ...). The fits are internal:
        they run under :func:`crm_ml.tracking.autologging.paused`, so autologging or an active
        run logs none of them.

    Returns
    -------
    DataFrame
        One row per ``T``: ``train_as_of``, ``test_as_of``, ``n_train``, ``n_test``,
        ``train_churn_rate``, ``test_churn_rate``, ``roc_auc``, ``pr_auc``, ``brier``,
        ``log_loss``, ``lift_top_decile``.
    """
    from crm_ml.churn.labels import make_labels
    from crm_ml.churn.model import ChurnModel
    from crm_ml.features.snapshot import build
    from crm_ml.tracking.autologging import paused

    data_end = transactions["timestamp"].max()
    dates = [as_of_day(d) for d in as_of_dates]
    for t in dates:
        t2 = t + pd.Timedelta(days=horizon_days)
        if not LabelWindow.after(t2, horizon_days).covered_by(data_end):
            raise DataValidationError(
                f"backtest: as_of {t.date()} needs data up to "
                f"{(t2 + pd.Timedelta(days=horizon_days)).date()}, the data end on "
                f"{data_end.date()}", column="as_of_dates", rule="T + 2*horizon within data")
    rows = []
    for t in track(dates, "churn backtest", total=len(dates), show=show_progress):
        t2 = t + pd.Timedelta(days=horizon_days)
        allow = model_params.get("allow_columns")
        X_tr = build(transactions, t, interactions, customers, windows=windows,
                     allow_columns=allow)
        y_tr = make_labels(transactions, t, horizon_days).reindex(X_tr.index)
        X_te = build(transactions, t2, interactions, customers, windows=windows,
                     allow_columns=allow)
        y_te = make_labels(transactions, t2, horizon_days).reindex(X_te.index)
        with paused():
            m = ChurnModel(**model_params).fit(X_tr, y_tr)
        ev = m.evaluate(X_te, y_te, plots=False)
        rows.append({"train_as_of": t, "test_as_of": t2, "n_train": len(X_tr),
                     "n_test": len(X_te), "train_churn_rate": float(y_tr.mean()),
                     "test_churn_rate": float(y_te.mean()),
                     **{k: ev[k] for k in ("roc_auc", "pr_auc", "brier", "log_loss",
                                           "lift_top_decile")}})
    return pd.DataFrame(rows)
