"""The knobs of the ranking, declared once with their defaults and checked on construction."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..errors import ConfigError

#: (signal prefix, family). Signals of one family read the same data (the two reports of a flow, one reporter's
#: series, its digits, a route's three legs, unit values), so their evidence is not independent; families are.
#: The longest matching prefix wins.
DEFAULT_FAMILIES: tuple[tuple[str, str], ...] = (
    ("mirror.", "mirror"),
    ("invoice_export.mirror_band", "mirror"),
    ("unit_value.mirror_ratio", "mirror"),
    ("unit_value.", "price"),
    ("benford.", "digits"),
    ("invoice_export.round_numbers", "digits"),
    ("series.", "series"),
    ("rush.", "series"),
    ("invoice_export.quarter_opening", "series"),
    ("invoice_export.decoupling", "series"),
    ("invoice_export.", "mirror"),
    ("entrepot.", "routing"),
)


@dataclass(frozen=True)
class RankingParams:
    """Settings of the evidence, the materiality, the cases and the budget (see :mod:`tradeanomaly.ranking`)."""

    # --- evidence: a tail probability per finding, combined per subject-period ---------------------------------
    families: tuple[tuple[str, str], ...] = DEFAULT_FAMILIES
    #: the exponential tail fitted to a signal's findings (see :mod:`.evidence`): at least this many findings,
    #: worth at most this many decades of p beyond the empirical rank
    tail_min_findings: int = 5
    tail_decades: float = 2.0
    #: (signal prefix, prior weight in (0, 1]): how much a signal alone says about misreporting rather than an
    #: innocent change. A series break happens for many reasons (a new plant, a lost contract); a disagreement
    #: between the two reports of one flow, invented digits or goods passing through a hub say more
    signal_priors: tuple[tuple[str, float], ...] = (
        ("series.", 0.5), ("invoice_export.decoupling", 0.6), ("entrepot.origin_washing", 0.5),
        ("entrepot.thin_hub", 0.6))
    #: how the priors of a subject-period's families combine (see ``evidence.mix_priors``): "weighted" by their
    #: surprisals, or "any" (the chance that one of them points at misreporting)
    prior_mix: str = "weighted"
    #: prior factor of a series break that the flow's other report shows alike (see ``evidence.mirrored_breaks``):
    #: ratios to expectation on the same side of 1 and within a factor of mirrored_break_tolerance, or the smaller log
    #: ratio at least mirrored_break_share of the larger; its amount at stake is then the two reports' difference
    mirrored_break_prior: float = 0.5
    mirrored_break_tolerance: float = 1.25
    mirrored_break_share: float = 0.7
    #: where one report has no break finding, read its value from the flow's mirror gap of the period
    mirrored_break_from_gaps: bool = True
    #: prior factor of a route case seen by the pass-through bound alone, without a share shift at the
    #: destination or co-movement of the legs (an economy whose exports simply grew)
    route_uncorroborated_prior: float = 0.5
    #: a route whose hub already supplied a large share of what the destination bought from the origin and the hub
    #: (median over the case's share-shift findings, before the shift) is an established supplier gaining share,
    #: trade diversion more than rerouting: its prior falls linearly from 1 at the first share to
    #: route_incumbent_prior at the second
    route_incumbent_share: tuple[float, float] = (0.2, 0.5)
    route_incumbent_prior: float = 0.4
    #: weight of the pyod ensemble's percentile in the evidence of a subject-period (0: rules alone)
    w_ensemble: float = 0.25
    #: the ensemble counts only for kinds of subject with at least this many subject-periods in the run
    ensemble_min_rows: int = 200
    #: evidence at which a case of no materiality is 63% of the way to full weight in its score (see
    #: ``confidence_of``); the scale falls linearly with the case's materiality to evidence_scale_full, so that a
    #: 100 bn break needs less rarity than a 0.3 bn ratio to lead the list. flag_evidence_scale: the same for
    #: flagging a subject-period
    evidence_scale: float = 0.8
    evidence_scale_full: float = 0.1
    #: the scale falls with materiality ** evidence_scale_power: above 1, a few billions need nearly the rarity
    #: of a few millions, and only the largest amounts lean on their dollars
    evidence_scale_power: float = 1.5
    flag_evidence_scale: float = 0.7
    #: the flagging scale of a pair whose reporter's digits fail in the same months (see ``digits_case_min_score``)
    explained_flag_evidence_scale: float = 0.4
    #: the evidence scale of the confidence at which a subject-period that names no amount (a reporter's digits)
    #: is flagged (``min_confidence_no_amount``)
    no_amount_evidence_scale: float = 0.4
    # --- materiality ------------------------------------------------------------------------------------------
    usd_floor: float = 1e6  # worth nothing at or below this amount
    usd_full: float = 1e12  # worth the whole weight at or above this amount
    #: share of the priority that does not depend on dollars: a strong case of a few million still ranks
    materiality_base: float = 0.3
    # --- cases ------------------------------------------------------------------------------------------------
    #: unflagged periods an episode may bridge, by frequency (monthly, quarterly, annual)
    episode_gap_months: int = 6
    episode_gap_quarters: int = 2
    episode_gap_years: int = 1
    #: an episode joining a case widens the case's window when at least this share as strong as its lead
    extend_share: float = 0.5
    #: a weaker episode starting at most this many months after a case's window joins it (an anomaly's end shows as
    #: a break the other way, and year-on-year comparisons over up to three months echo it 12 to 14 months later)
    aftermath_months: int = 15
    #: a reporter's reports are one case when pairs with at least this many partners, and at least this share of
    #: its partners (a third), are flagged in the same periods on the same side (its exports, or its imports)
    reporter_case_min: int = 5
    reporter_case_share: float = 0.34
    #: of the pairs a reporter's side takes, one whose evidence is this many robust SD above the median of the
    #: side's pairs in the window stays its own case (0: none)
    reporter_case_outlier_z: float = 3.0
    #: ... and so does one that carries at least this share of the dollars of the side's pairs
    reporter_case_max_share: float = 0.5
    #: a reporter's digits take its pairs of the window only when the digit test's own score (-log10 q, or the
    #: window's robust z) reaches this
    digits_case_min_score: float = 3.0
    #: checks whose cases stay apart per product (the chapters a tariff list names); other product findings of a
    #: pair roll up to the pair
    product_specific_checks: tuple[str, ...] = ("rush",)
    #: a pair's total whose product-specific cause is dated at most this many months from one of its products'
    #: takes that product's date (the total is their sum); 0: exact dates
    total_date_tolerance: int = 2
    #: a case is chronic (listed apart, not ranked) when its subject was flagged in at least this share of every
    #: period the findings span, and at least chronic_min periods
    chronic_share: float = 0.9
    chronic_min: int = 12
    # --- budget and output ------------------------------------------------------------------------------------
    top_k: int = 50
    #: a subject-period is flagged, and a case ranked, at this score or above
    min_score: float = 0.3
    #: a subject-period whose findings name no amount (digits) is flagged at this confidence (see evidence_scale)
    min_confidence_no_amount: float = 0.8
    #: a pair counts towards a reporter's breadth (see ``reporter_case_min``) at this evidence or above
    breadth_evidence: float = 0.5
    max_structural: int = 50
    #: a case's harmonic mean p counts every period from a subject's first flag to its last as a test (the
    #: unflagged ones at p = 1; see :func:`tradeanomaly.ranking.case_tests`); False: the flagged ones only
    case_span_tests: bool = True
    max_members: int = 2000

    def __post_init__(self):
        def fix_tuple(name, pairs=False):
            v = getattr(self, name)
            if isinstance(v, dict):
                v = tuple(sorted(v.items()))
            elif isinstance(v, str):
                v = (v,)
            elif isinstance(v, list):
                v = tuple(tuple(x) if pairs and isinstance(x, list) else x for x in v)
            object.__setattr__(self, name, v)

        fix_tuple("families", pairs=True)
        fix_tuple("signal_priors", pairs=True)
        fix_tuple("product_specific_checks")
        try:
            lo, hi = (float(x) for x in self.route_incumbent_share)
        except (TypeError, ValueError):
            raise ConfigError("ranking.route_incumbent_share must be two shares [from, to], got "
                              f"{self.route_incumbent_share!r}") from None
        if not 0 <= lo < hi <= 1:
            raise ConfigError(f"ranking.route_incumbent_share must satisfy 0 <= from < to <= 1, got {[lo, hi]!r}")
        object.__setattr__(self, "route_incumbent_share", (lo, hi))
        for name in ("w_ensemble", "materiality_base", "reporter_case_share", "min_score",
                     "route_uncorroborated_prior", "mirrored_break_prior", "route_incumbent_prior",
                     "mirrored_break_share"):
            v = float(getattr(self, name))
            if not 0 <= v <= 1:
                raise ConfigError(f"ranking.{name} must be between 0 and 1, got {v!r}")
        if self.breadth_evidence < 0:
            raise ConfigError(f"ranking.breadth_evidence must be >= 0, got {self.breadth_evidence!r}")
        for name in ("top_k", "max_structural", "max_members"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"ranking.{name} must be a positive integer, got {getattr(self, name)!r}")
        for name in ("episode_gap_months", "episode_gap_quarters", "episode_gap_years", "reporter_case_min",
                     "chronic_min", "aftermath_months", "total_date_tolerance"):
            if int(getattr(self, name)) < 0:
                raise ConfigError(f"ranking.{name} must be >= 0, got {getattr(self, name)!r}")
        if not 0 < self.usd_floor < self.usd_full:
            raise ConfigError("ranking.usd_floor must be > 0 and below ranking.usd_full")
        if min(self.evidence_scale, self.evidence_scale_full, self.flag_evidence_scale,
               self.explained_flag_evidence_scale, self.no_amount_evidence_scale) <= 0:
            raise ConfigError("ranking.evidence_scale, ranking.evidence_scale_full, ranking.flag_evidence_scale, "
                              "ranking.explained_flag_evidence_scale and ranking.no_amount_evidence_scale must be > 0")
        if not self.evidence_scale_power > 0:
            raise ConfigError(f"ranking.evidence_scale_power must be > 0, got {self.evidence_scale_power!r}")
        if self.prior_mix not in ("weighted", "any"):
            raise ConfigError(f"ranking.prior_mix must be 'weighted' or 'any', got {self.prior_mix!r}")
        if not self.mirrored_break_tolerance > 1:
            raise ConfigError("ranking.mirrored_break_tolerance must be > 1 (a factor between the two reports' "
                              f"ratios), got {self.mirrored_break_tolerance!r}")
        if self.tail_decades < 0 or self.tail_min_findings < 1:
            raise ConfigError("ranking.tail_decades must be >= 0 and ranking.tail_min_findings >= 1")
        for prefix, w in self.signal_priors:
            if not 0 < float(w) <= 1:
                raise ConfigError(f"ranking.signal_priors: the prior of {prefix!r} must be in (0, 1], got {w!r}")

    @classmethod
    def from_mapping(cls, values: dict | None) -> "RankingParams":
        """From a configuration's ``ranking`` section; an unknown key is an error naming the known ones."""
        from ..config import params_from

        return params_from(cls, values, "ranking")

    def episode_gap(self, freq: str) -> int:
        return {"M": self.episode_gap_months, "Q": self.episode_gap_quarters}.get(freq, self.episode_gap_years)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["families"] = [list(x) for x in self.families]
        d["signal_priors"] = {k: v for k, v in self.signal_priors}
        for name in ("product_specific_checks",):
            d[name] = list(getattr(self, name))
        return d
