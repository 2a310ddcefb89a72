"""Subject-periods -> episodes -> cases: one case per cause.

**Episodes.** Flagged periods of one subject form an episode; up to ``episode_gap(freq)`` unflagged periods are
bridged (a rerouting that shows in most months of two years is one episode, not five).

**Case keys.** A subject's case key is what it is about, whatever product or side it is seen from:

* a route ``O>H>D:hs`` -> ``R:O>H>*`` (goods passing from one origin through one hub, any product, any market);
* a pair, at any product level, seen from the exporter's or the importer's side -> ``P:exporter>importer``; a
  product (or the pair's total) whose strongest subject-period is led by a check that names a product-specific
  cause (``product_specific_checks``: a rush ahead of a tariff date) is keyed by that cause and its date in every
  period (``P:exporter>importer:*@date``), so the chapters one exporter rushed ahead of one date are one case and
  rushes ahead of two dates (two tariff lists) are two; a product of the pair whose strongest subject-period is a
  series break at that date (the fall after the surge) joins it, and so does the pair's total when its own rush
  is dated at most ``total_date_tolerance`` months from a product's (the total is their sum);
* a province -> ``G:CN-xx``; a reporter as a whole (its digits, its totals) -> ``C:ISO3`` or, for one side of its
  reports, ``C:ISO3:X`` / ``C:ISO3:M``. A test of both sides at once over the whole sample joins the reporter's
  strongest flagged side.

Episodes of one case key are grouped strongest first: an episode overlapping (within the episode gap) the window
of a stronger one joins it (or starts at most ``aftermath_months`` after it: the end of an anomaly reads as a
break the other way), and widens the window only when at least ``extend_share`` as strong and dated.

**Absorption** then joins groups that share a cause, in this order:

1. the legs of a flagged route (O -> H and H -> D, at the route's product or at all products) overlapping it in
   time join the route; a leg of a product route's product inside a pair's group led by another product joins
   the route on its own, and the pair keeps the rest;
2. a reporter whose digit test fails on its own (score at least ``digits_case_min_score``) in a window takes the
   pairs it reports on that side in that window, when at least ``reporter_case_min`` partners are concerned:
   invented figures show as mirror gaps and series breaks with every partner, and those are evidence, not cases;
3. a reporter whose pairs on one side are flagged (mirror or price evidence of at least ``breadth_evidence``)
   with at least ``reporter_case_min`` partners and ``reporter_case_share`` of its partners in the same periods,
   far more than other economies at that time, becomes one case about that side of its reports; a pair that
   qualifies for both of its economies goes to the side with more partners, and a pair whose evidence stands far
   above the other pairs' (``reporter_case_outlier_z``) stays its own case.

The members of each case stay inspectable (:func:`tradeanomaly.ranking.rank_cases` returns them).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..codes import GROUPS
from ..periods import frequencies, month_span, period_ordinal
from .evidence import is_product, orientation
from .params import RankingParams


def _with_order(sp: pd.DataFrame) -> pd.DataFrame:
    """Adds ``m0``/``m1``, the months a subject-period covers (from ``period_start`` when the finding measures a
    window), ``_freq`` and ``_ord``. A subject-period without a period (a test over the whole sample) covers every
    month of the run."""
    per = sp["period"].astype("str")
    start = sp["period_start"].astype("str") if "period_start" in sp else per
    start = start.where(start != "", per)
    has = per != ""
    sp = sp.copy()
    sp["_freq"] = np.where(has, frequencies(per.where(has, "2000")), "")
    sp["_ord"] = np.where(has, period_ordinal(per.where(has, "2000")), 0).astype(np.int64)
    m0, m1 = month_span(start, end=False), month_span(per, end=True)
    if has.any():
        lo, hi = int(m0[has.to_numpy()].min()), int(m1[has.to_numpy()].max())
    else:
        lo, hi = 0, 0
    sp["m0"] = np.where(has, m0, lo)
    sp["m1"] = np.where(has, m1, hi)
    return sp


def base_keys(sp: pd.DataFrame, params: RankingParams) -> pd.DataFrame:
    """Adds ``exporter``, ``importer``, ``shape`` (route/pair/region/reporter), ``product`` and ``key``."""
    subj = sp["subject"].astype("str")
    core = subj.str.replace(r"\[[^\]]*\]$", "", regex=True)
    arrows = core.str.count(">").to_numpy()
    region = (sp["region"].astype("str") != "").to_numpy()
    shape = np.where(arrows >= 2, "route", np.where(arrows == 1, "pair", np.where(region, "region", "reporter")))
    exp, imp = orientation(subj, sp["reporter"], sp["partner"])
    prod = is_product(sp["hs"])
    hs = sp["hs"].astype("str").to_numpy(dtype=object)
    key = np.empty(len(sp), dtype=object)
    r = shape == "route"
    if r.any():
        parts = core[r].str.split(">")
        origin, hub = parts.str[0].to_numpy(dtype=object), parts.str[1].to_numpy(dtype=object)
        # goods of any product passing through one hub from one origin, to any market: one rerouting
        key[r] = ["R:" + o + ">" + h + ">*" for o, h in zip(origin, hub)]
    p = shape == "pair"
    # a flow of the pair (a product or its total, from either side) whose strongest subject-period is led by a
    # product-specific finding (a rush) takes the key of that cause at that date in every period, so that the
    # surge and the series break it leaves stay one case, and the chapters rushed ahead of one date are one case;
    # a flow whose strongest evidence is of another kind (a mirror gap, a price) rolls up to its pair even when a
    # rush shows somewhere
    specific = sp["top_check"].astype("str").isin(list(params.product_specific_checks)).to_numpy()
    weight = sp["priority"] if "priority" in sp else sp["evidence"]
    flow = pd.Series([f"{a}>{b}:{x if pr else ''}" for a, b, x, pr in zip(exp, imp, hs, prod)], index=sp.index)
    strongest = (pd.DataFrame({"s": flow.to_numpy(), "w": weight.to_numpy(dtype=float), "x": specific,
                               "t": sp["period"].astype("str").to_numpy(),
                               "c": sp["top_check"].astype("str").to_numpy()})
                 .loc[shape == "pair"].sort_values(["s", "w"], ascending=[True, False], kind="mergesort")
                 .drop_duplicates("s"))
    own_at = strongest.loc[strongest["x"].to_numpy(dtype=bool)].set_index("s")["t"]
    own_at = _total_joins_product(own_at, strongest, params)
    # a product of the same pair whose strongest subject-period is a series break at the date of such a case is the
    # same front-loading seen as the fall after it (a rush ships several chapters ahead of one date)
    pair_of = strongest["s"].str.split(":").str[0]
    anchors = set(zip(pair_of[strongest["x"].to_numpy(dtype=bool)], own_at.to_numpy()))
    follow = (~strongest["x"].to_numpy(dtype=bool)) & (strongest["c"] == "series").to_numpy() & np.array(
        [(a, t) in anchors for a, t in zip(pair_of, strongest["t"])], dtype=bool)
    own_at = pd.concat([own_at, strongest.loc[follow].set_index("s")["t"]])
    at = flow.map(own_at)
    own = at.notna().to_numpy()
    key[p] = ["P:" + a + ">" + b + (f":*@{t}" if o else "") for a, b, o, t in
              zip(exp[p], imp[p], own[p], at.to_numpy(dtype=object)[p])]
    g = shape == "region"
    key[g] = ["G:" + x for x in sp.loc[g, "region"].astype("str")]
    c = shape == "reporter"
    side = subj.str.extract(r"\[([XM])\]$", expand=False).fillna("").to_numpy(dtype=object)
    key[c] = ["C:" + x + (":" + y if y else "") for x, y in zip(sp.loc[c, "reporter"].astype("str"), side[c])]
    # the subject's own key: its product too (episodes are runs of one subject; the case key rolls them up)
    subject_key = np.array([k + (":" + x if pr and not k.endswith(":" + x) else "") for k, x, pr in
                            zip(key, hs, prod)], dtype=object)
    out = sp.assign(exporter=exp, importer=imp, shape=shape, product=prod, key=key, subject_key=subject_key)
    return out


def _total_joins_product(own_at: pd.Series, strongest: pd.DataFrame, params: RankingParams) -> pd.Series:
    """``own_at`` (flow -> date of its product-specific cause) with the date of a pair's total (``A>B:``) replaced
    by that of the strongest of the pair's products dated at most ``total_date_tolerance`` months from it: the
    total is the sum of the products, and a rush of one chapter shows in it, a month off where the others move."""
    tol = int(params.total_date_tolerance)
    if tol <= 0 or len(own_at) < 2:
        return own_at
    flow = own_at.index.to_series()
    pair, hs = flow.str.split(":").str[0].to_numpy(), flow.str.split(":").str[1].fillna("").to_numpy()
    months = month_span(own_at.astype("str").reset_index(drop=True), end=False)
    w = strongest.set_index("s")["w"].reindex(own_at.index).to_numpy(dtype=float)
    out = own_at.to_numpy(dtype=object).copy()
    for i in np.flatnonzero(hs == ""):
        cand = np.flatnonzero((pair == pair[i]) & (hs != "") & (np.abs(months - months[i]) <= tol))
        if len(cand):
            j = cand[np.lexsort((flow.to_numpy()[cand], -w[cand]))[0]]
            out[i] = out[j]
    return pd.Series(out, index=own_at.index, name=own_at.name)


def episodes(sp: pd.DataFrame, params: RankingParams, key: str = "key") -> np.ndarray:
    """Episode number per row of ``sp`` (any order): runs of one key whose month spans overlap or lie at most
    ``episode_gap(freq)`` periods apart (in months of the later row's frequency)."""
    if sp.empty:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((sp["m1"].to_numpy(), sp["m0"].to_numpy(), sp[key].to_numpy()))
    k = sp[key].to_numpy()[order]
    m0 = sp["m0"].to_numpy()[order]
    m1 = sp["m1"].to_numpy()[order]
    gap = gap_months(sp["_freq"].to_numpy()[order], params)
    ep = np.empty(len(sp), dtype=np.int64)
    cur = -1
    hi = None
    for n in range(len(order)):
        if n == 0 or k[n] != k[n - 1] or m0[n] > hi + gap[n] + 1:
            cur += 1
            hi = m1[n]
        else:
            hi = max(hi, m1[n])
        ep[order[n]] = cur
    return ep


def gap_months(freq: np.ndarray, params: RankingParams) -> np.ndarray:
    """Months an episode may bridge, by the frequency of the data (``episode_gap`` periods of that frequency)."""
    per = {"M": 1, "Q": 3}
    return np.array([params.episode_gap(f) * per.get(f, 12) for f in freq], dtype=np.int64)


def _episode_table(sp: pd.DataFrame) -> pd.DataFrame:
    g = sp.groupby("_ep", sort=True)
    first = g.head(1).set_index("_ep").sort_index()
    return pd.DataFrame({
        "key": first["key"], "shape": first["shape"], "_freq": first["_freq"], "lo": g["m0"].min(),
        "hi": g["m1"].max(), "exporter": first["exporter"], "importer": first["importer"],
        "hs": first["hs"], "product": first["product"], "reporter": first["reporter"],
        "priority": g["priority"].max(), "evidence": g["evidence"].max(), "usd": g["usd"].max(),
        "lead_family": g.apply(_lead_family, include_groups=False),
        "top_score": g["top_score"].max(),
        "dated": (sp["period"].astype("str") != "").groupby(sp["_ep"]).all(),
    })


def _lead_family(g: pd.DataFrame) -> str:
    i = int(np.argmax(g["priority"].to_numpy()))
    return str(g["families"].iloc[i]).split(";")[0]


def _overlap(lo1, hi1, lo2, hi2, gap) -> np.ndarray:
    return (lo1 <= hi2 + gap + 1) & (lo2 <= hi1 + gap + 1)


def _group_by_lead(ep: pd.DataFrame, params: RankingParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Greedy grouping of episodes of one case key, strongest first: an episode that overlaps (within the episode
    gap) the window of a stronger episode's group joins it. The window is the lead's, widened only by members at
    least ``extend_share`` as strong as the lead, so that one anomaly seen in several stretches is one case while a
    pair with a weak finding every few months is not chained into one case spanning years. Returns each episode's
    lead and each group's window (by lead)."""
    # dated episodes lead; a test over the whole sample (no period) joins a dated group of its key without
    # stretching its window over the run
    dated = ep["dated"].to_numpy(dtype=bool) if "dated" in ep else np.ones(len(ep), dtype=bool)
    order = np.lexsort((ep.index.to_numpy(), -ep["priority"].to_numpy(), ~dated))
    gap = gap_months(ep["_freq"].to_numpy(), params)
    lead = np.full(len(ep), -1, dtype=np.int64)
    windows: dict = {}
    keys, lo, hi, pri = ep["key"].to_numpy(), ep["lo"].to_numpy(), ep["hi"].to_numpy(), ep["priority"].to_numpy()
    w_lo, w_hi = lo.copy(), hi.copy()
    # the end of an anomaly reads as a break the other way (padding stops, the series falls back): a weaker
    # episode within aftermath_months after a group's window is the same case
    after = np.maximum(gap, int(params.aftermath_months))
    for i in order:
        hit = next((w for w in windows.get(keys[i], ()) if lo[i] <= w[1] + after[i] + 1 and w[0] <= hi[i] + gap[i] + 1),
                   None)
        if hit is not None:
            lead[i] = hit[2]
            if dated[i] and pri[i] >= params.extend_share * pri[hit[2]]:
                hit[0], hit[1] = min(hit[0], lo[i]), max(hit[1], hi[i])
                w_lo[hit[2]], w_hi[hit[2]] = hit[0], hit[1]
            continue
        windows.setdefault(keys[i], []).append([lo[i], hi[i], i])
        lead[i] = i
    return lead, w_lo, w_hi


def assign_cases(sp: pd.DataFrame, params: RankingParams) -> pd.DataFrame:
    """Adds ``_ep`` (episode) and ``case`` (the case key of the episode after absorption) to ``sp``, which must
    carry ``priority`` and the columns of :func:`base_keys`."""
    sp = _with_order(sp)
    sp["_ep"] = episodes(sp, params, key="subject_key")
    eps = _episode_table(sp)
    # a test of a reporter's figures on both sides at once (round numbers over the sample) joins the strongest
    # side of the same reporter, where one is flagged: one reporter, one case
    rep = (eps["shape"] == "reporter").to_numpy()
    if rep.any():
        keys = eps["key"].astype("str")
        sided = eps.loc[rep & (keys.str.count(":") >= 2).to_numpy()]
        if len(sided):
            best = sided.sort_values(["priority", "key"], ascending=[False, True], kind="mergesort").drop_duplicates(
                "reporter").set_index("reporter")["key"]
            bare = rep & (keys.str.count(":") == 1).to_numpy()
            eps.loc[bare, "key"] = [best.get(r, k) for r, k in zip(eps.loc[bare, "reporter"], keys[bare])]
    lead, w_lo, w_hi = _group_by_lead(eps.reset_index(drop=True), params)
    eps["group"] = eps.index.to_numpy()[lead]
    # from here on a group (its lead's keys, its window) is the unit that joins other cases
    eps["lo"], eps["hi"] = w_lo, w_hi
    ep = eps.loc[eps.index == eps["group"]].copy()
    ep["key"] = [f"{k}#{g}" for k, g in zip(ep["key"], ep.index)]
    case = ep["key"].astype(object).copy()

    # 1. route legs
    routes = ep.loc[ep["shape"] == "route"]
    pairs = ep.loc[ep["shape"] == "pair"]
    if len(routes) and len(pairs):
        rk = routes["key"].str.slice(2).str.split(">")
        r = pd.DataFrame({"r": routes.index, "O": rk.str[0].to_numpy(), "H": rk.str[1].to_numpy(),
                          "rhs": routes["hs"].to_numpy(), "rprod": routes["product"].to_numpy(),
                          "_freq": routes["_freq"].to_numpy(), "rlo": routes["lo"].to_numpy(),
                          "rhi": routes["hi"].to_numpy(), "rpri": routes["priority"].to_numpy()})
        dest = sp.loc[sp["shape"] == "route"].groupby("_ep")["importer"].agg(lambda s: set(s))
        r["D"] = [dest.get(i, set()) for i in r["r"]]
        # a route of one product to a group of economies (EU27) has a leg of that product to each member
        # (H -> DEU); a route of all products does not take the hub's every flow to a member (Libya's oil to Italy
        # is not China's goods passing through Libya)
        r["DG"] = [set().union(*[GROUPS.get(x, ()) for x in d]) if p else set() for d, p in zip(r["D"], r["rprod"])]
        m = pairs.reset_index(names="e").merge(r.drop(columns="_freq"), how="cross")
        if len(m):
            # the legs through the hub (O -> H and H -> D); O -> D itself is its own pair, whose other causes
            # (a rush before the tariff) the route must not take
            on = [((a == o and b == h) or (a == h and b in d) or (a == h and b in dg and pr and x == rx))
                  for a, b, o, h, d, dg, pr, x, rx in zip(m["exporter"], m["importer"], m["O"], m["H"], m["D"],
                                                          m["DG"], m["product"], m["hs"], m["rhs"])]
            same_hs = (~m["product"].to_numpy()) | (m["hs"].to_numpy() == m["rhs"].to_numpy()) | ~m["rprod"].to_numpy()
            g = gap_months(m["_freq"].to_numpy(), params)
            ok = np.asarray(on, dtype=bool) & same_hs & _overlap(m["lo"].to_numpy(), m["hi"].to_numpy(),
                                                                   m["rlo"].to_numpy(), m["rhi"].to_numpy(), g)
            m = m.loc[ok].sort_values(["e", "rpri", "r"], ascending=[True, False, True], kind="mergesort")
            m = m.drop_duplicates("e")
            case.loc[m["e"].to_numpy()] = routes.loc[m["r"].to_numpy(), "key"].to_numpy()
        # a leg of the route's product inside a pair's group led by another product (the pair's strongest
        # episode is a small gap of another chapter) joins the route on its own; the pair keeps the rest
        legs = _product_legs(eps, r, case, params)
    else:
        legs = pd.Series(dtype=object)

    # 2. reporters whose digits fail take the pairs they report in the window (on that side of their reports)
    # (only digits that fail clearly on their own, a q-value or a robust z of at least digits_case_min_score,
    # explain a reporter's pairs: a marginal test must not swallow their gaps)
    digits = ep.loc[(ep["shape"] == "reporter") & (ep["lead_family"] == "digits")
                    & (ep["top_score"].to_numpy(dtype=float) >= params.digits_case_min_score)]
    free = (case == ep["key"]) & (ep["shape"] == "pair") & (ep["lead_family"] != "routing")
    if len(digits) and free.any():
        dside = [k.split("#")[0].split(":")[2] if k.split("#")[0].count(":") >= 2 else "" for k in digits["key"]]
        d = pd.DataFrame({"d": digits.index, "R": digits["reporter"].to_numpy(), "side": dside,
                          "dlo": digits["lo"].to_numpy(), "dhi": digits["hi"].to_numpy()})
        cand = ep.loc[free, ["exporter", "importer", "lo", "hi"]].reset_index(names="e")
        cand["gap"] = gap_months(ep.loc[free, "_freq"].to_numpy(), params)
        h = digit_side_hits(cand, d, params)
        case.loc[h["e"].to_numpy()] = digits.loc[h["d"].to_numpy(), "key"].to_numpy()

    # 3. one side of a reporter's reports flagged with many partners at once
    # only pairs that stand out on their own count towards a reporter's breadth
    # only pairs whose two reports disagree (or whose prices do), and that stand out on their own, count towards a
    # reporter's breadth: a series break is the exporter's own report, whoever its partner is
    free = ((case == ep["key"]) & (ep["shape"] == "pair") & (ep["evidence"] >= params.breadth_evidence)
            & ep["lead_family"].isin(("mirror", "price")))
    if params.reporter_case_min > 0 and free.any():
        case = _reporter_sides(ep, free.to_numpy(), case, sp, params)
    # a case's name is its case key and its lead's episode number; absorbed groups take the absorbing case's
    group_case = pd.Series(case.reindex(eps["group"].to_numpy()).to_numpy(), index=eps.index, dtype=object)
    if len(legs):
        group_case.loc[legs.index] = legs.to_numpy()
    sp["case"] = group_case.reindex(sp["_ep"].to_numpy()).to_numpy()
    return sp


def _product_legs(eps: pd.DataFrame, routes: pd.DataFrame, case: pd.Series, params: RankingParams) -> pd.Series:
    """Route key by episode: the product-level episodes O -> H and H -> D of a product route's product that
    overlap the route's window, in pair groups whose lead (another product) did not join a route."""
    member = (eps.index != eps["group"]).to_numpy() & (eps["shape"] == "pair").to_numpy() & eps["product"].to_numpy()
    free = np.array([str(c).startswith("P:") for c in case.reindex(eps["group"].to_numpy()).to_numpy()], dtype=bool)
    cand = eps.loc[member & free]
    r = routes.loc[routes["rprod"].to_numpy(dtype=bool)]
    if cand.empty or r.empty:
        return pd.Series(dtype=object)
    m = cand.reset_index(names="e").merge(r.drop(columns="_freq"), left_on="hs", right_on="rhs")
    on = np.array([(a == o and b == h) or (a == h and b in d) for a, b, o, h, d in
                   zip(m["exporter"], m["importer"], m["O"], m["H"], m["D"])], dtype=bool)
    ok = on & _overlap(m["lo"].to_numpy(), m["hi"].to_numpy(), m["rlo"].to_numpy(), m["rhi"].to_numpy(),
                       gap_months(m["_freq"].to_numpy(), params))
    m = m.loc[ok].sort_values(["e", "rpri", "r"], ascending=[True, False, True], kind="mergesort").drop_duplicates("e")
    return pd.Series(case.reindex(m["r"].to_numpy()).to_numpy(), index=m["e"].to_numpy(), dtype=object)


def digit_side_hits(cand: pd.DataFrame, digits: pd.DataFrame, params: RankingParams) -> pd.DataFrame:
    """(``e``, ``d``): the pairs ``cand`` (``e``, ``exporter``, ``importer``, months ``lo``..``hi``, ``gap``) that a
    failing digit test ``digits`` (``d``, reporter ``R``, ``side`` X, M or both, months ``dlo``..``dhi``) covers: the
    reporter is the pair's exporter for a test of its exports, its importer for its imports, and the months
    overlap within ``gap``; each pair goes to the test whose window shares the most months with it (its exporter's
    test of the months it covers, not its importer's of the months after: both economies may fail), the first on
    ties, and only tests that take at least ``reporter_case_min`` partners count (invented figures touch every
    partner: a window that coincides with a pair or two is not that)."""
    hits = []
    for side, tag in (("exporter", "X"), ("importer", "M")):
        m = cand.merge(digits.loc[digits["side"].isin([tag, ""])], left_on=side, right_on="R")
        m = m.loc[_overlap(m["lo"].to_numpy(), m["hi"].to_numpy(), m["dlo"].to_numpy(), m["dhi"].to_numpy(),
                           m["gap"].to_numpy())]
        m = m.assign(_common=-(np.minimum(m["hi"].to_numpy(), m["dhi"].to_numpy())
                               - np.maximum(m["lo"].to_numpy(), m["dlo"].to_numpy())))
        hits.append(m[["e", "d", "exporter", "importer", "_common"]])
    h = pd.concat(hits).sort_values(["e", "_common", "d"], kind="mergesort").drop_duplicates("e")
    wide = (h["exporter"] + ">" + h["importer"]).groupby(h["d"].to_numpy()).nunique()
    return h.loc[h["d"].map(wide).to_numpy() >= max(params.reporter_case_min, 1), ["e", "d"]]


def _median_mad_with_zeros(n: np.ndarray, total: int) -> tuple[float, float]:
    """Median and median absolute deviation of ``n`` padded with zeros to ``total`` values."""
    v = np.concatenate([n, np.zeros(max(int(total) - len(n), 0))])
    med = float(np.median(v))
    return med, float(np.median(np.abs(v - med)))


def _reporter_sides(ep: pd.DataFrame, free: np.ndarray, case: pd.Series, sp: pd.DataFrame,
                    params: RankingParams) -> pd.Series:
    pairs = ep.loc[free]
    span = (pairs["hi"] - pairs["lo"] + 1).to_numpy()
    reps = np.repeat(np.arange(len(pairs)), span)
    ords = np.concatenate([np.arange(lo, hi + 1) for lo, hi in zip(pairs["lo"], pairs["hi"])])
    # partners of each economy anywhere in the run (either side), the denominator of the breadth share
    both = pd.concat([sp.loc[sp["shape"] == "pair", ["exporter", "importer"]].rename(
        columns={"exporter": "E", "importer": "P"}), sp.loc[sp["shape"] == "pair", ["importer", "exporter"]].rename(
        columns={"importer": "E", "exporter": "P"})])
    n_partners = both.drop_duplicates().groupby("E")["P"].size()
    best_n = np.zeros(len(pairs), dtype=np.int64)
    best_key = np.full(len(pairs), None, dtype=object)
    for side, other, tag in (("exporter", "importer", "X"), ("importer", "exporter", "M")):
        cover = pd.DataFrame({"E": pairs[side].to_numpy()[reps], "P": pairs[other].to_numpy()[reps],
                              "freq": "", "ord": ords, "i": reps})
        cnt = cover.groupby(["E", "freq", "ord"])["P"].nunique().rename("n").reset_index()
        share = cnt["n"] / cnt["E"].map(n_partners).fillna(1).clip(lower=1)
        # and far more partners than other economies have flagged at the same time on the same side (economies
        # with none flagged count as 0)
        n_econ = len(n_partners)
        stats = {o: _median_mad_with_zeros(g.to_numpy(dtype=float), n_econ) for o, g in cnt.groupby("ord")["n"]}
        med = cnt["ord"].map({o: m for o, (m, _) in stats.items()}).to_numpy(dtype=float)
        mad = cnt["ord"].map({o: d for o, (_, d) in stats.items()}).to_numpy(dtype=float)
        unusual = cnt["n"].to_numpy() >= med + 3.0 * np.maximum(1.4826 * mad, 1.0)
        cnt = cnt.loc[(cnt["n"] >= params.reporter_case_min) & (share >= params.reporter_case_share) & unusual]
        if cnt.empty:
            continue
        # windows: runs of qualifying periods of one economy
        cnt = cnt.sort_values(["E", "freq", "ord"], kind="mergesort").reset_index(drop=True)
        e, fr, o = (cnt[c].to_numpy() for c in ("E", "freq", "ord"))
        brk = np.ones(len(cnt), dtype=bool)
        brk[1:] = (e[1:] != e[:-1]) | (fr[1:] != fr[:-1]) | (o[1:] - o[:-1] > 1)
        cnt["w"] = np.cumsum(brk)
        win = cnt.groupby("w").agg(E=("E", "first"), freq=("freq", "first"), lo=("ord", "min"), hi=("ord", "max"),
                                   n=("n", "max"))
        m = cover.merge(cnt[["E", "freq", "ord", "w"]], on=["E", "freq", "ord"])
        if m.empty:
            continue
        per = m.groupby(["i", "w"]).size().reset_index()
        per = per.merge(win[["E", "freq", "lo", "n"]].reset_index(), on="w")
        per = per.sort_values(["i", "n", "w"], ascending=[True, False, True], kind="mergesort").drop_duplicates("i")
        i = per["i"].to_numpy()
        better = per["n"].to_numpy() > best_n[i]
        best_n[i[better]] = per["n"].to_numpy()[better]
        best_key[i[better]] = [f"C:{E}:{tag}:{f}{lo}" for E, f, lo in
                               zip(per["E"].to_numpy()[better], per["freq"].to_numpy()[better],
                                   per["lo"].to_numpy()[better])]
    # a window of an economy's side whose digits also fail is the digits case
    digit_keys = {k.split("#")[0]: k for k in ep.loc[(ep["shape"] == "reporter") & (ep["lead_family"] == "digits"),
                                                      "key"]}
    best_key = np.array([digit_keys.get(":".join(k.split(":")[:3]), k) if k is not None else k for k in best_key],
                        dtype=object)
    has = best_key != None  # noqa: E711 - object array
    # a pair whose evidence stands far above that of the other pairs the reporter's side takes (robust z of at
    # least reporter_case_outlier_z) has a cause of its own: the breadth explains the many, not the one
    # (or that carries at least reporter_case_max_share of the side's dollars: one pair holding the money is not
    # "many partners at once"). Not for a side whose digits fail: invented figures touch the largest partner too
    window = has & np.array([k is not None and "#" not in str(k) for k in best_key], dtype=bool)
    if window.any():
        usd = np.clip(np.nan_to_num(pairs["usd"].to_numpy(dtype=float), nan=0.0), 0.0, None)
        side = np.array([":".join(str(k).split(":")[:3]) for k in best_key[window]], dtype=object)  # C:ISO3:X
        ev = pd.DataFrame({"k": side, "e": pairs["evidence"].to_numpy(dtype=float)[window], "u": usd[window]})
        own = np.zeros(len(ev), dtype=bool)
        if params.reporter_case_outlier_z > 0:
            med = ev.groupby("k")["e"].transform("median")
            mad = (ev["e"] - med).abs().groupby(ev["k"]).transform("median")
            own |= ((ev["e"] - med) / np.maximum(1.4826 * mad, 0.15) >= params.reporter_case_outlier_z).to_numpy()
        total = ev.groupby("k")["u"].transform("sum").to_numpy()
        own |= (total > 0) & (ev["u"].to_numpy() >= params.reporter_case_max_share * total)
        has[np.flatnonzero(window)[own]] = False
    case = case.copy()
    case.loc[pairs.index[has]] = best_key[has]
    return case
