"""How well a ranking finds the customers a campaign changes: Qini curve, Qini coefficient, AUUC.

Definitions (on a randomised campaign: ``y`` converted 0/1, ``treated`` 1 sent / 0 control):

Qini curve (Radcliffe 2007, as scikit-uplift's ``qini_curve``)
    Customers sorted by score, highest first; at each cut (after the last customer of every
    distinct score) ``Q(k) = Y_t(k) - Y_c(k) * N_t(k) / N_c(k)``: conversions among the
    treated in the top k minus the control conversions scaled to the treated count
    (incremental conversions, had the top k treated customers' arm been the whole top k);
    ``Q(0) = 0``.
Random targeting
    The straight line from ``(0, 0)`` to ``(N, Q(N))``.
Perfect ranking
    Treated converters first, then everyone else, control converters last (scikit-uplift's
    ``perfect_qini_curve`` with ``negative_effect=True``).
Qini coefficient (normalised, scikit-uplift's ``qini_auc_score``)
    ``(A_model - A_random) / (A_perfect - A_random)``, ``A`` the trapezoid area under each
    curve over ``k``: 0 for random targeting, 1 for the perfect ranking, negative when the
    ranking is worse than random. ``normalize=False`` gives the area between the model's curve
    and random with both axes per customer (``(A_model - A_random) / N**2``).
Uplift curve and AUUC
    ``U(k) = (Y_t(k) / N_t(k) - Y_c(k) / N_c(k)) * k / N``: the conversion-rate difference
    in the top k, times the share targeted. AUUC is the trapezoid area under ``U`` over the
    share targeted (0..1); random targeting's expected AUUC is half the overall uplift.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from crm_ml.errors import DataValidationError

__all__ = ["UpliftEvaluation", "auuc", "evaluate_uplift", "perfect_qini_curve", "qini_coefficient",
           "qini_curve", "uplift_by_decile", "uplift_curve"]


def _binary(v, name: str) -> np.ndarray:
    a = pd.Series(v).to_numpy() if not isinstance(v, np.ndarray) else v
    try:
        f = np.asarray(a, dtype=float)
    except (TypeError, ValueError) as exc:
        raise DataValidationError(f"{name}: must be 0/1", column=name, rule="0 or 1") from exc
    bad = ~np.isin(f, (0.0, 1.0))
    if bad.any():
        rows = np.flatnonzero(bad)[:5].tolist()
        raise DataValidationError(f"{name}: must be 0/1; rows {rows} hold "
                                  f"{[a[i] for i in rows]}", column=name, rule="0 or 1",
                                  rows=rows)
    return f.astype(np.int64)


def check_outcomes(y, treated, score=None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Validate ``y``/``treated`` (0/1, same length, both arms present) and ``score`` (finite).

    Returns
    -------
    (ndarray, ndarray, ndarray or None)

    Raises
    ------
    DataValidationError
        Values not 0/1, lengths differ, one arm missing, or a score NaN/infinite.
    """
    y, t = _binary(y, "y"), _binary(treated, "treated")
    if len(y) != len(t):
        raise DataValidationError(f"y has {len(y)} rows but treated has {len(t)}",
                                  column="treated", rule="same length as y")
    if t.sum() == 0 or t.sum() == len(t):
        arm = "treated" if t.sum() == 0 else "control"
        raise DataValidationError(
            f"treated: no {arm} customers; uplift needs both a treated and a control group "
            "(a randomised hold-out)", column="treated", rule="both 0 and 1 present")
    s = None
    if score is not None:
        s = np.asarray(score, dtype=float)
        if s.shape != y.shape:
            raise DataValidationError(f"scores have {s.size} rows but y has {len(y)}",
                                      column="uplift", rule="same length as y")
        bad = ~np.isfinite(s)
        if bad.any():
            raise DataValidationError("uplift: scores must be finite",
                                      column="uplift", rule="finite",
                                      rows=np.flatnonzero(bad)[:5].tolist())
    return y, t, s


def _cuts(y, score, treated):
    """Cumulative counts at each distinct score, highest scores first."""
    order = np.argsort(score, kind="mergesort")[::-1]
    y, t, s = y[order], treated[order], score[order]
    idx = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]
    n_all = idx + 1
    n_t = np.cumsum(t)[idx]
    y_t = np.cumsum(y * t)[idx]
    y_c = np.cumsum(y * (1 - t))[idx]
    return n_all, n_t, n_all - n_t, y_t, y_c


def _qini_values(y, score, t) -> tuple[np.ndarray, np.ndarray]:
    n_all, n_t, n_c, y_t, y_c = _cuts(y, score, t)
    q = y_t - y_c * np.divide(n_t, n_c, out=np.zeros(len(n_t)), where=n_c != 0)
    return np.r_[0, n_all].astype(float), np.r_[0.0, q]


def qini_curve(y, uplift, treated) -> pd.DataFrame:
    """Qini curve of a ranking (see the module docstring for the definition).

    Parameters
    ----------
    y : array-like of 0/1
        Converted.
    uplift : array-like of float
        The score customers are ranked by (higher first).
    treated : array-like of 0/1
        1 sent, 0 control.

    Returns
    -------
    DataFrame
        ``n_targeted``, ``share_targeted``, ``incremental_conversions`` (``Q(k)``), from
        ``(0, 0)``.
    """
    y, t, s = check_outcomes(y, treated, uplift)
    x, q = _qini_values(y, s, t)
    return pd.DataFrame({"n_targeted": x.astype(np.int64), "share_targeted": x / len(y),
                         "incremental_conversions": q})


def perfect_qini_curve(y, treated) -> pd.DataFrame:
    """The Qini curve of the perfect ranking (treated converters first, control converters
    last), columns as :func:`qini_curve`."""
    y, t, _ = check_outcomes(y, treated)
    return qini_curve(y, y * t - y * (1 - t), t)


def qini_coefficient(y, uplift, treated, *, normalize: bool = True) -> float:
    """Qini coefficient: area between the ranking's Qini curve and random targeting.

    Parameters
    ----------
    y, uplift, treated : array-like
        As in :func:`qini_curve`.
    normalize : bool, default True
        Divide by the same area of the perfect ranking (scikit-uplift's ``qini_auc_score``:
        1 perfect, 0 random); False: the area with both axes per customer, ``/ N**2``.

    Returns
    -------
    float
    """
    y, t, s = check_outcomes(y, treated, uplift)
    x, q = _qini_values(y, s, t)
    n = len(y)
    random_area = q[-1] * n / 2.0
    area = float(np.trapezoid(q, x)) - random_area
    if not normalize:
        return area / n ** 2
    xp, qp = _qini_values(y, (y * t - y * (1 - t)).astype(float), t)
    perfect = float(np.trapezoid(qp, xp)) - random_area
    return area / perfect if perfect != 0 else float("nan")


def uplift_curve(y, uplift, treated) -> pd.DataFrame:
    """Uplift curve: conversion-rate difference in the top k times the share targeted.

    Returns
    -------
    DataFrame
        ``n_targeted``, ``share_targeted``, ``incremental_per_customer`` (``U(k)``, 0 while
        the top k has no treated or no control customer), from ``(0, 0)``.
    """
    y, t, s = check_outcomes(y, treated, uplift)
    n_all, n_t, n_c, y_t, y_c = _cuts(y, s, t)
    rate_t = np.divide(y_t, n_t, out=np.zeros(len(n_t)), where=n_t != 0)
    rate_c = np.divide(y_c, n_c, out=np.zeros(len(n_c)), where=n_c != 0)
    both = (n_t > 0) & (n_c > 0)
    u = np.where(both, (rate_t - rate_c) * n_all / len(y), 0.0)
    x = np.r_[0, n_all]
    return pd.DataFrame({"n_targeted": x, "share_targeted": x / len(y),
                         "incremental_per_customer": np.r_[0.0, u]})


def auuc(y, uplift, treated) -> float:
    """Area under the uplift curve (:func:`uplift_curve`) over the share targeted (0..1).

    Returns
    -------
    float
        Random targeting's expected value is half the overall uplift (treated minus control
        conversion rate); higher is better.
    """
    c = uplift_curve(y, uplift, treated)
    return float(np.trapezoid(c["incremental_per_customer"], c["share_targeted"]))


def uplift_by_decile(y, uplift, treated, n_bins: int = 10) -> pd.DataFrame:
    """Observed uplift per bin of predicted uplift (bin 1 = highest predicted uplift).

    Returns
    -------
    DataFrame
        ``decile, n, n_treated, n_control, conversion_treated, conversion_control,
        observed_uplift`` (treated minus control rate; NaN when an arm is empty),
        ``mean_predicted_uplift``.
    """
    y, t, s = check_outcomes(y, treated, uplift)
    k = max(1, min(int(n_bins), len(y)))
    rank = pd.Series(-s).rank(method="first").to_numpy()
    b = np.ceil(rank * k / len(y)).astype(int)
    f = pd.DataFrame({"decile": b, "y": y, "t": t, "s": s})
    rows = []
    for d, g in f.groupby("decile"):
        tr, co = g[g.t == 1], g[g.t == 0]
        ct = tr.y.mean() if len(tr) else np.nan
        cc = co.y.mean() if len(co) else np.nan
        rows.append({"decile": int(d), "n": len(g), "n_treated": len(tr), "n_control": len(co),
                     "conversion_treated": ct, "conversion_control": cc,
                     "observed_uplift": ct - cc, "mean_predicted_uplift": g.s.mean()})
    return pd.DataFrame(rows)


@dataclass
class UpliftEvaluation:
    """Held-out quality of an uplift model against response targeting and random targeting.

    Attributes
    ----------
    qini_coefficient, auuc : float
        Of the model's predicted uplift.
    response_qini_coefficient, response_auuc : float or None
        Of ranking by the response probability P(convert | treated).
    random_qini_coefficient, random_auuc : float
        Expected values of random targeting (0 and half the overall uplift).
    observed_uplift : float
        Treated minus control conversion rate on these customers.
    n, n_treated, n_control : int
    deciles : DataFrame
        :func:`uplift_by_decile` of the model.
    curves : dict
        ``model``, ``response`` (when given), ``perfect``: :func:`qini_curve` frames.
    rows : DataFrame
        ``y``, ``treated``, ``uplift`` (and ``response``) per evaluated customer, by position
        (no ids): for bootstrap intervals on the model card; never logged.
    """

    qini_coefficient: float
    auuc: float
    response_qini_coefficient: float | None
    response_auuc: float | None
    random_qini_coefficient: float
    random_auuc: float
    observed_uplift: float
    n: int
    n_treated: int
    n_control: int
    deciles: pd.DataFrame
    curves: dict = field(default_factory=dict)
    rows: pd.DataFrame | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        """The numbers (no tables), for logging and cards."""
        keys = ("qini_coefficient", "auuc", "response_qini_coefficient", "response_auuc",
                "random_qini_coefficient", "random_auuc", "observed_uplift", "n",
                "n_treated", "n_control")
        return {k: getattr(self, k) for k in keys}

    def plot(self, ax=None):
        """Qini curves: model vs response targeting vs random (and perfect), as a Figure."""
        import matplotlib.pyplot as plt

        if ax is None:
            fig, ax = plt.subplots(figsize=(6.4, 4.4))
        else:
            fig = ax.figure
        m = self.curves["model"]
        ax.plot(m.share_targeted, m.incremental_conversions,
                label=f"uplift model (Qini {self.qini_coefficient:.3f})", color="C0", lw=2)
        if "response" in self.curves:
            r = self.curves["response"]
            ax.plot(r.share_targeted, r.incremental_conversions, color="C1",
                    label=f"response probability (Qini {self.response_qini_coefficient:.3f})")
        end = m.incremental_conversions.iloc[-1]
        ax.plot([0, 1], [0, end], color="grey", ls="--", label="random (Qini 0)")
        if "perfect" in self.curves:
            p = self.curves["perfect"]
            ax.plot(p.share_targeted, p.incremental_conversions, color="grey", lw=0.8,
                    ls=":", label="perfect ranking (Qini 1)")
        ax.set_xlabel("share of customers targeted (ranked by score)")
        ax.set_ylabel("incremental conversions")
        ax.set_title(f"Qini curves on {self.n:,} customers")
        ax.legend(loc="best", fontsize=8)
        fig.tight_layout()
        return fig


def evaluate_uplift(y, treated, uplift, response=None, n_bins: int = 10) -> UpliftEvaluation:
    """Evaluate predicted uplift (and optionally response scores) on a randomised campaign.

    Parameters
    ----------
    y, treated : array-like of 0/1
    uplift : array-like
        Predicted uplift per customer.
    response : array-like, optional
        Response probability P(convert | treated): the targeting a marketer would otherwise use.
    n_bins : int, default 10

    Returns
    -------
    UpliftEvaluation
    """
    y, t, s = check_outcomes(y, treated, uplift)
    ate = float(y[t == 1].mean() - y[t == 0].mean())
    curves = {"model": qini_curve(y, s, t), "perfect": perfect_qini_curve(y, t)}
    rq = ra = r = None
    if response is not None:
        _, _, r = check_outcomes(y, t, response)
        rq, ra = qini_coefficient(y, r, t), auuc(y, r, t)
        curves["response"] = qini_curve(y, r, t)
    return UpliftEvaluation(
        qini_coefficient=qini_coefficient(y, s, t), auuc=auuc(y, s, t),
        response_qini_coefficient=rq, response_auuc=ra, random_qini_coefficient=0.0,
        random_auuc=ate / 2.0, observed_uplift=ate, n=len(y), n_treated=int(t.sum()),
        n_control=int(len(t) - t.sum()), deciles=uplift_by_decile(y, s, t, n_bins),
        curves=curves, rows=pd.DataFrame({"y": y, "treated": t, "uplift": s,
                                          **({"response": r} if response is not None else {})}))
