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
    if order.dtype.kind in "iu" and order.min() >= 0 and order.max() < 4 * len(order):
        # dense integer ids (the simulation's): a lookup table instead of a sort
        seen = np.zeros(int(order.max()) + 1, dtype=bool)
        seen[order] = True
        uniq = np.flatnonzero(seen)
        remap = np.cumsum(seen) - 1
        inv = remap[order]
    else:
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
    book = _Rows(transactions, pd.Index(cust_ids).get_indexer(transactions["customer_id"]))
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
        code, tx_ns, amount, order = book.current()
        tx_day = (tx_ns - start_ns) / DAY_NS
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
        _apply(book, code, in_win, order, tx_ns, amount, eligible[lose], eligible[gain],
               c_ns[gain], start_ns, st, rng, n)

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
    return book.frame(), out[CONTACT_COLUMNS], uplift, meta


class _Rows:
    """The transactions while campaigns change them: the original rows (a keep mask) plus
    added rows, as arrays; the frame is rebuilt once at the end (copying an 11-million-row
    frame per campaign would cost more than the whole simulation)."""

    def __init__(self, tx: pd.DataFrame, code: np.ndarray):
        self.tx = tx
        self.code = [code]
        self.ns = [tx["timestamp"].to_numpy().astype("datetime64[ns]").astype(np.int64)]
        self.amount = [tx["amount"].to_numpy(dtype=float)]
        self.order = [tx["order_id"].to_numpy()]
        self.keep = [np.ones(len(tx), dtype=bool)]
        self.added: list[pd.DataFrame] = []

    def current(self):
        """(customer code, timestamp ns, amount, order id) of the current rows."""
        return tuple(np.concatenate([a[k] for a, k in zip(arrs, self.keep, strict=True)])
                     for arrs in (self.code, self.ns, self.amount, self.order))

    def drop(self, mask: np.ndarray) -> None:
        """Drop the current rows where ``mask`` is True."""
        start = 0
        for k in self.keep:
            idx = np.flatnonzero(k)
            k[idx[mask[start:start + len(idx)]]] = False
            start += len(idx)

    def lines(self, mask: np.ndarray) -> pd.DataFrame:
        """The current rows where ``mask`` is True, as a frame."""
        parts, start = [], 0
        for frame, k in zip([self.tx, *self.added], self.keep, strict=True):
            idx = np.flatnonzero(k)
            parts.append(frame.iloc[idx[mask[start:start + len(idx)]]])
            start += len(idx)
        return pd.concat(parts)

    def add(self, rows: pd.DataFrame, code: np.ndarray) -> None:
        self.added.append(rows.reset_index(drop=True))
        self.code.append(code)
        self.ns.append(rows["timestamp"].to_numpy().astype("datetime64[ns]").astype(np.int64))
        self.amount.append(rows["amount"].to_numpy(dtype=float))
        self.order.append(rows["order_id"].to_numpy())
        self.keep.append(np.ones(len(rows), dtype=bool))

    def frame(self) -> pd.DataFrame:
        """The transactions sorted by customer and time. np.lexsort is stable, so rows of
        untouched customers keep their order (ties too)."""
        if not self.added and self.keep[0].all():
            return self.tx
        code, ns, _, _ = self.current()
        order = _sort_order(code, ns)
        # row i of the result is row src[i] of the original and added rows stacked
        offsets = np.cumsum([0] + [len(k) for k in self.keep])
        src = np.concatenate([off + np.flatnonzero(k) for off, k in
                              zip(offsets[:-1], self.keep, strict=True)])[order]
        n_orig = len(self.tx)
        from_orig = src < n_orig
        added = pd.concat(self.added, ignore_index=True) if self.added else None
        cols = {}
        for col in self.tx.columns:
            base = self.tx[col]
            if not isinstance(base.dtype, np.dtype) or (
                    added is not None and not isinstance(added[col].dtype, np.dtype)):
                # extension dtypes (categoricals ...) keep their type
                both = pd.concat([base, added[col]] if added is not None else [base],
                                 ignore_index=True)
                cols[col] = both.take(src).reset_index(drop=True)
                continue
            out = np.empty(len(src), dtype=base.dtype)
            out[from_orig] = base.to_numpy()[src[from_orig]]
            if added is not None:
                out[~from_orig] = added[col].to_numpy()[src[~from_orig] - n_orig]
            cols[col] = out
        return pd.DataFrame(cols, copy=False)


def _sort_order(code: np.ndarray, ns: np.ndarray) -> np.ndarray:
    """Stable order by (customer code, timestamp). Whole-second timestamps become one int64
    key, which a stable sort orders fast on nearly sorted rows (np.lexsort takes seconds on
    ten million rows)."""
    rel = ns - ns.min() if len(ns) else ns
    if (len(ns) and code.min() >= 0 and code.max() < 2**31 and not (rel % 10**9).any()
            and rel.max() // 10**9 < 2**32):
        return np.argsort((code.astype(np.int64) << 32) | (rel // 10**9), kind="stable")
    return np.lexsort((ns, code))


def _apply(book, code, in_win, order, tx_ns, amount, lose, gain, gain_c_ns, start_ns, st, rng,
           n):
    """Remove the whole orders in the window of ``lose`` customers; add one order for each
    ``gain`` customer, copying the product lines of one of their earlier orders."""
    known = code >= 0
    if len(lose):
        is_lose = np.zeros(n, dtype=bool)
        is_lose[lose] = True
        lost = np.unique(order[in_win & known & is_lose[np.maximum(code, 0)]])
        gone = np.isin(order, lost)
    else:
        gone = None
    if len(gain):
        contact = np.full(n, np.iinfo(np.int64).min)
        contact[gain] = gain_c_ns
        earlier = np.flatnonzero(known & (amount > 0) & (tx_ns < contact[np.maximum(code, 0)]))
        # one earlier order per gaining customer, drawn at random
        o_of = pd.DataFrame({"cust": code[earlier], "order": order[earlier]}).drop_duplicates()
        o_of = o_of.assign(r=rng.random(len(o_of))).sort_values(["cust", "r"], kind="stable")
        pick = o_of.drop_duplicates("cust").set_index("cust")["order"]
        keep = np.isin(gain, pick.index)
        gain, gain_c_ns = gain[keep], gain_c_ns[keep]
        g_order = pick.reindex(gain).to_numpy()
        rows = np.isin(order, g_order) & (amount > 0)
        new = book.lines(rows).copy()
        pos = pd.Index(g_order).get_indexer(order[rows])  # line -> gaining customer
        old_total = np.bincount(pos, weights=amount[rows], minlength=len(gain))
        value = st.spend[gain] * rng.gamma(4.0, 1 / 4.0, len(gain))
        c_day = (gain_c_ns - start_ns) / DAY_NS
        alive_days = np.minimum(WINDOW_DAYS, st.dropout_day[gain] - c_day)
        offset_s = np.floor(rng.random(len(gain)) * alive_days * 86_400).astype(np.int64) + 1
        new["amount"] = np.round(amount[rows] * (value / old_total)[pos], 2)
        new["timestamp"] = (gain_c_ns + offset_s * 10**9)[pos].astype("datetime64[ns]")
        new_ids = int(np.max(order)) + 1 + np.arange(len(gain))
        new["order_id"] = new_ids[pos].astype(order.dtype)
    if gone is not None:
        book.drop(gone)
    if len(gain):
        book.add(new, gain[pos])
