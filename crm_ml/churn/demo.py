"""Demo step: churn on the built-in data, LightGBM vs random forest, champion/challenger.

Timeline (``ds.as_of`` is the last day of data, h = 90 days):
train on features at ``as_of - 2h`` with labels in the next h days; evaluate both algorithms
on features at ``as_of - h`` with labels up to ``as_of`` (a later period, never seen); the
better one is registered (by the pipeline, once every step succeeded) as ``crm-churn``
challenger and promoted to champion when it beats the current champion on that held-out
period; finally every customer is scored at ``as_of`` with reasons.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd

from crm_ml.data.privacy import PersonalDataWarning
from crm_ml.data.quality import card_row_policies
from crm_ml.output_files import write_atomic

HORIZON = 90
REGISTERED_NAME = "crm-churn"


def _pyfunc_input(X: pd.DataFrame) -> pd.DataFrame:
    df = X.reset_index()
    cats = df.select_dtypes("category").columns
    df[cats] = df[cats].astype(object).where(df[cats].notna(), None)
    return df


def run(ds, output_dir: Path, models_dir: Path, plan) -> dict:
    """Fit and compare, build the card, write the scores; return headline numbers.

    The better model and its card go into ``plan``, the pipeline's
    :class:`~crm_ml.tracking.release.ReleasePlan`: it is registered as ``crm-churn`` (and its
    card written under ``models_dir``) only when every step succeeded.
    """
    from sklearn.metrics import roc_auc_score

    from crm_ml.churn.card import churn_card
    from crm_ml.churn.champion import choose_champion
    from crm_ml.churn.labels import make_labels
    from crm_ml.churn.model import ChurnModel
    from crm_ml.features.snapshot import build

    output_dir, models_dir = Path(output_dir), Path(models_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    t_train = ds.as_of - pd.Timedelta(days=2 * HORIZON)
    t_test = ds.as_of - pd.Timedelta(days=HORIZON)
    tx, it, cu = ds.transactions, ds.interactions, ds.customers
    # customer columns the user vouches for although they look like identifiers
    allow = list(getattr(ds, "allow_columns", None) or ()) or None
    X = build(tx, t_train, it, cu, allow_columns=allow)
    y = make_labels(tx, t_train, HORIZON).reindex(X.index)
    with warnings.catch_warnings():  # the same columns as above: warned about once
        warnings.simplefilter("ignore", PersonalDataWarning)
        Xt = build(tx, t_test, it, cu, allow_columns=allow)
        X_now = build(tx, ds.as_of, it, cu, allow_columns=allow)
    yt = make_labels(tx, t_test, HORIZON).reindex(Xt.index)

    models, rows = {}, {}
    for alg in ("lightgbm", "random_forest"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            warnings.simplefilter("default", PersonalDataWarning)  # a dropped column: say so
            # 3 calibration folds and a 100-tree forest keep the demo step well under a minute
            m = ChurnModel(alg, cv=3, n_estimators=100 if alg == "random_forest" else None,
                           allow_columns=allow)
            m.fit(X, y)
        ev = m.evaluate(Xt, yt, plots=False)
        models[alg] = m
        rows[alg] = {k: ev[k] for k in ("roc_auc", "pr_auc", "brier", "log_loss",
                                        "lift_top_decile")}
    comparison = pd.DataFrame(rows).T
    comparison.index.name = "algorithm"

    def refit_forest(depth: int):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = ChurnModel("random_forest", cv=3, n_estimators=100, allow_columns=allow,
                           params={"max_depth": depth}).fit(X, y)
        ev = m.evaluate(Xt, yt, plots=False)
        return m, {k: ev[k] for k in comparison.columns}

    # the better held-out ROC-AUC; a forest only within 2x of LightGBM's explanation cost
    choice = choose_champion(comparison, models, refit_forest=refit_forest)
    best_alg, best, comparison = choice.algorithm, choice.model, choice.comparison

    held_out = _pyfunc_input(Xt)

    def score(pyfunc_model) -> float:
        # an older champion may see held-out customers beyond its training range: score
        # them with a warning rather than fail the comparison
        out = pyfunc_model.unwrap_python_model().predict(None, held_out,
                                                         params={"range_check": "warn"})
        return roc_auc_score(yt.to_numpy(), out["churn_probability"].to_numpy())

    # explain: LightGBM is cheap on everyone; a random forest on a sample
    sample = Xt if best_alg == "lightgbm" else Xt.sample(min(len(Xt), 400), random_state=0)
    expl = best.explain(sample)
    card = churn_card(best, Xt, yt, horizon_days=HORIZON, explanation=expl,
                      comparison=comparison, name=REGISTERED_NAME, data={
                          "source": "crm_ml built-in synthetic data",
                          "train_as_of": str(t_train.date()), "test_as_of": str(t_test.date()),
                          "label": f"no purchase in the {HORIZON} days after as_of",
                          "train_customers": len(X), "test_customers": len(Xt),
                          "train_churn_rate": round(float(y.mean()), 4),
                          "test_churn_rate": round(float(yt.mean()), 4)})
    card.extra_sections["Champion choice"] = choice.reason
    card.data.update(card_row_policies(ds))
    # registered, promoted and the card written by the pipeline once every step has succeeded
    plan.add(REGISTERED_NAME, best.model_uri_, run_id=best.run_id_, score_fn=score,
             higher_is_better=True, card=card)

    # score everyone at as_of with reasons
    reasons = best.explain(X_now).reasons if best_alg == "lightgbm" else \
        best.predict_proba(X_now).to_frame()
    write_atomic(reasons, output_dir / "churn_scores.csv")
    return {
        "champion_algorithm": best_alg,
        "champion_rule": choice.reason,
        "roc_auc_lightgbm": round(float(comparison.loc["lightgbm", "roc_auc"]), 4),
        "roc_auc_random_forest": round(float(comparison.loc["random_forest", "roc_auc"]), 4),
        "recency_rule_roc_auc": round(float(card.baseline["baseline"]), 4),
        "grade": card.grade,
        "brier": round(float(comparison.loc[best_alg, "brier"]), 4),
        "promoted": None,             # filled in by the pipeline's release
        "registered_version": None,
        "customers_scored": len(X_now),
        "high_risk_customers": int((reasons["churn_probability"] >= 0.5).sum()),
    }
