"""Forecast pipeline: revenue per period (``forecast.freq``), overall and per group.

The overall series is backtested (rolling origins) with ARIMA and, by default, the
ARIMA + ETS + Theta combination (``forecast.models``) on the same windows; the one with the
lower backtest MASE (ARIMA on a tie) is fitted, forecast ``forecast.h`` periods ahead, logged
and registered as ``crm-sales-forecast`` (champion/challenger on the backtest MASE, lower is
better), and its card reports ARIMA's backtest beside it. One series per value of
``forecast.by`` is forecast too (a table, not a registered model).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from crm_ml.data.privacy import MIN_LEVEL_CUSTOMERS
from crm_ml.model_names import SALES_FORECAST
from crm_ml.output_files import write_atomic
from crm_ml.pipelines import _cards, _logging

#: ``forecast.freq`` -> the period in words.
PERIOD_NAMES = {"D": "day", "W": "week", "M": "month", "Q": "quarter"}


def _backtest_mase(pyfunc_model) -> float:
    """The backtest MASE a registered forecast version recorded (its metadata, else the
    ``backtest_mase`` metric of the run that logged it)."""
    meta = pyfunc_model.metadata
    value = (meta.metadata or {}).get("backtest_mase")
    if value is None:
        import mlflow

        value = mlflow.get_run(meta.run_id).data.metrics["backtest_mase"]
    return float(value)


#: the group that pools groups of fewer than MIN_LEVEL_CUSTOMERS customers
OTHER = "other"


def pool_rare_groups(tx: pd.DataFrame, by: str, say=print,
                     k: int = MIN_LEVEL_CUSTOMERS) -> pd.DataFrame:
    """``tx`` with each ``by`` group of fewer than ``k`` customers pooled into ``"other"``.

    A per-group forecast of a region with three customers is those customers' spending, and
    the group table goes to MLflow and the output folder; so groups bought from by fewer than
    ``k`` customers (:data:`crm_ml.data.privacy.MIN_LEVEL_CUSTOMERS`) are pooled, and the pool
    itself is left out of the group forecasts (still in the overall series) when it is smaller
    than ``k`` too.
    """
    level = tx[by].astype("string")
    customers = tx.loc[level.notna(), "customer_id"].groupby(level[level.notna()]).nunique()
    rare = customers.index[customers.to_numpy() < k]
    if not len(rare):
        return tx
    pooled = level.isin(list(rare))
    if tx.loc[pooled, "customer_id"].nunique() < k:
        say(f"  forecast: {len(rare)} {by} group(s) with fewer than {k} customers left out of "
            "the per-group forecasts (kept in the overall one)")
        return tx.loc[~pooled]
    say(f"  forecast: {len(rare)} {by} group(s) with fewer than {k} customers pooled into "
        f"{OTHER!r}")
    return tx.assign(**{by: level.where(~pooled, OTHER).astype(object)})


def run(data, context) -> dict:
    """Backtest, fit and forecast revenue; per-group forecasts; card and MLflow run.

    The model and its card go into ``context.plan``: it is registered as
    ``crm-sales-forecast`` (and its card written) by the runner only when every step
    succeeded.

    Returns
    -------
    dict
        Headline numbers: chosen model, backtest MASE vs seasonal naive, total forecast.
    """
    import matplotlib.pyplot as plt

    from crm_ml.forecast import (
        ARIMAForecaster,
        CombinationForecaster,
        backtest,
        forecast_many,
        model_card,
        sales_series,
    )
    from crm_ml.tracking import start_run
    from crm_ml.tracking.autologging import paused

    config = context.config
    fc = config.forecast
    output_dir = Path(context.output_dir)
    tx = data.transactions
    y = sales_series(tx, freq=fc.freq, as_of=data.as_of)
    candidates = {"arima": ARIMAForecaster(engine=fc.engine)}
    if "combination" in fc.models:
        candidates["combination"] = CombinationForecaster(arima_engine=fc.engine)
    with paused():
        bts = {name: backtest(y, h=fc.backtest_h, n_windows=fc.backtest_windows,
                              estimator=est) for name, est in candidates.items()}
        # the lower backtest MASE wins; ARIMA on a tie (or when a MASE is NaN)
        chosen = min(bts, key=lambda k: (not bts[k].metrics["mase"] < float("inf"),
                                         bts[k].metrics["mase"], k != "arima"))
        bt = bts[chosen]
        f = candidates[chosen].fit(y)
    pred = f.predict(fc.h, level=fc.level)
    period = PERIOD_NAMES[fc.freq]
    fig = f.plot(h=fc.h, title=f"Revenue per {period}: {f.model_}")
    groups = None
    if fc.by is not None and fc.by in tx.columns:
        long = sales_series(pool_rare_groups(tx, fc.by, context.say), freq=fc.freq, by=fc.by,
                            as_of=data.as_of)
        with paused():
            groups = forecast_many(long, h=fc.h, n_jobs=1, level=fc.level,
                                   engine=fc.group_engine, show_progress=False)
    elif fc.by is not None:
        context.say(f"  forecast: the transactions have no {fc.by!r} column, so only the "
                    "overall series is forecast")
    with start_run("forecast", run_name="sales-forecast",
                   params={"horizon": fc.h, "by": fc.by},
                   tags={"forecast.series": "revenue overall"}) as run:
        # the model's facts (order, AICc, Ljung-Box...) are logged by the forecast module;
        # the backtest is the pipeline's own (its horizon and windows come from the config)
        logged = _logging.log_forecaster(f, run)
        run.log_metrics({f"backtest_{k}": v for k, v in bt.scores().items()})
        run.log_metrics({f"backtest_{name}_{k}": v for name, b in bts.items()
                         for k, v in b.scores().items() if k in ("mase", "smape", "coverage")})
        run.set_tags({"forecast.model": chosen, "forecast.baseline": bt.baseline})
        run.log_figure(fig, "forecast")
        run.log_table(pred, "forecast_overall")
        if groups is not None:
            run.log_table(groups, f"forecast_by_{fc.by}")
        card = model_card(f, bt, y, period=PERIOD_NAMES[fc.freq], h=fc.h, level=fc.level,
                          by=fc.by, run_id=run.run_id, figure=fig,
                          arima_backtest=bts["arima"])
    _cards.document(card, data, config, ("forecast",))
    # registered, promoted and the card written by the runner once every step has
    # succeeded; champion/challenger on the rolling-origin backtest MASE each version
    # recorded on the revenue series (lower is better)
    context.plan.add(SALES_FORECAST, logged.model_uri, run_id=run.run_id,
                     score_fn=_backtest_mase, higher_is_better=False, card=card)
    plt.close(fig)
    write_atomic(pred, output_dir / "forecast_overall.csv")
    import pandas as pd

    write_atomic(pd.concat([b.windows for b in bts.values()]).drop_duplicates(
        ["origin", "model"]), output_dir / "forecast_backtest.csv", index=False)
    if groups is not None:
        write_atomic(groups, output_dir / f"forecast_by_{fc.by}.csv", index=False)
    return {
        "model": f.model_,
        "chosen": chosen,
        f"{period}s_of_history": len(y),
        "backtest_mase": round(bt.metrics["mase"], 3),
        "arima_backtest_mase": round(bts["arima"].metrics["mase"], 3),
        "baseline": bt.baseline,
        "baseline_mase": round(bt.metrics["baseline_mase"], 3),
        "backtest_coverage95": round(bt.metrics["coverage"], 3),
        f"next_{fc.h}_{period}s_revenue": round(float(pred["forecast"].sum()), 2),
        "groups": int(groups["series_id"].nunique()) if groups is not None else 0,
        "grade": card.grade,
        "registered_version": None,   # filled in by the runner's release
        "promoted": None,
    }
