"""ChurnModel: LightGBM or random forest on any customer table, calibrated on held-out folds.

How :meth:`ChurnModel.fit` works
    1. The table is encoded by :class:`~crm_ml.churn.preprocess.TabularPreprocessor`
       (categoricals, missing values, unseen categories handled; no user preprocessing).
    2. With ``calibrate=True`` the data are split into ``cv`` stratified folds. For each fold a
       model is trained on the other folds (LightGBM: early stopping on an inner validation
       split) and scores the held-out fold, giving an honest raw score (log-odds) for every row.
    3. A calibrator (Platt or isotonic) is fitted on those held-out scores vs. the labels.
    4. One final model is trained on all rows (LightGBM: with the mean early-stopped number of
       trees) and its raw scores pass through the calibrator. This is scikit-learn's
       ``CalibratedClassifierCV(ensemble=False)`` scheme, so there is one model to explain.
       Below 10,000 rows LightGBM's final model is the mean of that model and the ``cv`` fold
       models (bagging: the folds are trained anyway and small tables are noisy), written as
       one ordinary booster (:func:`~crm_ml.churn.bagging.average_boosters`).

Class imbalance: with ``class_weight="auto"`` classes are re-weighted to balance when the
minority class is below 20 % of rows; calibration then restores true probabilities.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from crm_ml._logging import get_logger
from crm_ml.churn.calibration import ScoreCalibrator, _sigmoid
from crm_ml.churn.preprocess import TabularPreprocessor, as_customer_frame
from crm_ml.churn.targets import binary_target, encode_target, sorted_classes
from crm_ml.data.privacy import MIN_LEVEL_CUSTOMERS
from crm_ml.errors import DataValidationError, NotFittedError
from crm_ml.features.ranges import RANGES_FILE, InputRanges, load_input_ranges
from crm_ml.tracking.autologging import after_fit

log = get_logger("churn")

ALGORITHMS = ("lightgbm", "random_forest")
SMALL_TABLE = 10_000  # rows below which LightGBM picks its tree size and bags its fold models
MIN_MINORITY = 30  # fewer churners (or stayers) than this: warn that estimates are unreliable
# Random forest depths tried on the calibration folds, shallowest first (it keeps ties).
# TreeSHAP costs leaves x depth^2 per tree and customer: unbounded trees (~150 leaves, depth
# ~18 on CDNOW) made per-customer reasons hundreds of times slower than LightGBM's. On CDNOW
# depth 4 scores a higher held-out ROC-AUC than unbounded trees; on the built-in data depth 8
# is within 0.0005 of them and 4 is not (benchmarks/README.md, "Latency per algorithm").
FOREST_DEPTHS = (4, 8)
# Random forest leaves and trees (issue #18). Leaves of at least clip(n/40, 5, 50) rows (the
# LightGBM rule) cost the forest 0.022 ROC-AUC on the public mlc_churn table (0.894 vs
# 0.916 for scikit-learn's default forest): churn there sits in small pockets (international
# plan with few calls, many service calls) that 50-row leaves average away. Leaves of 5 rows
# recover it (0.917; 1 row: 0.918 at 1.3x the explanation cost) but change nothing on
# wa_churn (0.846 at 5 or 50) while making its trees 4.7x as costly to explain. So the small
# leaves are one more candidate on the calibration folds, at the depth that won with the
# default leaves (on CDNOW depth 4: cheap to fit, at most 16 leaves to explain), and win only
# by at least FOREST_SMALL_LEAF_GAIN held-out ROC-AUC. 100 trees score as 200 on both tables
# (within 0.001) at half the fit and explanation time. benchmarks/notes/forest.md has the runs.
FOREST_MIN_LEAF = 5
FOREST_SMALL_LEAF_GAIN = 0.002
FOREST_TREES = 100
_BEST_DEPTH = object()  # candidate placeholder: the depth that won so far


def _lightgbm_min_leaf(n: int) -> int:
    """Default minimum rows per leaf: ``clip(n // 40, 5, 50)``."""
    return int(np.clip(n // 40, 5, 50))


def _json_label(label):
    """A label as JSON stores it (NumPy scalars become Python ones)."""
    return label.item() if isinstance(label, np.generic) else label


def _logit(p):
    p = np.clip(np.asarray(p, dtype=float), 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


class ChurnModel(ClassifierMixin, BaseEstimator):
    """Churn probability for every customer, calibrated on held-out folds.

    Calibrated to the training period's churn rate: how far a score reads as a churn rate on a
    later period is what the model card's held-out calibration table shows.

    Parameters
    ----------
    algorithm : {"lightgbm", "random_forest"}, default "lightgbm"
    calibrate : bool, default True
        Calibrate probabilities on held-out folds (see module docstring).
    calibration : {"auto", "sigmoid", "isotonic"}, default "auto"
        ``auto``: isotonic with >= 5,000 rows, Platt (sigmoid) below.
    cv : int, default 5
        Folds used for the held-out scores that calibration is fitted on.
    class_weight : {"auto", "balanced", None}, default "auto"
    n_estimators : int, optional
        Trees. Default: LightGBM picks the number by early stopping (at most 2,000);
        random forest uses 100. The forest's tree size is the best by held-out ROC-AUC on the
        calibration folds of depth 4 and depth 8 with the default leaf size, then of the
        winning depth with leaves of 5 rows (kept only when better by at least 0.002; depth 4
        on a tie or without calibration; ``max_depth_`` and ``min_samples_leaf_`` after
        fitting);
        ``params={"max_depth": None}`` grows full trees (slow to explain).
    learning_rate : float, default 0.05
        LightGBM only.
    num_leaves : int, optional
        LightGBM only. Default grows with the data: below 10,000 rows the best of 2, 4 and 8
        leaves by held-out ROC-AUC on the calibration folds (``num_leaves_`` after fitting),
        15 below 200,000 rows, 31 above. Depth is capped at ``ceil(log2(num_leaves)) + 1``.
    min_child_samples : int, optional
        Minimum rows per leaf, both algorithms. Default ``clip(n_rows // 40, 5, 50)``; the
        random forest also tries 5 on the calibration folds (see ``n_estimators``).
    early_stopping_rounds : int, default 50
    validation_fraction : float, default 0.15
        Share of the training rows held out for early stopping.
    max_categories : int, default 30
        Levels kept per categorical column.
    min_level_customers : int, default 20
        k: a category level is kept (and stored with the model) only when at least this many
        training customers share it; every other level is one ``"__other__"`` level, at
        training and at scoring (:mod:`crm_ml.data.privacy`).
    allow_columns : list of str, optional
        Columns kept although they look like personal identifiers or free text (e-mail,
        phone, names, notes, near-unique values), which are otherwise dropped with a
        :class:`~crm_ml.data.privacy.PersonalDataWarning`.
    params : dict, optional
        Extra LightGBM parameters or ``RandomForestClassifier`` arguments (override defaults).
    random_state : int, default 0
        Seeds folds, row/feature sampling and trees: same data and seed give identical probabilities.
    n_jobs : int, optional
        Threads. Default: LightGBM uses one thread below 200,000 rows (threads cost more than
        they save on small data, and OpenMP threads slow down badly on a busy machine) and all
        cores above; the random forest uses 2.
    bagging : {"auto", True, False}, default "auto"
        LightGBM with ``calibrate=True``: average the ``cv`` fold models with the final model.
        ``"auto"`` does so below 10,000 rows, where it lowers variance at no training cost
        (the folds are fitted for calibration anyway) and the model stays small; ``False``
        keeps the single final model (``cv`` + 1 times fewer trees to score and explain).

    Attributes
    ----------
    preprocessor_, calibrator_ (None when ``calibrate=False``), booster_ (LightGBM) or
    forest_ (random forest), feature_names_in_, n_estimators_ (trees of the model fitted on all
    rows), num_leaves_ (LightGBM tree size used), max_depth_ and min_samples_leaf_ (random
    forest depth and minimum rows per leaf used),
    n_bagged_ (LightGBM models averaged in
    ``booster_``: 1, or ``cv`` + 1 when bagging), cv_metrics_ (metrics of the held-out
    scores), oof_proba_ (held-out probabilities, each fold calibrated by a calibrator fitted on the
    other folds), input_ranges_ (training range of
    each numeric column, :class:`crm_ml.features.ranges.InputRanges`; None for a model saved
    before ranges were stored), classes_ (the two labels given to ``fit``, sorted as
    scikit-learn sorts them), pos_label_ (the one of them that means churned), n_train_
    (training rows).

    Notes
    -----
    A scikit-learn classifier (``clone``, ``cross_val_score``, ``GridSearchCV``,
    ``Pipeline``): :meth:`score` is ROC-AUC and :meth:`decision_function` the log-odds of
    ``classes_[1]`` (the churn log-odds for 0/1, bool and yes/no labels), so
    ``scoring="roc_auc"`` works, while :meth:`predict_proba` keeps returning one Series of
    churn probabilities. Fitting writes nothing; :func:`crm_ml.churn.log_model` logs a fitted
    model to MLflow (and :func:`crm_ml.tracking.autolog` logs every fit).
    """

    def __init__(self, algorithm: str = "lightgbm", calibrate: bool = True,
                 calibration: str = "auto", cv: int = 5, class_weight: str | None = "auto",
                 n_estimators: int | None = None, learning_rate: float = 0.05,
                 num_leaves: int | None = None, min_child_samples: int | None = None,
                 early_stopping_rounds: int = 50, validation_fraction: float = 0.15,
                 max_categories: int = 30, params: dict | None = None, random_state: int = 0,
                 n_jobs: int | None = None,
                 bagging: bool | str = "auto", min_level_customers: int = MIN_LEVEL_CUSTOMERS,
                 allow_columns: list[str] | None = None):
        self.algorithm = algorithm
        self.calibrate = calibrate
        self.calibration = calibration
        self.cv = cv
        self.class_weight = class_weight
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction = validation_fraction
        self.max_categories = max_categories
        self.params = params
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.bagging = bagging
        self.min_level_customers = min_level_customers
        self.allow_columns = allow_columns

    # ------------------------------------------------------------------ sklearn plumbing
    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "preprocessor_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False  # churned or not
        tags.input_tags.allow_nan = True  # missing values are encoded, not refused
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        return tags

    def _check_fitted(self):
        if not self.__sklearn_is_fitted__():
            raise NotFittedError("ChurnModel is not fitted yet: call fit(X, y) first")

    # ------------------------------------------------------------------ inputs
    def _frame(self, X) -> pd.DataFrame:
        """``X`` for scoring: a DataFrame; an array must have as many columns as at fit."""
        is_array = not isinstance(X, pd.DataFrame | pd.Series)
        X = as_customer_frame(X)
        width = getattr(self, "_input_width", None)  # None: loaded from files
        if is_array and width is not None and X.shape[1] != width:
            raise DataValidationError(
                f"X has {X.shape[1]} features, but ChurnModel is expecting {width} features "
                "as input", column="X", rule="same columns as in fit")
        return X

    def _target(self, X: pd.DataFrame, y) -> np.ndarray:
        """0/1 labels of new data (labels as at fit, or 0/1, True/False, yes/no...)."""
        return encode_target(X.index, y, self.classes_, self.pos_label_)

    def _weights(self, y: np.ndarray) -> np.ndarray | None:
        cw = self.class_weight
        rate = y.mean()
        minority = min(rate, 1 - rate)
        if cw == "balanced" or (cw == "auto" and minority < 0.2):
            w = np.where(y == 1, 0.5 / rate, 0.5 / (1 - rate))
            return w
        if cw not in (None, "auto", "balanced"):
            raise DataValidationError(f"class_weight: unknown value {cw!r}",
                                      column="class_weight", rule="auto|balanced|None")
        return None

    # ------------------------------------------------------------------ estimators
    def _lgb_params(self) -> dict:
        p = {"objective": "binary", "learning_rate": self.learning_rate,
             "num_leaves": self._leaves, "min_data_in_leaf": self._min_leaf,
             # near-balanced trees: regularises, and TreeSHAP cost grows with depth squared
             "max_depth": int(np.ceil(np.log2(max(self._leaves, 2)))) + 1,
             "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1,
             "lambda_l2": 1.0, "min_data_per_group": 20, "cat_smooth": 10.0,
             "seed": self.random_state, "deterministic": True, "force_col_wise": True,
             "num_threads": self._threads, "verbose": -1}
        p.update(self.params or {})
        return p

    def _train_lgb(self, X, y, w, rounds, valid=None):
        import lightgbm as lgb

        cats = self.preprocessor_.categorical_indices()
        names = [f"f{i}" for i in range(X.shape[1])]
        ds = lgb.Dataset(X, y, weight=w, feature_name=names, categorical_feature=cats,
                         free_raw_data=True)
        kw = {}
        if valid is not None:
            Xv, yv, wv = valid
            vds = lgb.Dataset(Xv, yv, weight=wv, reference=ds, feature_name=names,
                              categorical_feature=cats)
            kw = {"valid_sets": [vds], "callbacks": [
                lgb.early_stopping(self.early_stopping_rounds, verbose=False)]}
        booster = lgb.train(self._lgb_params(), ds, num_boost_round=rounds, **kw)
        best = booster.best_iteration if valid is not None and booster.best_iteration else rounds
        return booster, int(best)

    def _fit_one(self, X, y, w, rounds=None):
        """Fit one model; returns (estimator, n_trees). ``rounds=None`` -> early stopping."""
        if self.algorithm == "random_forest":
            from sklearn.ensemble import RandomForestClassifier

            kw = {"n_estimators": self.n_estimators or FOREST_TREES, "max_features": "sqrt",
                  "min_samples_leaf": self._min_leaf, "max_depth": self._depth,
                  "n_jobs": 2 if self.n_jobs is None else self.n_jobs,
                  "random_state": self.random_state}
            kw.update(self.params or {})
            with warnings.catch_warnings():  # joblib/sklearn config-propagation noise
                warnings.filterwarnings("ignore", message=".*sklearn.utils.parallel.delayed")
                rf = RandomForestClassifier(**kw).fit(X, y, sample_weight=w)
            return rf, rf.n_estimators
        if rounds is not None:
            return self._train_lgb(X, y, w, rounds)
        if self.n_estimators is not None:
            return self._train_lgb(X, y, w, self.n_estimators)
        from sklearn.model_selection import train_test_split

        idx = np.arange(len(y))
        try:
            tr, va = train_test_split(idx, test_size=self.validation_fraction, stratify=y,
                                      random_state=self.random_state)
        except ValueError:  # too few rows of a class for an inner split
            return self._train_lgb(X, y, w, 200)
        wt = None if w is None else w[tr]
        wv = None if w is None else w[va]
        return self._train_lgb(X[tr], y[tr], wt, 2000, valid=(X[va], y[va], wv))

    def _raw(self, est, X) -> np.ndarray:
        """Raw score: LightGBM log-odds, or the logit of the forest's probability."""
        if self.algorithm == "random_forest":
            return _logit(self._forest_proba(est, X))
        # one thread for small inputs: OpenMP start-up and spinning cost more than the work
        # (and make single-customer latency jitter on a busy machine)
        return est.predict(X, raw_score=True, num_threads=1 if len(X) < 10_000 else 0)

    @staticmethod
    def _forest_proba(est, X):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*sklearn.utils.parallel.delayed")
            return est.predict_proba(X)[:, 1]

    def forest_booster(self):
        """The fitted forest written as one LightGBM booster (random forest only).

        Same probabilities as ``forest_.predict_proba`` (see
        :mod:`crm_ml.churn.forest_booster`); scoring and explaining go through it. Built once
        from ``forest_`` after fitting or loading, so saved files are unchanged.
        """
        booster = getattr(self, "_forest_booster", None)
        if booster is None:
            from crm_ml.churn.forest_booster import forest_to_booster

            booster = self._forest_booster = forest_to_booster(self.forest_)
        return booster

    def _compiled_forest_proba(self, Xe: np.ndarray) -> np.ndarray:
        """The final forest's churn probability via :meth:`forest_booster`."""
        from crm_ml.churn.forest_booster import forest_input

        # one thread for small inputs, as for LightGBM (see _raw)
        return self.forest_booster().predict(forest_input(Xe), raw_score=True,
                                             num_threads=1 if len(Xe) < 10_000 else 0)

    def _size_candidates(self, n: int) -> list:
        """Tree sizes tried on the calibration folds (the best held-out ROC-AUC wins).

        Random forest: ``(depth, min rows per leaf)`` pairs: the depths :data:`FOREST_DEPTHS`
        (or the user's ``max_depth``) with the default leaf size, then the depth that won with
        :data:`FOREST_MIN_LEAF` rows per leaf (``fit`` fills in that depth), unless the user
        set the leaf size (``min_child_samples`` or ``params["min_samples_leaf"]``).
        LightGBM, below 10,000 rows: stumps, 4 and 8 leaves (on small tables the best size
        depends on how additive the signal is, and the folds are cheap). Otherwise, or when
        the user set ``num_leaves``, only the default.
        """
        if self.algorithm == "random_forest":
            extra = self.params or {}
            depths = [self._depth] if "max_depth" in extra else list(FOREST_DEPTHS)
            out = [(d, self._min_leaf) for d in depths]
            user_leaf = self.min_child_samples is not None or "min_samples_leaf" in extra
            if not user_leaf and self._min_leaf != FOREST_MIN_LEAF:
                out.append((_BEST_DEPTH, FOREST_MIN_LEAF))
            return out
        if n < SMALL_TABLE and self.num_leaves is None and "num_leaves" not in (self.params
                                                                               or {}):
            return [4, 2, 8]  # 4 first: it keeps ties
        return [self._leaves]

    def _set_size(self, size) -> None:
        if self.algorithm == "random_forest":
            self._depth, self._min_leaf = size
        else:
            self._leaves = size

    def _bags(self, n: int) -> bool:
        if self.bagging not in ("auto", True, False):
            raise DataValidationError(f"bagging: must be 'auto', True or False, got "
                                      f"{self.bagging!r}", column="bagging",
                                      rule="auto|True|False")
        return n < SMALL_TABLE if self.bagging == "auto" else bool(self.bagging)

    # ------------------------------------------------------------------ fit / predict
    def fit(self, X: pd.DataFrame, y, *, pos_label=None) -> ChurnModel:
        """Fit on a customer table ``X`` (index or column customer_id) and churn labels ``y``.

        Fitting has no side effects: nothing is logged or written unless tracking was asked
        for (:func:`crm_ml.tracking.autolog`, or an active MLflow run).

        Parameters
        ----------
        X : DataFrame
            Any customer table: :func:`crm_ml.features.build` output or your own columns
            (numeric, categorical, object, datetime; missing values allowed). A 2-D array
            is read as columns ``x0``, ``x1``...
        y : Series, array, list or one-column DataFrame
            Two labels: 0/1, True/False or two words such as "yes"/"no" or
            "churned"/"active". A Series is aligned to ``X`` by customer_id; an array or
            list is taken in the row order of ``X``.
        pos_label : optional
            The label that means churned. Default: True, 1, or the one text label among
            :data:`crm_ml.churn.targets.POSITIVE_LABELS` ("yes", "churn", "left"...,
            ignoring case); when none (or both) of the labels reads as churn, a
            :class:`~crm_ml.errors.DataValidationError` asks for ``pos_label=``.

        Returns
        -------
        self
        """
        if self.algorithm not in ALGORITHMS:
            raise DataValidationError(f"algorithm: must be one of {ALGORITHMS}, got "
                                      f"{self.algorithm!r}", column="algorithm",
                                      rule="lightgbm|random_forest")
        X = as_customer_frame(X)
        if len(X) == 0:
            raise DataValidationError("X: no customers to train on (is as_of before the first "
                                      "purchase?)", column="X", rule="non-empty")
        if X.shape[1] == 0:
            raise DataValidationError(f"X: 0 feature(s) (shape={X.shape}) while a minimum of 1 "
                                      "is required.", column="X", rule="at least one column")
        yv, (negative, positive) = binary_target(X.index, y, pos_label)
        minority = int(min(yv.sum(), len(yv) - yv.sum()))
        if minority < MIN_MINORITY:
            warnings.warn(f"ChurnModel: only {minority} customers in the smaller class (of "
                          f"{len(yv)}): probabilities and cross-validated scores will be "
                          "unreliable; use a longer history or more customers",
                          UserWarning, stacklevel=2)
        self.preprocessor_ = TabularPreprocessor(one_hot=self.algorithm == "random_forest",
                                                 max_categories=self.max_categories,
                                                 min_level_customers=self.min_level_customers,
                                                 allow_columns=self.allow_columns)
        Xe = self.preprocessor_.fit_transform(X).to_numpy(dtype=float)
        self.feature_names_in_ = list(self.preprocessor_.columns_)
        self.n_features_in_ = len(self.feature_names_in_)
        self.classes_ = sorted_classes(negative, positive)
        self.pos_label_ = positive
        self.n_train_ = len(yv)
        self._input_width = X.shape[1]  # columns given to fit, for array inputs later
        w = self._weights(yv)
        n = len(yv)
        # only a LightGBM ensemble keeps its fold models (a forest's would just hold memory)
        bag = self._bags(n) and self.algorithm == "lightgbm"
        self._leaves = self.num_leaves or (4 if n < SMALL_TABLE else 15 if n < 200_000 else 31)
        self._depth = (self.params or {}).get("max_depth", FOREST_DEPTHS[0])
        self._min_leaf = self.min_child_samples or _lightgbm_min_leaf(n)
        self._threads = (self.n_jobs if self.n_jobs is not None
                         else 1 if len(yv) < 200_000 else 0)  # 0 = LightGBM's default (all)
        self.calibrator_ = None
        oof = None
        trees, fold_models = [], []
        if self.calibrate:
            from sklearn.metrics import roc_auc_score
            from sklearn.model_selection import StratifiedKFold

            n_min = int(min(yv.sum(), len(yv) - yv.sum()))
            k = min(self.cv, n_min)
            if k < 2:
                raise DataValidationError(
                    "y: calibration needs at least 2 rows of each class; pass calibrate=False",
                    column="y", rule="two rows per class")
            folds = list(StratifiedKFold(k, shuffle=True, random_state=self.random_state)
                         .split(Xe, yv))
            best_auc, default_leaf, best_size = -np.inf, self._min_leaf, None
            for size in self._size_candidates(n):
                # the held-out folds calibration needs anyway also pick the tree size
                if self.algorithm == "random_forest" and size[0] is _BEST_DEPTH:
                    size = (best_size[0], size[1])  # small leaves at the depth that won
                self._set_size(size)
                scores, sizes, models = np.empty(len(yv)), [], []
                for tr, te in folds:
                    est, nt = self._fit_one(Xe[tr], yv[tr], None if w is None else w[tr])
                    scores[te] = self._raw(est, Xe[te])
                    sizes.append(nt)
                    if bag:
                        models.append(est)
                auc = roc_auc_score(yv, scores)
                # a forest's smaller leaves (costlier to explain) must win clearly
                gain = (FOREST_SMALL_LEAF_GAIN if self.algorithm == "random_forest"
                        and size[1] != default_leaf else 0.0)
                if auc > best_auc + gain:
                    best_auc, best_size, oof, trees = auc, size, scores, sizes
                    fold_models = models
            self._set_size(best_size)
            self.calibrator_ = ScoreCalibrator(self.calibration).fit(oof, yv)
        self.num_leaves_ = self._leaves if self.algorithm == "lightgbm" else None
        self.max_depth_ = self._depth if self.algorithm == "random_forest" else None
        self.min_samples_leaf_ = ((self.params or {}).get("min_samples_leaf", self._min_leaf)
                                  if self.algorithm == "random_forest" else None)
        if self.algorithm == "lightgbm":
            if not trees:
                _, nt = self._fit_one(Xe, yv, w)
                trees.append(nt)
            rounds = self.n_estimators or max(int(round(np.mean(trees))), 1)
            self.booster_, self.n_estimators_ = self._fit_one(Xe, yv, w, rounds=rounds)
            self.n_bagged_ = 1
            if fold_models:
                from crm_ml.churn.bagging import average_boosters

                # the calibrator was fitted on single fold models' scores; the mean of the
                # models estimates the same log-odds with less noise
                self.booster_ = average_boosters([*fold_models, self.booster_])
                self.n_bagged_ = len(fold_models) + 1
        else:
            self.forest_, self.n_estimators_ = self._fit_one(Xe, yv, w)
            self._forest_booster = None
            self.forest_booster()
            self.n_bagged_ = None
        self.base_rate_ = float(yv.mean())
        self.cv_metrics_ = {}
        self.oof_proba_ = None
        self._oof_labels = None  # for log_model's held-out tables and plots
        if oof is not None:
            from crm_ml.churn.calibration import cross_fitted_probabilities
            from crm_ml.churn.evaluation import evaluate_predictions

            # held-out calibration only: calibrator_ was fitted on all of ``oof``, so scoring
            # ``oof`` with it grades it on its own fit data (an isotonic ECE of ~1e-7); each
            # fold is calibrated by a calibrator fitted on the other folds' scores instead
            self.oof_proba_ = pd.Series(
                cross_fitted_probabilities(oof, yv, folds, self.calibrator_.method_),
                index=X.index, name="churn_probability")
            self._oof_labels = yv.astype(np.int8)
            ev = evaluate_predictions(yv, self.oof_proba_.to_numpy())
            self.cv_metrics_ = {k: v for k, v in ev.items() if np.isscalar(v)}
        self._stats_ = self._feature_stats(X)
        self.input_ranges_ = InputRanges.from_training(X, self.numeric_features())
        after_fit(self, "churn", data=X, run_name=f"churn-{self.algorithm}")
        return self

    def numeric_features(self) -> list[str]:
        """The input columns the model treats as numbers (those with a training range)."""
        return [c for c in self.feature_names_in_ if self.preprocessor_.kinds_[c] == "numeric"]

    def _feature_stats(self, X: pd.DataFrame) -> dict:
        """Aggregate per-column statistics (medians, quartiles, levels) for synthetic examples."""
        stats = {}
        for c in self.feature_names_in_:
            kind = self.preprocessor_.kinds_[c]
            if kind == "categorical":
                stats[c] = {"kind": kind, "levels": self.preprocessor_.categories_[c][:2]}
            elif kind == "numeric":
                v = pd.to_numeric(X[c], errors="coerce").astype(float)
                q = v.quantile([0.25, 0.5, 0.75]).round(0 if v.abs().max() > 10 else 2)
                stats[c] = {"kind": kind, "q": [float(x) for x in q.fillna(0)]}
            else:
                stats[c] = {"kind": kind}
        return stats

    def raw_score(self, X: pd.DataFrame) -> pd.Series:
        """Uncalibrated score: LightGBM log-odds, or logit of the forest's probability."""
        self._check_fitted()
        X = self._frame(X)
        Xe = self.preprocessor_.transform(X).to_numpy(dtype=float)
        raw = (self._raw(self.booster_, Xe) if self.algorithm == "lightgbm"
               else _logit(self._compiled_forest_proba(Xe)))
        return pd.Series(raw, index=X.index, name="raw_score")

    def predict_proba(self, X: pd.DataFrame) -> pd.Series:
        """Churn probability per customer.

        Returns
        -------
        Series
            ``churn_probability`` indexed by customer_id (the index of ``X``).
        """
        self._check_fitted()
        X = self._frame(X)
        Xe = self.preprocessor_.transform(X).to_numpy(dtype=float)
        if self.algorithm == "lightgbm":
            out = self._raw(self.booster_, Xe)
        else:
            out = self._compiled_forest_proba(Xe)
        return pd.Series(self.probability_from_tree_output(out), index=X.index,
                         name="churn_probability")

    def probability_from_tree_output(self, output) -> np.ndarray:
        """Calibrated churn probability from the trees' summed output.

        Parameters
        ----------
        output : array-like
            What :meth:`explainable_trees`'s booster predicts with ``raw_score=True`` (also
            the SHAP base value plus a row's SHAP values): LightGBM's log-odds, or the random
            forest's churn probability.

        Returns
        -------
        ndarray
            The probability :meth:`predict_proba` gives for the same rows.
        """
        self._check_fitted()
        out = np.asarray(output, dtype=float)
        if self.algorithm == "lightgbm":
            return self.calibrator_.transform(out) if self.calibrator_ else _sigmoid(out)
        return self.calibrator_.transform(_logit(out)) if self.calibrator_ else out

    def explainable_trees(self, Xe: np.ndarray):
        """The trees that score this model as one LightGBM booster, for TreeSHAP.

        Parameters
        ----------
        Xe : ndarray
            Rows encoded by ``preprocessor_.transform``.

        Returns
        -------
        (lightgbm.Booster, ndarray, str)
            The booster (:meth:`forest_booster` for a random forest), ``Xe`` as that booster
            reads it, and the units of its raw output: ``"log-odds"`` or ``"probability"``.
        """
        self._check_fitted()
        if self.algorithm == "lightgbm":
            return self.booster_, Xe, "log-odds"
        from crm_ml.churn.forest_booster import forest_input

        return self.forest_booster(), forest_input(Xe), "probability"

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """Log-odds of the calibrated churn probability (scikit-learn's ranking score).

        As in every scikit-learn binary classifier, positive values mean ``classes_[1]``:
        that is the churn label (``pos_label_``) for 0/1, False/True, "no"/"yes" and every
        pair whose churn label sorts last; when the churn label sorts first (e.g.
        "churn"/"stay") the sign is flipped. Either way ``scoring="roc_auc"`` in
        ``cross_val_score`` and ``GridSearchCV`` measures how well churners are ranked.

        Returns
        -------
        ndarray of shape (n_rows,)
        """
        p = np.clip(self.predict_proba(X).to_numpy(dtype=float), 1e-15, 1 - 1e-15)
        log_odds = np.log(p) - np.log1p(-p)
        return log_odds if self.classes_[1] == self.pos_label_ else -log_odds

    def score(self, X: pd.DataFrame, y, sample_weight=None) -> float:
        """ROC-AUC of the churn probabilities on labelled data (higher is better).

        Parameters
        ----------
        X : DataFrame
            Customers to score.
        y : Series, array or list
            Their labels, in any form :meth:`fit` accepts (the labels of the fit are mapped
            by ``pos_label_``).
        sample_weight : array-like, optional

        Returns
        -------
        float
            Area under the ROC curve: 0.5 is chance, 1.0 a perfect ranking.
        """
        from sklearn.metrics import roc_auc_score

        self._check_fitted()
        X = self._frame(X)
        yv = self._target(X, y)
        return float(roc_auc_score(yv, self.predict_proba(X).to_numpy(),
                                   sample_weight=sample_weight))

    def predict(self, X: pd.DataFrame, threshold: float | None = None, *,
                benefit: float | None = None, cost: float | None = None,
                success_rate: float | None = None,
                contact_rate: float | None = None) -> pd.Series:
        """Flag customers to act on (1) or not (0).

        The threshold is, in order of precedence: ``threshold`` if given; the expected-profit
        break-even ``cost / (success_rate * benefit)`` if ``benefit``, ``cost`` and
        ``success_rate`` are given (:func:`crm_ml.churn.policy.profit_threshold`); the
        riskiest ``contact_rate`` share (exactly that many customers, ties broken by order);
        otherwise 0.5.

        Returns
        -------
        Series
            ``churn_flag`` (0/1) indexed by customer_id; the threshold used is in
            ``result.attrs["threshold"]``.
        """
        from crm_ml.churn.policy import contact_rate_threshold, profit_threshold

        p = self.predict_proba(X)
        explicit = threshold is not None
        if threshold is None:
            if any(v is not None for v in (benefit, cost, success_rate)):
                threshold = profit_threshold(benefit, cost, success_rate)
            elif contact_rate is not None:
                threshold = contact_rate_threshold(p, contact_rate)
                # flags exactly the riskiest share (ties at the threshold broken by order)
            else:
                threshold = 0.5
        elif not 0.0 <= float(threshold) <= 1.0:
            raise DataValidationError(f"threshold: a probability in [0, 1], got {threshold!r}",
                                      column="threshold", rule="0 <= threshold <= 1")
        out = (p >= threshold).astype(int).rename("churn_flag")
        if contact_rate is not None and not explicit and not any(
                v is not None for v in (benefit, cost, success_rate)) and len(p):
            # exactly the riskiest share, ties broken by position (stable)
            k = max(int(np.floor(contact_rate * len(p))), 1)
            top = np.argsort(-p.to_numpy(), kind="stable")[:k]
            flags = np.zeros(len(p), dtype=int)
            flags[top] = 1
            out = pd.Series(flags, index=p.index, name="churn_flag")
        out.attrs["threshold"] = float(threshold)
        return out

    # ------------------------------------------------------------------ evaluate / explain
    def evaluate(self, X: pd.DataFrame, y, *, plots: bool = True) -> dict:
        """Metrics on labelled data (use held-out data for honest numbers).

        Returns
        -------
        dict
            ``roc_auc``, ``pr_auc``, ``brier``, ``log_loss``, ``base_rate``, ``n``,
            ``lift_top_decile``, ``capture_top_decile``, ``expected_calibration_error``,
            ``deciles`` and ``calibration`` (DataFrames) and, with ``plots=True``, ``figures``:
            dict of matplotlib Figures ``roc``, ``pr``, ``calibration``, ``gains``.
        """
        from crm_ml.churn.evaluation import evaluate_predictions, evaluation_figures

        self._check_fitted()
        X = self._frame(X)
        yv = self._target(X, y)
        p = self.predict_proba(X).to_numpy()
        out = evaluate_predictions(yv, p)
        if plots:
            out["figures"] = evaluation_figures(yv, p, label=self.algorithm)
        return out

    def explain(self, X: pd.DataFrame, top_k: int = 3, *, method: str = "auto"):
        """SHAP explanation: global importance and each customer's top drivers in plain words.

        SHAP values explain the *uncalibrated* model: LightGBM's raw log-odds (calibration is a
        monotone map on top, so the drivers and their signs are the same), or the random
        forest's churn probability. ``method="auto"`` uses LightGBM's built-in TreeSHAP
        (the same values as ``shap.TreeExplainer``; on large inputs computed once per group of
        rows the trees cannot tell apart, see :mod:`crm_ml.explain.grouped_treeshap`), for
        the random forest on the forest written as LightGBM trees (:meth:`forest_booster`);
        ``method="shap"`` forces ``shap.TreeExplainer``.

        Returns
        -------
        crm_ml.explain.Explanation
            ``.reasons`` (per customer: churn_probability, reason_1..k, feature_1..k,
            shap_1..k), ``.shap_values``, ``.importance()``, ``.plot_importance()``,
            ``.plot_beeswarm()``.
        """
        from crm_ml.explain import explain_model

        self._check_fitted()
        if isinstance(top_k, bool) or not isinstance(top_k, int | np.integer) or top_k < 1:
            raise DataValidationError(f"top_k: must be a whole number >= 1, got {top_k!r}",
                                      column="top_k", rule="integer >= 1")
        X = self._frame(X)
        if len(X) == 0:
            raise DataValidationError("X: no customers to explain", column="X",
                                      rule="non-empty")
        return explain_model(self, X, top_k=top_k, method=method)

    # ------------------------------------------------------------------ persistence
    def save(self, directory) -> dict:
        """Save in native formats: ``model.txt`` (LightGBM) or ``model.skops`` (forest) and
        ``spec.json`` (preprocessing, calibration, parameters). Returns the paths."""
        self._check_fitted()
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        from crm_ml.tracking.serialization import save_lightgbm, save_sklearn

        if self.algorithm == "lightgbm":
            model_path = save_lightgbm(self.booster_, d / "model.txt")
        else:
            model_path = save_sklearn(self.forest_, d / "model.skops")
        params = {k: v for k, v in self.get_params().items() if k != "params"}
        spec = {"format": 1, "algorithm": self.algorithm, "params": params,
                "classes": self.classes_.tolist(), "pos_label": _json_label(self.pos_label_),
                "extra_params": self.params or {},
                "preprocessor": self.preprocessor_.to_dict(),
                "calibrator": self.calibrator_.to_dict() if self.calibrator_ else None,
                "n_estimators": self.n_estimators_, "num_leaves": self.num_leaves_,
                "max_depth": self.max_depth_, "min_samples_leaf": self.min_samples_leaf_,
                "n_bagged": self.n_bagged_, "base_rate": self.base_rate_,
                "feature_stats": self._stats_}
        spec_path = d / "spec.json"
        spec_path.write_text(json.dumps(spec, indent=1, default=str))
        paths = {"model": str(model_path), "spec": str(spec_path)}
        if getattr(self, "input_ranges_", None) is not None:  # None: loaded from an old file
            paths["input_ranges"] = str(self.input_ranges_.save(d / RANGES_FILE))
        return paths

    @classmethod
    def load(cls, directory=None, *, model_path=None, spec_path=None) -> ChurnModel:
        """Load a model written by :meth:`save` (a directory, or the two file paths)."""
        if directory is not None:
            d = Path(directory)
            spec_path = d / "spec.json"
        from crm_ml.tracking.serialization import load_json, load_lightgbm, load_sklearn

        spec = load_json(spec_path, required=("params", "preprocessor", "calibrator",
                                              "n_estimators", "base_rate"))
        # files from before issue #17 hold the removed ``track`` parameter
        params = {k: v for k, v in spec["params"].items() if k != "track"}
        self = cls(**params, params=spec.get("extra_params") or None)
        self.preprocessor_ = TabularPreprocessor.from_dict(spec["preprocessor"])
        self.feature_names_in_ = list(self.preprocessor_.columns_)
        self.n_features_in_ = len(self.feature_names_in_)
        self.classes_ = np.array(spec.get("classes", [0, 1]))  # absent before issue #17
        self.pos_label_ = spec.get("pos_label", 1)
        self.calibrator_ = (ScoreCalibrator.from_dict(spec["calibrator"])
                            if spec["calibrator"] else None)
        self.n_estimators_ = spec["n_estimators"]
        self.num_leaves_ = spec.get("num_leaves")  # absent in files from before bagging
        self.max_depth_ = spec.get("max_depth")  # absent in files from before issue #16
        self.min_samples_leaf_ = spec.get("min_samples_leaf")  # absent before issue #18
        self.n_bagged_ = spec.get("n_bagged")
        self.base_rate_ = spec["base_rate"]
        self._stats_ = spec.get("feature_stats", {})
        ranges = Path(spec_path).with_name(RANGES_FILE)
        self.input_ranges_ = (load_input_ranges(ranges, self.numeric_features())
                              if ranges.is_file() else None)
        if self.algorithm == "lightgbm":
            self.booster_ = load_lightgbm(model_path or Path(directory) / "model.txt")
        else:
            self.forest_ = load_sklearn(model_path or Path(directory) / "model.skops")
            self.forest_booster()  # built once here, not on the first (timed) request
        return self

    def synthetic_example(self, n: int = 3) -> pd.DataFrame:
        """A SYNTHETIC input example built from aggregate statistics (quartiles, first
        category levels) -- no real customer row or id. Used as the MLflow input example."""
        self._check_fitted()
        rows = {}
        for c in self.feature_names_in_:
            st = self._stats_.get(c, {})
            kind = st.get("kind", "numeric")
            if kind == "categorical":
                lv = st.get("levels") or ["unknown"]
                rows[c] = [lv[i % len(lv)] for i in range(n)]
            elif kind == "numeric":
                q = st.get("q", [0.0, 0.0, 0.0])
                rows[c] = [float(q[i % 3]) for i in range(n)]
            elif kind == "datetime":
                rows[c] = pd.to_datetime(["2024-01-01"] * n)
            else:
                rows[c] = pd.to_timedelta([1] * n, unit="D")
        df = pd.DataFrame(rows, index=pd.Index([f"synthetic-{i + 1}" for i in range(n)],
                                               name="customer_id"))
        return df
