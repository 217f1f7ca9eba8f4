"""SHAP explanations: global importance and per-customer reasons in plain words."""

from crm_ml.explain.explanation import Explanation, explain_model, tree_shap_values
from crm_ml.explain.reasons import direction, phrases, top_reasons

__all__ = ["Explanation", "direction", "explain_model", "phrases", "top_reasons",
           "tree_shap_values"]
