"""CLV validation plots (matplotlib Figures, never shown)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crm_ml.clv import _data
from crm_ml.data.windows import as_of_day


def _figure(figsize=(7, 4)):
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.add_subplot(111)


def tracking_plot(model, transactions: pd.DataFrame, calibration_end, holdout_end,
                  step_days: int = 7):
    """Cumulative repeat purchases, actual vs model, as in Fader, Hardie & Lee (2005), Fig. 2.

    ``model`` is fitted at ``calibration_end``; its customers (the calibration cohort) are
    followed to ``holdout_end``. The model curve is the unconditional expectation
    ``sum_i E[X(t - first_purchase_i)]``; a dashed line marks the end of calibration.
    """
    cal_day, hold_day = as_of_day(calibration_end), as_of_day(holdout_end)
    unit = _data.TIME_UNIT_DAYS[model.time_unit]
    summ = model.summary_
    customers = summ.index.astype(str)
    first = pd.to_datetime(summ["first_purchase"]).dt.normalize()
    start = first.min()
    grid = pd.date_range(start, hold_day, freq=f"{step_days}D")
    if grid[-1] != hold_day:
        grid = grid.append(pd.DatetimeIndex([hold_day]))
    # actual repeat occasions: distinct purchase days after each customer's first day
    tx, _ = _data.apply_policy(transactions, hold_day, model.zero_amount)
    tx = tx[tx["customer_id"].astype(str).isin(customers)]
    days = pd.DataFrame({"c": tx["customer_id"].astype(str),
                         "d": tx["timestamp"].dt.normalize()}).drop_duplicates()
    days = days[days["d"] > days["c"].map(pd.Series(first.to_numpy(), index=customers))]
    per_day = days.groupby("d").size().sort_index()
    actual = per_day.cumsum().reindex(grid, method="ffill").fillna(0).to_numpy()
    # model: cohorts by first purchase day
    cohorts = first.value_counts()
    pf, _ = model._fitters()
    age = (grid.to_numpy()[:, None] - cohorts.index.to_numpy()[None, :]) / np.timedelta64(1, "D")
    age = np.clip(age, 0, None) / unit
    uniq, inv = np.unique(age, return_inverse=True)
    with np.errstate(all="ignore"):
        ex = np.asarray(pf.expected_number_of_purchases_up_to_time(uniq), dtype=float)
    expected = (ex[inv.reshape(age.shape)] * cohorts.to_numpy()[None, :]).sum(axis=1)
    fig, ax = _figure()
    ax.plot(grid, actual, color="black", label="actual")
    ax.plot(grid, expected, color="tab:blue", linestyle="--", label=f"{model.purchase_model}")
    ax.axvline(cal_day, color="grey", linestyle=":", label="end of calibration")
    ax.set_xlabel("date")
    ax.set_ylabel("cumulative repeat purchases")
    ax.set_title("Tracking cumulative repeat purchases")
    ax.legend()
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def calibration_holdout_plot(per_customer: pd.DataFrame, max_frequency: int = 7):
    """Mean holdout purchases by calibration-period frequency, actual vs predicted."""
    f = per_customer["frequency"].clip(upper=max_frequency).astype(int)
    g = per_customer.groupby(f)[["actual_purchases", "predicted_purchases"]].mean()
    fig, ax = _figure()
    ax.plot(g.index, g["actual_purchases"], marker="o", color="black", label="actual")
    ax.plot(g.index, g["predicted_purchases"], marker="s", linestyle="--", color="tab:blue",
            label="model")
    ax.set_xticks(list(g.index))
    ax.set_xticklabels([str(i) if i < max_frequency else f"{max_frequency}+" for i in g.index])
    ax.set_xlabel("repeat purchases in calibration period")
    ax.set_ylabel("mean repeat purchases in holdout")
    ax.set_title("Calibration vs holdout purchases")
    ax.legend()
    fig.tight_layout()
    return fig


def deciles_plot(deciles: pd.DataFrame, title: str = "Holdout value by predicted decile"):
    """Bar chart of predicted vs actual holdout value per decile."""
    fig, ax = _figure()
    x = np.arange(len(deciles))
    ax.bar(x - 0.2, deciles["predicted_value"], width=0.4, label="predicted")
    ax.bar(x + 0.2, deciles["actual_value"], width=0.4, label="actual")
    ax.set_xticks(x)
    ax.set_xticklabels([str(i) for i in deciles.index])
    ax.set_xlabel("decile of predicted value (10 = highest)")
    ax.set_ylabel("holdout spend")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return fig
