"""Clustering-based customer segments: k-means / Gaussian mixture, automatic k, named profiles.

>>> s = cm.segmentation.Segmenter(n_segments="auto").fit(X)   # .labels_, .predict(X), .profile()
"""

from crm_ml.segmentation.features import segmentation_features
from crm_ml.segmentation.naming import segment_names
from crm_ml.segmentation.preprocess import choose_transforms
from crm_ml.segmentation.segmenter import Segmenter

__all__ = ["Segmenter", "choose_transforms", "segment_names", "segmentation_features"]
