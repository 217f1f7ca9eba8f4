"""Thin layer over the lifetimes fitters: compressed fits, standard errors, convergence checks.

lifetimes evaluates the likelihood once per customer; customers with the same
(frequency, recency, T) contribute identical terms, so we fit on the distinct patterns with
``weights`` (exactly the same maximum-likelihood estimate, much less work on large data, the
condensing Fader & Hardie describe).

Standard errors come from the observed information: the Hessian of the *total* negative
log-likelihood in log-parameters (central finite differences), inverted and mapped to the
natural scale with the delta method (``cov = diag(theta) H^-1 diag(theta)``). We do not reuse
lifetimes' ``variance_matrix_``: its off-diagonal terms scale by ``theta_j^2`` instead of
``theta_i theta_j``, and ``ParetoNBDFitter`` provides no Hessian at all.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crm_ml.errors import CrmMlError

PURCHASE_PARAMS = {
    "bgnbd": ("r", "alpha", "a", "b"),
    "mbgnbd": ("r", "alpha", "a", "b"),
    "pareto_nbd": ("r", "alpha", "s", "beta"),
}
SPEND_PARAMS = {"gamma_gamma": ("p", "q", "v")}


class CLVConvergenceError(CrmMlError, RuntimeError):
    """The maximum-likelihood optimiser did not converge."""


class CLVAssumptionWarning(UserWarning):
    """The data look inconsistent with an assumption of the CLV model."""


@contextlib.contextmanager
def seeded_global_numpy(seed: int = 0):
    """lifetimes' Pareto/NBD fit starts Nelder-Mead from ``np.random.normal`` draws of NumPy's
    global generator: seed it for the fit (same input, same parameters) and restore its state,
    so the caller's random stream is untouched."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def purchase_fitter(kind: str, penalizer: float = 0.0):
    """A fresh lifetimes fitter for ``kind`` (bgnbd, mbgnbd or pareto_nbd)."""
    from lifetimes import BetaGeoFitter, ModifiedBetaGeoFitter, ParetoNBDFitter

    cls = {"bgnbd": BetaGeoFitter, "mbgnbd": ModifiedBetaGeoFitter,
           "pareto_nbd": ParetoNBDFitter}[kind]
    return cls(penalizer_coef=penalizer)


def spend_fitter(kind: str = "gamma_gamma", penalizer: float = 0.0):
    """A fresh lifetimes Gamma-Gamma fitter."""
    from lifetimes import GammaGammaFitter

    return GammaGammaFitter(penalizer_coef=penalizer)


def with_params(fitter, names, values):
    """Attach parameters to a fitter so its prediction methods work without refitting."""
    fitter.params_ = pd.Series([float(v) for v in values], index=list(names), dtype=float)
    return fitter


def compress(df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """Distinct rows of ``df[cols]`` with a ``weight`` column (how many customers share them)."""
    g = df.groupby(cols, sort=True).size().rename("weight").reset_index()
    return g


@dataclass
class FitResult:
    params: dict
    se: dict
    cov: pd.DataFrame
    loglik: float
    n: int
    grad_norm: float
    warnings: list


def _total_nll(kind: str, data: pd.DataFrame):
    """Total negative log-likelihood as a function of log-parameters."""
    w = data["weight"].to_numpy(dtype=float)
    if kind == "gamma_gamma":
        from lifetimes import GammaGammaFitter

        x = data["frequency"].to_numpy(dtype=float)
        m = data["monetary_value"].to_numpy(dtype=float)
        return lambda lp: GammaGammaFitter._negative_log_likelihood(lp, x, m, w, 0.0) * w.sum()
    x = data["frequency"].to_numpy(dtype=float)
    rec = data["recency"].to_numpy(dtype=float)
    T = data["T"].to_numpy(dtype=float)
    if kind == "pareto_nbd":
        from lifetimes import ParetoNBDFitter

        def f(lp):
            with np.errstate(all="ignore"):
                return ParetoNBDFitter._negative_log_likelihood(np.exp(lp), x, rec, T, w, 0.0) \
                    * w.mean()
        return f
    from lifetimes import BetaGeoFitter, ModifiedBetaGeoFitter

    cls = BetaGeoFitter if kind == "bgnbd" else ModifiedBetaGeoFitter
    return lambda lp: cls._negative_log_likelihood(lp, x, rec, T, w, 0.0) * w.sum()


def _hessian(f, x0: np.ndarray, h: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
    """Central finite-difference gradient and Hessian of ``f`` at ``x0``."""
    k = len(x0)
    f0 = f(x0)
    grad = np.zeros(k)
    H = np.zeros((k, k))
    e = np.eye(k) * h
    fp = np.array([f(x0 + e[i]) for i in range(k)])
    fm = np.array([f(x0 - e[i]) for i in range(k)])
    grad = (fp - fm) / (2 * h)
    for i in range(k):
        H[i, i] = (fp[i] - 2 * f0 + fm[i]) / h**2
        for j in range(i + 1, k):
            fpp = f(x0 + e[i] + e[j])
            fpm = f(x0 + e[i] - e[j])
            fmp = f(x0 - e[i] + e[j])
            fmm = f(x0 - e[i] - e[j])
            H[i, j] = H[j, i] = (fpp - fpm - fmp + fmm) / (4 * h**2)
    return grad, H


def _optimise(fitter, kind: str, args, weights, penalizer: float) -> None:
    """lifetimes' own optimisation (same objective, start, BFGS and tolerance) without the
    autograd Hessian and variance matrix it computes afterwards (we compute ours)."""
    from autograd import value_and_grad
    from lifetimes.utils import ConvergenceError, _check_inputs
    from scipy.optimize import minimize

    names = SPEND_PARAMS.get(kind) or PURCHASE_PARAMS[kind]
    if kind == "gamma_gamma":
        freq, m = (np.asarray(a, dtype=float) for a in args)
        _check_inputs(freq, monetary_value=m)
        fargs, scale = (freq, m, weights, penalizer), 1.0
    else:
        freq = np.asarray(args[0]).astype(int)
        rec, T = (np.asarray(a, dtype=float) for a in args[1:])
        _check_inputs(freq, rec, T)
        scale = 1.0 / T.max()
        fargs = (freq, rec * scale, T * scale, weights, penalizer)
    out = minimize(value_and_grad(fitter._negative_log_likelihood), jac=True, tol=1e-7,
                   x0=0.1 * np.ones(len(names)), args=fargs)
    if not out.success:
        raise ConvergenceError(str(out.message))
    theta = np.exp(out.x)
    if kind != "gamma_gamma":
        theta[1] /= scale  # alpha back to the data's time unit
    with_params(fitter, names, theta)


def fit_model(kind: str, data: pd.DataFrame, penalizer: float = 0.0) -> tuple[object, FitResult]:
    """Fit one lifetimes model on compressed ``data`` (with a ``weight`` column).

    Returns the fitted lifetimes fitter and a :class:`FitResult` with parameters, standard
    errors, covariance, log-likelihood and convergence diagnostics.

    Raises
    ------
    CLVConvergenceError
        If the optimiser reports failure or the result is not finite.
    """
    from lifetimes.utils import ConvergenceError

    names = SPEND_PARAMS.get(kind) or PURCHASE_PARAMS[kind]
    w = data["weight"].to_numpy()
    if kind == "gamma_gamma":
        fitter = spend_fitter(kind, penalizer)
        args = (data["frequency"].to_numpy(), data["monetary_value"].to_numpy())
    else:
        fitter = purchase_fitter(kind, penalizer)
        args = (data["frequency"].to_numpy(), data["recency"].to_numpy(), data["T"].to_numpy())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with np.errstate(all="ignore"), contextlib.redirect_stdout(io.StringIO()):
                if kind == "pareto_nbd":
                    with seeded_global_numpy():  # lifetimes prints the optimiser on failure
                        fitter.fit(*args, weights=w)
                else:
                    _optimise(fitter, kind, args, w, penalizer)
    except (ConvergenceError, np.linalg.LinAlgError) as exc:
        raise CLVConvergenceError(
            f"{kind}: the maximum-likelihood fit did not converge ({exc.__class__.__name__}). "
            "Try penalizer=0.001..0.1, another time_unit, or check the data (very few repeat "
            "customers, extreme values).") from exc
    theta = fitter.params_[list(names)].to_numpy(dtype=float)
    if not np.all(np.isfinite(theta)) or np.any(theta <= 0):
        raise CLVConvergenceError(f"{kind}: non-finite or non-positive parameters {theta}")
    notes = []
    f = _total_nll(kind, data)
    lp = np.log(theta)
    ll = -float(f(lp))
    grad, H = _hessian(f, lp)
    n = int(w.sum())
    grad_norm = float(np.max(np.abs(grad)) / max(n, 1))
    cov = np.full((len(names), len(names)), np.nan)
    try:
        np.linalg.cholesky(H)
        cov = np.diag(theta) @ np.linalg.inv(H) @ np.diag(theta)
    except np.linalg.LinAlgError:
        notes.append(f"{kind}: the Hessian at the optimum is not positive definite; the "
                     "parameters are poorly identified and standard errors are NaN.")
    if penalizer == 0 and grad_norm > 1e-3:
        notes.append(f"{kind}: the log-likelihood gradient at the optimum is not ~0 "
                     f"(max |grad|/n = {grad_norm:.2g}); the optimiser may have stopped early.")
    if np.any(theta > 1e4) or np.any(theta < 1e-4):
        notes.append(f"{kind}: parameters at an extreme value ({dict(zip(names, theta, strict=True))}); "
                     "the model is probably degenerate for these data (e.g. no visible dropout).")
    se = np.sqrt(np.clip(np.diag(cov), 0, None)) if np.isfinite(cov).all() else cov.diagonal()
    res = FitResult(
        params=dict(zip(names, map(float, theta), strict=True)),
        se=dict(zip(names, map(float, se), strict=True)),
        cov=pd.DataFrame(cov, index=list(names), columns=list(names)),
        loglik=ll, n=n, grad_norm=grad_norm, warnings=notes)
    return fitter, res
