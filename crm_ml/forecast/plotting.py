"""Plot a series, its forecast and prediction intervals, and backtest windows."""

from __future__ import annotations

import pandas as pd


def _figure_and_axes(ax):
    import matplotlib.pyplot as plt

    if ax is None:
        return plt.subplots(figsize=(9, 4))
    return ax.figure, ax


def plot_forecast(history: pd.Series, forecast: pd.DataFrame, levels, ax=None,
                  title: str | None = None, actual: pd.Series | None = None):
    """Draw history, forecast and shaded ``lower_<level>``/``upper_<level>`` bands.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = _figure_and_axes(ax)
    ax.plot(history.index, history.to_numpy(), color="0.2", lw=1.4, label="history")
    for i, lv in enumerate(sorted(levels, reverse=True)):
        lo, hi = forecast.get(f"lower_{lv}"), forecast.get(f"upper_{lv}")
        if lo is None or hi is None:
            continue
        ax.fill_between(forecast.index, lo.to_numpy(), hi.to_numpy(), color="tab:blue",
                        alpha=0.15 + 0.15 * i, lw=0, label=f"{lv}% interval")
    ax.plot(forecast.index, forecast["forecast"].to_numpy(), color="tab:blue", lw=2,
            label="forecast")
    if actual is not None:
        ax.plot(actual.index, actual.to_numpy(), color="tab:red", lw=1.2, ls="--",
                label="actual")
    ax.set_title(title or "forecast")
    ax.set_ylabel(history.name or "y")
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_backtest(history: pd.Series | None, forecasts: pd.DataFrame, metrics: dict,
                  model: str = "arima", baseline: str = "seasonal naive", ax=None,
                  title: str | None = None):
    """Draw the series and, per backtest window, the model's forecast with its interval and the
    (seasonal) naive baseline's (``forecasts``, ``metrics``, ``model`` and ``baseline`` of a
    ``BacktestResult``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = _figure_and_axes(ax)
    if history is not None:
        ax.plot(history.index, history.to_numpy(), color="0.2", lw=1.4, label="actual")
    level = metrics["level"]
    name, base = model, baseline
    label = {"arima": "ARIMA", "combination": "Combination"}.get(name, name)
    origins = forecasts.groupby("origin", sort=True)
    for i, (origin, win) in enumerate(origins):
        arima = win[win["model"] == name]
        naive = win[win["model"] == base.replace(" ", "_")]
        first = i == 0  # one legend entry per kind
        ax.axvline(origin, color="0.6", lw=0.8, ls=":")
        ax.fill_between(arima["timestamp"], arima["lower"], arima["upper"], color="tab:blue",
                        alpha=0.2, lw=0, label=f"{label} {level:g}% interval" if first else None)
        ax.plot(arima["timestamp"], arima["forecast"], color="tab:blue", lw=2,
                label=f"{label} forecast" if first else None)
        ax.plot(naive["timestamp"], naive["forecast"], color="tab:orange", lw=1.2, ls="--",
                label=base if first else None)
    ax.set_title(title or f"Backtest, {origins.ngroups} window(s): MASE {metrics['mase']:.3f} "
                 f"({base} {metrics['baseline_mase']:.3f}), {level:g}% coverage "
                 f"{metrics['coverage']:.0%}")
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
