"""Benchmark: do segment names say what the segments are? Threshold names vs the former
z-score names, on real data (CDNOW) and the built-in data.

    python benchmarks/bench_segment_names.py [--builtin-customers 3000]

Data: CDNOW master (23,570 customers, ships with lifetimes; ``crm_ml.datasets.load_cdnow``,
no network), features at 1997-09-30; ``make_crm_dataset(n_customers, seed=0)``. Both are
segmented once with ``Segmenter(features=["purchase_rate", "monetary"])`` (the pipeline's
default); the *same* segments are then named two ways:

- before: the former rule (mean standardised centre of the feature family, words at
  z > 0.5 / z < -0.5: "high/mid/low value" from ``monetary``, "frequent/regular/rare" from
  ``purchase_rate``), re-implemented here from the previous ``naming.py``;
- after: ``Segmenter.names_`` (thresholds on segment statistics, see
  ``crm_ml.segmentation.naming``).

Checked for both, from the raw table: (1) *value*: a segment named higher on value has a
strictly higher median total spend; (2) *frequency*: a segment whose median customer bought
once is not given a repeat-frequency word ("frequent", "regular", "rare"), and two segments
with the same median purchase rate get the same frequency word; repeat segments named higher
have a strictly higher median purchase rate among their repeat customers. Each violation is a
pair of segments (or one segment) whose name says something its statistics contradict.
Also timed: naming (rules + statistics + names) as a share of the fit.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

FEATS = ["purchase_rate", "monetary"]
VALUE = ("high value", "mid value", "low value")
FREQ = ("frequent", "regular", "rare")


def md(df: pd.DataFrame, index: bool = True) -> str:
    """A Markdown table (no tabulate dependency)."""
    df = df.reset_index() if index else df
    fmt = [[f"{v:.4g}" if isinstance(v, float) else str(v) for v in r] for r in df.to_numpy()]
    head = "| " + " | ".join(map(str, df.columns)) + " |"
    return "\n".join([head, "|" + "---|" * len(df.columns)]
                     + ["| " + " | ".join(r) + " |" for r in fmt])


def old_names(centres: pd.DataFrame) -> dict[int, str]:
    """The former rule (crm_ml <= issue #17), without its duplicate qualifiers."""
    out = {}
    for s, row in centres.iterrows():
        z_v, z_f = float(row["monetary"]), float(row["purchase_rate"])
        v = VALUE[0] if z_v > 0.5 else (VALUE[2] if z_v < -0.5 else VALUE[1])
        f = FREQ[0] if z_f > 0.5 else (FREQ[2] if z_f < -0.5 else FREQ[1])
        out[int(s)] = f"{v}, {f}"
    return out


def _rank(name: str, words) -> int | None:
    parts = [w.strip() for w in name.split(" (")[0].split(",")]
    return next((i for i, w in enumerate(words) if w in parts), None)


def violations(st: pd.DataFrame, names: dict[int, str]) -> dict[str, int]:
    """Count statements in names contradicted by the segment statistics."""
    vr = {s: _rank(n, VALUE) for s, n in names.items()}
    fr = {s: _rank(n, FREQ) for s, n in names.items()}
    bad_v = bad_f = one_time = 0
    for a in st.index:
        if st.loc[a, "median_orders"] == 1 and fr[a] is not None:
            one_time += 1
        for b in st.index:
            if a >= b:
                continue
            if vr[a] is not None and vr[b] is not None and (
                    (vr[a] < vr[b] and not st.loc[a, "value"] > st.loc[b, "value"])
                    or (vr[b] < vr[a] and not st.loc[b, "value"] > st.loc[a, "value"])):
                bad_v += 1
            if fr[a] is not None and fr[b] is not None:
                same = np.isclose(st.loc[a, "rate_all"], st.loc[b, "rate_all"], rtol=1e-9)
                if (same and fr[a] != fr[b]) or (
                        fr[a] < fr[b] and not st.loc[a, "rate_rep"] > st.loc[b, "rate_rep"]) or (
                        fr[b] < fr[a] and not st.loc[b, "rate_rep"] > st.loc[a, "rate_rep"]):
                    bad_f += 1
    return {"value order": bad_v, "frequency order": bad_f, "one-time called repeat": one_time}


def run(label: str, X: pd.DataFrame) -> list[dict]:
    from crm_ml.segmentation import Segmenter
    from crm_ml.segmentation.naming import naming_rules, segment_names, segment_statistics

    t0 = time.perf_counter()
    seg = Segmenter(features=FEATS).fit(X)
    fit_s = time.perf_counter() - t0
    lab = seg.labels_.loc[X.index]
    t0 = time.perf_counter()
    D = X.reset_index(drop=True)
    rules = naming_rules(D, FEATS, "total_spend")
    segment_names(segment_statistics(D, lab.to_numpy(), rules, seg.n_segments_), rules)
    name_s = time.perf_counter() - t0
    rep = X["frequency"] > 1
    st = pd.DataFrame({
        "size": lab.value_counts().sort_index(),
        "value": X["total_spend"].groupby(lab).median(),
        "median_orders": X["frequency"].groupby(lab).median(),
        "repeat_share": rep.groupby(lab).mean(),
        "rate_all": X["purchase_rate"].groupby(lab).median(),
        "rate_rep": X.loc[rep, "purchase_rate"].groupby(lab[rep]).median(),
        "per_order": X["monetary"].groupby(lab).median(),
        "revenue_share": X["total_spend"].groupby(lab).sum() / X["total_spend"].sum(),
    })
    before, after = old_names(seg.centres_), seg.names_
    print(f"\n### {label}: {len(X):,} customers, k={seg.n_segments_}\n")
    table = st.assign(before=pd.Series(before), after=pd.Series(after))
    cols = ["before", "after", "size", "value", "median_orders", "repeat_share", "rate_all",
            "rate_rep", "per_order", "revenue_share"]
    print(md(table[cols]))
    print("\nthresholds (after):\n")
    print(md(rules[["statistic", "population", "n_population", "low", "high"]], index=False))
    vb, va = violations(st, before), violations(st, after)
    print(f"\nnaming took {name_s / fit_s:.1%} of the fit ({name_s:.3f} s of {fit_s:.2f} s)")
    return [{"data": label, "naming": "before (z-score)", **vb},
            {"data": label, "naming": "after (thresholds)", **va}]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--builtin-customers", type=int, default=3000)
    args = ap.parse_args()

    from threadpoolctl import threadpool_limits

    import crm_ml as cm
    from crm_ml.segmentation import segmentation_features

    rows = []
    with threadpool_limits(1):
        tx = cm.datasets.load_cdnow("master")
        rows += run("CDNOW master", segmentation_features(tx, "1997-09-30"))
        ds = cm.datasets.make_crm_dataset(n_customers=args.builtin_customers, seed=0)
        rows += run("built-in", segmentation_features(ds.transactions, ds.as_of))
    print("\n### Contradictions between names and statistics (pairs or segments)\n")
    print(md(pd.DataFrame(rows), index=False))


if __name__ == "__main__":
    main()
