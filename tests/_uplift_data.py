"""A small simulated randomised campaign with a known uplift per customer (tests only)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def simulated_campaign(n: int = 4000, seed: int = 0, treated_share: float = 0.5):
    """``(X, treated, y, true_uplift)``: customers who buy anyway (x0 high), who respond only
    when treated (x1 > 0), and who are put off (the
    loyal ones, x0 > 1, who would buy anyway); a categorical ``region`` that
    shifts the base rate only."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    region = rng.choice(["north", "south", "east"], size=n)
    base = 1 / (1 + np.exp(-(-1.6 + 1.2 * x[:, 0] + 0.4 * (region == "north"))))
    tau = 0.25 * (x[:, 1] > 0) - 0.15 * (x[:, 0] > 1.0)
    p_treated = np.clip(base + tau, 0.0, 1.0)
    p_control = base
    treated = (rng.random(n) < treated_share).astype(int)
    y = (rng.random(n) < np.where(treated == 1, p_treated, p_control)).astype(int)
    idx = pd.Index([f"c{i:05d}" for i in range(n)], name="customer_id")
    X = pd.DataFrame(x, columns=["x0", "x1", "x2", "x3"], index=idx)
    X["region"] = region
    true = pd.Series(p_treated - p_control, index=idx, name="true_uplift")
    return X, pd.Series(treated, index=idx, name="treated"), pd.Series(y, index=idx, name="y"), true
