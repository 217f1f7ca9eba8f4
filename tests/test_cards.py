"""Model cards: grade rule, bootstrap intervals, the three renderings and logging."""

from __future__ import annotations

import base64
import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from crm_ml.cards import ModelCard, bootstrap_ci, calibration_table, grade, metrics_table

SECTIONS = ["Model details", "Intended use", "Out-of-scope uses", "Training and evaluation data",
            "Metrics on held-out data", "Results per slice", "Calibration", "Top drivers (SHAP)",
            "Caveats and recommendations", "Data quality"]


def _card(model_score=0.85, baseline_score=0.70, figures=True):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    p = np.clip(0.35 * y + 0.65 * rng.random(400), 0, 1)
    figs = {}
    if figures:
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, 1])
        figs["roc curve"] = fig
    return ModelCard(
        name="crm-test",
        title="Test churn model",
        model_details={"algorithm": "lightgbm", "version": "3", "mlflow_run_id": "abc123",
                       "registered_version": "3"},
        intended_use="Rank active customers by churn risk for retention outreach.",
        out_of_scope="Decisions about individual credit or pricing.",
        data={"as_of": pd.Timestamp("2024-06-30"), "period": "2022-01-01 .. 2024-06-30",
              "label": "no purchase in the 90 days after as_of", "rows": 400, "base_rate": 0.5},
        metrics=metrics_table({"roc_auc": roc_auc_score}, y, p, n_boot=50),
        baseline={"metric": "roc_auc", "model": model_score, "baseline": baseline_score,
                  "baseline_rule": "recency rule: no purchase in the last 90 days",
                  "higher_is_better": True},
        slices=pd.DataFrame({"region": ["north", "south"], "rows": [200, 200],
                             "roc_auc": [0.81, 0.64]}),
        calibration=calibration_table(y, p, n_bins=5),
        drivers=pd.DataFrame({"feature": ["recency_days", "n_orders"],
                              "mean_abs_shap": [0.4, 0.2]}),
        caveats=["Retrain monthly; monitor drift of recency_days.",
                 "Must not be used to deny service."],
        data_quality={"rows_in": 1000, "dropped_returns": 12, "dropped_duplicates": 3},
        figures=figs,
        extra_sections={"Notes": "Synthetic data."},
    )


@pytest.mark.parametrize(
    ("model", "baseline", "hib", "expected"),
    [(0.80, 0.70, True, "A"),    # +14 %
     (0.72, 0.70, True, "B"),    # +2.9 %
     (0.703, 0.70, True, "C"),   # +0.4 %: not meaningfully better
     (0.60, 0.70, True, "C"),    # worse
     (90.0, 100.0, False, "A"),  # error metric: 10 % lower
     (98.0, 100.0, False, "B"),
     (101.0, 100.0, False, "C"),
     (float("nan"), 0.7, True, "C")],
)
def test_grade_letters_follow_the_stated_rule(model, baseline, hib, expected):
    letter, text = grade(model, baseline, higher_is_better=hib)
    assert letter == expected
    assert "A (clearly better) when the improvement is at least 5%" in text
    assert "B (slightly better)" in text and "C (not better)" in text
    assert ("lower is better" in text) == (not hib)


def test_bootstrap_ci_contains_point_estimate_and_narrows_with_more_data():
    rng = np.random.default_rng(1)
    y_small = rng.normal(10, 2, 100)
    y_big = rng.normal(10, 2, 2000)

    def mean_fn(t, s):
        return float(np.mean(s))

    lo, hi = bootstrap_ci(mean_fn, y_small, y_small, n_boot=300, seed=0)
    assert lo < np.mean(y_small) < hi
    # a 95 % interval of a mean of 100 N(10, 2) draws is about +-0.4
    assert 0.5 < hi - lo < 1.2
    lo2, hi2 = bootstrap_ci(mean_fn, y_big, y_big, n_boot=300, seed=0)
    assert hi2 - lo2 < (hi - lo) / 2
    # reproducible
    assert bootstrap_ci(mean_fn, y_small, y_small, n_boot=300, seed=0) == (lo, hi)


def test_bootstrap_ci_skips_undefined_resamples_and_reports_nan_when_impossible():
    y = np.array([0] * 50 + [1] * 50)
    s = np.linspace(0, 1, 100)
    lo, hi = bootstrap_ci(roc_auc_score, y, s, n_boot=100)
    assert lo <= roc_auc_score(y, s) <= hi
    lo, hi = bootstrap_ci(roc_auc_score, np.zeros(20), s[:20], n_boot=50)
    assert np.isnan(lo) and np.isnan(hi)


def test_markdown_opens_with_grade_and_has_every_section():
    card = _card()
    md = card.to_markdown()
    first_block = md.split("## Model details")[0]
    assert "Quality grade: A" in first_block
    assert "recency rule" in first_block and "Grade rule" in first_block
    positions = [md.index(f"## {s}") for s in SECTIONS]
    assert positions == sorted(positions), "sections out of order"
    for text in ["abc123", "lightgbm", "2024-06-30", "no purchase in the 90 days", "base_rate",
                 "roc_auc", "ci_low", "north", "recency_days", "Must not be used", "dropped_returns",
                 "scikit-learn", "plots/roc_curve.png", "## Notes"]:
        assert text in md, text


def test_grade_c_when_model_does_not_beat_baseline():
    card = _card(model_score=0.69, baseline_score=0.70)
    assert card.grade == "C"
    assert "Quality grade: C" in card.to_markdown()
    assert "grade-C" in card.to_html()


def test_html_is_self_contained_with_embedded_png():
    html = _card().to_html()
    assert html.lstrip().startswith("<!DOCTYPE html>")
    assert "<style>" in html
    for s in SECTIONS:
        assert s in html.replace("&amp;", "&"), s
    marker = "data:image/png;base64,"
    assert marker in html
    b64 = html.split(marker, 1)[1].split('"', 1)[0]
    assert base64.b64decode(b64)[:8] == b"\x89PNG\r\n\x1a\n"
    # no external resources
    assert "http://" not in html and "https://" not in html


def test_html_escapes_user_text():
    card = _card()
    card.intended_use = "<script>alert(1)</script>"
    assert "<script>" not in card.to_html()


def test_write_and_json_round_trip(tmp_path):
    card = _card()
    paths = card.write(tmp_path / "crm-test")
    assert {"md", "html", "json"} <= set(paths)
    for p in paths.values():
        assert p.exists() and p.stat().st_size > 0
    assert (tmp_path / "crm-test" / "plots" / "roc_curve.png").exists()
    d = json.loads(paths["json"].read_text())
    assert d["grade"] == "A" and d["name"] == "crm-test"
    assert d["metrics"][0]["metric"] == "roc_auc"
    assert d["data"]["as_of"].startswith("2024-06-30")
    again = ModelCard.from_dict(d)
    assert again.grade == card.grade
    assert again.to_markdown().split("## Figures")[0] == card.to_markdown().split("## Figures")[0]


def test_card_without_baseline_is_graded_c_and_says_why():
    card = ModelCard(name="x", title="x")
    assert card.grade == "C"
    assert "No baseline" in card.to_markdown()
    json.dumps(card.to_dict())


def test_data_quality_report_object_is_rendered_flat():
    from crm_ml.data.quality import DataQualityReport

    rep = DataQualityReport(kind="transactions", rows_in=1000, rows_out=985,
                            dropped={"returns": 12, "duplicates": 3},
                            notes=["3 duplicate rows removed"])
    card = ModelCard(name="x", title="x", data_quality={"transactions": rep})
    md = card.to_markdown()
    assert "| transactions.dropped.returns | 12 |" in md
    assert "3 duplicate rows removed" in md
    assert json.loads(json.dumps(card.to_dict()))["data_quality"]["transactions"]["rows_in"] == 1000

