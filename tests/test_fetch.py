"""Fetch clients against recorded responses (tests/fixtures/fetch, written from the publishers' documented formats);
the network is never used: respx intercepts every httpx request and fails on any it does not know."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx", reason="the fetch extra (httpx) is not installed")
respx = pytest.importorskip("respx", reason="respx (dev extra) is not installed")

from tradeanomaly.fetch import AuthError, EmptyResultError, FetchError, QuotaError, fetch  # noqa: E402
from tradeanomaly.fetch import census, comtrade, imf  # noqa: E402
from tradeanomaly.fetch.http import retry_after_seconds  # noqa: E402
from tradeanomaly.fetch.store import reader_input  # noqa: E402
from tradeanomaly.sources import read_source  # noqa: E402

FIX = Path(__file__).parent / "fixtures" / "fetch"
PREVIEW = "https://comtradeapi.un.org/public/v1/preview/C/M/HS"
FINAL = "https://comtradeapi.un.org/data/v1/get/C/M/HS"
CENSUS = "https://api.census.gov/data/timeseries/intltrade/imports/hs"
IMF_CHN = "https://api.imf.org/external/sdmx/2.1/data/IMF.STA,IMTS/CHN.XG_FOB_USD+MG_CIF_USD+MG_FOB_USD..M"


class FakeTime:
    """A clock that moves only when slept on; records every sleep."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps: list[float] = []

    def sleep(self, s):
        self.sleeps.append(round(s, 6))
        self.now += s

    def clock(self):
        return self.now


def _fixture(name) -> bytes:
    return (FIX / name).read_bytes()


def _comtrade_plan(**kw):
    args = dict(reporter="CHN", partner="all", period="2025-01:2025-02", freq="M", hs="2", key="")
    args.update(kw)
    return comtrade.plan(**args)


def _route_comtrade(mock, url=PREVIEW):
    return {p: mock.get(url, params={"period": p}).mock(
        return_value=httpx.Response(200, content=_fixture(f"comtrade-{p}.json")))
        for p in ("202501", "202502")}


def test_comtrade_preview_two_pages_into_a_folder_with_a_manifest(tmp_path):
    with respx.mock:
        routes = _route_comtrade(respx)
        t = FakeTime()
        res = fetch(_comtrade_plan(), tmp_path / "out", sleep=t.sleep, clock=t.clock)
    assert [r.call_count for r in routes.values()] == [1, 1]
    sent = routes["202501"].calls[0].request
    assert sent.url.params["reporterCode"] == "156" and sent.url.params["cmdCode"] == "AG2"
    assert sent.url.params["maxRecords"] == "500" and "partnerCode" not in sent.url.params
    assert "ocp-apim-subscription-key" not in sent.headers
    m = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert m["records"] == 8 and [p["records"] for p in m["requests"]] == [5, 3]
    assert m["reader"] == {"source": "comtrade", "files": ["raw/comtrade-202501.json", "raw/comtrade-202502.json"],
                           "options": {}}
    for rel, sha in m["files"].items():
        assert hashlib.sha256((tmp_path / "out" / rel).read_bytes()).hexdigest() == sha
    assert (tmp_path / "out" / "raw" / "comtrade-202501.json").read_bytes() == _fixture("comtrade-202501.json")
    assert m["versions"]["httpx"] == httpx.__version__
    assert any("500 records" in w for w in res.warnings)
    assert t.sleeps == [1.0]  # one second between the two calls: Comtrade's pace


def test_comtrade_preview_limit_warns(tmp_path):
    doc = json.loads(_fixture("comtrade-202501.json"))
    doc["data"] = doc["data"][:1] * 500
    with respx.mock:
        respx.get(PREVIEW).mock(return_value=httpx.Response(200, json=doc))
        t = FakeTime()
        res = fetch(_comtrade_plan(period="2025-01"), tmp_path, sleep=t.sleep, clock=t.clock)
    assert [w for w in res.warnings if "cut short" in w] == [
        "comtrade-202501: 500 records, the preview endpoint's limit of 500 a call: the result is probably cut "
        "short; set COMTRADE_API_KEY for 100,000 a call"]
    assert json.loads((tmp_path / "manifest.json").read_text())["warnings"] == res.warnings


def test_comtrade_key_goes_in_a_header_and_nowhere_on_disk(tmp_path):
    with respx.mock:
        routes = _route_comtrade(respx, url=FINAL)
        t = FakeTime()
        fetch(_comtrade_plan(key="SECRET-KEY-1"), tmp_path, sleep=t.sleep, clock=t.clock)
    req = routes["202501"].calls[0].request
    assert req.headers["Ocp-Apim-Subscription-Key"] == "SECRET-KEY-1"
    assert req.url.params["maxRecords"] == "100000"
    for p in tmp_path.rglob("*"):
        if p.is_file():
            assert b"SECRET-KEY-1" not in p.read_bytes(), p


def test_401_is_one_line_on_how_to_set_the_key(tmp_path):
    with respx.mock:
        respx.get(FINAL).mock(return_value=httpx.Response(401, content=_fixture("comtrade-401.json")))
        with pytest.raises(AuthError) as exc:
            fetch(_comtrade_plan(key="bad"), tmp_path, sleep=lambda s: None)
    msg = str(exc.value)
    assert "HTTP 401" in msg and "COMTRADE_API_KEY" in msg and "\n" not in msg and "bad" not in msg
    assert not (tmp_path / "manifest.json").exists()


def test_403_census_names_census_key(tmp_path):
    with respx.mock:
        respx.get(CENSUS).mock(return_value=httpx.Response(403, text="Forbidden"))
        with pytest.raises(AuthError, match="CENSUS_API_KEY"):
            fetch(census.plan(period="2025-01", key="k"), tmp_path, sleep=lambda s: None)


def test_429_then_success_honours_retry_after_and_backs_off(tmp_path):
    with respx.mock:
        route = respx.get(PREVIEW).mock(side_effect=[
            httpx.Response(429, headers={"Retry-After": "7"}),
            httpx.Response(503), httpx.Response(502),
            httpx.Response(200, content=_fixture("comtrade-202501.json"))])
        t = FakeTime()
        res = fetch(_comtrade_plan(period="2025-01"), tmp_path, sleep=t.sleep, clock=t.clock)
    assert route.call_count == 4 and res.requested == 4
    # Retry-After 7 s, then back-off 2 s and 4 s (attempts 1 and 2); the pace never adds a wait on top
    assert t.sleeps == [7.0, 2.0, 4.0]
    assert res.manifest["records"] == 5


def test_429_after_every_retry_is_a_quota_error(tmp_path):
    with respx.mock:
        route = respx.get(PREVIEW).mock(return_value=httpx.Response(429))
        t = FakeTime()
        with pytest.raises(QuotaError, match="run the same command again"):
            fetch(_comtrade_plan(period="2025-01"), tmp_path, sleep=t.sleep, clock=t.clock, retries=3)
    assert route.call_count == 4 and t.sleeps == [1.0, 2.0, 4.0]


def test_a_long_retry_after_is_not_waited_out(tmp_path):
    with respx.mock:
        route = respx.get(PREVIEW).mock(return_value=httpx.Response(429, headers={"Retry-After": "3600"}))
        t = FakeTime()
        with pytest.raises(QuotaError, match="asks to wait 3600 s"):
            fetch(_comtrade_plan(period="2025-01"), tmp_path, sleep=t.sleep, clock=t.clock)
    assert route.call_count == 1 and t.sleeps == []


def test_retry_after_as_http_date():
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:30 GMT", now=1445412480.0) == 30.0
    assert retry_after_seconds("120") == 120.0 and retry_after_seconds("soon") is None


def test_empty_result_is_an_error(tmp_path):
    with respx.mock:
        respx.get(PREVIEW).mock(return_value=httpx.Response(200, content=_fixture("comtrade-empty.json")))
        with pytest.raises(EmptyResultError, match="no records for this query"):
            fetch(_comtrade_plan(), tmp_path, sleep=lambda s: None)
    assert not (tmp_path / "manifest.json").exists()


def test_census_204_everywhere_is_empty(tmp_path):
    with respx.mock:
        respx.get(CENSUS).mock(return_value=httpx.Response(204))
        with pytest.raises(EmptyResultError, match="census"):
            fetch(census.plan(period="2025-01:2025-02", key=""), tmp_path, sleep=lambda s: None)


def test_comtrade_error_document_is_an_error(tmp_path):
    with respx.mock:
        respx.get(PREVIEW).mock(return_value=httpx.Response(200, json={"data": [], "error": "Invalid period"}))
        with pytest.raises(FetchError, match="Invalid period"):
            fetch(_comtrade_plan(), tmp_path, sleep=lambda s: None)


def test_same_request_again_makes_no_call(tmp_path):
    with respx.mock:
        routes = _route_comtrade(respx)
        t = FakeTime()
        first = fetch(_comtrade_plan(), tmp_path, sleep=t.sleep, clock=t.clock)
        again = fetch(_comtrade_plan(), tmp_path, sleep=t.sleep, clock=t.clock)
        third = fetch(_comtrade_plan(), tmp_path, sleep=t.sleep, clock=t.clock)
    assert [r.call_count for r in routes.values()] == [1, 1]
    assert (first.requested, again.requested, third.requested) == (2, 0, 0) and again.cached == 2
    assert again.manifest["files"] == first.manifest["files"]


def test_resume_after_an_interrupted_fetch(tmp_path):
    with respx.mock:
        ok = respx.get(PREVIEW, params={"period": "202501"}).mock(
            return_value=httpx.Response(200, content=_fixture("comtrade-202501.json")))
        bad = respx.get(PREVIEW, params={"period": "202502"}).mock(side_effect=httpx.ConnectError("down"))
        with pytest.raises(FetchError, match="no answer after 3 tries"):
            fetch(_comtrade_plan(), tmp_path, sleep=lambda s: None, retries=2)
    assert not (tmp_path / "manifest.json").exists()
    with pytest.raises(Exception, match="did not finish"):
        reader_input(tmp_path)
    # a half-written response left by a killed process is never taken as complete
    (tmp_path / "raw" / ".comtrade-202502.json.part").write_bytes(b'{"data": [')
    with respx.mock:
        ok2 = respx.get(PREVIEW, params={"period": "202501"}).mock(return_value=httpx.Response(500))
        good = respx.get(PREVIEW, params={"period": "202502"}).mock(
            return_value=httpx.Response(200, content=_fixture("comtrade-202502.json")))
        res = fetch(_comtrade_plan(), tmp_path, sleep=lambda s: None)
    assert (ok.call_count, bad.call_count, ok2.call_count, good.call_count) == (1, 3, 0, 1)
    assert res.requested == 1 and res.cached == 1 and res.manifest["records"] == 8


def test_a_damaged_response_is_fetched_again(tmp_path):
    with respx.mock:
        routes = _route_comtrade(respx)
        fetch(_comtrade_plan(), tmp_path, sleep=lambda s: None)
        raw = tmp_path / "raw" / "comtrade-202502.json"
        raw.write_bytes(raw.read_bytes()[:100])  # truncated after it was recorded
        res = fetch(_comtrade_plan(), tmp_path, sleep=lambda s: None)
    assert [r.call_count for r in routes.values()] == [1, 2] and res.requested == 1
    assert raw.read_bytes() == _fixture("comtrade-202502.json")


def test_a_folder_of_another_query_is_refused(tmp_path):
    with respx.mock:
        _route_comtrade(respx)
        fetch(_comtrade_plan(), tmp_path, sleep=lambda s: None)
    with pytest.raises(Exception, match="holds another fetch"):
        fetch(_comtrade_plan(hs="6"), tmp_path, sleep=lambda s: None)


def test_imf_sdmx_message_becomes_a_dots_table(tmp_path):
    with respx.mock:
        route = respx.get(IMF_CHN).mock(return_value=httpx.Response(200, content=_fixture("imf-imts-CHN.xml")))
        res = fetch(imf.plan(reporter="CHN", period="2025-01:2025-03"), tmp_path, sleep=lambda s: None)
    req = route.calls[0].request
    assert req.url.params["startPeriod"] == "2025-01" and req.url.params["endPeriod"] == "2025-03"
    assert req.headers["accept"] == imf.ACCEPT
    assert res.manifest["records"] == 8 and res.manifest["reader"]["source"] == "imf-dots"
    inp = reader_input(tmp_path)
    r = read_source(inp["source"], inp["files"], **inp["options"])
    f = r.flows.sort_values(["flow", "partner", "period"]).reset_index(drop=True)
    assert len(f) == 8 and r.ledger.counts["kept"] == 8
    assert f["value_usd"].tolist() == [12345678900.0, 11345678900.0, 38123456789.0, 30123456789.0, 35012500000.0,
                                       14876543210.0, 15876543210.0, 16001000000.0]
    assert f["partner"].tolist() == ["USA"] * 5 + ["VNM"] * 3 and set(f["reporter"]) == {"CHN"}
    assert f.loc[f["estimated"], ["flow", "partner", "period"]].values.tolist() == [["X", "USA", "2025-03"]]
    # 3 series x 3 months of value cells (one empty) + 3 status cells of the series with an estimate
    assert r.ledger.counts.get("missing_value") == 1 and sum(r.ledger.counts.values()) == 12


def test_imf_no_results_for_one_reporter_is_an_empty_page(tmp_path):
    with respx.mock:
        respx.get(IMF_CHN).mock(return_value=httpx.Response(200, content=_fixture("imf-imts-CHN.xml")))
        respx.get(IMF_CHN.replace("/CHN.", "/USA.")).mock(
            return_value=httpx.Response(404, content=_fixture("imf-noresults.xml")))
        res = fetch(imf.plan(reporter="CHN,USA", period="2025-01:2025-03"), tmp_path, sleep=lambda s: None)
    assert [p["records"] for p in res.manifest["requests"]] == [8, 0]
    assert res.manifest["requests"][1]["note"] == "no results (HTTP 404)"


def test_census_json_array_becomes_the_csv_the_reader_reads(tmp_path):
    with respx.mock:
        route = respx.get(CENSUS).mock(return_value=httpx.Response(
            200, content=_fixture("census-imports-2025-01.json")))
        res = fetch(census.plan(period="2025-01", partner="all", hs="6", key=""), tmp_path, sleep=lambda s: None)
    q = route.calls[0].request.url.params
    assert (q["time"], q["COMM_LVL"], "key" in q) == ("2025-01", "HS6", False)
    assert res.manifest["records"] == 5 and res.manifest["reader"]["files"] == ["census-imports-2025-01.csv"]
    inp = reader_input(tmp_path)
    r = read_source(inp["source"], inp["files"])
    assert r.ledger.rows_in == 5 and r.ledger.counts == {"kept": 4, "aggregate_area": 1}
    f = r.flows.sort_values(["partner", "hs"]).reset_index(drop=True)
    assert f[["partner", "hs", "value_usd"]].values.tolist() == [
        ["CHN", "847130", 2345678901.0], ["CHN", "851713", 4123456789.0], ["TWN", "847130", 987654321.0],
        ["VNM", "851713", 1234567890.0]]
    assert set(f["period"]) == {"2025-01"} and set(f["reporter"]) == {"USA"}


def test_census_key_is_a_redacted_parameter():
    req = census.plan(period="2025-01", key="SEKRIT").requests[0]
    assert dict(req.params)["key"] == "SEKRIT"
    assert "SEKRIT" not in req.describe() and "key=***" in req.describe()
    assert "key" not in json.dumps(req.key())


@pytest.mark.parametrize("kw, message", [
    (dict(period="2025-03:2025-01"), "must run forward"),
    (dict(period="2025", freq="M"), "--freq M takes months"),
    (dict(reporter="XYZ"), "`XYZ` is not an ISO 3166"),
    (dict(reporter="all"), "name the reporters"),
    (dict(hs="5"), "--hs 5"),
])
def test_bad_query_arguments(kw, message):
    from tradeanomaly.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        _comtrade_plan(**kw)


def test_without_httpx_the_error_names_the_extra(tmp_path, monkeypatch):
    import sys

    from tradeanomaly.errors import MissingExtraError

    monkeypatch.setitem(sys.modules, "httpx", None)  # import httpx now raises ImportError
    with pytest.raises(MissingExtraError, match=r"pip install 'tradeanomaly\[fetch\]'"):
        fetch(_comtrade_plan(period="2025-01"), tmp_path, sleep=lambda s: None)


def test_pace_keeps_the_publishers_interval():
    from tradeanomaly.fetch.http import Pace

    t = FakeTime()
    pace = Pace(0.5, sleep=t.sleep, clock=t.clock)
    pace.wait()
    t.now += 0.2  # the request took 0.2 s
    pace.wait()
    t.now += 0.7
    pace.wait()
    assert t.sleeps == [0.3]
