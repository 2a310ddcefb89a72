"""US Census Bureau international trade API client (``api.census.gov/data/timeseries/intltrade``).

``GET /data/timeseries/intltrade/imports/hs?get=CTY_CODE,CTY_NAME,I_COMMODITY,CON_VAL_MO,GEN_VAL_MO&time=2025-01
&COMM_LVL=HS6[&CTY_CODE=5700][&key=...]`` (exports: ``exports/hs`` with ``E_COMMODITY,ALL_VAL_MO``). The answer is
a JSON array of arrays whose first row is the header (the predicate variables ``time`` and ``COMM_LVL`` come back
as columns); no match is HTTP 204 with an empty body. The key (``CENSUS_API_KEY``) is optional: without one the
API allows 500 queries a day per address.

Pages: one request per month. Each response is saved as sent (``raw/*.json``) and rendered as a CSV with the same
header and rows (``census-<flow>-<month>.csv``), the layout the ``census`` reader reads. Pace: two requests a
second.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from . import FetchError, Plan
from .http import Request, Response
from .query import country_codes, expand_periods
from .store import atomic_write_bytes

BASE = "https://api.census.gov/data/timeseries/intltrade"
KEY_ENV = "CENSUS_API_KEY"
FIELDS = {"imports": "CTY_CODE,CTY_NAME,I_COMMODITY,CON_VAL_MO,GEN_VAL_MO",
          "exports": "CTY_CODE,CTY_NAME,E_COMMODITY,ALL_VAL_MO"}
AUTH_HINT = (f"the API refused {KEY_ENV}: request a key at https://api.census.gov/data/key_signup.html and set "
             f"{KEY_ENV}, or unset it (without a key the API allows 500 queries a day)")


def plan(*, flow: str = "imports", partner: str = "all", hs: str = "6", period: str,
         key: str | None = None) -> Plan:
    from ..errors import ConfigError

    flow = flow.lower()
    if flow not in FIELDS:
        raise ConfigError(f"--flow {flow}: choose imports or exports")
    if str(hs) not in ("2", "4", "6", "10"):
        raise ConfigError(f"--hs {hs}: choose 2, 4, 6 or 10")
    key = os.environ.get(KEY_ENV) if key is None else key
    key = (key or "").strip() or None
    months = expand_periods(period, "M")
    partners = country_codes(partner, "census", "--partner")
    requests = []
    for m in months:
        params = [("get", FIELDS[flow]), ("time", m), ("COMM_LVL", f"HS{hs}")]
        if partners is not None:
            params += [("CTY_CODE", c) for c in partners]
        if key:
            params.append(("key", key))
        requests.append(Request(name=f"census-{flow}-{m}", url=f"{BASE}/{flow}/hs", params=tuple(params),
                                secret=frozenset({"key"})))
    query = {"publisher": "census", "flow": flow, "partner": partner.upper(), "hs": f"HS{hs}", "period": period}
    return Plan(publisher="census", query=query, requests=requests, source="census", min_interval=0.5,
                auth_hint=AUTH_HINT, count=count, finish=finish,
                empty_hint="check --period (the latest month is published about five weeks after its end) "
                           "and --partner",
                notes=[] if key else [f"no {KEY_ENV}: keyless use allows 500 queries a day"])


def rows(body: bytes, where: str = "census") -> list[list]:
    """The JSON array of arrays of a response (``[]`` for an empty body), checked for shape."""
    text = body.decode("utf-8", "replace").strip()
    if not text:
        return []
    if "invalid key" in text[:2000].lower():
        from .http import AuthError

        raise AuthError(f"{where}: {AUTH_HINT}")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        raise FetchError(f"{where}: the answer is not a JSON array: {text[:160]!r}") from None
    if not isinstance(doc, list) or not all(isinstance(r, list) for r in doc):
        raise FetchError(f"{where}: expected a JSON array of arrays (first row the header)")
    if doc and any(len(r) != len(doc[0]) for r in doc):
        raise FetchError(f"{where}: rows of different lengths in the JSON array")
    return doc


def count(req: Request, resp: Response) -> tuple[int, str]:
    doc = rows(resp.body, f"census: {req.full_url()}")
    return max(0, len(doc) - 1), ("no content (HTTP 204)" if resp.status == 204 else "")


def finish(root: Path, requests: list[Request], pages: list[dict]) -> tuple[list[str], dict]:
    """One CSV per non-empty response: the same header and rows, in the layout the census reader reads."""
    files = []
    for page in pages:
        if not page["records"]:
            continue
        doc = rows((root / page["file"]).read_bytes())
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        for r in doc:
            w.writerow(["" if v is None else v for v in r])
        name = Path(page["file"]).stem + ".csv"
        atomic_write_bytes(root / name, buf.getvalue().encode("utf-8"))
        files.append(name)
    return files, {}
