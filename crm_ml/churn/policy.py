"""Who to contact: thresholds from the economics of a retention offer or a contact budget."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crm_ml.errors import DataValidationError

__all__ = ["profit_threshold", "contact_rate_threshold", "expected_profit"]


def _positive(name, value, upper=None):
    if value is None or not np.isfinite(value) or value <= 0 or (upper and value > upper):
        rule = f"0 < {name} <= {upper}" if upper else f"{name} > 0"
        raise DataValidationError(f"{name}: must satisfy {rule}, got {value!r}", column=name,
                                  rule=rule)


def profit_threshold(benefit: float, cost: float, success_rate: float) -> float:
    """Churn probability above which a retention offer pays off on average.

    Contacting a customer with churn probability ``p`` costs ``cost`` and keeps them with
    probability ``success_rate`` if they would have churned, which is worth ``benefit``:
    expected profit ``p * success_rate * benefit - cost`` is positive when
    ``p > cost / (success_rate * benefit)``. This assumes calibrated probabilities (the default).
    A threshold above 1 means the offer never pays.
    """
    _positive("benefit", benefit)
    _positive("cost", cost)
    _positive("success_rate", success_rate, upper=1)
    return float(cost / (success_rate * benefit))


def contact_rate_threshold(proba, contact_rate: float) -> float:
    """Threshold that flags the riskiest ``contact_rate`` share of customers."""
    _positive("contact_rate", contact_rate, upper=1)
    p = np.sort(np.asarray(proba, dtype=float))[::-1]
    k = max(int(np.floor(contact_rate * len(p))), 1)
    return float(p[k - 1])


def expected_profit(proba: pd.Series, benefit: float, cost: float,
                    success_rate: float) -> pd.Series:
    """Expected profit of contacting each customer: ``p * success_rate * benefit - cost``."""
    profit_threshold(benefit, cost, success_rate)  # validates the inputs
    out = proba * success_rate * benefit - cost
    return out.rename("expected_profit")
