"""Whom to contact: customers ranked by expected incremental profit, and where to stop.

For customer ``i`` with predicted uplift ``u_i`` (change in the probability to convert, or
to stay, when contacted), value ``v_i`` of one conversion and contact cost ``c_i``::

    expected_profit_i = u_i * v_i - c_i

Value
    ``value`` (one number, or a Series per customer), or ``clv``: the uplift is then read as a
    change in retention and the value at stake is the customer's lifetime value.
Churn probability
    An offer can only keep a customer who would otherwise leave, so with
    ``churn_probability`` ``p_i`` the uplift used is ``min(u_i, p_i)`` (a customer who is
    sure to stay gains nothing from the offer; a negative uplift -- put off by the
    contact -- is kept as it is).
The cut
    Customers sorted by expected profit (highest first); the selected ones are the prefix
    where the cumulative profit is largest (it stops rising at the first non-positive
    profit), or, with ``budget``, the longest such prefix whose cumulative cost fits it.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

from crm_ml.errors import DataValidationError

__all__ = ["targeting"]


def _per_customer(v, index: pd.Index, name: str) -> np.ndarray:
    if isinstance(v, numbers.Real) and not isinstance(v, bool):
        a = np.full(len(index), float(v))
    elif isinstance(v, pd.Series):
        if v.index.has_duplicates:
            dup = v.index[v.index.duplicated()][:5].tolist()
            raise DataValidationError(f"{name}: duplicate customer ids {dup}", column=name,
                                      rule="one value per customer", rows=dup)
        missing = index[~index.isin(v.index)]
        if len(missing):
            raise DataValidationError(f"{name}: no value for customers {missing[:5].tolist()}",
                                      column=name, rule="a value for every customer",
                                      rows=missing[:5].tolist())
        a = pd.to_numeric(v.reindex(index), errors="coerce").to_numpy(dtype=float)
    else:
        raise DataValidationError(f"{name}: a number or a Series indexed by customer_id, got "
                                  f"{type(v).__name__}", column=name, rule="number or Series")
    bad = ~np.isfinite(a)
    if bad.any():
        rows = index[bad][:5].tolist()
        raise DataValidationError(f"{name}: missing or infinite for customers {rows}",
                                  column=name, rule="finite", rows=rows)
    return a


def targeting(uplift: pd.Series, value=None, cost=0.0, *, churn_probability=None, clv=None,
              budget: float | None = None) -> pd.DataFrame:
    """Rank customers by expected incremental profit and mark whom to contact.

    Parameters
    ----------
    uplift : Series
        Predicted uplift per customer (index customer_id), e.g. ``UpliftModel.predict(X)``.
    value : float or Series, optional
        Value of one conversion (or one retained customer). Give ``value`` or ``clv``.
    cost : float or Series, default 0.0
        Cost of one contact (>= 0).
    churn_probability : Series, optional
        Probability to leave without the offer; caps the uplift (see the module docstring).
    clv : Series, optional
        Customer lifetime value: the value at stake when the uplift is a change in retention.
    budget : float, optional
        Most that may be spent on contacts.

    Returns
    -------
    DataFrame
        Indexed by customer_id, best first: ``rank``, ``uplift`` (as given),
        ``uplift_used`` (after the churn cap), ``value``, ``cost``, ``expected_profit``,
        ``cumulative_profit``, ``cumulative_cost``, ``selected``. ``attrs`` hold
        ``n_selected``, ``expected_profit`` (of the selected) and ``rule`` (the cut in words).

    Raises
    ------
    DataValidationError
        Missing/NaN/infinite inputs, a customer without a value, negative cost or budget,
        both or neither of ``value`` and ``clv``.
    """
    if not isinstance(uplift, pd.Series):
        raise DataValidationError("uplift: a Series indexed by customer_id (UpliftModel."
                                  "predict)", column="uplift", rule="Series")
    if uplift.index.has_duplicates:
        dup = uplift.index[uplift.index.duplicated()][:5].tolist()
        raise DataValidationError(f"uplift: duplicate customer ids {dup}", column="uplift",
                                  rule="one value per customer", rows=dup)
    if (value is None) == (clv is None):
        raise DataValidationError("give exactly one of value (per conversion) and clv (the "
                                  "value at stake when the uplift is a change in retention)",
                                  column="value", rule="value or clv")
    idx = uplift.index
    u = _per_customer(uplift, idx, "uplift")
    v = _per_customer(clv if clv is not None else value, idx,
                      "clv" if clv is not None else "value")
    c = _per_customer(cost, idx, "cost")
    if (c < 0).any():
        rows = idx[c < 0][:5].tolist()
        raise DataValidationError(f"cost: negative for customers {rows}", column="cost",
                                  rule=">= 0", rows=rows)
    used = u
    if churn_probability is not None:
        p = _per_customer(churn_probability, idx, "churn_probability")
        if ((p < 0) | (p > 1)).any():
            raise DataValidationError("churn_probability: must lie in [0, 1]",
                                      column="churn_probability", rule="0 <= p <= 1")
        used = np.minimum(u, p)
    if budget is not None and not (np.isfinite(budget) and budget >= 0):
        raise DataValidationError(f"budget: a number >= 0, got {budget!r}", column="budget",
                                  rule=">= 0")
    profit = used * v - c
    out = pd.DataFrame({"uplift": u, "uplift_used": used, "value": v, "cost": c,
                        "expected_profit": profit}, index=idx)
    out = out.iloc[np.argsort(-profit, kind="stable")]
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    out["cumulative_profit"] = out["expected_profit"].cumsum()
    out["cumulative_cost"] = out["cost"].cumsum()
    n = int((out["expected_profit"] > 0).sum())  # sorted: the maximum of the cumulative sum
    rule = "cumulative expected profit is largest"
    if budget is not None:
        within = int((out["cumulative_cost"].to_numpy()[:n] <= budget + 1e-9).sum())
        if within < n:
            n, rule = within, f"cumulative cost within the budget of {budget:g}"
    out["selected"] = out["rank"] <= n
    out.attrs.update(n_selected=n,
                     expected_profit=float(out["expected_profit"].iloc[:n].sum()),
                     rule=f"contact the top {n} by expected profit ({rule})")
    return out
