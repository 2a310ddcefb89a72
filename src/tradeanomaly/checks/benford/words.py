"""The words of the digit tests' findings: a group's subject code and its description, q-values and digits as
text."""

from __future__ import annotations

import functools
import math
from typing import Mapping, Sequence

import pandas as pd

FLOW_WORDS = {"X": "export", "M": "import", "RX": "re-export", "RM": "re-import"}


def _subject(keys: pd.DataFrame) -> pd.Series:
    cols = list(keys.columns)
    if not cols:
        return pd.Series(["all"] * len(keys), index=keys.index, dtype="str")
    parts = []
    if "reporter" in cols:
        rp = keys["reporter"].astype(str)
        if "partner" in cols:
            rp = rp + ">" + keys["partner"].astype(str)
        parts.append(rp)
    elif "partner" in cols:
        parts.append(">" + keys["partner"].astype(str))
    for c in cols:
        if c not in ("reporter", "partner"):
            parts.append(keys[c].astype(str))
    subj = parts[0]
    for p in parts[1:]:
        subj = subj + ":" + p
    return subj.astype("str")


@functools.lru_cache(maxsize=4096)
def _country_name(code: str) -> str:
    """The crosswalk's readable name (the one source of country names in the project), the code when unknown."""
    from ...codes import country_name

    return country_name(code)


def _describe_group(key: Mapping[str, object], flows_word: str) -> str:
    rep = key.get("reporter")
    par = key.get("partner")
    if key.get("flow"):
        flows_word = FLOW_WORDS.get(str(key["flow"]), str(key["flow"])) + " "
    who = f"{_country_name(str(rep))}'s" if rep else "the"
    what = f"reported {flows_word}values"
    if par:
        what += f" {'to' if flows_word.strip() in ('export', 're-export') else 'with'} {_country_name(str(par))}"
    extra = [f"{k} {v}" for k, v in key.items() if k not in ("reporter", "partner", "flow") and v != ""]
    return f"{who} {what}" + (f" ({', '.join(extra)})" if extra else "")


def _fmt_q(logq: float) -> str:
    if logq < math.log(1e-300):
        return "< 1e-300"
    q = math.exp(logq)
    return f"{q:.1g}" if q < 0.01 else f"{q:.2f}"


def _fmt_digits(digits: Sequence[int], width: int) -> str:
    ds = [str(d).zfill(width) for d in digits]
    if len(ds) <= 1:
        return "".join(ds)
    return ", ".join(ds[:-1]) + " and " + ds[-1]
