"""Randomised marketing campaigns for the built-in data, with exact true uplift.

Called once by :func:`crm_ml.datasets.make_crm_dataset` after the main simulation. It draws
from its own random stream (``SeedSequence([seed, 21])``), so customers, interactions and
every transaction outside the campaign windows are exactly those of the simulation without
campaigns; only the purchases a campaign causes or prevents change.

Two campaigns (both e-mail):

- the *main* campaign, ``MAIN_DAYS_BEFORE_END`` days before the end of history, goes to every
  customer with a purchase in the 365 days before the contact day; half of them, drawn at
  random, are held out as a control group (``treated = 0``);
- a *follow-up* campaign, ``FOLLOWUP_DAYS_BEFORE_END`` days before the end, goes to the top
  ``FOLLOWUP_SHARE`` of those customers by spend in the last 365 days, with no control group,
  so its lift cannot be measured.

How a contact changes purchases (in the ``WINDOW_DAYS`` days after the contact):

- ``p0(x)``: the probability the customer buys in the window anyway. It is computed from the
  simulation's own state: purchases are a Poisson process with intensity
  ``rate x season(month) / 30.4375`` per active day, so
  ``p0 = 1 - exp(-sum_m rate x season_m x active days of the window in month m / 30.4375)``
  (0 for a customer who has already dropped out);
- a treated customer who would not have bought buys one extra order with probability
  ``a(x)``; a treated customer who would have bought is put off, and all their orders in the
  window are removed, with probability ``d(x)``. Hence the exact expected effect
  ``true_uplift = a (1 - p0) - d p0``.

``a`` and ``d`` depend only on what the customer's history at the contact day shows (the same
facts :func:`crm_ml.features.build` computes the day before contact):

- ``s_value = sigmoid(2.5 (ln(average order value) - ln 60))``: a valuable customer;
- ``s_lapse = sigmoid((r - 35) / 10) x sigmoid((300 - r) / 25)`` with ``r`` the days since
  the last purchase: lapsing, but not long gone;
- ``s_bad = 1 - exp(-1.5 x bad experiences in the last 180 days)`` where a bad experience is a
  complaint, a ticket with satisfaction <= 2 or a ticket resolved after more than 48 hours;
- ``s_freq = sigmoid((orders in the last 365 days - 8) / 2)``: a very frequent buyer;
- ``a = alive x (1 - s_bad) x (0.03 + 0.75 s_value s_lapse)`` and
  ``d = alive x min(0.8 s_bad + 0.06 s_freq, 1)`` (``alive``: not yet dropped out at the
  contact; the simulation knows, the features can only guess from recency).

So valuable lapsing customers are *persuadables* (large positive uplift), frequent recent
buyers are *sure things* (they buy anyway, uplift near 0 or slightly below), customers with recent bad service
are *sleeping dogs* (negative uplift), and customers who have silently dropped out are *lost
causes* (uplift 0). ``uplift_type`` names the type from the exact uplift: ``persuadable`` if
``true_uplift >= 0.1``, ``sleeping_dog`` if ``<= -0.06``, otherwise ``sure_thing`` if
``p0 >= 0.5`` else ``lost_cause``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

WINDOW_DAYS = 30
MAIN_DAYS_BEFORE_END = 75
FOLLOWUP_DAYS_BEFORE_END = 30
FOLLOWUP_SHARE = 0.2
CONTROL_SHARE = 0.5
ACTIVE_DAYS = 365  # contacted: a purchase in the last ACTIVE_DAYS days before contact
BAD_DAYS = 180  # window of the bad service experiences that put customers off
COST = {"main": 2.0, "followup": 0.5}  # per treated contact (voucher + sending)
OPEN_RATE = 0.35
PERSUADABLE_MIN, SLEEPING_DOG_MAX, SURE_THING_P0 = 0.1, -0.06, 0.5
DAY_NS = 86_400 * 10**9

CONTACT_COLUMNS = ["customer_id", "campaign_id", "timestamp", "treated", "channel", "cost",
                   "opened", "clicked"]


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def empty_contacts() -> pd.DataFrame:
    """A contacts frame with no rows and the contract's columns and dtypes."""
    return pd.DataFrame({
        "customer_id": pd.Series([], dtype=object), "campaign_id": pd.Series([], dtype=object),
        "timestamp": pd.Series([], dtype="datetime64[ns]"),
        "treated": pd.Series([], dtype=np.int64), "channel": pd.Series([], dtype=object),
        "cost": pd.Series([], dtype=float), "opened": pd.Series([], dtype=float),
        "clicked": pd.Series([], dtype=float)})


class _State:
    """What the simulation knows about each customer, in days after ``start``."""

    def __init__(self, *, rate, spend, signup_offset, dropout_day, season, ms_days, me_days):
        self.rate = np.asarray(rate, dtype=float)
        self.spend = np.asarray(spend, dtype=float)
        self.first_active = np.asarray(signup_offset, dtype=float) + 1.0
        self.dropout_day = np.asarray(dropout_day, dtype=float)
        self.season = np.asarray(season, dtype=float)
        self.ms = np.asarray(ms_days, dtype=float)
        self.me = np.asarray(me_days, dtype=float)

    def p0(self, idx: np.ndarray, c: np.ndarray) -> np.ndarray:
        """P(at least one purchase in (c, c + WINDOW_DAYS]) without a campaign, exactly."""
        lam = np.zeros(len(idx))
        lo_c, hi_c = c, c + WINDOW_DAYS
        for m in range(len(self.ms)):
            if self.ms[m] >= hi_c.max() or self.me[m] <= lo_c.min():
                continue
            lo = np.maximum(np.maximum(lo_c, self.ms[m]), self.first_active[idx])
            hi = np.minimum(np.minimum(hi_c, self.me[m]), self.dropout_day[idx])
            lam += self.rate[idx] * self.season[m] * np.clip(hi - lo, 0, None) / 30.4375
        return 1.0 - np.exp(-lam)


def _history_facts(tx_cust, tx_day, tx_amount, tx_order, ix_cust, ix_day, ix_bad, n, c0):
    """Per customer, from the history before day ``c0`` (what features see the day before):
    days since the last purchase, orders in the last ACTIVE_DAYS days, average order value,
    bad experiences in the last BAD_DAYS days."""
    pos = (tx_amount > 0) & (tx_day < c0)
    last = np.full(n, -np.inf)
    np.maximum.at(last, tx_cust[pos], tx_day[pos])
    recency = c0 - np.floor(last)
    # orders: distinct order ids (one order may have several product lines)
    o_cust, o_day, o_value = _orders(tx_cust[pos], tx_day[pos], tx_amount[pos], tx_order[pos])
    n_orders = np.bincount(o_cust, minlength=n)
    aov = np.bincount(o_cust, weights=o_value, minlength=n) / np.maximum(n_orders, 1)
    recent = o_day >= c0 - ACTIVE_DAYS
    orders_recent = np.bincount(o_cust[recent], minlength=n)
    b = ix_bad & (ix_day < c0) & (ix_day >= c0 - BAD_DAYS)
    bad = np.bincount(ix_cust[b], minlength=n)
    return recency, orders_recent, aov, bad


def _orders(cust, day, amount, order):
    """Collapse product lines to orders: (customer, first day, value) per distinct order id."""
    if len(order) == 0:
        return cust, day, amount
    uniq, inv = np.unique(order, return_inverse=True)
    value = np.bincount(inv, weights=amount, minlength=len(uniq))
    first = np.full(len(uniq), np.inf)
    np.minimum.at(first, inv, day)
    o_cust = np.zeros(len(uniq), dtype=np.int64)
    o_cust[inv] = cust
    return o_cust, first, value


def _effects(recency, orders_recent, aov, bad, alive):
    s_value = _sigmoid(2.5 * (np.log(np.maximum(aov, 1e-9)) - np.log(60.0)))
    s_lapse = _sigmoid((recency - 35.0) / 10.0) * _sigmoid((300.0 - recency) / 25.0)
    s_bad = 1.0 - np.exp(-1.5 * bad)
    s_freq = _sigmoid((orders_recent - 8.0) / 2.0)
    a = alive * (1.0 - s_bad) * (0.03 + 0.75 * s_value * s_lapse)
    d = alive * np.minimum(0.8 * s_bad + 0.06 * s_freq, 1.0)
    return a, d


def uplift_types(true_uplift: np.ndarray, p0: np.ndarray) -> np.ndarray:
    """persuadable / sleeping_dog / sure_thing / lost_cause from the exact uplift."""
    return np.where(true_uplift >= PERSUADABLE_MIN, "persuadable",
                    np.where(true_uplift <= SLEEPING_DOG_MAX, "sleeping_dog",
                             np.where(p0 >= SURE_THING_P0, "sure_thing", "lost_cause"))
                    ).astype(object)


def add_campaigns(transactions: pd.DataFrame, interactions: pd.DataFrame, cust_ids,
                  start: pd.Timestamp, end: pd.Timestamp, seed: int, enabled: bool = True,
                  **state):
    """Run the two campaigns on the finished simulation.

    Parameters
    ----------
    transactions, interactions : DataFrame
        The simulation's canonical frames (``customer_id`` values from ``cust_ids``).
    cust_ids : array of str
        Customer ids, position = the simulation's customer index.
    start, end : Timestamp
        First and last day of history.
    seed : int
        The dataset seed (the campaigns use ``SeedSequence([seed, 21])``).
    enabled : bool, default True
        False: no campaigns (the inputs come back unchanged, with empty contacts).
    **state
        ``rate``, ``spend``, ``signup_offset``, ``dropout_day``, ``season``, ``ms_days``,
        ``me_days``: the simulation's per-customer and per-month arrays.

    Returns
    -------
    transactions : DataFrame
        With the orders the campaigns caused added and the ones they prevented removed,
        sorted by customer and time (rows of untouched customers keep their order).
    contacts : DataFrame
        The contacts contract: ``customer_id, campaign_id, timestamp, treated, channel, cost,
        opened, clicked``.
    uplift : DataFrame
        Indexed by customer_id (all customers): ``true_uplift`` and ``uplift_type`` for the
        main campaign (NaN / None for customers it did not contact).
    meta : dict
        ``main_campaign`` and ``followup_campaign`` ids, contact dates, window.
    """
    st = _State(**state)
    n = len(cust_ids)
    uplift = pd.DataFrame({"true_uplift": np.full(n, np.nan),
                           "uplift_type": np.full(n, None, dtype=object)},
                          index=pd.Index(cust_ids, name="customer_id"))
    span_days = (end - start).days + 1
    main_day = span_days - 1 - MAIN_DAYS_BEFORE_END
    follow_day = span_days - 1 - FOLLOWUP_DAYS_BEFORE_END
    if not enabled or main_day < ACTIVE_DAYS // 4:  # too little history for a campaign
        return transactions, empty_contacts(), uplift, {}
    rng = np.random.default_rng(np.random.SeedSequence([seed, 21]))
    code = pd.Index(cust_ids).get_indexer(transactions["customer_id"])
    start_ns = start.to_datetime64().astype("datetime64[ns]").astype(np.int64)
    ix_code = pd.Index(cust_ids).get_indexer(interactions["customer_id"])
    ix_day = (interactions["timestamp"].to_numpy().astype("datetime64[ns]").astype(np.int64)
              - start_ns) / DAY_NS
    ix_bad = ((interactions["kind"].to_numpy() == "complaint")
              | (interactions["satisfaction"].to_numpy() <= 2)
              | ((interactions["kind"].to_numpy() == "ticket")
                 & (interactions["resolution_hours"].to_numpy() > 48)))

    contacts, meta = [], {}
    for name, c0 in (("main", main_day), ("followup", follow_day)):
        campaign_id = f"{name}_{(start + pd.Timedelta(days=c0)):%Y_%m}"
        tx_ns = transactions["timestamp"].to_numpy().astype("datetime64[ns]").astype(np.int64)
        tx_day = (tx_ns - start_ns) / DAY_NS
        amount = transactions["amount"].to_numpy(dtype=float)
        order = transactions["order_id"].to_numpy()
        recency, orders_recent, aov, bad = _history_facts(
            code, tx_day, amount, order, ix_code, ix_day, ix_bad, n, c0)
        eligible = np.flatnonzero((orders_recent > 0) & (st.first_active - 1 < c0))
        if name == "followup":
            recent = (code >= 0) & (amount > 0) & (tx_day < c0) & (tx_day >= c0 - ACTIVE_DAYS)
            spend_recent = np.bincount(code[recent], weights=amount[recent],
                                       minlength=n)[eligible]
            k = int(np.ceil(FOLLOWUP_SHARE * len(eligible)))
            eligible = np.sort(eligible[np.argsort(-spend_recent, kind="stable")[:k]])
        m = len(eligible)
        if m == 0:
            continue
        secs = rng.integers(8 * 3600, 18 * 3600, m)
        c_ns = start_ns + c0 * DAY_NS + secs * 10**9
        c = (c_ns - start_ns) / DAY_NS
        if name == "main":
            treated = np.zeros(m, dtype=np.int64)
            treated[rng.permutation(m)[: m - int(round(CONTROL_SHARE * m))]] = 1
        else:
            treated = np.ones(m, dtype=np.int64)
        alive = (st.dropout_day[eligible] > c).astype(float)
        a, d = _effects(recency[eligible], orders_recent[eligible], aov[eligible],
                        bad[eligible], alive)
        p0 = st.p0(eligible, c)

        # who would have bought in (contact, contact + window] without the campaign
        is_contacted = np.zeros(n, dtype=bool)
        is_contacted[eligible] = True
        contact_ns = np.zeros(n, dtype=np.int64)
        contact_ns[eligible] = c_ns
        safe = np.maximum(code, 0)
        row_c = contact_ns[safe]
        in_win = ((code >= 0) & is_contacted[safe] & (amount > 0) & (tx_ns > row_c)
                  & (tx_ns <= row_c + WINDOW_DAYS * DAY_NS))
        bought = np.zeros(n, dtype=bool)
        bought[code[in_win]] = True
        b = bought[eligible]
        u = rng.random(m)
        lose = (treated == 1) & b & (u < d)
        gain = (treated == 1) & ~b & (u < a)
        transactions = _apply(transactions, code, in_win, order, tx_ns, eligible[lose],
                              eligible[gain], c_ns[gain], start_ns, st, rng, n)
        code = pd.Index(cust_ids).get_indexer(transactions["customer_id"])

        opened = np.where(treated == 1, (rng.random(m) < OPEN_RATE).astype(float), np.nan)
        click_p = 0.15 + 0.6 * a
        clicked = np.where(treated == 1, opened * (rng.random(m) < click_p), np.nan)
        contacts.append(pd.DataFrame({
            "customer_id": np.asarray(cust_ids, dtype=object)[eligible],
            "campaign_id": campaign_id,
            "timestamp": c_ns.astype("datetime64[ns]"),
            "treated": treated,
            "channel": "email",
            "cost": np.where(treated == 1, COST[name], 0.0),
            "opened": opened,
            "clicked": clicked,
        }))
        meta[f"{name}_campaign"] = campaign_id
        meta[f"{name}_contact_day"] = start + pd.Timedelta(days=c0)
        if name == "main":
            tu = a * (1 - p0) - d * p0
            uplift.iloc[eligible, 0] = tu
            uplift.iloc[eligible, 1] = uplift_types(tu, p0)
    meta["window_days"] = WINDOW_DAYS
    out = pd.concat(contacts, ignore_index=True) if contacts else empty_contacts()
    return transactions, out[CONTACT_COLUMNS], uplift, meta


def _apply(tx, code, in_win, order, tx_ns, lose, gain, gain_c_ns, start_ns, st, rng, n):
    """Remove the whole orders in the window of ``lose`` customers; add one order for each
    ``gain`` customer, copying the product lines of one of their earlier orders."""
    known = code >= 0
    drop = np.zeros(len(tx), dtype=bool)
    if len(lose):
        is_lose = np.zeros(n, dtype=bool)
        is_lose[lose] = True
        drop = np.isin(order, np.unique(order[in_win & known & is_lose[np.maximum(code, 0)]]))
    new = None
    if len(gain):
        contact = np.full(n, np.iinfo(np.int64).min)
        contact[gain] = gain_c_ns
        amount = tx["amount"].to_numpy()
        earlier = np.flatnonzero(known & (amount > 0) & (tx_ns < contact[np.maximum(code, 0)]))
        # one earlier order per gaining customer, drawn at random
        o_of = pd.DataFrame({"cust": code[earlier], "order": order[earlier]}).drop_duplicates()
        o_of = o_of.assign(r=rng.random(len(o_of))).sort_values(["cust", "r"], kind="stable")
        pick = o_of.drop_duplicates("cust").set_index("cust")["order"]
        keep = np.isin(gain, pick.index)
        gain, gain_c_ns = gain[keep], gain_c_ns[keep]
        g_order = pick.reindex(gain).to_numpy()
        rows = np.isin(order, g_order) & (amount > 0)
        lines = tx.loc[rows]
        src = order[rows]
        pos = pd.Index(g_order).get_indexer(src)  # line -> gaining customer
        old_total = np.bincount(pos, weights=amount[rows], minlength=len(gain))
        value = st.spend[gain] * rng.gamma(4.0, 1 / 4.0, len(gain))
        c_day = (gain_c_ns - start_ns) / DAY_NS
        alive_days = np.minimum(WINDOW_DAYS, st.dropout_day[gain] - c_day)
        offset_s = np.floor(rng.random(len(gain)) * alive_days * 86_400).astype(np.int64) + 1
        new = lines.copy()
        new["amount"] = np.round(amount[rows] * (value / old_total)[pos], 2)
        new["timestamp"] = (gain_c_ns + offset_s * 10**9)[pos].astype("datetime64[ns]")
        new_ids = int(np.max(order)) + 1 + np.arange(len(gain))
        new["order_id"] = new_ids[pos].astype(tx["order_id"].dtype)
    out = tx.loc[~drop]
    if new is not None:
        out = pd.concat([out, new], ignore_index=True)
    out = out.sort_values(["customer_id", "timestamp"], kind="mergesort")
    return out.reset_index(drop=True)
