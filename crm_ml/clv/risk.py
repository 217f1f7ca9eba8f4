"""Value at risk: which valuable customers are slipping away."""

from __future__ import annotations

import warnings

import pandas as pd

from crm_ml.errors import DataValidationError


def value_at_risk(clv, churn_probability: pd.Series, top: int | None = None) -> pd.DataFrame:
    """Rank customers by ``value_at_risk = clv x churn_probability``.

    Parameters
    ----------
    clv : Series or DataFrame
        CLV per customer (a Series, or the output of :meth:`CLVModel.predict`, whose ``clv``
        column is used and ``clv_tier``/``p_alive`` carried along), index customer_id.
    churn_probability : Series
        Churn probability per customer (0..1), index customer_id, e.g. from the churn
        model. Customers present in only one input are dropped with a warning.
    top : int, optional
        Keep only the first ``top`` rows.

    Returns
    -------
    DataFrame
        Index customer_id, sorted by value_at_risk (highest first): clv, churn_probability,
        value_at_risk, rank (1 = act first), cumulative_share (share of the total value at
        risk covered by this customer and all ranked above), plus clv_tier/p_alive if given.
    """
    if isinstance(clv, pd.DataFrame):
        if "clv" not in clv.columns:
            raise DataValidationError("clv: DataFrame input needs a 'clv' column",
                                      column="clv", rule="required column")
        extra = clv[[c for c in ("clv_tier", "p_alive") if c in clv.columns]]
        clv = clv["clv"]
    else:
        extra = None
    churn = pd.Series(churn_probability, dtype=float)
    bad = churn[(churn < 0) | (churn > 1) | churn.isna()]
    if len(bad):
        raise DataValidationError("churn_probability: must be within [0, 1]",
                                  column="churn_probability", rule="0 <= p <= 1",
                                  rows=bad.head(5))
    clv = pd.Series(clv, dtype=float)
    clv.index = clv.index.astype(str)
    churn.index = churn.index.astype(str)
    common = clv.index.intersection(churn.index)
    n_drop = len(clv.index.union(churn.index)) - len(common)
    if n_drop:
        warnings.warn(f"value_at_risk: {n_drop} customers appear in only one of clv and "
                      "churn_probability and are left out", UserWarning, stacklevel=2)
    out = pd.DataFrame({"clv": clv.loc[common], "churn_probability": churn.loc[common]})
    out["value_at_risk"] = out["clv"] * out["churn_probability"]
    if extra is not None:
        extra = extra.copy()
        extra.index = extra.index.astype(str)
        out = out.join(extra)
    out = out.sort_values(["value_at_risk", "clv"], ascending=False, kind="mergesort")
    out["rank"] = range(1, len(out) + 1)
    total = out["value_at_risk"].sum()
    out["cumulative_share"] = out["value_at_risk"].cumsum() / total if total > 0 else 0.0
    out.index.name = "customer_id"
    return out.head(top) if top is not None else out
