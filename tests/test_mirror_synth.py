"""Mirror and unit-value findings on the generator's panel: planted anomalies found, negative controls not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tradeanomaly import synth
from tradeanomaly.checks import mirror


@pytest.fixture(scope="module")
def panel():
    p = synth.generate(0)
    return p, mirror.run(p.flows)


def ranked_subjects(findings: pd.DataFrame, mask: pd.Series) -> pd.DataFrame:
    return findings[mask].drop_duplicates("subject").reset_index(drop=True)


def is_planted(truth: pd.DataFrame, subjects: pd.DataFrame) -> np.ndarray:
    """Whether each subject's pair carries a planted anomaly: its (exporter, importer), a transshipment leg, or a
    reporter that fabricated all its figures (truth ``partner`` empty)."""
    t = truth[~truth["negative_control"].astype(bool) & (truth["region"] == "")]
    whole = set(t.loc[t["partner"] == "", "reporter"])
    keys = set(zip(t["reporter"], t["partner"]))
    legs = t[t["hub"] != ""]
    keys |= set(zip(legs["reporter"], legs["hub"])) | set(zip(legs["hub"], legs["partner"]))
    return np.array([(a, b) in keys or a in whole or b in whole
                     for a, b in zip(subjects["reporter"], subjects["partner"])], dtype=bool)


def rank_of(subjects: pd.DataFrame, r) -> tuple[int, int]:
    """Rank of the planted subject in its window, and how many subjects of unplanted pairs rank above it."""
    hit = subjects[(subjects["reporter"] == r.reporter) & (subjects["partner"] == r.partner)
                   & (subjects["hs"] == r.hs) & (subjects["period"] >= r.period_start)
                   & (subjects["period"] <= r.period_end)]
    assert len(hit), f"planted {r.kind} {r.reporter}>{r.partner}:{r.hs} {r.period_start}..{r.period_end} not found"
    k = int(hit.index.min())
    return k, int((~subjects["planted"].to_numpy()[:k]).sum())


def test_planted_invoice_exports_lead_the_mirror_findings(panel):
    p, res = panel
    f = res.findings
    subj = ranked_subjects(f, (f["check"] == "mirror") & (f["signal"] != "mirror.entrepot"))
    subj["planted"] = is_planted(p.truth, subj)
    plants = p.truth[p.truth["kind"] == "invoice_export_pair"]
    assert len(plants) == 3
    for r in plants.itertuples():
        rank, false_ahead = rank_of(subj, r)
        # the subjects above it are the other plants (a reporter that fabricated all its chapters fills many)
        assert false_ahead <= 3 and rank < 150, (r.reporter, r.partner, r.hs, rank, false_ahead)


def test_planted_mispricing_found_by_the_unit_value_ratio(panel):
    p, res = panel
    f = res.findings
    subj = ranked_subjects(f, f["signal"] == "unit_value.mirror_ratio")
    subj["planted"] = is_planted(p.truth, subj)
    plants = p.truth[p.truth["kind"] == "unit_value_mispricing"]
    ranks = [rank_of(subj, r) for r in plants.itertuples()]
    assert sum(false_ahead <= 3 for _, false_ahead in ranks) >= 2, ranks
    assert all(false_ahead <= 40 for _, false_ahead in ranks), ranks
    # the detail names both unit values
    top = subj[subj["planted"]].iloc[0]
    assert "USD/kg" in top["detail"] and "ratio" in top["detail"]


def test_negative_controls_are_not_fraud_findings(panel):
    p, res = panel
    f = res.findings
    fraud = f[f["signal"] != "mirror.entrepot"]
    neg = p.truth[p.truth["negative_control"].astype(bool)]
    assert set(neg["kind"]) == {"hub_reexport_gap", "publisher_estimate"}
    top20 = ranked_subjects(fraud, pd.Series(True, index=fraud.index)).head(20)
    for r in neg.itertuples():
        in_window = fraud[(fraud["reporter"] == r.reporter) & (fraud["partner"] == r.partner)
                          & (fraud["period"] >= r.period_start) & (fraud["period"] <= r.period_end)]
        assert in_window.empty, (r.kind, r.reporter, r.partner, in_window.head(3).to_dict("records"))
        assert not ((top20["reporter"] == r.reporter) & (top20["partner"] == r.partner)).any()
    # the hubs' gaps are explained and labelled, with their dollars
    for hub in ("HKG", "SGP"):
        lab = f[(f["subject"] == f"{hub}>CHN") & (f["signal"] == "mirror.entrepot")]
        assert len(lab) >= 60 and lab["detail"].str.contains("entrepôt effect").all()
        assert lab["usd_at_stake"].sum() > 1e9


def test_pairing_ledger_on_the_panel(panel):
    p, res = panel
    led = next(l for l in res.ledgers if l.stage == "mirror.pairing")
    flows = p.flows
    assert led.rows_in == len(flows) == sum(led.counts.values())
    assert led.counts["re_export"] == int((flows["flow"] == "RX").sum())
    assert led.counts["subnational"] == int((flows["region"] != "").sum())
    national = (flows["region"] == "") & (flows["partner"] != "WLD") & flows["flow"].isin(["X", "M"])
    assert led.counts["estimated"] == int((flows["estimated"] & national).sum())
    # every estimated import leaves its exporter's report one-sided, listed as such
    one = res.tables["one_sided"]
    assert (one["counterpart"] == "estimated").sum() == led.counts["estimated"]
    assert led.counts["paired"] == 2 * len(res.tables["mirror_gaps"])
    g = res.tables["mirror_gaps"]
    assert np.isfinite(g["log_gap"]).all()


def test_hub_reexport_gaps_are_structural_from_the_first_months(panel):
    # the panel's first three months: no history yet. Hong Kong's and Singapore's exports to China (re-exports of
    # Chinese goods that China books under their origin) are entrepôt effects at the pair and at every product
    first = ["2017-01", "2017-02", "2017-03"]
    f = mirror.run(panel[0].flows, periods=first).findings
    hub = f[f["subject"].str.match(r"^(?:HKG|SGP)>CHN")]
    assert len(hub) >= 100 and hub["subject"].str.contains(":").sum() >= 100  # products, not only totals
    assert set(hub["signal"]) == {"mirror.entrepot"}, hub.loc[hub["signal"] != "mirror.entrepot", "signal"].unique()
    assert hub["detail"].str.contains("entrepôt effect").all()
    # and the ranking lists them as structure, never as fraud
    from tradeanomaly import ranking

    flags = ranking.rank(f, None)
    ranked = flags.loc[flags["rank"].notna()]
    assert not ranked["subject"].str.match(r"^(?:HKG|SGP)>CHN").any()
    st = flags.loc[flags["label"] == "structural"]
    assert st["subject"].str.match(r"^HKG>CHN").any()
