"""Champion choice between LightGBM and the random forest, with a bound on explanation cost.

Issue #16: batch scoring explains every customer (TreeSHAP reasons), and that must stay within
2x of the LightGBM candidate's time whichever algorithm wins. Timings are noisy and would make
the choice depend on the machine's load, so the rule reads a cost computed from the fitted
trees instead (:func:`explanation_cost`): same data, same models, same champion.

The cost: path-dependent TreeSHAP (LightGBM's ``pred_contrib``, which both algorithms go
through - the forest as the same trees written as a LightGBM booster - and which the grouped
TreeSHAP of :mod:`crm_ml.explain.grouped_treeshap` runs per decision pattern) walks every node
of every tree and, at each leaf, unwinds the path to it for every feature on it: about
``depth(leaf)^2`` operations per leaf and explained row. So the cost of one row is the sum over
trees and leaves of ``depth(leaf)^2``; rows are the same for both candidates, so the ratio of
two models' costs estimates the ratio of their explain times
(``benchmarks/bench_latency.py`` checks it against measured times).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["EXPLAIN_BUDGET", "ChampionChoice", "choose_champion", "explanation_cost",
           "tree_explanation_cost"]

EXPLAIN_BUDGET = 2.0  # the forest may cost at most this many times LightGBM's explanation


def tree_explanation_cost(booster) -> float:
    """TreeSHAP cost of one row: the sum over trees and leaves of (leaf depth)^2.

    Parameters
    ----------
    booster : lightgbm.Booster

    Returns
    -------
    float
        0 for a booster of single-leaf trees (nothing to explain).
    """
    total = 0
    for tree in booster.dump_model()["tree_info"]:
        stack = [(tree["tree_structure"], 0)]
        while stack:
            node, depth = stack.pop()
            if "split_index" in node:
                stack.append((node["left_child"], depth + 1))
                stack.append((node["right_child"], depth + 1))
            else:
                total += depth * depth
    return float(total)


def explanation_cost(model) -> float:
    """:func:`tree_explanation_cost` of a fitted ChurnModel's trees (the ones it explains with).

    Parameters
    ----------
    model : crm_ml.churn.ChurnModel
        Fitted LightGBM (``booster_``, the averaged booster when bagged) or random forest
        (``forest_booster()``).
    """
    booster = model.booster_ if model.algorithm == "lightgbm" else model.forest_booster()
    return tree_explanation_cost(booster)


@dataclass(frozen=True)
class ChampionChoice:
    """The chosen algorithm and why.

    Attributes
    ----------
    algorithm : str
        ``"lightgbm"`` or ``"random_forest"``.
    model : ChurnModel
        The champion (a refitted shallower forest when that is what won).
    rule : str
        What decided: ``"roc_auc"`` (the better held-out ROC-AUC within the budget),
        ``"explanation budget"`` (the forest scored better but explains too slowly) or
        ``"shallower forest"`` (a shallower forest, within the budget, still scored better).
    reason : str
        One sentence for the card and the run summary.
    comparison : DataFrame
        The held-out metrics with ``explanation_cost_vs_lightgbm`` per algorithm (and the
        shallower forest's row when one was refitted).
    """

    algorithm: str
    model: object
    rule: str
    reason: str
    comparison: pd.DataFrame


def choose_champion(comparison: pd.DataFrame, models: dict, *,
                    budget: float = EXPLAIN_BUDGET,
                    refit_forest: Callable[[int], tuple[object, dict]] | None = None
                    ) -> ChampionChoice:
    """Pick the churn champion: the better held-out ROC-AUC, the forest only within budget.

    The random forest wins only when its held-out ROC-AUC is strictly higher than LightGBM's
    and its :func:`explanation_cost` is at most ``budget`` times LightGBM's. A better forest
    over budget is refitted at each shallower depth of
    :data:`crm_ml.churn.model.FOREST_DEPTHS` (deepest first) when ``refit_forest`` is given;
    the first refit within budget that still beats LightGBM wins, otherwise LightGBM does.
    Nothing is timed: the same models give the same choice.

    Parameters
    ----------
    comparison : DataFrame
        Held-out metrics, index ``algorithm`` (``lightgbm``, ``random_forest``), column
        ``roc_auc``.
    models : dict
        Fitted ChurnModel per algorithm.
    budget : float, default :data:`EXPLAIN_BUDGET`
        Allowed ratio of the forest's explanation cost to LightGBM's.
    refit_forest : callable, optional
        ``refit_forest(max_depth) -> (model, held-out metrics dict with roc_auc)``.

    Returns
    -------
    ChampionChoice
    """
    from crm_ml.churn.model import FOREST_DEPTHS

    table = comparison.copy()
    lgb_cost = explanation_cost(models["lightgbm"])

    def ratio(model) -> float:
        cost = explanation_cost(model)
        return cost / lgb_cost if lgb_cost > 0 else (1.0 if cost == 0 else np.inf)

    lgb_auc = float(table.loc["lightgbm", "roc_auc"])
    forest = models.get("random_forest")
    table["explanation_cost_vs_lightgbm"] = np.nan
    table.loc["lightgbm", "explanation_cost_vs_lightgbm"] = 1.0
    if forest is None:
        return ChampionChoice("lightgbm", models["lightgbm"], "roc_auc",
                              "LightGBM is the only candidate.", table)
    rf_auc = float(table.loc["random_forest", "roc_auc"])
    rf_ratio = ratio(forest)
    table.loc["random_forest", "explanation_cost_vs_lightgbm"] = rf_ratio
    leaf = getattr(forest, "min_samples_leaf_", None)  # None: saved before issue #18
    size = f"depth {forest.max_depth_}" + (f", leaves of >= {leaf} rows" if leaf else "")
    head = f"random forest ({size}) ROC-AUC {rf_auc:.4f} vs LightGBM {lgb_auc:.4f}"
    if rf_auc <= lgb_auc:
        return ChampionChoice("lightgbm", models["lightgbm"], "roc_auc",
                              f"{head}: LightGBM chosen (higher or equal held-out ROC-AUC).",
                              table)
    if rf_ratio <= budget:
        return ChampionChoice("random_forest", forest, "roc_auc",
                              f"{head}, explanation cost {rf_ratio:.2f}x LightGBM's (budget "
                              f"{budget:g}x): random forest chosen.", table)
    over = f"{head}, but its explanation cost is {rf_ratio:.1f}x LightGBM's (budget {budget:g}x)"
    tried = []
    depth = forest.max_depth_
    shallower = sorted((d for d in FOREST_DEPTHS if depth is None or d < depth), reverse=True)
    for d in shallower if refit_forest is not None else []:
        model, metrics = refit_forest(d)
        auc, r = float(metrics["roc_auc"]), ratio(model)
        name = f"random_forest depth {d}"
        table.loc[name] = pd.Series(metrics)
        table.loc[name, "explanation_cost_vs_lightgbm"] = r
        if r <= budget and auc > lgb_auc:
            return ChampionChoice("random_forest", model, "shallower forest",
                                  f"{over}; refitted at depth {d}: ROC-AUC {auc:.4f}, cost "
                                  f"{r:.2f}x: random forest (depth {d}) chosen.", table)
        tried.append(f"depth {d}: ROC-AUC {auc:.4f}, cost {r:.2f}x")
    tail = f" (shallower forest {'; '.join(tried)})" if tried else ""
    return ChampionChoice("lightgbm", models["lightgbm"], "explanation budget",
                          f"{over}{tail}: LightGBM chosen.", table)
