"""Preflight: refuse, before anything is fitted or registered, data a run cannot use.

``crm-ml train`` runs four steps (``crm_ml.pipelines.<module>.run``), each with its own time
windows and minimum sizes. Without these checks a short history or a handful of customers fails
minutes later, deep inside one step ("cannot fit RFM bins on zero customers"), after the
earlier steps have registered their models. Each check below mirrors a window or a size
that a step's code needs; the windows come from the run's
:class:`~crm_ml.pipelines.config.TrainConfig`, so they move together. With the default
config:

==========  ===============================================================================
step        needs (as_of = the training day)
==========  ===============================================================================
all         a purchase (amount > 0) on or before as_of
rfm         a purchase on or before as_of - 90 days (segment migration from 90 days
            earlier); a segmentation fit set (80 % of customers, hashed by id) with at least
            3 customers of 2 distinct behaviours (k >= 2 segments needs more customers than
            segments) and a held-out set (20 %) with more customers than the largest number of
            segments (8), or its silhouette is undefined
churn       a purchase on or before as_of - 180 days (training snapshot = 2 x the 90-day
            horizon before as_of); at that snapshot at least 2 churners and 2 non-churners
            (calibration folds); at as_of - 90 days (the held-out test) at least 1 of each
clv         238 days of purchases before as_of (182-day holdout + the 56 days the LightGBM
            comparison trains on); at as_of - 182 days at least 10 repeat customers
            (Gamma-Gamma) and a purchase in the LightGBM label window
forecast    15 monthly periods up to the last month complete by as_of (2 backtest windows
            of 6 months + 3 to fit on)
==========  ===============================================================================

Whether a maximum-likelihood fit converges cannot be known up front; those failures keep
their own typed errors (:class:`crm_ml.clv.CLVConvergenceError`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from crm_ml.data.windows import history_end
from crm_ml.errors import DataValidationError

#: Steps of ``crm-ml train`` in the order they run (see :data:`crm_ml.pipelines.STEPS`).
TRAIN_STEPS = ("rfm", "churn", "clv", "forecast")
#: Days the CLV LightGBM comparison needs before the calibration end (two 28-day windows).
CLV_ML_DAYS = 56
CLV_MIN_REPEAT_CUSTOMERS = 10
CHURN_MIN_PER_CLASS_TRAIN = 2
CHURN_MIN_PER_CLASS_TEST = 1
SEGMENT_MIN_FIT = 3
FORECAST_MIN_FIT_MONTHS = 3


def _purchases(data) -> pd.DataFrame:
    """Purchases (amount > 0) on or before the as_of day: customer_id, day, amount."""
    tx = data.transactions
    keep = (tx["amount"].to_numpy() > 0) & (tx["timestamp"] < history_end(data.as_of)).to_numpy()
    return pd.DataFrame({"customer_id": tx["customer_id"].to_numpy()[keep],
                         "day": tx["timestamp"].to_numpy()[keep].astype("datetime64[D]"),
                         "amount": tx["amount"].to_numpy()[keep]})


def _day(ts) -> str:
    return str(pd.Timestamp(ts).date())


def _require_purchases(data, buys: pd.DataFrame, what: str) -> None:
    if len(buys):
        return
    tx = data.transactions
    before = tx.loc[tx["timestamp"] < history_end(data.as_of), "amount"]
    raise DataValidationError(
        f"transactions.amount: no customer has a purchase (positive amount) on or before as_of "
        f"{_day(data.as_of)} ({len(before):,} transaction(s) up to then, all returns or zero "
        f"amounts); {what} needs purchases: check the sign of the amount column (purchases "
        "positive, returns negative) or give a later --as-of (rule 'purchases before as_of')",
        column="amount", rule="purchases before as_of")


def check_scorable(data) -> None:
    """Refuse data with nothing to score: no purchase on or before ``data.as_of``.

    Parameters
    ----------
    data : CRMData
        From :func:`crm_ml.scoring.load_inputs`.

    Raises
    ------
    crm_ml.DataValidationError
        Rule ``'purchases before as_of'``.
    """
    _require_purchases(data, _purchases(data), "scoring")


def _sales_periods(first_day, as_of: pd.Timestamp, freq: str = "M") -> int:
    """Periods :func:`crm_ml.forecast.sales_series` makes up to ``as_of``: from the period of
    ``first_day`` to the last period that ends on or before as_of."""
    from crm_ml.forecast.series import FREQS

    alias = FREQS[freq][0]
    last = pd.Period(as_of, alias)
    if as_of < last.end_time.normalize():
        last -= 1
    return max(0, (last - pd.Period(first_day, alias)).n + 1)


def _history_needs(modules, config) -> list[tuple[str, int, str]]:
    """(step, days of purchases needed before as_of, why) for the wanted day-based steps."""
    h, g = config.churn.horizon_days, config.churn.holdout
    holdout, migration = config.clv.holdout_days, config.rfm.migration_days
    needs = {"rfm": (migration, f"segment migration from {migration} days earlier"),
             "churn": (h + g, f"the {h}-day churn horizon + {g} days between the training "
                              "and the test snapshot"),
             "clv": (holdout + CLV_ML_DAYS,
                     f"{holdout}-day holdout + {CLV_ML_DAYS} days to train on")}
    return [(m, *needs[m]) for m in modules if m in needs]


def _forecast_periods(config) -> tuple[int, str]:
    from crm_ml.pipelines.forecast import PERIOD_NAMES

    fc = config.forecast
    period = PERIOD_NAMES[fc.freq]
    need = fc.backtest_h * fc.backtest_windows + FORECAST_MIN_FIT_MONTHS
    return need, (f"{fc.backtest_windows} backtest windows of {fc.backtest_h} {period}s + "
                  f"{FORECAST_MIN_FIT_MONTHS} to fit on")


def _check_history(data, buys: pd.DataFrame, modules, config) -> None:
    """Enough history before as_of for every wanted step (one message naming them all)."""
    as_of = data.as_of
    first = pd.Timestamp(buys["day"].min())
    span = (as_of - first).days
    short = [f"{m} {days} days ({why})" for m, days, why in _history_needs(modules, config)
             if span < days]
    if "forecast" in modules:
        from crm_ml.pipelines.forecast import PERIOD_NAMES

        period = PERIOD_NAMES[config.forecast.freq]
        all_tx = data.transactions.loc[data.transactions["timestamp"] < history_end(as_of)]
        found = _sales_periods(all_tx["timestamp"].min(), as_of, config.forecast.freq)
        need, why = _forecast_periods(config)
        if found < need:
            short.append(f"forecast {need} {period}s of sales up to the last {period} "
                         f"complete by as_of ({why}), found {found}")
    if short:
        raise DataValidationError(
            f"transactions.timestamp: the first purchase is on {_day(first)}, {span} days "
            f"before as_of {_day(as_of)}; training needs purchases further back: "
            + "; ".join(short) + ": give more history or a later --as-of "
            "(rule 'enough history')", column="timestamp", rule="enough history")


def _check_recent(data, buys: pd.DataFrame, modules, config) -> None:
    """Purchases in the held-out windows just before as_of (churn test labels, CLV holdout).

    An as_of long after the data makes every customer look churned.
    """
    HORIZON = config.churn.horizon_days  # noqa: N806

    if not {"churn", "clv"} & set(modules):
        return
    last = pd.Timestamp(buys["day"].max())
    gap = (data.as_of - last).days
    if gap >= HORIZON:
        raise DataValidationError(
            f"transactions.timestamp: the last purchase is on {_day(last)}, {gap:,} days before "
            f"as_of {_day(data.as_of)}; churn and CLV are tested on the {HORIZON} days before "
            "as_of, in which nobody bought, so every customer would look churned: give an "
            f"--as-of within the data (e.g. {_day(last)}; the default is the day of the last "
            "transaction) (rule 'recent purchases')", column="timestamp",
            rule="recent purchases")


def _churn_classes(buys: pd.DataFrame, as_of: pd.Timestamp, horizon: int) -> tuple[int, int]:
    """(churners, non-churners) among customers with a purchase on or before ``as_of``, as
    :func:`crm_ml.churn.make_labels` labels them."""
    day = as_of.to_datetime64().astype("datetime64[D]")
    active = pd.Index(pd.unique(buys.loc[buys["day"] <= day, "customer_id"]))
    window = (buys["day"] > day) & (buys["day"] <= day + np.timedelta64(horizon, "D"))
    stayed = active.isin(buys.loc[window, "customer_id"])  # hash-based, fast on many ids
    return int((~stayed).sum()), int(stayed.sum())


def _churn_problems(buys: pd.DataFrame, as_of: pd.Timestamp, config) -> list[str]:
    HORIZON = config.churn.horizon_days  # noqa: N806
    out = []
    # 2 per class for the calibration folds when training; 1 per class for the test ROC AUC
    for when, days, need in (("training", HORIZON + config.churn.holdout,
                              CHURN_MIN_PER_CLASS_TRAIN),
                             ("test", HORIZON, CHURN_MIN_PER_CLASS_TEST)):
        snap = as_of - pd.Timedelta(days=days)
        churned, stayed = _churn_classes(buys, snap, HORIZON)
        if churned < need or stayed < need:
            out.append(f"churn needs >= {need} churner(s) and >= {need} non-churner(s) at its "
                       f"{when} snapshot {_day(snap)} (as_of - {days} days), found "
                       f"{churned} and {stayed}")
    return out


def _clv_problems(buys: pd.DataFrame, as_of: pd.Timestamp, config) -> list[str]:
    HOLDOUT_DAYS = config.clv.holdout_days  # noqa: N806

    cal = (as_of - pd.Timedelta(days=HOLDOUT_DAYS)).to_datetime64().astype("datetime64[D]")
    cal_buys = buys.loc[buys["day"] <= cal]
    days_per_customer = cal_buys.groupby("customer_id")["day"].nunique()
    repeat = int((days_per_customer >= 2).sum())
    out = []
    if repeat < CLV_MIN_REPEAT_CUSTOMERS:
        out.append(f"clv needs >= {CLV_MIN_REPEAT_CUSTOMERS} repeat customers (purchases on 2+ "
                   f"days) by {_day(cal)} (as_of - {HOLDOUT_DAYS} days), found {repeat}")
    # the LightGBM comparison: features at cal - label_days, spend labels up to cal
    available = int((cal - cal_buys["day"].min()) / np.timedelta64(1, "D")) if len(cal_buys) \
        else 0
    label_days = min(HOLDOUT_DAYS, available // 2)
    start = cal - np.timedelta64(label_days, "D")
    known = pd.Index(pd.unique(cal_buys.loc[cal_buys["day"] <= start, "customer_id"]))
    later = cal_buys.loc[cal_buys["day"] > start, "customer_id"]
    if label_days >= CLV_ML_DAYS // 2 and not known.isin(later).any():
        out.append(f"clv's LightGBM comparison needs a customer who bought again between "
                   f"{_day(start)} and {_day(cal)}, found none")
    return out


def _segmentation_problems(data, config) -> list[str]:
    from crm_ml.pipelines.rfm import holdout_mask
    from crm_ml.segmentation import segmentation_features

    sc = config.segmentation
    FEATURES, HOLDOUT_SHARE = list(sc.features), sc.holdout_share  # noqa: N806
    K_RANGE = (sc.min_segments, sc.max_segments)  # noqa: N806
    X = segmentation_features(data.transactions, data.as_of)
    missing = [c for c in FEATURES if c not in X.columns]
    if missing:
        return [f"segmentation.features {missing} are not segmentation features (known: "
                f"{list(X.columns)})"]
    hold = holdout_mask(X.index, HOLDOUT_SHARE)
    fit = X.loc[~hold, FEATURES]
    n_fit, n_hold = len(fit), int(hold.sum())
    distinct = int((~fit.round(12).duplicated()).sum())
    need_hold = K_RANGE[1] + 1
    out = []
    if n_fit < SEGMENT_MIN_FIT or distinct < K_RANGE[0]:
        out.append(f"segmentation needs >= {SEGMENT_MIN_FIT} customers of >= {K_RANGE[0]} "
                   f"distinct behaviours to fit (more customers than segments), found {n_fit} "
                   f"({distinct} distinct)")
    if n_hold < need_hold:
        out.append(f"segmentation needs >= {need_hold} customers in its {HOLDOUT_SHARE:.0%} "
                   f"held-out set (more than its up to {K_RANGE[1]} segments; about "
                   f"{int(np.ceil(need_hold / HOLDOUT_SHARE))} customers in all), found "
                   f"{n_hold}")
    return out


def check_trainable(data, modules: Iterable[str] | None = None, config=None) -> None:
    """Refuse, before any fitting, data on which a ``crm-ml train`` step would fail.

    Parameters
    ----------
    data : CRMData
        From :func:`crm_ml.scoring.load_inputs`.
    modules : iterable of str, optional
        The steps that will run (default all of :data:`TRAIN_STEPS`).
    config : TrainConfig, optional
        The run's settings (default: production defaults).

    Raises
    ------
    crm_ml.DataValidationError
        The first rule broken, in this order: ``'purchases before as_of'`` (no purchase at
        all), ``'enough history'`` (naming each step that needs more days or months),
        ``'recent purchases'`` (an as_of long after the last purchase), ``'enough
        customers'`` (naming each step's minimum and what was found). See the module
        docstring for every step's needs.
    """
    from crm_ml.pipelines.config import TrainConfig

    config = config or TrainConfig()
    modules = tuple(modules) if modules is not None else TRAIN_STEPS
    buys = _purchases(data)
    _require_purchases(data, buys, "training")
    _check_history(data, buys, modules, config)
    _check_recent(data, buys, modules, config)
    problems: list[str] = []
    if "rfm" in modules:
        problems += _segmentation_problems(data, config)
    if "churn" in modules:
        problems += _churn_problems(buys, data.as_of, config)
    if "clv" in modules:
        problems += _clv_problems(buys, data.as_of, config)
    if problems:
        n = buys["customer_id"].nunique()
        raise DataValidationError(
            f"transactions.customer_id: {n:,} customer(s) bought on or before as_of "
            f"{_day(data.as_of)}, too few to train: give more customers or a longer history "
            "(rule 'enough customers'): " + "; ".join(problems),
            column="customer_id", rule="enough customers")
