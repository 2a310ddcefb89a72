"""Single-machine speed side by side, in one run: mirror pairing and gaps against one DuckDB query, and the Benford
suite against benford_py's first-digit plus first-two-digit tests and against a bare numpy digit count (the floor).

    python benchmarks/bench_speed.py [--rows 10000000] [--n 10000000] [--repeats 3] [--skip-benford-py]

Prints the machine, the date and the load average, then for each contender the median of ``--repeats`` runs (every
run listed) and the ratios, all measured in this one process (benford_py in its own child process and virtual
environment, see ``bench_benford.py``). Repeats are interleaved, so that a change in the machine's load touches
every contender alike.

- Mirror: ``pair_flows`` + ``gap_measures`` (no history) on ``bench_mirror.make_panel(--rows)`` against the same
  filtering, aggregation, full outer join and gap arithmetic as one DuckDB SQL statement reading the same pandas
  frame; the pair count and the total gap must agree.
- Benford: ``analyse_groups`` (every test of the suite: first, second, first-two and last-two digits, mantissa arc,
  distortion factor, round numbers, number duplication, magnitude span) on ``--n`` amounts with cents from two
  distributions: ``exp(N(8, 2.5))`` and ``10 ** N(4, 1.5)`` (the one ``bench_benford.py`` uses). The floor is
  numpy alone: first-two digits by ``floor(x / 10 ** (floor(log10(x)) - 1))`` and two ``bincount`` calls (not
  exact for every double; the suite's digits are), on the amounts of at least 10 that the suite analyses.

The whole-run figures (the embedded sample and the DOTS audit) take minutes and are printed by
``benchmarks/bench_run.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_benford  # noqa: E402
import bench_mirror  # noqa: E402

DISTRIBUTIONS = {
    "exp(N(8, 2.5))": lambda rng, n: np.round(np.exp(rng.normal(8.0, 2.5, n)), 2),
    "10 ** N(4, 1.5)": lambda rng, n: np.round(10 ** rng.normal(4.0, 1.5, n), 2),
}


def machine() -> str:
    cpu = platform.machine()
    info = Path("/proc/cpuinfo")
    if info.exists():
        cpu = next((ln.split(":", 1)[1].strip() for ln in info.read_text().splitlines()
                    if ln.startswith("model name")), cpu)
    mem = ""
    if Path("/proc/meminfo").exists():
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 2**20:.0f} GiB"
    import pandas as pd

    return (f"{cpu}, {os.cpu_count()} cores{mem}, {platform.system()} {platform.release()}, Python "
            f"{platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}")


def load() -> str:
    return "/".join(f"{v:.1f}" for v in os.getloadavg())


def runs(ts: list[float]) -> str:
    return f"median {statistics.median(ts):6.3f} s  (runs: {', '.join(f'{t:.3f}' for t in ts)})"


def numpy_floor(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and first-two digit counts by plain floating point: the least work a digit count can do."""
    e = np.floor(np.log10(x))
    m2 = np.floor(x / 10.0 ** (e - 1)).astype(np.int64)
    m2 = np.clip(m2, 10, 99)
    return np.bincount(m2 // 10, minlength=10)[1:], np.bincount(m2, minlength=100)[10:]


def bench_mirror_part(rows: int, repeats: int, seed: int) -> None:
    duckdb = bench_mirror.require("duckdb", "duckdb", "the mirror benchmark's reference query")
    t0 = time.perf_counter()
    flows = bench_mirror.make_panel(rows, seed)
    print(f"mirror panel: {len(flows):,} rows generated in {time.perf_counter() - t0:.1f} s")
    con = duckdb.connect()
    con.register("flows_frame", flows)
    sql = bench_mirror.SQL.replace("FROM flows\n", "FROM flows_frame\n")
    tool, db = [], []
    out = None
    for _ in range(repeats):
        del out
        t = time.perf_counter()
        out = bench_mirror.tool(flows)
        tool.append(time.perf_counter() - t)
        t = time.perf_counter()
        con.execute(sql)
        db.append(time.perf_counter() - t)
    n_db = con.execute("SELECT count(*) FILTER (WHERE side = 'paired') FROM pairs").fetchone()[0]
    gap_db = con.execute("SELECT sum(gap_usd) FROM pairs WHERE side = 'paired'").fetchone()[0]
    if n_db != len(out) or not np.isclose(gap_db, out["gap_usd"].sum(), rtol=1e-9):
        raise SystemExit(f"mirror results differ: DuckDB {n_db:,} pairs, tradeanomaly {len(out):,}")
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    print(f"  pairs: {len(out):,}, both agree (total gap {out['gap_usd'].sum() / 1e9:,.1f} bn USD)")
    print(f"  tradeanomaly pair_flows + gap_measures:  {runs(tool)}")
    print(f"  duckdb one SQL query ({threads} threads):      {runs(db)}")
    print(f"  ratio tradeanomaly / duckdb: {statistics.median(tool) / statistics.median(db):.2f}x (target <= 1.5x)"
          f"; load {load()}")
    con.close()


def bench_benford_part(n: int, repeats: int, skip_bpy: bool) -> None:
    from tradeanomaly.checks.benford import analyse_groups

    py = None if skip_bpy else bench_benford.ensure_benford_py()
    work = bench_benford.WORK
    work.mkdir(parents=True, exist_ok=True)
    analyse_groups(np.round(10 ** np.random.default_rng(9).normal(4, 1.5, 100_000), 2))  # warm-up
    for k, (name, draw) in enumerate(DISTRIBUTIONS.items()):
        x = draw(np.random.default_rng(k), n)
        npy = work / f"amounts_speed_{k}.npy"
        if py is not None:
            np.save(npy, x)
        xs = x[x >= 10]  # the amounts the suite analyses (its min_value), taken outside the floor's timing
        ours, floor, f1s, f2s, pandas_version = [], [], [], [], ""
        for _ in range(repeats):
            t = time.perf_counter()
            gb = analyse_groups(x)
            _ = [gb.stats[key]["mad"].sum() for key in gb.stats]
            ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            c1, c2 = numpy_floor(xs)
            floor.append(time.perf_counter() - t)
            if py is not None:
                res = subprocess.run([str(py), "-c", bench_benford.BPY_SCRIPT, str(npy)], check=True,
                                     capture_output=True, text=True)
                bpy = json.loads(res.stdout.strip().splitlines()[-1])
                f1s += bpy["first_digit"]
                f2s += bpy["first_two_digits"]
                pandas_version = bpy["pandas"]
        if py is not None:
            npy.unlink(missing_ok=True)
        exact = gb.counts["first_two_digits"][0]
        off = int(np.abs(c2 - exact).sum())
        print(f"benford, {n:,} amounts ~ {name} ({int(exact.sum()):,} of them >= 10 analysed; on those the "
              f"floor's first-two digit counts are off by {off:,} in all)")
        print(f"  tradeanomaly analyse_groups, every test:  {runs(ours)}")
        print(f"  numpy floor, first + first-two counts:    {runs(floor)}")
        med = statistics.median
        print(f"  suite / floor: {med(ours) / med(floor):.2f}x")
        if py is None:
            continue
        both = [a + b for a, b in zip(f1s, f2s)]
        print(f"  benford_py first_digits digs=1 (pandas {pandas_version}): {runs(f1s)}")
        print(f"  benford_py first_digits digs=2:           {runs(f2s)}")
        print(f"  benford_py digs=1 + digs=2, per run:      {runs(both)}")
        print(f"  benford_py (1 + 2 digits) / tradeanomaly every test: {med(both) / med(ours):.2f}x faster "
              f"(target >= 3x); load {load()}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000, help="mirror panel rows (about)")
    ap.add_argument("--n", type=int, default=10_000_000, help="Benford amounts per distribution")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-benford-py", action="store_true")
    ap.add_argument("--only", choices=["mirror", "benford"], default=None)
    a = ap.parse_args(argv)
    import scipy.stats  # noqa: F401  (imported once, outside the timings)

    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {machine()}; load {load()}")
    print(f"# medians of {a.repeats} interleaved repeats")
    if a.only in (None, "mirror"):
        bench_mirror_part(a.rows, a.repeats, a.seed)
    if a.only in (None, "benford"):
        bench_benford_part(a.n, a.repeats, a.skip_benford_py)
    print(f"# done {time.strftime('%H:%M UTC', time.gmtime())}; load {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
