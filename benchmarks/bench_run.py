"""Whole-run speed: ``tradeanomaly run`` on the embedded sample (and, with ``--dots``, the IMF DOTS annual audit of
2013), each run in a fresh child process, printing the machine, the date, every run's wall time and peak resident
memory, and the medians.

    python benchmarks/bench_run.py [--repeats 3] [--dots ../shared/data/imf_dots_annual_1960_2020/dots_annual_bilateral_1960_2020.csv.gz]

Output folders go to a temporary directory and are removed, so no run compares itself with an earlier one.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


CHILD = """
import resource, sys
from tradeanomaly.cli import main
try:
    main(sys.argv[1:], standalone_mode=False)
finally:
    print("maxrss", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def timed(args: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in GB) of one child process running the CLI with ``args``."""
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", CHILD, *args], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    kb = next(int(ln.split()[1]) for ln in reversed(r.stderr.splitlines()) if ln.startswith("maxrss"))
    return wall, kb / 1024 ** 2


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dots", default=None, help="the DOTS annual file; its run is skipped when absent")
    a = ap.parse_args(argv)
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.machine()) if Path("/proc/cpuinfo").exists() else ""
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {cpu}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, load {os.getloadavg()[0]:.2f}")
    jobs = {"sample": ["run", "-q"]}
    if a.dots and Path(a.dots).exists():
        jobs["dots 2013"] = ["run", "-q", "--config", str(REPO / "configs" / "imf-dots-annual.yaml"),
                             "--period", "2013"]
    for name, args in jobs.items():
        walls, peaks = [], []
        for _ in range(a.repeats):
            out = tempfile.mkdtemp(prefix="bench_run_")
            try:
                w, pk = timed([*args, "--out", out])
            finally:
                shutil.rmtree(out, ignore_errors=True)
            walls.append(w)
            peaks.append(pk)
        print(f"{name}: median {statistics.median(walls):.1f} s wall (runs: "
              f"{', '.join(f'{w:.1f}' for w in walls)}), peak RSS {max(peaks):.2f} GB")


if __name__ == "__main__":
    main()
