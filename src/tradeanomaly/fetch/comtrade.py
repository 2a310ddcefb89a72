"""UN Comtrade Plus API client: final data (``/data/v1/get``) with a key, the keyless preview otherwise.

Endpoints: ``https://comtradeapi.un.org/data/v1/get/C/{freq}/HS`` with the subscription key in the
``Ocp-Apim-Subscription-Key`` header (``COMTRADE_API_KEY``), at most :data:`KEY_LIMIT` records a call; without a
key, ``https://comtradeapi.un.org/public/v1/preview/C/{freq}/HS``, at most :data:`PREVIEW_LIMIT` records a call.
The response is a JSON document ``{"elapsedTime", "count", "data": [records], "error"}``; it is saved as it
is and read by the ``comtrade`` reader.

Pages: one request per period (the API takes at most 12 periods a call, and one month of HS 6-digit data for a
large reporter already runs to tens of thousands of records), so a page that fills the record limit is one
period, named in the warning. Only totals over transport modes (``motCode=0``), customs procedures
(``customsCode=C00``) and second partners (``partner2Code=0``) are asked for: the breakdowns are set aside by
the reader anyway. Pace: one request a second, the API's documented rate.
"""

from __future__ import annotations

import json
import os

from . import FetchError, Plan
from .http import Request, Response
from .query import country_codes, expand_periods

BASE = "https://comtradeapi.un.org"
PREVIEW_LIMIT = 500
KEY_LIMIT = 100_000
KEY_ENV = "COMTRADE_API_KEY"
HEADER = "Ocp-Apim-Subscription-Key"
HS_LEVELS = {"2": "AG2", "4": "AG4", "6": "AG6", "TOTAL": "TOTAL"}
AUTH_HINT = (f"set {KEY_ENV} to a valid key of the comtrade-v1 product (comtradedeveloper.un.org, profile > "
             f"subscriptions), or unset it to use the keyless preview ({PREVIEW_LIMIT} records a call)")


def plan(*, reporter: str, partner: str = "all", period: str, freq: str = "M", hs: str = "2",
         flow: str = "X,M", key: str | None = None) -> Plan:
    """The requests of one Comtrade query; ``key`` defaults to ``$COMTRADE_API_KEY`` (empty means none)."""
    from ..errors import ConfigError

    key = os.environ.get(KEY_ENV) if key is None else key
    key = (key or "").strip() or None
    freq = freq.upper()
    if freq not in ("M", "A"):
        raise ConfigError(f"--freq {freq}: choose M (monthly) or A (annual)")
    level = HS_LEVELS.get(str(hs).upper())
    if level is None:
        raise ConfigError(f"--hs {hs}: choose 2, 4, 6 or TOTAL")
    flows = [f.strip().upper() for f in flow.split(",") if f.strip()]
    if not flows or any(f not in ("X", "M", "RX", "RM") for f in flows):
        raise ConfigError(f"--flow {flow}: give X, M, RX or RM, comma-separated")
    periods = expand_periods(period, freq)
    reporters = country_codes(reporter, "comtrade", "--reporter")
    if reporters is None:
        raise ConfigError("--reporter all: name the reporters (CHN or CHN,USA); Comtrade answers one reporter's "
                          "records a call and `all` reporters at 6 digits exceeds any record limit")
    partners = country_codes(partner, "comtrade", "--partner")
    limit = KEY_LIMIT if key else PREVIEW_LIMIT
    url = f"{BASE}/data/v1/get/C/{freq}/HS" if key else f"{BASE}/public/v1/preview/C/{freq}/HS"
    headers = ((HEADER, key),) if key else ()
    requests = []
    for p in periods:
        code = p.replace("-", "")
        params = [("reporterCode", ",".join(reporters)), ("period", code)]
        if partners is not None:
            params.append(("partnerCode", ",".join(partners)))
        params += [("partner2Code", "0"), ("cmdCode", level), ("flowCode", ",".join(flows)),
                   ("customsCode", "C00"), ("motCode", "0"), ("maxRecords", str(limit)), ("format", "JSON"),
                   ("breakdownMode", "classic"), ("includeDesc", "true")]
        requests.append(Request(name=f"comtrade-{code}", url=url, params=tuple(params), headers=headers,
                                secret=frozenset({HEADER})))
    query = {"publisher": "comtrade", "endpoint": "final" if key else "preview", "reporter": reporter.upper(),
             "partner": partner.upper(), "period": period, "freq": freq, "hs": level, "flow": ",".join(flows)}
    notes = [] if key else [f"no {KEY_ENV}: using the keyless preview endpoint, at most {PREVIEW_LIMIT} records "
                            "a call"]

    def warn(req: Request, n: int) -> str | None:
        if n >= limit:
            fix = "narrow the query (--hs 2, fewer partners)" if key else f"set {KEY_ENV} for {KEY_LIMIT:,} a call"
            return (f"{req.name}: {n} records, the {'final-data' if key else 'preview'} endpoint's limit of "
                    f"{limit:,} a call: the result is probably cut short; {fix}")
        return None

    return Plan(publisher="comtrade", query=query, requests=requests, source="comtrade", min_interval=1.0,
                auth_hint=AUTH_HINT, count=count, finish=finish, warn=warn,
                empty_hint="check --reporter, --period and --freq (recent months are published with a lag)",
                notes=notes)


def count(req: Request, resp: Response) -> tuple[int, str]:
    """Records in a Comtrade response; an error document is a :class:`FetchError` with its message."""
    try:
        doc = json.loads(resp.body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise FetchError(f"comtrade: {req.full_url()}: the answer is not JSON: "
                         f"{resp.body[:120].decode('utf-8', 'replace')!r}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("data", []), list):
        raise FetchError(f"comtrade: {req.full_url()}: JSON without a `data` list of records")
    err = doc.get("error") or doc.get("message")
    data = doc.get("data") or []
    if err and not data:
        raise FetchError(f"comtrade: {req.full_url()}: the API answered with an error: {err}")
    return len(data), ""


def finish(root, requests: list[Request], pages: list[dict]) -> tuple[list[str], dict]:
    """The comtrade reader reads the responses themselves (the empty ones hold nothing to read)."""
    return [p["file"] for p in pages if p["records"]], {}
