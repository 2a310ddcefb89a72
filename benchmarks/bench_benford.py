"""Benford suite speed: every test on 10 million amounts, against benford_py's first_digits (1 and 2 digits), and the
same amounts split into 10,000 groups, on two distributions of amounts.

    python benchmarks/bench_benford.py [--n 10000000] [--groups 10000] [--repeats 5] [--dist readme wide]

benford_py is not a dependency of the project and breaks under pandas 3 (its summation step), so it runs in its own
virtual environment, benchmarks/_work/venv_bpy (made on first use: pandas<3, numpy, benford_py from PyPI), on the
same amounts (written once per distribution to benchmarks/_work/amounts_<dist>.npy). Amounts have two decimals
(cents), seed 0: ``readme`` is 10**N(4, 1.5), the README's distribution; ``wide`` is exp(N(8, 2.5)), log-normal
with a wide spread (the figures of issue 13). The repeats are interleaved (ours, then benford_py), so that a change
in machine load touches every contender alike; the machine, the date, the medians of the repeats and their ratio are
printed, then every run.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import venv
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work"
VENV = WORK / "venv_bpy"

BPY_SCRIPT = r"""
import json, sys, time, warnings
import numpy as np, pandas as pd
import benford as bf
warnings.filterwarnings("ignore")
x = pd.Series(np.load(sys.argv[1]))
out = {"pandas": pd.__version__, "first_digit": [], "first_two_digits": []}
bf.first_digits(x[:100000], digs=1, decimals=2, show_plot=False, verbose=False)  # warm-up
for _ in range(1):
    for digs, key in ((1, "first_digit"), (2, "first_two_digits")):
        t = time.perf_counter()
        bf.first_digits(x, digs=digs, decimals=2, show_plot=False, verbose=False)
        out[key].append(time.perf_counter() - t)
print(json.dumps(out))
"""


def ensure_benford_py() -> Path:
    py = VENV / "bin" / "python"
    if not py.exists():
        WORK.mkdir(parents=True, exist_ok=True)
        venv.create(VENV, with_pip=True)
        subprocess.run([str(py), "-m", "pip", "install", "--quiet", "pandas<3", "numpy", "benford_py"], check=True)
    return py


DISTS = {"readme": "10**N(4, 1.5)", "wide": "exp(N(8, 2.5))"}


def amounts(n: int, seed: int = 0, dist: str = "readme") -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dist == "wide":
        return np.round(np.exp(rng.normal(8.0, 2.5, n)), 2)
    return np.round(10 ** rng.normal(4.0, 1.5, n), 2)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return (f"{platform.node()}: {cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, numpy {np.__version__}; load average at start {load}")


def time_ours(x: np.ndarray, groups, repeats: int) -> list[float]:
    from tradeanomaly.checks.benford import analyse_groups

    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        gb = analyse_groups(x, groups)
        # the per-group records are part of the work: materialise every statistic
        _ = [gb.stats[k]["mad"].sum() for k in gb.stats]
        times.append(time.perf_counter() - t)
    return times


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--groups", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--dist", nargs="+", choices=sorted(DISTS), default=["readme", "wide"])
    ap.add_argument("--skip-benford-py", action="store_true")
    args = ap.parse_args(argv)

    import pandas as pd
    import scipy.stats  # noqa: F401  (imported once, outside the timings)

    from tradeanomaly.checks.benford import analyse_groups

    print(f"date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}")
    print(f"machine: {machine()}")
    print(f"values: {args.n:,} amounts with cents; repeats: {args.repeats}, interleaved (medians, then every run)")
    rng = np.random.default_rng(1)
    groups = rng.integers(0, args.groups, args.n)
    py = None if args.skip_benford_py else ensure_benford_py()
    med = statistics.median
    for dist in args.dist:
        x = amounts(args.n, dist=dist)
        analyse_groups(x[:100_000], groups[:100_000])  # warm-up
        npy = WORK / f"amounts_{dist}.npy"
        if py is not None:
            WORK.mkdir(parents=True, exist_ok=True)
            np.save(npy, x)
        one, many, f1s, f2s, pandas_version = [], [], [], [], ""
        for _ in range(args.repeats):
            one += time_ours(x, None, 1)
            many += time_ours(x, groups, 1)
            if py is not None:
                out = subprocess.run([str(py), "-c", BPY_SCRIPT, str(npy)], check=True, capture_output=True,
                                     text=True)
                bpy = json.loads(out.stdout.strip().splitlines()[-1])
                f1s += bpy["first_digit"]
                f2s += bpy["first_two_digits"]
                pandas_version = bpy["pandas"]
        print(f"\n{dist}: amounts {DISTS[dist]} (tradeanomaly under pandas {pd.__version__})")
        print(f"tradeanomaly, all tests, one group:              {med(one):7.3f} s   {[round(t, 3) for t in one]}")
        print(f"tradeanomaly, all tests, {args.groups:,} groups:         {med(many):7.3f} s   "
              f"{[round(t, 3) for t in many]}")
        print(f"grouped / one group:                             {med(many) / med(one):7.2f}x (target < 2)")
        if py is None:
            continue
        both = [a + b for a, b in zip(f1s, f2s)]
        print(f"benford_py first_digits(digs=1) (pandas {pandas_version}):  {med(f1s):7.3f} s   "
              f"{[round(t, 3) for t in f1s]}")
        print(f"benford_py first_digits(digs=2):                  {med(f2s):7.3f} s   {[round(t, 3) for t in f2s]}")
        print(f"benford_py, 1 + 2 digits:                         {med(both):7.3f} s   {[round(t, 3) for t in both]}")
        print(f"benford_py (1 + 2 digits) / tradeanomaly all:     {med(both) / med(one):7.2f}x (target >= 3)")
        # on a shared machine the fastest run of each is the least disturbed; printed beside the medians
        print(f"best runs: one group {min(one):.3f} s, grouped {min(many):.3f} s ({min(many) / min(one):.2f}x), "
              f"benford_py {min(both):.3f} s ({min(both) / min(one):.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
