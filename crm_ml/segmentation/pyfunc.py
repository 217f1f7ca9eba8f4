"""The ``crm-segments`` pyfunc model: customer feature table in, segment and name out.

Fitted state lives in native files: the scaling + clustering pipeline in skops
(``pipeline.skops``, loaded with the allow-list of :func:`crm_ml.tracking.load_sklearn`) and
the feature list, label map and names in JSON (``spec.json``).
"""

from __future__ import annotations

import mlflow.pyfunc
import numpy as np
import pandas as pd

from crm_ml.features.ranges import check_inputs, load_input_ranges
from crm_ml.segmentation.preprocess import feature_matrix


class SegmentsModel(mlflow.pyfunc.PythonModel):
    """Stateless wrapper; ``predict`` returns ``segment`` (int) and ``segment_name`` (str).

    A missing, non-numeric or NaN/None/infinite feature, a negative duration or count, or
    (``params`` ``range_check``, default ``"refuse"``) a value far outside the training range
    raises :class:`~crm_ml.errors.DataValidationError` naming the column and rows
    (:mod:`crm_ml.features.ranges`).
    """

    def load_context(self, context):
        from crm_ml.tracking.serialization import load_json, load_sklearn

        self.spec = load_json(context.artifacts["spec"], required=("features", "label_map", "names"))
        self.pipeline = load_sklearn(context.artifacts["pipeline"])
        self.label_map = np.asarray(self.spec["label_map"], dtype=np.int64)
        # models logged before ranges were stored have no "input_ranges": rules only
        self.input_ranges = load_input_ranges(context.artifacts.get("input_ranges"),
                                              self.spec["features"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        check_inputs(self.input_ranges, model_input, params, "the segmentation model")
        # same checks as Segmenter.predict: missing, non-numeric or non-finite features
        X = feature_matrix(model_input, self.spec["features"])
        seg = self.label_map[self.pipeline.predict(X)]
        names = self.spec["names"]
        return pd.DataFrame({"segment": seg.astype(np.int64),
                             "segment_name": [names[str(s)] for s in seg]},
                            index=model_input.index)
