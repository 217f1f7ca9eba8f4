"""Model card for a fitted :class:`~crm_ml.campaigns.UpliftModel`, graded against response
targeting.

The grade compares Qini coefficients on held-out campaign customers: the uplift model's
ranking against ranking by the response probability P(convert | contacted), the targeting a
marketer would otherwise use (:mod:`crm_ml.cards.grading`). Every sentence on the card is
computed from the numbers beside it (:func:`card_sentences`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crm_ml.campaigns.evaluation import auuc, qini_coefficient
from crm_ml.model_names import UPLIFT

__all__ = ["card_sentences", "model_card"]

BASELINE_RULE = ("rank customers by response probability P(convert | contacted) -- the "
                 "treated arm's model -- instead of by predicted uplift")
#: Share of customers the "top of the list" sentences look at.
TOP_SHARE = 0.3


def _at_share(curve: pd.DataFrame, share: float) -> float:
    """Incremental conversions of a Qini curve at a share targeted (linear between cuts)."""
    return float(np.interp(share, curve["share_targeted"], curve["incremental_conversions"]))


def card_sentences(evaluation, top_share: float = TOP_SHARE) -> dict[str, str]:
    """The card's computed statements, by key (the test recomputes each number).

    Returns
    -------
    dict
        ``top_share`` (incremental conversions in the top share by model vs response vs
        random), ``top_decile`` (observed uplift of the top decile vs overall) and
        ``put_off`` (customers predicted to be put off by the contact).
    """
    e = evaluation
    curves = e.curves
    model = _at_share(curves["model"], top_share)
    total = float(curves["model"]["incremental_conversions"].iloc[-1])
    out = {}
    resp = (f", ranking by response probability {_at_share(curves['response'], top_share):.1f}"
            if "response" in curves else "")
    out["top_share"] = (
        f"Contacting the top {top_share:.0%} of held-out customers by predicted uplift gives "
        f"an estimated {model:.1f} incremental conversions{resp}, random targeting "
        f"{total * top_share:.1f} (all customers: {total:.1f}).")
    top = e.deciles.iloc[0]
    out["top_decile"] = (
        f"The top decile by predicted uplift converted {top['observed_uplift']:+.1%} more when "
        f"contacted than its control group (predicted {top['mean_predicted_uplift']:+.1%}); "
        f"over all held-out customers the contact added {e.observed_uplift:+.1%}.")
    neg = float((e.rows["uplift"] < 0).mean()) if e.rows is not None else float("nan")
    bottom = e.deciles.iloc[-1]
    out["put_off"] = (
        f"{neg:.0%} of held-out customers have a negative predicted uplift (the contact is "
        f"predicted to put them off); the bottom decile's observed uplift is "
        f"{bottom['observed_uplift']:+.1%}.")
    return out


def model_card(model, evaluation, *, true_uplift_spearman: float | None = None,
               name: str = UPLIFT, run_id: str | None = None,
               registered_version: str | None = None, n_boot: int = 200):
    """A :class:`crm_ml.cards.ModelCard` for an uplift model.

    Parameters
    ----------
    model : UpliftModel
        The fitted (production) model.
    evaluation : UpliftEvaluation
        :meth:`UpliftModel.evaluate` on held-out campaign customers (of a model fitted
        without them).
    true_uplift_spearman : float, optional
        Spearman correlation of predicted and true uplift (synthetic data only).
    name, run_id, registered_version : str, optional
    n_boot : int, default 200
        Bootstrap resamples of the metric intervals.

    Returns
    -------
    crm_ml.cards.ModelCard
    """
    from crm_ml.cards import ModelCard, bootstrap_ci

    e = evaluation
    rows = e.rows
    yt = rows[["y", "treated"]].to_numpy()

    def qini(a, s):
        return qini_coefficient(a[:, 0], s, a[:, 1])

    def area(a, s):
        return auuc(a[:, 0], s, a[:, 1])

    def row(metric, fn, score_col, value):
        lo, hi = bootstrap_ci(fn, yt, rows[score_col].to_numpy(), n_boot=n_boot)
        return {"metric": metric, "value": float(value), "ci_low": lo, "ci_high": hi}

    metrics = [row("qini_coefficient (uplift model)", qini, "uplift", e.qini_coefficient),
               row("auuc (uplift model)", area, "uplift", e.auuc)]
    if e.response_qini_coefficient is not None:
        metrics += [row("qini_coefficient (response targeting)", qini, "response",
                        e.response_qini_coefficient),
                    row("auuc (response targeting)", area, "response", e.response_auuc)]
    metrics += [{"metric": "auuc (random targeting, expected)", "value": e.random_auuc,
                 "ci_low": np.nan, "ci_high": np.nan}]
    if true_uplift_spearman is not None:
        metrics.append({"metric": "spearman vs true uplift (synthetic)",
                        "value": float(true_uplift_spearman), "ci_low": np.nan,
                        "ci_high": np.nan})
    sentences = card_sentences(e)
    fig = e.plot()
    cv = ", ".join(f"{m} {v:.3f}" for m, v in model.cv_scores_.items())
    return ModelCard(
        name=name,
        title=f"Campaign uplift ({model.method_.replace('_', '-')} on LightGBM)",
        model_details={"algorithm": f"{model.method_} on LightGBM", "method": model.method,
                       "method_fitted": model.method_,
                       "method_choice": (f"cross-fitted Qini coefficient on {model.cv} folds: "
                                         f"{cv}") if cv else "given",
                       "n_estimators": model.n_estimators, "num_leaves": model.num_leaves,
                       "learning_rate": model.learning_rate,
                       "random_state": model.random_state, "mlflow_run_id": run_id,
                       "registered_version": registered_version},
        intended_use=("Choose whom to contact in a campaign like the one it was trained on: "
                      "rank customers by the change the contact makes in their chance to "
                      "convert (uplift), then by expected incremental profit "
                      "(crm_ml.campaigns.targeting)."),
        out_of_scope=("A different offer, channel or season than the training campaign; "
                      "campaigns without a randomised control group (the effect cannot be "
                      "measured); decisions about individuals with legal or similar effect."),
        data={"customers_fitted": model.n_train_, "customers_held_out": e.n,
              "held_out_treated": e.n_treated, "held_out_control": e.n_control,
              "treated_share_fitted": round(model.treated_share_, 4),
              "label": "converted within the campaign window after contact (1/0)"},
        metrics=pd.DataFrame(metrics),
        baseline={"metric": "Qini coefficient on held-out campaign customers",
                  "model": e.qini_coefficient, "baseline": e.response_qini_coefficient,
                  "baseline_rule": BASELINE_RULE, "higher_is_better": True},
        slices=e.deciles,
        caveats=[sentences["top_share"], sentences["top_decile"], sentences["put_off"],
                 "Uplift is measured against the campaign's control group: it holds only for "
                 "customers, offers and timing like the training campaign's.",
                 "Individual uplift is estimated, never observed; the decile table shows how "
                 "well groups of customers are ranked, not single customers."],
        figures={"qini_curves": fig},
        extra_sections={"Uplift by decile of predicted uplift":
                        e.deciles.to_string(index=False, float_format=lambda v: f"{v:.4g}")},
    )
