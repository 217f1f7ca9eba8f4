"""Products in the built-in data: a catalogue with categories and complements, customer tastes,
and the lines of every order.

The story, so that recommenders and association rules have a known truth to find:

- the catalogue has :data:`N_CATEGORIES` categories; within a category a few products sell far
  more than the rest (Zipf-like popularity), and each product has one or two *complements*
  (half of them in another category: a printer and its toner) that customers often buy in the
  same order or in a later one;
- each customer has category tastes drawn from a concentrated Dirichlet, a little tilted
  towards the two categories their industry prefers, so most customers buy mostly from one to
  three categories;
- an order's first product is a draw from the customer's tastes and the popularity within the
  category; with probability :data:`P_MULTI` the order has one or two more lines, each the
  complement of a product already in the basket or of the customer's previous order (with
  probability :data:`P_COMPLEMENT`), else another taste draw. A product appears at most once
  per order, and the order total is split over its lines to the cent.

Everything here draws from its own random stream, so adding products moves nothing else in
the dataset (customers, order times and totals, interactions, truth).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

CATEGORIES = ("hardware", "software", "networking", "office_supplies", "furniture",
              "printing", "security", "cloud", "training", "support_services")
N_CATEGORIES = len(CATEGORIES)
#: the two categories each industry leans towards (a mild tilt of the Dirichlet tastes)
INDUSTRY_CATEGORIES = {
    "retail": ("office_supplies", "printing"),
    "services": ("software", "training"),
    "manufacturing": ("hardware", "furniture"),
    "tech": ("cloud", "networking"),
    "health": ("security", "support_services"),
}
TASTE_ALPHA = 0.15        # Dirichlet concentration of every category (small = concentrated)
INDUSTRY_ALPHA = 0.35     # added to the concentration of the industry's two categories
POPULARITY_EXPONENT = 1.0  # Zipf exponent of popularity within a category
P_MULTI = 0.4             # share of orders with more than one line
P_THREE = 0.3             # share of multi-line orders with three lines rather than two
P_COMPLEMENT = 0.7        # an extra line is a complement (else another taste draw)
P_FROM_PREVIOUS = 0.3     # ... of the customer's previous order (else of this basket)
PRODUCT_STREAM = 20       # the product stream is SeedSequence([seed, PRODUCT_STREAM])


def product_rng(seed: int) -> np.random.Generator:
    """The random stream of everything product-related, separate from the main one."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), PRODUCT_STREAM]))


@dataclass
class Catalogue:
    """Products, by integer code ``0..n-1`` (their id is ``P{code:03d}``)."""

    ids: np.ndarray          #: product ids (object array of str)
    category: np.ndarray     #: category code of each product (sorted: categories are blocks)
    popularity: np.ndarray   #: relative popularity within its category (sums to 1 per category)
    base_price: np.ndarray   #: list price; weights how an order total splits over its lines
    complements: np.ndarray  #: (n, 2) complement codes; the second is -1 for one complement

    def frame(self) -> pd.DataFrame:
        """The truth as a frame: ``product_id, category, base_price, complements``
        (complements comma-separated, e.g. ``"P017,P120"``)."""
        comp = [",".join(self.ids[c] for c in row if c >= 0) for row in self.complements]
        return pd.DataFrame({
            "product_id": self.ids,
            "category": np.array(CATEGORIES, dtype=object)[self.category],
            "base_price": self.base_price,
            "complements": np.array(comp, dtype=object),
        })


def make_catalogue(rng: np.random.Generator, n_products: int = 200) -> Catalogue:
    """A catalogue of ``n_products`` products in :data:`CATEGORIES` (blocks of ids)."""
    if n_products < N_CATEGORIES:
        raise ValueError(f"n_products must be at least {N_CATEGORIES} (one per category), "
                         f"got {n_products}")
    category = np.sort(np.arange(n_products) % N_CATEGORIES)
    popularity = np.empty(n_products)
    for c in range(N_CATEGORIES):
        members = np.flatnonzero(category == c)
        weight = (1.0 + rng.permutation(len(members))) ** -POPULARITY_EXPONENT
        popularity[members] = weight / weight.sum()
    cat_price = rng.lognormal(np.log(40.0), 0.8, N_CATEGORIES)
    base_price = np.round(cat_price[category] * rng.lognormal(0.0, 0.4, n_products), 2)
    complements = np.full((n_products, 2), -1, dtype=np.int64)
    n_comp = 1 + (rng.random(n_products) < 0.5)
    for p in range(n_products):
        for j in range(n_comp[p]):
            cross = rng.random() < 0.5
            pool = np.flatnonzero((category != category[p]) if cross else
                                  (category == category[p]))
            pool = pool[(pool != p) & ~np.isin(pool, complements[p])]
            if len(pool) == 0:
                pool = np.setdiff1d(np.arange(n_products), np.r_[p, complements[p]])
            complements[p, j] = rng.choice(pool)
    ids = np.array([f"P{i:03d}" for i in range(n_products)], dtype=object)
    return Catalogue(ids, category, popularity, base_price, complements)


def customer_tastes(rng: np.random.Generator, industry: np.ndarray) -> np.ndarray:
    """Category tastes, one Dirichlet row per customer (n x :data:`N_CATEGORIES`)."""
    alpha = np.full((len(INDUSTRY_CATEGORIES) + 1, N_CATEGORIES), TASTE_ALPHA)
    for i, cats in enumerate(INDUSTRY_CATEGORIES.values()):
        alpha[i, [CATEGORIES.index(c) for c in cats]] += INDUSTRY_ALPHA
    codes = pd.Categorical(industry, categories=list(INDUSTRY_CATEGORIES)).codes
    codes = np.where(codes < 0, len(INDUSTRY_CATEGORIES), codes)  # unknown: no tilt
    g = rng.gamma(alpha[codes])
    total = g.sum(axis=1, keepdims=True)
    # a row of all-zero gammas (possible with tiny alphas) falls back to uniform tastes
    return np.where(total > 0, g / np.where(total > 0, total, 1.0), 1.0 / N_CATEGORIES)


def _taste_draw(rng: np.random.Generator, cat: Catalogue, tastes: np.ndarray,
                cust: np.ndarray) -> np.ndarray:
    """One product per row of ``cust``: a category from the customer's tastes, then a product
    by popularity within it (inverse CDF, vectorised)."""
    u = rng.random(len(cust))
    category = np.empty(len(cust), dtype=np.int64)
    cum = np.cumsum(tastes[:, :-1], axis=1)  # a category = the number of cumulative shares below u
    for lo in range(0, len(cust), 1 << 20):  # in blocks: a gathered block of rows is small
        block = slice(lo, lo + (1 << 20))
        category[block] = (cum[cust[block]] < u[block, None]).sum(axis=1)
    # products are blocks by category: cumulative popularity shifted by the category code
    # is increasing over the whole catalogue
    shifted = np.cumsum(cat.popularity) - np.r_[0, np.cumsum(np.bincount(
        cat.category, weights=cat.popularity, minlength=N_CATEGORIES))][cat.category]
    shifted += cat.category
    product = np.searchsorted(shifted, category + rng.random(len(cust)), side="right")
    return np.minimum(product, len(cat.ids) - 1)


def _complement_of(rng: np.random.Generator, cat: Catalogue, source: np.ndarray) -> np.ndarray:
    n_comp = (cat.complements[source] >= 0).sum(axis=1)
    pick = (rng.random(len(source)) * n_comp).astype(np.int64)
    return cat.complements[source, pick]


@dataclass
class OrderLines:
    """The lines of a set of orders (``order`` indexes the orders given, lines in order)."""

    order: np.ndarray     #: index of the order of each line (ascending)
    product: np.ndarray   #: product code of each line
    cents: np.ndarray     #: amount of each line in cents (the lines of an order sum to its total)
    quantity: np.ndarray  #: units on each line (>= 1)


def order_lines(rng: np.random.Generator, cat: Catalogue, tastes: np.ndarray,
                customer: np.ndarray, day: np.ndarray, cents: np.ndarray,
                quantity: np.ndarray) -> OrderLines:
    """Split orders into product lines.

    Parameters
    ----------
    rng : Generator
        The product stream (:func:`product_rng`).
    cat : Catalogue
        The catalogue.
    tastes : ndarray
        Category tastes, one row per customer (:func:`customer_tastes`).
    customer, day : ndarray
        Customer code (row of ``tastes``) and time of each order (any unit; orders the
        customer's history so "the previous order" is defined).
    cents : ndarray of int
        Each order's total in cents (>= 0).
    quantity : ndarray of int
        Units of each order's first line (extra lines draw their own, >= 1).

    Returns
    -------
    OrderLines
        At least one line per order; the lines of an order name distinct products and their
        cents sum exactly to the order's total; every line has at least one cent unless the
        order's total is zero (then it has one line).
    """
    n = len(customer)
    customer = np.asarray(customer, dtype=np.int64)
    cents = np.asarray(cents, dtype=np.int64)
    first = _taste_draw(rng, cat, tastes, customer)

    # the customer's previous order in time, whose first product can call for a complement
    by_time = np.argsort(customer * (np.ptp(day) + 1.0 if n else 1.0) + day)
    prev = np.full(n, -1, dtype=np.int64)
    same = customer[by_time[1:]] == customer[by_time[:-1]]
    prev[by_time[1:][same]] = by_time[:-1][same]

    u = rng.random(n)
    n_extra = (u < P_MULTI).astype(np.int64) + (u < P_MULTI * P_THREE)
    n_extra = np.minimum(n_extra, np.maximum(cents - 1, 0))  # a cent at least per line
    line_product = np.full((n, 3), -1, dtype=np.int32)
    line_product[:, 0] = first
    for j in (1, 2):  # the second and third lines, drawn only for the orders that have them
        rows = np.flatnonzero(n_extra >= j)
        m = len(rows)
        source = first[rows] if j == 1 else np.where(rng.random(m) < 0.5, first[rows],
                                                     line_product[rows, 1])
        p = prev[rows]
        use_prev = (p >= 0) & (rng.random(m) < P_FROM_PREVIOUS)
        source[use_prev] = first[p[use_prev]]
        extra = _complement_of(rng, cat, source)
        draw = rng.random(m) >= P_COMPLEMENT
        extra[draw] = _taste_draw(rng, cat, tastes, customer[rows[draw]])
        # a product appears once per order: a line repeating an earlier one is dropped
        repeat = (extra == first[rows]) | (extra == line_product[rows, 1])
        line_product[rows, j] = np.where(repeat, -1, extra)
    flat = np.flatnonzero(line_product.ravel() >= 0)  # by order, then line
    product = line_product.ravel()[flat]
    order_idx, column = np.divmod(flat, 3)
    is_first = column == 0

    # split each total: every line gets a cent, the rest by price x a random weight, and the
    # first line takes the rounding remainder
    n_lines = np.bincount(order_idx, minlength=n)
    line_cents = np.zeros(len(product), dtype=np.int64)
    extra_line = np.flatnonzero(~is_first)
    split = np.flatnonzero(n_lines[order_idx] > 1)
    weight = cat.base_price[product[split]] * rng.gamma(4.0, 0.25, len(split))
    o = order_idx[split]
    share = weight / np.bincount(o, weights=weight, minlength=n)[o]
    line_cents[split] = 1 + np.floor((cents[o] - n_lines[o]) * share).astype(np.int64)
    line_cents[is_first] = 0
    line_cents[is_first] = cents - np.bincount(order_idx, weights=line_cents,
                                               minlength=n).astype(np.int64)
    line_qty = np.asarray(quantity, dtype=np.int64)[order_idx]
    line_qty[extra_line] = 1 + rng.poisson(np.log1p(line_cents[extra_line] / 100.0) / 3)
    return OrderLines(order_idx, product, line_cents, line_qty)
