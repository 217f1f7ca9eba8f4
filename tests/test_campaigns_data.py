"""The built-in campaigns: contract, randomisation, exact true effects, uplift_frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import crm_ml as cm
from crm_ml.datasets import make_crm_dataset
from crm_ml.datasets._campaigns import PERSUADABLE_MIN, SLEEPING_DOG_MAX, SURE_THING_P0
from crm_ml.errors import DataValidationError

WINDOW = pd.Timedelta(days=30)


@pytest.fixture(scope="module")
def ds():
    return make_crm_dataset(n_customers=6000, seed=11)


@pytest.fixture(scope="module")
def plain():
    return make_crm_dataset(n_customers=6000, seed=11, campaigns=False)


@pytest.fixture(scope="module")
def main(ds):
    """Main-campaign contacts with their conversion and truth."""
    out = cm.campaigns.conversions(ds.campaigns, ds.transactions)
    out = out[out["campaign_id"] == ds.meta["campaigns"]["main_campaign"]]
    return out.set_index("customer_id").join(ds.truth[["true_uplift", "uplift_type"]])


def test_contacts_follow_the_contract(ds):
    c = ds.campaigns
    assert list(c.columns) == ["customer_id", "campaign_id", "timestamp", "treated", "channel",
                               "cost", "opened", "clicked"]
    std = cm.data.standardize(c, kind="contacts")
    pd.testing.assert_frame_equal(std.reset_index(drop=True)[c.columns], c, check_like=False)
    meta = ds.meta["campaigns"]
    assert set(c["campaign_id"]) == {meta["main_campaign"], meta["followup_campaign"]}
    assert meta["main_contact_day"] == ds.as_of - pd.Timedelta(days=75)
    by = c.groupby("campaign_id")["treated"].agg(["size", "mean"])
    assert by.loc[meta["main_campaign"], "mean"] == pytest.approx(0.5, abs=0.001)
    assert by.loc[meta["followup_campaign"], "mean"] == 1.0  # no control group
    assert by.loc[meta["followup_campaign"], "size"] < 0.3 * by.loc[meta["main_campaign"], "size"]
    control = c[c["treated"] == 0]
    assert control[["opened", "clicked"]].isna().all().all() and (control["cost"] == 0).all()
    treated = c[c["treated"] == 1]
    assert treated["opened"].isin([0, 1]).all() and treated["clicked"].isin([0, 1]).all()
    assert (treated["clicked"] <= treated["opened"]).all() and (treated["cost"] > 0).all()
    # contacts are on the contact day, and the customers were known (customers table)
    assert (c.loc[c["campaign_id"] == meta["main_campaign"], "timestamp"].dt.normalize()
            == meta["main_contact_day"]).all()
    assert c["customer_id"].isin(ds.customers["customer_id"]).all()


def test_main_campaign_goes_to_the_customers_active_in_the_year_before(ds):
    meta = ds.meta["campaigns"]
    day_before = meta["main_contact_day"] - pd.Timedelta(days=1)
    X = cm.features.build(ds.transactions, day_before)
    active = set(X.index[X["orders_365d"] > 0])
    contacted = set(ds.campaigns.loc[ds.campaigns["campaign_id"] == meta["main_campaign"],
                                     "customer_id"])
    assert contacted == active


def test_control_is_a_random_half(ds):
    X, treated, _ = cm.campaigns.uplift_frame(ds)
    for col in ("recency_days", "n_orders", "avg_order_value", "total_spend", "tenure_days",
                "complaints_180d", "orders_365d"):
        a, b = X.loc[treated == 1, col], X.loc[treated == 0, col]
        smd = abs(a.mean() - b.mean()) / np.sqrt((a.var() + b.var()) / 2)
        assert smd < 0.08, col  # standardized mean difference: balanced
    # not the first half of the list, not alternating: interleaved at random
    runs = (treated.diff().fillna(0) != 0).sum()
    assert 0.4 * len(treated) < runs < 0.6 * len(treated)


def test_nothing_moves_but_the_campaign_windows_of_treated_customers(ds, plain):
    pd.testing.assert_frame_equal(ds.customers, plain.customers)
    pd.testing.assert_frame_equal(ds.interactions, plain.interactions)
    pd.testing.assert_frame_equal(ds.truth.drop(columns=["true_uplift", "uplift_type"]),
                                  plain.truth.drop(columns=["true_uplift", "uplift_type"]))
    assert plain.campaigns.empty and plain.truth["true_uplift"].isna().all()
    treated = ds.campaigns[ds.campaigns["treated"] == 1]
    touched = set(treated["customer_id"])
    a = ds.transactions[~ds.transactions["customer_id"].isin(touched)].reset_index(drop=True)
    b = plain.transactions[~plain.transactions["customer_id"].isin(touched)]
    pd.testing.assert_frame_equal(a, b.reset_index(drop=True))
    # treated customers: rows outside their windows are unchanged, except whole orders that
    # were prevented (their returns go with them)
    key = ["customer_id", "order_id", "timestamp", "amount"]
    new, old = (f[f["customer_id"].isin(touched)][key] for f in (ds.transactions,
                                                                  plain.transactions))
    both = new.merge(old, how="outer", indicator=True)
    added, removed = both[both["_merge"] == "left_only"], both[both["_merge"] == "right_only"]
    win = treated[["customer_id", "timestamp"]].rename(columns={"timestamp": "ct"})
    w = added.merge(win, on="customer_id")
    in_window = (w["timestamp"] > w["ct"]) & (w["timestamp"] <= w["ct"] + WINDOW)
    assert len(added) and (w.groupby(["customer_id", "order_id"])
                           .apply(lambda g: in_window[g.index].any(), include_groups=False)
                           .all())
    assert (added["amount"] > 0).all() and not added["order_id"].isin(old["order_id"]).any()
    r = removed.merge(win, on="customer_id")
    r_in = (r["timestamp"] > r["ct"]) & (r["timestamp"] <= r["ct"] + WINDOW) & (r["amount"] > 0)
    prevented = set(r.loc[r_in, "order_id"])
    assert len(removed) and set(removed["order_id"]) == prevented
    # a whole order goes: none of its rows are left
    assert not new["order_id"].isin(prevented).any()


def test_truth_is_exact_where_contacted_and_nan_elsewhere(ds, main):
    truth = ds.truth
    contacted = truth.index.isin(main.index)
    assert truth.loc[contacted, "true_uplift"].notna().all()
    assert truth.loc[~contacted, "true_uplift"].isna().all()
    assert truth.loc[~contacted, "uplift_type"].isna().all()
    u = truth.loc[contacted]
    assert u["true_uplift"].between(-1, 1).all()
    assert (u.loc[u["uplift_type"] == "persuadable", "true_uplift"] >= PERSUADABLE_MIN).all()
    assert (u.loc[u["uplift_type"] == "sleeping_dog", "true_uplift"] <= SLEEPING_DOG_MAX).all()
    small = u["uplift_type"].isin(["sure_thing", "lost_cause"])
    assert u.loc[small, "true_uplift"].between(SLEEPING_DOG_MAX, PERSUADABLE_MIN).all()
    shares = u["uplift_type"].value_counts(normalize=True)
    assert set(shares.index) == {"persuadable", "sure_thing", "sleeping_dog", "lost_cause"}
    assert shares.min() > 0.02  # every type is there in numbers
    assert SURE_THING_P0 == 0.5


def test_the_true_effect_is_in_the_transactions(main):
    t, c = main[main["treated"] == 1], main[main["treated"] == 0]
    observed = t["converted"].mean() - c["converted"].mean()
    se = np.sqrt(t["converted"].var() / len(t) + c["converted"].var() / len(c))
    assert abs(observed - main["true_uplift"].mean()) < 3 * se
    assert main["true_uplift"].mean() > 2 * se  # and the campaign works on average
    for kind, part in main.groupby("uplift_type"):
        t, c = part[part["treated"] == 1], part[part["treated"] == 0]
        diff = t["converted"].mean() - c["converted"].mean()
        se = np.sqrt(t["converted"].var() / len(t) + c["converted"].var() / len(c))
        # the type mean is a mean over these customers; control and treated are random
        assert abs(diff - part["true_uplift"].mean()) < 3.5 * se, kind
        if kind == "persuadable":
            assert diff > 3 * se
        elif kind == "sleeping_dog":
            assert diff < -3 * se


def test_response_and_uplift_targeting_disagree(main):
    """Those most likely to buy (sure things) are not those the campaign moves."""
    control = main[main["treated"] == 0]
    by_type = control.groupby("uplift_type")["converted"].mean()
    assert by_type["sure_thing"] > by_type["persuadable"] + 0.2
    assert main.groupby("uplift_type")["true_uplift"].mean()["sure_thing"] < 0.05


def test_campaigns_are_reproducible():
    a = make_crm_dataset(n_customers=500, seed=4)
    b = make_crm_dataset(n_customers=500, seed=4)
    c = make_crm_dataset(n_customers=500, seed=5)
    pd.testing.assert_frame_equal(a.campaigns, b.campaigns)
    pd.testing.assert_frame_equal(a.transactions, b.transactions)
    assert not a.campaigns["treated"].equals(c.campaigns["treated"])


def test_short_history_has_no_campaigns():
    ds = make_crm_dataset(n_customers=50, start="2024-01-01", end="2024-03-31", seed=1)
    assert ds.campaigns.empty
    assert list(ds.campaigns.columns)[:4] == ["customer_id", "campaign_id", "timestamp",
                                              "treated"]
    assert ds.truth["true_uplift"].isna().all()
    with pytest.raises(DataValidationError, match="has no campaigns"):
        cm.campaigns.uplift_frame(ds)


def test_uplift_frame_on_the_dataset(ds, main):
    X, treated, y = cm.campaigns.uplift_frame(ds)
    assert X.index.equals(treated.index) and X.index.equals(y.index)
    assert set(X.index) == set(main.index) and X.index.is_unique
    assert treated.equals(main["treated"].reindex(X.index).astype(np.int64).rename("treated"))
    assert (y == main["converted"].reindex(X.index)).all()
    assert set(y.unique()) == {0, 1} and "recency_days" in X and X["recency_days"].notna().all()


def test_uplift_frame_features_see_nothing_from_the_contact_day_on(ds):
    meta = ds.meta["campaigns"]
    day = meta["main_contact_day"]
    X, _, _ = cm.campaigns.uplift_frame(ds)
    tx, ix = ds.transactions.copy(), ds.interactions.copy()
    late = tx["timestamp"] >= day
    tx.loc[late, "amount"] = tx.loc[late, "amount"] * 7 + 1
    tx.loc[late, "product_id"] = "P999"
    ix = ix[ix["timestamp"] < day]  # every later interaction gone
    extra = pd.DataFrame({"customer_id": X.index[:50], "timestamp": day,
                          "kind": "complaint", "satisfaction": np.nan,
                          "resolution_hours": 1.0})
    ix = pd.concat([ix, extra], ignore_index=True)
    X2, _, _ = cm.campaigns.uplift_frame(ds.campaigns, tx, ix, ds.customers,
                                         campaign_id=meta["main_campaign"])
    pd.testing.assert_frame_equal(X, X2)


def test_uplift_frame_on_user_contacts_and_its_errors(ds):
    meta = ds.meta["campaigns"]
    with pytest.raises(DataValidationError, match="2 campaigns"):
        cm.campaigns.uplift_frame(ds.campaigns, ds.transactions)
    with pytest.raises(DataValidationError, match="no control"):
        cm.campaigns.uplift_frame(ds, campaign_id=meta["followup_campaign"])
    with pytest.raises(DataValidationError, match="not in the contacts"):
        cm.campaigns.uplift_frame(ds, campaign_id="nope")
    with pytest.raises(TypeError, match="transactions are required"):
        cm.campaigns.uplift_frame(ds.campaigns)
    # a user's table: other column names, a prospect without any purchase
    raw = ds.campaigns[ds.campaigns["campaign_id"] == meta["main_campaign"]].head(40)
    raw = raw.rename(columns={"customer_id": "Client", "timestamp": "SentAt"})
    raw = pd.concat([raw, raw.tail(1).assign(Client="PROSPECT-1")], ignore_index=True)
    contacts = cm.data.standardize(raw, kind="contacts", customer_id="Client",
                                   timestamp="SentAt")
    X, treated, y = cm.campaigns.uplift_frame(contacts, ds.transactions)
    assert len(X) == 41 and X.loc["PROSPECT-1"].isna().all() and y["PROSPECT-1"] == 0


def test_contacts_round_trip_through_a_csv_file(ds, tmp_path):
    path = tmp_path / "contacts.csv"
    ds.campaigns.to_csv(path, index=False)
    back = cm.data.read_contacts(path)
    pd.testing.assert_frame_equal(back[ds.campaigns.columns], ds.campaigns)


def test_orders_with_several_product_lines_are_copied_and_removed_whole():
    """Orders of several lines (as with product lines): an added order copies all lines of an
    earlier order of the customer; a prevented order loses all its lines."""
    from crm_ml.datasets._campaigns import add_campaigns
    from crm_ml.datasets.synthetic import _seasonality

    plain = make_crm_dataset(n_customers=1500, seed=9, campaigns=False)
    start, end = plain.meta["start"], plain.meta["end"]
    tx = plain.transactions
    halves = [tx.assign(amount=tx["amount"] / 2, product_id=tx["product_id"] + suffix)
              for suffix in ("a", "b")]
    lines = pd.concat(halves).sort_values(["customer_id", "timestamp"], kind="mergesort")
    lines = lines.reset_index(drop=True)
    truth = plain.truth
    month_starts = pd.date_range(start.replace(day=1), end, freq="MS")
    span = (end - start).days + 1
    dropout = ((truth["dropout_date"] - start).dt.days.astype(float).fillna(np.inf)).to_numpy()
    state = dict(rate=truth["purchase_rate"].to_numpy(), spend=truth["spend_level"].to_numpy(),
                 signup_offset=(plain.customers["signup_date"] - start).dt.days.to_numpy(),
                 dropout_day=dropout, season=_seasonality(month_starts),
                 ms_days=(month_starts - start).days.to_numpy(),
                 me_days=np.minimum(((month_starts + pd.offsets.MonthBegin(1)) - start).days
                                    .to_numpy(), span))
    out, contacts, uplift, _ = add_campaigns(lines, plain.interactions,
                                             plain.customers["customer_id"].to_numpy(),
                                             start, end, 9, **state)
    assert len(contacts) and uplift["true_uplift"].notna().any()
    buys = out[out["amount"] > 0]
    per_order = buys.groupby("order_id")["product_id"].agg(lambda p: "".join(sorted(x[-1]
                                                                              for x in p)))
    # every order kept (or was given) both halves of each line; the data's own orders may
    # have several products, so a kept order keeps all its lines
    assert per_order.map(lambda s: len(s) > 0 and s.count("a") == s.count("b")).all()
    before = lines[lines["amount"] > 0].groupby("order_id").size()
    after = buys.groupby("order_id").size()
    kept = after.index.intersection(before.index)
    assert len(kept) and (after[kept] == before[kept]).all()
    added = set(out["order_id"]) - set(lines["order_id"])
    removed = set(lines["order_id"]) - set(out["order_id"])
    assert added and removed
    # with the same seed, the single-line data gets the same campaigns (the stream is its own)
    ds = make_crm_dataset(n_customers=1500, seed=9)
    pd.testing.assert_frame_equal(contacts[["customer_id", "treated"]],
                                  ds.campaigns[["customer_id", "treated"]])
