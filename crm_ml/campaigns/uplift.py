"""UpliftModel: whom does a campaign change? T-learner and X-learner on LightGBM.

How :meth:`UpliftModel.fit` works (``X`` customer features, ``treated`` 1 sent / 0 control,
``y`` converted 0/1, from a randomised campaign):

T-learner
    One LightGBM classifier per arm: ``mu1(x) = P(y=1 | x, treated)`` and
    ``mu0(x) = P(y=1 | x, control)``; uplift ``mu1(x) - mu0(x)``.
X-learner (Kuenzel et al. 2019)
    The T-learner's arm models impute each customer's individual effect with the other arm's
    model -- ``D1 = y - mu0(x)`` for the treated, ``D0 = mu1(x) - y`` for the control --, one
    LightGBM regressor per arm learns ``tau1(x)`` and ``tau0(x)`` from them, and the uplift is
    ``e(x) * tau0(x) + (1 - e(x)) * tau1(x)`` with ``e(x)`` the propensity to be treated,
    estimated from the data by a small LightGBM classifier and clipped to [0.05, 0.95] (in a
    randomised campaign it is the constant treated share).
``method="auto"``
    Both are cross-fitted on ``cv`` folds of the training data (each fold scored by models
    fitted on the other folds) and the one with the higher Qini coefficient
    (:func:`crm_ml.campaigns.evaluation.qini_coefficient`) on those held-out scores is refitted
    on all rows. ``cv_scores_`` holds both coefficients.

:meth:`predict_response` is the treated arm's model ``mu1``: the response probability a
marketer would otherwise target by, kept as the baseline in :meth:`evaluate`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from crm_ml.campaigns._encode import FeatureEncoder, customer_frame
from crm_ml.campaigns.evaluation import check_outcomes, evaluate_uplift, qini_coefficient
from crm_ml.data.privacy import MIN_LEVEL_CUSTOMERS
from crm_ml.errors import DataValidationError, ModelFilesError, NotFittedError
from crm_ml.features.ranges import RANGES_FILE, InputRanges, load_input_ranges
from crm_ml.tracking.autologging import after_fit, paused

METHODS = ("t_learner", "x_learner")
PROPENSITY_CLIP = (0.05, 0.95)
#: fewer customers than this in an arm: refused (nothing to learn a response from)
MIN_ARM = 10
_FORMAT = 1
_BOOSTERS = {"t_learner": ("treated", "control"),
             "x_learner": ("treated", "control", "tau_treated", "tau_control", "propensity")}


def _aligned(v, index: pd.Index, name: str) -> np.ndarray:
    """``v`` as an array in the order of ``index`` (a Series is aligned by its index)."""
    if isinstance(v, pd.Series) and not v.index.equals(index):
        if v.index.has_duplicates or not index.isin(v.index).all():
            missing = index[~index.isin(v.index)][:5].tolist()
            raise DataValidationError(f"{name}: no value for customers {missing} of X",
                                      column=name, rule="one value per row of X",
                                      rows=missing)
        v = v.reindex(index)
    a = v.to_numpy() if isinstance(v, pd.Series) else np.asarray(v)
    if a.ndim != 1 or len(a) != len(index):
        raise DataValidationError(f"{name}: {a.size} values for {len(index)} rows of X",
                                  column=name, rule="one value per row of X")
    return a


class UpliftModel(BaseEstimator):
    """Uplift per customer: how much a campaign raises the chance to convert.

    Parameters
    ----------
    method : {"auto", "t_learner", "x_learner"}, default "auto"
        See the module docstring; ``auto`` picks by cross-fitted Qini coefficient.
    n_estimators : int, default 100
        Boosting rounds of every LightGBM model.
    learning_rate : float, default 0.05
    num_leaves : int, default 4
        Small trees: an uplift is a small difference of two noisy fits, and on the built-in
        campaign's development seeds 4 leaves x 100 rounds ranked the true uplift better than
        8 x 150 or 15 x 300 (benchmarks/decision-log.md, section 20; results in
        docs/benchmarks.md, "Campaigns: uplift").
    min_child_samples : int, optional
        Minimum customers per leaf; default ``clip(n_arm // 40, 10, 100)`` (an effect is a
        small difference of two rates: large leaves keep the arm models from chasing noise).
    cv : int, default 3
        Folds of the cross-fitting that ``method="auto"`` chooses by.
    max_categories : int, default 30
    min_level_customers : int, default 20
        k: category levels shared by fewer customers are never used or stored.
    allow_columns : list of str, optional
        Columns kept although they look like personal identifiers.
    random_state : int, default 0

    Attributes
    ----------
    method_ : str
        The method fitted on all rows.
    cv_scores_ : dict
        Cross-fitted Qini coefficient per method (``method="auto"`` only, else empty).
    encoder_ : FeatureEncoder
    boosters_ : dict
        LightGBM boosters by role (``treated``, ``control`` and, for the X-learner,
        ``tau_treated``, ``tau_control``, ``propensity``).
    input_ranges_ : InputRanges
        Training range of each numeric feature (the pyfunc model refuses far-off values).
    feature_names_in_, n_features_in_, n_train_, treated_share_, observed_uplift_

    Examples
    --------
    >>> u = UpliftModel().fit(X, treated, y)            # doctest: +SKIP
    >>> u.predict(X_new)                                # Series "uplift"  # doctest: +SKIP
    >>> u.evaluate(X_test, treated_test, y_test).plot() # doctest: +SKIP
    """

    def __init__(self, method: str = "auto", n_estimators: int = 100,
                 learning_rate: float = 0.05, num_leaves: int = 4,
                 min_child_samples: int | None = None, cv: int = 3,
                 max_categories: int = 30, min_level_customers: int = MIN_LEVEL_CUSTOMERS,
                 allow_columns: list[str] | None = None, random_state: int = 0):
        self.method = method
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.cv = cv
        self.max_categories = max_categories
        self.min_level_customers = min_level_customers
        self.allow_columns = allow_columns
        self.random_state = random_state

    # ------------------------------------------------------------------ plumbing
    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "boosters_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        return tags

    def _check_fitted(self):
        if not self.__sklearn_is_fitted__():
            raise NotFittedError("UpliftModel is not fitted yet: call fit(X, treated, y) first")

    def _check_params(self):
        if self.method not in ("auto", *METHODS):
            raise DataValidationError(f"method: one of auto, {', '.join(METHODS)}; got "
                                      f"{self.method!r}", column="method", rule="known method")
        if isinstance(self.cv, bool) or not isinstance(self.cv, int | np.integer) or self.cv < 2:
            raise DataValidationError(f"cv: a whole number >= 2, got {self.cv!r}",
                                      column="cv", rule="integer >= 2")

    def _params(self, objective: str, n: int) -> dict:
        leaf = self.min_child_samples or int(np.clip(n // 40, 10, 100))
        return {"objective": objective, "learning_rate": self.learning_rate,
                "num_leaves": self.num_leaves, "min_data_in_leaf": leaf,
                "max_depth": int(np.ceil(np.log2(max(self.num_leaves, 2)))) + 1,
                "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1,
                "lambda_l2": 1.0, "min_data_per_group": 20, "cat_smooth": 10.0,
                "seed": self.random_state, "deterministic": True, "force_col_wise": True,
                "num_threads": 1, "verbose": -1}

    def _train(self, E, target, objective: str, rounds: int | None = None):
        import lightgbm as lgb

        cats = self.encoder_.categorical_indices()
        ds = lgb.Dataset(E, target, feature_name=[f"f{i}" for i in range(E.shape[1])],
                         categorical_feature=cats, free_raw_data=True)
        return lgb.train(self._params(objective, len(target)), ds,
                         num_boost_round=rounds or self.n_estimators)

    # ------------------------------------------------------------------ learners
    def _fit_learners(self, E, t, y, methods) -> dict[str, dict]:
        """Boosters per method, all from the same two arm models."""
        arms = {"treated": self._train(E[t == 1], y[t == 1], "binary"),
                "control": self._train(E[t == 0], y[t == 0], "binary")}
        out = {}
        if "t_learner" in methods:
            out["t_learner"] = arms
        if "x_learner" in methods:
            d1 = y[t == 1] - arms["control"].predict(E[t == 1])
            d0 = arms["treated"].predict(E[t == 0]) - y[t == 0]
            out["x_learner"] = {
                **arms,
                "tau_treated": self._train(E[t == 1], d1, "regression"),
                "tau_control": self._train(E[t == 0], d0, "regression"),
                "propensity": self._train(E, t, "binary", rounds=50)}
        return out

    @staticmethod
    def _uplift(boosters: dict, E) -> np.ndarray:
        if "tau_treated" not in boosters:
            return boosters["treated"].predict(E) - boosters["control"].predict(E)
        e = np.clip(boosters["propensity"].predict(E), *PROPENSITY_CLIP)
        return (e * boosters["tau_control"].predict(E)
                + (1 - e) * boosters["tau_treated"].predict(E))

    def _cross_fit(self, E, t, y) -> dict[str, float]:
        from sklearn.model_selection import StratifiedKFold

        folds = StratifiedKFold(n_splits=self.cv, shuffle=True, random_state=self.random_state)
        oof = {m: np.zeros(len(y)) for m in METHODS}
        strata = 2 * t + y
        if np.bincount(strata, minlength=4).min() < self.cv:  # a rare outcome in one arm
            strata = t
        for train, test in folds.split(E, strata):
            for m, boosters in self._fit_learners(E[train], t[train], y[train], METHODS).items():
                oof[m][test] = self._uplift(boosters, E[test])
        return {m: float(qini_coefficient(y, oof[m], t)) for m in METHODS}

    # ------------------------------------------------------------------ fit / predict
    def fit(self, X, treated, y) -> UpliftModel:
        """Fit on a randomised campaign.

        Parameters
        ----------
        X : DataFrame
            Customer features before the campaign (one row per customer; any column types).
        treated : array-like of 0/1
            1 contacted, 0 held-out control (a Series is aligned by X's index).
        y : array-like of 0/1
            Converted in the campaign window.

        Returns
        -------
        self

        Raises
        ------
        DataValidationError
            ``treated`` or ``y`` not 0/1, one arm only (e.g. everyone treated), an arm with
            fewer than 10 customers or without both outcomes, duplicate customer ids.
        """
        self._check_params()
        X = customer_frame(X)
        if X.index.has_duplicates:
            dup = X.index[X.index.duplicated()][:5].tolist()
            raise DataValidationError(f"X: duplicate customer ids {dup}", column="customer_id",
                                      rule="one row per customer", rows=dup)
        y_arr, t_arr, _ = check_outcomes(_aligned(y, X.index, "y"),
                                         _aligned(treated, X.index, "treated"))
        for arm, mask in (("treated", t_arr == 1), ("control", t_arr == 0)):
            if mask.sum() < MIN_ARM or y_arr[mask].min() == y_arr[mask].max():
                raise DataValidationError(
                    f"treated: the {arm} group has {int(mask.sum())} customers and "
                    f"{int(y_arr[mask].sum())} conversions; an uplift model needs at least "
                    f"{MIN_ARM} customers and both outcomes in each group", column="treated",
                    rule="both outcomes in each group")
        self.encoder_ = FeatureEncoder(self.max_categories, self.min_level_customers,
                                       self.allow_columns).fit(X)
        E = self.encoder_.transform(X)
        with paused():
            if self.method == "auto":
                scores = self._cross_fit(E, t_arr, y_arr)
                method = max(METHODS, key=lambda m: scores[m])  # ties: the T-learner
            else:
                scores, method = {}, self.method
            self.boosters_ = self._fit_learners(E, t_arr, y_arr, (method,))[method]
        self.method_ = method
        self.cv_scores_ = scores
        self.input_ranges_ = InputRanges.from_training(X, self._numeric())
        self.feature_names_in_ = np.asarray(list(X.columns), dtype=object)
        self.n_features_in_ = X.shape[1]
        self.n_train_ = len(X)
        self.treated_share_ = float(t_arr.mean())
        self.observed_uplift_ = float(y_arr[t_arr == 1].mean() - y_arr[t_arr == 0].mean())
        after_fit(self, "campaigns", data=X)
        return self

    def _numeric(self) -> list[str]:
        return [c for c in self.encoder_.columns_ if self.encoder_.kinds_[c] == "numeric"]

    def _encoded(self, X) -> tuple[pd.DataFrame, np.ndarray]:
        self._check_fitted()
        X = customer_frame(X)
        return X, self.encoder_.transform(X)

    def predict(self, X) -> pd.Series:
        """Predicted uplift: P(convert | contacted) - P(convert | not contacted).

        Returns
        -------
        Series
            ``uplift`` indexed like ``X`` (negative: the contact puts the customer off).
        """
        X, E = self._encoded(X)
        return pd.Series(self._uplift(self.boosters_, E), index=X.index, name="uplift")

    def predict_response(self, X) -> pd.Series:
        """Response probability P(convert | contacted): the treated arm's model.

        Returns
        -------
        Series
            ``response_probability`` indexed like ``X``.
        """
        X, E = self._encoded(X)
        return pd.Series(self.boosters_["treated"].predict(E), index=X.index,
                         name="response_probability")

    def evaluate(self, X, treated, y, n_bins: int = 10):
        """Held-out quality against response-probability targeting and random targeting.

        Returns
        -------
        crm_ml.campaigns.evaluation.UpliftEvaluation
            Qini coefficient and AUUC of the model, of ranking by :meth:`predict_response` and
            of random targeting, the decile table and ``.plot()`` (Qini curves).
        """
        X, E = self._encoded(X)
        y_arr = _aligned(y, X.index, "y")
        t_arr = _aligned(treated, X.index, "treated")
        return evaluate_uplift(y_arr, t_arr, self._uplift(self.boosters_, E),
                               response=self.boosters_["treated"].predict(E), n_bins=n_bins)

    def score(self, X, treated, y) -> float:
        """Qini coefficient (normalised: 1 perfect ranking, 0 random) of the predicted uplift
        on labelled campaign data; higher is better."""
        X, E = self._encoded(X)
        return float(qini_coefficient(_aligned(y, X.index, "y"), self._uplift(self.boosters_, E),
                                      _aligned(treated, X.index, "treated")))

    # ------------------------------------------------------------------ persistence
    def save(self, directory) -> dict:
        """Save as LightGBM text files (one per booster) and ``spec.json``; no pickle.

        Returns
        -------
        dict
            ``{"spec": path, "<role>": path, ...}``.
        """
        from crm_ml.tracking.serialization import save_json, save_lightgbm

        self._check_fitted()
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        paths = {role: str(save_lightgbm(b, d / f"{role}.txt"))
                 for role, b in self.boosters_.items()}
        spec = {"format": _FORMAT, "params": self.get_params(), "method": self.method_,
                "cv_scores": self.cv_scores_, "encoder": self.encoder_.to_dict(),
                "features": [str(c) for c in self.feature_names_in_],
                "n_train": self.n_train_, "treated_share": self.treated_share_,
                "observed_uplift": self.observed_uplift_}
        paths["spec"] = str(save_json(spec, d / "spec.json"))
        paths["input_ranges"] = str(self.input_ranges_.save(d / RANGES_FILE))
        return paths

    @classmethod
    def load(cls, directory=None, *, paths: dict | None = None) -> UpliftModel:
        """Load a model written by :meth:`save`: its directory, or the ``paths`` it returned
        (``{"spec": ..., "treated": ..., ...}``, as a pyfunc model's artifacts).

        Raises
        ------
        ModelFilesError
            A file is missing, damaged or not what :meth:`save` writes (unknown format or
            method, malformed encoder, a booster whose width differs from the features).
        """
        from crm_ml.tracking.serialization import load_json, load_lightgbm

        if paths is None:
            d = Path(directory)
            paths = {role: d / f"{role}.txt" for role in _BOOSTERS["x_learner"]}
            paths["spec"] = d / "spec.json"
            paths["input_ranges"] = d / RANGES_FILE
        spec_path = paths["spec"]
        spec = load_json(spec_path, required=("format", "params", "method", "encoder",
                                              "features"))

        def bad(why):
            return ModelFilesError(f"{spec_path}: {why}; the file is damaged or was not "
                                   "written by UpliftModel.save. Re-train the model.",
                                   path=str(spec_path))

        if spec["format"] != _FORMAT or spec["method"] not in METHODS:
            raise bad(f"unknown format {spec['format']!r} or method {spec['method']!r}")
        params = spec["params"]
        if not isinstance(params, dict) or not set(params) <= set(cls().get_params()):
            raise bad("unexpected parameters")
        self = cls(**params)
        try:
            self.encoder_ = FeatureEncoder.from_dict(spec["encoder"])
        except (KeyError, TypeError, ValueError) as exc:
            raise bad(f"malformed encoder ({exc})") from exc
        _check_spec_fields(spec, self.encoder_.columns_, bad)
        missing = [r for r in _BOOSTERS[spec["method"]] if r not in paths]
        if missing:
            raise bad(f"no file for the booster(s) {missing}")
        self.boosters_ = {role: load_lightgbm(paths[role]) for role in _BOOSTERS[spec["method"]]}
        width = len(self.encoder_.columns_)
        for role, b in self.boosters_.items():
            if b.num_feature() != width:
                raise bad(f"booster {role} reads {b.num_feature()} features, the encoder "
                          f"writes {width}")
        self.input_ranges_ = load_input_ranges(paths.get("input_ranges"), self._numeric())
        self.method_ = spec["method"]
        self.cv_scores_ = dict(spec.get("cv_scores") or {})
        self.feature_names_in_ = np.asarray(spec["features"], dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        self.n_train_ = spec.get("n_train")
        self.treated_share_ = spec.get("treated_share")
        self.observed_uplift_ = spec.get("observed_uplift")
        return self

    def synthetic_example(self, n: int = 3) -> pd.DataFrame:
        """A SYNTHETIC input example (no real row or id): the middle of each numeric feature's
        training range, kept category levels in turn, for the MLflow signature."""
        self._check_fitted()
        enc = self.encoder_
        r = self.input_ranges_
        mid = {f: (lo + hi) / 2 if np.isfinite(lo + hi) else 0.0
               for f, lo, hi in zip(r.fields, r.low, r.high, strict=True)}
        rows = {}
        for c in enc.columns_:
            kind = enc.kinds_[c]
            if kind == "categorical":
                lv = enc.categories_[c]
                rows[c] = [lv[i % len(lv)] for i in range(n)]
            elif kind == "datetime":
                rows[c] = pd.to_datetime(["2024-01-01"] * n)
            elif kind == "timedelta":
                rows[c] = pd.to_timedelta([1] * n, unit="D")
            else:
                rows[c] = [float(mid.get(c, 0.0))] * n
        return pd.DataFrame(rows, index=pd.Index([f"synthetic-{i + 1}" for i in range(n)],
                                                 name="customer_id"))



def _check_spec_fields(spec: dict, encoded: list, bad) -> None:
    """Raise ``bad(why)`` unless the spec's other fields have the types :meth:`save` writes:
    ``features`` names every encoded column, the numbers are numbers (or null)."""
    features = spec["features"]
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features) \
            or not set(encoded) <= set(features):
        raise bad("features is not the list of column names the encoder reads")
    scores = spec.get("cv_scores")
    if scores is not None and not (isinstance(scores, dict) and all(
            v is None or (isinstance(v, int | float) and not isinstance(v, bool))
            for v in scores.values())):
        raise bad("cv_scores is not a mapping of method to number")
    for key in ("n_train", "treated_share", "observed_uplift"):
        value = spec.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise bad(f"{key} is not a number")
