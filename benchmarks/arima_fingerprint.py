"""Bit patterns of the ARIMA engines' default forecasts on a few series, for refactors.

A change that must not alter forecasts (moving code, deleting unused options) is checked by
writing the fingerprint before and after it and comparing:

    python benchmarks/arima_fingerprint.py before.json   # on the old commit
    python benchmarks/arima_fingerprint.py after.json    # on the new one
    python benchmarks/arima_fingerprint.py --compare before.json after.json

Covers the fast engine (default, stepwise, approximation, transform="auto", one model),
the bagged engine, a model with a regressor and auto_arima's coefficients, on six simulated
monthly series and two statsmodels datasets (monthly and quarterly). Issue #17's engine
move and option deletion: 64 of 64 identical.
"""

from __future__ import annotations

import json
import os
import sys
import warnings

import numpy as np
import pandas as pd

os.environ.setdefault("CRM_ML_TRACKING", "0")
warnings.filterwarnings("ignore")

CONFIGS = {"fast": dict(engine="fast"), "fast_stepwise": dict(engine="fast", stepwise=True),
           "fast_approx": dict(engine="fast", approximation=True),
           "fast_auto": dict(engine="fast", transform="auto"),
           "fast_n1": dict(engine="fast", n_averaged=1),
           "bagged": dict(engine="bagged", n_bagged=4)}


def series() -> list[pd.Series]:
    out = []
    for seed in range(6):
        rng = np.random.default_rng(seed)
        n = 60 + 12 * seed
        t = np.arange(n)
        y = (100 + 0.5 * t + 10 * np.sin(2 * np.pi * t / 12 + seed)
             + np.cumsum(rng.normal(0, 2, n)))
        out.append(pd.Series(y, index=pd.date_range("2015-01-01", periods=n, freq="MS")))
    from statsmodels.datasets import elec_equip, macrodata

    w = elec_equip.load_pandas().data.iloc[:, 0].to_numpy(dtype=float)
    out.append(pd.Series(w, index=pd.date_range("1996-01-01", periods=len(w), freq="MS")))
    a = macrodata.load_pandas().data["realcons"].to_numpy(dtype=float)
    out.append(pd.Series(a, index=pd.date_range("1959-01-01", periods=len(a), freq="QS")))
    return out


def fingerprint() -> dict:
    from crm_ml.forecast import ARIMAForecaster
    from crm_ml.forecast.arima.fast import auto_arima

    res = {}
    for i, y in enumerate(series()):
        for name, kw in CONFIGS.items():
            f = ARIMAForecaster(**kw).fit(y)
            p = f.predict(12, level=(80, 95)).to_numpy().ravel()
            res[f"{i}/{name}"] = {"model": f.model_, "values": [v.hex() for v in p]}
        X = pd.DataFrame({"promo": (np.arange(len(y)) % 5 == 0).astype(float)}, index=y.index)
        f = ARIMAForecaster(engine="fast").fit(y, X)
        Xf = pd.DataFrame({"promo": (np.arange(6) % 2).astype(float)})
        p = f.predict(6, X_future=Xf).to_numpy().ravel()
        res[f"{i}/fast_X"] = {"model": f.model_, "values": [v.hex() for v in p]}
        fit = auto_arima(y.to_numpy(), 4 if y.index.freqstr.startswith("Q") else 12)
        res[f"{i}/auto_arima"] = {"model": f"{fit.order}{fit.seasonal}",
                                  "values": [float(v).hex() for v in fit.coef]}
    return res


def compare(before: str, after: str) -> int:
    a, b = (json.loads(open(p).read()) for p in (before, after))
    differ = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
    print(f"{len(a)} results, {len(differ)} differ" + (f": {differ}" if differ else ""))
    return 1 if differ else 0


if __name__ == "__main__":
    if sys.argv[1] == "--compare":
        sys.exit(compare(sys.argv[2], sys.argv[3]))
    with open(sys.argv[1], "w") as fh:
        json.dump(fingerprint(), fh, indent=0)
