"""RFM pipeline: RFM scores and named segments, plus clustering-based segments (``crm-segments``).

RFM: scores at ``as_of`` with cut points fitted there, segment sizes and value share, and the
migration from ``rfm.migration_days`` earlier (cut points fitted at the earlier date).
Segmentation: :class:`~crm_ml.segmentation.Segmenter` on ``segmentation.features`` fitted on
the customers outside the held-out share (hashed by customer id); the held-out customers are
the data on which champion and challenger are compared (silhouette in a fixed reference space)
and on which the model card's metrics are measured.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from crm_ml.model_names import SEGMENTS
from crm_ml.output_files import write_atomic
from crm_ml.pipelines import _cards, _logging


def holdout_mask(customer_ids: pd.Index, share: float) -> np.ndarray:
    """True for the customers held out of the segmentation fit (about ``share`` of them).

    A hash of the customer id: a stable split, independent of any random stream.
    """
    hashes = pd.util.hash_pandas_object(customer_ids.to_series(), index=False).to_numpy()
    return hashes % 1000 < share * 1000


def _reference_space(X: pd.DataFrame, features) -> np.ndarray:
    """Fixed space for comparing segmentations: standardised log1p of the features."""
    Z = np.log1p(X[list(features)].clip(lower=0).to_numpy(dtype=float))
    sd = Z.std(axis=0)
    return (Z - Z.mean(axis=0)) / np.where(sd > 0, sd, 1.0)


def _silhouette(X: pd.DataFrame, labels, features) -> float:
    from sklearn.metrics import silhouette_score

    labels = np.asarray(labels)
    if len(set(labels)) < 2:
        return float("nan")
    return float(silhouette_score(_reference_space(X, features), labels,
                                  sample_size=min(len(X), 3000), random_state=0))


def _median_split(X: pd.DataFrame, features) -> np.ndarray:
    """Baseline segmentation: above/below the median of each feature (2^k groups)."""
    code = np.zeros(len(X), dtype=int)
    for c in features:
        code = code * 2 + (X[c] > X[c].median()).to_numpy().astype(int)
    return code


def _metric_key(name: str) -> str:
    """``"Can't lose them"`` -> ``"cant_lose_them"`` (MLflow metric names are restricted)."""
    return "".join(c for c in name.lower().replace(" ", "_") if c.isalnum() or c == "_")


def log_rfm(run, scored: pd.DataFrame, scorer, migration: pd.DataFrame | None = None) -> None:
    """Log RFM parameters, cut points, segment sizes/value share and plots (aggregates only)."""
    from crm_ml.rfm.plots import plot_rf_heatmap, plot_segments, segment_summary

    _logging.log_rfm_scorer(scorer, run)
    # the scorer's own parameters name its input columns; these say how the table counted
    run.log_params({"frequency_counts": scored.attrs.get("frequency", "orders"),
                    "monetary_measure": scored.attrs.get("monetary", "mean"),
                    "as_of": scored.attrs.get("as_of"), "n_customers": len(scored)})
    summ = segment_summary(scored)
    key = {k: _metric_key(k) for k in summ.index}
    run.log_metrics({f"segment_share.{key[k]}": v for k, v in summ["customer_share"].items()})
    run.log_metrics({f"value_share.{key[k]}": v for k, v in summ["value_share"].items()})
    run.log_table(summ, "rfm_segment_summary")
    if migration is not None:
        run.log_table(migration, "rfm_migration")
    for name, fig in (("rf_heatmap_counts", plot_rf_heatmap(scored)),
                      ("rf_heatmap_monetary", plot_rf_heatmap(scored, "monetary")),
                      ("segment_sizes_value", plot_segments(scored))):
        run.log_figure(fig, name)
        plt.close(fig)


def run(data, context) -> dict:
    """RFM + segments on ``data``; adds ``crm-segments`` and its card to ``context.plan``.

    The model is registered (and its card written under ``context.models_dir``) by the
    runner, only when every step succeeded.
    """
    from sklearn.metrics import adjusted_rand_score

    from crm_ml.rfm import RFMScorer, migration_table, rfm_table, segment_summary
    from crm_ml.segmentation import Segmenter, model_card, segmentation_features
    from crm_ml.tracking import start_run
    from crm_ml.tracking.autologging import paused

    config = context.config
    rc, sc = config.rfm, config.segmentation
    features = list(sc.features)
    output_dir = Path(context.output_dir)
    tx, as_of = data.transactions, pd.Timestamp(data.as_of)

    # --- RFM -------------------------------------------------------------------------
    before_day = as_of - pd.Timedelta(days=rc.migration_days)
    rfm_now, rfm_before = rfm_table(tx, as_of), rfm_table(tx, before_day)
    with paused():
        scorer = RFMScorer(bins=rc.bins).fit(rfm_now)
        old_scorer = RFMScorer(bins=rc.bins).fit(rfm_before)
    scored = scorer.transform(rfm_now)
    migration = migration_table(old_scorer.transform(rfm_before),
                                old_scorer.transform(rfm_now))
    summ = segment_summary(scored)
    with start_run("rfm", run_name="rfm-scores", data=tx) as rfm_run:
        log_rfm(rfm_run, scored, scorer, migration)
        rfm_run.log_dict({"rfm": config.to_dict()["rfm"]}, "config.json")
    write_atomic(
        scored.drop(columns=[c for c in scored.columns if c.startswith("lt_")]),
        output_dir / "rfm_scores.csv")
    write_atomic(summ, output_dir / "rfm_segment_summary.csv")
    write_atomic(migration, output_dir / "rfm_migration.csv")

    # --- clustering-based segments -------------------------------------------------------
    X = segmentation_features(tx, as_of)
    hold = holdout_mask(X.index, sc.holdout_share)
    X_fit, X_hold = X[~hold], X[hold]
    with paused():
        seg = Segmenter(n_segments=sc.n_segments, features=features, k_range=sc.k_range,
                        random_state=sc.random_state).fit(X_fit)
        stab = seg.stability(X_fit, n_boot=sc.stability_boots)
    hold_labels = seg.predict(X_hold)
    hold_sil = _silhouette(X_hold, hold_labels, features)
    base_sil = _silhouette(X_hold, _median_split(X_hold, features), features)
    truth_ari = None
    if getattr(data, "truth", None) is not None and "group" in data.truth:
        truth_ari = float(adjusted_rand_score(data.truth.loc[X_hold.index, "group"],
                                              hold_labels))

    def score_fn(pyfunc_model) -> float:
        out = pyfunc_model.predict(X_hold[features])
        return _silhouette(X_hold, out["segment"].to_numpy(), features)

    with start_run("segmentation", run_name=SEGMENTS, data=tx) as run:
        logged = _logging.log_segments(seg, run)
        run.log_metrics({"holdout_silhouette": hold_sil, "baseline_holdout_silhouette": base_sil,
                         **({"holdout_ari_vs_true_groups": truth_ari} if truth_ari is not None
                            else {})})
        card = model_card(seg, holdout_silhouette=hold_sil, baseline_silhouette=base_sil,
                          truth_ari=truth_ari, n_holdout=int(hold.sum()), as_of=as_of,
                          run_id=run.run_id, name=SEGMENTS)
    _cards.document(card, data, config, ("segmentation",))
    # registered, promoted and the card written by the runner once every step has succeeded
    context.plan.add(SEGMENTS, logged.model_uri, run_id=run.run_id, score_fn=score_fn,
                     higher_is_better=True, card=card)
    labels = pd.concat([seg.labels_, hold_labels]).loc[X.index]
    write_atomic(
        pd.DataFrame({"segment": labels, "segment_name": labels.map(seg.names_)}),
        output_dir / "segments.csv")
    write_atomic(seg.profile(), output_dir / "segment_profile.csv")
    top = summ.sort_values("value_share", ascending=False).head(3)
    return {
        "customers": int(len(scored)),
        "rfm_top_segments_by_value": {k: f"{v['customer_share']:.0%} of customers, "
                                         f"{v['value_share']:.0%} of value"
                                      for k, v in top.iterrows()},
        "champions": int((scored["segment"] == "Champions").sum()),
        "k": int(seg.n_segments_),
        "segments": {int(k): v for k, v in seg.names_.items()},
        "holdout_silhouette": round(hold_sil, 3),
        "baseline_silhouette": round(base_sil, 3),
        "stability_ari": round(stab["ari_mean"], 3),
        "ari_vs_true_groups": None if truth_ari is None else round(truth_ari, 3),
        "grade": card.grade,
        "promoted": None,             # filled in by the runner's release
        "registered_version": None,
    }
