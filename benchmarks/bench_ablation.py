"""Ablation on the generator's evaluation panels: the ranking with the rules and the pyod ensemble (default weight
of the ensemble's surprisal 0.25), the rules alone (weight 0) and the ensemble alone wherever it scores (weight 1),
seeds 0..4, printed side by side.

    python benchmarks/bench_ablation.py [--seeds 0,1,2,3,4]

Each variant ranks the same findings (every check, default parameters, all periods of
``synth.generate(seed, counts=synth.EVALUATION_COUNTS)``). Prints precision@20, recall@50 and average precision per
seed, and the means.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time

import pandas as pd

VARIANTS = {"rules+ensemble": 0.25, "rules": 0.0, "ensemble": 1.0}


def run(seeds) -> pd.DataFrame:
    from tradeanomaly import evaluation, ranking, scoring, synth

    rows = []
    for seed in seeds:
        t0 = time.perf_counter()
        panel = synth.generate(seed, counts=synth.EVALUATION_COUNTS)
        findings, missing = evaluation.run_available_checks(panel.flows, None, random_state=seed)
        if missing:
            raise SystemExit(f"checks missing: {missing}")
        scores = scoring.score(findings, random_state=seed)
        for name, w in VARIANTS.items():
            params = dataclasses.replace(ranking.RankingParams(), w_ensemble=w)
            res = evaluation.evaluate(panel.truth, ranking.rank(findings, scores, params=params))
            rows.append({"seed": seed, "variant": name, "precision@20": res.overall["precision@20"],
                         "recall@50": res.overall["recall@50"], "average_precision": res.overall["average_precision"]})
        print(f"seed {seed}: {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    return pd.DataFrame(rows)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="0,1,2,3,4")
    a = ap.parse_args(argv)
    t = run([int(s) for s in a.seeds.split(",")])
    print(t.pivot(index="seed", columns="variant", values="average_precision").round(3).to_string())
    print("\nmeans\n" + t.groupby("variant")[["precision@20", "recall@50", "average_precision"]].mean().round(3)
          .to_string())


if __name__ == "__main__":
    main()
