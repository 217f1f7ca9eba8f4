"""Demo step: monthly revenue forecast of the built-in data, overall and per region."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from crm_ml.data.quality import card_row_policies
from crm_ml.output_files import write_atomic

CARD_NAME = "crm-sales-forecast"
HORIZON = 12          # months forecast ahead
BACKTEST_H = 6        # months per backtest window
BACKTEST_WINDOWS = 2


def _card(f, bt, y, run_id, fig):
    from crm_ml.cards import ModelCard

    m = bt.metrics
    metrics = pd.DataFrame([
        {"metric": "MASE (backtest)", "value": m["mase"]},
        {"metric": "sMAPE % (backtest)", "value": m["smape"]},
        {"metric": "95% interval coverage (backtest)", "value": m["coverage"]},
        {"metric": "seasonal naive MASE", "value": m["snaive_mase"]},
        {"metric": "seasonal naive sMAPE %", "value": m["snaive_smape"]},
    ]).assign(ci_low=np.nan, ci_high=np.nan)
    s = f.summary()
    return ModelCard(
        name=CARD_NAME,
        title="Monthly revenue forecast (automatic seasonal ARIMA)",
        model_details={"algorithm": "auto.arima (statsforecast) via crm_ml ARIMAForecaster",
                       "model": s["model"], "order": str(s["order"]),
                       "seasonal_order": str(s["seasonal_order"]), "aicc": s["aicc"],
                       "transform": s["transform"], "mlflow_run_id": run_id},
        intended_use="Planning next quarters' revenue: a point forecast with 80%/95% "
                     "intervals per month, overall and per region.",
        out_of_scope="Per-customer predictions (see CLV); horizons beyond one year; months "
                     "with known one-off events not given as exogenous regressors.",
        data={"series": "net monthly revenue (returns subtracted), zero-filled",
              "start": str(y.index[0].date()), "end": str(y.index[-1].date()),
              "months": len(y)},
        metrics=metrics,
        baseline={"metric": "MASE", "model": m["mase"], "baseline": m["snaive_mase"],
                  "baseline_rule": "seasonal naive: each month repeats the same month of "
                                   "the previous year", "higher_is_better": False},
        caveats=[f"Backtest: {BACKTEST_WINDOWS} rolling origins of {BACKTEST_H} months; "
                 "few windows, so metrics are noisy.",
                 "A half-observed final month is dropped before fitting.",
                 "Refit monthly; check the Ljung-Box p-value (residual autocorrelation)."],
        figures={"forecast": fig},
    )


def run(ds, output_dir: Path, models_dir: Path, plan) -> dict:
    """Backtest, fit and forecast monthly revenue; per-region forecasts; card and MLflow run.

    The model and its card go into ``plan``, the pipeline's
    :class:`~crm_ml.tracking.release.ReleasePlan`: it is registered as ``crm-sales-forecast``
    (and its card written under ``models_dir``) only when every step succeeded.

    Returns
    -------
    dict
        Headline numbers: chosen model, backtest MASE vs seasonal naive, next-12-month total.
    """
    import matplotlib.pyplot as plt

    from crm_ml.forecast import ARIMAForecaster, backtest, forecast_many, sales_series
    from crm_ml.forecast.pyfunc import ForecastPyfunc, forecast_signature, save_forecaster
    from crm_ml.tracking import log_pyfunc_model, start_run

    output_dir, models_dir = Path(output_dir), Path(models_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    tx = ds.transactions
    y = sales_series(tx, freq="M", as_of=ds.as_of)
    bt = backtest(y, h=BACKTEST_H, n_windows=BACKTEST_WINDOWS)
    f = ARIMAForecaster(track=False).fit(y)
    pred = f.predict(HORIZON, level=(80, 95))
    fig = f.plot(h=HORIZON, title=f"Monthly revenue: {f.model_}")
    regions = None
    if "region" in tx.columns:
        long = sales_series(tx, freq="M", by="region", as_of=ds.as_of)
        regions = forecast_many(long, h=HORIZON, n_jobs=1, show_progress=False, track=False)
    s = f.summary()
    with start_run("forecast", run_name="forecast-demo",
                   params={"model": s["model"], "order": s["order"],
                           "seasonal_order": s["seasonal_order"], "transform": s["transform"],
                           "horizon": HORIZON, "freq": "M"},
                   tags={"forecast.series": "revenue overall"}) as run:
        lb = s["ljung_box"]
        run.log_metrics({"aicc": s["aicc"], **{f"backtest_{k}": v
                                               for k, v in bt.metrics.items()}})
        if len(lb):
            run.log_metrics({"ljung_box_pvalue": float(lb["lb_pvalue"].iloc[-1])})
        run.log_figure(fig, "forecast")
        run.log_table(pred, "forecast_overall")
        if regions is not None:
            run.log_table(regions, "forecast_by_region")
        with tempfile.TemporaryDirectory() as tmp:
            path = save_forecaster(f, Path(tmp) / "forecaster.json")
            logged = log_pyfunc_model(
                run, ForecastPyfunc(), artifacts={"forecaster": str(path)},
                input_example=pd.DataFrame({"h": [3], "level": [80]}),
                signature=forecast_signature(),
                metadata={"backtest_mase": bt.metrics["mase"], "model": s["model"]})
        card = _card(f, bt, y, run.run_id, fig)
    card.data.update(card_row_policies(ds))
    # registered, promoted and the card written by the pipeline once every step has
    # succeeded; champion/challenger on the rolling-origin backtest MASE each version
    # recorded on the revenue series (lower is better)
    plan.add(CARD_NAME, logged.model_uri, run_id=run.run_id,
             score_fn=lambda pm: float(pm.metadata.metadata["backtest_mase"]),
             higher_is_better=False, card=card)
    plt.close(fig)
    write_atomic(pred, output_dir / "forecast_overall.csv")
    write_atomic(bt.windows, output_dir / "forecast_backtest.csv", index=False)
    if regions is not None:
        write_atomic(regions, output_dir / "forecast_by_region.csv", index=False)
    return {
        "model": f.model_,
        "months_of_history": len(y),
        "backtest_mase": round(bt.metrics["mase"], 3),
        "seasonal_naive_mase": round(bt.metrics["snaive_mase"], 3),
        "backtest_coverage95": round(bt.metrics["coverage"], 3),
        "next_12m_revenue": round(float(pred["forecast"].sum()), 2),
        "regions": int(regions["series_id"].nunique()) if regions is not None else 0,
        "grade": card.grade,
        "registered_version": None,   # filled in by the pipeline's release
        "promoted": None,
    }
