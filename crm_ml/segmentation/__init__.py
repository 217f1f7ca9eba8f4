"""Clustering-based customer segments: k-means / Gaussian mixture, automatic k, named profiles.

>>> s = cm.segmentation.Segmenter(n_segments="auto").fit(X)   # .labels_, .predict(X), .profile()
>>> cm.segmentation.log_model(s)                                 # MLflow: aggregates + pyfunc
>>> cm.segmentation.model_card(s, holdout_silhouette=..., baseline_silhouette=...)
"""

from crm_ml.segmentation.card import build_card, model_card
from crm_ml.segmentation.features import segmentation_features
from crm_ml.segmentation.naming import segment_names
from crm_ml.segmentation.preprocess import choose_transforms
from crm_ml.segmentation.segmenter import Segmenter
from crm_ml.segmentation.tracking import log_model

__all__ = ["Segmenter", "build_card", "choose_transforms", "log_model", "model_card",
           "segment_names", "segmentation_features"]
