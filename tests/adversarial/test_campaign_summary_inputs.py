"""Hostile transactions and windows given to campaign_summary / conversions: typed errors
naming the column, rule and rows, never an infinite lift or a pandas overflow."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import crm_ml as cm

CONTACTS = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "campaign_id": "K",
                         "timestamp": pd.Timestamp("2024-01-01"), "treated": [1, 0, 1, 0]})


def _tx(amounts):
    return pd.DataFrame({"customer_id": ["a", "b", "c", "d"],
                         "timestamp": pd.Timestamp("2024-01-05"), "amount": amounts})


@pytest.mark.parametrize("bad", [np.inf, -np.inf, 1e308])
def test_non_finite_or_corrupt_amounts_are_refused_naming_the_rows(bad):
    with pytest.raises(cm.DataValidationError, match="amount") as err:
        cm.campaigns.campaign_summary(CONTACTS, _tx([10.0, 5.0, bad, 1.0]))
    assert err.value.column == "amount"
    assert list(err.value.rows) == [2]


def test_nan_amount_is_no_purchase():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = cm.campaigns.campaign_summary(CONTACTS, _tx([10.0, np.nan, 3.0, 1.0]))
    assert out["conversion_treated"].iloc[0] == 1.0
    assert out["conversion_control"].iloc[0] == 0.5


@pytest.mark.parametrize("window", [10**9, 200_000, 0, -1, 2.5, True])
def test_impossible_windows_are_a_value_error_naming_window_days(window):
    with pytest.raises(ValueError, match="window_days"):
        cm.campaigns.campaign_summary(CONTACTS, _tx([1.0, 1.0, 1.0, 1.0]), window_days=window)


def test_a_long_window_still_works():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = cm.campaigns.campaign_summary(CONTACTS, _tx([1.0, 0.0, 1.0, 1.0]),
                                            window_days=36_500)
    assert out["conversion_treated"].iloc[0] == 1.0


def test_transaction_ids_are_matched_as_standardize_writes_them():
    """Contacts are standardized (12346 -> '12346'); transactions read from a CSV whose id
    column has a blank are floats (12346.0) or padded text: the same customers all the same."""
    contacts = CONTACTS.assign(customer_id=[12346, 12347, 12348, 12349])
    as_text = _tx([10.0, 5.0, 3.0, 1.0]).assign(customer_id=["12346", "12347", "12348", "x"])
    as_float = as_text.assign(customer_id=[12346.0, 12347.0, 12348.0, np.nan])
    padded = as_text.assign(customer_id=[" 12346", "12347 ", "12348", "x"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = cm.campaigns.campaign_summary(contacts, as_text)
        assert expected["conversion_treated"].iloc[0] == 1.0  # not vacuous
        for tx in (as_float, padded):
            pd.testing.assert_frame_equal(cm.campaigns.campaign_summary(contacts, tx), expected)
