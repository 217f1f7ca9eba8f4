"""Plot a series, its forecast and prediction intervals."""

from __future__ import annotations

import pandas as pd


def plot_forecast(history: pd.Series, forecast: pd.DataFrame, levels, ax=None,
                  title: str | None = None, actual: pd.Series | None = None):
    """Draw history, forecast and shaded ``lower_<level>``/``upper_<level>`` bands.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(9, 4))
    else:
        fig = ax.figure
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
