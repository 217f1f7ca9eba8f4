"""SHAP explanations of tree models: values, global importance, plots, per-customer reasons."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from crm_ml.explain.reasons import top_reasons

__all__ = ["Explanation", "explain_model", "tree_shap_values"]


@dataclass
class Explanation:
    """SHAP values of a churn model for a set of customers.

    Attributes
    ----------
    shap_values : DataFrame
        Customers x input features (one-hot columns summed back to their input column).
        Row sums plus ``base_value`` equal the explained output.
    base_value : float
        The expected explained output over the training data.
    data : DataFrame
        The explained feature values (input columns).
    output : str
        What the SHAP values are in: ``"log-odds"`` (LightGBM raw score, before calibration)
        or ``"probability"`` (random forest, before calibration).
    reasons : DataFrame
        Per customer: ``churn_probability`` (calibrated) and ``reason_i``, ``feature_i``,
        ``shap_i`` for the top drivers.
    method : str
        ``"lightgbm TreeSHAP"`` (LightGBM's own TreeSHAP, on large inputs run once per
        group of rows that every split treats alike: see
        :mod:`crm_ml.explain.grouped_treeshap`; a random forest is first written as
        LightGBM trees, :mod:`crm_ml.churn.forest_booster`) or ``"shap.TreeExplainer"``.
    """

    shap_values: pd.DataFrame
    base_value: float
    data: pd.DataFrame
    output: str
    reasons: pd.DataFrame
    method: str

    def importance(self) -> pd.DataFrame:
        """Global importance: mean |SHAP| per feature (and mean signed SHAP), largest first."""
        from crm_ml.features.snapshot import describe_feature

        s = self.shap_values
        imp = pd.DataFrame({"mean_abs_shap": s.abs().mean(), "mean_shap": s.mean()})
        imp["description"] = [describe_feature(c) for c in imp.index]
        imp.index.name = "feature"
        return imp.sort_values("mean_abs_shap", ascending=False)

    def plot_importance(self, max_features: int = 15):
        """Bar chart of mean |SHAP| (a matplotlib Figure)."""
        from matplotlib.figure import Figure

        imp = self.importance().head(max_features).iloc[::-1]
        fig = Figure(figsize=(6, 0.3 * len(imp) + 1.2), layout="constrained")
        ax = fig.subplots()
        ax.barh(imp.index, imp["mean_abs_shap"], color="#1f77b4")
        ax.set_xlabel(f"mean |SHAP value| ({self.output})")
        ax.set_title("What drives churn risk (global)")
        return fig

    def plot_beeswarm(self, max_features: int = 15, max_points: int = 5000,
                      random_state: int = 0):
        """Beeswarm: every customer's SHAP value per feature, coloured by the feature value
        (its percentile: blue low, red high). At most ``max_points`` customers are drawn."""
        from matplotlib.figure import Figure

        feats = self.importance().head(max_features).index[::-1]
        s, d = self.shap_values, self.data
        if len(s) > max_points:
            rows = np.random.default_rng(random_state).choice(len(s), max_points, replace=False)
            s, d = s.iloc[rows], d.iloc[rows]
        rng = np.random.default_rng(random_state)
        fig = Figure(figsize=(7, 0.35 * len(feats) + 1.5), layout="constrained")
        ax = fig.subplots()
        sc = None
        for i, f in enumerate(feats):
            x = s[f].to_numpy(dtype=float)
            v = d[f]
            if not pd.api.types.is_numeric_dtype(v):
                v = pd.Series(pd.Categorical(v).codes, index=v.index).where(v.notna())
            colour = v.rank(pct=True).to_numpy(dtype=float)
            # jitter rows more where points are dense
            y = i + rng.uniform(-0.3, 0.3, len(x))
            sc = ax.scatter(x, y, c=colour, cmap="coolwarm", s=6, vmin=0, vmax=1,
                            alpha=0.7, linewidths=0)
        ax.set_yticks(range(len(feats)), feats)
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_xlabel(f"SHAP value ({self.output}); > 0 raises churn risk")
        ax.set_title("SHAP values per customer")
        if sc is not None:
            cb = fig.colorbar(sc, ax=ax, ticks=[0, 1])
            cb.ax.set_yticklabels(["low", "high"])
            cb.set_label("feature value")
        return fig


def tree_shap_values(model, Xe: np.ndarray, method: str = "auto"):
    """TreeSHAP values of a fitted ChurnModel's trees on the encoded matrix ``Xe``.

    The model hands over its trees through its public methods
    (``explainable_trees``, ``probability_from_tree_output``): this package imports nothing
    from :mod:`crm_ml.churn`.

    Returns (values n x encoded-features, base value, output units, method name).
    """
    if method in ("auto", "pred_contrib"):
        from crm_ml.explain.grouped_treeshap import lightgbm_shap_values

        # prediction rows are independent: use every core on big inputs
        threads = 0 if len(Xe) >= 100_000 else 1
        # a random forest comes as LightGBM trees: the same values as shap.TreeExplainer
        booster, inputs, output = model.explainable_trees(Xe)
        vals, base = lightgbm_shap_values(booster, inputs, num_threads=threads)
        return vals, base, output, "lightgbm TreeSHAP"
    import shap

    est = model.booster_ if model.algorithm == "lightgbm" else model.forest_
    explainer = shap.TreeExplainer(est)
    vals = explainer.shap_values(Xe, check_additivity=False)
    base = explainer.expected_value
    if isinstance(vals, list):
        vals = vals[1]
    vals = np.asarray(vals)
    if vals.ndim == 3:
        vals = vals[:, :, 1]
    base = np.atleast_1d(base)
    base = float(base[1] if len(base) > 1 else base[0])
    output = "log-odds" if model.algorithm == "lightgbm" else "probability"
    return vals, base, output, "shap.TreeExplainer"


def explain_model(model, X: pd.DataFrame, top_k: int = 3, method: str = "auto",
                  direction_filter: str = "both") -> Explanation:
    """Explain a fitted :class:`crm_ml.churn.ChurnModel` on ``X`` (see ``ChurnModel.explain``)."""
    pre = model.preprocessor_
    enc = pre.transform(X)
    vals, base, output, used = tree_shap_values(model, enc.to_numpy(dtype=float), method)
    S = pd.DataFrame(vals, index=X.index, columns=pre.feature_names_out_)
    if pre.one_hot and len(pre.feature_names_out_) != len(pre.columns_):
        S = S.T.groupby(pd.Index([pre.origin_[c] for c in S.columns]), sort=False).sum().T
        S = S[pre.columns_]
    # reasons and plots show the levels the model stores: rare ones read "__other__"
    data = pre.stored_levels(X[pre.columns_])
    reasons = top_reasons(S, data, top_k=top_k, direction_filter=direction_filter)
    if used == "lightgbm TreeSHAP":
        # contributions sum to the trees' output: no second pass over the trees
        proba = model.probability_from_tree_output(vals.sum(axis=1) + base)
    else:
        proba = model.predict_proba(X).to_numpy()
    reasons.insert(0, "churn_probability", proba)
    return Explanation(shap_values=S, base_value=base, data=data, output=output,
                       reasons=reasons, method=used)
