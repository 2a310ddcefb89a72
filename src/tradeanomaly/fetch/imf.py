"""IMF International Trade in Goods (IMTS, formerly DOTS) from the IMF's SDMX 2.1 API.

``GET https://api.imf.org/external/sdmx/2.1/data/IMF.STA,IMTS/{REPORTER}.XG_FOB_USD+MG_CIF_USD+MG_FOB_USD..M
?startPeriod=2024-01&endPeriod=2025-10`` with ``Accept: application/vnd.sdmx.genericdata+xml;version=2.1``. The key
is ``COUNTRY.INDICATOR.COUNTERPART_COUNTRY.FREQUENCY`` with ISO 3166 alpha-3 countries; the answer is an SDMX-ML
2.1 generic data message (``generic:Series`` with ``SeriesKey``, ``Attributes`` and ``Obs``; ``UNIT_MULT`` or
``SCALE`` the power of ten of the values, ``OBS_STATUS`` ``e`` for estimates). No matching series is HTTP 404
``NoResultsFound`` (or a message without series); both count as an empty page.

Pages: one request per reporter. Each message is saved as sent (``raw/*.xml``) and rendered as one CSV in the DOTS
bulk layout (``imf-dots.csv``: one row per series, one column per period, a ``Status`` row where the IMF marks
estimates, values in US dollars), which the ``imf-dots`` reader reads. The generic message is read with the
standard library's XML parser: it needs no data structure definition. Pace: the IMF's limit of 10 requests in
5 seconds.
"""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from decimal import Decimal, InvalidOperation
from pathlib import Path

from . import FetchError, Plan
from .http import Request, Response
from .query import expand_periods
from .store import atomic_write_bytes

BASE = "https://api.imf.org/external/sdmx/2.1/data"
DATASETS = {"IMTS": "IMF.STA,IMTS", "DOTS": "IMF.STA,IMTS"}  # DOTS was renamed IMTS in 2025
ACCEPT = "application/vnd.sdmx.genericdata+xml;version=2.1"
INDICATORS = ("XG_FOB_USD", "MG_CIF_USD", "MG_FOB_USD")
#: IMTS indicator -> the DOTS bulk indicator code the reader knows
DOTS_CODES = {"XG_FOB_USD": "TXG_FOB_USD", "MG_CIF_USD": "TMG_CIF_USD", "MG_FOB_USD": "TMG_FOB_USD",
              "TBG_USD": "TBG_USD"}
NS = {"generic": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/data/generic",
      "message": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message"}
OUT_FILE = "imf-dots.csv"
_PERIOD = re.compile(r"^(\d{4})(?:-?([MQ])(\d{1,2}))?$")


def plan(*, dataset: str = "IMTS", reporter: str, period: str, freq: str = "M") -> Plan:
    from ..errors import ConfigError

    flow = DATASETS.get(dataset.upper())
    if flow is None:
        raise ConfigError(f"--dataset {dataset}: choose IMTS (DOTS is its former name)")
    freq = freq.upper()
    if freq not in ("M", "Q", "A"):
        raise ConfigError(f"--freq {freq}: choose M, Q or A")
    periods = expand_periods(period, freq)
    reporters = [r.strip().upper() for r in reporter.split(",") if r.strip()]
    if not reporters or any(not re.fullmatch(r"[A-Z0-9]{3,4}", r) for r in reporters):
        raise ConfigError(f"--reporter {reporter}: give ISO3 codes such as CHN,USA")
    requests = [Request(name=f"imf-{dataset.lower()}-{r}", url=f"{BASE}/{flow}/{r}.{'+'.join(INDICATORS)}..{freq}",
                        params=(("startPeriod", periods[0]), ("endPeriod", periods[-1])),
                        headers=(("Accept", ACCEPT),), suffix=".xml")
                for r in reporters]
    query = {"publisher": "imf", "dataset": dataset.upper(), "reporter": ",".join(reporters), "period": period,
             "freq": freq}
    return Plan(publisher="imf", query=query, requests=requests, source="imf-dots", min_interval=0.5,
                auth_hint="the IMF API refused the request; its public datasets need no key, so check the "
                          "dataset name and try again later",
                count=count, finish=finish, empty_statuses=frozenset({404}), empty_hint="check --reporter (ISO3 codes) and --period")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def series(body: bytes, where: str = "imf") -> list[dict]:
    """``[{"key": {dim: code}, "attrs": {...}, "obs": [(period, value text, status)]}]`` of a generic message."""
    if not body.strip():
        return []
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        text = body[:160].decode("utf-8", "replace")
        raise FetchError(f"{where}: not an SDMX-ML message ({exc}): {text!r}") from None
    name = _local(root.tag)
    if name == "Error":
        text = " ".join(t.strip() for t in root.itertext() if t.strip())
        if "NoResults" in text or "No Results" in text or "NoRecordsFound" in text:
            return []
        raise FetchError(f"{where}: the API answered with an error: {text[:300]}")
    if name != "GenericData":
        raise FetchError(f"{where}: expected an SDMX-ML 2.1 generic data message, got <{name}>; ask for {ACCEPT}")
    out = []
    for s in root.iter(f"{{{NS['generic']}}}Series"):
        key = {v.get("id"): v.get("value") for v in s.findall("generic:SeriesKey/generic:Value", NS)}
        attrs = {v.get("id"): v.get("value") for v in s.findall("generic:Attributes/generic:Value", NS)}
        obs = []
        for o in s.findall("generic:Obs", NS):
            dim = o.find("generic:ObsDimension", NS)
            val = o.find("generic:ObsValue", NS)
            status = {v.get("id"): v.get("value") for v in o.findall("generic:Attributes/generic:Value", NS)}
            obs.append((dim.get("value") if dim is not None else "", val.get("value") if val is not None else "",
                        status.get("OBS_STATUS", "")))
        out.append({"key": key, "attrs": attrs, "obs": obs})
    return out


def count(req: Request, resp: Response) -> tuple[int, str]:
    if resp.status == 404:
        text = resp.body[:2000].decode("utf-8", "replace")
        if re.search(r"no\s*results?|no\s*records?|not\s*found", text, re.I):
            return 0, "no results (HTTP 404)"
        raise FetchError(f"imf: {req.full_url()}: HTTP 404: {text[:200].strip()}")
    return sum(len(s["obs"]) for s in series(resp.body, f"imf: {req.full_url()}")), ""


def _label(period: str) -> str:
    """IMF period spelling (``2024-M01``, ``2024-Q1``, ``2024``) as the DOTS bulk column label (``2024M1``)."""
    m = _PERIOD.match(period.strip())
    if not m:
        raise FetchError(f"imf: period `{period}` is not YYYY, YYYY-Mmm or YYYY-Qn")
    year, kind, n = m.groups()
    return year if kind is None else f"{year}{kind}{int(n)}"


def _sort_key(label: str):
    year, rest = label[:4], label[4:]
    return (int(year), rest[:1], int(rest[1:] or 0))


def _scaled(text: str, power: int) -> str:
    try:
        v = Decimal(text)
    except InvalidOperation:
        return text  # left for the reader to count as not numeric
    return format(v.scaleb(power).normalize(), "f") if power else text


def finish(root: Path, requests: list[Request], pages: list[dict]) -> tuple[list[str], dict]:
    """Every series of every page as one DOTS bulk CSV (a ``Status`` row for series with estimates)."""
    from ..codes.countries import crosswalk

    xw = crosswalk().set_index("iso3")

    def code_name(iso: str) -> tuple[str, str]:
        if iso in xw.index and str(xw.at[iso, "imf"]).strip():
            return str(xw.at[iso, "imf"]), str(xw.at[iso, "name_imf"] or xw.at[iso, "name_en"])
        return iso, iso  # a group or unknown code: the reader sets it aside by name

    all_series, labels = [], set()
    for page in pages:
        if not page["records"]:
            continue
        for s in series((root / page["file"]).read_bytes()):
            power = int(s["attrs"].get("UNIT_MULT") or s["attrs"].get("SCALE") or 0)
            cells = {}
            for period, value, status in s["obs"]:
                lab = _label(period)
                labels.add(lab)
                cells[lab] = (_scaled(value, power), status)
            all_series.append((s["key"], cells))
    cols = sorted(labels, key=_sort_key)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["Country Name", "Country Code", "Indicator Name", "Indicator Code", "Counterpart Country Name",
                "Counterpart Country Code", "Attribute", *cols])
    for key, cells in all_series:
        rep = key.get("COUNTRY") or key.get("REF_AREA") or ""
        par = key.get("COUNTERPART_COUNTRY") or key.get("COUNTERPART_AREA") or ""
        ind = key.get("INDICATOR", "")
        (rc, rn), (pc, pn) = code_name(rep), code_name(par)
        head = [rn, rc, ind, DOTS_CODES.get(ind, ind), pn, pc]
        w.writerow(head + ["Value"] + [cells[c][0] if c in cells else "" for c in cols])
        if any(st for _, st in cells.values()):
            w.writerow(head + ["Status"] + [cells[c][1] if c in cells else "" for c in cols])
    atomic_write_bytes(root / OUT_FILE, buf.getvalue().encode("utf-8"))
    return [OUT_FILE], {}
