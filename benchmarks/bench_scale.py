"""Scale benchmark: partitioned ingest of a BACI-sized year file, and the pandas engine against the Dask engine.

    python benchmarks/bench_scale.py                        # 10 million rows, 3 repeats, Dask with 2 workers
    python benchmarks/bench_scale.py --rows 1000000 --repeats 1   # a quick run

Inputs are generated once into ``benchmarks/_work/scale/`` (git-ignored) with numpy:

* a BACI year file (``t,i,j,k,v,q``; one year, ~200 economies, 5,000 HS6 codes, unique keys, log-normal values,
  HS codes written as integers that lost their leading zero, some quantities ``NA``) of ``--rows`` rows;
* a product-level flows panel of ``--rows`` rows with both sides of most flows (``bench_mirror.make_panel``:
  one-sided flows, publisher estimates, world totals), written as Parquet parts of 1 million rows in the layout
  of ``tradeanomaly ingest --partitioned``.

Each measurement runs in a fresh child process (imports and the generator do not count) that reports its wall
time and peak resident memory (``ru_maxrss``; for a Dask run, that of the driver, which holds the local scheduler, and
that of each worker process, asked from the workers after the run):

* ``ingest``: :func:`tradeanomaly.ingest.ingest_partitioned` of the BACI file (chunks of 1 million rows) into a
  new folder: rows per second and peak memory (target below 3 GB). Then an ingest killed (SIGKILL) after half
  its chunks and resumed: the resume's time and memory, and whether the folder equals the uninterrupted one;
* ``mirror`` (pandas / dask): :func:`tradeanomaly.engine.mirror_sides` on the panel folder, reading included
  (pandas reads the parts one after another and aggregates the whole table; Dask reads them on a local cluster
  of ``--workers`` workers and aggregates each part where it is read, then combines the partial sums);
* ``digits`` (pandas / dask): :func:`tradeanomaly.engine.digit_counts` by reporter and flow;
* ``run`` (pandas / dask): the whole ``tradeanomaly run`` (default configuration: every check, scoring, ranking,
  reports) on a product-level panel of ``--rows`` rows over four years (:func:`make_run_panel`), read from its
  partitioned folder: wall time, peak memory, the stage timings, the ranks of the three planted invoice-export
  pairs among the flags, and whether both engines write the same ``flags.csv``.

The two engines' results are hashed in the children and must be identical. Printed: medians over
``--repeats``, the machine (CPU count, memory, CPU model) and a JSON summary, also written to
``benchmarks/_work/scale/bench_scale_<rows>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work" / "scale"
PART_ROWS = 1_000_000

CHILD = r"""
import hashlib, json, os, resource, shutil, sys, time
from pathlib import Path
import pandas as pd
task, arg, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
t0 = time.perf_counter()
out = {}
if task in ("ingest", "ingest_resume"):
    from tradeanomaly.ingest import ingest_partitioned
    csv, dest = arg.split("|")
    if task == "ingest":
        shutil.rmtree(dest, ignore_errors=True)
    t0 = time.perf_counter()
    res = ingest_partitioned("baci", [csv], dest, chunk_rows=1_000_000)
    out.update(rows_in=res.ledger.rows_in, kept=res.ledger.kept, counts=dict(res.ledger.counts),
               chunks=res.chunks_written)
elif task.startswith("run_"):
    import tempfile
    from tradeanomaly.config import load_config
    from tradeanomaly.pipeline import run
    eng = task.split("_")[1]
    out_dir = tempfile.mkdtemp(prefix="bench_run_")
    engine_cfg = {"name": eng}
    if eng == "dask":  # a cluster of our own, so the workers' peak memory can be asked afterwards
        from distributed import Client, LocalCluster
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                               memory_limit=os.environ.get("BENCH_WORKER_MEMORY") or "auto")
        bench_client = Client(cluster)
        engine_cfg["scheduler_address"] = cluster.scheduler_address
    cfg = load_config(overrides={"input": {"source": "canonical", "files": [arg]}, "out": out_dir,
                                 "engine": engine_cfg})
    t0 = time.perf_counter()
    res = run(cfg)
    if eng == "dask":
        peaks = bench_client.run(lambda: __import__("resource").getrusage(
            __import__("resource").RUSAGE_SELF).ru_maxrss)
        out["worker_peak_rss_kb"] = sorted(peaks.values())
    planted = pd.read_csv(Path(arg) / "planted.csv")
    flags = res.flags
    ranks = []
    partner = flags["partner"].fillna("").astype(str)
    for e, i in zip(planted["exporter"], planted["importer"]):
        # the pair's flag, or the exporter's flag that gathers its findings over partners
        hit = flags[(flags["reporter"] == e) & partner.isin([i, ""])]
        ranks.append(int(hit["rank"].min()) if len(hit) else None)
    out.update(rows=res.n_flows, findings=len(res.findings), timings=res.manifest["timings_s"],
               planted_ranks=ranks, digest=hashlib.sha256((res.out_dir / "flags.csv").read_bytes()).hexdigest()[:16],
               files={p.name: p.stat().st_size for p in sorted(res.out_dir.iterdir())})
    shutil.rmtree(out_dir, ignore_errors=True)
else:
    from tradeanomaly import engine
    what, eng = task.split("_")
    def run(client=None):
        if what == "mirror":
            return engine.mirror_sides(arg, engine=eng, client=client)
        keys, mat = engine.digit_counts(arg, ["reporter", "flow"], engine=eng, client=client)
        return pd.concat([keys, pd.DataFrame(mat)], axis=1)
    if eng == "dask":
        with engine.dask_client(workers) as client:
            t0 = time.perf_counter()
            df = run(client)
    else:
        df = run()
    out.update(rows=len(df), digest=hashlib.sha256(pd.util.hash_pandas_object(df, index=True).to_numpy().tobytes()
                                                   + ",".join(map(str, df.dtypes)).encode()).hexdigest()[:16])
out["seconds"] = time.perf_counter() - t0
ru = resource.getrusage(resource.RUSAGE_SELF)
out["cpu_s"] = ru.ru_utime + ru.ru_stime  # from process start: includes imports (and, for Dask, all workers)
out["peak_rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps(out))
"""


def machine() -> dict:
    info = {"cpus": os.cpu_count(), "python": sys.version.split()[0], "platform": platform.platform()}
    try:
        with open("/proc/meminfo") as fh:
            total_kb = int(next(line for line in fh if line.startswith("MemTotal")).split()[1])
        info["memory_gb"] = round(total_kb / 1e6, 1)
        with open("/proc/cpuinfo") as fh:
            info["cpu"] = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), "")
        info["load_avg_1m_at_start"] = os.getloadavg()[0]
    except (OSError, StopIteration):
        pass
    return info


def _codes(n: int):
    from tradeanomaly.codes.countries import crosswalk

    cw = crosswalk()
    from tradeanomaly.codes import is_country

    cw = cw.loc[cw["iso3"].str.fullmatch(r"[A-Z]{3}") & cw["comtrade"].astype(str).str.fullmatch(r"\d+")]
    from tradeanomaly.codes import resolve_countries

    cw = cw.loc[is_country(cw["iso3"].astype("str")).to_numpy()].drop_duplicates("iso3").drop_duplicates("comtrade")
    # the code must also read back as that country (a few Comtrade codes are areas "nes")
    back = resolve_countries(cw["comtrade"].astype("str").reset_index(drop=True), system="comtrade")
    cw = cw.loc[((back["kind"] == "country") & (back["iso3"] == cw["iso3"].to_numpy())).to_numpy()]
    return list(cw.head(n)["comtrade"])


def generate_baci(path: Path, rows: int, seed: int = 20241128, batch: int = 2_000_000) -> None:
    """A BACI year file of ``rows`` unique exporter-importer-product rows (see the module docstring)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pcsv

    rng = np.random.default_rng(seed)
    m49 = np.array(_codes(200), dtype=object)
    nc = len(m49)
    hs6 = np.sort(rng.choice(np.arange(10100, 970600), 5000, replace=False))
    nh = len(hs6)
    space = nc * (nc - 1) * nh
    if rows > space:
        raise SystemExit(f"--rows {rows} exceeds the {space:,} distinct keys of the generator")
    step = space // rows
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    writer = None
    try:
        for start in range(0, rows, batch):
            k = np.arange(start, min(rows, start + batch), dtype=np.int64) * step
            k, h = np.divmod(k, nh)
            e, i = np.divmod(k, nc - 1)
            i = np.where(i >= e, i + 1, i)
            n = len(k)
            v = np.round(np.exp(rng.normal(4.0, 2.5, n)), 3)  # thousands of USD
            q = np.round(v / np.exp(rng.normal(0.5, 1.0, n)), 3)
            has_q = rng.random(n) > 0.1
            table = pa.table({
                "t": pa.array(np.full(n, "2022", dtype=object)),
                "i": pa.array(m49[e]), "j": pa.array(m49[i]),
                "k": pa.array(hs6[h].astype(np.int64)),
                "v": pa.array(v),
                "q": pa.array(np.where(has_q, q.astype(str), "NA")),
            })
            if writer is None:
                writer = pcsv.CSVWriter(str(tmp), table.schema, write_options=pcsv.WriteOptions(quoting_style="none"))
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    os.replace(tmp, path)


def generate_panel(folder: Path, rows: int, seed: int = 0) -> None:
    """The mirror panel as Parquet parts of ``PART_ROWS`` rows, in the partitioned-ingest layout."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    sys.path.insert(0, str(HERE))
    from bench_mirror import make_panel

    from tradeanomaly.ingest import PART_COLUMNS, part_schema

    df = make_panel(rows, seed=seed)
    df = df.iloc[np.random.default_rng(seed).permutation(len(df))].reset_index(drop=True)  # sides mixed
    period = str(df["period"].iloc[0])
    d = folder / "flows" / f"period={period}"
    d.mkdir(parents=True, exist_ok=True)
    schema = part_schema()
    for k, s in enumerate(range(0, len(df), PART_ROWS)):
        part = df.iloc[s:s + PART_ROWS][PART_COLUMNS].copy()
        for c in PART_COLUMNS:
            if isinstance(part[c].dtype, __import__("pandas").CategoricalDtype):
                part[c] = part[c].astype(str)
        pq.write_table(pa.Table.from_pandas(part, schema=schema, preserve_index=False),
                       d / f"part-bench-{k:05d}.parquet", compression="zstd")
    (folder / "ROWS").write_text(str(len(df)))


def make_run_panel(rows: int, years: int = 4, seed: int = 1):
    """About ``rows`` flows rows over ``years`` annual periods ending 2022, for the whole ``run``.

    The same product-level flows (~200 economies, 5,000 HS6 codes) recur every year with their own trend and
    noise: both sides of ~90% of them (imports CIF at 6% over FOB), one side of the rest, 2% publisher estimates
    and world totals (``bench_mirror.make_panel`` is one year of this). In the last year, planted: the exports of
    the 6th, 41st and 121st exporter-importer pairs (in code order) with at least 200 products are inflated 2.2 times on paper (invoice
    exports). Returns ``(flows, planted)``: ``planted`` lists those pairs.
    """
    import numpy as np
    import pandas as pd

    from tradeanomaly.codes import crosswalk

    rng = np.random.default_rng(seed)
    iso = np.array(sorted(crosswalk()["iso3"]), dtype=object)[:200]
    nc = len(iso)
    hs = np.array([f"{k:06d}" for k in rng.choice(np.arange(10000, 980000), 5000, replace=False)], dtype=object)
    nh = len(hs)
    n_flows = int(rows / years / 1.9)
    # gravity: large economies trade more products (economy weights ~ 1 / rank ** 0.9)
    w = 1.0 / np.arange(1, nc + 1) ** 0.9
    w /= w.sum()
    draw = int(n_flows * 1.6)
    code = (rng.choice(nc, draw, p=w).astype(np.int64) * nc + rng.choice(nc, draw, p=w)) * nh \
        + rng.integers(0, nh, draw)
    code = rng.permutation(np.unique(code))[:n_flows]
    e, rest = code // (nc * nh), code % (nc * nh)
    i, h = rest // nh, rest % nh
    keep = e != i
    e, i, h = e[keep], i[keep], h[keep]
    n = len(e)
    base = rng.normal(11, 2.5, n)
    trend = rng.normal(0.03, 0.05, n)
    side = rng.random(n)  # < 0.9: both sides; < 0.95: exporter only; else importer only
    x_rows = np.flatnonzero(side < 0.95)
    m_rows = np.flatnonzero((side < 0.9) | (side >= 0.95))
    pair = e.astype(np.int64) * nc + i
    counts = np.bincount(pair, minlength=nc * nc)
    planted_pairs = np.flatnonzero(counts >= 200)[[5, 40, 120]]
    labels = np.concatenate([iso, np.array(["WLD"], dtype=object)])
    cat = pd.CategoricalDtype(labels)
    frames = []
    for y in range(years):
        fob = np.exp(base + trend * y + rng.normal(0, 0.15, n))
        xv = fob[x_rows] * np.exp(rng.normal(0, 0.08, len(x_rows)))
        if y == years - 1:
            xv = np.where(np.isin(pair[x_rows], planted_pairs), xv * 2.2, xv)
        mv = fob[m_rows] * 1.06 * np.exp(rng.normal(0, 0.08, len(m_rows)))
        rep = np.concatenate([e[x_rows], i[m_rows]])
        par = np.concatenate([i[x_rows], e[m_rows]])
        hsc = np.concatenate([h[x_rows], h[m_rows]])
        flow = np.concatenate([np.zeros(len(x_rows), np.int8), np.ones(len(m_rows), np.int8)])
        val = np.round(np.concatenate([xv, mv]), 0) + 1.0
        m = len(val)
        par_codes = par.copy()
        par_codes[rng.integers(0, m, max(m // 200, 1))] = nc  # a few world totals
        frames.append(pd.DataFrame({
            "period": str(2022 - years + 1 + y),
            "reporter": pd.Categorical.from_codes(rep, dtype=cat),
            "region": "",
            "partner": pd.Categorical.from_codes(par_codes, dtype=cat),
            "flow": pd.Categorical.from_codes(flow, categories=["X", "M"]),
            "hs": pd.Categorical.from_codes(hsc, categories=hs),
            "value_usd": val,
            "valuation": pd.Categorical.from_codes(flow, categories=["FOB", "CIF"]),
            "quantity": np.nan, "quantity_unit": "",
            "estimated": rng.random(m) < 0.02,
            "source": "bench",
        }))
    flows = pd.concat(frames, ignore_index=True)
    flows = flows.drop_duplicates(["period", "reporter", "partner", "flow", "hs"]).reset_index(drop=True)
    planted = pd.DataFrame({"exporter": iso[planted_pairs // nc], "importer": iso[planted_pairs % nc],
                            "products": counts[planted_pairs]})
    return flows, planted


def generate_run_panel(folder: Path, rows: int, years: int = 4, seed: int = 1) -> None:
    """:func:`make_run_panel` as Parquet parts of ``PART_ROWS`` rows per year, in the partitioned-ingest layout."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tradeanomaly.ingest import PART_COLUMNS, part_schema

    df, planted = make_run_panel(rows, years, seed)
    schema = part_schema()
    for period, g in df.groupby("period", sort=True):
        g = g.iloc[np.random.default_rng(seed).permutation(len(g))]  # sides mixed
        d = folder / "flows" / f"period={period}"
        d.mkdir(parents=True, exist_ok=True)
        for k, s in enumerate(range(0, len(g), PART_ROWS)):
            part = g.iloc[s:s + PART_ROWS][PART_COLUMNS].copy()
            for c in PART_COLUMNS:
                if isinstance(part[c].dtype, pd.CategoricalDtype):
                    part[c] = part[c].astype(str)
            pq.write_table(pa.Table.from_pandas(part, schema=schema, preserve_index=False),
                           d / f"part-bench-{k:05d}.parquet", compression="zstd")
    planted.to_csv(folder / "planted.csv", index=False)
    (folder / "ROWS").write_text(str(len(df)))


def _child_env() -> dict:
    env = dict(os.environ)
    src = str(HERE.parent / "src")
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def interrupted_ingest(csv: Path, dest: Path, after_chunks: int) -> float:
    """Start an ingest of ``csv`` into ``dest`` in a child and kill it (SIGKILL) once ``after_chunks`` chunks
    are checkpointed; returns the seconds it ran."""
    shutil.rmtree(dest, ignore_errors=True)
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-W", "ignore", "-c", CHILD, "ingest_resume", f"{csv}|{dest}", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_child_env())
    markers = dest / "_ingested"
    while proc.poll() is None and len(list(markers.glob("*.chunk-*.json")) if markers.is_dir() else []) < after_chunks:
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    return time.perf_counter() - t0


def same_folder(a: Path, b: Path) -> bool:
    """Same ledger and the same part files with the same rows (compared by content hash of the read table)."""
    import hashlib

    import pandas as pd

    if (a / "ledger.json").read_text() != (b / "ledger.json").read_text():
        return False
    fa = sorted(p.relative_to(a).as_posix() for p in (a / "flows").rglob("*.parquet"))
    fb = sorted(p.relative_to(b).as_posix() for p in (b / "flows").rglob("*.parquet"))
    if fa != fb:
        return False
    for rel in fa:
        ha, hb = (hashlib.sha256(pd.util.hash_pandas_object(pd.read_parquet(x / rel)).to_numpy().tobytes())
                  .hexdigest() for x in (a, b))
        if ha != hb:
            return False
    return True


def child(task: str, arg: str, workers: int) -> dict:
    proc = subprocess.run([sys.executable, "-W", "ignore", "-c", CHILD, task, arg, str(workers)],
                          capture_output=True, text=True, env=_child_env())
    if proc.returncode != 0:
        raise SystemExit(f"{task} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=10_000_000, help="rows of each input (default 10,000,000)")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per measurement; medians printed")
    ap.add_argument("--workers", type=int, default=2, help="Dask local cluster workers (default 2)")
    ap.add_argument("--only", nargs="*", choices=["ingest", "mirror", "digits", "run"], default=None,
                    help="run only these measurements")
    ap.add_argument("--engines", nargs="*", choices=["pandas", "dask"], default=["pandas", "dask"],
                    help="engines of the `run` measurement (default both)")
    ap.add_argument("--worker-memory", default=None,
                    help="memory limit of each Dask worker of the `run` measurement, e.g. 3GB")
    args = ap.parse_args(argv)
    if args.worker_memory:
        os.environ["BENCH_WORKER_MEMORY"] = args.worker_memory
    only = set(args.only or ["ingest", "mirror", "digits", "run"])
    info = machine()
    print(f"machine: {info.get('cpus')} CPUs ({info.get('cpu', '?')}), {info.get('memory_gb', '?')} GB, "
          f"load {info.get('load_avg_1m_at_start', 0):.1f}", flush=True)

    baci = WORK / f"BACI_HS17_Y2022_bench_{args.rows}.csv"
    panel = WORK / f"panel_{args.rows}"
    if "ingest" in only and not baci.exists():
        t0 = time.perf_counter()
        generate_baci(baci, args.rows)
        print(f"generated {baci.name} ({baci.stat().st_size / 1e6:,.0f} MB) in {time.perf_counter() - t0:.0f} s",
              flush=True)
    if only & {"mirror", "digits"} and not (panel / "ROWS").exists():
        t0 = time.perf_counter()
        generate_panel(panel, args.rows)
        print(f"generated {panel.name} in {time.perf_counter() - t0:.0f} s", flush=True)

    run_panel = WORK / f"runpanel_{args.rows}"
    if "run" in only and not (run_panel / "ROWS").exists():
        t0 = time.perf_counter()
        generate_run_panel(run_panel, args.rows)
        print(f"generated {run_panel.name} in {time.perf_counter() - t0:.0f} s", flush=True)

    summary: dict = {"rows": args.rows, "repeats": args.repeats, "workers": args.workers, "machine": info}
    if "ingest" in only:
        runs = []
        for r in range(args.repeats):
            res = child("ingest", f"{baci}|{WORK / 'ingested'}", args.workers)
            runs.append(res)
            print(f"ingest {r + 1}: {res['seconds']:.1f} s, peak {res['peak_rss_kb'] / 1e6:.2f} GB", flush=True)
        med = statistics.median(x["seconds"] for x in runs)
        summary["ingest"] = {"median_s": round(med, 2), "rows_per_s": round(args.rows / med),
                             "median_cpu_s": round(statistics.median(x["cpu_s"] for x in runs), 1),
                             "peak_rss_gb": round(max(x["peak_rss_kb"] for x in runs) / 1e6, 3),
                             "ledger": runs[-1]["counts"], "chunks": runs[-1]["chunks"],
                             "file_mb": round(baci.stat().st_size / 1e6)}
        # interrupted ingest: killed after half the chunks, then resumed; compared with the uninterrupted one
        half = max(1, args.rows // 1_000_000 // 2)
        resumed = WORK / "resumed"
        ran = interrupted_ingest(baci, resumed, half)
        res = child("ingest_resume", f"{baci}|{resumed}", args.workers)
        same = same_folder(resumed, WORK / "ingested")
        print(f"ingest killed after {half} chunks ({ran:.1f} s), resumed in {res['seconds']:.1f} s "
              f"(peak {res['peak_rss_kb'] / 1e6:.2f} GB); same folder as uninterrupted: {same}", flush=True)
        summary["ingest"]["resume"] = {"killed_after_chunks": half, "killed_at_s": round(ran, 1),
                                       "resume_s": round(res["seconds"], 2),
                                       "resume_peak_rss_gb": round(res["peak_rss_kb"] / 1e6, 3),
                                       "chunks_converted_on_resume": res["chunks"], "identical": same}
    for what in ("mirror", "digits"):
        if what not in only:
            continue
        n_rows = int((panel / "ROWS").read_text())
        out = {"rows": n_rows}
        for eng in ("pandas", "dask"):
            runs = []
            for r in range(args.repeats):
                res = child(f"{what}_{eng}", str(panel), args.workers)
                runs.append(res)
                print(f"{what} {eng} {r + 1}: {res['seconds']:.1f} s, peak {res['peak_rss_kb'] / 1e6:.2f} GB",
                      flush=True)
            out[eng] = {"median_s": round(statistics.median(x["seconds"] for x in runs), 2),
                        "median_cpu_s": round(statistics.median(x["cpu_s"] for x in runs), 1),
                        "peak_rss_gb": round(max(x["peak_rss_kb"] for x in runs) / 1e6, 3),
                        "result_rows": runs[-1]["rows"], "digest": runs[-1]["digest"]}
        out["identical"] = out["pandas"]["digest"] == out["dask"]["digest"]
        out["dask_over_pandas"] = round(out["dask"]["median_s"] / out["pandas"]["median_s"], 2)
        summary[what] = out
    if "run" in only:
        out = {"rows": int((run_panel / "ROWS").read_text())}
        for eng in args.engines:
            runs = []
            for r in range(args.repeats):
                res = child(f"run_{eng}", str(run_panel), args.workers)
                runs.append(res)
                workers_gb = [round(k / 1e6, 2) for k in res.get("worker_peak_rss_kb", [])]
                print(f"run {eng} {r + 1}: {res['seconds']:.1f} s, peak {res['peak_rss_kb'] / 1e6:.2f} GB"
                      f"{f', workers {workers_gb} GB' if workers_gb else ''}, planted pairs at ranks {res['planted_ranks']}; {res['timings']}", flush=True)
            med = statistics.median(x["seconds"] for x in runs)
            out[eng] = {"median_s": round(med, 2), "peak_rss_gb": round(max(x["peak_rss_kb"] for x in runs) / 1e6, 3),
                        "worker_peak_rss_gb": [round(k / 1e6, 3) for k in runs[-1].get("worker_peak_rss_kb", [])],
                        "findings": runs[-1]["findings"], "planted_ranks": runs[-1]["planted_ranks"],
                        "timings_s": runs[-1]["timings"], "flags_digest": runs[-1]["digest"],
                        "files_bytes": runs[-1]["files"]}
        if "pandas" in out and "dask" in out:
            out["identical_flags"] = out["pandas"]["flags_digest"] == out["dask"]["flags_digest"]
        summary["run"] = out
    print(json.dumps(summary, indent=2))
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / f"bench_scale_{args.rows}.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
