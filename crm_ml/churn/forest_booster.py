"""A fitted scikit-learn random forest written as one LightGBM booster (same predictions).

Why: scikit-learn scores a forest tree by tree in Python, through a joblib thread pool that it
starts afresh on every call when ``n_jobs > 1`` - most of a one-customer call's time - and
``shap.TreeExplainer`` explains it one row at a time on one core. Written as LightGBM trees,
the forest scores in LightGBM's C++ predictor and is explained by LightGBM's TreeSHAP and the
project's grouped TreeSHAP (:mod:`crm_ml.explain.grouped_treeshap`), like the LightGBM model.

The translation is exact:

* every tree becomes one LightGBM tree with the same splits; its leaves hold the tree's
  class-1 probability divided by the number of trees, so the booster's raw score is the
  forest's ``predict_proba(X)[:, 1]`` (up to the order of the floating-point sum);
* scikit-learn compares ``float32(x) <= threshold``: :func:`forest_input` rounds the input to
  float32 first, so values between two float32 numbers go the same way;
* missing values (NaN) follow scikit-learn's ``missing_go_to_left`` of each node (LightGBM
  missing type "NaN" with that default direction);
* node covers (what path-dependent TreeSHAP weighs the branches by) are scikit-learn's
  ``weighted_n_node_samples`` - what ``shap.TreeExplainer`` uses - scaled to integers (LightGBM
  stores counts as integers; only their ratios matter, kept to about 1e-6).
"""

from __future__ import annotations

import numpy as np

__all__ = ["forest_input", "forest_to_booster"]

_DECISION_NAN_RIGHT = 2 << 2  # numerical split, missing type NaN (LightGBM's decision_type bits)
_DEFAULT_LEFT = 1 << 1
_COVER_SCALE = 1e9  # the root's cover after scaling (int32 holds up to 2.1e9)


def forest_input(X: np.ndarray) -> np.ndarray:
    """``X`` rounded to float32 and back: the values scikit-learn's trees compare."""
    return np.asarray(X, dtype=np.float32).astype(np.float64)


def _fmt(values) -> str:
    return " ".join(repr(float(v)) for v in values)


def _ints(values) -> str:
    return " ".join(str(int(v)) for v in values)


def _tree_block(tree, n_trees: int, positive: int) -> str:
    """One sklearn ``Tree`` as the body of a LightGBM ``Tree=`` block."""
    left, right = tree.children_left, tree.children_right
    value = tree.value[:, 0, :]
    proba = value[:, positive] / value.sum(axis=1)
    cover = tree.weighted_n_node_samples
    scale = _COVER_SCALE / max(float(cover[0]), 1e-12)
    counts = np.maximum(np.rint(cover * scale), 1)
    is_leaf = left < 0
    if is_leaf[0]:  # a tree that never split: one leaf
        return f"num_leaves=1\nnum_cat=0\nshrinkage=1\nleaf_value={float(proba[0]) / n_trees!r}\n"
    internal = np.flatnonzero(~is_leaf)
    leaves = np.flatnonzero(is_leaf)
    new_id = np.empty(len(left), dtype=np.int64)
    new_id[internal] = np.arange(len(internal))
    new_id[leaves] = ~np.arange(len(leaves))  # LightGBM refers to leaf i as ~i
    go_left = getattr(tree, "missing_go_to_left", np.zeros(len(left), dtype=bool))
    decision = _DECISION_NAN_RIGHT | np.where(go_left[internal].astype(bool), _DEFAULT_LEFT, 0)
    lines = [
        f"num_leaves={len(leaves)}",
        "num_cat=0",
        f"split_feature={_ints(tree.feature[internal])}",
        f"split_gain={_fmt(tree.impurity[internal])}",
        f"threshold={_fmt(tree.threshold[internal])}",
        f"decision_type={_ints(decision)}",
        f"left_child={_ints(new_id[left[internal]])}",
        f"right_child={_ints(new_id[right[internal]])}",
        f"leaf_value={_fmt(proba[leaves] / n_trees)}",
        f"leaf_weight={_fmt(counts[leaves])}",
        f"leaf_count={_ints(counts[leaves])}",
        f"internal_value={_fmt(proba[internal] / n_trees)}",
        f"internal_weight={_fmt(counts[internal])}",
        f"internal_count={_ints(counts[internal])}",
        "is_linear=0",
        "shrinkage=1",
    ]
    return "\n".join(lines) + "\n"


def forest_to_booster(forest):
    """A LightGBM booster whose raw score is ``forest.predict_proba(X)[:, 1]``.

    Parameters
    ----------
    forest : sklearn.ensemble.RandomForestClassifier
        Fitted on two classes with numeric features. Score with
        ``booster.predict(forest_input(X), raw_score=True)``.

    Returns
    -------
    lightgbm.Booster
    """
    import lightgbm as lgb

    if len(forest.classes_) != 2:
        raise ValueError("forest_to_booster: only two-class forests are supported")
    n_features = int(forest.n_features_in_)
    trees = [est.tree_ for est in forest.estimators_]
    header = "\n".join([
        "tree", "version=v4", "num_class=1", "num_tree_per_iteration=1", "label_index=0",
        f"max_feature_idx={n_features - 1}", "objective=regression",
        "feature_names=" + " ".join(f"f{i}" for i in range(n_features)),
        "feature_infos=" + " ".join(["none"] * n_features),
    ])
    blocks = "".join(f"Tree={i}\n{_tree_block(tree, len(trees), 1)}\n\n"
                     for i, tree in enumerate(trees))
    return lgb.Booster(model_str=f"{header}\n\n{blocks}end of trees\n\nparameters:\n"
                                 "end of parameters\n")
