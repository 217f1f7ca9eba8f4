"""Card sections for the data source and the data-quality report (issue #17)."""

from __future__ import annotations

import hashlib
import warnings

import pandas as pd
import pytest

from crm_ml import DataValidationError
from crm_ml.cards import ModelCard, data_source_section, quality_section
from crm_ml.data import standardize
from crm_ml.data.quality import DataQualityReport


@pytest.fixture()
def raw():
    return pd.DataFrame({
        "customer_id": ["a", "a", "b", "b", "c", "c"],
        "timestamp": ["2024-01-02", "2024-01-02", "2024-02-03", "2024-03-04", "2024-03-05",
                        "2024-04-30"],
        "amount": [10.0, 10.0, -5.0, 0.0, 7.5, 3.0],
    })


def test_data_source_names_the_file_not_its_path(tmp_path, raw):
    path = tmp_path / "deep" / "sales_2024.csv"
    path.parent.mkdir()
    raw.to_csv(path, index=False)
    tx = standardize(pd.read_csv(path))
    section = data_source_section({"transactions": path}, {"transactions": tx})
    entry = section["transactions"]
    assert entry["file"] == "sales_2024.csv" and str(tmp_path) not in str(section)
    assert entry["bytes"] == path.stat().st_size
    assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (entry["rows"], entry["customers"]) == (6, 3)
    assert entry["first_timestamp"].startswith("2024-01-02")
    assert entry["last_timestamp"].startswith("2024-04-30")


def test_frames_without_files_get_description_and_content_hash(raw):
    tx = standardize(raw)
    section = data_source_section(None, {"transactions": tx},
                                  description="crm_ml built-in synthetic data")
    entry = section["transactions"]
    assert entry["source"] == "crm_ml built-in synthetic data"
    assert entry["rows"] == 6 and "file" not in entry
    same = data_source_section(None, {"transactions": tx.copy()})["transactions"]
    other = data_source_section(None, {"transactions": tx.iloc[:-1]})["transactions"]
    assert same["content_sha256"] == entry["content_sha256"] != other["content_sha256"]
    assert same["source"] == "in-memory data frame"


def test_data_source_rejects_missing_files_and_non_frames(tmp_path, raw):
    with pytest.raises(FileNotFoundError, match="transactions"):
        data_source_section({"transactions": tmp_path / "nope.csv"}, {})
    with pytest.raises(DataValidationError, match="customers"):
        data_source_section(None, {"customers": [1, 2]})


def test_quality_section_renders_dropped_rows_by_rule(raw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tx = standardize(raw, drop_returns=True, drop_zero_amounts=True, drop_duplicates=True)
    rep = DataQualityReport.of(tx)
    q = quality_section(rep)
    assert q["rows read"] == 6 and q["rows kept"] == 3 and q["rows dropped"] == 3
    assert q["dropped: returns"] == 1 and q["dropped: zero amounts"] == 1
    assert q["dropped: duplicates"] == 1 and q["exact duplicates found"] == 1
    assert quality_section(tx) == q == quality_section(rep.to_dict())
    assert quality_section({"transactions": rep, "customers": None}) == {"transactions": q}
    assert quality_section(None) is None


def test_kept_duplicates_are_said_to_be_kept(raw):
    q = quality_section(standardize(raw))
    assert q["exact duplicates found"] == "1 (kept)"
    assert q["rows dropped"] == 0


def test_quality_section_rejects_other_objects():
    with pytest.raises(DataValidationError, match="DataQualityReport"):
        quality_section(42)


def test_both_sections_render_on_a_card(tmp_path, raw):
    tx = standardize(raw)
    card = ModelCard(name="crm-churn", title="Churn",
                     data={"sources": data_source_section(None, {"transactions": tx})},
                     data_quality=quality_section(tx))
    md = card.to_markdown()
    assert "rows read" in md and "content_sha256" in md
