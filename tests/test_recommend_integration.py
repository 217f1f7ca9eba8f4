"""crm-recommend end to end: tracked without ids, pyfunc, serve, card, pipeline step, score."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from crm_ml.errors import DataValidationError
from crm_ml.recommend import holdout_evaluation, log_model, model_card
from crm_ml.recommend.card import SECTION_COMPARISON, comparison_table

HORIZON = 90


@pytest.fixture(scope="module")
def data():
    from crm_ml.datasets import make_crm_dataset

    return make_crm_dataset(n_customers=400, seed=3)


@pytest.fixture(scope="module")
def fitted(data):
    from crm_ml.recommend import Recommender

    eval_at = data.as_of - pd.Timedelta(days=HORIZON)
    settings = {"method": "auto", "segment_column": "region", "backtest_days": 60}
    evaluated = Recommender(**settings).fit(data.transactions, eval_at, customers=data.customers)
    evaluation = holdout_evaluation(evaluated, data.transactions, horizon_days=HORIZON, k=10)
    model = Recommender(**settings).fit(data.transactions, data.as_of, customers=data.customers)
    return model, evaluation


@pytest.fixture(scope="module")
def logged(fitted, tmp_path_factory):
    model, evaluation = fitted
    return log_model(model, evaluation=evaluation, registered_name="crm-recommend-itest")


def _history(data, customers, n=5):
    tx = data.transactions
    tx = tx[tx["customer_id"].isin(customers) & tx["product_id"].notna()
            & (tx["timestamp"] <= data.as_of)]
    return (tx.sort_values("timestamp").groupby("customer_id").tail(n)
            [["customer_id", "product_id", "timestamp"]].reset_index(drop=True))


def test_evaluation_curve_agrees_with_evaluate_and_sees_nothing_after_the_window(data, fitted):
    model, evaluation = fitted
    curve = evaluation["recall_curve"]
    assert list(curve["k"]) == list(range(1, 21))
    # the curve's recall@10 is the evaluation's: the same customers, truth and definition
    row = curve.set_index("k").loc[10]
    assert row["model"] == pytest.approx(evaluation["recall_at_k"], abs=1e-9)
    assert row["popular"] == pytest.approx(evaluation["baseline_recall_at_k"], abs=1e-9)
    assert len(evaluation["per_customer_recall"]) == evaluation["n_customers"]
    assert evaluation["per_customer_recall"]["model"].mean() == \
        pytest.approx(evaluation["recall_at_k"], abs=1e-9)
    # purchases after the window's end change nothing
    end = pd.Timestamp(evaluation["window_end"])
    tx = data.transactions
    later = tx[tx["timestamp"] > end + pd.Timedelta(days=1)]
    if len(later):
        from crm_ml.recommend import Recommender

        eval_at = pd.Timestamp(evaluation["window_start"])
        cut = tx[tx["timestamp"] <= end + pd.Timedelta(days=1)]
        again = Recommender(method="auto", segment_column="region", backtest_days=60).fit(
            cut, eval_at, customers=data.customers)
        ev2 = holdout_evaluation(again, cut, horizon_days=HORIZON, k=10)
        assert ev2["recall_at_k"] == pytest.approx(evaluation["recall_at_k"], abs=1e-12)


def test_log_model_logs_aggregates_and_no_customer_id(data, fitted, logged):
    import mlflow

    from crm_ml.tracking import find_in_run_artifacts

    model, evaluation = fitted
    run = mlflow.get_run(logged.run_id)
    params, metrics = run.data.params, run.data.metrics
    assert params["chosen_method"] == model.method_
    assert params["n_customers"] == str(model.n_customers_)
    assert int(params["n_products"]) == len(model.products_)
    assert metrics["recall_at_k"] == pytest.approx(evaluation["recall_at_k"])
    assert metrics["baseline_recall_at_k"] == pytest.approx(evaluation["baseline_recall_at_k"])
    client = mlflow.MlflowClient()
    plots = {a.path for a in client.list_artifacts(logged.run_id, "plots")}
    assert {"plots/recall_at_k.png", "plots/top_products_share.png"} <= plots
    tables = {a.path for a in client.list_artifacts(logged.run_id, "tables")}
    assert "tables/recommend_recall_curve.csv" in tables
    if model.backtest_ is not None:
        assert "tables/recommend_backtest.csv" in tables
    ids = data.customers["customer_id"].tolist()
    # every file, param, metric and tag of the run and of the logged model
    assert find_in_run_artifacts(logged.run_id, ids) == []


def test_pyfunc_round_trip_matches_the_model(data, fitted, logged):
    import mlflow

    model, _ = fitted
    loaded = mlflow.pyfunc.load_model(logged.model_uri)
    customers = data.customers["customer_id"].head(4).tolist()
    history = _history(data, customers)
    got = loaded.predict(history, params={"k": 5})
    assert list(got.columns) == ["customer_id", "rank", "product_id", "score", "reason"]
    assert list(pd.unique(got["customer_id"])) == [c for c in pd.unique(history["customer_id"])]
    want = model.recommend_for(history, k=5)
    pd.testing.assert_frame_equal(got.reset_index(drop=True),
                                  want.reset_index(drop=True)[list(got.columns)],
                                  check_dtype=False)
    assert set(got["product_id"]) <= set(map(str, model.products_))
    bought = history.groupby("customer_id")["product_id"].agg(set)
    assert not any(p in bought[c] for c, p in zip(got["customer_id"], got["product_id"],
                                                    strict=True))


def test_pyfunc_gives_a_customer_without_products_popular_items(fitted, logged):
    import mlflow

    loaded = mlflow.pyfunc.load_model(logged.model_uri)
    frame = pd.DataFrame({"customer_id": ["new-1"], "product_id": [None]})
    out = loaded.unwrap_python_model().predict(None, frame, params={"k": 3})
    assert list(out["rank"]) == [1, 2, 3] and (out["customer_id"] == "new-1").all()
    assert out["reason"].str.contains("popular").all()


@pytest.mark.parametrize("frame, column", [
    (pd.DataFrame({"product_id": ["P001"]}), "customer_id"),
    (pd.DataFrame({"customer_id": ["a"]}), "product_id"),
    (pd.DataFrame({"customer_id": [None], "product_id": ["P001"]}), "customer_id"),
    (pd.DataFrame({"customer_id": ["a"], "product_id": ["P001"], "timestamp": ["soon"]}),
     "timestamp"),
])
def test_pyfunc_bad_input_is_a_typed_error(logged, frame, column):
    import mlflow

    wrapper = mlflow.pyfunc.load_model(logged.model_uri).unwrap_python_model()
    with pytest.raises(DataValidationError) as err:
        wrapper.predict(None, frame)
    assert err.value.column == column


def test_serve_recommend_products(data, fitted, logged):
    from crm_ml.serve import clear_cache, get_model, recommend_products

    model, _ = fitted
    clear_cache()
    version = logged.registered_version
    customer = data.customers["customer_id"].iloc[0]
    history = _history(data, [customer])
    pairs = list(zip(history["product_id"], history["timestamp"], strict=True))
    out = recommend_products(customer, pairs, k=4, name="crm-recommend-itest", alias=version)
    assert list(out.columns) == ["customer_id", "rank", "product_id", "score", "reason"]
    assert list(out["rank"]) == [1, 2, 3, 4] and (out["customer_id"] == customer).all()
    want = model.recommend_for(history, k=4)
    assert list(out["product_id"]) == list(want["product_id"])
    assert get_model("crm-recommend-itest", version) is get_model("crm-recommend-itest",
                                                                  version)
    empty = recommend_products("someone-new", [], k=3, name="crm-recommend-itest",
                               alias=version)
    assert len(empty) == 3 and empty["reason"].str.contains("popular").all()
    with pytest.raises(DataValidationError):
        recommend_products("x", "P001", name="crm-recommend-itest", alias=version)
    with pytest.raises(DataValidationError):
        recommend_products("x", ["P001"], k=0, name="crm-recommend-itest", alias=version)
    with pytest.raises(DataValidationError) as err:
        recommend_products("x", [("P001", "soon")], name="crm-recommend-itest", alias=version)
    assert err.value.column == "timestamp"


def _numbers(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"-?\d+\.\d+", text)]


def test_card_statements_are_computed_from_the_numbers_beside_them(fitted):
    from crm_ml.cards import grade

    model, evaluation = fitted
    card = model_card(model, evaluation, n_boot=30)
    table = comparison_table(evaluation).set_index("metric")
    for line in card.extra_sections[SECTION_COMPARISON].splitlines():
        name = line.split(":")[0]
        row = table.loc[name]
        nums = _numbers(line)
        assert nums[0] == pytest.approx(row["model"], abs=5e-5)
        assert nums[1] == pytest.approx(row["popular"], abs=5e-5)
        if "ratio" in line:
            ratio = row["model"] / row["popular"]
            assert nums[2] == pytest.approx(ratio, abs=5e-3)
    assert card.grade == grade(evaluation["recall_at_k"], evaluation["baseline_recall_at_k"])[0]
    metrics = card.metrics.set_index("metric")
    assert metrics.loc["recall@10 (model)", "value"] == evaluation["recall_at_k"]
    lo, hi = metrics.loc["recall@10 (model)", ["ci_low", "ci_high"]]
    assert lo <= evaluation["recall_at_k"] <= hi
    ratio = evaluation["recall_at_k"] / evaluation["baseline_recall_at_k"]
    below = [c for c in card.caveats if "below the 1.5x" in c]
    assert bool(below) == (ratio < 1.5)
    if below:
        assert f"{ratio:.2f}" in below[0]
    per = evaluation["per_customer_recall"]
    slices = card.slices.set_index("slice")
    assert slices["customers"].sum() == len(per) == evaluation["n_customers"]
    one = per[per["history_products"] == 1]
    if len(one):
        assert slices.loc["history of 1 product", "recall@10 (model)"] == \
            pytest.approx(one["model"].mean())
    from crm_ml.recommend.card import SECTION_PROTOCOL

    protocol = card.extra_sections[SECTION_PROTOCOL]
    assert f"each of the {evaluation['n_customers']:,} customers" in protocol
    assert f"({evaluation['window_start']}, {evaluation['window_end']}]" in protocol
    assert f"refitted with the same settings on everything up to " \
        f"{pd.Timestamp(model.as_of_).date()}" in protocol
    md = card.to_markdown()
    assert f"Product recommendations ({model.method_})" in md
    assert str(pd.Timestamp(model.as_of_).date()) in md


def _pipeline_data(ds, drop_products=False, tx=None):
    from types import SimpleNamespace

    tx = ds.transactions if tx is None else tx
    tx = tx.drop(columns="product_id") if drop_products else tx
    return SimpleNamespace(transactions=tx, customers=ds.customers, interactions=None,
                           as_of=ds.as_of, seed=3)


@pytest.fixture()
def own_store(tmp_path, monkeypatch):
    import mlflow

    from crm_ml.tracking import runs

    before = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'rec.db'}")
    monkeypatch.chdir(tmp_path)
    runs._settings.tracking_uri = None
    yield tmp_path
    runs._settings.tracking_uri = None
    mlflow.set_tracking_uri(before[0])  # MLflow's own global, set by the pipeline's runs
    mlflow.set_registry_uri(before[1])


def test_pipeline_step_registers_cards_and_writes_recommendations(data, own_store):
    from crm_ml.model_names import RECOMMEND
    from crm_ml.pipelines import TrainConfig, run_steps
    from crm_ml.tracking import get_version

    config = TrainConfig().override({"recommend.k": 5, "recommend.backtest_days": 60})
    done = run_steps(_pipeline_data(data), ["recommend"], config=config,
                     output_dir=own_store / "out", models_dir=own_store / "models",
                     say=lambda *a: None)
    summary = done["modules"]["recommend"]
    version = get_version(RECOMMEND, "challenger")
    assert summary["registered_version"] == str(version.version)
    # the champion/challenger score: recall@k of the registered pyfunc on the window
    score = float(version.tags["promotion.challenger_score"])
    assert 0 < score <= 1
    recs = pd.read_csv(own_store / "out" / "recommendations.csv", dtype=str)
    assert list(recs.columns) == ["customer_id", "rank", "product_id", "score", "reason"]
    assert recs.groupby("customer_id").size().max() == 5
    card = (own_store / "models" / RECOMMEND / "card.md").read_text()
    assert "popular" in card and "[recommend]" in card and "k = 5" in card
    # `crm-ml card crm-recommend` rebuilds it from the registry (the wrapper is trusted)
    from crm_ml.cards import card_from_registry

    paths = card_from_registry(RECOMMEND, alias="champion", models_dir=own_store / "again")
    assert "Product recommendations" in paths["md"].read_text()
    assert summary["grade"] in {"A", "B", "C"}


def test_pipeline_step_without_product_id_is_skipped_and_registers_nothing(data, tmp_path):
    from crm_ml.pipelines import run_steps
    from crm_ml.pipelines.recommend import NO_PRODUCTS

    said = []
    done = run_steps(_pipeline_data(data, drop_products=True), ["recommend"],
                     output_dir=tmp_path / "out", models_dir=tmp_path / "models",
                     say=said.append)
    summary = done["modules"]["recommend"]
    assert summary["skipped"] == NO_PRODUCTS
    assert "registered_version" not in summary and "promoted" not in summary
    assert sum(NO_PRODUCTS in line for line in said) == 1
    assert not (tmp_path / "out" / "recommendations.csv").exists()
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())


def test_score_rec_columns_come_from_the_customers_own_history(data, fitted, logged):
    import mlflow

    from crm_ml.scoring.engine import REC_COLUMNS, recommendation_columns
    from crm_ml.scoring.inputs import CRMData

    model, _ = fitted
    pyfunc = mlflow.pyfunc.load_model(logged.model_uri)
    ids = pd.Index(sorted(data.customers["customer_id"].head(30)) + ["no-purchases"],
                   name="customer_id")
    crm = CRMData(transactions=data.transactions, as_of=data.as_of, customers=data.customers)
    cols = recommendation_columns(crm, ids, pyfunc)
    assert list(cols.columns) == list(REC_COLUMNS) and cols.index.equals(ids)
    assert cols.notna().all().all()
    one = ids[0]
    history = _history(data, [one], n=10_000)
    seg = data.customers.set_index("customer_id").loc[one, "region"]
    want = model.recommend_for(history, k=3, segments=pd.Series({one: seg}))
    assert list(cols.loc[one]) == list(want["product_id"])
    # nothing after as_of is read: a later purchase changes nothing
    later = pd.DataFrame({"customer_id": [one], "timestamp": [data.as_of + pd.Timedelta(days=3)],
                          "amount": [10.0], "product_id": [cols.loc[one, "rec_1"]]})
    crm2 = CRMData(transactions=pd.concat([data.transactions, later], ignore_index=True),
                   as_of=data.as_of, customers=data.customers)
    pd.testing.assert_frame_equal(recommendation_columns(crm2, ids, pyfunc), cols)


def _score_row(**extra) -> pd.DataFrame:
    from crm_ml.scoring.engine import SCORE_COLUMNS, SCORE_DTYPES

    values = {"int64": 1, "float64": 0.5, "object": "x"}
    row = {c: [values[SCORE_DTYPES[c]]] for c in SCORE_COLUMNS}
    row.update({k: [v] for k, v in extra.items()})
    return pd.DataFrame(row, index=pd.Index(["a"], name="customer_id"))


def test_score_summary_says_why_rec_columns_are_absent():
    from crm_ml.scoring.engine import Champions, finalize, recommendation_note

    models = Champions(churn=None, clv=None, segments=None,
                       versions={"crm-churn": "1", "crm-clv": "1", "crm-segments": "1"})
    assert "no product_id" in recommendation_note(False, models, "champion")
    assert "no crm-recommend model" in recommendation_note(True, models, "champion")
    scores = finalize(_score_row(), "2024-12-31", models.versions, "champion")
    assert not any(c.startswith("rec_") for c in scores.columns)
    assert "model_crm_recommend" not in scores.columns
    withrec = finalize(_score_row(rec_1="P1", rec_2="P2", rec_3=None), "2024-12-31",
                       {**models.versions, "crm-recommend": "4"}, "champion")
    assert list(withrec.columns[-7:]) == ["rec_1", "rec_2", "rec_3", "model_crm_churn",
                                          "model_crm_clv", "model_crm_segments",
                                          "model_crm_recommend"]
    assert withrec.loc["a", "rec_1"] == "P1" and withrec.loc["a", "rec_3"] is None
    assert withrec.loc["a", "model_crm_recommend"] == "crm-recommend@champion=v4"


def test_autolog_finds_the_recommend_tracking_by_convention(data):
    import mlflow

    import crm_ml as cm
    from crm_ml.recommend import Recommender

    cm.tracking.autolog(log_models=False)
    model = Recommender(method="popular").fit(data.transactions, data.as_of)
    run = mlflow.last_active_run()
    assert run.data.tags["module"] == "recommend"
    assert run.data.params["chosen_method"] == "popular"
    assert run.data.params["n_customers"] == str(model.n_customers_)


def test_pipeline_step_without_products_before_the_window_is_skipped(data, tmp_path):
    from crm_ml.pipelines import run_steps

    tx = data.transactions
    late = tx.assign(product_id=tx["product_id"].where(
        tx["timestamp"] > data.as_of - pd.Timedelta(days=30)))
    said = []
    done = run_steps(_pipeline_data(data, tx=late), ["recommend"], output_dir=tmp_path / "out",
                     models_dir=tmp_path / "models", say=said.append)
    assert "cannot be evaluated" in done["modules"]["recommend"]["skipped"]
    assert not (tmp_path / "out" / "recommendations.csv").exists()


def test_pyfunc_hostile_but_valid_input(logged):
    import mlflow

    wrapper = mlflow.pyfunc.load_model(logged.model_uri).unwrap_python_model()
    empty = wrapper.predict(None, pd.DataFrame({"customer_id": [], "product_id": []}))
    assert list(empty.columns) == ["customer_id", "rank", "product_id", "score", "reason"]
    assert empty.empty
    # unknown products only, the same product twice, ids that are numbers
    frame = pd.DataFrame({"customer_id": [7, 7, 8, 8],
                          "product_id": ["NOT-A-PRODUCT", "NOT-A-PRODUCT", "P001", "P001"]})
    out = wrapper.predict(None, frame, params={"k": 2})
    assert list(out["customer_id"]) == ["7", "7", "8", "8"]
    assert out.loc[out["customer_id"] == "7", "reason"].str.contains("popular").all()
    assert "P001" not in set(out.loc[out["customer_id"] == "8", "product_id"])
    assert "NOT-A-PRODUCT" not in set(out["product_id"])


def test_recommend_config_reads_toml_and_flags_with_clear_errors(tmp_path):
    from crm_ml.cli import _build_parser, train_config
    from crm_ml.pipelines.config import ConfigError, TrainConfig

    path = tmp_path / "train.toml"
    path.write_text('[recommend]\nmethod = "item_knn"\nk = 5\nhalf_life_days = 90\n'
                    'segment_column = "none"\n')
    config = TrainConfig.from_toml(path)
    assert (config.recommend.method, config.recommend.k) == ("item_knn", 5)
    assert config.recommend.half_life_days == 90.0 and config.recommend.segment_column is None
    assert TrainConfig.from_dict(config.to_dict()) == config
    for bad, key in (('method = "svd"', "recommend.method"), ("k = 0", "recommend.k"),
                     ("horizon_days = 3", "recommend.horizon_days")):
        path.write_text(f"[recommend]\n{bad}\n")
        with pytest.raises(ConfigError, match=key):
            TrainConfig.from_toml(path)
    args = _build_parser().parse_args(["train", "--transactions", "tx.csv", "--as-of",
                                       "2024-12-31", "--rec-method", "als", "--rec-k", "3"])
    flags = train_config(args).recommend
    assert (flags.method, flags.k) == ("als", 3)
