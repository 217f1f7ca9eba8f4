"""crm_ml.kpi: KPI values computed by hand on a tiny frame, cohorts, as_of leakage,
small-cell suppression, the HTML report and `crm-ml report`."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pandas as pd
import pytest

from crm_ml.errors import DataValidationError
from crm_ml.kpi import SUPPRESSION_RULE, kpi_table, report, retention_cohorts
from crm_ml.kpi.definitions import DEFINITIONS

AS_OF = "2024-03-31"


def _tx() -> pd.DataFrame:
    """Three customers over three months (a return in March).

    a: Jan 5 (100), Feb 3 (50), Mar 15 return (-30); b: Jan 20 (200), Mar 1 (20);
    c: Feb 10 (10), Feb 20 (5).
    """
    return pd.DataFrame({
        "customer_id": ["a", "a", "b", "b", "c", "a", "c"],
        "timestamp": pd.to_datetime(["2024-01-05", "2024-02-03", "2024-01-20", "2024-03-01",
                                     "2024-02-10", "2024-03-15", "2024-02-20"]),
        "amount": [100.0, 50.0, 200.0, 20.0, 10.0, -30.0, 5.0],
        "region": ["N", "N", "S", "S", "N", "N", "N"],
    })


def _interactions() -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": ["a", "b", "c", "a"],
        "timestamp": pd.to_datetime(["2024-01-10", "2024-01-11", "2024-02-01", "2024-02-02"]),
        "kind": ["complaint", "ticket", "complaint", "call"],
        "satisfaction": [2, 5, 4, None],
        "satisfaction_speed": [1, 2, 5, 5],
        "nps": [10, 3, 8, 9],
        "resolution_hours": [5.0, 10.0, 1.0, None],
    })


def _costs() -> pd.DataFrame:
    return pd.DataFrame({"period": ["2024-01", "2024-02", "2024-03"],
                         "acquisition_cost": [100.0, 30.0, 0.0]})


CLV = pd.Series({"a": 100.0, "b": 50.0, "c": 10.0})


def _full_table(**kw) -> pd.DataFrame:
    return kpi_table(_tx(), AS_OF, interactions=_interactions(), costs=_costs(), clv=CLV,
                     min_customers=1, **kw)


# ------------------------------------------------------------------ values by hand
EXPECTED = {  # column: (January, February, March), worked out by hand from _tx() & co.
    "active": (2, 2, 1),                      # Jan a,b; Feb a,c; Mar b (a only returned)
    "new": (2, 1, 0),
    "lost": (0, 1, 2),                        # Feb: b; Mar: a and c
    "churn_rate": (np.nan, 0.5, 1.0),
    "retention_rate": (np.nan, 0.5, 0.0),
    "repeat_purchase_rate": (0.0, 1.0, 1.0),  # Feb: a (2 orders), c (2); Mar: b (2)
    "orders": (2, 3, 1),
    "orders_per_customer": (1.0, 1.5, 1.0),
    "average_order_value": (150.0, 65 / 3, 20.0),
    "revenue": (300.0, 65.0, -10.0),          # March: 20 - 30 (the return)
    "mean_clv": (75.0, 55.0, 50.0),
    "csat_mean": (3.5, 4.0, np.nan),
    "csat_share_4_5": (0.5, 1.0, np.nan),
    "csat_speed_mean": (1.5, 5.0, np.nan),
    "csat_speed_share_4_5": (0.0, 1.0, np.nan),
    "nps": (0.0, 50.0, np.nan),               # Jan: 1 promoter, 1 detractor; Feb: 8, 9
    "complaint_rate": (0.5, 0.5, 0.0),
    "median_resolution_hours": (7.5, 1.0, np.nan),
    "acquisition_cost": (100.0, 30.0, 0.0),
    "cac": (50.0, 30.0, np.nan),
    "clv_cac": (75 / 50, 10 / 30, np.nan),    # mean CLV of the new customers / CAC
}


def test_every_kpi_matches_the_hand_computed_value():
    t = _full_table()
    assert list(t["period"]) == list(pd.to_datetime(["2024-01-01", "2024-02-01",
                                                     "2024-03-01"]))
    assert t["complete"].all()
    for col, expected in EXPECTED.items():
        np.testing.assert_allclose(t[col].to_numpy(dtype=float), expected, err_msg=col)
    assert (t["suppressed"] == "").all()


def test_weekly_and_quarterly_periods_keep_the_totals():
    for freq in ("W", "Q"):
        t = kpi_table(_tx(), AS_OF, freq=freq, min_customers=1)
        assert t["revenue"].sum() == pytest.approx(355.0)
        assert t["new"].sum() == 3
    q = kpi_table(_tx(), AS_OF, freq="Q", min_customers=1)
    assert len(q) == 1 and q["active"].iloc[0] == 3 and q["orders"].iloc[0] == 6
    w = kpi_table(_tx(), AS_OF, freq="W", min_customers=1)
    assert (w["period"].dt.dayofweek == 0).all()  # weeks start on Monday


def test_by_a_transaction_column_splits_customers_by_their_first_row():
    t = kpi_table(_tx(), AS_OF, by="region", min_customers=1)
    assert list(t.columns[:2]) == ["period", "region"]
    jan = t.loc[t["period"] == "2024-01-01"].set_index("region")
    assert jan.loc["N", "active"] == 1 and jan.loc["S", "revenue"] == 200.0
    feb = t.loc[t["period"] == "2024-02-01"].set_index("region")
    assert feb.loc["N", "active"] == 2 and feb.loc["S", "lost"] == 1
    assert t["revenue"].sum() == pytest.approx(355.0)


def test_by_a_customers_column_and_unknown_customers():
    customers = pd.DataFrame({"customer_id": ["a", "b"], "tier": ["gold", "silver"]})
    t = kpi_table(_tx(), AS_OF, customers=customers, by="tier", min_customers=1)
    assert set(t["tier"]) == {"gold", "silver", "unknown"}  # c is in no customers row
    assert "customers table" in t.attrs["definitions"]["tier"]


def test_costs_split_by_segment_and_a_note_when_they_cannot_be():
    costs = pd.DataFrame({"timestamp": pd.to_datetime(["2024-01-15", "2024-01-20"]),
                          "acquisition_cost": [40.0, 60.0], "region": ["N", "S"]})
    t = kpi_table(_tx(), AS_OF, costs=costs, by="region", min_customers=1)
    jan = t.loc[t["period"] == "2024-01-01"].set_index("region")
    assert jan.loc["N", "cac"] == 40.0 and jan.loc["S", "cac"] == 60.0
    t = kpi_table(_tx(), AS_OF, costs=_costs(), by="region", min_customers=1)
    assert t["cac"].isna().all() and "no 'region' column" in t.attrs["notes"][0]


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_mean_clv_from_a_fitted_clv_model(small_dataset):
    from crm_ml.clv import CLVModel

    ds = small_dataset
    model = CLVModel().fit(ds.transactions, ds.as_of)
    clv = model.predict()["clv"]
    t = kpi_table(ds.transactions, ds.as_of, clv=model, min_customers=1)
    last = ds.transactions.loc[ds.transactions["timestamp"] >= "2024-12-01"]
    active = last.loc[last["amount"] > 0, "customer_id"].unique()
    assert t["mean_clv"].iloc[-1] == pytest.approx(clv.reindex(active).mean())
    with pytest.raises(DataValidationError, match="after as_of"):
        kpi_table(ds.transactions, "2024-06-30", clv=model)


# ------------------------------------------------------------------ definitions
def test_definitions_in_attrs_and_docstring_are_one_source():
    t = _full_table()
    assert list(t.attrs["definitions"]) == list(t.columns)
    doc = " ".join(kpi_table.__doc__.split())
    for col, sentence in DEFINITIONS.items():
        assert " ".join(sentence.split()) in doc, col
        if col in t.columns:
            assert t.attrs["definitions"][col] == sentence
    assert " ".join(SUPPRESSION_RULE.split()) in doc
    from pathlib import Path

    guide = (Path(__file__).parents[1] / "docs" / "guide" / "kpi.md").read_text()
    guide = " ".join(guide.split())
    for col, sentence in DEFINITIONS.items():  # the user guide states the same definitions
        assert f"| `{col}` | {' '.join(sentence.split())} |" in guide, col
    assert " ".join(SUPPRESSION_RULE.split()) in guide


# ------------------------------------------------------------------ cohorts
def test_cohort_matrices_by_hand():
    r = retention_cohorts(_tx(), freq="M", as_of=AS_OF)
    jan, feb = pd.Timestamp("2024-01-01"), pd.Timestamp("2024-02-01")
    assert r.cohort_size.to_dict() == {jan: 2, feb: 1}
    np.testing.assert_allclose(r.active_share.loc[jan], [1.0, 0.5, 0.5])  # a Feb; b Mar
    np.testing.assert_allclose(r.active_share.loc[feb, [0, 1]], [1.0, 0.0])
    assert np.isnan(r.active_share.loc[feb, 2])  # April is not observed: NaN, not 0
    # revenue net of returns: Jan 300; Feb a 50; Mar b 20 - a 30
    np.testing.assert_allclose(r.revenue_retention.loc[jan], [1.0, 50 / 300, -10 / 300])
    long = r.to_frame()
    assert len(long) == 5 and long["period"].max() == pd.Timestamp("2024-03-01")
    import matplotlib.figure

    assert isinstance(r.plot(), matplotlib.figure.Figure)
    assert isinstance(r.plot(kind="revenue"), matplotlib.figure.Figure)


def test_cohorts_leave_out_the_partial_period_and_suppress_small_cohorts():
    r = retention_cohorts(_tx(), as_of="2024-03-30")  # March not complete
    assert list(r.active_share.columns) == [0, 1]
    r = retention_cohorts(_tx(), as_of=AS_OF, min_customers=2)
    assert r.active_share.loc["2024-02-01"].isna().all()  # c alone
    assert r.cohort_size.loc["2024-02-01"] == 1
    assert r.active_share.loc["2024-01-01"].notna().all()
    long = r.to_frame()
    assert long.loc[long["cohort"] == "2024-02-01", "cohort_size"].isna().all()
    labels = [t.get_text() for t in r.plot().axes[0].get_yticklabels()]
    assert labels == ["2024-01 (n=2)", "2024-02 (n<2)"]  # the size is not drawn either


def test_a_return_is_not_a_purchase_in_cohorts():
    tx = pd.concat([_tx(), pd.DataFrame({"customer_id": ["z"], "amount": [-5.0],
                                         "timestamp": [pd.Timestamp("2024-01-02")]})])
    r = retention_cohorts(tx, as_of=AS_OF)
    assert r.cohort_size.sum() == 3


# ------------------------------------------------------------------ as_of leakage
def test_nothing_after_as_of_is_read():
    late = pd.Timestamp("2024-04-01 00:00:01")
    tx = pd.concat([_tx(), pd.DataFrame({"customer_id": ["a", "d"], "timestamp": [late] * 2,
                                         "amount": [1e6, 5e5], "region": ["N", "S"]})])
    it = pd.concat([_interactions(), pd.DataFrame({
        "customer_id": ["b"], "timestamp": [late], "kind": ["complaint"], "satisfaction": [1],
        "satisfaction_speed": [1], "nps": [0], "resolution_hours": [999.0]})])
    costs = pd.concat([_costs(), pd.DataFrame({"period": ["2024-04"],
                                               "acquisition_cost": [1e9]})])
    clean = _full_table()
    leaky = kpi_table(tx, AS_OF, interactions=it, costs=costs, clv=CLV, min_customers=1)
    pd.testing.assert_frame_equal(clean, leaky)
    pd.testing.assert_frame_equal(retention_cohorts(_tx(), as_of=AS_OF).active_share,
                                  retention_cohorts(tx, as_of=AS_OF).active_share)
    assert "1,000,000" not in report(tx, AS_OF, min_customers=1)


def test_the_as_of_day_itself_is_history():
    tx = pd.concat([_tx(), pd.DataFrame({"customer_id": ["b"], "amount": [7.0], "region": "S",
                                         "timestamp": [pd.Timestamp("2024-03-31 23:59")]})])
    assert kpi_table(tx, AS_OF, min_customers=1)["revenue"].iloc[-1] == pytest.approx(-3.0)


# ------------------------------------------------------------------ suppression
def test_small_cells_are_suppressed_and_named():
    t = kpi_table(_tx(), AS_OF, by="region", min_customers=2)
    assert set(t["region"]) == {"N", "other"}  # S has one customer: pooled, name not shown
    assert "fewer than 2 customers are pooled into 'other'" in t.attrs["notes"][0]
    jan_s = t.loc[(t["period"] == "2024-01-01") & (t["region"] == "other")].iloc[0]
    assert np.isnan(jan_s["revenue"]) and np.isnan(jan_s["active"])  # b alone
    assert {"active", "revenue", "new"} <= set(jan_s["suppressed"].split(","))
    feb_n = t.loc[(t["period"] == "2024-02-01") & (t["region"] == "N")].iloc[0]
    assert feb_n["active"] == 2 and feb_n["revenue"] == 65.0  # two customers: shown
    assert t.attrs["min_customers"] == 2 and t.attrs["suppressed_cells"] > 0
    for _, row in t.iterrows():  # every suppressed name is NaN, every NaN count is named
        for col in filter(None, row["suppressed"].split(",")):
            assert np.isnan(row[col])


def test_pooled_segments_take_their_costs_and_interactions_along():
    costs = pd.DataFrame({"period": ["2024-01", "2024-01"], "acquisition_cost": [40.0, 60.0],
                          "region": ["N", "S"]})
    t = kpi_table(_tx(), AS_OF, costs=costs, interactions=_interactions(), by="region",
                  min_customers=2)
    jan = t.loc[t["period"] == "2024-01-01"].set_index("region")
    assert jan.loc["other", "acquisition_cost"] == 60.0 and jan.loc["N", "acquisition_cost"] == 40
    assert np.isnan(jan.loc["N", "cac"])  # one new customer: suppressed
    assert "S" not in set(t["region"])


def test_default_threshold_is_10_and_hides_a_tiny_business():
    t = kpi_table(_tx(), AS_OF)
    assert t.attrs["min_customers"] == 10
    assert t["revenue"].isna().all() and t["active"].isna().all()
    html = report(_tx(), AS_OF, by="region")
    for secret in ("355", "300.00", "200.00", "65.00"):
        assert secret not in re.sub(r'src="data:[^"]*"', "", html)


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize("column,value,rule", [("satisfaction", 6, "1..5"),
                                                ("satisfaction_speed", 0, "1..5"),
                                                ("nps", 11, "0..10"), ("nps", 7.5, "whole"),
                                                ("resolution_hours", -1.0, "0..inf")])
def test_out_of_range_interactions_are_typed_errors(column, value, rule):
    it = _interactions()
    it[column] = it[column].astype(float)
    it.loc[2, column] = value
    with pytest.raises(DataValidationError) as err:
        kpi_table(_tx(), AS_OF, interactions=it)
    assert err.value.column == column and rule in err.value.rule and err.value.rows == [2]
    assert "rows [2]" in str(err.value)


def test_bad_costs_by_freq_and_columns_are_typed_errors():
    with pytest.raises(DataValidationError, match="acquisition_cost") as err:
        kpi_table(_tx(), AS_OF, costs=_costs().assign(acquisition_cost=[1.0, -2.0, 0.0]))
    assert err.value.rows == [1]
    with pytest.raises(DataValidationError, match="region_x") as err:
        kpi_table(_tx(), AS_OF, by="region_x")
    assert err.value.rule == "by column exists"
    with pytest.raises(DataValidationError, match="freq"):
        kpi_table(_tx(), AS_OF, freq="D")
    with pytest.raises(DataValidationError, match="amount"):
        kpi_table(_tx().drop(columns="amount"), AS_OF)
    with pytest.raises(DataValidationError, match="min_customers"):
        kpi_table(_tx(), AS_OF, min_customers=-1)


# ------------------------------------------------------------------ report
def test_report_is_self_contained_and_complete(tmp_path):
    it = _interactions()
    html = report(_tx(), AS_OF, interactions=it, costs=_costs(), by="region", min_customers=1,
                  path=tmp_path / "r.html")
    assert (tmp_path / "r.html").read_text(encoding="utf-8") == html
    assert list(tmp_path.iterdir()) == [tmp_path / "r.html"]  # no temporary left
    assert "<script" not in html.lower() and "http://" not in html
    assert "https://" not in html and "<link" not in html
    assert re.findall(r'src="([a-z]+):', html) and set(re.findall(r'src="([a-z]+):', html)) \
        == {"data"}
    for section in ("Headline", "Trends", "Retention by cohort", "Segment mix by region",
                    "KPI table", "Definitions", "Small-cell suppression"):
        assert f"<h2>{section}</h2>" in html
    assert "Last full month: 2024-03-01 (vs 2024-02-01)" in html
    assert "2024-01-05 to 2024-03-31" in html  # data period
    with pytest.raises(ValueError, match=".html"):
        report(_tx(), AS_OF, path=tmp_path / "r.csv")


def test_report_escapes_every_value_from_the_data():
    evil = '<script>alert("x")</script>'
    tx = _tx().assign(region=[evil, evil, "<b>S&P</b>", "<b>S&P</b>", evil, evil, evil])
    html = report(tx, AS_OF, by="region", min_customers=1)
    assert "<script" not in html.lower() and "<b>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "&lt;b&gt;S&amp;P&lt;/b&gt;" in html


# ------------------------------------------------------------------ command line
def _files(tmp_path):
    tx, it = tmp_path / "tx.csv", tmp_path / "it.csv"
    _tx().to_csv(tx, index=False)
    _interactions().to_csv(it, index=False)
    _costs().to_csv(tmp_path / "costs.csv", index=False)
    return tx, it, tmp_path / "costs.csv"


def test_cli_report_round_trip(tmp_path, capsys):
    from crm_ml.cli import main

    tx, it, costs = _files(tmp_path)
    out, table = tmp_path / "out" / "report.html", tmp_path / "kpi.csv"
    assert main(["--quiet", "report", "--transactions", str(tx), "--interactions", str(it),
                 "--costs", str(costs), "--as-of", AS_OF, "--min-customers", "1",
                 "--output", str(out), "--table", str(table)]) == 0
    html = out.read_text(encoding="utf-8")
    assert "<h2>KPI table</h2>" in html and "Data from 2024-01-05 to 2024-03-31" in html
    got = pd.read_csv(table, parse_dates=["period"])
    expected = _full_table()
    for col in ("active", "revenue", "churn_rate", "csat_mean", "nps", "cac"):
        np.testing.assert_allclose(got[col], expected[col], err_msg=col)
    assert str(out) in capsys.readouterr().out


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("target", ["tx", "costs", "symlink"])
def test_cli_report_refuses_to_overwrite_an_input(tmp_path, capsys, target):
    from crm_ml.cli import main

    tx, it, costs = _files(tmp_path)
    before = {p: _sha(p) for p in (tx, it, costs)}
    args = ["--quiet", "report", "--transactions", str(tx), "--interactions", str(it),
            "--costs", str(costs)]
    if target == "symlink":  # an .html name that leads to the transactions file
        (tmp_path / "r.html").symlink_to(tx)
        args += ["--output", str(tmp_path / "r.html")]
    else:
        args += ["--output", str(tmp_path / "r.html"), "--table",
                 str(tx if target == "tx" else costs)]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("crm-ml report: error:") and "\n" not in err
    assert "input" in err
    assert {p: _sha(p) for p in (tx, it, costs)} == before


@pytest.mark.parametrize("extra,flag", [(["--output", "r.pdf"], "--output"),
                                        (["--output", "r.html", "--min-customers", "-1"],
                                         "--min-customers"),
                                        (["--output", "r.html", "--table", "t.json"],
                                         "--table")])
def test_cli_report_bad_arguments_fail_before_reading(tmp_path, capsys, monkeypatch, extra,
                                                      flag):
    import crm_ml.scoring
    from crm_ml.cli import main

    def fail(*args, **kwargs):
        raise AssertionError("inputs were read before the arguments were checked")

    monkeypatch.setattr(crm_ml.scoring, "load_inputs", fail)
    monkeypatch.chdir(tmp_path)
    assert main(["--quiet", "report", "--transactions", "tx.csv"] + extra) == 2
    err = capsys.readouterr().err
    assert flag in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_cli_report_bad_data_is_one_line(tmp_path, capsys):
    from crm_ml.cli import main

    tx, it, costs = _files(tmp_path)
    _interactions().assign(nps=[11, 1, 1, 1]).to_csv(it, index=False)
    assert main(["--quiet", "report", "--transactions", str(tx), "--interactions", str(it),
                 "--output", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err.strip()
    assert "nps" in err and "0..10" in err and "\n" not in err
    assert not (tmp_path / "r.html").exists()


# ------------------------------------------------------------------ pipeline step
@pytest.mark.slow
def test_kpi_step_writes_report_and_table_and_logs_only_aggregates(tmp_path):
    import mlflow

    from crm_ml.demo import run_demo

    summary = run_demo(output=tmp_path / "out", models_dir=tmp_path / "models",
                       n_customers=400, seed=3, steps=("kpi",), echo=False)
    out = tmp_path / "out"
    html = (out / "kpi_report.html").read_text(encoding="utf-8")
    table = pd.read_csv(out / "kpi_table.csv")
    assert "<h2>Segment mix by region</h2>" in html and len(table) >= 30
    assert summary["modules"]["kpi"]["last_complete_period"] == "2024-12-01"
    assert "registered_version" not in summary["modules"]["kpi"]
    run = mlflow.search_runs(search_all_experiments=True,
                             filter_string="tags.module = 'kpi'").iloc[0]
    client = mlflow.MlflowClient()
    files = {a.path for d in ("kpi", "tables") for a in client.list_artifacts(run.run_id, d)}
    assert {"kpi/kpi_report.html", "tables/kpi_table.csv"} <= files
    logged = client.download_artifacts(run.run_id, "tables/kpi_table.csv", str(tmp_path))
    text = open(logged, encoding="utf-8").read()
    assert "customer_id" not in text and not re.search(r"\bC0\d{5}\b", text)
