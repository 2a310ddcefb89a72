"""Mirror pairing at BACI scale: the tool's pairing and gap computation against the same work as one DuckDB query.

    python benchmarks/bench_mirror.py [--rows 10000000] [--repeat 3] [--seed 0]

Generates a product-level panel (one year, HS6-like codes, ~200 economies) with both sides of each flow, a share
of one-sided flows, publisher estimates and world aggregates, held as a flows table with categorical key columns.
Times (median of ``--repeat``) :func:`tradeanomaly.checks.mirror.pair_flows` plus
:func:`~tradeanomaly.checks.mirror.gap_measures` (tau, FOB value, log gap, symmetric gap, dollars beyond the band;
no history) and one DuckDB SQL statement doing the same filtering, aggregation to the flow key, full outer join
and gap arithmetic into a table, reading the same pandas frame (and, for reference, a copy loaded into DuckDB
beforehand). Prints the times, their ratio and the peak memory of the tool's computation
(tracemalloc, a separate untimed run) and of the process. DuckDB is the project's optional extra
(``pip install 'tradeanomaly[duckdb]'``).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
import tracemalloc

import numpy as np
import pandas as pd

from tradeanomaly.checks import mirror
from tradeanomaly.errors import require

SQL = """
CREATE OR REPLACE TEMP TABLE pairs AS
WITH f AS (
    SELECT period, reporter, partner, flow, hs, value_usd, valuation FROM flows
    WHERE region = '' AND NOT estimated AND value_usd > 0 AND flow IN ('X', 'M') AND reporter <> partner
      AND reporter NOT IN ('WLD', 'NES') AND partner NOT IN ('WLD', 'NES')
),
x AS (SELECT period, reporter AS exporter, partner AS importer, hs, sum(value_usd) AS x
      FROM f WHERE flow = 'X' GROUP BY ALL),
m AS (SELECT period, partner AS exporter, reporter AS importer, hs, sum(value_usd) AS m,
             bool_or(valuation = 'FOB') AS m_fob
      FROM f WHERE flow = 'M' GROUP BY ALL),
j AS (SELECT coalesce(x.period, m.period) AS period, coalesce(x.exporter, m.exporter) AS exporter,
             coalesce(x.importer, m.importer) AS importer, coalesce(x.hs, m.hs) AS hs, x, m,
             CASE WHEN m_fob THEN 0.0 ELSE 0.06 END AS tau
      FROM x FULL OUTER JOIN m USING (period, exporter, importer, hs))
SELECT *, m / (1 + tau) AS m_fob_usd, ln(x / (m / (1 + tau))) AS log_gap,
       abs(x - m / (1 + tau)) / (x + m / (1 + tau)) AS sym_gap, x - m / (1 + tau) AS gap_usd,
       CASE WHEN x > m THEN x - m WHEN x < m / (1 + tau) THEN m / (1 + tau) - x ELSE 0 END AS usd_beyond_band,
       CASE WHEN x IS NULL THEN 'orphaned' WHEN m IS NULL THEN 'lost' ELSE 'paired' END AS side
FROM j
"""


def make_panel(rows: int, seed: int = 0) -> pd.DataFrame:
    """About ``rows`` flows rows: both sides of ~47% of the flows, one side of the rest, estimates, aggregates."""
    from tradeanomaly.codes import crosswalk

    rng = np.random.default_rng(seed)
    iso = np.array(sorted(crosswalk()["iso3"]), dtype=object)[:200]
    nc = len(iso)
    hs = np.array([f"{k:06d}" for k in rng.choice(np.arange(10000, 980000), 5000, replace=False)], dtype=object)
    nh = len(hs)
    n_flows = int(rows / 1.9)
    code = np.unique(rng.integers(0, nc * nc * nh, size=int(n_flows * 1.05)))[:n_flows]
    code = rng.permutation(code)
    e, rest = code // (nc * nh), code % (nc * nh)
    i, h = rest // nh, rest % nh
    keep = e != i
    e, i, h = e[keep], i[keep], h[keep]
    n = len(e)
    fob = np.exp(rng.normal(11, 2.5, n))
    side = rng.random(n)  # < 0.9: both sides; < 0.95: exporter only; else importer only
    x_rows = np.flatnonzero(side < 0.95)
    m_rows = np.flatnonzero((side < 0.9) | (side >= 0.95))
    xv = fob[x_rows] * np.exp(rng.normal(0, 0.1, len(x_rows)))
    mv = fob[m_rows] * 1.06 * np.exp(rng.normal(0, 0.1, len(m_rows)))
    rep = np.concatenate([e[x_rows], i[m_rows]])
    par = np.concatenate([i[x_rows], e[m_rows]])
    hsc = np.concatenate([h[x_rows], h[m_rows]])
    flow = np.concatenate([np.zeros(len(x_rows), np.int8), np.ones(len(m_rows), np.int8)])
    val = np.concatenate([xv, mv])
    est = rng.random(len(val)) < 0.02
    # a few world totals
    n_agg = max(len(val) // 200, 1)
    agg = rng.integers(0, len(val), n_agg)
    labels = np.concatenate([iso, np.array(["WLD"], dtype=object)])
    par_codes = par.copy()
    par_codes[agg] = nc
    cat = pd.CategoricalDtype(labels)
    m = len(val)
    return pd.DataFrame({
        "period": pd.Categorical.from_codes(np.zeros(m, np.int8), categories=["2022"]),
        "reporter": pd.Categorical.from_codes(rep, dtype=cat),
        "region": pd.Categorical.from_codes(np.zeros(m, np.int8), categories=[""]),
        "partner": pd.Categorical.from_codes(par_codes, dtype=cat),
        "flow": pd.Categorical.from_codes(flow, categories=["X", "M"]),
        "hs": pd.Categorical.from_codes(hsc, categories=hs),
        "value_usd": val,
        "valuation": pd.Categorical.from_codes(flow, categories=["FOB", "CIF"]),
        "quantity": np.full(m, np.nan),
        "quantity_unit": pd.Categorical.from_codes(np.zeros(m, np.int8), categories=[""]),
        "estimated": est,
        "source": pd.Categorical.from_codes(np.zeros(m, np.int8), categories=["bench"]),
    })


def tool(flows: pd.DataFrame) -> pd.DataFrame:
    params = mirror.MirrorParams()
    pairing = mirror.pair_flows(flows, params)
    return mirror.gap_measures(pairing, params, history=False)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    duckdb = require("duckdb", "duckdb", "the mirror benchmark's reference query")

    t0 = time.perf_counter()
    flows = make_panel(args.rows, args.seed)
    print(f"panel: {len(flows):,} rows generated in {time.perf_counter() - t0:.1f} s "
          f"({flows.memory_usage(deep=True).sum() / 2**20:,.0f} MiB)")

    times_tool, times_db, times_native = [], [], []
    con = duckdb.connect()
    con.register("flows_frame", flows)
    # the reference reads the same pandas frame as the tool; a second run reads DuckDB's own copy of it
    con.execute("CREATE TABLE flows_native AS SELECT * FROM flows_frame")
    for _ in range(args.repeat):
        t = time.perf_counter()
        out = tool(flows)
        times_tool.append(time.perf_counter() - t)
        t = time.perf_counter()
        con.execute(SQL.replace("FROM flows\n", "FROM flows_frame\n"))
        times_db.append(time.perf_counter() - t)
        t = time.perf_counter()
        con.execute(SQL.replace("FROM flows\n", "FROM flows_native\n").replace("TABLE pairs", "TABLE pairs_n"))
        times_native.append(time.perf_counter() - t)
    n_db = con.execute("SELECT count(*) FILTER (WHERE side = 'paired') FROM pairs").fetchone()[0]
    gap_db = con.execute("SELECT sum(gap_usd) FROM pairs WHERE side = 'paired'").fetchone()[0]
    if n_db != len(out) or not np.isclose(gap_db, out["gap_usd"].sum(), rtol=1e-9):
        raise SystemExit(f"results differ: DuckDB {n_db:,} pairs, tool {len(out):,}")

    tracemalloc.start()
    tool(flows)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    med_tool, med_db = statistics.median(times_tool), statistics.median(times_db)
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    print(f"pairs: {len(out):,} (both tools agree; total gap {out['gap_usd'].sum() / 1e9:,.1f} bn USD)")
    print(f"tool   pair_flows + gap_measures: median {med_tool:.2f} s  (runs: "
          f"{', '.join(f'{t:.2f}' for t in times_tool)})")
    print(f"duckdb one SQL query:             median {med_db:.2f} s  (runs: "
          f"{', '.join(f'{t:.2f}' for t in times_db)}; {threads} threads)")
    med_native = statistics.median(times_native)
    print(f"duckdb, same query on its own table:  median {med_native:.2f} s  (runs: "
          f"{', '.join(f'{t:.2f}' for t in times_native)})")
    print(f"ratio tool / duckdb: {med_tool / med_db:.2f}x on the same pandas frame, "
          f"{med_tool / med_native:.2f}x against DuckDB's own table")
    print(f"peak memory of the tool's computation (tracemalloc): {peak / 2**20:,.0f} MiB; "
          f"process peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10:,.0f} MiB")


if __name__ == "__main__":
    main()
