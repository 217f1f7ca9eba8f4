"""The hybrid CLV: purchase-model outputs and RFM facts feed a gradient-boosted spend model.

A probabilistic CLV (BG/NBD-type purchase model + Gamma-Gamma) extrapolates well in time but
ranks customers only through frequency, recency and mean repeat spend. The hybrid keeps those
outputs and learns, with LightGBM (Tweedie loss, many zero spenders), how they and the plain
RFM facts map to the spend of the next ``window`` days.

Training (inside :meth:`crm_ml.clv.CLVModel.fit`, history on or before ``as_of`` only), with
``t1 = as_of - window`` and ``t2 = t1 - window``:

- the purchase and spend models are refitted at ``t1`` (and ``t2``); their outputs over one
  window plus the summary facts at that date are the features (:func:`features`), the label
  is each customer's spend in the following window (ending at ``t1`` or ``as_of``);
- **selection**: a booster trained on ``(features at t2, spend in (t2, t1])`` ranks the spend
  in ``(t1, as_of]`` from the features at ``t1``; the probabilistic value over the same window
  (expected purchases x expected spend of the model fitted at ``t1``) ranks it too. The hybrid
  is used when its normalised Gini is at least the probabilistic one's;
- the production booster is trained on both windows (features at ``t2`` and ``t1``).

Prediction at ``as_of`` for a horizon of ``H`` periods: the booster's spend over one window,
spread over time like the purchase model's expected purchases,
``value(H) = booster_W * E[X(H)] / E[X(W)]`` (discounted the same way when a discount rate is
given), so the ranking comes from the booster and the horizon shape from the purchase model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: features of the spend booster, all computable from a purchase summary and a fitted model
FEATURES = ["frequency", "recency", "T", "periods_since_last", "monetary_value",
            "spend_rate", "expected_purchases", "p_alive", "expected_value",
            "expected_window_value", "mean_spend_all", "expected_window_value_all"]
#: summary columns the hybrid needs beyond frequency/recency/T/monetary_value
EXTRA_COLUMNS = ["total_spend"]
#: small, strongly regularised trees: one spend window of a few thousand customers is noisy
#: (chosen on the CDNOW sample, CDNOW master and the built-in data; see
#: benchmarks/bench_clv_quality.py)
BOOSTER_PARAMS = {"objective": "tweedie", "n_estimators": 100, "learning_rate": 0.05,
                  "num_leaves": 7, "min_child_samples": 100, "verbose": -1,
                  "deterministic": True, "force_row_wise": True}


def features(purchase: pd.DataFrame, summary: pd.DataFrame, unit_days: float) -> pd.DataFrame:
    """The booster's feature table.

    Parameters
    ----------
    purchase : DataFrame
        :meth:`CLVModel.predict` (probabilistic) for one window: expected_purchases, p_alive,
        expected_value.
    summary : DataFrame
        The purchase summary (frequency, recency, T, monetary_value, total_spend).
    unit_days : float
        Days per model period.

    Returns
    -------
    DataFrame
        :data:`FEATURES`, index as ``summary``.
    """
    s = summary
    T = s["T"].astype(float)
    out = pd.DataFrame({
        "frequency": s["frequency"].astype(float),
        "recency": s["recency"].astype(float),
        "T": T,
        "periods_since_last": T - s["recency"].astype(float),
        "monetary_value": s["monetary_value"].astype(float),
        # past spend per day (the naive baseline's rate), first purchase included
        "spend_rate": s["total_spend"].astype(float).clip(lower=0) / (T * unit_days + 1.0),
        "expected_purchases": purchase["expected_purchases"].to_numpy(),
        "p_alive": purchase["p_alive"].to_numpy(),
        "expected_value": purchase["expected_value"].to_numpy(),
    }, index=s.index)
    out["expected_window_value"] = out["expected_purchases"] * out["expected_value"]
    # mean spend per purchase day over all purchases, the first included (Gamma-Gamma sees
    # repeat purchases only, so a one-time buyer's own spend never reaches its estimate)
    out["mean_spend_all"] = (s["total_spend"].astype(float).clip(lower=0)
                             / (s["frequency"].astype(float) + 1.0))
    out["expected_window_value_all"] = out["expected_purchases"] * out["mean_spend_all"]
    return out[FEATURES]


def window_spend(tx: pd.DataFrame, start: pd.Timestamp, days: int,
                 customers: pd.Index) -> np.ndarray:
    """Spend per customer in ``(start, start + days]`` of policy-filtered transactions."""
    from crm_ml.data.windows import future

    hold = future(tx, start, days)
    spend = hold.groupby(hold["customer_id"].astype(str), observed=True)["amount"].sum()
    return spend.reindex(pd.Index(customers).astype(str)).fillna(0.0).to_numpy(dtype=float)


def fit_booster(X: pd.DataFrame, y: np.ndarray, random_state: int):
    """LightGBM Tweedie regression of window spend on :data:`FEATURES`."""
    import lightgbm as lgb

    m = lgb.LGBMRegressor(**BOOSTER_PARAMS, random_state=random_state, n_jobs=1)
    m.fit(X, np.clip(y, 0.0, None))
    return m.booster_


def predict_booster(booster, X: pd.DataFrame) -> np.ndarray:
    """Non-negative window spend from a fitted booster."""
    return np.clip(np.asarray(booster.predict(X[FEATURES]), dtype=float), 0.0, None)
