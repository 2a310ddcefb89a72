"""The synthetic panel: contract, accounting identities, planted anomalies where the truth says, determinism."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy import stats

from tradeanomaly import schema, synth
from tradeanomaly.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample"


@pytest.fixture(scope="module")
def panel() -> synth.SynthPanel:
    return synth.generate(seed=0)


@pytest.fixture(scope="module")
def short_panels() -> list[synth.SynthPanel]:
    """Three years around the tariff dates, seeds 1 and 2 (cheaper than the full span)."""
    return [synth.generate(seed=s, start="2018-01", months=36) for s in (1, 2)]


@pytest.fixture(scope="module")
def wide(panel):
    """Exporter-side X and importer-side M of every pair/chapter/month side by side (national rows)."""
    f = panel.flows[(panel.flows["region"] == "") & (panel.flows["partner"] != "WLD")]
    x = f[f["flow"] == "X"].rename(columns={"reporter": "exporter", "partner": "importer", "value_usd": "x",
                                            "quantity": "qx"})
    m = f[f["flow"] == "M"].rename(columns={"reporter": "importer", "partner": "exporter", "value_usd": "m",
                                            "quantity": "qm"})
    keys = ["period", "exporter", "importer", "hs"]
    out = x[keys + ["x", "qx"]].merge(m[keys + ["m", "qm", "estimated"]], on=keys, how="outer")
    return out.merge(synth.cif_margins(), on=["exporter", "importer"], how="left")


def _in_period(periods: pd.Series, start: str, end: str) -> pd.Series:
    return (periods >= start) & (periods <= end)


def _truth_pairs(truth: pd.DataFrame) -> set[tuple[str, str]]:
    pairs = set(zip(truth["reporter"], truth["partner"]))
    tr = truth[truth["kind"] == "transshipment"]
    pairs |= set(zip(tr["reporter"], tr["hub"])) | set(zip(tr["hub"], tr["partner"]))
    return pairs


# -- contract ----------------------------------------------------------------------------------------------------


def test_flows_table_is_valid(panel):
    f = panel.flows
    assert tuple(f.columns) == schema.FLOW_COLUMNS
    schema.validate_flows(f)
    assert (f["source"] == "synth").all()
    assert (f["value_usd"] >= 0).all() and np.isfinite(f["value_usd"]).all()
    assert set(f.loc[f["flow"].isin(["X", "RX"]), "valuation"]) == {"FOB"}
    assert set(f.loc[f["flow"] == "M", "valuation"]) == {"CIF"}
    assert not f.duplicated(["period", "reporter", "region", "partner", "flow", "hs"]).any()
    assert f["period"].min() == "2017-01" and f["period"].max() == "2022-12"
    assert f["reporter"].nunique() == 40 and set(synth.ISO3) == set(f["reporter"])
    hs = set(f["hs"]) - {"TOTAL"}
    assert hs == set(synth.CHAPTERS) and len(hs) == 24
    # chapter rows carry kg, totals none
    chap = f[f["hs"] != "TOTAL"]
    assert chap["quantity"].notna().all() and (chap["quantity_unit"] == "kg").all()
    assert f.loc[f["hs"] == "TOTAL", "quantity"].isna().all()


def test_magnitudes_are_realistic(wide):
    w = wide[(wide["hs"] == "TOTAL") & wide["period"].str.startswith("2017")]
    chn_usa = w[(w["exporter"] == "CHN") & (w["importer"] == "USA")]["x"].mean()
    assert 30e9 < chn_usa < 45e9
    chn_hkg = w[(w["exporter"] == "CHN") & (w["importer"] == "HKG")]["x"].mean()
    assert 15e9 < chn_hkg < 35e9


def test_chapter_rows_sum_to_totals(panel):
    f = panel.flows[panel.flows["region"] == ""]
    keys = ["period", "reporter", "partner", "flow"]
    chap = f[f["hs"] != "TOTAL"].groupby(keys)["value_usd"].sum()
    tot = f[f["hs"] == "TOTAL"].set_index(keys)["value_usd"]
    joined = pd.concat([chap.rename("chapters"), tot.rename("total")], axis=1, join="inner")
    assert len(joined) == len(chap)  # every chapter series has its total
    assert (joined["chapters"] == joined["total"]).all()
    # chapter detail covers China's pairs and the hubs/destinations, both sides, and the entrepôts' re-exports
    pairs = set(zip(*[f.loc[f["hs"] != "TOTAL", c] for c in ("reporter", "partner")]))
    for e in synth.DETAIL_ECONOMIES:
        for i in synth.DETAIL_ECONOMIES:
            if e != i:
                assert (e, i) in pairs
    assert ("CHN", "NZL") in pairs and ("NZL", "CHN") in pairs
    assert {"X", "M", "RX"} == set(joined.reset_index()["flow"])


def test_reexports_are_part_of_the_hubs_exports(panel):
    f = panel.flows
    keys = ["period", "reporter", "partner", "hs"]
    rx = f[f["flow"] == "RX"].set_index(keys)["value_usd"]
    x = f[(f["flow"] == "X") & (f["region"] == "")].set_index(keys)["value_usd"]
    assert set(f.loc[f["flow"] == "RX", "reporter"]) == set(synth.ENTREPOTS)
    share = (rx / x.reindex(rx.index)).groupby(level="reporter").median()
    assert share["HKG"] == pytest.approx(0.95, abs=0.02)
    assert share["SGP"] == pytest.approx(0.50, abs=0.02)
    assert (rx <= x.reindex(rx.index)).all()


def test_provinces_sum_to_national_exports(panel):
    f = panel.flows
    prov = f[f["region"] != ""]
    assert set(prov["region"]) == set(synth.PROVINCES) and len(synth.PROVINCES) == 31
    assert (prov["reporter"] == "CHN").all() and (prov["partner"] == "WLD").all() and (prov["hs"] == "TOTAL").all()
    nat = f[(f["reporter"] == "CHN") & (f["partner"] == "WLD") & (f["region"] == "")].set_index("period")
    assert (prov.groupby("period")["value_usd"].sum() == nat["value_usd"]).all()
    # the world total exceeds the panel's bilateral exports (the rest of the world)
    bil = f[(f["reporter"] == "CHN") & (f["flow"] == "X") & (f["hs"] == "TOTAL") & (f["partner"] != "WLD")
            & (f["region"] == "")].groupby("period")["value_usd"].sum()
    assert (nat["value_usd"] > bil).all()


def test_chinese_new_year_dip(panel):
    f = panel.flows
    nat = f[(f["reporter"] == "CHN") & (f["partner"] == "WLD") & (f["region"] == "")].set_index("period")["value_usd"]
    for year, month in [(2018, 2), (2019, 2), (2021, 2), (2022, 2)]:
        dip = nat[f"{year}-{month:02d}"]
        others = nat[[f"{year}-{m:02d}" for m in range(4, 13)]].mean()
        assert dip < 0.9 * others, year


def test_codes_agree_with_reference_tables():
    codes = pytest.importorskip("tradeanomaly.codes.provinces")
    ref = codes.PROVINCES.set_index("code")["coastal"]
    assert set(ref.index) == set(synth.PROVINCES)
    mine = {p[0]: p[2] for p in synth._PROVINCES}
    assert all(bool(ref[c]) == mine[c] for c in synth.PROVINCES)
    assert not any(mine[c] for c in synth._INLAND_CANDIDATES)
    countries = pytest.importorskip("tradeanomaly.codes.countries")
    assert countries.is_country(pd.Series(synth.ISO3)).all()


# -- mirror structure --------------------------------------------------------------------------------------------


def test_normal_pairs_mirror_at_cif_fob_margin(panel, wide):
    truth = panel.truth
    skip = _truth_pairs(truth)
    w = wide[(wide["hs"] == "TOTAL") & ~wide["estimated"].astype(bool)]
    w = w[[(e, i) not in skip for e, i in zip(w["exporter"], w["importer"])]]
    ratio = (w["m"] / w["x"]) / (1 + w["margin"])
    med = ratio.groupby([w["exporter"], w["importer"]]).median()
    assert len(med) > 1300
    assert med.between(0.97, 1.03).all(), med[~med.between(0.97, 1.03)]
    # monthly noise: a few percent
    assert 0.02 < np.log(ratio).std() < 0.06
    # margins grow with distance
    m = synth.cif_margins()
    assert m["margin"].between(0.02 - 1e-9, 0.12 + 1e-9).all()
    assert stats.spearmanr(m["distance_km"], m["margin"]).statistic > 0.95


def test_invoice_export_months_exceed_mirror(panel, wide):
    inv = panel.truth[panel.truth["kind"] == "invoice_export_pair"]
    assert len(inv) == 3
    for t in inv.itertuples():
        s = wide[(wide["exporter"] == t.reporter) & (wide["importer"] == t.partner) & (wide["hs"] == t.hs)]
        inside = _in_period(s["period"], t.period_start, t.period_end)
        xm = s["x"] / s["m"]
        assert (xm[inside] > 1.4).all(), (t.anomaly_id, xm[inside].min())
        assert (xm[~inside] < 1.1).all(), t.anomaly_id
        assert t.hs in ("71", "85")
        excess = (s["x"][inside] - s["m"][inside] / (1 + s["margin"][inside])).sum()
        assert excess == pytest.approx(t.usd, rel=0.1)


def test_hub_reexport_gap_is_persistent(panel, wide):
    gaps = panel.truth[panel.truth["kind"] == "hub_reexport_gap"]
    assert set(gaps["reporter"]) == {"HKG", "SGP"} and set(gaps["partner"]) == {"CHN"}
    assert gaps["negative_control"].all()
    s = wide[(wide["exporter"] == "HKG") & (wide["importer"] == "CHN") & (wide["hs"] == "TOTAL")]
    ratio = s["m"] / s["x"]
    assert (ratio < 0.55).all() and ratio.std() < 0.05  # large and steady, every month


def test_publisher_estimates_are_flagged(panel, wide):
    est = panel.truth[panel.truth["kind"] == "publisher_estimate"]
    assert est["negative_control"].all()
    importers = sorted(set(est["partner"]))
    assert len(importers) == 2 and len(est) == 2 * 39
    f = panel.flows
    flagged = f[f["estimated"]]
    assert set(flagged["flow"]) == {"M"} and set(flagged["reporter"]) == set(importers)
    for imp in importers:
        start = est.loc[est["partner"] == imp, "period_start"].iloc[0]
        rows = f[(f["reporter"] == imp) & (f["flow"] == "M")]
        assert (rows["estimated"] == (rows["period"] >= start)).all()
    # the estimate copies the exporter's figure with a large distortion
    w = wide[wide["estimated"].astype(bool) & (wide["hs"] == "TOTAL")]
    dev = np.abs(np.log(w["m"] / w["x"] / 1.10))
    assert (dev > 0.24).all()


# -- planted signatures ------------------------------------------------------------------------------------------


def test_transshipment_moves_goods_through_the_hub(panel, wide):
    tr = panel.truth[panel.truth["kind"] == "transshipment"]
    assert len(tr) == 3 and set(tr["reporter"]) == {"CHN"} and set(tr["partner"]) == {"USA"}
    assert set(tr["hub"]) <= set(synth.TRANSSHIPMENT_HUBS) and set(tr["period_start"]) <= {"2018-07", "2019-09"}
    for t in tr.itertuples():
        def series(e, i, col="x"):
            s = wide[(wide["exporter"] == e) & (wide["importer"] == i) & (wide["hs"] == t.hs)]
            return s.set_index("period").sort_index()[col]

        p0 = pd.Period(t.period_start, freq="M")
        before = [str(p0 - k) for k in range(1, 13)]
        after = [str(p0 + k) for k in range(4, 16)]
        moved = t.usd / len(pd.period_range(t.period_start, t.period_end, freq="M"))
        usa_from_chn = series("CHN", "USA", "m")
        hub_from_chn = series("CHN", t.hub, "m")
        hub_to_usa = series(t.hub, "USA", "x")
        assert usa_from_chn[after].mean() < 0.85 * usa_from_chn[before].mean()
        assert hub_from_chn[after].mean() - hub_from_chn[before].mean() > 0.5 * moved
        assert hub_to_usa[after].mean() - hub_to_usa[before].mean() > 0.5 * moved
        # the goods added to the hub's exports carry China's unit value (plus the hub's small margin)
        uv_chn = (series("CHN", "USA") / series("CHN", "USA", "qx"))[after].median()
        q_hub = series(t.hub, "USA", "qx")
        added_uv = ((hub_to_usa[after].mean() - hub_to_usa[before].mean())
                    / (q_hub[after].mean() - q_hub[before].mean()))
        assert abs(np.log(added_uv / uv_chn)) < 0.3, (t.anomaly_id, added_uv, uv_chn)


def test_export_rush_surges_then_drops(panel, wide):
    rush = panel.truth[panel.truth["kind"] == "export_rush"]
    assert len(rush) == 3
    dates = {d for d, *_ in synth.TARIFF_EVENTS}
    for t in rush.itertuples():
        assert any(d in t.note for d in dates)
        s = wide[(wide["exporter"] == t.reporter) & (wide["importer"] == t.partner) & (wide["hs"] == t.hs)]
        s = s.set_index("period").sort_index()
        p0 = pd.Period(t.period_start, freq="M")
        base = s["x"][[str(p0 - k) for k in range(1, 7)]].mean()
        assert s["x"][t.period_start] > 1.3 * base
        assert s["m"][t.period_start] > 1.3 * s["m"][[str(p0 - k) for k in range(1, 7)]].mean()
        assert s["x"][t.period_end] < 0.9 * base


def test_unit_value_mispricing_is_one_sided(panel, wide):
    mis = panel.truth[panel.truth["kind"] == "unit_value_mispricing"]
    assert len(mis) == 3
    for t in mis.itertuples():
        s = wide[(wide["exporter"] == t.reporter) & (wide["importer"] == t.partner) & (wide["hs"] == t.hs)]
        inside = _in_period(s["period"], t.period_start, t.period_end)
        uv_ratio = (s["m"] / s["qm"]) / (s["x"] / s["qx"])
        assert (np.abs(np.log(uv_ratio[inside])) > np.log(2.0)).all(), t.anomaly_id
        assert (np.abs(np.log(uv_ratio[~inside])) < np.log(1.5)).all(), t.anomaly_id
        side = "importer" if "importer" in t.note else "exporter"
        q_ratio = (s["qm"] / s["qx"])[inside]
        assert (np.abs(np.log(q_ratio)) < 0.15).all(), side  # quantities untouched


def _first_digit(v: np.ndarray) -> np.ndarray:
    s = np.char.lstrip(np.char.mod("%.0f", v), "0")
    return np.array([int(x[0]) for x in s])


def test_fabricated_digits_break_benford(panel):
    fab = panel.truth[panel.truth["kind"] == "fabricated_digits"]
    assert len(fab) == 2 and (fab["partner"] == "").all() and (fab["hs"] == "").all()
    benford = np.log10(1 + 1 / np.arange(1, 10))
    f = panel.flows
    chapters = f[(f["hs"] != "TOTAL") & ~f["estimated"]]
    planted = np.zeros(len(chapters), dtype=bool)
    for t in fab.itertuples():
        own = ((chapters["reporter"] == t.reporter) & (chapters["flow"] == "X")).to_numpy()
        sel = own & _in_period(chapters["period"], t.period_start, t.period_end).to_numpy()
        planted |= sel
        v = chapters.loc[sel, "value_usd"].to_numpy()
        obs = np.bincount(_first_digit(v), minlength=10)[1:]
        assert obs.sum() > 300
        assert stats.chisquare(obs, benford * obs.sum()).pvalue < 1e-6, t.anomaly_id
        made_up = np.full(9, 1 / 9) if "uniform" in t.note else synth._FAVOURITE_DIGITS / synth._FAVOURITE_DIGITS.sum()
        assert stats.chisquare(obs, made_up * obs.sum()).pvalue > 1e-4, t.anomaly_id
        # made-up figures: three significant digits
        mag = 10.0 ** (np.floor(np.log10(v)) - 2)
        assert np.allclose(v / mag, np.round(v / mag))
        # against the reporter's own exports outside the period
        outside = own & ~sel
        rest_own = np.bincount(_first_digit(chapters.loc[outside, "value_usd"].to_numpy()), minlength=10)[1:]
        mad_in = np.abs(obs / obs.sum() - benford).mean()
        mad_out = np.abs(rest_own / rest_own.sum() - benford).mean()
        assert mad_in > 0.04 and mad_in > 2.5 * mad_out, (t.anomaly_id, mad_in, mad_out)
    # everything else follows Benford closely (mean absolute deviation of first-digit shares)
    rest = np.bincount(_first_digit(chapters.loc[~planted, "value_usd"].to_numpy()), minlength=10)[1:]
    assert np.abs(rest / rest.sum() - benford).mean() < 0.006


def test_province_invoice_exports_spike_at_quarter_openings(panel):
    prov = panel.truth[panel.truth["kind"] == "invoice_export_province"]
    assert len(prov) == 3
    f = panel.flows
    coastal = {p[0] for p in synth._PROVINCES if p[2]}
    for t in prov.itertuples():
        assert t.region not in coastal and t.reporter == "CHN" and t.partner == ""
        s = f[f["region"] == t.region].set_index("period")["value_usd"]
        inside = s[t.period_start:t.period_end]
        q_open = inside[[p[5:] in ("01", "04", "07", "10") for p in inside.index]]
        other = inside[[p[5:] not in ("01", "04", "07", "10") for p in inside.index]]
        assert q_open.min() > 1.5 * other.max()
        assert (inside % 1e6 == 0).all()  # round numbers
        assert other.nunique() == 1  # flat, decoupled from the national cycle


# -- truth, determinism, packaging ------------------------------------------------------------------------------


def test_truth_counts_and_keys(panel):
    t = panel.truth
    assert tuple(t.columns) == synth.TRUTH_COLUMNS
    counts = t.groupby("kind").size().to_dict()
    expected = dict(synth.COUNTS)
    expected["publisher_estimate"] = 2 * 39
    assert counts == expected
    assert t["anomaly_id"].is_unique
    assert (t["negative_control"] == t["kind"].isin(synth.NEGATIVE_CONTROLS)).all()
    assert (t["usd"] > 0).all()
    assert t["period_start"].str.match(r"^\d{4}-\d{2}$").all() and (t["period_start"] <= t["period_end"]).all()
    for kind, keys in synth.TRUTH_KEYS.items():
        sub = t[t["kind"] == kind]
        for k in keys:
            assert (sub[k] != "").all(), (kind, k)


def test_different_seeds_plant_different_subjects(short_panels):
    def subjects(p):
        t = p.truth[~p.truth["negative_control"]]
        return set(t[["kind", "reporter", "partner", "hub", "region", "hs"]].itertuples(index=False, name=None))

    a, b = (subjects(p) for p in short_panels)
    assert len(a) == len(b) == sum(v for k, v in synth.COUNTS.items() if k in synth.KINDS)
    assert len(a & b) < len(a) / 2
    sizes = [p.truth.groupby("kind").size() for p in short_panels]
    assert sizes[0].equals(sizes[1])
    assert not short_panels[0].flows["value_usd"].equals(short_panels[1].flows["value_usd"])


def test_same_seed_same_bytes(short_panels):
    again = synth.generate(seed=1, start="2018-01", months=36)
    assert synth.flows_csv_bytes(again.flows) == synth.flows_csv_bytes(short_panels[0].flows)
    assert synth.truth_csv_bytes(again.truth) == synth.truth_csv_bytes(short_panels[0].truth)
    assert again.flows["period"].min() == "2018-01" and again.flows["period"].max() == "2020-12"
    # gzip without time stamp or name: equal input, equal file
    assert synth.gzip_bytes(b"a,b\n1,2\n") == synth.gzip_bytes(b"a,b\n1,2\n")
    assert synth.gzip_bytes(b"x")[4:8] == b"\x00\x00\x00\x00"


def test_sample_folder_is_seed_zero(panel):
    """data/sample must equal a fresh generation (regenerate: tradeanomaly synth --out data/sample --seed 0)."""
    assert (SAMPLE / "README.md").is_file()
    assert "tradeanomaly synth --out data/sample --seed 0" in (SAMPLE / "README.md").read_text()
    assert gzip.decompress((SAMPLE / "flows.csv.gz").read_bytes()) == synth.flows_csv_bytes(panel.flows)
    assert (SAMPLE / "truth.csv").read_bytes() == synth.truth_csv_bytes(panel.truth)
    assert (SAMPLE / "flows.csv.gz").stat().st_size < 10e6


def test_default_sample_path_reads_back(panel):
    path = synth.default_sample_path()
    assert path.is_file() and synth.default_truth_path().is_file()
    truth = synth.read_truth(synth.default_truth_path())
    pd.testing.assert_frame_equal(truth, panel.truth, check_dtype=False)
    with gzip.open(path, "rt") as fh:
        assert fh.readline().strip() == ",".join(schema.FLOW_COLUMNS)


def test_canonical_csv_round_trip(panel):
    import io

    part = panel.flows.iloc[::40].reset_index(drop=True)  # every row is formatted alike: a slice will do
    back = pd.read_csv(io.BytesIO(synth.flows_csv_bytes(part)), dtype=str, keep_default_na=False, na_values=[])
    assert tuple(back.columns) == schema.FLOW_COLUMNS and len(back) == len(part)
    assert set(back["estimated"]) == {"true", "false"}
    assert ((back["estimated"] == "true") == part["estimated"]).all()
    assert (back["hs"].str.len() >= 2).all() and "03" in set(back["hs"])
    assert (back["value_usd"].astype(float).to_numpy() == part["value_usd"].to_numpy()).all()
    assert ((back["quantity"] == "") == part["quantity"].isna()).all()
    for c in ("period", "reporter", "region", "partner", "flow", "hs", "valuation", "quantity_unit", "source"):
        assert (back[c] == part[c]).all(), c


def test_writer_writes_both_files(short_panels, tmp_path):
    small = synth.SynthPanel(flows=short_panels[0].flows.iloc[:5000], truth=short_panels[0].truth, seed=1,
                             start="2018-01", months=36)
    paths = small.write(tmp_path / "out")
    assert gzip.decompress(paths["flows"].read_bytes()) == synth.flows_csv_bytes(small.flows)
    assert paths["truth"].read_bytes() == synth.truth_csv_bytes(small.truth)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["flows.csv.gz", "truth.csv"]


def test_cache_fallback_generates_the_sample_once(short_panels, monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(synth, "generate", lambda seed: calls.append(seed) or short_panels[0])
    monkeypatch.setattr(synth, "_PACKAGE_DATA", tmp_path / "none")
    monkeypatch.setattr(synth, "_checkout_root", lambda: None)
    monkeypatch.setenv("TRADEANOMALY_CACHE", str(tmp_path / "cache"))
    flows, truth = synth._default_files()
    assert flows.is_relative_to(tmp_path / "cache") and calls == [synth.DEFAULT_SEED]
    assert truth.read_bytes() == synth.truth_csv_bytes(short_panels[0].truth)
    assert synth._default_files() == (flows, truth) and calls == [0]  # generated once, then reused


def test_bad_spans_are_refused():
    with pytest.raises(ConfigError, match="YYYY-MM"):
        synth.generate(start="last year")
    with pytest.raises(ConfigError, match="tariff date"):
        synth.generate(start="2021-01", months=36)
    with pytest.raises(ConfigError, match="at least 24"):
        synth.generate(months=12)


def test_cli_writes_the_files(tmp_path):
    from tradeanomaly.cli import main

    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["synth", "--out", str(out), "--seed", "3", "--years", "2", "--start",
                                    "2018-01", "--quiet"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    truth = synth.read_truth(out / "truth.csv")
    assert (~truth["negative_control"]).sum() == sum(v for k, v in synth.COUNTS.items() if k in synth.KINDS)
    flows = pd.read_csv(out / "flows.csv.gz", dtype=str, keep_default_na=False, na_values=[])
    assert flows["period"].min() == "2018-01" and flows["period"].max() == "2019-12"
    assert tuple(flows.columns) == schema.FLOW_COLUMNS
    res = CliRunner().invoke(main, ["synth", "--out", str(out), "--start", "2021-01", "--years", "2"])
    assert res.exit_code == 1 and "tariff date" in res.output
