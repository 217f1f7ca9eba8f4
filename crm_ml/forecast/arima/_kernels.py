"""Compiled (numba) kernels of the fast ARIMA engine.

Parameter vector layout, as in R's ``arima``: ``[ar (p), ma (q), sar (P), sma (Q), beta]``
where ``beta`` are regression coefficients (intercept, drift, exogenous columns).

Two objectives, both written as sums of squares so one Levenberg-Marquardt solver fits both:

* ``CSS``: conditional residuals of the differenced series (the first ``p + P*m`` values
  condition, pre-sample innovations are zero), exactly R's ``method = "CSS"``.
* ``ML``: exact Gaussian likelihood through a Kalman filter on the stationary ARMA of the
  differenced series. With the variance profiled out, ``-2 log L`` is
  ``n log(sum v_t^2 / F_t) + sum log F_t`` + const, which is ``n log`` of the sum of squares of
  ``v_t / sqrt(F_t) * (prod F_t)^(1 / 2n)`` - a least-squares problem again.
"""

from __future__ import annotations

import numpy as np
from numba import njit

CSS = 0
ML = 1
_BAD = 1e150


@njit(cache=True)
def expand_seasonal(c, sc, m, cross):
    """Coefficients ``k`` of the product of a lag polynomial in ``B`` (coefficients ``c``)
    and one in ``B^m`` (``sc``): ``k[i] = c[i]``, ``k[jm - 1] = sc[j]`` and the cross terms
    ``cross * c[i] * sc[j]`` (``-1`` for AR's ``1 - ...`` convention, ``+1`` for MA's)."""
    n, ns = c.shape[0], sc.shape[0]
    k = np.zeros(n + ns * m)
    for i in range(n):
        k[i] += c[i]
    for j in range(ns):
        k[(j + 1) * m - 1] += sc[j]
        for i in range(n):
            k[(j + 1) * m + i] += cross * c[i] * sc[j]
    return k


@njit(cache=True)
def expand_ar(phi, sphi, m):
    """Coefficients ``a`` of ``(1 - phi(B)) (1 - sphi(B^m)) = 1 - sum a_k B^k``."""
    return expand_seasonal(phi, sphi, m, -1.0)


@njit(cache=True)
def expand_ma(theta, stheta, m):
    """Coefficients ``b`` of ``(1 + theta(B)) (1 + stheta(B^m)) = 1 + sum b_k B^k``."""
    return expand_seasonal(theta, stheta, m, 1.0)


@njit(cache=True)
def _split(x, p, q, P, Q, m):
    a = expand_ar(x[:p], x[p + q:p + q + P], m)
    b = expand_ma(x[p:p + q], x[p + q + P:p + q + P + Q], m)
    return a, b


@njit(cache=True)
def _demean(x, w, X, nbeta):
    z = w.copy()
    k0 = x.shape[0] - nbeta
    for j in range(nbeta):
        beta = x[k0 + j]
        for t in range(w.shape[0]):
            z[t] -= X[t, j] * beta
    return z


@njit(cache=True)
def _nonzero(c):
    idx = np.empty(c.shape[0], dtype=np.int64)
    k = 0
    for i in range(c.shape[0]):
        if c[i] != 0.0:
            idx[k] = i
            k += 1
    return idx[:k]


@njit(cache=True)
def css_residuals(z, a, b, ncond, out):
    """Conditional residuals of ``z`` (length n) into ``out[: n - ncond]``; returns their SS."""
    n = z.shape[0]
    e = np.zeros(n)
    ia, ib = _nonzero(a), _nonzero(b)
    ssq = 0.0
    for t in range(ncond, n):
        v = z[t]
        for k in ia:
            v -= a[k] * z[t - k - 1]
        for k in ib:
            if t - k - 1 >= ncond:
                v -= b[k] * e[t - k - 1]
        e[t] = v
        out[t - ncond] = v
        ssq += v * v
    return ssq


@njit(cache=True)
def stationary_cov(a, b, r):
    """State covariance P0 (unit innovation variance) of the Harvey state-space form.

    Solves ``P = T P T' + R R'`` by doubling; returns (P0, ok) with ok False when the AR part
    is not stationary (the series diverges).
    """
    T = np.zeros((r, r))
    for i in range(a.shape[0]):
        T[i, 0] = a[i]
    for i in range(r - 1):
        T[i, i + 1] = 1.0
    R = np.zeros(r)
    R[0] = 1.0
    for i in range(b.shape[0]):
        R[i + 1] = b[i]
    P = np.outer(R, R)
    A = T.copy()
    for _ in range(40):
        P = P + A @ P @ A.T
        A = A @ A
        big = np.max(np.abs(A))
        if big < 1e-14:
            return P, True
        if big > 1e8 or not np.isfinite(big):
            return P, False
    return P, False


@njit(cache=True)
def kalman_residuals(z, a, b, out, raw=False):
    """Standardised innovations ``v_t / sqrt(F_t)`` (``v_t`` if ``raw``) into ``out``.

    Returns (sum log F_t, ok).

    Exact likelihood of a stationary ARMA (Harvey form); switches to the steady-state
    recursion once the state covariance has converged (invertible MA).
    """
    n = z.shape[0]
    r = max(a.shape[0], b.shape[0] + 1)
    P, ok = stationary_cov(a, b, r)
    if not ok:
        return 0.0, False
    phi = np.zeros(r)
    phi[:a.shape[0]] = a
    R = np.zeros(r)
    R[0] = 1.0
    R[1:b.shape[0] + 1] = b
    st = np.zeros(r)
    af = np.zeros(r)
    TP = np.zeros((r, r))
    sumlog = 0.0
    steady = False
    for t in range(n):
        v = z[t] - st[0]
        if steady:
            out[t] = v
            for i in range(r):
                af[i] = st[i] + R[i] * v
            for i in range(r):
                st[i] = phi[i] * af[0] + (af[i + 1] if i + 1 < r else 0.0)
            continue
        F = P[0, 0]
        if not F > 1e-12:
            return 0.0, False
        sumlog += np.log(F)
        out[t] = v if raw else v / np.sqrt(F)
        for i in range(r):
            af[i] = st[i] + P[i, 0] * v / F
        # filtered covariance P - P[:,0] P[0,:] / F (copy the column first)
        col = P[:, 0].copy()
        for i in range(r):
            for j in range(r):
                P[i, j] -= col[i] * col[j] / F
        for i in range(r):
            st[i] = phi[i] * af[0] + (af[i + 1] if i + 1 < r else 0.0)
        # P <- T P T' + R R' with the companion T, O(r^2)
        for i in range(r):
            for j in range(r):
                TP[i, j] = phi[i] * P[0, j] + (P[i + 1, j] if i + 1 < r else 0.0)
        diff = 0.0
        for i in range(r):
            for j in range(r):
                val = TP[i, 0] * phi[j] + (TP[i, j + 1] if j + 1 < r else 0.0) + R[i] * R[j]
                diff = max(diff, abs(val - R[i] * R[j]))
                P[i, j] = val
        if diff < 1e-10:
            steady = True
    return sumlog, True


@njit(cache=True)
def residuals(mode, x, w, X, nbeta, p, q, P, Q, m, out):
    """Least-squares residual vector of the objective ``mode`` at ``x``; False if invalid."""
    a, b = _split(x, p, q, P, Q, m)
    z = _demean(x, w, X, nbeta)
    if mode == CSS:
        css_residuals(z, a, b, a.shape[0], out)
        for i in range(out.shape[0]):
            if not np.isfinite(out[i]) or abs(out[i]) > _BAD:
                return False
        return True
    sumlog, ok = kalman_residuals(z, a, b, out, False)
    if not ok:
        return False
    scale = np.exp(0.5 * sumlog / z.shape[0])
    for i in range(out.shape[0]):
        out[i] *= scale
        if not np.isfinite(out[i]):
            return False
    return True


@njit(cache=True)
def levenberg_marquardt(mode, x0, w, X, nbeta, p, q, P, Q, m, nres, max_iter=200,
                        tol=1e-9):
    """Minimise the sum of squares of :func:`residuals` from ``x0``.

    Returns (x, ssq, converged); ``ssq`` is inf when not even ``x0`` is valid. Forward-
    difference Jacobian, Marquardt's diagonal scaling.
    """
    k = x0.shape[0]
    x = x0.copy()
    r = np.empty(nres)
    if not residuals(mode, x, w, X, nbeta, p, q, P, Q, m, r):
        return x, np.inf, False
    f = np.dot(r, r)
    if k == 0:
        return x, f, True
    J = np.empty((nres, k))
    rn = np.empty(nres)
    lam = 1e-3
    converged = False
    for _ in range(max_iter):
        for j in range(k):
            hj = 1e-7 * max(abs(x[j]), 1e-1)
            xj = x.copy()
            xj[j] += hj
            if not residuals(mode, xj, w, X, nbeta, p, q, P, Q, m, rn):
                xj[j] = x[j] - hj
                hj = -hj
                residuals(mode, xj, w, X, nbeta, p, q, P, Q, m, rn)
            for i in range(nres):
                J[i, j] = (rn[i] - r[i]) / hj
        A = J.T @ J
        g = J.T @ r
        dmax = 0.0
        for j in range(k):
            dmax = max(dmax, A[j, j])
        accepted = False
        while lam < 1e12:
            B = A.copy()
            for j in range(k):
                B[j, j] += lam * (A[j, j] + 1e-12 * dmax + 1e-300)
            step = np.linalg.solve(B, -g)
            xn = x + step
            if residuals(mode, xn, w, X, nbeta, p, q, P, Q, m, rn):
                fn = np.dot(rn, rn)
                if fn < f:
                    accepted = True
                    break
            lam *= 10.0
        if not accepted:
            converged = True
            break
        small = f - fn <= tol * (f + 1e-300)
        x = xn
        r[:] = rn
        f = fn
        lam = max(lam * 0.1, 1e-12)
        if small:
            converged = True
            break
    return x, f, converged


@njit(cache=True)
def min_root_modulus(coef, sign, power):
    """Smallest |root| in B of ``1 + sign * sum coef_k z^k`` with ``z = B^power``."""
    k = coef.shape[0]
    while k > 0 and abs(coef[k - 1]) < 1e-8:
        k -= 1
    if k == 0:
        return 2.0
    C = np.zeros((k, k), dtype=np.complex128)
    # companion of z^k + (c_{k-1}/c_k) z^{k-1} + ... + 1/c_k  (roots of the polynomial)
    lead = sign * coef[k - 1]
    for j in range(k - 1):
        C[0, j] = -(sign * coef[k - 2 - j]) / lead
    C[0, k - 1] = -1.0 / lead
    for i in range(1, k):
        C[i, i - 1] = 1.0
    roots = np.linalg.eigvals(C)
    mn = 1e300
    for z in roots:
        mn = min(mn, abs(z) ** (1.0 / power))
    return mn


@njit(cache=True)
def psi_weights(a_full, b, h):
    """MA(infinity) weights psi_0..psi_{h-1} of ``b(B) / a_full(B)`` (a_full incl. differences)."""
    psi = np.zeros(h)
    psi[0] = 1.0
    for j in range(1, h):
        v = b[j - 1] if j - 1 < b.shape[0] else 0.0
        for k in range(min(j, a_full.shape[0])):
            v += a_full[k] * psi[j - k - 1]
        psi[j] = v
    return psi
