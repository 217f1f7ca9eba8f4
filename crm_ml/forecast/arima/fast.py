"""A fast seasonal ARIMA: numba-compiled estimation and R's ``auto.arima`` stepwise search.

``fit_arima`` fits one ARIMA(p,d,q)(P,D,Q)[m] with an optional constant (mean when
``d + D == 0``, drift when ``d + D == 1``) and exogenous regressors, by conditional sum of
squares (``"CSS"``), exact maximum likelihood (``"ML"``) or CSS then ML (``"CSS-ML"``, R's
default). Both objectives are least-squares problems solved by Levenberg-Marquardt in
compiled code (see :mod:`crm_ml.forecast.arima._kernels`), so a fit costs micro- to
milliseconds instead of scipy-driven Python loops.

``auto_arima`` is the Hyndman-Khandakar algorithm as in R's ``forecast::auto.arima`` and
statsforecast's port: ``D`` from the seasonal-strength test, ``d`` from KPSS tests (both
statsforecast's implementations), then a stepwise search over ``(p, q)(P, Q)`` and the
constant by AICc. Models with an AR or MA root within 1.01 of the unit circle are rejected.
The default search fits every order up to (3,3)(1,1) with ``p + q + P + Q <= 5``, then
refines its best model stepwise over seasonal orders up to ``P, Q <= 2`` (R's limits).
By default every candidate is estimated by CSS and scored by the exact likelihood at that
estimate (``"CSS-EL"``): on the M1 development set this matched exact-ML auto.arima's
accuracy at ~1/60 of its time, and beat R's CSS approximation, a final ML refit and an
exact-ML re-ranking of the best few candidates (both tried and removed, see
benchmarks/decision-log.md).

Forecasts use the difference equation of the full (differenced) model with the fitted
innovations; standard errors come from its psi weights, ``se_h = sigma sqrt(sum psi_j^2)``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from crm_ml.forecast.arima import _kernels as K

_METHODS = ("CSS", "ML", "CSS-ML", "CSS-EL")
_SEARCH_METHODS = ("CSS-EL", "CSS")
#: most models the stepwise search may fit (R's ``nmodels``)
_MAX_MODELS = 94
#: Levenberg-Marquardt limits: iterations and relative decrease of the sum of squares
LM_MAX_ITER = 50
LM_TOL = 1e-7


@dataclass
class ArimaFit:
    """One fitted ARIMA model (plain arrays and numbers, JSON-serialisable)."""

    order: tuple[int, int, int]
    seasonal: tuple[int, int, int, int]
    constant: bool
    names: list[str]
    coef: np.ndarray
    sigma2: float
    loglik: float
    aic: float
    aicc: float
    bic: float
    ic: float
    nobs: int
    method: str
    residuals: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)
    xreg: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_exog(self) -> int:
        return 0 if self.xreg is None else self.xreg.shape[1]

    def to_dict(self) -> dict:
        """State as a dict of numbers, lists and arrays."""
        return {"order": list(self.order), "seasonal": list(self.seasonal),
                "constant": self.constant, "names": list(self.names), "coef": self.coef,
                "sigma2": self.sigma2, "loglik": self.loglik, "aic": self.aic,
                "aicc": self.aicc, "bic": self.bic, "ic": self.ic, "nobs": self.nobs,
                "method": self.method, "residuals": self.residuals, "y": self.y,
                "xreg": self.xreg}

    @classmethod
    def from_dict(cls, d: dict) -> ArimaFit:
        """Inverse of :meth:`to_dict`."""
        d = dict(d)
        d["order"] = tuple(int(v) for v in d["order"])
        d["seasonal"] = tuple(int(v) for v in d["seasonal"])
        d["coef"] = np.asarray(d["coef"], dtype=float)
        d["residuals"] = np.asarray(d["residuals"], dtype=float)
        d["y"] = np.asarray(d["y"], dtype=float)
        if d.get("xreg") is not None:
            d["xreg"] = np.asarray(d["xreg"], dtype=float).reshape(len(d["y"]), -1)
        return cls(**d)


# ------------------------------------------------------------------ design and differencing
def difference(v: np.ndarray, d: int, D: int, m: int) -> np.ndarray:
    """Apply ``(1 - B^m)^D (1 - B)^d`` along the first axis (drops the first d + D*m rows)."""
    out = np.asarray(v, dtype=float)
    for _ in range(D):
        out = out[m:] - out[:-m]
    for _ in range(d):
        out = out[1:] - out[:-1]
    return out


def _design(n: int, d: int, D: int, constant: bool, xreg, start: int = 0):
    """Regressors ``(n x k)`` and their names: drift or intercept first, then ``xreg``."""
    cols, names = [], []
    if constant and d + D == 1:
        cols.append(np.arange(start + 1, start + n + 1, dtype=float))
        names.append("drift")
    elif constant and d + D == 0:
        cols.append(np.ones(n))
        names.append("intercept")
    if xreg is not None:
        xreg = np.asarray(xreg, dtype=float).reshape(n, -1)
        cols.extend(xreg.T)
        names.extend(f"ex_{j + 1}" for j in range(xreg.shape[1]))
    X = np.column_stack(cols) if cols else np.zeros((n, 0))
    return X, names


def _arma_names(p, q, P, Q):
    return ([f"ar{i + 1}" for i in range(p)] + [f"ma{i + 1}" for i in range(q)]
            + [f"sar{i + 1}" for i in range(P)] + [f"sma{i + 1}" for i in range(Q)])


def _min_root(x, p, q, P, Q, m) -> float:
    mn = 2.0
    parts = ((x[:p], -1.0, 1), (x[p + q:p + q + P], -1.0, m), (x[p:p + q], 1.0, 1),
             (x[p + q + P:p + q + P + Q], 1.0, m))
    for coef, sign, power in parts:
        if len(coef):
            mn = min(mn, K.min_root_modulus(np.ascontiguousarray(coef), sign, power))
    return mn


def _invert_ma(x, p, q, P, Q) -> np.ndarray:
    """Reflect MA roots inside the unit circle (same exact likelihood, invertible model)."""
    x = np.array(x, dtype=float)
    for lo, k in ((p, q), (p + q + P, Q)):
        if k == 0:
            continue
        coef = x[lo:lo + k]
        roots = np.polynomial.polynomial.polyroots(np.concatenate([[1.0], coef]))
        if np.all(np.abs(roots) >= 1.0):
            continue
        roots = np.where(np.abs(roots) < 1.0, 1.0 / np.conj(roots), roots)
        poly = np.real(np.polynomial.polynomial.polyfromroots(roots))
        x[lo:lo + k] = poly[1:k + 1] / poly[0]
    return x


def _info(loglik, npar, nstar):
    aic = -2.0 * loglik + 2 * npar
    aicc = aic + 2 * npar * (npar + 1) / (nstar - npar - 1) if nstar - npar - 1 > 0 \
        else math.inf
    bic = aic + npar * (math.log(nstar) - 2)
    return aic, aicc, bic


# ------------------------------------------------------------------ one model
def fit_arima(y, order=(0, 0, 0), seasonal=(0, 0, 0, 1), constant: bool = True,
              xreg=None, method: str = "CSS-ML", ic: str = "aicc",
              start: np.ndarray | None = None, residuals: bool = True) -> ArimaFit:
    """Fit one seasonal ARIMA with an optional constant and exogenous regressors.

    Parameters
    ----------
    y : array-like
        The series (no missing values).
    order : (p, d, q)
    seasonal : (P, D, Q, m)
    constant : bool, default True
        Intercept when ``d + D == 0``, drift when ``d + D == 1``; ignored otherwise.
    xreg : array-like, optional
        Exogenous regressors, one row per observation.
    method : {"CSS-ML", "CSS", "ML", "CSS-EL"}
        Estimator: conditional sum of squares, exact likelihood, CSS then exact ML, or CSS
        estimates with the exact likelihood evaluated there (for the criterion).
    ic : {"aicc", "aic", "bic"}
        Criterion stored in ``ic`` (the search minimises it); inf when the fit failed or an
        AR/MA root lies within 1.01 of the unit circle.
    start : ndarray, optional
        Starting parameter vector (ARMA coefficients then regression coefficients).
    residuals : bool, default True
        Compute the innovations and ``sigma2`` (False while searching: only ``ic`` counts).

    Returns
    -------
    ArimaFit
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    y = np.asarray(y, dtype=float)
    p, d, q = (int(v) for v in order)
    P, D, Q, m = (int(v) for v in seasonal)
    if P + D + Q == 0:
        m = 1
    n = len(y)
    X, reg_names = _design(n, d, D, constant, xreg)
    constant = bool(constant and d + D <= 1)
    w = difference(y, d, D, m)
    Xd = np.ascontiguousarray(difference(X, d, D, m)) if X.shape[1] else np.zeros((len(w), 0))
    nw = len(w)
    narma = p + q + P + Q
    nbeta = X.shape[1]
    npar = narma + nbeta + 1
    x0 = np.zeros(narma + nbeta)
    if start is not None and len(start) == len(x0):
        x0 = np.asarray(start, dtype=float).copy()
    elif nbeta and nw:
        x0[narma:] = np.linalg.lstsq(Xd, w, rcond=None)[0]
    names = _arma_names(p, q, P, Q) + reg_names
    ncond = p + P * m
    fail = ArimaFit((p, d, q), (P, D, Q, m), constant, names, x0, math.nan, -math.inf,
                    math.inf, math.inf, math.inf, math.inf, nw, method, np.zeros(n), y,
                    None if xreg is None else np.asarray(xreg, dtype=float).reshape(n, -1))
    if nw - ncond <= narma + nbeta or nw < 2:
        return fail
    x, f, how = x0, math.inf, method
    if method in ("CSS", "CSS-ML", "CSS-EL"):
        x, f, _ = K.levenberg_marquardt(K.CSS, x0, w, Xd, nbeta, p, q, P, Q, m, nw - ncond,
                                        LM_MAX_ITER, LM_TOL)
    if method == "CSS-EL" and np.isfinite(f):
        # exact likelihood at the CSS estimate: a criterion on all n* observations
        out = np.empty(nw)
        if K.residuals(K.ML, x, w, Xd, nbeta, p, q, P, Q, m, out):
            f, how = float(out @ out), "ML"
        else:
            f = math.inf
    if method in ("ML", "CSS-ML"):
        # ML starts from the CSS estimate unless that one is not stationary
        xs = x if np.isfinite(f) and _min_root(x, p, q, P, Q, m) > 1.0 else x0
        xm, fm, _ = K.levenberg_marquardt(K.ML, xs, w, Xd, nbeta, p, q, P, Q, m, nw,
                                          LM_MAX_ITER, LM_TOL)
        if np.isfinite(fm) or method == "ML":
            x, f, how = _invert_ma(xm, p, q, P, Q), fm, "ML"
        else:
            how = "CSS"
    if not np.isfinite(f):
        return fail
    nstar = nw
    if how == "CSS":
        nres = nw - ncond
        s2 = f / nres
        # R's auto.arima CSS criterion: n* log(sigma2) + 2 npar (the offset cancels)
        loglik = -0.5 * nstar * (math.log(2 * math.pi * s2) + 1) if s2 > 0 else math.inf
    else:
        loglik = -0.5 * (nstar * math.log(2 * math.pi * f / nstar) + nstar) if f > 0 \
            else math.inf
    resid = np.zeros(nw)
    if residuals:
        a, b = K._split(x, p, q, P, Q, m)
        if how == "CSS":
            K.css_residuals(K._demean(x, w, Xd, nbeta), a, b, ncond, resid)
            resid = np.concatenate([np.zeros(ncond), resid[:nw - ncond]])
        else:
            K.kalman_residuals(K._demean(x, w, Xd, nbeta), a, b, resid, True)
    aic, aicc, bic = _info(loglik, npar, nstar)
    resid_full = np.concatenate([np.zeros(n - nw), resid])
    sigma2 = float(np.sum(resid ** 2) / max(nstar - npar + 1, 1)) if residuals else math.nan
    crit = {"aic": aic, "aicc": aicc, "bic": bic}[ic]
    if narma and _min_root(x, p, q, P, Q, m) < 1.01:
        crit = math.inf
    return ArimaFit((p, d, q), (P, D, Q, m), constant, names, np.asarray(x, dtype=float),
                    sigma2, float(loglik), float(aic), float(aicc), float(bic), float(crit),
                    int(nstar), how, resid_full, y,
                    None if xreg is None else np.asarray(xreg, dtype=float).reshape(n, -1))


# ------------------------------------------------------------------ forecasting
def forecast(fit: ArimaFit, h: int, xreg_future=None) -> tuple[np.ndarray, np.ndarray]:
    """Point forecasts and standard errors ``h`` steps ahead.

    Parameters
    ----------
    fit : ArimaFit
    h : int
    xreg_future : array-like, optional
        Future exogenous regressors (``h`` rows) when the model has them.

    Returns
    -------
    (mean, se) : tuple of ndarray
    """
    p, d, q = fit.order
    P, D, Q, m = fit.seasonal
    y = fit.y
    n = len(y)
    X, _ = _design(n, d, D, fit.constant, fit.xreg)
    Xf, _ = _design(h, d, D, fit.constant,
                    None if fit.xreg is None else np.asarray(xreg_future, dtype=float)
                    .reshape(h, -1), start=n)
    narma = p + q + P + Q
    beta = fit.coef[narma:]
    u = y - X @ beta if len(beta) else y.copy()
    a, b = K._split(fit.coef, p, q, P, Q, m)
    a_full = _full_ar(a, d, D, m)
    e = np.concatenate([fit.residuals, np.zeros(h)])
    uu = np.concatenate([u, np.zeros(h)])
    for t in range(n, n + h):
        v = 0.0
        for k, ak in enumerate(a_full):
            if ak != 0.0 and t - k - 1 >= 0:
                v += ak * uu[t - k - 1]
        for k, bk in enumerate(b):
            if bk != 0.0 and t - k - 1 >= 0:
                v += bk * e[t - k - 1]
        uu[t] = v
    mean = uu[n:] + (Xf @ beta if len(beta) else 0.0)
    psi = K.psi_weights(a_full, b, h)
    se = np.sqrt(max(fit.sigma2, 0.0) * np.cumsum(psi ** 2))
    return mean, se


def _full_ar(a, d, D, m) -> np.ndarray:
    """``a_full`` with ``1 - sum a_full_k B^k = (1 - sum a_k B^k) (1 - B)^d (1 - B^m)^D``."""
    poly = np.concatenate([[1.0], -np.asarray(a, dtype=float)])
    for _ in range(d):
        poly = np.convolve(poly, [1.0, -1.0])
    for _ in range(D):
        seas = np.zeros(m + 1)
        seas[0], seas[m] = 1.0, -1.0
        poly = np.convolve(poly, seas)
    return -poly[1:]


# ------------------------------------------------------------------ automatic order selection
def _warm_start(results: dict, p, q, P, Q, c):
    """Start values from an already fitted model with one term fewer (the new one at 0)."""
    for dp, dq, dP, dQ in ((1, 0, 0, 0), (0, 1, 0, 0), (0, 0, 1, 0), (0, 0, 0, 1)):
        prev = results.get((p - dp, q - dq, P - dP, Q - dQ, c))
        if prev is None or not math.isfinite(prev.ic):
            continue
        x = prev.coef
        p0, q0, P0, Q0 = p - dp, q - dq, P - dP, Q - dQ
        parts = [x[:p0], [0.0] * dp, x[p0:p0 + q0], [0.0] * dq, x[p0 + q0:p0 + q0 + P0],
                 [0.0] * dP, x[p0 + q0 + P0:p0 + q0 + P0 + Q0], [0.0] * dQ,
                 x[p0 + q0 + P0 + Q0:]]
        return np.concatenate([np.asarray(v, dtype=float) for v in parts])
    return None


def _is_constant(v) -> bool:
    v = np.asarray(v)
    return len(v) == 0 or bool(np.all(v == v[0]))


def select_differences(y, m: int, xreg=None, d: int | None = None,
                       D: int | None = None, max_d: int = 2, max_D: int = 1):
    """``(d, D)``: seasonal strength test for ``D``, KPSS tests for ``d`` (auto.arima's rules).

    With regressors the tests run on the residuals of their least-squares fit.
    """
    from statsforecast.arima import ndiffs, nsdiffs

    xx = np.asarray(y, dtype=float)
    if xreg is not None:
        Xr = np.column_stack([np.ones(len(xx)), np.asarray(xreg, dtype=float)])
        xx = xx - Xr @ np.linalg.lstsq(Xr, xx, rcond=None)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if D is None:
            D = 0 if m <= 1 or len(xx) <= 2 * m else int(nsdiffs(xx, period=m, max_D=max_D))
        dx = difference(xx, 0, D, m) if m > 1 else xx
        if d is None:
            d = int(ndiffs(dx, max_d=max_d)) if len(dx) > 2 else 0
            while d > 0 and len(difference(dx, d, 0, 1)) == 0:
                d -= 1
    return int(d), int(D) if m > 1 else 0


_STEPS_SEASONAL = ((-1, 0), (0, -1), (1, 0), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1))


def _refine(fit, key, best, limits, pq_moves, constant, results, nmodels):
    """Stepwise neighbourhood search from ``key`` (R's one-step moves, first improvement).

    ``limits`` = (max_p, max_q, max_P, max_Q); returns the best fit found.
    """
    p, q, P, Q, c = key
    moves = [(0, 0, dP, dQ, False) for dP, dQ in _STEPS_SEASONAL]
    if pq_moves:
        moves += [(dp, dq, 0, 0, False) for dp, dq in _STEPS_SEASONAL]
    if constant:
        moves.append((0, 0, 0, 0, True))
    improved = True
    while improved and len(results) < nmodels:
        improved = False
        for dp, dq, dP, dQ, flip in moves:
            cand = (p + dp, q + dq, P + dP, Q + dQ, (not c) if flip else c)
            if not all(0 <= v <= lim for v, lim in zip(cand[:4], limits, strict=True)):
                continue
            if (*cand[:4], bool(cand[4])) in results:
                continue
            f = fit(*cand)
            if f.ic < best.ic:
                best, (p, q, P, Q, c) = f, cand
                improved = True
                break
            if len(results) >= nmodels:
                break
    return best


def auto_arima(y, m: int = 1, xreg=None, *, d: int | None = None, D: int | None = None,
               max_p: int = 3, max_q: int = 3, max_P: int = 1, max_Q: int = 1,
               max_d: int = 2, max_D: int = 1, stepwise: bool = False, max_order: int = 5,
               ic: str = "aicc", search_method: str = "CSS-EL", refine_P: int = 2,
               refine_Q: int = 2, return_candidates: bool = False):
    """Select and fit a seasonal ARIMA by the stepwise (Hyndman-Khandakar) search.

    Parameters
    ----------
    y : array-like
        The series (no missing values, not constant).
    m : int, default 1
        Season length (1 = non-seasonal).
    xreg : array-like, optional
        Exogenous regressors (regression with ARIMA errors).
    d, D : int, optional
        Fixed differencing orders; default from the KPSS / seasonal-strength tests.
    max_p, max_q, max_P, max_Q, max_d, max_D : int
        Order limits (``max_p``/``max_q`` also at most ``m - 1`` and a third of the series).
        The defaults (3, 3, 1, 1) with the full search were chosen on the M1 development set;
        ``refine_P``/``refine_Q`` extend the seasonal orders to 2 from the best model.
    stepwise : bool, default False
        Stepwise search (R's default, path-dependent); False fits every model with
        ``p + q + P + Q <= max_order``.
    ic : {"aicc", "aic", "bic"}
    search_method : {"CSS-EL", "CSS"}, default "CSS-EL"
        Estimator used while searching. ``"CSS-EL"``: CSS estimates scored by their exact
        likelihood (fast; as accurate as exact ML on the M1 development set). ``"CSS"``:
        R's approximation criterion ``n* log(sigma2_CSS)``
        (``ARIMAForecaster(approximation=True)``). Every fit starts from an already fitted
        model with one term fewer (the new coefficient at 0), chosen on the M1 development
        set (better optima, fewer iterations). A mean (``d + D == 0``) or drift
        (``d + D == 1``) is always considered; the stepwise search fits at most 94 models.
    refine_P, refine_Q : int, default 2
        After the full search (``stepwise=False``), a stepwise neighbourhood search from its
        best model over seasonal orders up to these limits (R's ``max.P = max.Q = 2``,
        also at most a third of the series in seasons): moves of ``P`` and/or ``Q`` by one
        (R's stepwise steps) and the constant, a move accepted when it lowers the same
        criterion (same estimator, same root checks), repeated from the new best until no
        move helps. Values at most ``max_P``/``max_Q`` (e.g. 0): no refinement. On the M1
        development set: mean MASE 0.915 -> 0.908 for ~6% more time.
    return_candidates : bool, default False
        Also return every model the search fitted, best criterion first (their fits skip
        the innovations; :func:`akaike_average` refits the ones it uses).

    Returns
    -------
    ArimaFit, or (ArimaFit, list of ArimaFit) with ``return_candidates=True``
    """
    if search_method not in _SEARCH_METHODS:
        raise ValueError(f"search_method must be one of {_SEARCH_METHODS}, got "
                         f"{search_method!r}")
    y = np.asarray(y, dtype=float)
    n = len(y)
    m = max(int(m), 1)
    d, D = select_differences(y, m, xreg, d, D, max_d, max_D)
    if m == 1:
        max_P = max_Q = 0
    max_p = min(max_p, n // 3)
    max_q = min(max_q, n // 3)
    max_P = min(max_P, n // (3 * m))
    max_Q = min(max_Q, n // (3 * m))
    if m > 1:
        max_p = min(max_p, m - 1)
        max_q = min(max_q, m - 1)
    constant = d + D <= 1
    dy = difference(y, d, D, m)
    if xreg is None and _is_constant(dy):
        only = fit_arima(y, (0, d, 0), (0, D, 0, m), constant, None, "CSS", ic)
        return (only, [only]) if return_candidates else only
    results: dict[tuple, ArimaFit] = {}

    def fit(p, q, P, Q, c):
        key = (p, q, P, Q, bool(c))
        if key not in results:
            start = _warm_start(results, p, q, P, Q, bool(c))
            results[key] = fit_arima(y, (p, d, q), (P, D, Q, m), bool(c), xreg,
                                     search_method, ic, start=start, residuals=False)
        return results[key]

    if not stepwise:
        for p in range(max_p + 1):
            for q in range(max_q + 1):
                for P in range(max_P + 1):
                    for Q in range(max_Q + 1):
                        if p + q + P + Q <= max_order:
                            for c in ((True, False) if constant else (False,)):
                                fit(p, q, P, Q, c)
    else:
        start = (2, 2, 1, 1) if n >= 10 else (1, 1, 0, 0)
        p, q, P, Q = (min(start[0], max_p), min(start[1], max_q), min(start[2], max_P),
                      min(start[3], max_Q))
        c = constant
        best = fit(p, q, P, Q, c)
        inits = [(0, 0, 0, 0, c)]
        if max_p > 0 or max_P > 0:
            inits.append((int(max_p > 0), 0, int(m > 1 and max_P > 0), 0, c))
        if max_q > 0 or max_Q > 0:
            inits.append((0, int(max_q > 0), 0, int(m > 1 and max_Q > 0), c))
        if constant:
            inits.append((0, 0, 0, 0, False))
        for cand in inits:
            f = fit(*cand)
            if f.ic < best.ic:
                best, (p, q, P, Q, c) = f, cand
        best = _refine(fit, (p, q, P, Q, c), best, (max_p, max_q, max_P, max_Q), True,
                       constant, results, _MAX_MODELS)
    lim_P = min(refine_P, n // (3 * m)) if m > 1 else 0
    lim_Q = min(refine_Q, n // (3 * m)) if m > 1 else 0
    if not stepwise and (lim_P > max_P or lim_Q > max_Q):
        key, best = min(results.items(), key=lambda kv: kv[1].ic)
        if math.isfinite(best.ic):
            _refine(fit, key, best, (max_p, max_q, max(lim_P, max_P), max(lim_Q, max_Q)),
                    False, constant, results, _MAX_MODELS + len(results))
    ranked = sorted(results.values(), key=lambda f: f.ic)
    if not math.isfinite(ranked[0].ic):
        raise ValueError("no suitable ARIMA model found")
    best = ranked[0]
    # the search skipped innovations; refit the winner from its own estimate to get them
    best = fit_arima(y, best.order, best.seasonal, best.constant, xreg, search_method, ic,
                     start=best.coef)
    return (best, ranked) if return_candidates else best


def akaike_average(y, m: int = 1, xreg=None, *, n_models: int = 10, window: float = 10.0,
                   **search) -> list[tuple[float, ArimaFit]]:
    """The best models of :func:`auto_arima`'s search with their Akaike weights.

    Forecasting with a weighted average of the candidate models, rather than the single
    lowest-AICc one, smooths over the search's near ties (Burnham & Anderson 2002, ch. 4;
    Kolassa 2011 for exponential smoothing). The weight of a model is proportional to
    ``exp(-delta / 2)``, ``delta`` its criterion minus the best one's; every candidate shares
    the search's ``d`` and ``D``, so their criteria are comparable. On crm_ml's seven
    development sets (3,548 M1, M3 and Tourism series) it lowered mean MASE below the single
    fast model on every set (see benchmarks/decision-log.md).

    Parameters
    ----------
    y, m, xreg
        As for :func:`auto_arima`.
    n_models : int, default 10
        Most models averaged (1 = the best model alone).
    window : float, default 10
        Only models whose criterion is within this of the best (weight above ``exp(-5)``
        of the best's) are averaged.
    **search
        Passed to :func:`auto_arima`.

    Returns
    -------
    list of (weight, ArimaFit)
        The search's best model first (exactly :func:`auto_arima`'s result), weights
        summing to 1. A candidate whose refit fails is left out.
    """
    def spec(fit):
        return fit.order, fit.seasonal, fit.constant

    y = np.asarray(y, dtype=float)
    best, ranked = auto_arima(y, m, xreg, return_candidates=True, **search)
    top = ranked[0].ic
    chosen = [(0.0, best)]  # ``best`` is the refit of ``ranked[0]``
    method = search.get("search_method", "CSS-EL")
    ic = search.get("ic", "aicc")
    others = [f for f in ranked if spec(f) != spec(best)]
    for cand in others[:max(int(n_models), 1) - 1]:
        delta = cand.ic - top
        if not delta <= window:  # also stops at a non-finite criterion
            break
        # the search skipped the innovations: refit from its own estimate to get them
        fit = fit_arima(y, cand.order, cand.seasonal, cand.constant, xreg, method, ic,
                        start=cand.coef)
        if math.isfinite(fit.ic):
            chosen.append((delta, fit))
    raw = np.exp(-0.5 * np.array([delta for delta, _ in chosen]))
    return [(float(w), fit) for w, (_, fit) in zip(raw / raw.sum(), chosen, strict=True)]


def averaged_forecast(models: list[tuple[float, ArimaFit]], h: int,
                      xreg_future=None) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean forecast of :func:`akaike_average`'s models and its standard error.

    The standard error is that of the weighted mixture of the models' Gaussian forecasts:
    ``sqrt(sum w_i (se_i^2 + (mean_i - mean)^2))``, so disagreement between the models
    widens the interval. Models with a non-finite forecast are left out (weights renormed).
    """
    w, means, ses = [], [], []
    for weight, fit in models:
        mean, se = forecast(fit, h, xreg_future)
        if np.all(np.isfinite(mean)) and np.all(np.isfinite(se)):
            w.append(weight)
            means.append(mean)
            ses.append(se)
    if not w:  # every model failed: the best model's own (non-finite) forecast
        return forecast(models[0][1], h, xreg_future)
    w = np.asarray(w) / np.sum(w)
    means, ses = np.array(means), np.array(ses)
    mean = w @ means
    var = w @ (ses ** 2 + (means - mean) ** 2)
    return mean, np.sqrt(var)
