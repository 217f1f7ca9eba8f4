"""Model card for a fitted :class:`~crm_ml.segmentation.Segmenter`."""

from __future__ import annotations

import pandas as pd

from crm_ml.model_names import SEGMENTS
from crm_ml.segmentation.naming import naming_text

__all__ = ["build_card", "model_card"]


def model_card(seg, *, holdout_silhouette: float, baseline_silhouette: float,
               truth_ari: float | None = None, n_holdout: int | None = None, as_of=None,
               run_id: str | None = None, registered_version: str | None = None,
               name: str = SEGMENTS):
    """A :class:`crm_ml.cards.ModelCard` for a segmenter.

    Parameters
    ----------
    seg : Segmenter
        Fitted (ideally after :meth:`~Segmenter.stability`).
    holdout_silhouette, baseline_silhouette : float
        Silhouette of the segments and of the baseline (median split of each feature) on
        held-out customers, in the same reference space.
    truth_ari : float, optional
        Adjusted Rand index against known groups (synthetic data only).
    """
    from crm_ml.cards import ModelCard

    prof = seg.profile()
    metrics = [{"metric": "holdout_silhouette", "value": holdout_silhouette,
                "ci_low": None, "ci_high": None},
               {"metric": "fit_silhouette", "value": seg.silhouette_, "ci_low": None,
                "ci_high": None}]
    if getattr(seg, "stability_", None):
        metrics.append({"metric": "bootstrap_stability_ari_mean",
                        "value": seg.stability_["ari_mean"], "ci_low": None, "ci_high": None})
        metrics.append({"metric": "bootstrap_stability_ari_min",
                        "value": seg.stability_["ari_min"], "ci_low": None, "ci_high": None})
    if truth_ari is not None:
        metrics.append({"metric": "ari_vs_true_groups (synthetic)", "value": truth_ari,
                        "ci_low": None, "ci_high": None})
    slices = prof[["name", "size", "share"] + (["revenue_share"] if "revenue_share" in prof
                                               else [])].reset_index()
    figures = {"k_scores": seg.plot_k_scores()}
    if hasattr(seg, "_Z_sample"):  # a loaded segmenter keeps no customer sample to project
        figures = {"segment_projection": seg.plot_projection(), **figures}
    k_text = seg.k_scores_.to_string(index=False)
    sections = {"k search": k_text}  # multi-line: shown preformatted
    if getattr(seg, "name_rules_", None) is not None:
        sections["How segments are named"] = naming_text(seg.name_rules_, prof)
    return ModelCard(
        name=name,
        title="Customer segments (clustering)",
        model_details={"algorithm": f"{seg.method} on skew-aware scaled features",
                       "n_segments": int(seg.n_segments_), "features": seg.features_,
                       "scaling": seg.transforms_, "k_range": list(seg.k_range),
                       "k_criterion": ("silhouette on a sample (max)" if seg.method == "kmeans"
                                       else "BIC on a sample (min)"),
                       "random_state": seg.random_state, "mlflow_run_id": run_id,
                       "registered_version": registered_version},
        intended_use=("Group customers by behaviour for marketing plans and reporting; "
                      "segment names describe each group's median customer in words, each "
                      "word from a threshold shown under 'How segments are named'."),
        out_of_scope=("Not a prediction of future behaviour, churn or value; not for decisions "
                      "about individuals with legal or similar effect. Segment numbers change "
                      "when the model is refitted: join on names/profiles, not numbers."),
        data={"as_of": None if as_of is None else str(pd.Timestamp(as_of).date()),
              "customers_fitted": getattr(seg, "_n_fitted", None), "customers_held_out": n_holdout,
              "features": ", ".join(seg.features_)},
        metrics=pd.DataFrame(metrics),
        baseline={"metric": "holdout silhouette (standardised log features)",
                  "model": holdout_silhouette, "baseline": baseline_silhouette,
                  "baseline_rule": "median split of each feature (2 x 2 rule-based groups)",
                  "higher_is_better": True},
        slices=slices,
        caveats=["Silhouette rewards compact, separated groups; it does not say the groups are "
                 "useful. Review the profiles.",
                 "Refit when the customer base or product mix changes; compare profiles, not "
                 "segment numbers, across refits.",
                 "Customers with one purchase have little history; their purchase rate is "
                 "shrunk towards a low prior, so a segment whose median customer bought once "
                 "is named 'one-time', never by that rate.",
                 "Value words compare each segment's median customer with population "
                 "quantiles: several segments can be 'high value'; a segment's total is its "
                 "revenue share."],
        figures=figures,
        extra_sections=sections,
    )


#: The former name of :func:`model_card`.
build_card = model_card
