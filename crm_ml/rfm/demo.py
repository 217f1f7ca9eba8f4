"""Demo step: RFM scores and named segments, plus clustering-based segments (``crm-segments``).

RFM: scores at ``ds.as_of`` with cut points fitted there, segment sizes and value share, and
the migration from 90 days earlier (cut points fitted at the earlier date). Segmentation:
:class:`~crm_ml.segmentation.Segmenter` on behavioural features (purchase rate while active,
mean order value) fitted on 80 % of the customers; the other 20 % are the held-out data on
which champion and challenger are compared (silhouette in a fixed reference space) and on which
the model card's metrics are measured.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from crm_ml.data.quality import card_row_policies
from crm_ml.output_files import write_atomic

REGISTERED_NAME = "crm-segments"
FEATURES = ["purchase_rate", "monetary"]
MIGRATION_DAYS = 90
HOLDOUT_SHARE = 0.2
K_RANGE = (2, 8)  # numbers of segments the segmentation chooses from


def holdout_mask(customer_ids: pd.Index) -> np.ndarray:
    """True for the customers held out of the segmentation fit (about ``HOLDOUT_SHARE``).

    A hash of the customer id: a stable split, independent of any random stream.
    """
    hashes = pd.util.hash_pandas_object(customer_ids.to_series(), index=False).to_numpy()
    return hashes % 1000 < HOLDOUT_SHARE * 1000


def _reference_space(X: pd.DataFrame) -> np.ndarray:
    """Fixed space for comparing segmentations: standardised log1p of the features."""
    Z = np.log1p(X[FEATURES].clip(lower=0).to_numpy(dtype=float))
    return (Z - Z.mean(axis=0)) / np.where(Z.std(axis=0) > 0, Z.std(axis=0), 1.0)


def _silhouette(X: pd.DataFrame, labels) -> float:
    from sklearn.metrics import silhouette_score

    labels = np.asarray(labels)
    if len(set(labels)) < 2:
        return float("nan")
    return float(silhouette_score(_reference_space(X), labels,
                                  sample_size=min(len(X), 3000), random_state=0))


def _median_split(X: pd.DataFrame) -> np.ndarray:
    """Baseline segmentation: above/below the median of each feature (2 x 2 groups)."""
    bits = [(X[c] > X[c].median()).to_numpy().astype(int) for c in FEATURES]
    return bits[0] * 2 + bits[1]


def _metric_key(name: str) -> str:
    """``"Can't lose them"`` -> ``"cant_lose_them"`` (MLflow metric names are restricted)."""
    return "".join(c for c in name.lower().replace(" ", "_") if c.isalnum() or c == "_")


def log_rfm(run, scored: pd.DataFrame, scorer, migration: pd.DataFrame | None = None) -> None:
    """Log RFM parameters, cut points, segment sizes/value share and plots (aggregates only)."""
    from crm_ml.rfm.plots import plot_rf_heatmap, plot_segments, segment_summary

    run.log_params({"bins": scorer.bins, "frequency": scored.attrs.get("frequency", "orders"),
                    "monetary": scored.attrs.get("monetary", "mean"),
                    "as_of": scored.attrs.get("as_of"), "n_customers": len(scored)})
    summ = segment_summary(scored)
    key = {k: _metric_key(k) for k in summ.index}
    run.log_metrics({f"segment_share.{key[k]}": v for k, v in summ["customer_share"].items()})
    run.log_metrics({f"value_share.{key[k]}": v for k, v in summ["value_share"].items()})
    run.log_table(summ, "rfm_segment_summary")
    run.log_table(scorer.edges_table(), "rfm_cut_points")
    run.log_dict(scorer.to_dict(), "rfm_scorer.json")
    if migration is not None:
        run.log_table(migration, "rfm_migration")
    for name, fig in (("rf_heatmap_counts", plot_rf_heatmap(scored)),
                      ("rf_heatmap_monetary", plot_rf_heatmap(scored, "monetary")),
                      ("segment_sizes_value", plot_segments(scored))):
        run.log_figure(fig, name)
        plt.close(fig)


def run(ds, output_dir: Path, models_dir: Path, plan) -> dict:
    """RFM + segments on dataset ``ds``; adds ``crm-segments`` and its card to ``plan``.

    ``plan`` is the pipeline's :class:`~crm_ml.tracking.release.ReleasePlan`: the model is
    registered (and its card written under ``models_dir``) only when every step succeeded.
    """
    from sklearn.metrics import adjusted_rand_score

    from crm_ml.rfm import RFMScorer, migration_table, rfm_table, segment_summary
    from crm_ml.segmentation import Segmenter, segmentation_features
    from crm_ml.segmentation.card import build_card
    from crm_ml.tracking import start_run

    output_dir, models_dir = Path(output_dir), Path(models_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    tx, as_of = ds.transactions, pd.Timestamp(ds.as_of)

    # --- RFM -------------------------------------------------------------------------
    before_day = as_of - pd.Timedelta(days=MIGRATION_DAYS)
    rfm_now, rfm_before = rfm_table(tx, as_of), rfm_table(tx, before_day)
    scorer = RFMScorer().fit(rfm_now)
    scored = scorer.transform(rfm_now)
    old_scorer = RFMScorer().fit(rfm_before)
    migration = migration_table(old_scorer.transform(rfm_before),
                                old_scorer.transform(rfm_now))
    summ = segment_summary(scored)
    with start_run("rfm", run_name="rfm-scores", data=tx) as run:
        log_rfm(run, scored, scorer, migration)
    write_atomic(
        scored.drop(columns=[c for c in scored.columns if c.startswith("lt_")]),
        output_dir / "rfm_scores.csv")
    write_atomic(summ, output_dir / "rfm_segment_summary.csv")
    write_atomic(migration, output_dir / "rfm_migration.csv")

    # --- clustering-based segments -------------------------------------------------------
    X = segmentation_features(tx, as_of)
    hold = holdout_mask(X.index)
    X_fit, X_hold = X[~hold], X[hold]
    seg = Segmenter(features=FEATURES, k_range=K_RANGE, track=False, random_state=0).fit(X_fit)
    stab = seg.stability(X_fit, n_boot=5)
    hold_labels = seg.predict(X_hold)
    hold_sil = _silhouette(X_hold, hold_labels)
    base_sil = _silhouette(X_hold, _median_split(X_hold))
    truth_ari = None
    if getattr(ds, "truth", None) is not None and "group" in ds.truth:
        truth_ari = float(adjusted_rand_score(ds.truth.loc[X_hold.index, "group"], hold_labels))

    def score_fn(pyfunc_model) -> float:
        out = pyfunc_model.predict(X_hold[FEATURES])
        return _silhouette(X_hold, out["segment"].to_numpy())

    with start_run("segmentation", run_name="crm-segments", data=tx) as run:
        seg.log_to(run)
        run.log_metrics({"holdout_silhouette": hold_sil, "baseline_holdout_silhouette": base_sil,
                         **({"holdout_ari_vs_true_groups": truth_ari} if truth_ari is not None
                            else {})})
        logged = seg.log_model(run, registered_name=None)
        card = build_card(seg, holdout_silhouette=hold_sil, baseline_silhouette=base_sil,
                          truth_ari=truth_ari, n_holdout=int(hold.sum()), as_of=as_of,
                          run_id=run.run_id)
    card.data.update(card_row_policies(ds))
    # registered, promoted and the card written by the pipeline once every step has succeeded
    plan.add(REGISTERED_NAME, logged.model_uri, run_id=run.run_id, score_fn=score_fn,
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
        "promoted": None,             # filled in by the pipeline's release
        "registered_version": None,
    }
