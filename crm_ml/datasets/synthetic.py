"""A seeded synthetic CRM dataset with known ground truth.

The generator follows the stories the models tell, so every model has real signal to find:

- customers belong to one of four natural groups that differ in purchase rate and spend
  (2 x 2: frequent/rare buyers x high/low spenders);
- within a group, purchase rates and spend levels vary with gamma mixing (as in Pareto/NBD and
  Gamma-Gamma), and each order's value is gamma distributed around the customer's level;
- customers silently drop out; the monthly dropout hazard rises with bad service experiences
  (unsatisfied tickets, complaints) in the last three months and falls with tenure;
- sales have yearly seasonality (a December peak, a summer dip) and a mild upward trend;
- customers have a region, an industry and a preferred channel; some orders are returned;
- products come in categories; customers favour a few categories, products have complements
  bought with them, and an order has one to three product lines (see
  :mod:`crm_ml.datasets._products`).
- two e-mail campaigns (one randomised with a control group) change purchases after contact
  with heterogeneous, exactly known effects (:mod:`crm_ml.datasets._campaigns`).

Time advances month by month, vectorised over all customers, so one million customers (about
sixteen million transaction lines) take 54 s on a quiet 2-core machine (``benchmarks/bench_datasets.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from crm_ml.datasets._campaigns import add_campaigns, empty_contacts
from crm_ml.datasets._products import (
    CATEGORIES,
    customer_tastes,
    make_catalogue,
    order_lines,
    product_rng,
)

GROUPS = {
    # name: (share, purchases per month, mean order value, base monthly dropout hazard)
    "frequent_high_spend": (0.20, 0.9, 250.0, 0.020),
    "frequent_low_spend": (0.30, 0.9, 25.0, 0.035),
    "rare_high_spend": (0.20, 0.12, 250.0, 0.030),
    "rare_low_spend": (0.30, 0.12, 25.0, 0.050),
}
REGIONS = {"North": 0.3, "South": 0.25, "East": 0.25, "West": 0.2}
INDUSTRIES = {"retail": 0.3, "services": 0.25, "manufacturing": 0.2, "tech": 0.15, "health": 0.1}
CHANNELS = {"web": 0.45, "store": 0.35, "phone": 0.12, "partner": 0.08}
COMPANY_SIZES = {"small": 0.6, "medium": 0.3, "large": 0.1}

RATE_SHAPE = 8.0  # gamma shape of purchase rates within a group (higher = more homogeneous)
SPEND_SHAPE = 8.0  # gamma shape of customer spend levels within a group
ORDER_SHAPE = 4.0  # gamma shape of single order values around the customer's level
RETURN_SHARE = 0.02  # share of orders partly or fully returned a few days later
N_PRODUCTS = 200


@dataclass
class CRMDataset:
    """Customers, transactions and interactions, with the truth used to make them.

    Attributes
    ----------
    customers : DataFrame
        ``customer_id``, ``signup_date``, ``region``, ``industry``, ``channel``, ``company_size``.
    transactions : DataFrame
        Canonical transactions: ``customer_id``, ``timestamp``, ``amount`` (negative = return),
        ``order_id`` (int; a return carries the id of the order it returns), ``product_id``,
        ``quantity``, ``channel``, ``region``. Sorted by customer and time. An order has one
        to three lines (distinct products, same ``order_id``, timestamp, channel and region;
        its amount split over them); a return is one row naming one product of its order.
    interactions : DataFrame
        ``customer_id``, ``timestamp``, ``kind`` (ticket, complaint, marketing),
        ``satisfaction`` (1..5, tickets only), ``resolution_hours`` (tickets and complaints).
    truth : DataFrame
        Indexed by ``customer_id``: ``group``, ``purchase_rate`` (per month), ``spend_level``
        (mean order value), ``dropout_date`` (NaT if still active at ``as_of``),
        ``service_quality`` (0..1), ``bad_experiences`` (count over the whole history),
        ``favourite_category`` (the category the customer's tastes weigh most) and
        ``favourite_share`` (its weight; the full tastes are ``meta["category_tastes"]``),
        ``true_uplift`` (the exact expected effect of the main campaign on converting in the
        30 days after contact, ``a (1 - p0) - d p0``; NaN for customers it did not contact)
        and ``uplift_type`` (persuadable, sure_thing, sleeping_dog, lost_cause; None if not
        contacted).
    as_of : Timestamp
        The last day of observed history.
    seed : int
        The seed that made it.
    meta : dict
        ``start``, ``end``, ``groups``, ``categories``, ``category_tastes`` (DataFrame
        indexed by ``customer_id``, one column per category, rows sum to 1) and ``campaigns``
        (``main_campaign`` and ``followup_campaign`` ids, their contact days,
        ``window_days``).
    products : DataFrame
        The catalogue's truth: ``product_id``, ``category``, ``base_price`` and
        ``complements`` (comma-separated ids of the one or two products often bought with it,
        in the same order or a later one).
    campaigns : DataFrame
        Campaign contacts in the contacts contract (``crm_ml.data.standardize(kind=
        "contacts")``): ``customer_id``, ``campaign_id``, ``timestamp``, ``treated`` (1 sent,
        0 held-out control), ``channel``, ``cost``, ``opened``, ``clicked`` (NaN for control).
        The *main* campaign, 75 days before ``as_of``, goes to every customer with a purchase
        in the year before; a random half is held out as control. A *follow-up* campaign, 30
        days before ``as_of``, goes to the top 20 % of them by spend with no control group.
        A treated customer who would not have bought in the 30 days after contact buys once
        with probability ``a(x)`` (high for valuable lapsing customers); one who would have
        bought loses those orders with probability ``d(x)`` (high after recent complaints or
        bad tickets). ``a`` and ``d`` depend only on the history before the contact day, and
        the baseline ``p0`` comes from the simulation's own purchase process, so
        ``truth["true_uplift"]`` is exact. Campaigns draw from their own random stream:
        nothing else in the data moves (see :mod:`crm_ml.datasets._campaigns`).
    """

    customers: pd.DataFrame
    transactions: pd.DataFrame
    interactions: pd.DataFrame
    truth: pd.DataFrame
    as_of: pd.Timestamp
    seed: int
    meta: dict = field(default_factory=dict)
    products: pd.DataFrame = field(default_factory=pd.DataFrame)
    campaigns: pd.DataFrame = field(default_factory=empty_contacts)

    def __repr__(self) -> str:
        return (f"CRMDataset(customers={len(self.customers):,}, "
                f"transactions={len(self.transactions):,}, "
                f"interactions={len(self.interactions):,}, as_of={self.as_of.date()}, "
                f"seed={self.seed})")


def _choice(rng: np.random.Generator, options: dict, n: int) -> np.ndarray:
    names = np.array(list(options))
    probs = np.array(list(options.values()), dtype=float)
    return names[rng.choice(len(names), size=n, p=probs / probs.sum())]


def _ids(prefix: str, n: int) -> np.ndarray:
    width = max(6, len(str(n)))
    return np.char.add(prefix, np.char.zfill(np.arange(1, n + 1).astype(str), width)).astype(object)


def _timestamps(start: pd.Timestamp, days: np.ndarray) -> np.ndarray:
    """Fractional days after ``start`` -> datetime64[ns], to the second (fast, no pandas parsing)."""
    seconds = np.floor(days * 86400).astype(np.int64)
    return start.to_datetime64().astype("datetime64[ns]") + seconds.astype("timedelta64[s]")


def _seasonality(month_starts: pd.DatetimeIndex) -> np.ndarray:
    month = month_starts.month.to_numpy()
    yearly = 1.0 + 0.25 * np.cos(2 * np.pi * (month - 12) / 12)  # peak in December
    yearly += np.where(month == 11, 0.15, 0.0) - np.where(np.isin(month, (7, 8)), 0.1, 0.0)
    trend = 1.0 + 0.008 * np.arange(len(month_starts))
    return yearly * trend


def make_crm_dataset(n_customers: int = 10_000, start="2022-01-01", end="2024-12-31",
                     seed: int = 0, campaigns: bool = True) -> CRMDataset:
    """Generate a realistic CRM dataset with known ground truth.

    Parameters
    ----------
    n_customers : int
        Number of customers; about ten transactions per customer result.
    start, end : date-like
        First and last day of history; ``end`` becomes ``as_of``.
    seed : int
        Random seed: the same seed gives the same data.
    campaigns : bool, default True
        Run the built-in campaigns (``ds.campaigns``; see :mod:`crm_ml.datasets._campaigns`).
        ``False`` gives the same data without them: every transaction as the simulation made
        it, no contacts, ``true_uplift`` all NaN.

    Returns
    -------
    CRMDataset
    """
    if n_customers < 1:
        raise ValueError(f"n_customers must be at least 1, got {n_customers}")
    start, end = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    if end <= start:
        raise ValueError(f"end ({end.date()}) must be after start ({start.date()})")
    rng = np.random.default_rng(seed)
    n = int(n_customers)

    # Customers and their latent traits.
    group_names = np.array(list(GROUPS))
    shares = np.array([g[0] for g in GROUPS.values()])
    group_idx = rng.choice(len(group_names), size=n, p=shares)
    base_rate = np.array([g[1] for g in GROUPS.values()])[group_idx]
    base_spend = np.array([g[2] for g in GROUPS.values()])[group_idx]
    base_hazard = np.array([g[3] for g in GROUPS.values()])[group_idx]
    rate = base_rate * rng.gamma(RATE_SHAPE, 1 / RATE_SHAPE, n)
    spend = base_spend * rng.gamma(SPEND_SHAPE, 1 / SPEND_SHAPE, n)
    quality = rng.beta(5, 2, n)  # the service experience each customer tends to get
    ticket_rate = 0.04 + 0.12 * (1 - quality) + 0.02 * np.log1p(rate)
    region = _choice(rng, REGIONS, n)
    industry = _choice(rng, INDUSTRIES, n)
    channel = _choice(rng, CHANNELS, n)
    size = _choice(rng, COMPANY_SIZES, n)
    industry_risk = pd.Series({"retail": 1.2, "services": 1.0, "manufacturing": 0.8,
                               "tech": 1.1, "health": 0.9})[industry].to_numpy()

    # A third of customers were acquired before `start` would give left-censoring; instead,
    # acquisition is spread over the history with more early sign-ups (an existing base).
    span_days = (end - start).days + 1
    signup_offset = np.floor(span_days * rng.beta(1.0, 1.6, n)).astype(np.int64)
    signup_offset = np.minimum(signup_offset, span_days - 1)
    signup = start + pd.to_timedelta(signup_offset, unit="D")
    signup_secs = rng.integers(8 * 3600, 20 * 3600, n)

    month_starts = pd.date_range(start.replace(day=1), end, freq="MS")
    month_ends = month_starts + pd.offsets.MonthBegin(1)
    season = _seasonality(month_starts)
    ms_days = ((month_starts - start).days).to_numpy()
    me_days = np.minimum(((month_ends - start).days).to_numpy(), span_days)

    dropout_day = np.full(n, np.inf)
    recent_bad = np.zeros((3, n))  # bad experiences in each of the last three months
    bad_total = np.zeros(n, dtype=np.int64)
    tx_cust, tx_day, ix_cust, ix_day, ix_kind, ix_sat, ix_res = [], [], [], [], [], [], []

    for m in range(len(month_starts)):
        lo, hi = ms_days[m], me_days[m]
        act_lo = np.maximum(lo, signup_offset + 1)  # the sign-up day itself is one purchase
        act_hi = np.minimum(hi, dropout_day)
        exposure = np.clip(act_hi - act_lo, 0, None)  # active days this month
        active = exposure > 0
        frac = exposure / (hi - lo)

        # Service: tickets (with satisfaction and resolution time), complaints, marketing.
        n_tickets = rng.poisson(ticket_rate * frac)
        n_marketing = rng.poisson(0.25 * frac)
        t_idx = np.repeat(np.arange(n), n_tickets)
        sat = np.clip(np.rint(1 + 4 * rng.beta(1 + 6 * quality[t_idx], 1 + 6 * (1 - quality[t_idx]))
                              ), 1, 5)
        res = rng.lognormal(np.log(4 + 40 * (1 - quality[t_idx])), 0.6)
        bad_ticket = (sat <= 2) | (res > 48)
        n_complaints = rng.poisson(0.25 * np.bincount(t_idx, weights=bad_ticket, minlength=n))
        c_idx = np.repeat(np.arange(n), n_complaints)
        month_bad = np.bincount(t_idx, weights=bad_ticket, minlength=n) + n_complaints
        bad_total += month_bad.astype(np.int64)
        recent_bad = np.vstack([recent_bad[1:], month_bad[None, :]])
        m_idx = np.repeat(np.arange(n), n_marketing)
        for idx, kind in ((t_idx, "ticket"), (c_idx, "complaint"), (m_idx, "marketing")):
            ix_cust.append(idx)
            ix_day.append(act_lo[idx] + rng.random(len(idx)) * exposure[idx])
            ix_kind.append(np.full(len(idx), kind, dtype=object))
            ix_sat.append(sat if kind == "ticket" else np.full(len(idx), np.nan))
            ix_res.append(res if kind == "ticket" else (
                rng.lognormal(np.log(24), 0.8, len(idx)) if kind == "complaint"
                else np.full(len(idx), np.nan)))

        # Purchases this month, before any dropout within it.
        n_buy = rng.poisson(rate * season[m] * exposure / 30.4375)
        b_idx = np.repeat(np.arange(n), n_buy)
        tx_cust.append(b_idx)
        tx_day.append(act_lo[b_idx] + rng.random(len(b_idx)) * exposure[b_idx])

        # Dropout at the end of the month: hazard rises with recent bad experiences and falls
        # with tenure.
        tenure_months = np.maximum(m - (signup_offset - ms_days[0]) / 30.4375, 0)
        hazard = (base_hazard * industry_risk * np.exp(1.0 * recent_bad.sum(axis=0))
                  * (1 + tenure_months / 6) ** -0.5)
        hazard = np.minimum(hazard, 0.9)
        drops = active & np.isinf(dropout_day) & (rng.random(n) < hazard)
        dropout_day[drops] = hi  # they leave at the end of the month

    # Transactions: the sign-up purchase plus every monthly purchase; some returns.
    cust = np.concatenate([np.arange(n), *tx_cust])
    day = np.concatenate([signup_offset + signup_secs / 86400, *tx_day])
    n_tx = len(cust)
    order_value = spend[cust] * rng.gamma(ORDER_SHAPE, 1 / ORDER_SHAPE, n_tx)
    quantity = 1 + rng.poisson(np.log1p(order_value) / 3)
    pref_channel = np.array(list(CHANNELS))
    chan_code = pd.Categorical(channel, categories=pref_channel).codes[cust]
    other = rng.random(n_tx) < 0.2
    chan_code = np.where(other, rng.integers(0, len(pref_channel), n_tx), chan_code)
    rng.zipf(1.3, n_tx)  # the old product draw: consumed so the later draws do not move

    returned = rng.random(n_tx) < RETURN_SHARE
    r_src = np.flatnonzero(returned)
    r_day = day[r_src] + rng.uniform(1, 20, len(r_src))
    keep = r_day < span_days
    r_src, r_day = r_src[keep], r_day[keep]
    r_amount = -np.round(order_value[r_src] * rng.choice([0.5, 1.0], len(r_src)), 2)


    # Products, from their own random stream: each order becomes one to three lines whose
    # amounts sum to the order's total; a return names one product of its order.
    prng = product_rng(seed)
    catalogue = make_catalogue(prng, N_PRODUCTS)
    tastes = customer_tastes(prng, industry)
    lines = order_lines(prng, catalogue, tastes, cust, day,
                        np.rint(order_value * 100).astype(np.int64), quantity)
    first_line = np.searchsorted(lines.order, r_src)
    n_lines = np.bincount(lines.order, minlength=n_tx)[r_src]
    r_line = first_line + (prng.random(len(r_src)) * n_lines).astype(np.int64)
    all_src = np.concatenate([lines.order, r_src])
    all_day = np.concatenate([day[lines.order], r_day])
    all_amount = np.concatenate([lines.cents / 100.0, r_amount])
    all_product = np.concatenate([lines.product, lines.product[r_line]])
    all_quantity = np.concatenate([lines.quantity, quantity[r_src]])

    order_no = all_src  # a return carries the id of the order it returns
    # by customer, then second (as written); stable, so an order's lines stay in order. One
    # integer key sorts 16 M rows in half the time of a two-key lexsort.
    second = np.floor(all_day * 86400).astype(np.int64)
    order = np.argsort(cust[all_src].astype(np.int64) * (int(second.max(initial=0)) + 1) + second,
                       kind="stable")

    cust_ids = _ids("C", n)
    src = all_src[order]
    transactions = pd.DataFrame({
        "customer_id": cust_ids[cust[src]],
        "timestamp": _timestamps(start, all_day[order]),
        "amount": all_amount[order],
        "order_id": order_no[order] + 1,
        "product_id": catalogue.ids[all_product[order]],
        "quantity": all_quantity[order].astype(np.int64),
        # object lookups: indexing a str array would make one Python string per row
        "channel": pref_channel.astype(object)[chan_code[src]],
        "region": region.astype(object)[cust[src]],
    })

    ix_all = np.concatenate(ix_cust)
    ix_days = np.concatenate(ix_day)
    ix_order = np.lexsort((ix_days, ix_all))
    interactions = pd.DataFrame({
        "customer_id": cust_ids[ix_all[ix_order]],
        "timestamp": _timestamps(start, ix_days[ix_order]),
        "kind": np.concatenate(ix_kind)[ix_order],
        "satisfaction": np.concatenate(ix_sat)[ix_order],
        "resolution_hours": np.round(np.concatenate(ix_res)[ix_order], 1),
    })

    customers = pd.DataFrame({
        "customer_id": cust_ids,
        "signup_date": signup.astype("datetime64[ns]"),
        "region": region,
        "industry": industry,
        "channel": channel,
        "company_size": size,
    })
    transactions, contacts, uplift, campaign_meta = add_campaigns(
        transactions, interactions, cust_ids, start, end, seed, rate=rate, spend=spend,
        signup_offset=signup_offset, dropout_day=dropout_day, season=season, ms_days=ms_days,
        me_days=me_days, enabled=campaigns)

    finite = np.isfinite(dropout_day)
    dropout = pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns]")
    dropout[finite] = start + pd.to_timedelta(np.floor(dropout_day[finite]), unit="D")
    truth = pd.DataFrame({
        "group": group_names[group_idx],
        "purchase_rate": rate,
        "spend_level": spend,
        "dropout_date": dropout.to_numpy(),
        "service_quality": quality,
        "bad_experiences": bad_total,
        "favourite_category": np.array(CATEGORIES, dtype=object)[tastes.argmax(axis=1)],
        "favourite_share": tastes.max(axis=1),
    }, index=pd.Index(cust_ids, name="customer_id")).join(uplift)
    category_tastes = pd.DataFrame(tastes, index=truth.index, columns=list(CATEGORIES))
    return CRMDataset(customers=customers, transactions=transactions,
                      interactions=interactions, truth=truth, as_of=end, seed=seed,
                      meta={"start": start, "end": end, "groups": dict(GROUPS),
                            "categories": list(CATEGORIES), "category_tastes": category_tastes,
                            "campaigns": campaign_meta},
                      products=catalogue.frame(), campaigns=contacts)
