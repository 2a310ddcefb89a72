"""A realistic synthetic trade panel with planted anomalies and their truth labels (the embedded default).

:func:`generate` makes a monthly panel of 40 economies (gravity-sized: GDP, distance, openness, trade blocs),
reported from both sides: the exporter's ``X`` at FOB, the importer's ``M`` at CIF = FOB * (1 + tau), where the
freight-and-insurance margin tau grows with distance from 2 % to 12 %, each side with a few percent of lognormal
reporting noise. Flows grow at a pair-specific rate, dip at the Chinese New Year (flows of China and Hong Kong)
and follow a mild seasonal cycle elsewhere; 2020 has a common shock. Pairs among China, the hubs (HKG, SGP, VNM,
MEX, MYS, THA), the USA and the EU members present (DEU, NLD, FRA, ITA), and every pair involving China, have
up to 24 HS chapters with quantities in kg (unit values by exporter and chapter; a pair's small chapters are left
out, as intermittent flows are in published data); their chapter rows sum exactly to the ``TOTAL`` row of the
same reporter, partner, flow and month. Sizes: each exporter's total at its published order of size (2017), spread
over destinations by gravity (importer GDP, distance, openness, trade blocs), the largest pairs pinned (China's
exports to the USA about 36 bn USD a month in 2017). China's 31 provinces report monthly exports (reporter
``CHN``, region ``CN-xx``, partner ``WLD``, hs ``TOTAL``) that sum exactly to China's national ``X`` row to
``WLD`` (the world total also covers economies outside the panel, so it exceeds the sum of the bilateral rows).

Known structure that is not fraud:

* Hong Kong and Singapore are entrepôts. Their ``X`` rows are total exports (domestic exports plus re-exports,
  as both publish them); their ``RX`` rows (total and chapters) give the re-exported part. China records imports
  by country of origin, so Chinese-origin goods re-exported to China are booked as imports from China, not from
  the hub: ``HKG>CHN`` and ``SGP>CHN`` carry a persistent gap (negative control ``hub_reexport_gap``).
* Publisher estimates: two small economies stop reporting imports from a month between a third and half of the
  span to its end, and the publisher fills the gap from the partners' exports (X * 1.10 * a distortion of at
  least 25 % either way, fixed per pair); those rows have ``estimated=True`` (negative control
  ``publisher_estimate``).

Planted anomalies (counts per seed; the subjects are drawn afresh for every seed from plausible candidates):

=========================  =====  ==============================================================================
kind                       count  what is planted
=========================  =====  ==============================================================================
invoice_export_pair        3      exporter's ``X`` (value and kg) inflated 1.8-2.3x in HS 71 or 85 for 6-12
                                  months; the importer's ``M`` is untouched
invoice_export_province    3      an inland province's exports flat and round (two significant digits), with
                                  spikes in January, April, July and October, for 12-24 months
transshipment              3      from a tariff date (2018-07-06 or 2019-09-01) on, 25-45 % of CHN->USA in one
                                  chapter goes CHN->hub->USA (hub VNM, MYS, THA or MEX): USA's imports from CHN
                                  fall, the hub's imports from CHN and exports to USA rise by the same kg, so the
                                  added goods carry China's unit value (+5 %); ramp over 4 months, to the end
export_rush                3      CHN->USA (or USA->CHN before China's retaliation) shipments in a chapter surge
                                  1.5-2.2x in the 1-3 months before a tariff date and fall to 0.55-0.75x for 2-4
                                  months after (both sides report it); the period covers surge and fall
unit_value_mispricing      3      one side's value of one chapter multiplied by 2.5-4 or divided by 2.5-4 for 3-6
                                  months, quantity unchanged
fabricated_digits          2      every chapter-level export figure one reporter publishes (all partners) replaced
                                  for 24-36 months by made-up numbers (uniform mantissas, or people's favourite
                                  first digits; 3 significant digits) of the same order of magnitude; the
                                  reporter is kept clear of the other plants; its import figures are genuine
hub_reexport_gap           2      negative control: HKG>CHN and SGP>CHN (see above), the whole span
publisher_estimate         2x39   negative control: one row per (exporter, estimating importer) pair
=========================  =====  ==============================================================================

Truth convention (``truth.csv``; the evaluation matches flags to it by these keys and period overlap):

* ``reporter`` and ``partner`` give the direction of the goods, like a finding's subject ``reporter>partner``:
  ``reporter`` is the exporting economy, ``partner`` the importing one, whichever side's figure carries the
  anomaly (``note`` says which side). For ``transshipment`` ``reporter`` is the origin (CHN), ``partner`` the
  destination and ``hub`` the economy the goods pass through. Province rows: ``reporter`` CHN, ``region`` the ISO
  3166-2 code, ``partner`` empty (the flows' partner is WLD). ``fabricated_digits`` concerns a reporter as a whole:
  ``partner`` is empty.
* A key left empty places no constraint on a matching flag, so every row sets the keys that identify its subject
  (:data:`TRUTH_KEYS`).
* ``hs`` is the two-digit chapter ("85") or empty when the anomaly is not tied to one chapter.
* ``period_start``/``period_end`` are inclusive ``YYYY-MM``; ``usd`` is the planted amount in US dollars (the
  excess, the rerouted value, the mispriced difference, the fabricated difference, or for negative controls the
  structural gap).

The same seed gives byte-identical files; other seeds plant the same kinds and counts on other subjects. The
default (72 months from 2017-01, about 700,000 rows, 8 MB gzipped) is generated in a few seconds.

The embedded default is seed 0: :func:`default_sample_path` and :func:`default_truth_path` find it (package data,
else the checkout's ``data/sample``, else a copy generated once into the user cache).

Layout (every name below is importable from here):

* :mod:`tradeanomaly.synth_world`: the truth vocabulary (``KINDS``, ``COUNTS``, ``TRUTH_COLUMNS``, ``TRUTH_KEYS``),
  the reference tables and the building blocks of the series (``cif_margins`` among them).
* :mod:`tradeanomaly.synth_plan`: the subjects and periods of the plants for a seed.
* :mod:`tradeanomaly.synth_files`: ``SynthPanel`` and the CSV, gzip and truth-file readers and writers.
* here: :func:`generate` (the panel from the plan), :data:`EVALUATION_COUNTS` and the embedded default.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import ConfigError
from .schema import FLOW_COLUMNS, coerce_flows
# the world, the plan and the files live in their own modules; every name stays importable from here
from .synth_files import (
    SynthPanel,
    flows_csv_bytes,
    gzip_bytes,
    read_truth,
    truth_csv_bytes,
    _write_bytes,
)
from .synth_plan import (
    _Plan,
    _draw_plan,
    _is_detail,
)
from .synth_world import (
    CHAPTERS,
    COUNTS,
    DETAIL_ECONOMIES,
    ENTREPOTS,
    EU_MEMBERS,
    HUBS,
    ISO3,
    KINDS,
    MIN_CHAPTER_USD,
    NEGATIVE_CONTROLS,
    PROVINCES,
    SOURCE,
    TARIFF_EVENTS,
    TRANSSHIPMENT_EVENTS,
    TRANSSHIPMENT_HUBS,
    TRUTH_COLUMNS,
    TRUTH_KEYS,
    cif_margins,
    _BLOCS,
    _CHAPTERS,
    _CNY,
    _ECONOMIES,
    _ESTIMATE_CANDIDATES,
    _FABRICATION_CANDIDATES,
    _FAVOURITE_DIGITS,
    _INLAND_CANDIDATES,
    _INVOICE_PAIRS,
    _PINNED,
    _PROVINCES,
    _RUSH_CHAPTERS,
    _SPECIALTIES,
    _TRANSSHIP_CHAPTERS,
    _ar1,
    _common_shock,
    _event_month,
    _haversine,
    _margin_matrix,
    _month_index,
    _round_sig,
    _seasonality,
)



#: the counts the quality evaluation plants (more than the sample's, so that a top 20 of one case per cause can be
#: all planted anomalies: 23 instances of the six kinds)
EVALUATION_COUNTS = {"invoice_export_pair": 4, "invoice_export_province": 4, "transshipment": 4, "export_rush": 4,
                     "unit_value_mispricing": 4, "fabricated_digits": 3}


def generate(seed: int = 0, start: str = "2017-01", months: int = 72, counts: dict | None = None) -> SynthPanel:
    """Generate the panel and its truth labels (see the module docstring); ``counts`` overrides planted instances
    per kind (:data:`COUNTS`)."""
    labels, years, mons = _month_index(start, months)
    T = len(labels)
    n = len(ISO3)
    idx = {c: k for k, c in enumerate(ISO3)}
    rng_plan, rng = (np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(2))
    unknown = set(counts or {}) - set(COUNTS)
    if unknown:
        raise ConfigError(f"synth: unknown kind(s) {sorted(unknown)} in counts; known: {', '.join(COUNTS)}")
    plan = _draw_plan(rng_plan, labels, T, counts)

    # -- gravity base ------------------------------------------------------------------------------------------
    gdp = np.array([e[1] for e in _ECONOMIES], dtype=float)
    lat = np.array([e[2] for e in _ECONOMIES])
    lon = np.array([e[3] for e in _ECONOMIES])
    exports = np.array([e[4] for e in _ECONOMIES]) * 1e9
    om = np.array([e[5] for e in _ECONOMIES])
    dist = np.maximum(_haversine(lat, lon), 3000.0)  # neighbours do not trade without bound
    bloc = np.ones((n, n))
    for members in _BLOCS:
        m = np.array([c in members for c in ISO3])
        bloc[np.ix_(m, m)] *= 2.0
    # destinations by gravity; each exporter's sum to the panel is ~75 % of its exports (the rest of the world
    # is outside the panel); the largest pairs are pinned to their published order of size
    grav = (gdp[None, :] ** 0.85) * om[None, :] * bloc / dist ** 0.7 * np.exp(rng.normal(0, 0.3, size=(n, n)))
    np.fill_diagonal(grav, 0.0)
    pinned = np.zeros((n, n), dtype=bool)
    target = np.zeros((n, n))
    for (e, i), v in _PINNED.items():
        pinned[idx[e], idx[i]] = True
        target[idx[e], idx[i]] = v * 1e9
    free = np.where(pinned, 0.0, grav)
    rest = np.maximum(0.75 * exports - target.sum(axis=1), 0.2 * exports)
    grav = np.where(pinned, target, free / free.sum(axis=1, keepdims=True) * rest[:, None])
    _, tau = _margin_matrix()

    ex_i, im_i = np.nonzero(~np.eye(n, dtype=bool))  # ordered pairs, exporter-major
    P = len(ex_i)
    growth = rng.normal(0.05, 0.04, size=P)
    tt = np.arange(T) / 12.0
    season = _seasonality(years, mons, n)
    shock = _common_shock(labels, n)
    seas_pair = np.sqrt(season[ex_i] * season[im_i])
    S = (grav[ex_i, im_i][:, None] * np.exp(growth[:, None] * tt[None, :]) * seas_pair * shock[ex_i]
         * np.exp(_ar1(rng, (P, T), 0.6, 0.05)))  # true FOB shipments

    # -- chapter detail ----------------------------------------------------------------------------------------
    detail = np.array([_is_detail(ISO3[a], ISO3[b]) for a, b in zip(ex_i, im_i)])
    hp = np.flatnonzero(detail)  # pair index of each detailed pair
    H, C = len(hp), len(CHAPTERS)
    pair_pos = {(ISO3[ex_i[p]], ISO3[im_i[p]]): p for p in range(P)}
    hpos = {(ISO3[ex_i[p]], ISO3[im_i[p]]): h for h, p in enumerate(hp)}
    cpos = {c: k for k, c in enumerate(CHAPTERS)}
    w = np.array([c[1] for c in _CHAPTERS])
    ca = np.exp(rng.normal(0, 0.8, size=(n, C)))
    for e, spec in _SPECIALTIES.items():
        for c, f in spec.items():
            if c in cpos:
                ca[idx[e], cpos[c]] *= f
    share0 = w[None, :] * ca[ex_i[hp]] * np.exp(rng.normal(0, 0.4, size=(H, C)))
    share0 /= share0.sum(axis=1, keepdims=True)
    # small pair-chapter flows are intermittent in published data; leave them out (structural zeros)
    # (a soft threshold, so that the size distribution keeps a smooth lower tail and natural first digits)
    cutoff = MIN_CHAPTER_USD * np.exp(rng.normal(0, 1.0, size=(H, C)))
    present = (share0 >= 0.002) & (share0 * S[hp].mean(axis=1, keepdims=True) >= cutoff)
    present[np.arange(H), share0.argmax(axis=1)] = True
    forced = [(d["exporter"], d["importer"], d["hs"], 0.08) for d in plan.invoice]
    forced += [(d["exporter"], d["importer"], d["hs"], 0.05) for d in plan.mispricing + plan.rush]
    for t in plan.transship:
        forced += [("CHN", "USA", t["hs"], 0.05), ("CHN", t["hub"], t["hs"], 0.02), (t["hub"], "USA", t["hs"], 0.02)]
    for e, i, c, floor in forced:
        h, k = hpos[(e, i)], cpos[c]
        share0[h, k] = max(share0[h, k], floor)
        present[h, k] = True
    share0 = np.where(present, share0, 0.0)
    share0 /= share0.sum(axis=1, keepdims=True)
    drift = np.cumsum(rng.normal(0, 0.015, size=(H, C, T)), axis=2)
    share = share0[:, :, None] * np.exp(drift)
    share /= share.sum(axis=1, keepdims=True)
    V = S[hp][:, None, :] * share * np.exp(rng.normal(0, 0.06, size=(H, C, T)))
    uv_c = np.array([c[2] for c in _CHAPTERS])
    uv = uv_c[None, :, None] * np.exp(rng.normal(0, 0.3, size=(n, C)))[:, :, None] * (1.02 ** tt)[None, None, :]
    Q = V / uv[ex_i[hp]]

    truth: list[dict] = []

    # -- plants on the shipments themselves (both sides see them) ------------------------------------------------
    for t in plan.transship:
        k = cpos[t["hs"]]
        a, b, c = hpos[("CHN", "USA")], hpos[("CHN", t["hub"])], hpos[(t["hub"], "USA")]
        t0 = t["t0"]
        ramp = np.clip((np.arange(T) - t0 + 1) / 4.0, 0, 1)
        moved = V[a, k] * t["share"] * ramp
        moved_q = Q[a, k] * t["share"] * ramp
        V[a, k] -= moved
        Q[a, k] -= moved_q
        V[b, k] += moved
        Q[b, k] += moved_q
        V[c, k] += moved * 1.05  # the hub's small margin
        Q[c, k] += moved_q
        truth.append(dict(kind="transshipment", reporter="CHN", partner="USA", hub=t["hub"], hs=t["hs"],
                          period_start=labels[t0], period_end=labels[-1], usd=float(moved.sum()),
                          note=f"from {t['event']} {t['share']:.0%} of China's exports to the USA in chapter "
                               f"{t['hs']} go through {t['hub']} (ramp over 4 months); hub adds 5 %"))
    for r in plan.rush:
        h, k = hpos[(r["exporter"], r["importer"])], cpos[r["hs"]]
        t0 = r["t0"]
        f = np.ones(T)
        f[t0 - r["before"]:t0] = r["surge"]
        f[t0:t0 + r["after"]] = r["drop"]
        excess = V[h, k] * (np.maximum(f, 1) - 1)
        V[h, k] *= f
        Q[h, k] *= f
        truth.append(dict(kind="export_rush", reporter=r["exporter"], partner=r["importer"], hub="", hs=r["hs"],
                          period_start=labels[t0 - r["before"]], period_end=labels[t0 + r["after"] - 1],
                          usd=float(excess.sum()),
                          note=f"{r['before']} month(s) at {r['surge']:.2f}x before {r['event']} ({r['measure']}),"
                               f" then {r['after']} month(s) at {r['drop']:.2f}x"))

    # -- what each side reports ----------------------------------------------------------------------------------
    tau_p = tau[ex_i, im_i]
    XH = V * np.exp(rng.normal(0, 0.025, size=V.shape))
    MH = V * (1 + tau_p[hp])[:, None, None] * np.exp(rng.normal(0, 0.025, size=V.shape))
    QX = Q * np.exp(rng.normal(0, 0.02, size=Q.shape))
    QM = Q * np.exp(rng.normal(0, 0.02, size=Q.shape))
    XT = S * np.exp(rng.normal(0, 0.025, size=S.shape))
    MT = S * (1 + tau_p)[:, None] * np.exp(rng.normal(0, 0.025, size=S.shape))

    # entrepôts: China books Chinese-origin goods re-exported to it as imports from China
    rx_noise = {}
    for hub, (rx_share, cn_share) in ENTREPOTS.items():
        rows = np.flatnonzero(ex_i == idx[hub])
        hrows = np.array([hpos[(hub, ISO3[im_i[p]])] for p in rows if detail[p]])
        rx_noise[hub] = (rows, hrows, rx_share * np.exp(rng.normal(0, 0.02, size=(len(rows), T))),
                         rx_share * np.exp(rng.normal(0, 0.02, size=(len(hrows), C, T))))
        p = pair_pos[(hub, "CHN")]
        cut = 1 - rx_share * cn_share
        MT[p] *= cut
        MH[hpos[(hub, "CHN")]] *= cut
        gap = XH[hpos[(hub, "CHN")]].sum() * (1 + tau_p[p]) - MH[hpos[(hub, "CHN")]].sum()
        truth.append(dict(kind="hub_reexport_gap", reporter=hub, partner="CHN", hub="", hs="",
                          period_start=labels[0], period_end=labels[-1], usd=float(gap), negative_control=True,
                          note=f"{hub}'s exports include {rx_share:.0%} re-exports; {cn_share:.0%} of those sent to "
                               f"China are of Chinese origin and China books them as imports from China"))

    # -- plants on one side's report -----------------------------------------------------------------------------
    for d in plan.invoice:
        h, k = hpos[(d["exporter"], d["importer"])], cpos[d["hs"]]
        sl = slice(d["t1"], d["t2"] + 1)
        excess = XH[h, k, sl] * (d["factor"] - 1)
        XH[h, k, sl] *= d["factor"]
        QX[h, k, sl] *= d["factor"]
        truth.append(dict(kind="invoice_export_pair", reporter=d["exporter"], partner=d["importer"], hub="",
                          hs=d["hs"], period_start=labels[d["t1"]], period_end=labels[d["t2"]],
                          usd=float(excess.sum()),
                          note=f"exporter-reported value and kg of chapter {d['hs']} x{d['factor']:.2f}; "
                               f"importer's report untouched"))
    for d in plan.mispricing:
        h, k = hpos[(d["exporter"], d["importer"])], cpos[d["hs"]]
        sl = slice(d["t1"], d["t2"] + 1)
        arr = XH if d["side"] == "X" else MH
        before = arr[h, k, sl].copy()
        arr[h, k, sl] *= d["factor"]
        who = d["exporter"] if d["side"] == "X" else d["importer"]
        truth.append(dict(kind="unit_value_mispricing", reporter=d["exporter"], partner=d["importer"], hub="",
                          hs=d["hs"], period_start=labels[d["t1"]], period_end=labels[d["t2"]],
                          usd=float(np.abs(arr[h, k, sl] - before).sum()),
                          note=f"{'exporter' if d['side'] == 'X' else 'importer'} ({who}) reports chapter "
                               f"{d['hs']} at {d['factor']:.2f}x its value, same kg ({d['side']} side only)"))
    for d in plan.fabricated:
        k = idx[d["reporter"]]
        sl = slice(d["t1"], d["t2"] + 1)
        usd = 0.0
        for arr, rows in ((XH, np.flatnonzero(ex_i[hp] == k)),):
            orig = arr[rows, :, sl]
            if d["style"] == "uniform":
                mant = rng.uniform(1.0, 10.0, size=orig.shape)
            else:
                first = rng.choice(np.arange(1, 10), p=_FAVOURITE_DIGITS / _FAVOURITE_DIGITS.sum(), size=orig.shape)
                mant = first + rng.uniform(0, 1, size=orig.shape)
            # the power of ten that keeps each made-up figure nearest the true one
            expo = np.round(np.log10(np.maximum(orig, 1.0)) - np.log10(mant))
            fake = np.where(present[rows][:, :, None], _round_sig(mant * 10.0 ** expo, 3), 0.0)
            usd += float(np.abs(fake - orig).sum())
            arr[rows, :, sl] = fake
        truth.append(dict(kind="fabricated_digits", reporter=d["reporter"], partner="", hub="", hs="",
                          period_start=labels[d["t1"]], period_end=labels[d["t2"]], usd=usd,
                          note=f"all chapter-level exports {d['reporter']} reports (every partner) replaced by "
                               f"made-up 3-significant-digit numbers "
                               f"({'uniform mantissas' if d['style'] == 'uniform' else 'favourite first digits'})"))

    # -- whole dollars and kilograms; totals are the sums of the chapter rows ---------------------------------------
    XH = np.where(present[:, :, None], np.rint(XH), 0.0)
    MH = np.where(present[:, :, None], np.rint(MH), 0.0)
    QX = np.where(present[:, :, None], np.maximum(np.rint(QX), 1.0), np.nan)
    QM = np.where(present[:, :, None], np.maximum(np.rint(QM), 1.0), np.nan)
    XT = np.rint(XT)
    MT = np.rint(MT)

    # -- publisher estimates: imports filled in from the partners' exports ----------------------------------------
    est_t = np.zeros((P, T), dtype=bool)
    for j, eco in enumerate(plan.estimates):
        t1 = int(rng.integers(T // 3, T // 2))
        rows = np.flatnonzero(im_i == idx[eco])
        logf = rng.normal(0, 0.45, size=len(rows))
        logf = np.sign(logf) * np.maximum(np.abs(logf), 0.25)  # a large distortion, never close to 1
        factor = 1.10 * np.exp(logf)
        for p, f in zip(rows, factor):
            if detail[p]:
                h = hpos[(ISO3[ex_i[p]], eco)]
                before = MH[h, :, t1:].sum(axis=0)
                MH[h, :, t1:] = np.rint(XH[h, :, t1:] * f)
                QM[h, :, t1:] = QX[h, :, t1:]
                after = MH[h, :, t1:].sum(axis=0)
            else:
                before = MT[p, t1:].copy()
                MT[p, t1:] = np.rint(XT[p, t1:] * f)
                after = MT[p, t1:]
            est_t[p, t1:] = True
            truth.append(dict(kind="publisher_estimate", reporter=ISO3[ex_i[p]], partner=eco, hub="", hs="",
                              period_start=labels[t1], period_end=labels[-1],
                              usd=float(np.abs(after - before).sum()), negative_control=True,
                              note=f"{eco}'s imports from {ISO3[ex_i[p]]} estimated by the publisher from the "
                                   f"exporter's figure x{f:.2f}"))
    XT[hp] = XH.sum(axis=1)
    MT[hp] = MH.sum(axis=1)
    # re-exports: a part of the hub's exports, chapter rows summing to the total like every other flow
    rx_t, rx_h = {}, {}
    for hub, (rows, hrows, f_t, f_h) in rx_noise.items():
        vals_h = np.minimum(np.rint(XH[hrows] * f_h), XH[hrows])
        vals_t = np.minimum(np.rint(XT[rows] * f_t), XT[rows])
        vals_t[detail[rows]] = vals_h.sum(axis=1)
        rx_t[hub], rx_h[hub] = vals_t, (hrows, vals_h)

    # -- provinces ----------------------------------------------------------------------------------------------
    china_x = XT[ex_i == idx["CHN"]].sum(axis=0) * 1.3  # the rest of the world adds ~30 %
    pshare0 = np.array([p[1] for p in _PROVINCES])
    npv = len(PROVINCES)
    plog = (rng.normal(0.0, 0.04, size=npv)[:, None] * tt[None, :] + _ar1(rng, (npv, T), 0.5, 0.06))
    psh = pshare0[:, None] * np.exp(plog)
    psh /= psh.sum(axis=0, keepdims=True)
    PV = np.rint(china_x[None, :] * psh)
    for d in plan.province:
        r = PROVINCES.index(d["region"])
        sl = np.arange(d["t1"], d["t2"] + 1)
        base = PV[r, sl].copy()
        level = PV[r, max(d["t1"] - 12, 0):d["t1"]].mean() * d["level"]
        newv = np.where(np.isin(mons[sl], (1, 4, 7, 10)), level * d["spike"][sl], level)
        newv = _round_sig(newv, 2)
        PV[r, sl] = newv
        truth.append(dict(kind="invoice_export_province", reporter="CHN", partner="", hub="",
                          region=d["region"], hs="", period_start=labels[d["t1"]], period_end=labels[d["t2"]],
                          usd=float((newv - base).clip(min=0).sum()),
                          note="flat round monthly exports (2 significant digits) with spikes in Jan/Apr/Jul/Oct, "
                               "decoupled from national growth"))
    china_wld = PV.sum(axis=0)

    flows = _assemble(labels, ex_i, im_i, hp, present, XT, MT, XH, MH, QX, QM, est_t, rx_t, rx_h, PV, china_wld)
    return SynthPanel(flows=flows, truth=_truth_frame(truth), seed=int(seed), start=labels[0], months=T)


def _truth_frame(records: list[dict]) -> pd.DataFrame:
    order = {k: i for i, k in enumerate(KINDS + NEGATIVE_CONTROLS)}
    df = pd.DataFrame(records)
    for c in TRUTH_COLUMNS:
        if c not in df:
            df[c] = ""
    df["negative_control"] = df["negative_control"].fillna(False).astype(bool)
    for c in ("reporter", "partner", "hub", "region", "hs", "note"):
        df[c] = df[c].fillna("").astype(str)
    df["usd"] = df["usd"].astype(float).round(0)
    df["_k"] = df["kind"].map(order)
    df = df.sort_values(["_k", "reporter", "partner", "hub", "region", "hs", "period_start"], kind="stable")
    df = df.reset_index(drop=True)
    counters: dict[str, int] = {}
    ids = []
    for k in df["kind"]:
        counters[k] = counters.get(k, 0) + 1
        ids.append(f"{k}-{counters[k]:02d}")
    df["anomaly_id"] = ids
    return df.loc[:, list(TRUTH_COLUMNS)]


def _assemble(labels, ex_i, im_i, hp, present, XT, MT, XH, MH, QX, QM, est_t, rx_t, rx_h, PV, china_wld):
    """Long flows table, sorted by reporter, region, partner, flow, hs, period (integer keys, then labels)."""
    T = len(labels)
    n = len(ISO3)
    codes = np.array(list(ISO3) + ["WLD"], dtype=object)
    hs_codes = np.array(list(CHAPTERS) + ["TOTAL"], dtype=object)
    regions = np.array([""] + list(PROVINCES), dtype=object)
    flow_codes = np.array(["X", "M", "RX"], dtype=object)
    tidx = np.arange(T)
    blocks = []

    def block(rep, reg, par, flw, hs, t, value, qty, est):
        blocks.append(dict(rep=rep, reg=reg, par=par, flw=flw, hs=hs, t=t, value=value, qty=qty, est=est))

    P = len(ex_i)
    TOT = len(CHAPTERS)
    rep = np.repeat(ex_i, T)
    par = np.repeat(im_i, T)
    tt = np.tile(tidx, P)
    block(rep, 0, par, 0, TOT, tt, XT.ravel(), np.full(P * T, np.nan), np.zeros(P * T, bool))
    block(par, 0, rep, 1, TOT, tt, MT.ravel(), np.full(P * T, np.nan), est_t.ravel())
    # chapter rows (present chapters only)
    h_idx, c_idx = np.nonzero(present)
    m = len(h_idx)
    hh = np.repeat(h_idx, T)
    cc = np.repeat(c_idx, T)
    t3 = np.tile(tidx, m)
    pe, pi = ex_i[hp][hh], im_i[hp][hh]
    block(pe, 0, pi, 0, cc, t3, XH[hh, cc, t3], QX[hh, cc, t3], np.zeros(m * T, bool))
    block(pi, 0, pe, 1, cc, t3, MH[hh, cc, t3], QM[hh, cc, t3], est_t[hp][hh, t3])
    # re-exports of the entrepôts
    for hub, arr in rx_t.items():
        k = ISO3.index(hub)
        rows = np.flatnonzero(ex_i == k)
        block(np.full(len(rows) * T, k), 0, np.repeat(im_i[rows], T), 2, TOT, np.tile(tidx, len(rows)),
              arr.ravel(), np.full(len(rows) * T, np.nan), np.zeros(len(rows) * T, bool))
        hrows, rxv = rx_h[hub]
        hh2, cc2 = np.nonzero(present[hrows])
        mm = len(hh2)
        hh2r, cc2r, t4 = np.repeat(hh2, T), np.repeat(cc2, T), np.tile(tidx, mm)
        vals = rxv[hh2r, cc2r, t4]
        qfac = vals / np.maximum(XH[hrows][hh2r, cc2r, t4], 1.0)
        block(np.full(mm * T, k), 0, im_i[hp][hrows][hh2r], 2, cc2r, t4, vals,
              np.maximum(np.rint(QX[hrows][hh2r, cc2r, t4] * qfac), 1.0), np.zeros(mm * T, bool))
    # provinces and China's exports to the world
    npv = len(PROVINCES)
    chn = ISO3.index("CHN")
    block(np.full(npv * T, chn), np.repeat(np.arange(1, npv + 1), T), np.full(npv * T, n), 0, TOT,
          np.tile(tidx, npv), PV.ravel(), np.full(npv * T, np.nan), np.zeros(npv * T, bool))
    block(np.full(T, chn), 0, np.full(T, n), 0, TOT, tidx, china_wld, np.full(T, np.nan), np.zeros(T, bool))

    cols = {}
    for key in ("rep", "reg", "par", "flw", "hs", "t", "value", "qty", "est"):
        parts = []
        for b in blocks:
            v = b[key]
            size = len(b["t"])
            parts.append(np.full(size, v) if np.ndim(v) == 0 else np.asarray(v))
        cols[key] = np.concatenate(parts)
    # TOTAL sorts after the chapters; periods last so every series is contiguous
    order = np.lexsort((cols["t"], cols["hs"], cols["flw"], cols["par"], cols["reg"], cols["rep"]))
    c = {k: v[order] for k, v in cols.items()}
    flw = c["flw"]
    qty = c["qty"].astype(float)
    df = pd.DataFrame({
        "period": np.array(labels, dtype=object)[c["t"]],
        "reporter": codes[c["rep"]],
        "region": regions[c["reg"]],
        "partner": codes[c["par"]],
        "flow": flow_codes[flw],
        "hs": hs_codes[c["hs"]],
        "value_usd": c["value"].astype(float),
        "valuation": np.where(flw == 1, "CIF", "FOB"),
        "quantity": qty,
        "quantity_unit": np.where(np.isnan(qty), "", "kg"),
        "estimated": c["est"].astype(bool),
        "source": SOURCE,
    })
    return coerce_flows(df)


# --------------------------------------------------------------------------------------------------------------
# The embedded default
# --------------------------------------------------------------------------------------------------------------

DEFAULT_SEED = 0
_PACKAGE_DATA = Path(__file__).resolve().parent / "data"


def _cache_dir() -> Path:
    from . import __version__

    root = os.environ.get("TRADEANOMALY_CACHE") or os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "tradeanomaly" / f"sample-{__version__}-seed{DEFAULT_SEED}"


def _checkout_root() -> Path | None:
    """The source checkout this module runs from (editable install), if any."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() and (root / "src" / "tradeanomaly").is_dir() else None


def _default_files() -> tuple[Path, Path]:
    """The packaged sample, else the checkout's ``data/sample``, else a copy generated once into the cache."""
    candidates = [(_PACKAGE_DATA / "sample_flows.csv.gz", _PACKAGE_DATA / "sample_truth.csv")]
    checkout = _checkout_root()
    if checkout is not None:
        candidates.append((checkout / "data" / "sample" / "flows.csv.gz", checkout / "data" / "sample" / "truth.csv"))
    for flows, truth in candidates:
        if flows.is_file() and truth.is_file():
            return flows, truth
    cache = _cache_dir()
    flows, truth = cache / "flows.csv.gz", cache / "truth.csv"
    if not (flows.is_file() and truth.is_file()):
        generate(seed=DEFAULT_SEED).write(cache)
    return flows, truth


def default_sample_path() -> Path:
    """Path of the embedded sample's flows file (canonical CSV, seed 0, 2017-01..2022-12).

    Looked up in the package data (``tradeanomaly/data/sample_flows.csv.gz``), then in a source checkout's
    ``data/sample/``; an installed package without either generates it once (a few seconds) into the user cache
    (``$TRADEANOMALY_CACHE``, else ``$XDG_CACHE_HOME`` or ``~/.cache``, under ``tradeanomaly/``). All three are the
    same bytes: ``tradeanomaly synth --out data/sample --seed 0``.
    """
    return _default_files()[0]


def default_truth_path() -> Path:
    """Path of the embedded sample's ``truth.csv``."""
    return _default_files()[1]
