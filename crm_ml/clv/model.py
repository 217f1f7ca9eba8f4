"""CLVModel: a purchase model (BG/NBD, MBG/NBD or Pareto/NBD) plus Gamma-Gamma spend.

Discounting
-----------
``predict(horizon, discount_rate, margin)`` splits the horizon into equal steps (one per model
period, at most 24 steps) and discounts the purchases expected in each step at the step's
midpoint:

    clv = margin * E[spend per purchase]
          * sum_k (E[X(t_k)] - E[X(t_{k-1})]) / (1 + d) ** years((t_{k-1} + t_k) / 2)

where ``E[X(t)]`` is the conditional expected number of purchases in ``(0, t]`` after ``as_of``,
``d`` is an **annual** discount rate and ``years(t) = t * days_per_period / 365.25``. With
``discount_rate=0`` the sum collapses to ``margin * expected_value * expected_purchases``.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin

from crm_ml._logging import get_logger
from crm_ml.clv import _data
from crm_ml.clv._fitting import (
    PURCHASE_PARAMS,
    SPEND_PARAMS,
    CLVAssumptionWarning,
    _total_nll,
    compress,
    fit_model,
    purchase_fitter,
    spend_fitter,
    with_params,
)
from crm_ml.data.windows import as_of_day
from crm_ml.errors import DataValidationError, ModelFilesError, NotFittedError

log = get_logger("clv")

PREDICT_COLUMNS = ["expected_purchases", "p_alive", "expected_value", "clv", "clv_tier"]
TIER_LABELS = ("top 10%", "next 20%", "rest")
MAX_STEPS = 24
SAVE_FORMAT = "crm_ml.clv.CLVModel/1"


class CLVModel(RegressorMixin, BaseEstimator):
    """Customer lifetime value from a purchase model and the Gamma-Gamma spend model.

    ``CLVModel(purchase_model="bgnbd", method="probabilistic")`` is the published BG/NBD +
    Gamma-Gamma (with ``zero_amount="occasion"`` it reproduces Fader, Hardie & Lee's CDNOW
    parameters); the default adds MBG/NBD and the automatic hybrid (``method``).

    Parameters
    ----------
    purchase_model : {"mbgnbd", "bgnbd", "pareto_nbd"}
        The modified BG/NBD (Batislam et al. 2007; default: allows dropout before the first
        repeat purchase, so a long-inactive one-time buyer is not certainly alive), BG/NBD
        (Fader, Hardie & Lee 2005; P(alive) = 1 for every one-time buyer) or Pareto/NBD
        (Schmittlein et al. 1987). MBG/NBD is the default because it had the lower
        per-customer holdout error and ranked holdout spend better than BG/NBD on the CDNOW
        master cohort, two CDNOW cut-offs and the built-in data
        (``benchmarks/bench_clv_quality.py``); it under-predicts CDNOW's holdout total a
        little more (see the card's totals).
    spend_model : {"gamma_gamma"}
        Gamma-Gamma model of average spend per purchase (Fader, Hardie & Lee 2005b).
    time_unit : {"W", "D", "M"}
        Model period: week (7 days), day, or month (30.4375 days). ``horizon`` is in this unit.
    penalizer : float
        L2 penalty on the parameters (lifetimes ``penalizer_coef``); helps convergence on
        small or odd data, biases the estimates.
    corr_threshold : float
        Warn when |Pearson correlation| between repeat frequency and mean spend exceeds it
        (Gamma-Gamma assumes they are independent).
    zero_amount : {"drop", "occasion"}
        Zero-amount rows: dropped like everywhere in crm_ml (default) or counted as purchase
        occasions (free orders; what reproduces the published CDNOW parameters).
    method : {"auto", "probabilistic", "hybrid"}
        How ``clv`` ranks customers. ``"probabilistic"``: expected purchases x Gamma-Gamma
        spend (the published models, nothing else). ``"hybrid"``: the purchase model's outputs
        and RFM facts feed a LightGBM spend model (:mod:`crm_ml.clv.hybrid`). ``"auto"``
        (default): whichever ranks spend better (normalised Gini) on a backtest inside the
        calibration history (nothing after ``as_of``); see ``method_`` and ``selection_``.
        The purchase and spend parameters (``params_``) are the same for all three.
    window_days : int, optional
        Spend window of the hybrid's inner backtest (default a third of the history, at
        most 182 days); the production booster is trained on the last half of the history
        (at most 365 days), or on ``window_days`` when given.
    random_state : int
        Seed of the hybrid's booster.

    Attributes
    ----------
    params_ : dict
        Fitted parameters, e.g. ``r, alpha, a, b, p, q, v`` (alpha in ``time_unit``).
    standard_errors_ : dict
        Asymptotic standard errors of ``params_``.
    params_table_ : DataFrame
        model, parameter, value, se, ci_low, ci_high.
    summary_ : DataFrame
        The per-customer frequency/recency/T/monetary_value the model was fitted on.
    diagnostics_ : dict
        Log-likelihoods, gradient norms, frequency/spend correlation, data policy report and
        the warnings raised during fit.
    as_of_ : Timestamp or None
    method_ : {"probabilistic", "hybrid"}
        The approach ``predict`` uses.
    selection_ : dict
        The inner backtest behind ``method_``: window, dates, Gini and Spearman of each
        approach and of the past-spend-rate baseline, and the reason for the choice.
    booster_ : lightgbm.Booster or None
        The hybrid's spend model (None when ``method_`` is probabilistic).
    """

    def __init__(self, purchase_model: str = "mbgnbd", spend_model: str = "gamma_gamma",
                 time_unit: str = "W", penalizer: float = 0.0, corr_threshold: float = 0.3,
                 zero_amount: str = "drop", method: str = "auto",
                 window_days: int | None = None, random_state: int = 0):
        self.purchase_model = purchase_model
        self.spend_model = spend_model
        self.time_unit = time_unit
        self.penalizer = penalizer
        self.corr_threshold = corr_threshold
        self.zero_amount = zero_amount
        self.method = method
        self.window_days = window_days
        self.random_state = random_state

    # ------------------------------------------------------------------ fitting
    def _check_params(self) -> None:
        if self.purchase_model not in PURCHASE_PARAMS:
            raise DataValidationError(
                f"purchase_model: must be one of {sorted(PURCHASE_PARAMS)}, "
                f"got {self.purchase_model!r}", column="purchase_model", rule="known model")
        if self.spend_model not in SPEND_PARAMS:
            raise DataValidationError(
                f"spend_model: must be 'gamma_gamma', got {self.spend_model!r}",
                column="spend_model", rule="known model")
        _data.check_time_unit(self.time_unit)
        if self.method not in ("auto", "probabilistic", "hybrid"):
            raise DataValidationError(
                f"method: must be 'auto', 'probabilistic' or 'hybrid', got {self.method!r}",
                column="method", rule="known method")
        if not self.penalizer >= 0:
            raise DataValidationError("penalizer: must be >= 0", column="penalizer",
                                      rule=">= 0")

    def fit(self, transactions: pd.DataFrame, as_of) -> CLVModel:
        """Fit on canonical transactions up to and including the ``as_of`` day.

        Parameters
        ----------
        transactions : DataFrame
            Canonical transactions (customer_id, timestamp, amount). Returns (amount < 0) and
            missing amounts are dropped and counted; zero amounts follow ``zero_amount``
            (see :mod:`crm_ml.clv._data`). Rows after ``as_of`` are ignored. Customers left
            with no purchase are not scored: counted in
            ``diagnostics_["data_policy"]["customers_without_purchase"]`` and reported by a
            :class:`crm_ml.data.DataPolicyWarning`.
        as_of : date-like
            Last day of history.

        Returns
        -------
        CLVModel
            self
        """
        self._check_params()
        tx, report = _data.apply_policy(transactions, as_of, self.zero_amount, warn=True)
        summary = _data.summarise(tx, as_of, self.time_unit, self.zero_amount)
        day = as_of_day(as_of)
        self._fit(summary, day, report)
        if self.method == "probabilistic":
            self._set_probabilistic("method='probabilistic'")
        else:
            from crm_ml.clv.selection import fit_method

            fit_method(self, tx, day)
        return self._after_fit(transactions)

    def fit_summary(self, summary: pd.DataFrame) -> CLVModel:
        """Fit on an existing per-customer table.

        Parameters
        ----------
        summary : DataFrame
            Index customer_id; columns ``frequency`` (repeat purchase periods), ``recency``,
            ``T`` (both in ``time_unit``) and ``monetary_value`` (mean spend of the repeat
            purchases, 0 when frequency is 0) -- lifetimes semantics.

        Returns
        -------
        CLVModel
            self
        """
        self._check_params()
        if self.method == "hybrid":
            raise DataValidationError(
                "method: the hybrid learns from spend over time and needs transactions; "
                "use fit(transactions, as_of) or method='probabilistic'",
                column="method", rule="fit_summary is probabilistic only")
        self._fit(summary, None, {})
        self._set_probabilistic("fit_summary has no transactions to backtest on")
        return self._after_fit(None)

    def _set_probabilistic(self, reason: str) -> None:
        self.method_ = "probabilistic"
        self.booster_ = None
        self.hybrid_window_days_ = None
        self.selection_ = {"chosen": "probabilistic", "reason": reason}

    def _after_fit(self, data) -> CLVModel:
        from crm_ml.tracking.autologging import after_fit

        after_fit(self, "clv", data=data, run_name=f"clv-{self.purchase_model}")
        return self

    def _fit(self, summary, as_of, report) -> CLVModel:
        s = _data.check_summary(summary)
        if s.empty:
            raise DataValidationError("summary: no customers to fit on", column="frequency",
                                      rule="at least one customer")
        notes: list[str] = []
        if len(s) < 50:
            notes.append(f"only {len(s)} customers: parameter estimates will be very noisy.")
        repeat_share = float((s["frequency"] > 0).mean())
        if repeat_share < 0.05:
            notes.append(f"only {repeat_share:.1%} of customers made a repeat purchase; the "
                         "purchase and spend models are poorly identified.")
        pdata = compress(s, ["frequency", "recency", "T"])
        pfit, pres = fit_model(self.purchase_model, pdata, self.penalizer)
        notes += pres.warnings

        rep = s[(s["frequency"] > 0) & (s["monetary_value"] > 0)]
        n_nonpos = int(((s["frequency"] > 0) & (s["monetary_value"] <= 0)).sum())
        if n_nonpos:
            notes.append(f"{n_nonpos} repeat customers have zero mean spend; they are left out "
                         "of the Gamma-Gamma fit and get the population mean spend.")
        if len(rep) < 10:
            raise DataValidationError(
                f"monetary_value: Gamma-Gamma needs repeat customers with positive spend, "
                f"found {len(rep)}", column="monetary_value", rule=">= 10 repeat customers")
        corr = float(np.corrcoef(rep["frequency"], rep["monetary_value"])[0, 1]) \
            if rep["frequency"].nunique() > 1 and rep["monetary_value"].nunique() > 1 else 0.0
        if abs(corr) > self.corr_threshold:
            notes.append(
                f"Gamma-Gamma assumes spend per purchase is independent of purchase frequency, "
                f"but their correlation among repeat customers is {corr:.2f} "
                f"(|corr| > {self.corr_threshold}); expected_value and clv may be biased.")
        for note in notes:  # data-level warnings first, even if the spend fit then fails
            warnings.warn(note, CLVAssumptionWarning, stacklevel=3)
        n_warned = len(notes)
        sfit, sres = fit_model(self.spend_model, compress(rep, ["frequency", "monetary_value"]),
                               self.penalizer)
        notes += sres.warnings
        spend_mean = float(rep["monetary_value"].mean())
        gp, gq, gv = (sres.params[k] for k in ("p", "q", "v"))
        model_mean = gp * gv / (gq - 1) if gq > 1 else float("inf")
        fallback = not (0.5 <= model_mean / spend_mean <= 2.0)
        if fallback:
            notes.append(
                f"Gamma-Gamma misfits the spend distribution: q = {gq:.3f} gives a population "
                f"mean spend of {model_mean:.4g} against an observed mean of {spend_mean:.4g} "
                "(heavy-tailed or multi-modal spend). expected_value falls back to each "
                "customer's own mean repeat spend and, for customers without repeat purchases, "
                "the observed mean over repeat customers.")
        for note in notes[n_warned:]:
            warnings.warn(note, CLVAssumptionWarning, stacklevel=3)

        self.purchase_fitter_ = pfit
        self.spend_fitter_ = sfit
        self.params_ = {**pres.params, **sres.params}
        self.spend_mean_ = spend_mean
        self.spend_fallback_ = bool(fallback)
        self.standard_errors_ = {**pres.se, **sres.se}
        rows = []
        for model, res in ((self.purchase_model, pres), (self.spend_model, sres)):
            for k, v in res.params.items():
                se = res.se[k]
                rows.append({"model": model, "parameter": k, "value": v, "se": se,
                             "ci_low": v - 1.96 * se, "ci_high": v + 1.96 * se})
        self.params_table_ = pd.DataFrame(rows)
        self.covariance_ = {"purchase": pres.cov, "spend": sres.cov}
        self.summary_ = summary
        self.as_of_ = as_of
        self.diagnostics_ = {
            "n_customers": int(len(s)),
            "n_repeat_customers": int((s["frequency"] > 0).sum()),
            "n_spend_fit": int(len(rep)),
            "n_zero_spend_repeat": n_nonpos,
            "purchase_loglik": pres.loglik,
            "spend_loglik": sres.loglik,
            "purchase_grad_norm": pres.grad_norm,
            "spend_grad_norm": sres.grad_norm,
            "frequency_spend_corr": corr,
            "spend_fallback": bool(fallback),
            "spend_model_mean": model_mean,
            "spend_observed_mean": spend_mean,
            "data_policy": report,
            "warnings": notes,
        }
        return self

    # --------------------------------------------------------------- prediction
    def _require_fit(self) -> None:
        if not hasattr(self, "params_"):
            raise NotFittedError("CLVModel is not fitted: call fit() or fit_summary() first")

    def _fitters(self):
        pf = getattr(self, "purchase_fitter_", None)
        if pf is None:
            pf = with_params(purchase_fitter(self.purchase_model),
                             PURCHASE_PARAMS[self.purchase_model],
                             [self.params_[k] for k in PURCHASE_PARAMS[self.purchase_model]])
            self.purchase_fitter_ = pf
        sf = getattr(self, "spend_fitter_", None)
        if sf is None:
            sf = with_params(spend_fitter(), SPEND_PARAMS["gamma_gamma"],
                             [self.params_[k] for k in SPEND_PARAMS["gamma_gamma"]])
            self.spend_fitter_ = sf
        return pf, sf

    def predict(self, horizon: float = 52, discount_rate: float = 0.0, margin: float = 1.0,
                summary: pd.DataFrame | None = None,
                tier_thresholds: tuple[float, float] | None = None) -> pd.DataFrame:
        """Per-customer expected purchases, P(alive), spend per purchase and CLV.

        Parameters
        ----------
        horizon : float
            Prediction horizon in ``time_unit`` periods (52 weeks, 365 days, 12 months...).
        discount_rate : float
            **Annual** discount rate (0.1 = 10 % a year), applied at the midpoint of each
            period step (see the module docstring).
        margin : float
            Profit margin applied to spend, 0..1 (1.0 = revenue CLV).
        summary : DataFrame, optional
            Customers to score (frequency/recency/T/monetary_value in ``time_unit``); default
            the customers the model was fitted on.
        tier_thresholds : (float, float), optional
            Absolute CLV cut-offs for the "top 10%" and "next 20%" tiers; default: the 90th and
            70th percentiles of the scored customers' CLV.

        Returns
        -------
        DataFrame
            Index customer_id; expected_purchases, p_alive, expected_value, clv, clv_tier.

        Raises
        ------
        DataValidationError
            ``horizon`` not finite and > 0, ``discount_rate`` or ``margin`` not finite and
            >= 0, or a ``summary`` that breaks the summary rules (missing or infinite values,
            negative monetary_value, recency > T, ...).
        """
        self._require_fit()
        horizon = _finite_number("horizon", horizon, minimum=0.0, strict=True)
        discount_rate = _finite_number("discount_rate", discount_rate, minimum=0.0)
        margin = _finite_number("margin", margin, minimum=0.0)
        if margin > 1:  # a share of spend: 30 is surely 30 %, which is 0.3
            raise DataValidationError(f"margin: a share of spend between 0 and 1 (0.3 for "
                                      f"30 %), got {margin:g}", column="margin", rule="<= 1")
        s = _data.check_summary(self.summary_ if summary is None else summary)
        pf, sf = self._fitters()
        x, rec, T = (s[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
        key = np.stack([x, rec, T], axis=1)
        uniq, inv = np.unique(key, axis=0, return_inverse=True)
        inv = inv.ravel()
        ux, urec, uT = uniq[:, 0], uniq[:, 1], uniq[:, 2]
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cond = pf.conditional_expected_number_of_purchases_up_to_time
            expected = np.asarray(cond(horizon, ux, urec, uT), dtype=float)
            palive = np.asarray(pf.conditional_probability_alive(ux, urec, uT), dtype=float)
            if discount_rate > 0:
                n_steps = int(min(max(math.ceil(horizon), 1), MAX_STEPS))
                days = _data.TIME_UNIT_DAYS[self.time_unit]
                disc_purchases = np.zeros_like(expected)
                prev = np.zeros_like(expected)
                for k in range(1, n_steps + 1):
                    t = horizon * k / n_steps
                    cur = expected if k == n_steps else np.asarray(cond(t, ux, urec, uT), float)
                    mid = t - horizon / (2 * n_steps)
                    disc_purchases += (cur - prev) / (1 + discount_rate) ** (mid * days / 365.25)
                    prev = cur
            else:
                disc_purchases = expected
        m = s["monetary_value"].to_numpy(dtype=float)
        n_zero = int(((x > 0) & (m == 0)).sum())
        if n_zero and summary is not None:  # at fit time this was warned already
            warnings.warn(
                f"{n_zero} customer(s) with repeat purchases have monetary_value 0; their "
                "expected_value is the population mean spend (as in fit)",
                CLVAssumptionWarning, stacklevel=2)
        x_spend = np.where(m > 0, x, 0.0)
        if not getattr(self, "spend_fallback_", self.params_["q"] <= 1):
            spend = np.asarray(sf.conditional_expected_average_profit(
                pd.Series(x_spend), pd.Series(np.where(m > 0, m, 0.0))), dtype=float)
        else:  # Gamma-Gamma population mean implausible: empirical fallback (warned at fit)
            spend = np.where(x_spend > 0, m, getattr(self, "spend_mean_", np.nan))
        out = pd.DataFrame({
            "expected_purchases": expected[inv],
            "p_alive": np.clip(palive[inv], 0.0, 1.0),
            "expected_value": spend,  # Gamma-Gamma E[spend per purchase | history]
        }, index=s.index)
        source = self.summary_ if summary is None else summary
        if getattr(self, "method_", "probabilistic") == "hybrid" and \
                "total_spend" not in source.columns:
            warnings.warn(
                "summary has no total_spend (spend up to as_of, first purchase included): "
                "this hybrid CLV model's clv falls back to its probabilistic value (expected "
                "purchases x expected spend); build the summary with "
                "crm_ml.clv.purchase_summary for the hybrid's ranking",
                CLVAssumptionWarning, stacklevel=2)
            out["clv"] = margin * out["expected_value"] * disc_purchases[inv]
        elif getattr(self, "method_", "probabilistic") == "hybrid":
            out["clv"] = margin * self._hybrid_value(
                self.summary_ if summary is None else summary, s, out, pf,
                (ux, urec, uT, inv), disc_purchases[inv], horizon)
        else:
            out["clv"] = margin * out["expected_value"] * disc_purchases[inv]
        out["clv_tier"] = assign_tiers(out["clv"], tier_thresholds)
        out.index.name = "customer_id"
        return out

    def _hybrid_value(self, source, s, out, pf, patterns, disc_purchases, horizon):
        """The hybrid's value: booster spend over its window, spread like the purchases."""
        from crm_ml.clv import hybrid

        total = pd.to_numeric(source["total_spend"], errors="coerce").reindex(s.index)
        bad = total.isna() | ~np.isfinite(total)
        if bad.any():
            raise DataValidationError(
                f"summary: total_spend must be a finite number in {int(bad.sum())} row(s); "
                f"offending rows: {list(s.index[bad.to_numpy()][:5])}", column="total_spend",
                rule="finite", rows=s[bad.to_numpy()].head(5))
        ux, urec, uT, inv = patterns
        unit = _data.TIME_UNIT_DAYS[self.time_unit]
        window = self.hybrid_window_days_ / unit
        cond = pf.conditional_expected_number_of_purchases_up_to_time
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ew = np.asarray(cond(window, ux, urec, uT), dtype=float)[inv]
        win = pd.DataFrame({"expected_purchases": ew, "p_alive": out["p_alive"].to_numpy(),
                            "expected_value": out["expected_value"].to_numpy()}, index=s.index)
        X = hybrid.features(win, s.assign(total_spend=total), unit)
        spend = hybrid.predict_booster(self.booster_, X)
        with np.errstate(all="ignore"):
            shape = np.where(ew > 1e-12, disc_purchases / ew, horizon / window)
        return spend * shape

    def spend_features(self, summary: pd.DataFrame | None = None) -> pd.DataFrame:
        """The hybrid's spend-model inputs (:data:`crm_ml.clv.hybrid.FEATURES`) per customer.

        Parameters
        ----------
        summary : DataFrame, optional
            Customers to describe (with ``total_spend``); default the fitted customers.

        Returns
        -------
        DataFrame
            Index customer_id, one column per feature.

        Raises
        ------
        NotFittedError
            The model is not fitted or its ``method_`` is not ``"hybrid"``.
        """
        from crm_ml.clv import hybrid

        self._require_fit()
        if getattr(self, "method_", "probabilistic") != "hybrid":
            raise NotFittedError("spend_features: this CLVModel has no spend model "
                                 f"(method_ is {getattr(self, 'method_', 'probabilistic')!r})")
        source = self.summary_ if summary is None else summary
        unit = _data.TIME_UNIT_DAYS[self.time_unit]
        win = self.predict(horizon=self.hybrid_window_days_ / unit, summary=summary)
        return hybrid.features(win, source.reindex(win.index), unit)

    def tier_thresholds(self, clv: pd.Series) -> tuple[float, float]:
        """Absolute CLV cut-offs (90th and 70th percentiles) used for tiers."""
        return float(clv.quantile(0.9)), float(clv.quantile(0.7))

    # ------------------------------------------------------------ persistence
    def to_dict(self) -> dict:
        """JSON-serialisable parameters (no customer data)."""
        self._require_fit()
        return {"purchase_model": self.purchase_model, "spend_model": self.spend_model,
                "time_unit": self.time_unit, "penalizer": self.penalizer,
                "corr_threshold": self.corr_threshold, "zero_amount": self.zero_amount,
                "method": self.method, "window_days": self.window_days,
                "random_state": self.random_state,
                "method_fitted": getattr(self, "method_", "probabilistic"),
                "selection": getattr(self, "selection_", None),
                "hybrid": None if getattr(self, "booster_", None) is None else {
                    "window_days": self.hybrid_window_days_,
                    "lightgbm_model": self.booster_.model_to_string()},
                "params": dict(self.params_), "standard_errors": dict(self.standard_errors_),
                "spend_mean": getattr(self, "spend_mean_", None),
                "spend_fallback": getattr(self, "spend_fallback_", None),
                "as_of": None if self.as_of_ is None else str(self.as_of_.date())}

    @classmethod
    def from_dict(cls, d: dict) -> CLVModel:
        """Rebuild a fitted model (for prediction on a summary) from :meth:`to_dict` output.

        Keys it does not know (such as ``track``, which older specs may hold)
        are ignored; ``corr_threshold`` and ``zero_amount``, missing from older specs, default to
        the constructor defaults.
        """
        m = cls(purchase_model=d["purchase_model"], spend_model=d["spend_model"],
                time_unit=d["time_unit"], penalizer=d.get("penalizer", 0.0),
                corr_threshold=d.get("corr_threshold", 0.3),
                zero_amount=d.get("zero_amount", "drop"),
                method=d.get("method", "probabilistic"), window_days=d.get("window_days"),
                random_state=d.get("random_state", 0))
        m._set_probabilistic("loaded")
        if d.get("selection") is not None:
            m.selection_ = dict(d["selection"])
        if d.get("method_fitted") == "hybrid":
            import lightgbm as lgb

            h = d.get("hybrid") or {}
            try:
                m.booster_ = lgb.Booster(model_str=h["lightgbm_model"])
            except Exception as exc:  # KeyError, TypeError, lightgbm.basic.LightGBMError
                raise ModelFilesError(f"hybrid CLV model: its LightGBM spend model cannot be "
                                      f"read ({exc})") from exc
            m.hybrid_window_days_ = int(h["window_days"])
            m.method_ = "hybrid"
        m.params_ = {k: float(v) for k, v in d["params"].items()}
        m.standard_errors_ = {k: float(v) for k, v in d.get("standard_errors", {}).items()}
        m.as_of_ = pd.Timestamp(d["as_of"]) if d.get("as_of") else None
        if d.get("spend_mean") is not None:
            m.spend_mean_ = float(d["spend_mean"])
        if d.get("spend_fallback") is not None:
            m.spend_fallback_ = bool(d["spend_fallback"])
        return m

    def save(self, path) -> Path:
        """Save the fitted parameters as JSON (:meth:`to_dict`; no customer data).

        A model loaded back predicts on a ``summary`` (the training customers are not stored).

        Parameters
        ----------
        path : path-like
            Target file, conventionally ``*.json``; written atomically.

        Returns
        -------
        Path
        """
        return write_json_atomic({"format": SAVE_FORMAT, **self.to_dict()}, path)

    @classmethod
    def load(cls, path) -> CLVModel:
        """Load a model written by :meth:`save` (or a pyfunc's ``clv_params.json`` spec).

        Raises
        ------
        ModelFilesError
            The file is missing, not JSON, or lacks the model's parameters.
        """
        from crm_ml.tracking.serialization import load_json

        d = load_json(path)
        d = d.get("model", d) if isinstance(d, dict) else d  # a pyfunc spec wraps the model
        needed = ("purchase_model", "spend_model", "time_unit", "params")
        if not isinstance(d, dict) or any(k not in d for k in needed):
            raise ModelFilesError(f"{path}: not a saved CLVModel (needs {', '.join(needed)})",
                                  path=str(path))
        return cls.from_dict(d)

    # -------------------------------------------------------------- scoring
    def score(self, transactions: pd.DataFrame, as_of=None) -> float:
        """Mean log-likelihood per customer of the purchase model (higher is better).

        The RFM summary (frequency, recency, T in ``time_unit``) of ``transactions`` at
        ``as_of`` is built under the same data policy as :meth:`fit`, and the fitted purchase
        model (BG/NBD, MBG/NBD or Pareto/NBD) gives each customer the log-likelihood of their
        purchase history; the score is the mean over customers. On the training data it is
        ``diagnostics_["purchase_loglik"] / diagnostics_["n_customers"]``. It compares
        models and parameter settings on the same customers, period and ``time_unit`` (the
        likelihood has time units: values for different ``time_unit`` are not comparable).
        The Gamma-Gamma spend model is not part of it; see :meth:`backtest` for value metrics.

        Parameters
        ----------
        transactions : DataFrame
            Canonical transactions (customer_id, timestamp, amount).
        as_of : date-like, optional
            Last day of history; default the ``as_of`` the model was fitted at.

        Returns
        -------
        float
            Mean log-likelihood per customer.
        """
        self._require_fit()
        if as_of is None:
            if self.as_of_ is None:
                raise DataValidationError(
                    "as_of: the model was fitted on a summary (fit_summary); give as_of",
                    column="as_of", rule="required")
            as_of = self.as_of_
        tx, _ = _data.apply_policy(transactions, as_of, self.zero_amount, warn=True)
        summary = _data.check_summary(_data.summarise(tx, as_of, self.time_unit,
                                                      self.zero_amount))
        return self.score_summary(summary)

    def score_summary(self, summary: pd.DataFrame) -> float:
        """:meth:`score` on an existing frequency/recency/T summary (lifetimes semantics)."""
        self._require_fit()
        s = _data.check_summary(summary)
        if s.empty:
            raise DataValidationError("summary: no customers to score", column="frequency",
                                      rule="at least one customer")
        names = PURCHASE_PARAMS[self.purchase_model]
        theta = np.array([self.params_[k] for k in names], dtype=float)
        nll = _total_nll(self.purchase_model, compress(s, ["frequency", "recency", "T"]))
        return float(-nll(np.log(theta)) / len(s))

    # ------------------------------------------------------------- backtest
    def backtest(self, transactions: pd.DataFrame, as_of, horizon_days: int,
                 plots: bool = True) -> dict:
        """Fit a copy on history up to ``as_of``; evaluate it on ``(as_of, as_of + horizon_days]``.

        See :func:`crm_ml.clv.backtest`; this model is not modified.
        """
        from crm_ml.clv.validation import backtest

        return backtest(self, transactions, as_of, horizon_days, plots=plots)

    def validate(self, transactions: pd.DataFrame, calibration_end, holdout_end,
                 plots: bool = True) -> dict:
        """Alias of :meth:`backtest` with ``as_of=calibration_end`` and the horizon running to
        ``holdout_end`` (see :func:`crm_ml.clv.validate`)."""
        from crm_ml.clv.validation import validate

        return validate(self, transactions, calibration_end, holdout_end, plots=plots)


def write_json_atomic(obj: dict, path) -> Path:
    """Write ``obj`` as JSON to ``path`` via a temporary file (a failure changes nothing)."""
    import json
    import os
    import tempfile

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(obj, fh, indent=2, allow_nan=True)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def _finite_number(name: str, value, minimum: float, strict: bool = False) -> float:
    """``value`` as a float; DataValidationError unless finite and >= (or >) ``minimum``."""
    rule = f"finite number {'>' if strict else '>='} {minimum:g}"
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = float("nan")
    if not (math.isfinite(v) and (v > minimum if strict else v >= minimum)):
        raise DataValidationError(f"{name}: must be a {rule}, got {value!r}", column=name,
                                  rule=rule)
    return v


def assign_tiers(clv: pd.Series, thresholds: tuple[float, float] | None = None) -> pd.Series:
    """CLV tier: "top 10%", "next 20%" or "rest".

    With ``thresholds=None`` the tiers are by rank among the given customers (ties broken by
    order); otherwise ``clv >= thresholds[0]`` is top and ``clv >= thresholds[1]`` next.
    """
    n = len(clv)
    if thresholds is None:
        rank = clv.rank(method="first", ascending=False).to_numpy() / max(n, 1)
        top, nxt = rank <= 0.1, rank <= 0.3
    else:
        v = clv.to_numpy()
        top, nxt = v >= thresholds[0], v >= thresholds[1]
    tier = np.where(top, TIER_LABELS[0], np.where(nxt, TIER_LABELS[1], TIER_LABELS[2]))
    return pd.Series(pd.Categorical(tier, categories=list(TIER_LABELS), ordered=True),
                     index=clv.index)
