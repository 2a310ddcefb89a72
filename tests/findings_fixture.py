"""A realistic findings table built by hand, for the scoring and ranking tests (no checks needed).

Forty-five country pairs over twelve months with background findings from the mirror, series and unit-value
checks (half-normal scores, as a robust z of normal data would give, kept from 1.0 up as the checks keep findings
above their minimum score), reporter-level Benford findings for the year, and planted cases:

* ``CHN>HKG`` 2023-03..2023-06: a mirror gap of 7-9 robust SD, quarter-opening bunching, strongest in HS 71;
* ``KOR>USA`` 2023-09: four moderate signals at once (2.4-2.8), no single one beyond any usual threshold;
* ``CHN>VNM>USA:85`` 2023-05..2023-08: goods passing through Vietnam (pass-through, share shift, co-movement);
* ``CN-HA`` 2023-10: a level shift in Henan's exports, a round figure;
* ``VNM`` 2023: Benford failure of the reporter as a whole;
* structural: ``DEU>NLD`` 2023-02..2023-04 (entrepôt; its mirror gap is explained) and ``USA>MEX`` 2023-07
  (freight band).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tradeanomaly.schema import make_findings

REPORTERS = ["CHN", "USA", "DEU", "JPN", "KOR", "VNM"]
PARTNERS = ["HKG", "USA", "DEU", "JPN", "NLD", "MEX", "GBR", "FRA"]
MONTHS = [f"2023-{m:02d}" for m in range(1, 13)]


def _rec(check, signal, subject, score, period, reporter="", partner="", hub="", region="", hs="", value=np.nan,
         expected=np.nan, usd=np.nan, detail=""):
    return dict(check=check, signal=signal, subject=subject, reporter=reporter, partner=partner, hub=hub,
                region=region, hs=hs, period=period, score=float(score), value=value, expected=expected,
                usd_at_stake=usd, detail=detail)


def make_findings_fixture(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    recs = []
    pairs = [(r, p) for r in REPORTERS for p in PARTNERS if r != p]
    for r, p in pairs:
        subj = f"{r}>{p}"
        for m in MONTHS:
            z = abs(rng.normal())
            gap = rng.normal(0, 0.05)
            recs.append(_rec("mirror", "mirror.log_gap_z", subj, z, m, r, p, value=gap, expected=0.0,
                             usd=abs(gap) * 1e9, detail=f"{r} and {p} reports differ by {gap:.1%}"))
            recs.append(_rec("series", "series.own_history", subj, abs(rng.normal()), m, r, p,
                             detail=f"{r} exports to {p} grow within their history"))
            if rng.random() < 0.5:
                recs.append(_rec("unit_value", "unit_value.outlier", subj + ":85", abs(rng.normal()), m, r, p,
                                 hs="85", detail="unit value of HS 85 within norms"))
    for r in REPORTERS:
        recs.append(_rec("benford", "benford.first_two_digits", r, abs(rng.normal()) * 0.8, "2023", r,
                         value=0.004, expected=0.006, detail=f"{r}'s digits conform to Benford"))

    def set_score(subject, period, signal, score, **kw):
        for rec in recs:
            if rec["subject"] == subject and rec["period"] == period and rec["signal"] == signal:
                rec["score"] = score
                rec.update(kw)
                return
        raise KeyError((subject, period, signal))

    # planted: invoice exports China -> Hong Kong
    for i, m in enumerate(["2023-03", "2023-04", "2023-05", "2023-06"]):
        s = 7.0 + 0.5 * i
        set_score("CHN>HKG", m, "mirror.log_gap_z", s, value=0.45, expected=0.02, usd_at_stake=3.2e10,
                  detail=f"China reports 38.4 bn USD of exports to Hong Kong; Hong Kong reports 24.8 bn of imports "
                         f"from China, a gap {s:.1f} robust SD above the pair's norm")
        recs.append(_rec("mirror", "mirror.log_gap_z", "CHN>HKG:71", s - 1.0, m, "CHN", "HKG", hs="71",
                         usd=2.1e10, detail="gold and jewellery exports to Hong Kong exceed Hong Kong's imports"))
        recs.append(_rec("invoice_export", "invoice_export.quarter_opening", "CHN>HKG", 4.0, m, "CHN", "HKG",
                         value=0.55, expected=0.33, detail="exports to Hong Kong bunch in quarter-opening months"))
    # planted: many moderate signals at once
    set_score("KOR>USA", "2023-09", "mirror.log_gap_z", 2.6, value=0.12, expected=0.0, usd_at_stake=4e8)
    set_score("KOR>USA", "2023-09", "series.own_history", 2.5)
    set_score("KOR>USA:85", "2023-09", "unit_value.outlier", 2.4) if any(
        r["subject"] == "KOR>USA:85" and r["period"] == "2023-09" for r in recs) else recs.append(
        _rec("unit_value", "unit_value.outlier", "KOR>USA:85", 2.4, "2023-09", "KOR", "USA", hs="85"))
    recs.append(_rec("invoice_export", "invoice_export.round_numbers", "KOR>USA", 2.8, "2023-09", "KOR", "USA",
                     value=0.31, expected=0.1, detail="31% of Korea's figures to the US are round numbers"))
    # planted: rerouting through Vietnam
    for m in ["2023-05", "2023-06", "2023-07", "2023-08"]:
        recs.append(_rec("entrepot", "entrepot.pass_through", "CHN>VNM>USA:85", 6.0, m, "CHN", "USA", hub="VNM",
                         hs="85", value=0.8, expected=0.2, usd=1.5e9,
                         detail="Vietnam's exports of HS 85 to the US track its imports from China month by month"))
        recs.append(_rec("entrepot", "entrepot.share_shift", "CHN>VNM>USA:85", 4.0, m, "CHN", "USA", hub="VNM",
                         hs="85", usd=1.5e9, detail="US imports of HS 85 shift from China to Vietnam"))
        recs.append(_rec("entrepot", "entrepot.comovement", "CHN>VNM>USA:85", 4.0, m, "CHN", "USA", hub="VNM",
                         hs="85", usd=1.5e9, detail="China's exports to Vietnam and Vietnam's to the US rise together"))
    # planted: provincial level shift
    recs.append(_rec("series", "series.level_shift", "CN-HA", 5.5, "2023-10", "CHN", region="CN-HA",
                     usd=6e9, detail="Henan's exports jump 48% in October against its own history"))
    recs.append(_rec("invoice_export", "invoice_export.round_numbers", "CN-HA", 4.5, "2023-10", "CHN",
                     region="CN-HA", value=0.9, expected=0.1,
                     detail="Henan's October figure is round to two significant digits, as are 9 of its last 10"))
    # planted: Benford failure of Vietnam as a whole
    for rec in recs:
        if rec["subject"] == "VNM" and rec["signal"] == "benford.first_two_digits":
            rec.update(score=5.0, value=0.021, expected=0.006,
                       detail="Vietnam's first-two digits deviate from Benford's law (MAD 0.021)")
    # structural: entrepôt explains DEU>NLD's gap; freight band explains USA>MEX
    for m in ["2023-02", "2023-03", "2023-04"]:
        set_score("DEU>NLD", m, "mirror.log_gap_z", 8.0, value=0.5, expected=0.0, usd_at_stake=9e9)
        recs.append(_rec("mirror", "mirror.entrepot", "DEU>NLD", 8.0, m, "DEU", "NLD", usd=9e9,
                         detail="the gap matches Dutch re-exports of German goods (Rotterdam)"))
    set_score("USA>MEX", "2023-07", "mirror.log_gap_z", 3.0)
    recs.append(_rec("mirror", "mirror.freight_band", "USA>MEX", 3.0, "2023-07", "USA", "MEX",
                     detail="the gap lies within the CIF/FOB freight band for land transport"))
    # the checks keep findings from their minimum score up; digit tests report every reporter
    recs = [r for r in recs if r["score"] >= 1.0 or r["check"] == "benford"]
    return make_findings(recs)
