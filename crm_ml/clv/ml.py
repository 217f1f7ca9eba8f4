"""The machine-learning alternative: LightGBM on the feature table predicting future spend.

Training uses the same shape of problem as the prediction: features at ``as_of - horizon``
(:func:`crm_ml.features.build`, nothing after that day) and, as target, each customer's spend
in the following ``horizon`` days (up to ``as_of``). Prediction applies the model to features
at ``as_of`` to estimate spend in the next ``horizon`` days. Tweedie loss handles the many
zeros. When the history is shorter than twice the horizon, the label window is shortened to
half the history and predictions are scaled by ``horizon / label window``.
:func:`backtest_ml` scores it on the same holdout and metrics as :func:`crm_ml.clv.backtest`,
so the two can be compared on the user's data (``validate_ml`` is its older spelling).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin

from crm_ml.clv import _data
from crm_ml.clv.validation import decile_table, holdout_actuals, value_metrics
from crm_ml.data.windows import as_of_day, future
from crm_ml.errors import DataValidationError, ModelFilesError, NotFittedError

SAVE_FORMAT = "crm_ml.clv.LightGBMSpendModel/1"


class LightGBMSpendModel(RegressorMixin, BaseEstimator):
    """LightGBM regression of spend in the next ``horizon_days`` on customer features.

    Parameters
    ----------
    horizon_days : int
        Length of the spend window predicted (and of the training label window).
    n_estimators, learning_rate, num_leaves : LightGBM settings.
    random_state : int
    n_jobs : int

    Attributes
    ----------
    model_ : lightgbm.LGBMRegressor or lightgbm.Booster
        The fitted model (a Booster after :meth:`load`).
    feature_names_ : list of str
        The :func:`crm_ml.features.build` columns it uses.
    label_days_ : int
        Length of the training label window.
    prediction_scale_ : float
        ``horizon_days / label_days_``, applied to the model's output.
    as_of_ : Timestamp
        The ``as_of`` of :meth:`fit`.
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
        """Train on features at ``as_of - horizon_days`` and spend up to ``as_of``.

        Parameters
        ----------
        transactions : DataFrame
            Canonical transactions; rows after ``as_of`` are ignored.
        as_of : date-like
            Last day of history.

        Returns
        -------
        LightGBMSpendModel
            self

        Raises
        ------
        DataValidationError
            ``horizon_days`` not a whole number > 0, or less than 56 days of history.
        """
        import lightgbm as lgb

        from crm_ml.clv.validation import _horizon_days

        horizon = _horizon_days(self.horizon_days)
        day = as_of_day(as_of)
        tx, _ = _data.apply_policy(transactions, day)
        available = (day - tx["timestamp"].min().normalize()).days
        label_days = int(min(horizon, available // 2))
        if label_days < 28:
            raise DataValidationError(
                f"transactions: the LightGBM alternative needs at least 56 days of history "
                f"before as_of to train, found {available}", column="timestamp",
                rule="enough history")
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
        self.label_days_ = label_days
        self.prediction_scale_ = horizon / label_days
        self.as_of_ = day
        from crm_ml.tracking.autologging import after_fit

        after_fit(self, "clv", data=transactions, run_name="clv-lightgbm")
        return self

    def _require_fit(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFittedError("LightGBMSpendModel is not fitted: call fit() first")

    def predict(self, transactions: pd.DataFrame, as_of) -> pd.Series:
        """Predicted spend in the ``horizon_days`` after ``as_of``, index customer_id."""
        self._require_fit()
        tx, _ = _data.apply_policy(transactions, as_of)
        X = self._features(tx, as_of).reindex(columns=self.feature_names_)
        pred = np.clip(self.model_.predict(X), 0, None) * self.prediction_scale_
        return pd.Series(pred, index=X.index, name="predicted_value")

    def score(self, transactions: pd.DataFrame, as_of) -> float:
        """Normalised Gini of predicted against actual spend after ``as_of`` (higher is better).

        Each customer with history up to ``as_of`` gets :meth:`predict`; the actual value is
        their spend in ``(as_of, as_of + horizon_days]`` from ``transactions`` (under the same
        data policy). 1 = the prediction ranks customers exactly as their actual spend, 0 = no
        better than random. ``transactions`` must therefore reach past ``as_of``.

        Parameters
        ----------
        transactions : DataFrame
            Canonical transactions covering history and the horizon after ``as_of``.
        as_of : date-like
            Day the prediction is made.

        Returns
        -------
        float
        """
        from crm_ml.clv.validation import _horizon_days, gini

        pred = self.predict(transactions, as_of)
        day = as_of_day(as_of)
        end = day + pd.Timedelta(days=_horizon_days(self.horizon_days))
        act = holdout_actuals(transactions, day, end, pred.index)
        return float(gini(act["actual_value"].to_numpy(), pred.to_numpy()))

    def feature_importance(self) -> pd.DataFrame:
        """Gain importance per feature (feature, importance), highest first."""
        self._require_fit()
        booster = getattr(self.model_, "booster_", self.model_)
        gain = booster.feature_importance(importance_type="gain")
        return (pd.DataFrame({"feature": booster.feature_name(), "importance": gain})
                .sort_values("importance", ascending=False, kind="stable")
                .reset_index(drop=True))

    def input_example(self) -> pd.DataFrame:
        """Three synthetic rows of the model's feature columns (never customer data)."""
        self._require_fit()
        return pd.DataFrame({c: [0.0, 1.0, 10.0] for c in self.feature_names_})

    def save(self, path) -> Path:
        """Save as one JSON file: parameters, fitted facts and the LightGBM model text.

        Parameters
        ----------
        path : path-like
            Target file, conventionally ``*.json``; written atomically.

        Returns
        -------
        Path
        """
        from crm_ml.clv.model import write_json_atomic

        self._require_fit()
        booster = getattr(self.model_, "booster_", self.model_)
        return write_json_atomic({
            "format": SAVE_FORMAT, "params": self.get_params(),
            "feature_names": self.feature_names_, "label_days": self.label_days_,
            "prediction_scale": self.prediction_scale_, "as_of": str(self.as_of_.date()),
            "lightgbm_model": booster.model_to_string()}, path)

    @classmethod
    def load(cls, path) -> LightGBMSpendModel:
        """Load a model written by :meth:`save` (the LightGBM text format, no pickle).

        Raises
        ------
        ModelFilesError
            The file is missing, damaged or not a saved LightGBMSpendModel.
        """
        import lightgbm as lgb

        from crm_ml.tracking.serialization import load_json

        d = load_json(path, required=("format", "params", "feature_names", "label_days",
                                      "prediction_scale", "lightgbm_model"))
        if d["format"] != SAVE_FORMAT:
            raise ModelFilesError(f"{path}: not a saved LightGBMSpendModel "
                                  f"(format {d['format']!r})", path=str(path))
        m = cls(**d["params"])
        try:
            m.model_ = lgb.Booster(model_str=d["lightgbm_model"])
        except Exception as exc:  # lightgbm.basic.LightGBMError
            raise ModelFilesError(f"{path}: its LightGBM model cannot be read ({exc})",
                                  path=str(path)) from exc
        m.feature_names_ = list(d["feature_names"])
        m.label_days_ = int(d["label_days"])
        m.prediction_scale_ = float(d["prediction_scale"])
        m.as_of_ = pd.Timestamp(d["as_of"]) if d.get("as_of") else None
        return m


def backtest_ml(transactions: pd.DataFrame, as_of, horizon_days: int,
                customers: pd.Index | None = None, **params) -> dict:
    """Train LightGBM at ``as_of`` and score its spend predictions for the next ``horizon_days``.

    The fit runs under :func:`crm_ml.tracking.autologging.paused` (it is not logged).

    Parameters
    ----------
    transactions : DataFrame
    as_of : date-like
        Last day of the training history.
    horizon_days : int
        Holdout length: ``(as_of, as_of + horizon_days]``.
    customers : Index, optional
        Customers to score (e.g. ``backtest(...)["per_customer"].index`` so both approaches
        are compared on the same people); default all customers with history.
    **params
        Passed to :class:`LightGBMSpendModel` (``horizon_days`` defaults to the holdout length).

    Returns
    -------
    dict
        spearman, gini, value_mae, value_predicted_total, value_actual_total, n_customers,
        holdout_days, deciles, per_customer, model.
    """
    from crm_ml.clv.validation import _horizon_days
    from crm_ml.tracking.autologging import paused

    days = _horizon_days(horizon_days)
    cal = as_of_day(as_of)
    hold = cal + pd.Timedelta(days=days)
    params.setdefault("horizon_days", days)
    with paused():
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


def validate_ml(transactions: pd.DataFrame, calibration_end, holdout_end,
                customers: pd.Index | None = None, **params) -> dict:
    """Alias of :func:`backtest_ml` with ``as_of=calibration_end``, holdout to ``holdout_end``.

    Returns
    -------
    dict
        As :func:`backtest_ml`.
    """
    from crm_ml.clv.validation import holdout_days

    return backtest_ml(transactions, calibration_end,
                       holdout_days(calibration_end, holdout_end), customers, **params)
