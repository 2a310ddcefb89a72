"""Ingest benchmark: rows per second and peak memory of reading a large file with a reader.

    python benchmarks/bench_ingest.py                  # 10 million canonical rows, 3 repeats
    python benchmarks/bench_ingest.py --rows 200000    # a quick run
    python benchmarks/bench_ingest.py --format baci    # a BACI year file of the same size
    nice python benchmarks/bench_ingest.py --partitioned --rows 40000000   # ingest --partitioned, time per chunk

The input is generated once into ``benchmarks/_work/`` (git-ignored) with numpy and written with
``pyarrow.csv``: unique keys (reporter x partner x flow x HS6 x year), realistic log-normal values, some empty
quantities. Each repeat reads it in a fresh child process (``read_source(FORMAT, path)``), so the generator's
memory and the import cache do not count; the child reports its wall time and its peak resident set size
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``), cross-checked with ``RUSAGE_CHILDREN`` in the parent, and its
CPU seconds (user + system), which are less sensitive than wall time to other work on a shared machine.
Printed: median wall and CPU seconds, rows/s, peak RSS, the load average, the ledger of the last repeat. Target: peak memory below 3 GB for
10 million rows.

``--partitioned`` times :func:`tradeanomaly.ingest.ingest_partitioned` instead (one child, chunks of
``--chunk-rows``): the wall time of every chunk and the part of it spent in the duplicate check
(:meth:`tradeanomaly.dedup.KeySet.add`), printed for the first and last chunks with the mean of the first and last
five, so one sees whether a chunk costs more as keys accumulate (it should not: the check is linear in rows).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work"

CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from tradeanomaly.sources import read_source
t1 = time.perf_counter()
u0 = resource.getrusage(resource.RUSAGE_SELF)
res = read_source(sys.argv[1], [sys.argv[2]])
t2 = time.perf_counter()
u1 = resource.getrusage(resource.RUSAGE_SELF)
cpu = (u1.ru_utime - u0.ru_utime) + (u1.ru_stime - u0.ru_stime)
print(json.dumps({"import_s": t1 - t0, "read_s": t2 - t1, "cpu_s": cpu, "rows_in": res.ledger.rows_in,
                  "kept": res.ledger.kept, "counts": dict(res.ledger.counts),
                  "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def _codes(n: int):
    """``n`` ISO3 codes and their BACI (Comtrade) numeric codes from the shipped crosswalk."""
    from tradeanomaly.codes.countries import crosswalk

    cw = crosswalk()
    col = "comtrade" if "comtrade" in cw.columns else None
    cw = cw.loc[cw["iso3"].str.fullmatch(r"[A-Z]{3}")]
    if col:
        cw = cw.loc[cw[col].str.fullmatch(r"\d+")]
    cw = cw.drop_duplicates("iso3").head(n)
    return list(cw["iso3"]), (list(cw[col]) if col else None)


def generate(path: Path, rows: int, fmt: str, seed: int = 20241128, batch: int = 2_000_000) -> None:
    """Write ``rows`` unique flows of format ``fmt`` (canonical or baci) to ``path``."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    rng = np.random.default_rng(seed)
    iso, m49 = _codes(120)
    n_c = len(iso)
    hs6 = np.array(sorted({f"{int(x):06d}" for x in rng.integers(10100, 970600, 4000)}))
    years = np.arange(2015, 2025)
    # key space: reporter x partner (different) x flow x hs x year, enumerated by a mixed-radix counter
    # BACI has one row per exporter-importer-product-year: no flow dimension
    sizes = (n_c, n_c - 1, 2 if fmt == "canonical" else 1, len(hs6), len(years))
    space = int(np.prod(sizes, dtype=np.int64))
    if rows > space:
        raise SystemExit(f"--rows {rows} exceeds the {space:,} distinct keys of the generator")
    step = space // rows  # spread the rows over the key space
    iso_arr, hs_arr = pa.array(iso), pa.array(hs6)
    year_arr = pa.array([str(y) for y in years])
    m49_arr = pa.array(m49) if m49 else None
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = None
    try:
        for start in range(0, rows, batch):
            k = np.arange(start, min(rows, start + batch), dtype=np.int64) * step
            k, y = np.divmod(k, sizes[4])
            k, h = np.divmod(k, sizes[3])
            k, f = np.divmod(k, sizes[2])
            r, p = np.divmod(k, sizes[1])
            p = np.where(p >= r, p + 1, p)  # partner differs from reporter
            n = len(k)
            value = np.round(np.exp(rng.normal(11.0, 2.5, n)), 2)
            qty = np.round(value / np.exp(rng.normal(1.5, 1.0, n)), 3)
            has_q = rng.random(n) > 0.1
            if fmt == "canonical":
                flow = np.where(f == 0, "X", "M")
                table = pa.table({
                    "period": pc.take(year_arr, pa.array(y)),
                    "reporter": pc.take(iso_arr, pa.array(r)),
                    "region": pa.array(np.full(n, "", dtype=object)),
                    "partner": pc.take(iso_arr, pa.array(p)),
                    "flow": pa.array(flow),
                    "hs": pc.take(hs_arr, pa.array(h)),
                    "value_usd": pa.array(value),
                    "valuation": pa.array(np.where(f == 0, "FOB", "CIF")),
                    "quantity": pa.array(np.where(has_q, qty, np.nan), from_pandas=True),
                    "quantity_unit": pa.array(np.where(has_q, "kg", "")),
                    "estimated": pa.array(rng.random(n) < 0.02),
                    "source": pa.array(np.full(n, "bench", dtype=object)),
                })
            elif fmt == "baci":
                if m49_arr is None:
                    raise SystemExit("the crosswalk has no comtrade column: cannot write BACI codes")
                table = pa.table({
                    "t": pc.take(year_arr, pa.array(y)),
                    "i": pc.take(m49_arr, pa.array(r)),
                    "j": pc.take(m49_arr, pa.array(p)),
                    "k": pc.cast(pc.cast(pc.take(hs_arr, pa.array(h)), pa.int64()), pa.string()),
                    "v": pa.array(np.round(value / 1000, 3)),
                    "q": pa.array(np.where(has_q, np.round(qty / 1000, 3).astype(str), "NA")),
                })
            else:
                raise SystemExit(f"unknown format {fmt}")
            if writer is None:
                writer = pcsv.CSVWriter(str(path), table.schema,
                                        write_options=pcsv.WriteOptions(quoting_style="none"))
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()


CHILD_PARTITIONED = r"""
import json, resource, shutil, sys, time
from pathlib import Path
from tradeanomaly import dedup
from tradeanomaly.ingest import ingest_partitioned
spent = []
add = dedup.KeySet.add
def timed_add(self, keys):
    t = time.perf_counter()
    out = add(self, keys)
    spent.append(time.perf_counter() - t)
    return out
dedup.KeySet.add = timed_add
dest = Path(sys.argv[3])
shutil.rmtree(dest, ignore_errors=True)
stamps = [time.perf_counter()]
t0 = stamps[0]
res = ingest_partitioned(sys.argv[1], [sys.argv[2]], dest, chunk_rows=int(sys.argv[4]),
                         progress=lambda m: stamps.append(time.perf_counter()))
wall = time.perf_counter() - t0
shutil.rmtree(dest, ignore_errors=True)
print(json.dumps({"wall_s": wall, "chunk_s": [b - a for a, b in zip(stamps, stamps[1:])], "dedup_s": spent,
                  "rows_in": res.ledger.rows_in, "kept": res.ledger.kept, "counts": dict(res.ledger.counts),
                  "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def run_partitioned(fmt: str, path: Path, chunk_rows: int) -> int:
    """Time a partitioned ingest of ``path`` chunk by chunk (see the module docstring); prints the figures."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(HERE.parent / "src") + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    proc = subprocess.run([sys.executable, "-c", CHILD_PARTITIONED, fmt, str(path), str(WORK / "partitioned_out"),
                           str(chunk_rows)], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"the ingest failed:\n{proc.stderr[-4000:]}")
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    chunks, dd = r["chunk_s"], r["dedup_s"]
    n = len(chunks)
    for i in list(range(min(3, n))) + list(range(max(3, n - 3), n)):
        print(f"chunk {i + 1:>4}/{n}: {chunks[i]:6.2f} s wall, duplicate check {dd[i]:.3f} s "
              f"({(i + 1) * chunk_rows:,} keys seen)", flush=True)
    k = min(5, n)
    summary = {
        "format": fmt, "rows": r["rows_in"], "chunk_rows": chunk_rows, "chunks": n, "wall_s": round(r["wall_s"], 1),
        "chunk_s_first5": round(statistics.mean(chunks[:k]), 3), "chunk_s_last5": round(statistics.mean(chunks[-k:]), 3),
        "dedup_s_first5": round(statistics.mean(dd[:k]), 4), "dedup_s_last5": round(statistics.mean(dd[-k:]), 4),
        "dedup_s_max": round(max(dd), 4), "peak_rss_gb": round(r["peak_rss_kb"] / 1e6, 3),
        "ledger": r["counts"], "load_avg_1min": round(os.getloadavg()[0], 2), "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
    }
    print(json.dumps(summary, indent=2))
    (WORK / f"bench_ingest_partitioned_{fmt}_{r['rows_in']}.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0


def run_child(fmt: str, path: Path) -> dict:
    env = dict(os.environ)
    src = str(HERE.parent / "src")
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, fmt, str(path)], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"the reader failed:\n{proc.stderr[-4000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["wall_s"] = wall
    out["children_max_rss_kb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=10_000_000, help="rows to generate (default 10,000,000)")
    ap.add_argument("--repeats", type=int, default=3, help="timed reads, median reported (default 3)")
    ap.add_argument("--format", default="canonical", choices=["canonical", "baci"], help="reader to time")
    ap.add_argument("--regenerate", action="store_true", help="write the input again even if it exists")
    ap.add_argument("--partitioned", action="store_true", help="time ingest --partitioned chunk by chunk")
    ap.add_argument("--chunk-rows", type=int, default=1_000_000, help="rows per chunk with --partitioned")
    args = ap.parse_args(argv)

    name = (f"canonical_{args.rows}.csv" if args.format == "canonical"
            else f"BACI_HS17_Ybench_{args.rows}.csv")
    path = WORK / name
    if args.regenerate or not path.exists():
        t0 = time.perf_counter()
        generate(path, args.rows, args.format)
        print(f"generated {path} ({path.stat().st_size / 1e6:,.0f} MB) in {time.perf_counter() - t0:,.1f} s",
              flush=True)
    if args.partitioned:
        return run_partitioned(args.format, path, args.chunk_rows)
    runs = []
    for i in range(args.repeats):
        r = run_child(args.format, path)
        runs.append(r)
        print(f"repeat {i + 1}: read {r['read_s']:.1f} s wall, {r['cpu_s']:.1f} s CPU "
              f"(+ import {r['import_s']:.1f} s), "
              f"peak RSS {r['peak_rss_kb'] / 1e6:.2f} GB", flush=True)
    med = statistics.median(r["read_s"] for r in runs)
    med_cpu = statistics.median(r["cpu_s"] for r in runs)
    peak_gb = max(r["peak_rss_kb"] for r in runs) / 1e6
    last = runs[-1]
    summary = {
        "format": args.format, "rows": args.rows, "file_mb": round(path.stat().st_size / 1e6, 1),
        "repeats": args.repeats, "median_read_s": round(med, 2), "rows_per_s": round(args.rows / med),
        "median_cpu_s": round(med_cpu, 2), "rows_per_cpu_s": round(args.rows / med_cpu),
        "load_avg_1min": round(os.getloadavg()[0], 2),
        "peak_rss_gb": round(peak_gb, 3), "children_max_rss_gb": round(last["children_max_rss_kb"] / 1e6, 3),
        "ledger": last["counts"], "target_peak_gb": 3.0, "within_target": peak_gb < 3.0,
        "python": sys.version.split()[0], "cpus": os.cpu_count(),
    }
    print(json.dumps(summary, indent=2))
    (WORK / f"bench_ingest_{args.format}_{args.rows}.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
