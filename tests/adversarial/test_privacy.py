"""Personal data never reaches MLflow, model files, cards or outputs (issue #16).

A customers file with e-mail, phone, name and free-text columns trained through the CLI must
leave none of those values, and no customer id, anywhere in the MLflow store (the SQLite file
and every artifact) or in the model cards; category levels shared by fewer than k customers
are never stored.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crm_ml.churn.model import ChurnModel
from crm_ml.data.privacy import MIN_LEVEL_CUSTOMERS, PersonalDataWarning
from crm_ml.datasets import make_crm_dataset
from crm_ml.errors import CrmMlError
from crm_ml.features import build

RARE_CITY = "Smallvillex"  # shared by 3 customers: below k, must never be stored


def _with_personal_columns(customers: pd.DataFrame) -> pd.DataFrame:
    """The customers table plus contact data and free text, found by name, by value
    pattern and by cardinality, and a city column with one rare level."""
    cu = customers.copy()
    n = len(cu)
    i = np.arange(n)
    rng = np.random.default_rng(7)
    cu["email"] = [f"cust{k}@example.com" for k in i]
    cu["phone"] = [f"+44 20 7946 {k:04d}" for k in i]
    cu["full_name"] = [f"Zelda{k} Quixote{k}" for k in i]
    cu["notes"] = [f"Called on {k % 28 + 1} May about invoice {7000 + k}; wants a callback"
                   for k in i]
    # innocuous names: caught by their values
    cu["contact"] = [f"buyer.{k}@shop{k}.org" for k in i]
    cu["hotline"] = [f"(0161) 496 {k:04d}" for k in i]
    cu["owner"] = [f"Ada{k} Lovelace{k}" for k in i]
    cu["summary"] = [f"Long standing account {k}, prefers invoices by post and quarterly calls"
                     for k in i]
    cu["city"] = np.where(i < 3, RARE_CITY, rng.choice(["Metropolis", "Gotham"], n))
    return cu


PERSONAL = ("email", "phone", "full_name", "notes", "contact", "hotline", "owner", "summary")


def _needles(cu: pd.DataFrame) -> list[str]:
    return [str(v) for c in PERSONAL for v in cu[c]] + [RARE_CITY]


def _scan(files, needles) -> list[tuple[str, str]]:
    """(file, needle) for every needle found in the raw bytes of every file."""
    encoded = [(n, n.encode("utf-8")) for n in needles]
    hits = []
    for path in files:
        data = Path(path).read_bytes()
        hits += [(str(path), n) for n, b in encoded if b in data]
    return hits


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


@pytest.mark.slow
def test_cli_train_keeps_personal_data_out_of_mlflow_cards_and_outputs(tmp_path):
    ds = make_crm_dataset(n_customers=300, seed=1)
    cu = _with_personal_columns(ds.customers)
    cu.to_csv(tmp_path / "customers.csv", index=False)
    ds.transactions.to_csv(tmp_path / "transactions.csv", index=False)
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}",
           "CRM_ML_PROGRESS": "0"}
    (tmp_path / "store").mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "crm_ml.cli", "--quiet", "train", "--transactions",
         "transactions.csv", "--customers", "customers.csv", "--output", "out",
         "--models-dir", "models"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]

    # the user is told, once, which columns were dropped, why, and how to force one in
    said = proc.stdout + proc.stderr
    assert said.count("PersonalDataWarning") == 1, said[-3000:]
    for col in PERSONAL:
        assert f"'{col}'" in said
    assert "e-mail" in said and "allow_columns" in said and "--allow-column" in said

    # everything MLflow wrote, wherever it went (the database file, mlartifacts/ beside it,
    # ./mlruns or ./mlartifacts in the working directory): every file but inputs and outputs
    inputs = {tmp_path / "customers.csv", tmp_path / "transactions.csv"}
    store = [p for p in _files(tmp_path) if p not in inputs
             and not p.is_relative_to(tmp_path / "models") and not p.is_relative_to(tmp_path / "out")]
    names = {p.name for p in store}
    # not vacuous: the churn model's spec, its examples and the cards are in the scan
    assert {"mlflow.db", "spec.json", "input_example.json", "serving_input_example.json",
            "card.md"} <= names
    specs = [p for p in store if p.name == "spec.json"]
    assert any(b"Metropolis" in p.read_bytes() for p in specs)  # frequent levels are kept

    cards, outputs = _files(tmp_path / "models"), _files(tmp_path / "out")
    assert cards and outputs
    needles = _needles(cu)
    assert _scan(store + cards + outputs, needles) == []
    # customer ids: none in MLflow or the cards (the score tables in out/ are keyed by them)
    assert _scan(store + cards, list(cu["customer_id"])) == []


def test_build_drops_personal_columns_with_one_warning_and_allow_columns_forces_one_in():
    ds = make_crm_dataset(n_customers=300, seed=4)
    cu = _with_personal_columns(ds.customers)
    # a harmless code the phone pattern mistakes for a phone number
    cu["region_code"] = np.array(["020-7946-01", "020-7946-02", "0161-496-03"])[
        np.arange(len(cu)) % 3]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        X = build(ds.transactions, ds.as_of, customers=cu)
    personal = [w for w in caught if issubclass(w.category, PersonalDataWarning)]
    assert len(personal) == 1
    msg = str(personal[0].message)
    for col in (*PERSONAL, "region_code"):
        assert col not in X.columns
        assert f"'{col}'" in msg
    assert "values look like e-mail addresses" in msg and "phone numbers" in msg
    assert "near-unique" in msg and "free text" in msg and "allow_columns" in msg
    assert {"region", "industry", "city"} <= set(X.columns)
    assert personal[0].filename == __file__  # points at the caller's line

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        X2 = build(ds.transactions, ds.as_of, customers=cu, allow_columns=["region_code"])
    assert "region_code" in X2.columns
    msg = " ".join(str(w.message) for w in caught if issubclass(w.category, PersonalDataWarning))
    assert "region_code" not in msg and "'email'" in msg


def _table(n=400, seed=0):
    rng = np.random.default_rng(seed)
    city = rng.choice(["Metropolis", "Gotham", "Star City"], n)
    city[:5] = [f"Village{k}" for k in range(5)]  # each shared by one customer
    city[5:15] = "Hamlet"  # shared by 10 < k customers
    tab = pd.DataFrame({
        "customer_id": [f"u{k:04d}" for k in range(n)],
        "spend": rng.gamma(2, 50, n),
        "city": pd.Categorical(city),
        # a categorical column of e-mails: the check used to skip categoricals
        "email_address": pd.Categorical([f"person{k}@mail.test" for k in range(n)]),
    })
    logit = -0.5 + 1.5 * (city == "Gotham") - 0.005 * tab["spend"].to_numpy()
    y = pd.Series((rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int),
                  index=tab["customer_id"])
    return tab, y


@pytest.mark.parametrize("algorithm", ["lightgbm", "random_forest"])
def test_churn_model_stores_only_levels_shared_by_k_customers(tmp_path, algorithm):
    tab, y = _table()
    with pytest.warns(PersonalDataWarning, match="email_address"):
        m = ChurnModel(algorithm, cv=3,
                       n_estimators=30 if algorithm == "random_forest" else None).fit(tab, y)
    assert "email_address" not in m.feature_names_in_
    stored = set(m.preprocessor_.categories_["city"])
    assert stored == {"Metropolis", "Gotham", "Star City", "__other__"}

    paths = m.save(tmp_path)
    rare = ["Hamlet", *[f"Village{k}" for k in range(5)]]
    leaked = ["person1@mail.test", "u0001", *rare]
    assert _scan([paths["spec"], paths["model"]], leaked) == []
    example = m.synthetic_example()
    assert set(example["city"]) <= stored
    assert not set(example.index) & set(tab["customer_id"])

    # rare and unseen levels are the one "other" level, at scoring as at training
    probe = tab.iloc[[20, 20, 20]].copy()
    probe["city"] = ["Hamlet", "Village3", "Atlantis"]
    p = ChurnModel.load(tmp_path).predict_proba(probe)
    assert p.iloc[0] == pytest.approx(p.iloc[1]) == pytest.approx(p.iloc[2])

    # reason texts never name a rare level
    reasons = m.explain(tab.head(15), top_k=3).reasons
    texts = " ".join(reasons.filter(like="reason_").astype(str).to_numpy().ravel())
    assert not any(level in texts for level in rare)


def test_allow_columns_keeps_a_column_but_never_its_rare_levels(tmp_path):
    tab, y = _table()
    tab["postcode"] = np.where(np.arange(len(tab)) % 2 == 0, "AB1", "CD2")  # dropped by name
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = ChurnModel(cv=3, allow_columns=["postcode"]).fit(tab, y)
    assert "postcode" in m.feature_names_in_ and "email_address" not in m.feature_names_in_
    msg = " ".join(str(w.message) for w in caught if issubclass(w.category, PersonalDataWarning))
    assert "'email_address'" in msg and "postcode" not in msg
    # allowing the e-mail column cannot store e-mails: no address is shared by k customers
    with pytest.warns(PersonalDataWarning, match=f"no level shared by {MIN_LEVEL_CUSTOMERS}"):
        m2 = ChurnModel(cv=3, allow_columns=["email_address"]).fit(tab, y)
    assert "email_address" not in m2.feature_names_in_
    assert _scan([m2.save(tmp_path)["spec"]], ["person7@mail.test"]) == []


def test_churn_card_slices_name_no_rare_level():
    from crm_ml.churn.card import slice_table

    tab, y = _table()
    X = tab.set_index("customer_id")
    proba = pd.Series(np.linspace(0.1, 0.9, len(X)), index=X.index)
    slices = slice_table(X, y.to_numpy(), proba, columns=("city",))
    assert set(slices["value"]) == {"Metropolis", "Gotham", "Star City", "other"}
    named = slices[slices["value"] != "other"]
    assert (named["customers"] >= MIN_LEVEL_CUSTOMERS).all()


@pytest.mark.parametrize("example, what", [
    (pd.DataFrame({"customer_id": ["C000001"], "x": [1.0]}), "not a synthetic id"),
    (pd.DataFrame({"customer_id": ["synthetic-1"], "contact": ["a.b@example.com"]}),
     "e-mail"),
    (pd.DataFrame({"x": [1.0], "phone": ["+1 (555) 010-9999"]}), "phone"),
])
def test_a_logged_input_example_with_real_ids_or_contact_data_is_refused(example, what):
    from crm_ml.tracking import log_pyfunc_model, start_run
    from crm_ml.tracking.pyfunc import SkopsEstimatorModel

    with start_run("privacy-test") as run, pytest.raises(CrmMlError, match=what) as err:
        log_pyfunc_model(run, SkopsEstimatorModel(), artifacts={}, input_example=example)
    assert "a.b@example.com" not in str(err.value)  # the error does not repeat the value


def test_allow_column_that_is_not_in_the_customers_file_is_a_usage_error(tmp_path, capsys):
    from crm_ml.cli import main

    ds = make_crm_dataset(n_customers=60, seed=2)
    ds.transactions.to_csv(tmp_path / "tx.csv", index=False)
    ds.customers.to_csv(tmp_path / "cu.csv", index=False)
    code = main(["train", "--transactions", str(tmp_path / "tx.csv"), "--customers",
                 str(tmp_path / "cu.csv"), "--allow-column", "e_mail", "--output",
                 str(tmp_path / "out"), "--models-dir", str(tmp_path / "models")])
    err = capsys.readouterr().err
    assert code == 2 and "--allow-column e_mail" in err and "region" in err
    assert not (tmp_path / "models").exists()  # refused before any training
