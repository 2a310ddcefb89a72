"""Quality of the ranked list on data the method was not tuned on: prints precision@20, recall@50, average
precision, negative controls in the top 20 and places taken by the same planted anomaly, per seed and generator,
then the IMF DOTS 2013, 2019 and 2020 top 10s and the ranks of the labelled real episodes of
``benchmarks/real_episodes.csv`` (each with its public source) when the shared data are present.

    python benchmarks/eval_method.py [--generators synth,heldout] [--seeds 0-4] [--dots PATH] [--json OUT]

``synth`` is the project's generator with the evaluation counts (23 planted anomalies of six kinds);
``heldout`` is ``benchmarks/heldout_panel.py``, written from a separate specification and never used to tune.
Every check runs on every period with its defaults, then the scoring and the ranking, as a run does.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))


def panel(generator: str, seed: int):
    if generator == "synth":
        from tradeanomaly import synth

        p = synth.generate(seed, counts=synth.EVALUATION_COUNTS)
        return p.flows, p.truth
    import heldout_panel

    return heldout_panel.generate(seed)


def rank_panel(flows, periods=None, seed=0):
    from tradeanomaly import evaluation, ranking, scoring

    findings, missing = evaluation.run_available_checks(flows, periods, random_state=seed)
    if missing:
        raise SystemExit(f"checks missing: {missing}")
    return ranking.rank(findings, scoring.score(findings, random_state=seed))


def evaluate_generators(generators, seeds):
    from tradeanomaly import evaluation

    rows, kinds = [], []
    for g in generators:
        for seed in seeds:
            t0 = time.perf_counter()
            flows, truth = panel(g, seed)
            flags = rank_panel(flows, None, seed)
            res = evaluation.evaluate(truth, flags)
            o = res.overall
            rows.append({"generator": g, "seed": seed, "anomalies": res.n_anomalies,
                         "precision@20": o["precision@20"], "recall@50": o["recall@50"],
                         "average_precision": o["average_precision"], "controls@20": o["negative_controls@20"],
                         "repeat_places@50": evaluation.repeat_places(truth, flags),
                         "seconds": round(time.perf_counter() - t0, 1)})
            pk = res.per_kind.assign(generator=g, seed=seed)
            kinds.append(pk)
            print(pd.DataFrame([rows[-1]]).to_string(index=False, header=len(rows) == 1), flush=True)
    return pd.DataFrame(rows), pd.concat(kinds, ignore_index=True)


def dots_top(path: str, period: str, history_from: str, k: int | None = 10) -> pd.DataFrame:
    from tradeanomaly.sources import read_source

    repo = Path(__file__).resolve().parents[1]
    read = read_source("table", [path], column_map=repo / "configs" / "maps" / "imf-dots-long.yaml")
    flows = read.flows.loc[read.flows["period"] >= history_from].reset_index(drop=True)
    flags = rank_panel(flows, [period])
    ranked = flags.loc[flags["rank"].notna()]
    return ranked if k is None else ranked.head(k)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--generators", default="synth,heldout")
    ap.add_argument("--seeds", default="0-4")
    ap.add_argument("--dots", default=None, help="dots_annual_bilateral_1960_2020.csv.gz (skipped when absent)")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    lo, _, hi = a.seeds.partition("-")
    seeds = range(int(lo), int(hi or lo) + 1)
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.node()} "
          f"({platform.processor() or platform.machine()}), Python {platform.python_version()}")
    out = {}
    gens = [g for g in a.generators.split(",") if g]
    if gens:
        per_seed, per_kind = evaluate_generators(gens, seeds)
        mean = per_seed.groupby("generator")[["precision@20", "recall@50", "average_precision", "controls@20",
                                               "repeat_places@50"]].mean()
        print("\nmeans by generator\n" + mean.round(3).to_string())
        pkm = per_kind.groupby(["generator", "kind"])[["recall@20", "recall@50", "average_precision"]].mean()
        print("\nper kind (mean over seeds)\n" + pkm.round(3).to_string())
        out["per_seed"] = per_seed.to_dict("records")
        out["per_kind"] = pkm.reset_index().to_dict("records")
    if a.dots and Path(a.dots).exists():
        from tradeanomaly import evaluation

        episodes = evaluation.read_truth(Path(__file__).resolve().parent / "real_episodes.csv")
        for period, since in (("2013", "2003"), ("2019", "2009"), ("2020", "2010")):
            ranked = dots_top(a.dots, period, since, k=None)
            cols = ["rank", "subject", "kind", "period", "score", "confidence", "usd_at_stake"]
            print(f"\nIMF DOTS {period}: top 10 cases\n" + ranked.head(10)[cols].to_string(index=False))
            out[f"dots_{period}"] = ranked.head(10)[cols + ["headline"]].to_dict("records")
            # the labelled real episodes of that year: the rank of the first case that matches each, and
            # whether a structural control reaches the top 20
            m = evaluation.match(episodes, evaluation.normalise_flags(ranked))
            for ti, e in episodes.iterrows():
                if not (e["period_start"][:4] <= period <= e["period_end"][:4]) or "not evaluated" in e["note"]:
                    continue
                hits = m.loc[m["truth"] == ti, "flag"]
                rank = int(ranked.iloc[int(hits.min())]["rank"]) if len(hits) else None
                kind = "control" if e["negative_control"] else "episode"
                print(f"  {kind} {e['anomaly_id']}: " + (f"rank {rank}" if rank else "not among the ranked cases"))
                out.setdefault("episodes", []).append({"year": period, "episode": e["anomaly_id"], "rank": rank})
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1, default=lambda v: None if v is pd.NA else str(v)))


if __name__ == "__main__":
    main()
