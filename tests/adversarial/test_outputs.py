"""Adversarial tests of crm_ml's outputs: nothing destroyed, nothing leaked, nothing executed.

- an output path that is an input file (any spelling, symlink, hard link) is refused before
  any work, for score, forecast and train;
- the scores and rejects files of a run can be told apart from a mixed pair, even after a
  SIGKILL between the two renames; temporaries of killed runs are cleaned up;
- impossible forecast horizons are refused before fitting, a forecast where every series
  failed is an error;
- CSV outputs never carry a spreadsheet formula; card.md carries no markup from user text.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

import crm_ml
from crm_ml.cli import main
from crm_ml.output_files import FORMULA_STARTS, neutralise_formulas, write_atomic
from crm_ml.scoring.outputs import RUN_COLUMN, pair_is_consistent

INPUT_FLAGS = ("--transactions", "--interactions", "--customers", "--columns")
WORKTREE = Path(crm_ml.__file__).resolve().parent.parent


def _sha(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _no_loading(monkeypatch):
    import crm_ml.scoring

    def fail(*args, **kwargs):
        raise AssertionError("inputs were read before the output paths were checked")

    monkeypatch.setattr(crm_ml.scoring, "load_inputs", fail)


def _one_line_error(capsys, command: str) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    last = err.splitlines()[-1]  # MLflow may log a line when it creates its store
    assert last.startswith(f"crm-ml {command}: error:") and err.count(": error:") == 1, err
    return last


# ------------------------------------------------------------------ outputs over inputs
SPELLINGS = ["same", "dot_slash", "dot_dot", "double_slash", "absolute", "relative",
             "symlink", "hardlink"]


def _spell(spelling: str, target: Path, root: Path) -> str:
    """Another way to name ``target`` (a file in ``root``, the current folder)."""
    name = target.name
    if spelling == "same":
        return name
    if spelling == "dot_slash":
        return f"./{name}"
    if spelling == "dot_dot":
        return f"sub/../{name}"
    if spelling == "double_slash":
        return "/" + str(target.resolve())
    if spelling == "absolute":
        return str(target.resolve())
    if spelling == "relative":  # the input is given absolute, the output relative
        return f"../{root.name}/{name}"
    link = root / f"link-{name}"
    if spelling == "symlink":
        link.symlink_to(target)
    else:
        os.link(target, link)
    return link.name


def _files(root: Path, suffix: str) -> dict[str, Path]:
    files = {flag: root / f"{flag[2:]}{suffix}" for flag in INPUT_FLAGS}
    for flag, path in files.items():
        path.write_text("[transactions]\n" if flag == "--columns" else "customer_id\nC1\n")
    (root / "sub").mkdir()
    return files


def _input_args(files: dict[str, Path], absolute: bool) -> list[str]:
    args = []
    for flag, path in files.items():
        args += [flag, str(path.resolve()) if absolute else path.name]
    return args


@pytest.mark.parametrize("spelling", SPELLINGS)
@pytest.mark.parametrize("victim", INPUT_FLAGS)
@pytest.mark.parametrize("command,out_flag", [("score", "--output"), ("score", "--rejects"),
                                              ("forecast", "--output")])
def test_an_output_that_is_an_input_is_refused_before_any_work(
        tmp_path, monkeypatch, capsys, command, out_flag, victim, spelling):
    _no_loading(monkeypatch)
    monkeypatch.chdir(tmp_path)
    files = _files(tmp_path, ".csv")
    before = {p: _sha(p) for p in files.values()}
    out = _spell(spelling, files[victim], tmp_path)
    args = ["--quiet", command, *_input_args(files, absolute=spelling == "relative")]
    if command == "score":
        args += ["--as-of", "2024-12-31"]
        args += ["--output", out] if out_flag == "--output" else \
            ["--output", "scores.parquet", "--rejects", out]
    else:
        args += ["--output", out]
    assert main(args) == 2
    err = _one_line_error(capsys, command)
    assert f"{out_flag} {out}" in err and victim in err, err
    assert {p: _sha(p) for p in files.values()} == before
    assert not (tmp_path / "scores.parquet").exists()


@pytest.mark.parametrize("spelling", ["same", "dot_dot", "absolute", "symlink", "hardlink"])
@pytest.mark.parametrize("written", ["output/rfm_scores.csv", "output/forecast_by_region.csv",
                                     "models/crm-churn/card.md", "models/crm-clv/card.json",
                                     "models/crm-segments/plots/elbow.png"])
def test_train_refuses_to_write_a_table_or_card_over_an_input(
        tmp_path, monkeypatch, capsys, written, spelling):
    _no_loading(monkeypatch)
    monkeypatch.chdir(tmp_path)
    victim = tmp_path / written
    victim.parent.mkdir(parents=True)
    victim.write_text("customer_id\nC1\n")
    before = _sha(victim)
    if spelling in ("symlink", "hardlink"):
        # the folder train writes in holds a link to the input, which lives elsewhere
        real = tmp_path / "real-input.csv"
        victim.rename(real)
        (victim.symlink_to if spelling == "symlink" else victim.hardlink_to)(real)
        given = str(real)
    else:
        (tmp_path / "sub").mkdir()
        given = {"same": written, "dot_dot": f"sub/../{written}",
                 "absolute": str(victim.resolve())}[spelling]
    assert main(["--quiet", "train", "--transactions", given]) == 2
    err = _one_line_error(capsys, "train")
    assert "--transactions" in err and given in err, err
    assert _sha(victim) == before


def test_train_still_accepts_inputs_kept_in_its_output_folder(tmp_path, monkeypatch):
    """Only the files train writes are protected: `crm-ml demo` puts its data in
    output/data/, and training on them with the default folders must work."""
    from crm_ml.cli import _build_parser, _check_args

    monkeypatch.chdir(tmp_path)
    (tmp_path / "output" / "data").mkdir(parents=True)
    (tmp_path / "output" / "data" / "transactions.csv").write_text("customer_id\n")
    _check_args(_build_parser().parse_args(
        ["train", "--transactions", "output/data/transactions.csv"]))


@pytest.mark.slow
def test_the_files_train_protects_are_the_files_it_writes(demo_workspace):
    """The list checked before training matches what the module pipelines write."""
    from crm_ml.pipelines.config import demo_config
    from crm_ml.scoring.train import CARD_FILES, CARDS, tables

    output = demo_workspace["output"]
    written = {p.name for p in output.iterdir() if p.is_file()} - {"summary.json"}
    assert written == set(tables(demo_config()))
    models = demo_workspace["models"]
    assert {p.name for p in models.iterdir()} == set(CARDS)
    for card in CARDS:
        assert set(CARD_FILES) <= {p.name for p in (models / card).iterdir()}


# ------------------------------------------------------------------ unusable output paths
@pytest.mark.parametrize("args,flag", [
    (["score", "--as-of", "2024-12-31", "--output", "."], "--output"),
    (["score", "--as-of", "2024-12-31", "--output", ".."], "--output"),
    (["score", "--as-of", "2024-12-31", "--output", "s.csv", "--rejects", "."], "--rejects"),
    (["forecast", "--output", "."], "--output"),
    (["train", "--output", "afile.csv"], "--output"),
    (["train", "--models-dir", "afile.csv/models"], "--models-dir"),
])
def test_an_unusable_output_path_names_the_flag_the_rule_and_the_fix(
        tmp_path, monkeypatch, capsys, args, flag):
    _no_loading(monkeypatch)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile.csv").write_text("x\n")
    assert main(["--quiet", args[0], "--transactions", "tx.csv", *args[1:]]) == 2
    err = _one_line_error(capsys, args[0])
    assert flag in err and "empty name" not in err
    assert "folder" in err and ("give" in err), err  # the rule and the fix


# ------------------------------------------------------------------ stale temporaries
def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(proc.stdout)


def test_a_temporary_left_by_a_killed_run_is_removed_at_the_next_write(tmp_path):
    out = tmp_path / "scores.csv"
    stale = tmp_path / f".scores.csv.tmp-{_dead_pid()}"
    stale.write_text("half a tab")
    running = tmp_path / f".scores.csv.tmp-{os.getppid()}"  # a live process: left alone
    running.write_text("being written")
    other = tmp_path / f".other.csv.tmp-{_dead_pid()}"  # another file's: not this write's
    other.write_text("x")
    write_atomic(pd.DataFrame({"a": [1]}), out, index=False)
    assert not stale.exists()
    assert running.exists() and other.exists()
    assert out.read_text() == "a\n1\n"


# ------------------------------------------------------------------ CSV injection
HOSTILE = ['=HYPERLINK("http://x","y")', "@SUM(1+1)", "+1+2", "-2+3", "\tTAB", "\rCR",
           "ok\r=1+1"]  # a lone CR would end the row for most readers: "=1+1" a new cell


def _cells(text: str) -> list[str]:
    """The cells a reader sees that also ends rows at a lone carriage return."""
    return [c for row in csv.reader(io.StringIO(text.replace("\r", "\n"))) for c in row]


def _assert_no_formula(text: str) -> None:
    for cell in _cells(text):
        if cell.startswith(FORMULA_STARTS):
            float(cell)  # only a plain number may start with - or +


def test_csv_writer_neutralises_formulas_and_keeps_numbers_and_parquet(tmp_path):
    df = pd.DataFrame({"customer_id": HOSTILE + ["-12.5", "ok"],
                       "n": range(9), "=cmd": ["x"] * 9,
                       "seg": pd.Categorical(["@a"] * 4 + ["b"] * 5)}).set_index("customer_id")
    write_atomic(df, tmp_path / "t.csv")
    text = (tmp_path / "t.csv").read_text()
    _assert_no_formula(text)
    back = pd.read_csv(tmp_path / "t.csv", dtype=str, keep_default_na=False)
    expected = ["'" + v if v.startswith(FORMULA_STARTS) else v for v in HOSTILE]
    assert list(back["customer_id"]) == \
        [v.replace("\r", "\n") for v in expected] + ["-12.5", "ok"]
    assert "'=cmd" in back.columns and set(back["seg"]) == {"'@a", "b"}
    write_atomic(df, tmp_path / "t.parquet")
    assert pd.read_parquet(tmp_path / "t.parquet").equals(df)
    assert neutralise_formulas(df.iloc[-1:].rename(columns={"=cmd": "c"}))["seg"].iloc[0] == "b"


# ------------------------------------------------------------------ scoring runs
@pytest.fixture(scope="module")
def hostile_inputs(demo_workspace, tmp_path_factory):
    """The demo's data plus customers with formula-like ids: one who bought, one who did not."""
    data = demo_workspace["data"]
    root = tmp_path_factory.mktemp("outputs")
    customers = pd.read_csv(data / "customers.csv", dtype={"customer_id": str})
    extra = pd.DataFrame({"customer_id": [HOSTILE[0], HOSTILE[1]],
                          "signup_date": ["2024-01-01", "2024-01-01"]})
    pd.concat([customers, extra]).to_csv(root / "customers.csv", index=False)
    tx = pd.read_csv(data / "transactions.csv", dtype={"customer_id": str})
    bought = tx.iloc[:3].assign(customer_id=HOSTILE[0])
    pd.concat([tx, bought]).to_csv(root / "transactions.csv", index=False)
    (root / "interactions.csv").write_bytes((data / "interactions.csv").read_bytes())
    return root


def _score_args(root: Path, out: Path, as_of: str = "2024-12-31") -> list[str]:
    return ["--quiet", "score", "--transactions", str(root / "transactions.csv"),
            "--interactions", str(root / "interactions.csv"),
            "--customers", str(root / "customers.csv"), "--as-of", as_of,
            "--output", str(out)]


def _read_pair(out: Path):
    rejects = out.with_name(out.stem + ".rejects.csv")
    scores = pd.read_parquet(out) if out.suffix == ".parquet" else \
        pd.read_csv(out, dtype=str, keep_default_na=False)
    return scores, pd.read_csv(rejects, dtype=str, keep_default_na=False)


@pytest.mark.slow
def test_score_csv_has_no_formula_and_parquet_keeps_the_ids(hostile_inputs, tmp_path):
    out = tmp_path / "scores.csv"
    assert main(_score_args(hostile_inputs, out)) == 0
    for path in (out, tmp_path / "scores.rejects.csv"):
        _assert_no_formula(path.read_text())
    scores, rejects = _read_pair(out)
    assert "'" + HOSTILE[0] in set(scores["customer_id"])
    assert "'" + HOSTILE[1] in set(rejects["customer_id"])
    assert pair_is_consistent(scores, rejects)
    pq = tmp_path / "scores.parquet"
    assert main(_score_args(hostile_inputs, pq)) == 0
    assert HOSTILE[0] in set(pd.read_parquet(pq)["customer_id"])


@pytest.mark.slow
def test_reruns_give_the_same_run_identity_and_bytes(hostile_inputs, tmp_path):
    out = tmp_path / "scores.csv"
    assert main(_score_args(hostile_inputs, out)) == 0
    first = _sha(out), _sha(tmp_path / "scores.rejects.csv")
    assert main(_score_args(hostile_inputs, out)) == 0
    assert (_sha(out), _sha(tmp_path / "scores.rejects.csv")) == first
    scores, rejects = _read_pair(out)
    assert scores[RUN_COLUMN].nunique() == 1 and pair_is_consistent(scores, rejects)


@pytest.mark.slow
def test_a_failure_between_the_two_renames_leaves_a_pair_a_reader_can_reject(
        hostile_inputs, tmp_path, monkeypatch, capsys):
    """Documented guarantee (crm_ml.scoring.outputs): the files on disk are either the
    previous run's pair or a pair that pair_is_consistent() rejects; no temporary remains."""
    out = tmp_path / "scores.csv"
    assert main(_score_args(hostile_inputs, out)) == 0
    old = _read_pair(out)
    real_replace, calls = os.replace, []

    def replace_then_fail(src, dst):
        if ".tmp-" not in str(src):
            return real_replace(src, dst)
        calls.append(dst)
        if len(calls) == 2:
            raise OSError("disk gone between the two renames")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace_then_fail)
    assert main(_score_args(hostile_inputs, out, as_of="2024-10-31")) == 2
    capsys.readouterr()
    scores, rejects = _read_pair(out)
    assert not pair_is_consistent(scores, rejects)
    assert scores.equals(old[0])  # the scores file is the previous one, whole
    assert not [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name]


SITECUSTOMIZE = textwrap.dedent("""
    import os, signal
    _after = os.environ.get("CRM_ML_TEST_KILL_AT_RENAME")
    if _after is not None:
        _real, _count = os.replace, [0]

        def _replace(src, dst):
            if ".tmp-" not in str(src):  # not crm_ml's output files (e.g. MLflow's)
                return _real(src, dst)
            if _count[0] == int(_after):
                os.kill(os.getpid(), signal.SIGKILL)
            _count[0] += 1
            return _real(src, dst)

        os.replace = _replace
""")


@pytest.mark.slow
def test_a_sigkill_mid_write_never_leaves_half_files_or_temporaries(hostile_inputs, tmp_path):
    """A real `python -m crm_ml.cli score` is killed before its first rename (both files
    staged), then another between its two renames; the files on disk always parse, and the
    next run removes the killed runs' temporaries and writes a consistent pair."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE)
    work = tmp_path / "work"
    work.mkdir()
    out = work / "scores.csv"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(hook), str(WORKTREE)]))
    cmd = [sys.executable, "-m", "crm_ml.cli", *_score_args(hostile_inputs, out)]
    other_day = cmd[:-3] + ["2024-10-31", "--output", str(out)]
    assert subprocess.run(cmd, env=env, capture_output=True).returncode == 0
    old = _read_pair(out)

    for kill_at in (0, 1):
        killed = subprocess.run(other_day, capture_output=True,
                                env=dict(env, CRM_ML_TEST_KILL_AT_RENAME=str(kill_at)))
        assert killed.returncode == -9, killed.stderr.decode()[-2000:]
        temps = [p.name for p in work.iterdir() if ".tmp-" in p.name]
        assert temps and all(t.endswith(f".tmp-{temps[0].rsplit('-', 1)[1]}") for t in temps)
        scores, rejects = _read_pair(out)  # whole files: both parse
        if kill_at == 0:  # nothing published: the previous pair, untouched
            assert scores.equals(old[0]) and rejects.equals(old[1])
        else:  # new rejects beside the previous scores: the reader can tell
            assert not pair_is_consistent(scores, rejects)

    again = subprocess.run(cmd, env=env, capture_output=True)
    assert again.returncode == 0, again.stderr.decode()[-2000:]
    assert sorted(p.name for p in work.iterdir()) == ["scores.csv", "scores.rejects.csv"]
    scores, rejects = _read_pair(out)
    assert pair_is_consistent(scores, rejects)
    assert scores.equals(old[0]) and rejects.equals(old[1])


# ------------------------------------------------------------------ forecast horizons
@pytest.fixture()
def monthly_tx(tmp_path):
    days = pd.date_range("2022-01-01", "2024-12-31", freq="7D")
    tx = pd.DataFrame({"customer_id": [f"C{i % 5}" for i in range(len(days))],
                       "timestamp": days, "amount": 10.0 + (days.month % 3)})
    path = tmp_path / "tx.csv"
    tx.to_csv(path, index=False)
    return path


def _no_fitting(monkeypatch):
    from crm_ml.forecast.forecaster import ARIMAForecaster

    def fail(self, *args, **kwargs):
        raise AssertionError("a model was fitted before the horizon was checked")

    monkeypatch.setattr(ARIMAForecaster, "fit", fail)


@pytest.mark.parametrize("freq,h", [("M", 5000), ("D", 100_000), ("W", 13_000), ("Q", 1000)])
def test_an_impossible_horizon_is_refused_before_fitting(
        monthly_tx, tmp_path, monkeypatch, capsys, freq, h):
    _no_fitting(monkeypatch)
    out = tmp_path / "fc.csv"
    assert main(["--quiet", "forecast", "--transactions", str(monthly_tx), "--freq", freq,
                 "--h", str(h), "--output", str(out)]) == 2
    err = _one_line_error(capsys, "forecast")
    assert "--h" in err and "2262" in err and "largest" in err, err
    largest = int(err.rsplit(" ", 1)[1])
    assert not out.exists()
    # the largest horizon named in the message really works, one more does not
    from crm_ml.forecast import sales_series
    from crm_ml.scoring import load_inputs

    data = load_inputs(monthly_tx)
    index = sales_series(data.transactions, freq=freq, as_of=data.as_of).index
    offset = pd.tseries.frequencies.to_offset(pd.infer_freq(index))
    assert len(pd.date_range(index[-1], periods=largest + 1, freq=offset)) == largest + 1
    with pytest.raises((OverflowError, ValueError)):
        pd.date_range(index[-1], periods=largest + 2, freq=offset)


def test_a_forecast_where_every_series_failed_is_an_error(monthly_tx, tmp_path, monkeypatch,
                                                          capsys):
    from crm_ml.forecast.forecaster import ARIMAForecaster

    def fail(self, *args, **kwargs):
        raise RuntimeError("no model fits")

    monkeypatch.setattr(ARIMAForecaster, "fit", fail)
    out = tmp_path / "fc.csv"
    assert main(["--quiet", "forecast", "--transactions", str(monthly_tx), "--h", "3",
                 "--output", str(out)]) == 2
    err = _one_line_error(capsys, "forecast")
    assert "every series failed" in err and "no model fits" in err
    assert not out.exists()


def test_a_failed_series_still_gets_dates_not_step_numbers(monkeypatch):
    from crm_ml.forecast import forecast_many
    from crm_ml.forecast.forecaster import ARIMAForecaster

    real_fit = ARIMAForecaster.fit

    def fit_or_fail(self, y, *args, **kwargs):
        if y.iloc[0] < 0:
            raise RuntimeError("bad series")
        return real_fit(self, y, *args, **kwargs)

    monkeypatch.setattr(ARIMAForecaster, "fit", fit_or_fail)
    months = pd.date_range("2020-01-01", periods=36, freq="MS")
    long_df = pd.concat([pd.DataFrame({"series_id": sid, "timestamp": months,
                                       "y": sign * (100.0 + months.month)})
                         for sid, sign in (("good", 1), ("bad", -1))])
    fc = forecast_many(long_df, h=4, n_jobs=1, track=False)
    bad = fc[fc["series_id"] == "bad"]
    assert (bad["model"] == "failed").all()
    assert list(bad["timestamp"]) == list(pd.date_range("2023-01-01", periods=4, freq="MS"))
    assert pd.api.types.is_datetime64_any_dtype(fc["timestamp"])


# ------------------------------------------------------------------ card.md
def test_card_markdown_carries_no_markup_links_or_broken_tables_from_user_text():
    from markdown_it import MarkdownIt

    from crm_ml.cards import ModelCard

    evil = "<script>alert(1)</script> [x](http://evil) a|b ![i](http://evil/i.png) _e_ **b**"
    card = ModelCard(
        name="crm-churn", title=f"Churn {evil}",
        data={"source": f"s3://bucket/{evil}", "customer_column": evil},
        drivers=pd.DataFrame({"feature": [evil, "recency_days"], "shap": [0.5, 0.25]}),
        slices=pd.DataFrame({"segment": ["Champions|VIP", "<b>x</b>"], "n": [3, 4]}),
        caveats=[evil, "# heading?", "- list?"],
        baseline={"metric": "roc`auc", "model": 0.8, "baseline": 0.7,
                  "baseline_rule": evil})
    md = card.to_markdown()
    html = MarkdownIt("commonmark").enable("table").render(md)
    assert "<script" not in html and "<a " not in html and "<img" not in html
    assert "<b>" not in html and "<em>e</em>" not in html and "<strong>b</strong>" not in html
    assert "<h1>" in html and html.count("<h1>") == 1 and "<h2># heading" not in html
    for table in html.split("<table>")[1:]:
        rows = table.split("</table>")[0].split("<tr>")[1:]
        widths = {row.count("<td>") + row.count("<th>") for row in rows}
        assert len(widths) == 1, table  # a "|" in a value never adds a column
    # the text itself is still there for the reader
    assert "[x](http://evil)" in html and "Champions|VIP" in html and "&lt;script&gt;" in html
