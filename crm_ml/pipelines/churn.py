"""Churn pipeline: the configured algorithms compared on a later period, champion/challenger.

Timeline (``as_of`` is the training day, h = ``churn.horizon_days``, g = ``churn.holdout``):
train on features at ``as_of - h - g`` with labels in the next h days; evaluate every
algorithm on features at ``as_of - h`` with labels up to ``as_of`` (a later period, never
seen); the better one is registered (by the runner, once every step succeeded) as
:data:`~crm_ml.model_names.CHURN` challenger and promoted to champion when it beats the current champion on that
held-out period; finally every customer is scored at ``as_of`` with reasons, and the
probabilities are handed to the CLV step for the value at risk.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd

from crm_ml.data.privacy import PersonalDataWarning
from crm_ml.model_names import CHURN
from crm_ml.output_files import write_atomic
from crm_ml.pipelines import _cards, _logging

METRICS = ("roc_auc", "pr_auc", "brier", "log_loss", "lift_top_decile")


def pyfunc_input(X: pd.DataFrame) -> pd.DataFrame:
    """A feature table as the :data:`~crm_ml.model_names.CHURN` pyfunc model takes it (customer_id a column,
    categories as objects with None for missing)."""
    df = X.reset_index()
    cats = df.select_dtypes("category").columns
    df[cats] = df[cats].astype(object).where(df[cats].notna(), None)
    return df


def snapshots(as_of, config) -> tuple[pd.Timestamp, pd.Timestamp]:
    """(training snapshot, test snapshot) of the churn timeline for ``config.churn``."""
    c = config.churn
    t_test = pd.Timestamp(as_of) - pd.Timedelta(days=c.horizon_days)
    return t_test - pd.Timedelta(days=c.holdout), t_test


def run(data, context) -> dict:
    """Fit and compare, build the card, write the scores; return headline numbers.

    The better model and its card go into ``context.plan``: it is registered as
    :data:`~crm_ml.model_names.CHURN` (and its card written) by the runner only when every step succeeded.
    """
    from sklearn.metrics import roc_auc_score

    from crm_ml.churn.card import model_card
    from crm_ml.churn.champion import ChampionChoice, choose_champion
    from crm_ml.churn.labels import make_labels
    from crm_ml.churn.model import ChurnModel
    from crm_ml.features.snapshot import build
    from crm_ml.tracking import start_run
    from crm_ml.tracking.autologging import paused

    config = context.config
    cc = config.churn
    h = cc.horizon_days
    output_dir = Path(context.output_dir)
    t_train, t_test = snapshots(data.as_of, config)
    tx, it, cu = data.transactions, data.interactions, data.customers
    # customer columns the user vouches for although they look like identifiers
    allow = list(getattr(data, "allow_columns", None) or ()) or None
    X = build(tx, t_train, it, cu, allow_columns=allow)
    y = make_labels(tx, t_train, h).reindex(X.index)
    with warnings.catch_warnings():  # the same columns as above: warned about once
        warnings.simplefilter("ignore", PersonalDataWarning)
        Xt = build(tx, t_test, it, cu, allow_columns=allow)
        X_now = build(tx, data.as_of, it, cu, allow_columns=allow)
    yt = make_labels(tx, t_test, h).reindex(Xt.index)

    def fit(alg: str, **params):
        with warnings.catch_warnings(), paused():
            warnings.simplefilter("ignore")
            warnings.simplefilter("default", PersonalDataWarning)  # a dropped column: say so
            m = ChurnModel(algorithm=alg, cv=cc.cv, random_state=cc.random_state,
                           n_estimators=cc.n_estimators if alg == "random_forest" else None,
                           allow_columns=allow, **params).fit(X, y)
        ev = m.evaluate(Xt, yt, plots=False)
        return m, {k: ev[k] for k in METRICS}

    models, rows = {}, {}
    for alg in cc.algorithms:
        models[alg], rows[alg] = fit(alg)
    comparison = pd.DataFrame(rows).T
    comparison.index.name = "algorithm"

    if "lightgbm" in models:
        # the better held-out ROC-AUC; a forest only within 2x of LightGBM's explanation cost
        choice = choose_champion(comparison, models,
                                 refit_forest=lambda depth: fit("random_forest",
                                                                params={"max_depth": depth}))
    else:
        choice = ChampionChoice("random_forest", models["random_forest"], "roc_auc",
                                "The random forest is the only algorithm configured.",
                                comparison)
    best_alg, best, comparison = choice.algorithm, choice.model, choice.comparison

    held_out = pyfunc_input(Xt)

    def score(pyfunc_model) -> float:
        # an older champion may see held-out customers beyond its training range: score
        # them with a warning rather than fail the comparison
        out = pyfunc_model.unwrap_python_model().predict(None, held_out,
                                                         params={"range_check": "warn"})
        return roc_auc_score(yt.to_numpy(), out["churn_probability"].to_numpy())

    # explain: LightGBM is cheap on everyone; a random forest on a sample
    sample = Xt if best_alg == "lightgbm" else \
        Xt.sample(min(len(Xt), cc.explain_sample), random_state=0)
    expl = best.explain(sample)
    card = model_card(best, Xt, yt, horizon_days=h, explanation=expl,
                      comparison=comparison, name=CHURN, data={
                          "train_as_of": str(t_train.date()), "test_as_of": str(t_test.date()),
                          "label": f"no purchase in the {h} days after as_of",
                          "train_customers": len(X), "test_customers": len(Xt),
                          "train_churn_rate": round(float(y.mean()), 4),
                          "test_churn_rate": round(float(yt.mean()), 4)})
    card.extra_sections["Champion choice"] = choice.reason
    _cards.document(card, data, config, ("churn",))
    with start_run("churn", run_name=f"churn-{best_alg}", data=X) as run:
        logged = _logging.log_churn(best, run)
        run.log_metrics({f"holdout_{k}": float(v)
                         for k, v in comparison.loc[best_alg, list(METRICS)].items()})
        run.log_table(comparison.reset_index(), "algorithm_comparison")
        card.model_details["mlflow_run_id"] = run.run_id
    # registered, promoted and the card written by the runner once every step has succeeded
    context.plan.add(CHURN, logged.model_uri, run_id=run.run_id, score_fn=score,
                     higher_is_better=True, card=card)

    # score everyone at as_of with reasons
    reasons = best.explain(X_now).reasons if best_alg == "lightgbm" else \
        best.predict_proba(X_now).to_frame()
    context.shared["churn_probability"] = reasons["churn_probability"]
    write_atomic(reasons, output_dir / "churn_scores.csv")
    return {
        "champion_algorithm": best_alg,
        "champion_rule": choice.reason,
        **{f"roc_auc_{alg}": round(float(comparison.loc[alg, "roc_auc"]), 4)
           for alg in cc.algorithms},
        "recency_rule_roc_auc": round(float(card.baseline["baseline"]), 4),
        "grade": card.grade,
        "brier": round(float(comparison.loc[best_alg, "brier"]), 4),
        "promoted": None,             # filled in by the runner's release
        "registered_version": None,
        "customers_scored": len(X_now),
        "high_risk_customers": int((reasons["churn_probability"] >= 0.5).sum()),
    }
