"""Value at risk: which valuable customers are slipping away."""

from __future__ import annotations

import warnings

import pandas as pd

from crm_ml.errors import DataValidationError


def value_at_risk(clv, churn_probability, top: int | None = None) -> pd.DataFrame:
    """Rank customers by ``value_at_risk = clv x churn_probability``.

    Parameters
    ----------
    clv : Series or DataFrame
        CLV per customer (a Series, or the output of :meth:`CLVModel.predict`, whose ``clv``
        column is used and ``clv_tier``/``p_alive`` carried along), index customer_id.
    churn_probability : Series or DataFrame
        Churn probability per customer (0..1), index customer_id: a Series (e.g.
        :meth:`crm_ml.churn.ChurnModel.predict_proba`) or a DataFrame with a
        ``churn_probability`` column or a single column (e.g. :func:`crm_ml.predict_churn`).
        Customers present in only one input are dropped with a warning.
    top : int, optional
        Keep only the first ``top`` rows.

    Returns
    -------
    DataFrame
        Index customer_id, sorted by value_at_risk (highest first): clv, churn_probability,
        value_at_risk, rank (1 = act first), cumulative_share (share of the total value at
        risk covered by this customer and all ranked above), plus clv_tier/p_alive if given.

    Raises
    ------
    DataValidationError
        Probabilities outside [0, 1] or missing, a customer id repeated in either input, or
        no customer id common to both inputs (e.g. integer ids against "C000001").
    """
    if isinstance(clv, pd.DataFrame):
        if "clv" not in clv.columns:
            raise DataValidationError("clv: DataFrame input needs a 'clv' column",
                                      column="clv", rule="required column")
        extra = clv[[c for c in ("clv_tier", "p_alive") if c in clv.columns]]
        clv = clv["clv"]
    else:
        extra = None
    if isinstance(churn_probability, pd.DataFrame):
        cols = list(churn_probability.columns)
        if "churn_probability" in cols:
            churn_probability = churn_probability["churn_probability"]
        elif len(cols) == 1:
            churn_probability = churn_probability[cols[0]]
        else:
            raise DataValidationError(
                f"churn_probability: a DataFrame needs a 'churn_probability' column or a single "
                f"column, got {cols[:10]}", column="churn_probability", rule="required column")
    churn = pd.Series(churn_probability, dtype=float)
    bad = churn[(churn < 0) | (churn > 1) | churn.isna()]
    if len(bad):
        raise DataValidationError("churn_probability: must be within [0, 1]",
                                  column="churn_probability", rule="0 <= p <= 1",
                                  rows=bad.head(5))
    clv = pd.Series(clv, dtype=float)
    clv.index = clv.index.astype(str)
    churn.index = churn.index.astype(str)
    for name, s in (("clv", clv), ("churn_probability", churn)):
        dup = s.index[s.index.duplicated()].unique()
        if len(dup):
            raise DataValidationError(
                f"{name}: customer ids must be unique, {len(dup)} repeated: {list(dup[:5])}",
                column=name, rule="unique customer_id", rows=list(dup[:5]))
    common = clv.index.intersection(churn.index)
    if len(common) == 0 and (len(clv) or len(churn)):
        raise DataValidationError(
            f"churn_probability: no customer id in common with clv (clv ids e.g. "
            f"{list(clv.index[:3])}, churn_probability ids e.g. {list(churn.index[:3])}); "
            "both must be indexed by the same customer_id", column="churn_probability",
            rule="customer ids overlap", rows=list(churn.index[:5]))
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
