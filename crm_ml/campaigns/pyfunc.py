"""The ``crm-uplift`` pyfunc model: customer feature table in, uplift and response out.

Fitted state lives in native files (:meth:`UpliftModel.save`): one LightGBM text file per
booster and ``spec.json`` (encoder with kept category levels only, parameters). No pickle.
"""

from __future__ import annotations

import mlflow.pyfunc
import pandas as pd

#: Output columns, in order.
OUTPUT_COLUMNS = ["uplift", "response_probability"]


class UpliftPyfuncModel(mlflow.pyfunc.PythonModel):
    """Stateless wrapper; ``predict`` returns ``uplift`` and ``response_probability`` per row.

    Input: the feature table the model was fitted on (one row per customer; extra columns
    are ignored, a missing one raises :class:`~crm_ml.errors.DataValidationError`).
    Numeric features are checked against their training ranges first (``params``
    ``range_check`` / ``range_tolerance``, :func:`crm_ml.features.ranges.check_inputs`).
    """

    def load_context(self, context):
        from crm_ml.campaigns.uplift import UpliftModel

        self.model = UpliftModel.load(paths=dict(context.artifacts))

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        from crm_ml.features.ranges import check_inputs

        check_inputs(self.model.input_ranges_, model_input, params, "the uplift model")
        X = model_input.drop(columns="customer_id", errors="ignore")
        return pd.DataFrame({"uplift": self.model.predict(X).to_numpy(),
                             "response_probability":
                                 self.model.predict_response(X).to_numpy()},
                            index=model_input.index)
