"""Average several LightGBM boosters into one booster.

On small tables ChurnModel's final score is the mean of the calibration folds' models and the
refit on all rows (bagging: less variance for the same training). Writing that mean as one
ordinary booster - every tree of every model, leaf values divided by the number of models -
keeps everything downstream unchanged: prediction, saving, MLflow logging and TreeSHAP (SHAP
values are linear in the model, so they are the mean of the models' SHAP values too).
"""

from __future__ import annotations

_SCALED = ("leaf_value", "internal_value")


def _trees(text: str, k: int) -> list[str]:
    """The tree blocks of a LightGBM model text, leaf values divided by ``k``."""
    body = text.split("\nend of trees", 1)[0]
    out = []
    for block in body.split("\nTree=")[1:]:
        lines = block.split("\n")[1:]  # drop the tree's number; the caller renumbers
        for j, line in enumerate(lines):
            key, _, values = line.partition("=")
            if key in _SCALED:
                lines[j] = key + "=" + " ".join(repr(float(v) / k) for v in values.split())
        out.append("\n".join(lines).strip("\n"))
    return out


def average_boosters(boosters):
    """One booster whose raw score is the mean of the given boosters' raw scores.

    Parameters
    ----------
    boosters : list of lightgbm.Booster
        Binary (one tree per iteration) models on the same features. Each contributes the
        iterations it would predict with (its best iteration after early stopping). The last
        booster's header (feature ranges, parameters) is kept: pass the model fitted on all
        rows last.

    Returns
    -------
    lightgbm.Booster
    """
    import lightgbm as lgb

    if not boosters:
        raise ValueError("average_boosters needs at least one booster")
    texts = [b.model_to_string() for b in boosters]
    k = len(texts)
    last = texts[-1]
    header = last.split("\nTree=", 1)[0]
    # tree_sizes lists byte offsets of the original trees; LightGBM parses without it
    header = "\n".join(line for line in header.split("\n")
                       if not line.startswith("tree_sizes="))
    trees = [tree for text in texts for tree in _trees(text, k)]
    tail = last.split("\nend of trees", 1)[1]
    blocks = "".join(f"Tree={i}\n{tree}\n\n\n" for i, tree in enumerate(trees))
    return lgb.Booster(model_str=f"{header.rstrip()}\n\n{blocks}end of trees{tail}")
