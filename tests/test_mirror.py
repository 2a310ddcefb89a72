"""Mirror check on small hand-built flows tables: pairing and its ledger, freight band, tau, history, entrepôts,
reliability, unit values, CLI."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from tradeanomaly.checks import mirror
from tradeanomaly.checks.mirror import MirrorParams
from tradeanomaly.checks.unit_value import adjusted_fences, medcouple_by_group
from tradeanomaly.errors import ConfigError
from tradeanomaly.schema import FINDING_COLUMNS, coerce_flows


def flows(rows: list[dict]) -> pd.DataFrame:
    base = {"region": "", "hs": "TOTAL", "estimated": False, "source": "test"}
    out = []
    for r in rows:
        r = {**base, **r}
        r.setdefault("valuation", "FOB" if r["flow"] in ("X", "RX") else "CIF")
        out.append(r)
    return coerce_flows(pd.DataFrame(out))


def pair_rows(period, a, b, x, m, hs="TOTAL", **kw) -> list[dict]:
    """A's exports to B (x) and B's imports from A (m, CIF)."""
    return [dict(period=period, reporter=a, partner=b, flow="X", value_usd=x, hs=hs, **kw),
            dict(period=period, reporter=b, partner=a, flow="M", value_usd=m, hs=hs, **kw)]


def history_panel(years=range(2005, 2014), jump_year=2013, jump=1.6, n_partners=8, seed=0) -> pd.DataFrame:
    """CHN exports to several partners, each importer reporting CIF = FOB * 1.06 with 2% noise; CHN>HKG jumps."""
    rng = np.random.default_rng(seed)
    partners = ["HKG", "USA", "JPN", "KOR", "DEU", "VNM", "AUS", "BRA", "IND", "GBR"][:n_partners]
    rows = []
    for y in years:
        for k, p in enumerate(partners):
            fob = 1e9 * (k + 1) * (1 + 0.05 * (y - 2005))
            x = fob * math.exp(rng.normal(0, 0.02))
            if p == "HKG" and y == jump_year:
                x *= jump
            m = fob * 1.06 * math.exp(rng.normal(0, 0.02))
            rows += pair_rows(str(y), "CHN", p, x, m)
            # the partners' exports to China, so that China also appears as an importer
            rows += pair_rows(str(y), p, "CHN", fob / 2 * math.exp(rng.normal(0, 0.02)),
                              fob / 2 * 1.06 * math.exp(rng.normal(0, 0.02)))
    return flows(rows)


# -- pairing and ledger -----------------------------------------------------------------------------------------


def test_pairing_ledger_accounts_for_every_row():
    rows = []
    rows += pair_rows("2013", "CHN", "USA", 100.0, 106.0)                      # 2 paired
    rows += pair_rows("2013", "USA", "CHN", 50.0, 53.0)                        # 2 paired
    rows += [dict(period="2013", reporter="CHN", partner="DEU", flow="X", value_usd=10.0)]   # lost
    rows += [dict(period="2013", reporter="FRA", partner="CHN", flow="M", value_usd=7.0)]   # orphaned
    rows += [dict(period="2013", reporter="CHN", partner="WLD", flow="X", value_usd=999.0)]  # aggregate
    rows += [dict(period="2013", reporter="JPN", partner="CHN", flow="X", value_usd=30.0, estimated=True),
             dict(period="2013", reporter="CHN", partner="JPN", flow="M", value_usd=31.8)]  # estimated + orphaned
    rows += [dict(period="2013", reporter="CHN", partner="KOR", flow="X", value_usd=20.0, hs="85"),
             dict(period="2013", reporter="KOR", partner="CHN", flow="M", value_usd=21.0, hs="8501")]  # level
    rows += [dict(period="2013", reporter="HKG", partner="CHN", flow="RX", value_usd=5.0)]   # re-export
    rows += [dict(period="2013", reporter="CHN", partner="USA", flow="X", value_usd=0.0, hs="01"),
             dict(period="2013", reporter="USA", partner="CHN", flow="M", value_usd=3.0, hs="01")]
    # zero, and then the US chapter row meets China's report of the pair at the TOTAL level only: level mismatch
    rows += [dict(period="2013", reporter="CHN", partner="ITA", flow="X", value_usd=4.0, region="CN-GD")]
    f = flows(rows)
    p = mirror.pair_flows(f)
    led = p.ledger
    assert led.rows_in == len(f) == 15
    assert dict(led.counts) == {
        "re_export": 1, "subnational": 1, "aggregate": 1, "estimated": 1, "zero_value": 1,
        "level_mismatch": 3, "lost": 1, "orphaned": 2, "paired": 4,
    }
    assert sum(led.counts.values()) == led.rows_in
    assert len(p.pairs) == 2
    one = mirror._label_tables(p.one_sided, p)
    got = {(r.exporter, r.importer, r.hs, r.side, r.counterpart, r.value_usd) for r in one.itertuples()}
    assert got == {("CHN", "DEU", "TOTAL", "lost", "missing", 10.0),
                   ("CHN", "FRA", "TOTAL", "orphaned", "missing", 7.0),
                   ("JPN", "CHN", "TOTAL", "orphaned", "estimated", 31.8)}


def test_duplicates_are_set_aside_and_counted():
    rows = pair_rows("2013", "CHN", "USA", 100.0, 106.0) + [
        dict(period="2013", reporter="CHN", partner="USA", flow="X", value_usd=100.0)]
    p = mirror.pair_flows(flows(rows))
    assert p.ledger.counts["duplicate"] == 1 and p.ledger.counts["paired"] == 2


# -- freight band and tau ---------------------------------------------------------------------------------------


def test_fob_is_cif_divided_by_one_plus_tau_and_band():
    rows = (pair_rows("2013", "CHN", "HKG", 384.9e9, 250.6e9) + pair_rows("2013", "USA", "CAN", 100.0, 104.0)
            + pair_rows("2013", "CAN", "USA", 90.0, 100.0))
    res = mirror.run(flows(rows))
    g = res.tables["mirror_gaps"].set_index(["exporter", "importer"])
    r = g.loc[("CHN", "HKG")]
    assert r["m_fob_usd"] == pytest.approx(250.6e9 / 1.06)            # not 250.6e9 * 0.94
    assert r["m_fob_usd"] / 1e9 == pytest.approx(236.4, abs=0.05)
    assert r["gap_usd"] / 1e9 == pytest.approx(148.5, abs=0.1)
    assert r["log_gap"] == pytest.approx(math.log(384.9 / (250.6 / 1.06)))
    assert r["sym_gap"] == pytest.approx((384.9 - 250.6 / 1.06) / (384.9 + 250.6 / 1.06))
    assert r["usd_beyond_band"] == pytest.approx(384.9e9 - 250.6e9)    # above the CIF value itself
    # 104 CIF -> 98.1 FOB: an export of 100 lies inside the freight band
    assert g.loc[("USA", "CAN"), "usd_beyond_band"] == 0.0
    # 90 below 100 / 1.06 = 94.34: beyond by 4.34
    assert g.loc[("CAN", "USA"), "usd_beyond_band"] == pytest.approx(100 / 1.06 - 90)


def test_tau_overrides_most_specific_first():
    rows = []
    for a, b, hs in [("CHN", "HKG", "TOTAL"), ("CHN", "USA", "TOTAL"), ("CHN", "FRA", "TOTAL"),
                     ("CHN", "JPN", "71"), ("CHN", "JPN", "85"), ("KOR", "USA", "TOTAL")]:
        rows += pair_rows("2013", a, b, 100.0, 110.0, hs=hs)
    params = MirrorParams(tau=0.06, tau_pair={"CHN>HKG": 0.01}, tau_partner={"USA": 0.0},
                          tau_group={"EU27": 0.03}, tau_section={"XIV": 0.02, 16: 0.04})
    g = mirror.run(flows(rows), params=params).tables["mirror_gaps"].set_index(["exporter", "importer", "hs"])
    assert g.loc[("CHN", "HKG", "TOTAL"), "tau"] == 0.01
    assert g.loc[("CHN", "USA", "TOTAL"), "tau"] == 0.0
    assert g.loc[("KOR", "USA", "TOTAL"), "tau"] == 0.0
    assert g.loc[("CHN", "FRA", "TOTAL"), "tau"] == 0.03
    assert g.loc[("CHN", "JPN", "71"), "tau"] == 0.02
    assert g.loc[("CHN", "JPN", "85"), "tau"] == 0.04
    assert g.loc[("CHN", "JPN", "85"), "tau_source"] == "section XVI"


def test_imports_valued_fob_get_no_freight():
    rows = pair_rows("2013", "CHN", "USA", 100.0, 100.0, valuation="FOB")
    g = mirror.run(flows(rows)).tables["mirror_gaps"]
    assert g["tau"].iloc[0] == 0.0 and g["log_gap"].iloc[0] == 0.0


def test_estimated_tau_leaves_the_period_under_test_out():
    rows = []
    for y in range(2005, 2014):
        x = 100.0 * (3.0 if y == 2013 else 1.0)          # invoice exports in 2013 only
        rows += pair_rows(str(y), "CHN", "HKG", x, 110.0)  # a pair with 10% freight
    res = mirror.run(flows(rows), params=MirrorParams(estimate_tau=True), periods=["2013"])
    g = res.tables["mirror_gaps"].set_index("period")
    assert g.loc["2013", "tau"] == pytest.approx(0.10)
    assert g.loc["2013", "tau_source"] == "estimated"
    assert g.loc["2013", "log_gap"] == pytest.approx(math.log(3.0))
    # clipped to the bounds
    rows = [r for y in range(2005, 2014) for r in pair_rows(str(y), "CHN", "HKG", 100.0, 150.0)]
    g = mirror.run(flows(rows), params=MirrorParams(estimate_tau=True)).tables["mirror_gaps"]
    assert g["tau"].iloc[-1] == pytest.approx(0.20)


def test_params_are_validated():
    with pytest.raises(ConfigError, match="tau"):
        MirrorParams(tau=1.5)
    with pytest.raises(ConfigError, match="EXPORTER>IMPORTER"):
        MirrorParams(tau_pair={"CHNHKG": 0.1})
    with pytest.raises(ConfigError, match="section"):
        MirrorParams(tau_section={"XXX": 0.1})


# -- history, peers, findings -----------------------------------------------------------------------------------


def test_own_history_z_flags_the_jump_with_a_readable_sentence():
    res = mirror.run(history_panel(), periods=["2013"])
    f = res.findings
    assert list(f.columns) == list(FINDING_COLUMNS)
    assert (f["score"] >= 0).all()
    own = f[f["signal"] == "mirror.log_gap_z"]
    assert own.iloc[0]["subject"] == "CHN>HKG"
    assert set(f["period"]) == {"2013"}
    top = own.iloc[0]
    assert top["reporter"] == "CHN" and top["partner"] == "HKG"
    assert "China reports" in top["detail"] and "Hong Kong reports" in top["detail"]
    assert "2005–2012 norm" in top["detail"] and "τ = 6%" in top["detail"]
    g = res.tables["mirror_gaps"].set_index(["period", "exporter", "importer"])
    r = g.loc[("2013", "CHN", "HKG")]
    assert r["n_history"] == 8 and r["z_own"] > 5
    assert top["usd_at_stake"] == pytest.approx(r["usd_beyond_band"])
    # the other partners are quiet
    quiet = g.xs("2013", level="period").drop(("CHN", "HKG"))
    assert (quiet["z_own"].abs() < 4).all()
    # peer z: HKG stands out among China's partners in 2013
    assert r["z_peer"] > 5


def test_history_window_is_configurable_and_needs_min_history():
    res = mirror.run(history_panel(years=range(2010, 2014)), periods=["2013"])
    g = res.tables["mirror_gaps"]
    assert g["n_history"].max() == 3 and g["z_own"].isna().all()      # min_history 4 not reached
    res = mirror.run(history_panel(years=range(2010, 2014)), params=MirrorParams(history=3, min_history=3),
                     periods=["2013"])
    assert res.findings["subject"].iloc[0] == "CHN>HKG"


def test_monthly_history_looks_at_the_same_month():
    rows = []
    for y in range(2015, 2021):
        for mth in range(1, 13):
            # December always carries a 50% gap (a seasonal booking effect): not an anomaly in December
            x = 150.0 if mth == 12 else 100.0
            rows += pair_rows(f"{y}-{mth:02d}", "CHN", "USA", x, 106.0)
    g = mirror.run(flows(rows), params=MirrorParams(season_history="same")).tables["mirror_gaps"]
    dec = g[g["period"].astype(str) == "2020-12"].iloc[0]
    assert dec["n_history"] == 5 and abs(dec["z_own"]) < 1e-9
    g_any = mirror.run(flows(rows), params=MirrorParams(season_history="any")).tables["mirror_gaps"]
    dec_any = g_any[g_any["period"].astype(str) == "2020-12"].iloc[0]
    assert dec_any["z_own"] > 5


def test_same_input_gives_identical_output():
    a = mirror.run(history_panel(), periods=["2013"])
    b = mirror.run(history_panel(), periods=["2013"])
    pd.testing.assert_frame_equal(a.findings, b.findings)
    pd.testing.assert_frame_equal(a.tables["mirror_gaps"], b.tables["mirror_gaps"])


# -- entrepôts ---------------------------------------------------------------------------------------------------


def test_persistent_hub_gap_is_labelled_entrepot_not_fraud():
    rows = []
    for y in range(2005, 2014):
        rows += pair_rows(str(y), "HKG", "CHN", 250.0 * (1.3 if y == 2013 else 1.0), 16.0)  # hub, structural
        rows += pair_rows(str(y), "KOR", "CHN", 250.0 * (1.3 if y == 2013 else 1.0), 16.0)  # same shape, no hub
    res = mirror.run(flows(rows), periods=["2013"])
    g = res.tables["mirror_gaps"].set_index(["period", "exporter"])
    assert bool(g.loc[("2013", "HKG"), "entrepot"]) and not bool(g.loc[("2013", "KOR"), "entrepot"])
    f = res.findings
    hub = f[f["subject"] == "HKG>CHN"]
    assert set(hub["signal"]) == {"mirror.entrepot"}
    assert "entrepôt effect" in hub["detail"].iloc[0] and hub["hub"].iloc[0] == "HKG"
    assert "mirror.entrepot" not in set(f.loc[f["subject"] == "KOR>CHN", "signal"])


def test_reexports_explain_a_hub_gap():
    rows = pair_rows("2020", "HKG", "CHN", 100.0, 45.0) + [
        dict(period="2020", reporter="HKG", partner="CHN", flow="RX", value_usd=95.0)]
    rows += pair_rows("2020", "HKG", "USA", 100.0, 106.0) + [
        dict(period="2020", reporter="HKG", partner="USA", flow="RX", value_usd=95.0)]
    res = mirror.run(flows(rows))
    g = res.tables["mirror_gaps"].set_index("importer")
    # China books the re-exports under their origin: any figure between 5 and 100 is consistent
    assert g.loc["CHN", "usd_beyond_band"] == 0.0 and bool(g.loc["CHN", "reexport_explained"])
    assert bool(g.loc["CHN", "entrepot"])
    assert g.loc["USA", "usd_beyond_band"] == 0.0 and not bool(g.loc["USA", "entrepot"])
    f = res.findings
    assert list(f["signal"]) == ["mirror.entrepot"]
    assert "re-exports" in f["detail"].iloc[0] and f["usd_at_stake"].iloc[0] == pytest.approx(55.0)


# -- reliability -------------------------------------------------------------------------------------------------


def test_reliability_separates_a_poor_importer_and_tempers_its_gaps():
    rng = np.random.default_rng(3)
    rows = []
    countries = ["CHN", "USA", "JPN", "KOR", "DEU", "FRA", "GBR", "ITA", "BRA", "NGA"]
    for y in range(2005, 2014):
        for a in countries:
            for b in countries:
                if a == b:
                    continue
                fob = 1e9
                x = fob * math.exp(rng.normal(0, 0.02))
                noise = 0.8 if b == "NGA" else 0.02        # Nigeria's import reports are erratic
                m = fob * 1.06 * math.exp(rng.normal(0, noise))
                if (a, b, y) == ("CHN", "USA", 2013):
                    x *= 3
                if (a, b, y) == ("CHN", "NGA", 2013):
                    x *= 3
                rows += pair_rows(str(y), a, b, x, m)
    res = mirror.run(flows(rows), periods=["2013"])
    rel = res.tables["reliability"].set_index("country")
    assert rel.loc["NGA", "importer_effect"] > 10 * rel.loc["USA", "importer_effect"]
    assert rel.loc["NGA", "reliability_importer"] < 0.2
    assert rel.loc["NGA", "exporter_effect"] < 0.1                 # its exports are fine
    assert rel.loc["USA", "reliability_importer"] > 0.8
    g = res.tables["mirror_gaps"].set_index(["period", "exporter", "importer"])
    assert g.loc[("2013", "CHN", "NGA"), "temper"] < 0.2
    f = res.findings[res.findings["signal"] == "mirror.log_gap_z"]
    assert f["subject"].iloc[0] == "CHN>USA"
    nga = f[f["subject"] == "CHN>NGA"]
    assert nga.empty or "tempered" in nga["detail"].iloc[0]
    # without tempering, the Nigerian gap would score as high as the US one
    raw = mirror.run(flows(rows), params=MirrorParams(temper=False), periods=["2013"]).tables["mirror_gaps"]
    assert raw.set_index(["period", "exporter", "importer"]).loc[("2013", "CHN", "NGA"), "temper"] == 1.0


# -- unit values -------------------------------------------------------------------------------------------------


def naive_medcouple(x: np.ndarray) -> float:
    """Brys et al. (2004) by the definition; the one median element of an odd sample pairs with itself as 0."""
    x = np.sort(x)
    m = np.median(x)
    lo, hi = x[x <= m], x[x >= m]
    h = [((xj - m) - (m - xi)) / (xj - xi) if xj > xi else 0.0 for xi in lo for xj in hi]
    return float(np.median(h))


def test_medcouple_matches_the_definition_and_fences_respect_skew():
    rng = np.random.default_rng(7)
    samples = [rng.lognormal(0, 1.0, 201), rng.normal(0, 1, 30), -rng.lognormal(0, 1.0, 151)]
    values = np.concatenate(samples)
    groups = np.repeat([0, 1, 2], [len(s) for s in samples])
    mc = medcouple_by_group(values, groups, max_n=1000)
    for k, s in enumerate(samples):
        assert mc.loc[k] == pytest.approx(naive_medcouple(s), abs=1e-12)
    assert mc.loc[0] > 0.1 and mc.loc[2] < -0.1
    # on right-skewed data the adjusted boxplot flags far fewer points than the raw interquartile rule
    x = rng.lognormal(0, 1.0, 2000)
    fences = adjusted_fences(x, np.zeros(len(x), dtype=np.int64), max_n=200)
    adj = ((x < fences["fence_low"].iloc[0]) | (x > fences["fence_high"].iloc[0])).mean()
    q1, q3 = np.quantile(x, [0.25, 0.75])
    raw = ((x < q1 - 1.5 * (q3 - q1)) | (x > q3 + 1.5 * (q3 - q1))).mean()
    assert raw > 0.06 and adj < 0.03


@pytest.mark.parametrize("step", [0.1, 1.0])
def test_medcouple_with_ties_matches_statsmodels(step):
    # trade unit values are often rounded: ties at the median take the published kernel (Brys, Hubert & Struyf
    # 2004), as statsmodels computes it; 300 groups of rounded log-normal prices, all at once
    sm = pytest.importorskip("statsmodels.stats.stattools")
    rng = np.random.default_rng(3)
    sizes = rng.integers(8, 60, 300)
    values = np.concatenate([np.round(np.exp(rng.normal(0, 1, n)) * 10 / step) * step for n in sizes])
    groups = np.repeat(np.arange(300), sizes)
    mc = medcouple_by_group(values, groups, max_n=1000)
    ref = np.array([float(sm.medcouple(values[groups == g], use_fast=False)) for g in range(300)])
    assert np.abs(mc.reindex(range(300)).to_numpy() - ref).max() < 1e-12
    # the example: 0 with ties counted as 0, 1.0 by the definition (upper fence factor e^3, not 1)
    x = np.array([1, 2, 2, 2, 2, 2, 2.5, 3, 6, 9.0])
    assert medcouple_by_group(x, np.zeros(10, dtype=np.int64)).iloc[0] == pytest.approx(1.0)
    assert float(sm.medcouple(x, use_fast=False)) == pytest.approx(1.0)


def unit_value_panel(mispriced=("CHN", "AUS", "2020-03")) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    partners = ["AUS", "USA", "JPN", "KOR", "DEU", "FRA", "GBR", "ITA", "BRA", "IND"]
    rows = []
    for mth in range(1, 13):
        per = f"2020-{mth:02d}"
        for b in partners:
            kg = 1e6 * rng.uniform(1, 5)
            fob = kg * 12.0 * math.exp(rng.normal(0, 0.03))
            m = fob * 1.06 * math.exp(rng.normal(0, 0.02))
            x = fob
            if (("CHN", b, per) == mispriced):
                x = fob * 3.0                                 # value tripled, same kg
            rows.append(dict(period=per, reporter="CHN", partner=b, flow="X", value_usd=x, hs="85",
                             quantity=kg * math.exp(rng.normal(0, 0.01)), quantity_unit="kg"))
            rows.append(dict(period=per, reporter=b, partner="CHN", flow="M", value_usd=m, hs="85",
                             quantity=kg * math.exp(rng.normal(0, 0.01)),
                             quantity_unit="u" if (b, mth) == ("IND", 5) else "kg"))
    return flows(rows)


def test_unit_value_mispricing_and_unit_mismatch():
    res = mirror.run(unit_value_panel())
    uv = res.findings[res.findings["check"] == "unit_value"]
    top_ratio = uv[uv["signal"] == "unit_value.mirror_ratio"].iloc[0]
    assert (top_ratio["subject"], top_ratio["period"]) == ("CHN>AUS:85", "2020-03")
    assert "USD/kg" in top_ratio["detail"]
    out = uv[uv["signal"] == "unit_value.outlier"]
    assert ("CHN>AUS:85", "2020-03") in set(zip(out["subject"], out["period"]))
    assert len(out) <= 2
    led = next(l for l in res.ledgers if l.stage == "unit_value.pairs")
    assert led.counts["unit_mismatch"] == 1 and led.rows_in == 120
    t = res.tables["unit_values"]
    mm = t[t["status"] == "unit_mismatch"]
    assert len(mm) == 1 and mm["importer"].iloc[0] == "IND" and mm["qm_unit"].iloc[0] == "u"


# -- CLI ---------------------------------------------------------------------------------------------------------


def test_cli_writes_gaps_and_ranked_findings(tmp_path):
    from tradeanomaly.cli import main

    path = tmp_path / "flows.csv"
    history_panel().to_csv(path, index=False)
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["mirror", "--source", "canonical", str(path), "--out", str(out),
                                  "--period", "2012:2013", "-q"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    gaps = pd.read_csv(out / "mirror_gaps.csv", dtype={"period": str})
    assert set(gaps["period"]) == {"2012", "2013"}
    assert {"x_usd", "m_usd", "m_fob_usd", "tau", "log_gap", "sym_gap", "usd_beyond_band", "z_own", "z_peer",
            "n_history", "entrepot"} <= set(gaps.columns)
    fnd = pd.read_csv(out / "findings.csv", dtype=str, keep_default_na=False)
    assert fnd["rank"].iloc[0] == "1" and fnd["subject"].iloc[0] == "CHN>HKG"
    assert list(pd.to_numeric(fnd["score"])) == sorted(pd.to_numeric(fnd["score"]), reverse=True)
    for name in ("one_sided.csv", "reliability.csv", "unit_values.csv", "ledger.json"):
        assert (out / name).exists()
    bad = CliRunner().invoke(main, ["mirror", str(path), "--out", str(out), "--period", "2013:2012x"])
    assert bad.exit_code == 1 and "period" in bad.output
    assert "Pair exporters' and importers' reports" in CliRunner().invoke(main, ["mirror", "--help"]).output


def test_categorical_key_columns_give_the_same_result():
    f = history_panel()
    cat = f.assign(**{c: f[c].astype("category") for c in ("period", "reporter", "partner", "flow", "hs",
                                                             "region", "valuation", "source")})
    a = mirror.run(f, periods=["2013"])
    b = mirror.run(cat, periods=["2013"])
    pd.testing.assert_frame_equal(a.findings, b.findings)
    cols = ["x_usd", "m_usd", "tau", "log_gap", "z_own", "z_peer", "usd_beyond_band"]
    pd.testing.assert_frame_equal(a.tables["mirror_gaps"][cols], b.tables["mirror_gaps"][cols])
    ex_a, ex_b = (r.tables["mirror_gaps"]["exporter"].astype(str) for r in (a, b))
    assert list(ex_a) == list(ex_b)


def test_empty_flows_give_empty_results():
    from tradeanomaly.schema import empty_flows

    res = mirror.run(empty_flows())
    assert res.findings.empty and res.ledgers[0].rows_in == 0
    assert all(len(t) == 0 for t in res.tables.values())
