"""Campaigns pipeline: campaign summary, uplift model graded against response targeting,
targeting list.

Runs when the data carry campaign contacts (``data.contacts``: ``crm-ml train --contacts``;
the built-in data's ``campaigns``), else it is skipped with one line. Steps: the per-campaign
summary (:func:`crm_ml.campaigns.campaign_summary`) is written to
``campaign_summary.csv``; on the chosen campaign (``campaigns.campaign_id``, default the
largest with a control group) :func:`crm_ml.campaigns.uplift_frame` gives one row per
contacted or control customer; an :class:`~crm_ml.campaigns.UpliftModel` is fitted on
``1 - test_share`` of them and evaluated on the rest (Qini coefficient against response
targeting: the card's grade), then refitted on all of them, logged, carded and added to the
release plan as ``crm-uplift``. Every customer is then scored from features at ``as_of`` and
ranked by expected incremental profit (:func:`crm_ml.campaigns.targeting`) into
``uplift_targeting.csv``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from crm_ml.model_names import UPLIFT
from crm_ml.output_files import write_atomic
from crm_ml.pipelines import _cards

#: Tables this step writes (when contacts are given).
TABLES = ("campaign_summary.csv", "uplift_targeting.csv")


def contacts_of(data) -> pd.DataFrame | None:
    """The campaign contacts of ``data`` (``contacts``, or a built-in dataset's
    ``campaigns``), or None."""
    for name in ("contacts", "campaigns"):
        frame = getattr(data, name, None)
        if isinstance(frame, pd.DataFrame) and len(frame):
            return frame
    return None


def choose_campaign(contacts: pd.DataFrame, campaign_id=None):
    """``campaign_id`` if given, else the campaign with a control group and the most contacts.

    Raises
    ------
    DataValidationError
        The given campaign is unknown, or no campaign has both a treated and a control group.
    """
    from crm_ml.errors import DataValidationError

    arms = contacts.groupby("campaign_id")["treated"].agg(["size", "sum"])
    if campaign_id is not None:
        if campaign_id not in arms.index:
            raise DataValidationError(f"campaigns.campaign_id: no campaign {campaign_id!r} in "
                                      f"the contacts (known: {arms.index.tolist()[:10]})",
                                      column="campaign_id", rule="known campaign")
        return campaign_id
    ok = arms[(arms["sum"] > 0) & (arms["sum"] < arms["size"])]
    if ok.empty:
        raise DataValidationError("contacts: no campaign has a control group (treated = 0), so "
                                  "no uplift can be learnt", column="treated",
                                  rule="a campaign with both arms")
    return ok["size"].idxmax()


def _default_value(tx: pd.DataFrame, as_of: pd.Timestamp) -> float:
    """Mean order value (positive amounts) in the year before as_of."""
    recent = tx[(tx["timestamp"] <= as_of) & (tx["timestamp"] > as_of - pd.Timedelta(days=365))
                & (tx["amount"] > 0)]
    if "order_id" in recent.columns:
        recent = recent.groupby("order_id")["amount"].sum()
    else:
        recent = recent["amount"]
    return float(recent.mean()) if len(recent) else 1.0


def run(data, context) -> dict:
    """Fit, evaluate and document the uplift model on ``data``'s campaign contacts.

    The model is registered (and its card written) by the runner only when every step
    succeeded. Without contacts nothing is fitted or written.
    """
    contacts = contacts_of(data)
    if contacts is None:
        context.say("  campaigns: no campaign contacts given (crm-ml train --contacts), "
                    "skipped")
        return {"skipped": "no campaign contacts"}
    from sklearn.model_selection import train_test_split

    from crm_ml.campaigns import (
        UpliftModel,
        campaign_summary,
        log_model,
        model_card,
        targeting,
        uplift_frame,
    )
    from crm_ml.campaigns.evaluation import qini_coefficient
    from crm_ml.features import build
    from crm_ml.tracking import start_run
    from crm_ml.tracking.autologging import paused

    cc = context.config.campaigns
    output_dir = Path(context.output_dir)
    tx, as_of = data.transactions, pd.Timestamp(data.as_of)
    inter, cust = getattr(data, "interactions", None), getattr(data, "customers", None)
    summary = campaign_summary(contacts, tx, window_days=cc.window_days)
    write_atomic(summary, output_dir / "campaign_summary.csv")
    cid = choose_campaign(contacts, cc.campaign_id)
    X, treated, y = uplift_frame(contacts, tx, interactions=inter, customers=cust,
                                 campaign_id=cid, window_days=cc.window_days)
    strata = 2 * np.asarray(treated) + np.asarray(y)
    if np.bincount(strata, minlength=4).min() < 2:  # a rare outcome in one arm
        strata = np.asarray(treated)
    train, test = train_test_split(np.arange(len(X)), test_size=cc.test_share,
                                   random_state=cc.random_state, stratify=strata)
    params = {"method": cc.method, "random_state": cc.random_state}
    with paused():
        held = UpliftModel(**params).fit(X.iloc[train], treated.iloc[train], y.iloc[train])
        evaluation = held.evaluate(X.iloc[test], treated.iloc[test], y.iloc[test])
        model = UpliftModel(**params).fit(X, treated, y)
    truth = getattr(data, "truth", None)
    rho = None
    if truth is not None and "true_uplift" in truth:
        true = truth["true_uplift"].reindex(X.index[test])
        pred = held.predict(X.iloc[test])
        ok = true.notna().to_numpy()
        if ok.sum() > 2:
            rho = float(pred[ok].rank().corr(true[ok].rank()))
    X_test, t_test, y_test = X.iloc[test], treated.iloc[test].to_numpy(), y.iloc[test].to_numpy()

    def score_fn(pyfunc_model) -> float:
        wrapper = pyfunc_model.unwrap_python_model()
        frame = X_test.reset_index(drop=True)
        # a champion trained on other inputs (e.g. with interactions) is compared on what this
        # data holds: its features missing here are unknown (NaN), which LightGBM handles
        absent = [c for c in wrapper.model.encoder_.columns_ if c not in frame.columns]
        if absent:
            context.say(f"  campaigns: the registered model uses {len(absent)} feature(s) "
                        f"this data lacks ({', '.join(absent[:5])}); it is compared with "
                        "them unknown")
            frame = frame.assign(**dict.fromkeys(absent, np.nan))
        # an older champion may see customers beyond its training range: score them with a
        # warning rather than fail the comparison
        out = wrapper.predict(None, frame, params={"range_check": "warn"})
        return qini_coefficient(y_test, out["uplift"].to_numpy(), t_test)

    with start_run("campaigns", run_name="uplift-model", data=X) as run:
        logged = log_model(model, run=run, evaluation=evaluation)
        run.log_metrics({"holdout_true_uplift_spearman": rho} if rho is not None else {})
        card = model_card(model, evaluation, true_uplift_spearman=rho, run_id=run.run_id)
    card.data["campaign_id"] = str(cid)
    card.data["window_days"] = cc.window_days
    card.data["evaluation"] = (f"held-out metrics: a model fitted on {len(train)} of the "
                               f"campaign's customers scored the other {len(test)}; the "
                               f"registered model is refitted on all {len(X)}")
    _cards.document(card, data, context.config, ("campaigns",))
    context.plan.add(UPLIFT, logged.model_uri, run_id=run.run_id, score_fn=score_fn,
                     higher_is_better=True, card=card)

    now = build(tx, as_of, inter, cust)
    uplift = model.predict(now)
    camp = contacts[contacts["campaign_id"] == cid]
    cost = cc.cost if cc.cost is not None else (
        float(camp["cost"].mean()) if "cost" in camp and camp["cost"].notna().any() else 0.0)
    value = cc.value if cc.value is not None else _default_value(tx, as_of)
    ranked = targeting(uplift, value=value, cost=cost)
    write_atomic(ranked, output_dir / "uplift_targeting.csv")
    return {
        "campaign": str(cid),
        "customers": int(len(X)),
        "method": model.method_,
        "holdout_qini": round(float(evaluation.qini_coefficient), 3),
        "response_qini": round(float(evaluation.response_qini_coefficient), 3),
        "holdout_true_uplift_spearman": None if rho is None else round(rho, 3),
        "to_contact": int(ranked.attrs["n_selected"]),
        "expected_incremental_profit": round(float(ranked.attrs["expected_profit"]), 2),
        "grade": card.grade,
        "promoted": None,             # filled in by the runner's release
        "registered_version": None,
    }
