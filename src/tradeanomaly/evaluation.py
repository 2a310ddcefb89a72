"""How often the top of the ranked list is right: precision@k, recall@k and average precision against planted
anomalies, overall and per anomaly kind.

**Matching.** A ranked flag matches a truth row when

* every key the truth row sets among ``reporter``, ``partner``, ``hub`` and ``region`` is equal in the flag; a key
  the truth row leaves empty places no constraint (truth ``CHN``/``USA`` with no hub matches the pair flag whatever
  the check wrote in ``hub``). A flag whose partner is a group of economies holding the truth's partner matches
  too (a route to ``EU27`` is found for goods rerouted to Germany: the check measures the EU as one market). A
  truth table must therefore set every key that identifies its subject: an anomaly
  of China as a whole written with an empty partner would be "found" by any flag whose reporter is China;
* the truth ``hs`` is empty (any product, the pair's total included), or the flag's ``hs`` starts with it (a truth
  ``85`` is found by a flag at ``85`` or finer, ``8517``; not by the all-products flag ``TOTAL``, which does not
  point an investigator at the product);
* the flag's period range overlaps ``[period_start, period_end]`` (an empty ``period_end`` means the start; ranges
  of different frequencies are compared month by month, so ``2023`` overlaps ``2023-03``).

Only ranked flags count (``rank`` set; structural rows and resolved flags are not part of the ranking).

**Metrics.** With ``R`` the number of planted anomalies (``negative_control`` false) and flags in rank order:
``precision@k`` = flags among the first ``k`` that match at least one planted anomaly, divided by ``k`` (a list
shorter than ``k`` is charged for the missing places); ``recall@k`` = planted anomalies matched by at least one of
the first ``k`` flags, divided by ``R``; average precision = the mean over planted anomalies of the precision at the
rank of the first flag that matches it (0 for anomalies never matched), over the whole list. Per kind, the same with
only that kind's anomalies as relevant (so per-kind precisions add up to at most the overall one). A flag that
matches a negative control and no planted anomaly is a false positive; ``negative_controls@k`` counts the flags
among the first ``k`` that match a negative control.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import SchemaError
from .periods import month_span

TRUTH_COLUMNS: tuple[str, ...] = (
    "anomaly_id", "kind", "negative_control", "reporter", "partner", "hub", "region", "hs", "period_start",
    "period_end", "usd", "note",
)
EXACT_KEYS: tuple[str, ...] = ("reporter", "partner", "hub", "region")
_TRUE = {"true", "1", "yes", "y", "t"}


@dataclass
class EvaluationResult:
    """``overall``: metric name -> value; ``per_kind``: one row per kind; ``matches``: one row per (flag,
    truth row) match."""

    ks: tuple[int, ...]
    overall: dict
    per_kind: pd.DataFrame
    matches: pd.DataFrame
    n_flags: int
    n_anomalies: int
    n_controls: int
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        def plain(v):
            if isinstance(v, (np.integer,)):
                return int(v)
            if isinstance(v, (np.floating, float)):
                return round(float(v), 6)
            return v

        return {
            "ks": [int(k) for k in self.ks],
            "n_flags": int(self.n_flags),
            "n_anomalies": int(self.n_anomalies),
            "n_negative_controls": int(self.n_controls),
            "overall": {k: plain(v) for k, v in self.overall.items()},
            "per_kind": [{k: plain(v) for k, v in row.items()} for row in self.per_kind.to_dict("records")],
        }

    def to_table(self) -> str:
        """A fixed-width text table: one line overall, one per kind."""
        cols = ["kind", "n"] + [f"{m}@{k}" for m in ("precision", "recall") for k in self.ks] + ["ap", "found"]
        rows = [["overall", str(self.n_anomalies)]
                + [f"{self.overall[f'{m}@{k}']:.3f}" for m in ("precision", "recall") for k in self.ks]
                + [f"{self.overall['average_precision']:.3f}", str(self.overall["found"])]]
        for r in self.per_kind.to_dict("records"):
            rows.append([str(r["kind"]), str(r["n"])]
                        + [f"{r[f'{m}@{k}']:.3f}" for m in ("precision", "recall") for k in self.ks]
                        + [f"{r['average_precision']:.3f}", str(r["found"])])
        widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(cols)]
        fmt = lambda row: "  ".join(v.ljust(w) if i == 0 else v.rjust(w)  # noqa: E731
                                    for i, (v, w) in enumerate(zip(row, widths)))
        lines = [fmt(cols), fmt(["-" * w for w in widths])] + [fmt(r) for r in rows]
        lines.append("")
        lines.append(f"{self.n_flags} ranked flags, {self.n_anomalies} planted anomalies, "
                     f"{self.n_controls} negative controls; negative controls in the top "
                     + ", ".join(f"{k}: {self.overall[f'negative_controls@{k}']}" for k in self.ks))
        lines += self.notes
        return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------------------
# Reading
# ------------------------------------------------------------------------------------------------------------


def read_truth(path) -> pd.DataFrame:
    """Read a truth CSV (codes as text; ``NA`` stays Namibia) and check its columns."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[])
    return normalise_truth(df, where=str(path))


def normalise_truth(df: pd.DataFrame, where: str = "truth") -> pd.DataFrame:
    required = ("anomaly_id", "kind", "reporter", "period_start")
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise SchemaError(f"{where}: missing column(s) {missing}; a truth table has columns "
                          f"{', '.join(TRUTH_COLUMNS)}")
    out = df.copy()
    for c in TRUTH_COLUMNS:
        if c not in out.columns:
            out[c] = ""
    for c in ("anomaly_id", "kind", "reporter", "partner", "hub", "region", "hs", "period_start", "period_end",
              "note"):
        out[c] = out[c].astype("str").where(out[c].notna(), "").str.strip()
    nc = out["negative_control"]
    out["negative_control"] = nc.map(lambda v: str(v).strip().lower() in _TRUE if not isinstance(v, bool) else v)
    out["period_end"] = out["period_end"].where(out["period_end"] != "", out["period_start"])
    return out.reset_index(drop=True)


def normalise_flags(df: pd.DataFrame) -> pd.DataFrame:
    """The ranked flags only, in rank order, with text keys."""
    out = df.copy()
    for c in ("reporter", "partner", "hub", "region", "hs", "period", "subject"):
        if c not in out.columns:
            out[c] = ""
        out[c] = out[c].astype("str").where(out[c].notna(), "")
    if "rank" not in out.columns:
        raise SchemaError("flags: column `rank` is missing; evaluate the flags.csv written by `tradeanomaly run`")
    r = pd.to_numeric(out["rank"].astype("str").replace({"": None, "<NA>": None}), errors="coerce")
    out["rank"] = r
    out = out.loc[r.notna()]
    if "label" in out.columns:
        out = out.loc[out["label"].astype("str") != "structural"]
    return out.sort_values(["rank", "subject", "period"], kind="mergesort").reset_index(drop=True)


# ------------------------------------------------------------------------------------------------------------
# Matching
# ------------------------------------------------------------------------------------------------------------


def _in_group(flag_partner: np.ndarray, truth_partner: np.ndarray) -> np.ndarray:
    """Whether each flag's partner is a group of economies (``EU27``) that holds the truth's partner (``DEU``)."""
    from .codes import GROUPS

    out = np.zeros(len(flag_partner), dtype=bool)
    for name, members in GROUPS.items():
        here = flag_partner == name
        if here.any():
            out[here] = np.isin(truth_partner[here], list(members))
    return out


def match(truth: pd.DataFrame, flags: pd.DataFrame) -> pd.DataFrame:
    """Every (flag position, truth row) pair that matches (see the module docstring)."""
    if truth.empty or flags.empty:
        return pd.DataFrame({"flag": pd.Series(dtype="int64"), "truth": pd.Series(dtype="int64")})
    fl = flags[list(EXACT_KEYS) + ["hs", "period"]].copy()
    fl["flag"] = np.arange(len(fl))
    first, last = zip(*[(p.partition(":")[0], p.partition(":")[2] or p.partition(":")[0])
                        for p in fl["period"]])
    fl["_f0"] = month_span(pd.Series(first), end=False)
    fl["_f1"] = month_span(pd.Series(last), end=True)
    tr = truth[list(EXACT_KEYS) + ["hs"]].rename(columns={"hs": "t_hs"})
    tr["truth"] = np.arange(len(truth))
    tr["_t0"] = month_span(truth["period_start"], end=False)
    tr["_t1"] = month_span(truth["period_end"], end=True)
    m = fl.merge(tr, how="cross", suffixes=("", "_t")) if len(fl) * len(tr) <= 5_000_000 else None
    if m is None:
        raise SchemaError(f"evaluate: {len(fl)} flags x {len(truth)} truth rows is too many to match; "
                          "evaluate the ranked flags (at most a few thousand)")
    keys_ok = np.ones(len(m), dtype=bool)
    for k in EXACT_KEYS:
        t = m[f"{k}_t"].to_numpy()
        same = m[k].to_numpy() == t
        if k == "partner":
            same |= _in_group(m[k].to_numpy(), t)
        keys_ok &= (t == "") | same
    m = m.loc[keys_ok]
    hs_ok = (m["t_hs"] == "") | np.array([f.startswith(t) for f, t in zip(m["hs"], m["t_hs"])], dtype=bool)
    no_period = (m["_f0"] < 0) | (m["_t0"] < 0)
    overlap = no_period | ((m["_f0"] <= m["_t1"]) & (m["_t0"] <= m["_f1"]))
    m = m.loc[hs_ok & overlap, ["flag", "truth"]]
    return m.sort_values(["flag", "truth"], kind="mergesort").reset_index(drop=True)


# ------------------------------------------------------------------------------------------------------------
# Metrics
# ------------------------------------------------------------------------------------------------------------


def _metrics(hit_matrix: np.ndarray, ks) -> dict:
    """``hit_matrix``: flags x relevant anomalies, True where the flag matches the anomaly."""
    n_flags, n_rel = hit_matrix.shape
    hit = hit_matrix.any(axis=1) if n_rel else np.zeros(n_flags, dtype=bool)
    cum = np.cumsum(hit)
    out = {}
    for k in ks:
        top = min(k, n_flags)
        out[f"precision@{k}"] = float(cum[top - 1] / k) if top else 0.0
    for k in ks:
        top = min(k, n_flags)
        found = hit_matrix[:top].any(axis=0).sum() if top and n_rel else 0
        out[f"recall@{k}"] = float(found / n_rel) if n_rel else float("nan")
    if n_rel and n_flags:
        found_any = hit_matrix.any(axis=0)
        first = np.where(found_any, hit_matrix.argmax(axis=0), -1)
        prec_at = np.where(found_any, cum[np.maximum(first, 0)] / (np.maximum(first, 0) + 1), 0.0)
        out["average_precision"] = float(prec_at.mean())
        out["found"] = int(found_any.sum())
    else:
        out["average_precision"] = 0.0 if n_rel else float("nan")
        out["found"] = 0
    return out


def repeat_places(truth: pd.DataFrame, flags: pd.DataFrame, k: int = 50) -> int:
    """Places beyond the first that one planted anomaly (not a negative control) takes among the first ``k``
    ranked flags: 0 when every cause is one case."""
    top = normalise_flags(flags).head(k).reset_index(drop=True)
    t = normalise_truth(truth)
    m = match(t, top)
    if m.empty:
        return 0
    m = m.loc[~t["negative_control"].astype(bool).to_numpy()[m["truth"].to_numpy()]]
    return int((m.groupby("truth")["flag"].nunique() - 1).clip(lower=0).sum())


def evaluate(truth: pd.DataFrame, flags: pd.DataFrame, ks=(10, 20, 50)) -> EvaluationResult:
    """Precision@k, recall@k and average precision of ``flags`` against ``truth``, overall and per kind."""
    ks = tuple(int(k) for k in ks)
    if not ks or min(ks) < 1:
        raise SchemaError(f"evaluate: ks must be positive integers, got {ks!r}")
    truth = normalise_truth(truth)
    ranked = normalise_flags(flags)
    m = match(truth, ranked)
    n = len(ranked)
    control = truth["negative_control"].to_numpy(dtype=bool)
    planted = np.flatnonzero(~control)
    hits = np.zeros((n, len(truth)), dtype=bool)
    if len(m):
        hits[m["flag"].to_numpy(), m["truth"].to_numpy()] = True

    overall = _metrics(hits[:, planted], ks)
    ctrl_hit = hits[:, control].any(axis=1) if control.any() else np.zeros(n, dtype=bool)
    for k in ks:
        overall[f"negative_controls@{k}"] = int(ctrl_hit[: min(k, n)].sum())

    rows = []
    kinds = sorted(truth.loc[~control, "kind"].unique())
    for kind in kinds:
        cols = np.flatnonzero((~control) & (truth["kind"].to_numpy() == kind))
        r = _metrics(hits[:, cols], ks)
        rows.append({"kind": kind, "n": int(len(cols)), **r})
    per_kind = pd.DataFrame(rows, columns=["kind", "n", *[f"precision@{k}" for k in ks],
                                           *[f"recall@{k}" for k in ks], "average_precision", "found"])

    matches = pd.DataFrame({
        "rank": ranked["rank"].to_numpy()[m["flag"].to_numpy()] if len(m) else [],
        "subject": ranked["subject"].to_numpy()[m["flag"].to_numpy()] if len(m) else [],
        "period": ranked["period"].to_numpy()[m["flag"].to_numpy()] if len(m) else [],
        "anomaly_id": truth["anomaly_id"].to_numpy()[m["truth"].to_numpy()] if len(m) else [],
        "kind": truth["kind"].to_numpy()[m["truth"].to_numpy()] if len(m) else [],
        "negative_control": control[m["truth"].to_numpy()] if len(m) else [],
    })
    return EvaluationResult(ks=ks, overall=overall, per_kind=per_kind, matches=matches, n_flags=n,
                            n_anomalies=int(len(planted)), n_controls=int(control.sum()))


def _read_csv_file(path, what: str, read, expected: str) -> pd.DataFrame:
    """``read(path)`` with an empty, undecodable or malformed file as one :class:`SchemaError` line."""
    path = Path(path)
    if path.is_file() and path.stat().st_size == 0:
        raise SchemaError(f"{path}: the {what} file is empty (0 bytes); give {expected}")
    try:
        return read(path)
    except pd.errors.EmptyDataError:
        raise SchemaError(f"{path}: the {what} file has no header; give {expected}") from None
    except UnicodeDecodeError as exc:
        raise SchemaError(f"{path}: the {what} file is not UTF-8 text (byte {exc.start}); save it as UTF-8 or "
                          f"give {expected}") from None
    except pd.errors.ParserError as exc:
        raise SchemaError(f"{path}: the {what} file is not a well-formed CSV ({' '.join(str(exc).split())}); "
                          f"give {expected}") from None


def evaluate_files(truth_path: str | Path, flags_path: str | Path, ks=(10, 20, 50)) -> EvaluationResult:
    """:func:`evaluate` on a truth CSV and a flags CSV."""
    from .ranking import read_flags_csv

    truth = _read_csv_file(truth_path, "truth", read_truth, "the truth.csv written by `tradeanomaly synth`")
    flags = _read_csv_file(flags_path, "flags", read_flags_csv, "the flags.csv written by a run")
    if len(flags) == 0:
        raise SchemaError(f"{flags_path}: the flags file has a header but no flags, so there is nothing to score; "
                          "give the flags.csv of a run that flagged something")
    if "rank" not in flags.columns:
        raise SchemaError(f"{flags_path}: column `rank` is missing; give the flags.csv written by a run")
    return evaluate(truth, flags, ks)


# ------------------------------------------------------------------------------------------------------------
# End to end on a panel
# ------------------------------------------------------------------------------------------------------------

#: the checks, in the order their tables feed each other (the mirror check's gaps are used by later checks)
CHECK_ORDER: tuple[str, ...] = ("mirror", "benford", "series", "invoice_export", "entrepot", "rush")


def run_available_checks(flows: pd.DataFrame, periods: list[str] | None = None, *,
                         random_state: int = 0) -> tuple[pd.DataFrame, dict[str, str]]:
    """Every check module's ``run`` with default parameters on ``flows``: (all findings, check -> why it was
    not run). A check whose module is absent or has no ``run`` is reported, not fatal, so the method can be
    evaluated on whatever checks exist."""
    import importlib
    import inspect

    from .schema import make_findings

    found: list[pd.DataFrame] = []
    missing: dict[str, str] = {}
    shared: dict[str, pd.DataFrame] = {}
    for name in CHECK_ORDER:
        try:
            module = importlib.import_module(f"tradeanomaly.checks.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"tradeanomaly.checks.{name}":
                raise
            missing[name] = f"module tradeanomaly.checks.{name} does not exist yet"
            continue
        run = getattr(module, "run", None)
        if run is None:
            missing[name] = f"tradeanomaly.checks.{name} has no run()"
            continue
        sig = inspect.signature(run).parameters
        kwargs = {}
        if "periods" in sig:
            kwargs["periods"] = periods
        if "mirror_gaps" in sig and "mirror_gaps" in shared:
            kwargs["mirror_gaps"] = shared["mirror_gaps"]
        if "random_state" in sig:
            kwargs["random_state"] = random_state
        res = run(flows, **kwargs)
        shared.update(getattr(res, "tables", {}) or {})
        found.append(res.findings)
    findings = make_findings(pd.concat(found, ignore_index=True)) if found else make_findings()
    return findings, missing
