"""The machine-learning alternative: LightGBM on the feature table predicting future spend.

Training uses the same shape of problem as the prediction: features at ``as_of - horizon``
(:func:`crm_ml.features.build`, nothing after that day) and, as target, each customer's spend
in the following ``horizon`` days (up to ``as_of``). Prediction applies the model to features
at ``as_of`` to estimate spend in the next ``horizon`` days. Tweedie loss handles the many
zeros. When the history is shorter than twice the horizon, the label window is shortened to
half the history and predictions are scaled by ``horizon / label window``. :func:`validate_ml` scores it on the same holdout and metrics as
:func:`crm_ml.clv.validate`, so the two can be compared on the user's data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crm_ml.clv import _data
from crm_ml.clv.validation import decile_table, holdout_actuals, value_metrics
from crm_ml.data.windows import as_of_day, future
from crm_ml.errors import DataValidationError, NotFittedError


class LightGBMSpendModel:
    """LightGBM regression of spend in the next ``horizon_days`` on customer features.

    Parameters
    ----------
    horizon_days : int
        Length of the spend window predicted (and of the training label window).
    n_estimators, learning_rate, num_leaves : LightGBM settings.
    random_state : int
    n_jobs : int
    """

    def __init__(self, horizon_days: int = 365, n_estimators: int = 300,
                 learning_rate: float = 0.05, num_leaves: int = 15, random_state: int = 0,
                 n_jobs: int = 2):
        self.horizon_days = horizon_days
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.random_state = random_state
        self.n_jobs = n_jobs

    @staticmethod
    def _features(transactions, as_of) -> pd.DataFrame:
        from crm_ml.features import build

        X = build(transactions, as_of)
        X.index = X.index.astype(str)
        return X.select_dtypes(include=["number", "bool", "category"])

    def fit(self, transactions: pd.DataFrame, as_of) -> LightGBMSpendModel:
        """Train on features at ``as_of - horizon_days`` and spend up to ``as_of``."""
        import lightgbm as lgb

        day = as_of_day(as_of)
        tx, _ = _data.apply_policy(transactions, day)
        available = (day - tx["timestamp"].min().normalize()).days
        label_days = int(min(int(self.horizon_days), available // 2))
        if label_days < 28:
            raise DataValidationError(
                f"transactions: the LightGBM alternative needs at least 56 days of history "
                f"before as_of to train, found {available}", column="timestamp",
                rule="enough history")
        self.label_days_ = label_days
        start = day - pd.Timedelta(days=label_days)
        X = self._features(tx, start)
        lab = future(tx, start, label_days)
        y = lab.groupby(lab["customer_id"].astype(str))["amount"].sum().reindex(X.index)
        y = y.fillna(0.0)
        self.model_ = lgb.LGBMRegressor(
            objective="tweedie", n_estimators=self.n_estimators,
            learning_rate=self.learning_rate, num_leaves=self.num_leaves,
            random_state=self.random_state, n_jobs=self.n_jobs, verbose=-1, deterministic=True)
        self.model_.fit(X, y)
        self.feature_names_ = list(X.columns)
        return self

    def predict(self, transactions: pd.DataFrame, as_of) -> pd.Series:
        """Predicted spend in the ``horizon_days`` after ``as_of``, index customer_id."""
        if not hasattr(self, "model_"):
            raise NotFittedError("LightGBMSpendModel is not fitted")
        tx, _ = _data.apply_policy(transactions, as_of)
        X = self._features(tx, as_of).reindex(columns=self.feature_names_)
        scale = float(self.horizon_days) / self.label_days_
        pred = np.clip(self.model_.predict(X), 0, None) * scale
        return pd.Series(pred, index=X.index, name="predicted_value")


def validate_ml(transactions: pd.DataFrame, calibration_end, holdout_end,
                customers: pd.Index | None = None, **params) -> dict:
    """Train LightGBM at ``calibration_end`` and score its holdout spend predictions.

    Parameters
    ----------
    transactions : DataFrame
    calibration_end, holdout_end : date-like
    customers : Index, optional
        Customers to score (e.g. ``validate(...)["per_customer"].index`` so both approaches are
        compared on the same people); default all customers with history.
    **params
        Passed to :class:`LightGBMSpendModel` (``horizon_days`` defaults to the holdout length).

    Returns
    -------
    dict
        spearman, gini, value_mae, value_predicted_total, value_actual_total, deciles,
        per_customer, n_customers.
    """
    cal, hold = as_of_day(calibration_end), as_of_day(holdout_end)
    days = (hold - cal).days
    params.setdefault("horizon_days", days)
    m = LightGBMSpendModel(**params).fit(transactions, cal)
    pred = m.predict(transactions, cal)
    if customers is not None:
        pred = pred.reindex(pd.Index(customers).astype(str)).fillna(0.0)
    act = holdout_actuals(transactions, cal, hold, pred.index)
    per = pd.DataFrame({"predicted_value": pred, "actual_value": act["actual_value"]})
    out = {**value_metrics(per["actual_value"], per["predicted_value"]),
           "n_customers": int(len(per)), "holdout_days": int(days)}
    out["deciles"] = decile_table(per, "predicted_value", ["predicted_value", "actual_value"])
    out["per_customer"] = per
    out["model"] = m
    return out
