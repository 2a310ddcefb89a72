"""The vectorised mirror pairing against an independent row-by-row reference, and against the same work as one
DuckDB query: every pair, every one-sided flow and every ledger count, on generated panels that hold every reason
a row can be set aside for (re-exports, re-imports, subnational rows, aggregates, self-trade, estimates, zero
values, duplicates, level mismatches)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tradeanomaly.checks import mirror
from tradeanomaly.schema import coerce_flows

COUNTRIES = ["USA", "CHN", "DEU", "JPN", "BRA", "WLD"]
HS = ["TOTAL", "01", "0101", "010121", "02"]


def messy_panel(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = pd.DataFrame({
        "period": rng.choice(["2020", "2021", "2022"], n),
        "reporter": rng.choice(COUNTRIES, n, p=[0.19, 0.19, 0.19, 0.19, 0.19, 0.05]),
        "region": np.where(rng.random(n) < 0.03, "US-CA", ""),
        "partner": rng.choice(COUNTRIES, n, p=[0.19, 0.19, 0.19, 0.19, 0.19, 0.05]),
        "flow": rng.choice(["X", "M", "RX", "RM"], n, p=[0.45, 0.45, 0.06, 0.04]),
        "hs": rng.choice(HS, n),
        "value_usd": np.where(rng.random(n) < 0.03, 0.0, np.round(np.exp(rng.normal(12, 2, n)), 2)),
        "estimated": rng.random(n) < 0.04,
        "source": "test",
    })
    rows["valuation"] = np.where(rows["flow"].isin(["X", "RX"]) | (rng.random(n) < 0.1), "FOB", "CIF")
    rows.loc[rng.random(n) < 0.02, "value_usd"] = np.nan
    # a period with few reports: one-sided flows both ways, and a pair whose two sides report other product levels
    planted = pd.DataFrame({
        "period": "2019", "reporter": ["USA", "CHN", "JPN", "BRA", "DEU", "DEU"],
        "region": "", "partner": ["CHN", "USA", "DEU", "JPN", "USA", "USA"], "flow": ["X", "M", "M", "X", "X", "X"],
        "hs": ["TOTAL", "0101", "02", "01", "02", "02"], "value_usd": [100.0, 90.0, 50.0, 70.0, 30.0, 31.0],
        "estimated": False, "source": "test", "valuation": ["FOB", "CIF", "CIF", "FOB", "FOB", "FOB"]})
    return coerce_flows(pd.concat([rows, planted], ignore_index=True))


def reference(f: pd.DataFrame):
    """Pairing as a reader would do it by hand: set-aside rules in order, first row of each key kept, a merge."""
    from tradeanomaly.codes import is_country

    d = pd.DataFrame({c: f[c].astype(object).where(f[c].notna(), None) for c in
                      ["period", "reporter", "region", "partner", "flow", "hs"]})
    d["value"] = f["value_usd"].to_numpy(dtype=float, na_value=np.nan)
    d["estimated"] = f["estimated"].to_numpy(dtype=bool)
    d["fob"] = (f["valuation"].astype(str) == "FOB").to_numpy()
    country = dict(zip(COUNTRIES, is_country(pd.Series(COUNTRIES, dtype="str")).to_numpy()))
    counts = {}
    left = pd.Series(True, index=d.index)
    rules = [
        ("re_export", d["flow"] == "RX"),
        ("re_import", ~d["flow"].isin(["X", "M", "RX"])),
        ("subnational", d["region"].fillna("") != ""),
        ("aggregate", ~(d["reporter"].map(country) & d["partner"].map(country))),
        ("self_trade", d["reporter"] == d["partner"]),
        ("estimated", d["estimated"]),
        ("zero_value", ~(d["value"] > 0)),
    ]
    for reason, mask in rules:
        hit = mask & left
        if hit.sum():
            counts[reason] = int(hit.sum())
        left &= ~hit
    live = d[left].copy()
    live["exporter"] = np.where(live["flow"] == "M", live["partner"], live["reporter"])
    live["importer"] = np.where(live["flow"] == "M", live["reporter"], live["partner"])
    keys = ["period", "exporter", "importer", "hs"]
    dup = live.duplicated(keys + ["flow"], keep="first")
    if dup.sum():
        counts["duplicate"] = int(dup.sum())
    live = live[~dup]
    x, m = live[live["flow"] == "X"], live[live["flow"] == "M"]
    j = x.merge(m, on=keys, how="outer", suffixes=("_x", "_m"), indicator=True)
    pairs = j[j["_merge"] == "both"]
    one = j[j["_merge"] != "both"].copy()
    one["side"] = np.where(one["_merge"] == "left_only", "lost", "orphaned")
    one["value_usd"] = np.where(one["side"] == "lost", one["value_x"], one["value_m"])
    level = {h: 0 if h == "TOTAL" else len(h) for h in HS}
    # a one-sided row whose counterpart reports the same pair and period only at other product levels
    other_levels = {s: {(r.period, r.exporter, r.importer): set() for r in part.itertuples()}
                    for s, part in (("lost", m), ("orphaned", x))}
    for s, part in (("lost", m), ("orphaned", x)):
        for r in part.itertuples():
            other_levels[s][(r.period, r.exporter, r.importer)].add(level[r.hs])
    mismatch = np.array([(r.period, r.exporter, r.importer) in other_levels[r.side]
                         and level[r.hs] not in other_levels[r.side][(r.period, r.exporter, r.importer)]
                         for r in one.itertuples()], dtype=bool)
    if mismatch.sum():
        counts["level_mismatch"] = int(mismatch.sum())
    one = one[~mismatch]
    for s in ("lost", "orphaned"):
        if (one["side"] == s).sum():
            counts[s] = int((one["side"] == s).sum())
    counts["paired"] = 2 * len(pairs)
    pairs = pairs.rename(columns={"value_x": "x_usd", "value_m": "m_usd", "fob_m": "m_valued_fob"})
    return pairs[keys + ["x_usd", "m_usd", "m_valued_fob"]], one[keys + ["side", "value_usd"]], counts


def decoded(p: mirror.Pairing):
    def labels(t):
        return pd.DataFrame({"period": p.period_labels[t["p"]], "exporter": p.countries[t["e"]],
                             "importer": p.countries[t["i"]], "hs": p.hs[t["h"]]})

    pairs = pd.concat([labels(p.pairs), p.pairs[["x_usd", "m_usd", "m_valued_fob"]]], axis=1)
    one = pd.concat([labels(p.one_sided), p.one_sided[["side", "value_usd"]].astype({"side": str})], axis=1)
    return pairs, one


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    df = df.astype({c: str for c in ["period", "exporter", "importer", "hs"] if c in df})
    return df.sort_values(list(df.columns)).reset_index(drop=True)


@pytest.mark.parametrize("seed,categorical", [(0, False), (1, True), (2, False)])
def test_pairing_matches_the_reference_row_for_row(seed, categorical):
    f = messy_panel(6000, seed)
    if categorical:
        f = f.astype({c: "category" for c in ["period", "reporter", "region", "partner", "flow", "hs",
                                              "valuation"]})
    p = mirror.pair_flows(f)
    ref_pairs, ref_one, ref_counts = reference(f)
    got_pairs, got_one = decoded(p)
    # every reason occurs, so every branch of the pairing is compared
    assert set(ref_counts) == {"re_export", "re_import", "subnational", "aggregate", "self_trade", "estimated",
                               "zero_value", "duplicate", "level_mismatch", "lost", "orphaned", "paired"}
    assert dict(p.ledger.counts) == ref_counts
    assert sum(ref_counts.values()) == len(f)
    assert len(got_pairs) == len(ref_pairs) > 100
    pd.testing.assert_frame_equal(_sorted(got_pairs), _sorted(ref_pairs.astype({"m_valued_fob": bool})))
    pd.testing.assert_frame_equal(_sorted(got_one), _sorted(ref_one))


def test_pairs_and_gaps_match_one_duckdb_query():
    duckdb = pytest.importorskip("duckdb")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import bench_mirror

    flows = bench_mirror.make_panel(60_000, seed=4)
    out = bench_mirror.tool(flows)
    con = duckdb.connect()
    con.register("flows_frame", flows)
    con.execute(bench_mirror.SQL.replace("FROM flows\n", "FROM flows_frame\n"))
    db = con.execute("SELECT period, exporter, importer, hs, x, m, gap_usd, side FROM pairs").df()
    sides = db["side"].value_counts().to_dict()
    assert sides["paired"] == len(out) > 20_000
    paired = db[db["side"] == "paired"].astype({c: str for c in ["period", "exporter", "importer", "hs"]})
    p = bench_mirror.mirror.pair_flows(flows)
    ours = pd.DataFrame({"period": p.period_labels[out["p"]], "exporter": p.countries[out["e"]],
                         "importer": p.countries[out["i"]], "hs": p.hs[out["h"]], "x": out["x_usd"],
                         "m": out["m_usd"]})
    merged = ours.merge(paired, on=["period", "exporter", "importer", "hs"], suffixes=("", "_db"),
                        validate="one_to_one")
    assert len(merged) == len(out)
    # one value per side and key: the sums are the values themselves
    np.testing.assert_array_equal(merged["x"].to_numpy(), merged["x_db"].to_numpy())
    np.testing.assert_array_equal(merged["m"].to_numpy(), merged["m_db"].to_numpy())
    np.testing.assert_allclose(out["gap_usd"].sort_values().to_numpy(),
                               paired["gap_usd"].sort_values().to_numpy(), rtol=1e-12)
    counts = p.ledger.counts
    assert counts["lost"] == sides["lost"] and counts["orphaned"] == sides["orphaned"]
