"""ARIMAForecaster: automatic (seasonal) ARIMA for one sales series.

Order selection follows R's ``auto.arima``: ``d`` from KPSS unit-root tests, ``D`` from the
seasonal strength, then a search over ``(p, q)(P, Q)`` and the constant by AICc. Two engines
(``engine=``): ``"statsforecast"`` (default; its port of auto.arima: stepwise search, exact
maximum likelihood) and ``"fast"`` (crm_ml's numba implementation: every order up to
(3,3)(1,1), then a stepwise refinement of the seasonal orders up to ``P, Q <= 2``, CSS
estimates scored by their exact likelihood, forecasts averaged over the best models by Akaike
weight; ~20x faster). ``"bagged"`` averages the fast
engine's forecasts over the series and bootstrap copies of it (opt-in, see the engine
parameter).

Transforms: ``transform="log"``, ``"boxcox"`` (Guerrero's lambda) or a fixed lambda fit the
model on the transformed scale; forecasts and interval bounds are mapped back to the original
scale (bounds exactly, as quantiles; the point forecast is the median unless
``biasadj=True``). ``transform="auto"`` fits the raw series, then the log series with the same
differencing (only when strictly positive), and keeps the one with the lower AICc *measured
on the original scale* (log-scale AICc corrected by the Jacobian, ``+ 2 * sum(log y)``).

The default is ``transform="none"`` - chosen by measurement: on a development set of 103 M1
competition monthly/quarterly series (final year held out) the automatic log choice raised
mean MASE from 0.906 to 0.984 (Guerrero-lambda and raw/log averaging rules were also worse:
see benchmarks/decision-log.md). Use ``"auto"``/``"log"`` for series you know are multiplicative.

Fallbacks (never a crash on a valid series; ``fallback_`` says which one was used and why):

=======================================  ===================================================
situation                                what happens
=======================================  ===================================================
all values zero                          zero forecast, zero-width interval
constant series                          that constant, zero-width interval
fewer than ``min_obs`` (6) observations  mean forecast, interval from the sample sd (NaN
                                         when there is a single value)
fewer than 2 full seasons + 2            non-seasonal ARIMA (season length 1)
zeros or negatives                       no log/Box-Cox transform (fits the raw series)
missing periods / NaN values             ``fill="zero"`` (default, no sales = 0),
                                         ``"interpolate"`` or ``"raise"`` (clear error)
ARIMA estimation fails                   seasonal naive (or naive) forecast
=======================================  ===================================================
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import norm
from sklearn.base import BaseEstimator, RegressorMixin

from crm_ml._logging import get_logger
from crm_ml.errors import DataValidationError, NotFittedError
from crm_ml.forecast import _state
from crm_ml.forecast._index import infer_freq, regularize, season_length_for
from crm_ml.forecast._input import as_dates, as_series, check_levels
from crm_ml.forecast._outputs import ForecastOutputsMixin
from crm_ml.forecast.arima.engines import (
    AutoArimaEngine,
    BaggedArimaEngine,
    FastArimaEngine,
    SimpleEngine,
)
from crm_ml.forecast.transforms import bias_adjust, boxcox, guerrero_lambda, inv_boxcox

log = get_logger("forecast")

_TRANSFORMS = ("auto", "none", "log", "boxcox")
_ENGINES = {"fast": FastArimaEngine, "statsforecast": AutoArimaEngine,
            "bagged": BaggedArimaEngine}


class ARIMAForecaster(ForecastOutputsMixin, RegressorMixin, BaseEstimator):
    """Automatic seasonal ARIMA forecaster for one series, with fallbacks.

    A scikit-learn estimator: ``clone``, ``get_params``/``set_params`` (unknown names are
    refused) and pickling work; :meth:`score` is minus the MASE. ``fit`` writes nothing:
    a fit is logged to MLflow only under :func:`crm_ml.tracking.autolog` or inside an active
    run, or explicitly with :func:`crm_ml.forecast.log_model`.

    Parameters
    ----------
    season_length : int, optional
        Observations per season. Default: from the index frequency (12 monthly, 4 quarterly,
        52 weekly, 7 daily; 1 when unknown).
    transform : {"none", "auto", "log", "boxcox"} or float, default "none"
        ``"none"`` models the series as it is (measured best on average, see module doc).
        ``"auto"``: log when the series is strictly positive and the log model (same
        differencing) has the lower Jacobian-corrected AICc. ``"boxcox"``: Guerrero's
        lambda. A float is a fixed Box-Cox lambda (0 = log). Series with zeros or negatives
        are never transformed.
    level : tuple of int, default (80, 95)
        Interval levels (percent) drawn by :meth:`plot` and logged.
    fill : {"zero", "interpolate", "raise"}, default "zero"
        What to do with missing periods or NaN values (see the module docstring).
    biasadj : bool, default False
        Back-transformed point forecast is the mean (True) rather than the median (False).
    nonnegative : {"auto", True, False}, default "auto"
        Clip forecasts and bounds at 0; "auto" clips when the history has no negative value.
    max_p, max_q, max_P, max_Q : int, optional
        Largest orders the search may reach. Default: the engine's (fast: 3, 3, 1, 1 with
        ``p + q + P + Q <= 5`` for the full search, whose best model is then refined
        stepwise up to ``P, Q <= 2``; statsforecast: 5, 5, 2, 2).
    stepwise : bool, optional
        Stepwise (Hyndman-Khandakar) search rather than all models. Default: the engine's
        (fast: all models, chosen on the M1 development set; statsforecast: stepwise).
    approximation : bool, optional
        Select orders with the conditional-sum-of-squares criterion (R's approximation;
        less accurate). Default: statsforecast engine - its rule (exact likelihood unless
        the series is long); fast engine - CSS estimates scored by their exact likelihood.
    engine : {"statsforecast", "fast", "bagged"}, default "statsforecast"
        ``"statsforecast"``: statsforecast's port of R's auto.arima (stepwise, exact ML).
        ``"fast"``: crm_ml's compiled auto.arima (:mod:`crm_ml.forecast.arima.fast`: CSS
        estimates scored by their exact likelihood, every order up to (3,3)(1,1), then
        stepwise seasonal orders up to 2), forecasting with the Akaike-weighted average of
        the search's ``n_averaged`` best models; ~20x faster, the engine to use for
        thousands of series (``forecast_many``'s default). See benchmarks/decision-log.md for its
        accuracy against statsforecast. ``"bagged"``: the
        fast engine on the series and on ``n_bagged - 1`` BLD-MBB bootstrap copies of it
        (Bergmeir, Hyndman & Benitez 2016), point forecasts averaged; order, criteria and
        interval widths from the model on the series itself. About ``n_bagged`` times the
        fast engine's time. Opt-in: on development series it lowered mean MASE on M3 sales
        series (733: 0.742 vs statsforecast 0.760) but raised it on Tourism series (1.543 vs
        1.454) and M3 non-sales series (0.777 vs 0.759), see benchmarks/decision-log.md; check it
        with :func:`~crm_ml.forecast.backtest` on your own series. Every engine supports
        ``X``.
    n_bagged : int, default 10
        ``engine="bagged"`` only: forecasts averaged (the series and ``n_bagged - 1`` copies).
    random_state : int, default 0
        ``engine="bagged"`` only: seed of the bootstrap copies (same seed, same forecast).
    n_averaged : int, default 10
        ``engine="fast"`` only: the point forecast is the average of the search's best
        models (at most ``n_averaged``, AICc within 10 of the best), weighted by their
        Akaike weights, and the interval that of their mixture (wider when the models
        disagree); 1 forecasts with the best model alone. Order, coefficients and criteria
        describe the best model. On seven development sets (3,548 M1, M3 and Tourism series)
        the average was more accurate than the best model alone on every set.
    min_obs : int, default 6
        Fewer observations than this use the mean fallback.

    Attributes
    ----------
    model_ : str
        Description of the fitted model, e.g. ``"ARIMA(0,1,1)(0,1,1)[12]"``.
    order_, seasonal_order_ : tuple
        ``(p, d, q)`` and ``(P, D, Q, m)``; None for a fallback.
    lambda_ : float or None
        Box-Cox lambda used (0 = log, None = no transform).
    aicc_ : float
        AICc of the fitted model on its own (transformed) scale.
    fallback_ : str or None
        Why a fallback replaced ARIMA, or None.
    n_filled_ : int
        Periods filled by the ``fill`` policy.
    """

    def __init__(self, season_length: int | None = None, transform="none",
                 level=(80, 95), *, fill: str = "zero", biasadj: bool = False,
                 nonnegative="auto", max_p: int | None = None, max_q: int | None = None,
                 max_P: int | None = None, max_Q: int | None = None,
                 stepwise: bool | None = None, approximation: bool | None = None,
                 min_obs: int = 6, engine: str = "statsforecast", n_bagged: int = 10, random_state: int = 0,
                 n_averaged: int = 10):
        self.season_length = season_length
        self.transform = transform
        self.level = level
        self.fill = fill
        self.biasadj = biasadj
        self.nonnegative = nonnegative
        self.max_p = max_p
        self.max_q = max_q
        self.max_P = max_P
        self.max_Q = max_Q
        self.stepwise = stepwise
        self.approximation = approximation
        self.min_obs = min_obs
        self.engine = engine
        self.n_bagged = n_bagged
        self.random_state = random_state
        self.n_averaged = n_averaged

    # ------------------------------------------------------------------ fitting
    def _engine_options(self) -> dict:
        opts = dict(max_p=self.max_p, max_q=self.max_q, max_P=self.max_P, max_Q=self.max_Q,
                    stepwise=self.stepwise, approximation=self.approximation)
        opts = {k: v for k, v in opts.items() if v is not None}  # None: the engine's default
        if self.engine == "bagged":
            opts.update(n_bagged=self.n_bagged, random_state=self.random_state)
        elif self.engine == "fast":
            opts.update(n_averaged=self.n_averaged)
        return opts

    def _engine_class(self):
        if self.engine not in _ENGINES:
            raise DataValidationError(f"engine: must be one of {tuple(_ENGINES)}, got "
                                      f"{self.engine!r}", column="engine", rule="known engine")
        for name, used in (("n_bagged", "bagged"), ("n_averaged", "fast")):
            value = getattr(self, name)
            if self.engine == used and not (isinstance(value, int | np.integer) and value >= 1):
                raise DataValidationError(f"{name}: must be an integer >= 1, got {value!r}",
                                          column=name, rule=">= 1")
        return _ENGINES[self.engine]

    def _check_transform(self):
        t = self.transform
        if isinstance(t, int | float) and not isinstance(t, bool):
            return float(t)
        if t is None:
            return "none"
        if t not in _TRANSFORMS:
            raise DataValidationError(f"transform: must be one of {_TRANSFORMS} or a float, "
                                      f"got {t!r}", column="transform", rule="known transform")
        return t

    def _prepare(self, y, X):
        y = as_series(y).copy()
        if isinstance(y.index, pd.DatetimeIndex):
            if y.index.has_duplicates:
                dup = y.index[y.index.duplicated()]
                raise DataValidationError("y: duplicate timestamps", column="timestamp",
                                          rule="unique", rows=list(dup[:5]))
            y = y.sort_index()
            freq = infer_freq(y.index)
            y, n_filled = regularize(y, freq, self.fill)
        else:
            freq = None
            y = y.reset_index(drop=True)
            n_filled = int(y.isna().sum())
            if n_filled:
                y, _ = regularize(y.set_axis(pd.date_range("2000-01-01", periods=len(y),
                                                           freq="D")), "D", self.fill)
                y = y.reset_index(drop=True)
        Xv = None
        if X is not None:
            X = _align_exog(pd.DataFrame(X), y)
            self.exog_columns_ = [str(c) for c in X.columns]
            Xv = X.to_numpy(dtype=float)
        else:
            self.exog_columns_ = []
        return y, freq, n_filled, Xv

    def fit(self, y, X=None) -> ARIMAForecaster:
        """Select and fit the model.

        Parameters
        ----------
        y : Series
            The series, ideally with a DatetimeIndex (regular; gaps are handled by ``fill``).
            A PeriodIndex or date strings are read as dates (a period by its first day).
            A plain sequence is accepted (then forecasts are indexed 0, 1, ..., and the
            series is non-seasonal unless ``season_length`` is given).
        X : DataFrame, optional
            Exogenous regressors (promotions, holidays...), one row per period of ``y``,
            matched by date when both have dates (a date of ``y`` without a row is refused;
            later rows are ignored), by position otherwise. :meth:`predict` then needs their
            future values under the same column names; coefficients are named after them.

        Returns
        -------
        self
        """
        transform = self._check_transform()
        self._engine_class()
        y, freq, n_filled, Xv = self._prepare(y, X)
        self.freq_ = freq
        self.n_filled_ = n_filled
        self.y_ = y
        self.X_ = Xv
        m = int(self.season_length) if self.season_length else season_length_for(freq)
        self.season_length_ = max(m, 1)
        values = y.to_numpy(dtype=float)
        n = len(values)
        self.fallback_ = None
        self.lambda_ = None
        self.engine_ = None
        self.notes_: list[str] = []
        if n_filled:
            self.notes_.append(f"{n_filled} missing period(s) filled ({self.fill})")
        if freq is None and not self.season_length:
            self.notes_.append("no dates with a regular frequency in the index: season length 1 "
                               "(non-seasonal); pass season_length= for a seasonal model")

        if np.all(values == 0):
            self._use_fallback(values, "zero", "all values are zero")
        elif np.all(values == values[0]):
            self._use_fallback(values, "constant", "constant series")
        elif n < self.min_obs:
            self._use_fallback(values, "mean", f"only {n} observations (< min_obs={self.min_obs})")
        else:
            m_fit = self.season_length_
            if m_fit > 1 and n < 2 * m_fit + 2:
                self.notes_.append(f"{n} observations < 2 seasons + 2: non-seasonal model")
                m_fit = 1
            self.m_fit_ = m_fit
            try:
                self._fit_arima(values, Xv, m_fit, transform)
            except Exception as exc:  # the documented last resort
                log.warning("ARIMA fit failed (%s); using a naive fallback", exc)
                kind = "snaive" if m_fit > 1 else "naive"
                self._use_fallback(values, kind, f"ARIMA estimation failed: {exc}")
        if self.nonnegative == "auto":
            self.clip_ = bool(np.nanmin(values) >= 0)
        else:
            self.clip_ = bool(self.nonnegative)
        self.last_forecast_ = None
        from crm_ml.tracking.autologging import after_fit

        data = pd.DataFrame({"timestamp": y.index, "y": values}) \
            if isinstance(y.index, pd.DatetimeIndex) else None
        after_fit(self, "forecast", data=data)
        return self

    def _use_fallback(self, values, kind, reason):
        self.fallback_ = reason
        self.m_fit_ = self.season_length_ if kind == "snaive" else 1
        self.engine_ = SimpleEngine.fit(values, kind, self.season_length_)
        self.lambda_ = None
        if self.X_ is not None:
            self.notes_.append("exogenous regressors ignored by the fallback")

    def _fit_arima(self, values, Xv, m_fit, transform):
        positive = bool(np.all(values > 0))
        candidates: list[float | None] = []
        if transform == "none" or not positive:
            if transform not in ("none", "auto"):
                self.notes_.append("series has zeros or negatives: no transform")
            candidates = [None]
        elif transform == "log":
            candidates = [0.0]
        elif transform == "boxcox":
            candidates = [round(guerrero_lambda(values, max(m_fit, 2)), 4)]
        elif transform == "auto":
            candidates = [None, 0.0]
        else:
            candidates = [float(transform)]
        engine_class, options = self._engine_class(), self._engine_options()
        # the bagged engine reports the criteria of the model on the series itself, so the
        # candidates are compared with that model and only the winner is bagged
        bag_winner_only = len(candidates) > 1 and engine_class is BaggedArimaEngine
        best = None
        fixed: dict = {}
        for lam in candidates:
            z = values if lam is None else boxcox(values, lam)
            eng = engine_class(m_fit, **options, **fixed)
            if bag_winner_only:
                eng.base.fit(z, Xv)
            else:
                eng.fit(z, Xv)
            if transform == "auto" and lam is None:
                # the log candidate keeps the raw model's differencing, so both likelihoods
                # describe the same observations and the AICc comparison is valid
                fixed = {"d": eng.order[1], "D": eng.seasonal_order[1]}
            score = eng.criteria()["aicc"]
            if lam is not None:
                # AICc on the original scale: add -2 * log|Jacobian| of the transform.
                used = values[-eng.criteria()["nobs"]:]
                score = score - 2.0 * (lam - 1.0) * float(np.sum(np.log(used)))
            if not np.isfinite(score) and best is not None:
                continue
            if best is None or score < best[0]:
                best = (score, lam, eng)
        score, lam, eng = best
        if bag_winner_only:
            eng.fit_members(values if lam is None else boxcox(values, lam), Xv)
        self.aicc_original_scale_ = float(score)
        self.lambda_ = lam
        self.engine_ = eng

    # ------------------------------------------------------------------ attributes
    def _check_fitted(self):
        if getattr(self, "engine_", None) is None:
            raise NotFittedError("ARIMAForecaster is not fitted: call fit(y) first")

    @property
    def is_arima_(self) -> bool:
        self._check_fitted()
        return isinstance(self.engine_, AutoArimaEngine | FastArimaEngine | BaggedArimaEngine)

    @property
    def model_(self) -> str:
        self._check_fitted()
        label = self.engine_.label
        if self.lambda_ is not None:
            label += " on log scale" if self.lambda_ == 0 else f" on Box-Cox({self.lambda_:g})"
        return label

    @property
    def order_(self):
        return self.engine_.order if self.is_arima_ else None

    @property
    def seasonal_order_(self):
        return self.engine_.seasonal_order if self.is_arima_ else None

    @property
    def aicc_(self) -> float:
        return self.engine_.criteria()["aicc"] if self.is_arima_ else float("nan")

    # ------------------------------------------------------------------ prediction
    def _future_index(self, h: int):
        idx = self.y_.index
        if isinstance(idx, pd.DatetimeIndex) and self.freq_:
            return pd.date_range(idx[-1], periods=h + 1, freq=self.freq_)[1:].rename(
                idx.name or "timestamp")
        return pd.RangeIndex(len(idx), len(idx) + h, name="step")

    def _future_X(self, h, X_future):
        if not self.exog_columns_ or not self.is_arima_:
            return None
        if X_future is None:
            raise DataValidationError("X_future: the model uses exogenous regressors "
                                      f"{self.exog_columns_}; pass their {h} future values",
                                      column="X_future", rule="required with X")
        Xf = _match_columns(pd.DataFrame(X_future), self.exog_columns_)
        future = self._future_index(h)
        Xf = Xf.set_axis(as_dates(Xf.index))
        if isinstance(Xf.index, pd.DatetimeIndex) and isinstance(future, pd.DatetimeIndex):
            missing = future.difference(Xf.index)
            if len(missing):
                raise DataValidationError(
                    f"X_future: no rows for {len(missing)} of the {h} forecast dates "
                    f"({', '.join(str(t.date()) for t in missing[:5])}); its rows are matched "
                    "by date", column="X_future", rule="a row for every forecast date",
                    rows=list(missing[:5]))
            Xf = Xf.loc[future]
        elif len(Xf) < h:
            raise DataValidationError(f"X_future: {len(Xf)} rows for h={h}",
                                      column="X_future", rule="h rows")
        Xf = Xf.iloc[:h]
        if Xf.isna().any().any():
            raise DataValidationError("X_future: missing values",
                                      column=str(Xf.columns[Xf.isna().any()][0]),
                                      rule="no missing values")
        return Xf.to_numpy(dtype=float)

    def predict(self, h: int, level=95, X_future=None) -> pd.DataFrame:
        """Forecast ``h`` periods ahead with prediction intervals.

        Parameters
        ----------
        h : int
            Horizon (periods).
        level : int or sequence of int, default 95
            Interval level(s) in percent. One level gives columns ``lower``/``upper``;
            several give ``lower_<level>``/``upper_<level>``.
        X_future : DataFrame, optional
            Future exogenous regressors (required when fitted with ``X``): the same columns
            by name (any order); rows matched by date when it has dates (every forecast date
            needs a row), else the first ``h`` rows.

        Returns
        -------
        DataFrame
            ``forecast``, ``lower``, ``upper`` indexed by the future periods.
        """
        self._check_fitted()
        h = int(h)
        if h < 1:
            raise DataValidationError(f"h: must be >= 1, got {h}", column="h", rule="positive")
        levels = check_levels(level)
        mean, se = self.engine_.forecast(h, self._future_X(h, X_future)) if self.is_arima_ \
            else self.engine_.forecast(h)
        out = pd.DataFrame(index=self._future_index(h))
        lam = self.lambda_
        if lam is None:
            out["forecast"] = mean
        elif self.biasadj:
            out["forecast"] = bias_adjust(mean, se ** 2, lam)
        else:
            out["forecast"] = inv_boxcox(mean, lam)
        for lv in levels:
            z = float(norm.ppf(0.5 + float(lv) / 200.0))
            lo, hi = mean - z * se, mean + z * se
            if lam is not None:
                lo, hi = inv_boxcox(lo, lam), inv_boxcox(hi, lam)
            suffix = "" if len(levels) == 1 else f"_{int(lv) if float(lv).is_integer() else lv}"
            out["lower" + suffix] = lo
            out["upper" + suffix] = hi
        if self.clip_:
            out[:] = np.maximum(out.to_numpy(), 0.0)  # numpy: DataFrame.clip is ~50x slower
        self.last_forecast_ = out
        return out

    def fitted_residuals(self) -> pd.Series:
        """One-step in-sample residuals on the model's (transformed) scale."""
        self._check_fitted()
        if self.is_arima_:
            res = self.engine_.residuals
        else:
            res = np.full(len(self.y_), np.nan)
        return pd.Series(res[-len(self.y_):], index=self.y_.index[-len(res):], name="residual")

    # ------------------------------------------------------------------ reporting
    def summary(self) -> dict:
        """Chosen model, information criteria and residual diagnostics.

        Returns
        -------
        dict
            ``model``, ``order``, ``seasonal_order``, ``season_length``, ``transform``
            (``lambda``), ``aicc``, ``aic``, ``bic``, ``sigma2``, ``n_obs``,
            ``coefficients``, ``ljung_box`` (DataFrame: lag, lb_stat, lb_pvalue, with the
            model's degrees of freedom removed), ``residuals_white_noise`` (p > 0.05; None when
            there is nothing to test: too few residuals or an exact fit),
            ``fallback`` and ``notes``.
        """
        self._check_fitted()
        out = {"model": self.model_, "order": self.order_, "seasonal_order": self.seasonal_order_,
               "season_length": self.season_length_, "frequency": self.freq_,
               "lambda": self.lambda_,
               "transform": {None: "none", 0.0: "log"}.get(self.lambda_, "boxcox"),
               "n_obs": len(self.y_), "fallback": self.fallback_, "notes": list(self.notes_)}
        if self.is_arima_:
            crit = self.engine_.criteria()
            out.update({k: crit[k] for k in ("aicc", "aic", "bic", "sigma2")})
            out["coefficients"] = _named_coefficients(self.engine_.coefficients(),
                                                      self.exog_columns_)
            out["ljung_box"] = self._ljung_box()
            lb = out["ljung_box"]
            out["residuals_white_noise"] = (None if lb.empty
                                            else bool(lb["lb_pvalue"].iloc[-1] > 0.05))
        else:
            out.update({"aicc": float("nan"), "aic": float("nan"), "bic": float("nan"),
                        "sigma2": float(self.engine_.sigma) ** 2, "coefficients": {},
                        "ljung_box": pd.DataFrame(columns=["lag", "lb_stat", "lb_pvalue"]),
                        "residuals_white_noise": None})
        return out

    def _ljung_box(self) -> pd.DataFrame:
        from statsmodels.stats.diagnostic import acorr_ljungbox

        res = self.engine_.residuals
        res = res[np.isfinite(res)]
        d = self.engine_.order[1] + self.engine_.seasonal_order[1] * self.m_fit_
        res = res[d:]
        m = self.m_fit_
        max_lag = min(2 * m if m > 1 else 10, len(res) // 5)
        p, _, q = self.engine_.order
        P, _, Q, _ = self.engine_.seasonal_order
        df = p + q + P + Q
        # an exact fit (e.g. a straight line) leaves no residual variation to test
        exact_fit = len(res) > 0 and np.ptp(res) <= 1e-9 * max(1.0, float(np.abs(res).max()),
                                                                float(np.abs(self.y_).max()))
        if max_lag <= df or len(res) < 8 or exact_fit:
            return pd.DataFrame(columns=["lag", "lb_stat", "lb_pvalue"])
        lags = sorted({lag for lag in (m, max_lag) if df < lag <= max_lag}) or [max_lag]
        lb = acorr_ljungbox(res, lags=lags, model_df=df)
        return lb.reset_index(names="lag")[["lag", "lb_stat", "lb_pvalue"]]

    def _plot_in_sample(self):
        """History and the model's one-step in-sample forecasts (original scale)."""
        from crm_ml.forecast.plotting import plot_forecast

        res = self.fitted_residuals()
        z = self.y_.loc[res.index].to_numpy(dtype=float)
        if self.lambda_ is not None:
            z = boxcox(z, self.lambda_)
        fitted = z - res.to_numpy()
        if self.lambda_ is not None:
            fitted = inv_boxcox(fitted, self.lambda_)
        fc = pd.DataFrame({"forecast": fitted}, index=res.index)
        return plot_forecast(self.y_, fc, [], title=f"{self.model_}: one-step in-sample "
                             "forecasts (future ones need X_future)")

    # ------------------------------------------------------------------ persistence
    def save(self, path) -> Path:
        """Write the fitted forecaster to ``path`` as JSON (no pickle).

        The file holds the parameters, the fitted engine state (orders, coefficients,
        residuals, the Akaike-weighted or bagged member models) and the aggregate series it
        was fitted on, so :meth:`load` forecasts exactly as this object does.

        Parameters
        ----------
        path : str or Path

        Returns
        -------
        Path
        """
        path = Path(path)
        path.write_text(json.dumps(_state.to_dict(self)))
        return path

    @classmethod
    def load(cls, path) -> ARIMAForecaster:
        """Read a forecaster written by :meth:`save`.

        Files written before issue #17 (with the removed ``track``/``backtest_windows``
        parameters) load too.

        Parameters
        ----------
        path : str or Path

        Returns
        -------
        ARIMAForecaster
        """
        return _state.from_dict(json.loads(Path(path).read_text()), cls)


# ---------------------------------------------------------------------- regressors
def _match_columns(X: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``X`` with exactly the regressor ``columns`` (by name, in that order), else a
    :class:`DataValidationError` naming the missing and unexpected columns."""
    names = [str(c) for c in X.columns]
    missing = [c for c in columns if c not in names]
    extra = [c for c in names if c not in columns]
    if missing or extra:
        raise DataValidationError(
            f"X_future: columns must be the regressors the model was fitted with {columns}; "
            f"missing {missing}, unexpected {extra}",
            column=(missing or extra)[0], rule="same regressor columns (by name) as X")
    X = X.set_axis(names, axis=1)
    return X[columns]


def _align_exog(X: pd.DataFrame, y: pd.Series) -> pd.DataFrame:
    """Regressors for the periods of ``y``: matched by date when both have dates (every
    date of ``y`` needs a row; extra rows are ignored), by position otherwise."""
    X = X.set_axis(as_dates(X.index)).set_axis([str(c) for c in X.columns], axis=1)
    if X.columns.has_duplicates:
        raise DataValidationError("X: duplicate column names", column=str(
            X.columns[X.columns.duplicated()][0]), rule="unique column names")
    if isinstance(X.index, pd.DatetimeIndex) and isinstance(y.index, pd.DatetimeIndex):
        missing = y.index.difference(X.index)
        if len(missing):
            raise DataValidationError(
                f"X: no rows for {len(missing)} period(s) of y "
                f"({', '.join(str(t.date()) for t in missing[:5])}); regressors are matched "
                "to y by date, not by position", column="X", rule="a row for every date of y",
                rows=list(missing[:5]))
        if X.index.has_duplicates:
            raise DataValidationError("X: duplicate dates", column="X", rule="unique dates",
                                      rows=list(X.index[X.index.duplicated()][:5]))
        X = X.loc[y.index]
    elif len(X) != len(y):
        raise DataValidationError(f"X: {len(X)} rows but y has {len(y)}", column="X",
                                  rule="aligned with y")
    if X.isna().any().any():
        raise DataValidationError("X: missing values in exogenous regressors",
                                  column=str(X.columns[X.isna().any()][0]),
                                  rule="no missing values",
                                  rows=list(X.index[X.isna().any(axis=1)][:5]))
    return X


def _named_coefficients(coefficients: dict, columns: list[str]) -> dict:
    """The engines call regressor coefficients ``ex_1, ex_2...``: name them after X's
    columns."""
    names = {f"ex_{j + 1}": c for j, c in enumerate(columns)}
    return {names.get(k, k): v for k, v in coefficients.items()}
