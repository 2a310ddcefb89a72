"""Query arguments shared by the clients: period ranges and country codes in a publisher's system."""

from __future__ import annotations

from ..errors import ConfigError
from ..periods import frequency, normalise_period, period_range


def expand_periods(text: str, freq: str | None = None) -> list[str]:
    """``2025-01:2025-10`` (or ``2025-01``, ``2024:2025``, ``2025-01,2025-03``) as canonical labels, in order.

    ``freq`` (``M`` or ``A``) is the frequency the labels must have."""
    out: list[str] = []
    for part in [p.strip() for p in str(text).split(",") if p.strip()]:
        start, _, end = part.partition(":")
        a, b = normalise_period(start), normalise_period(end or start)
        if a is None or b is None:
            raise ConfigError(f"--period {text}: `{part}` is not a period or range (2025-01:2025-10, 2024)")
        if frequency(a) != frequency(b) or a > b:
            raise ConfigError(f"--period {text}: `{part}` must run forward in one frequency (2025-01:2025-10)")
        out.extend(p for p in period_range(a, b) if p not in out)
    if not out:
        raise ConfigError("--period is empty: give a period or a range (2025-01:2025-10)")
    if freq is not None:
        bad = [p for p in out if frequency(p) != freq]
        if bad:
            kind = {"M": "months (2025-01)", "A": "years (2024)", "Q": "quarters (2024-Q1)"}[freq]
            raise ConfigError(f"--period {text}: --freq {freq} takes {kind}, not {bad[0]}")
    return out


def country_codes(text: str, system: str, what: str) -> list[str] | None:
    """ISO3 codes (``CHN,USA``) in ``system`` (``comtrade``, ``census``); ``None`` for ``all``."""
    from ..codes.countries import crosswalk

    if str(text).strip().lower() == "all":
        return None
    table = crosswalk().set_index("iso3")
    out = []
    for code in [c.strip().upper() for c in str(text).split(",") if c.strip()]:
        if code == "WLD" and system == "comtrade":
            out.append("0")
            continue
        if code not in table.index or not str(table.at[code, system] or "").strip():
            raise ConfigError(f"{what} {text}: `{code}` is not an ISO 3166 alpha-3 code with a {system} code "
                              "(give codes such as CHN, USA, VNM, or `all`)")
        out.append(str(table.at[code, system]).strip())
    if not out:
        raise ConfigError(f"{what} is empty: give ISO3 codes (CHN,USA) or `all`")
    return out
