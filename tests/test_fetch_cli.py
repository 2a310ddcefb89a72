"""`tradeanomaly fetch` then `tradeanomaly run FOLDER`, end to end on recorded responses (no network)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

httpx = pytest.importorskip("httpx", reason="the fetch extra (httpx) is not installed")
respx = pytest.importorskip("respx", reason="respx (dev extra) is not installed")

from tradeanomaly.cli import main  # noqa: E402

FIX = Path(__file__).parent / "fixtures" / "fetch"
PREVIEW = "https://comtradeapi.un.org/public/v1/preview/C/M/HS"
CENSUS = "https://api.census.gov/data/timeseries/intltrade/imports/hs"


@pytest.fixture(autouse=True)
def _no_wait(monkeypatch):
    monkeypatch.setattr("tradeanomaly.fetch.http.time.sleep", lambda s: None)
    monkeypatch.delenv("COMTRADE_API_KEY", raising=False)
    monkeypatch.delenv("CENSUS_API_KEY", raising=False)


def _mock_comtrade():
    for p in ("202501", "202502"):
        respx.get(PREVIEW, params={"period": p}).mock(
            return_value=httpx.Response(200, content=(FIX / f"comtrade-{p}.json").read_bytes()))


def test_fetch_comtrade_then_run_reads_every_record(tmp_path):
    folder, reports = tmp_path / "chn", tmp_path / "reports"
    runner = CliRunner()
    with respx.mock:
        _mock_comtrade()
        res = runner.invoke(main, ["fetch", "comtrade", "--reporter", "CHN", "--partner", "all", "--period",
                                   "2025-01:2025-02", "--freq", "M", "--hs", "2", "--out", str(folder)],
                            catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "8 records in 2 responses (2 requested, 0 from the folder)" in res.stdout
    assert "at most 500 records a call" in res.stderr  # the keyless preview and its limit, stated
    res = runner.invoke(main, ["run", str(folder), "--period", "all", "--out", str(reports), "--quiet"],
                        catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "7 flows" in res.stdout
    run_dir = next(p for p in reports.iterdir() if p.is_dir())
    ledger = json.loads((run_dir / "ledger.json").read_text())
    text = json.dumps(ledger)
    # every record of the two responses is in the ledger: 7 analysed, the EU aggregate set aside
    read = next(s for s in (ledger if isinstance(ledger, list) else ledger.get("stages", ledger.get("ledgers", [])))
                if s.get("stage") == "read:comtrade")
    assert read["rows_in"] == 8 and read["counts"] == {"kept": 7, "aggregate_area": 1}, text[:500]
    assert {Path(p).name for p in read["inputs"]} == {"comtrade-202501.json", "comtrade-202502.json"}


def test_fetch_again_is_served_from_the_folder(tmp_path):
    runner = CliRunner()
    args = ["fetch", "census", "--flow", "imports", "--partner", "all", "--hs", "6", "--period", "2025-01",
            "--out", str(tmp_path / "c")]
    with respx.mock:
        route = respx.get(CENSUS).mock(return_value=httpx.Response(
            200, content=(FIX / "census-imports-2025-01.json").read_bytes()))
        first = runner.invoke(main, args, catch_exceptions=False)
        second = runner.invoke(main, args, catch_exceptions=False)
    assert route.call_count == 1
    assert "(1 requested, 0 from the folder)" in first.stdout
    assert "(0 requested, 1 from the folder)" in second.stdout


def test_dry_run_prints_requests_with_the_key_redacted(monkeypatch):
    monkeypatch.setenv("CENSUS_API_KEY", "TOPSECRET")
    with respx.mock:  # any request would fail: nothing is routed
        res = CliRunner().invoke(main, ["fetch", "census", "--period", "2025-01:2025-03", "--dry-run"],
                                 catch_exceptions=False)
    assert res.exit_code == 0
    lines = res.stdout.splitlines()
    assert len(lines) == 3 and all(line.startswith(f"GET {CENSUS}?get=") for line in lines)
    assert "time=2025-02" in lines[1] and "key=***" in lines[0] and "TOPSECRET" not in res.output


def test_auth_error_is_one_line_exit_1(monkeypatch, tmp_path):
    monkeypatch.setenv("COMTRADE_API_KEY", "wrong")
    with respx.mock:
        respx.get("https://comtradeapi.un.org/data/v1/get/C/M/HS").mock(
            return_value=httpx.Response(401, content=(FIX / "comtrade-401.json").read_bytes()))
        res = CliRunner().invoke(main, ["fetch", "comtrade", "--reporter", "CHN", "--period", "2025-01",
                                        "--out", str(tmp_path / "x")], catch_exceptions=False)
    assert res.exit_code == 1
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("Error: comtrade:") and "COMTRADE_API_KEY" in err[0]


def test_run_on_an_unfinished_fetch_says_to_rerun(tmp_path):
    with respx.mock:
        respx.get(PREVIEW, params={"period": "202501"}).mock(
            return_value=httpx.Response(200, content=(FIX / "comtrade-202501.json").read_bytes()))
        respx.get(PREVIEW, params={"period": "202502"}).mock(return_value=httpx.Response(500))
        res = CliRunner().invoke(main, ["fetch", "comtrade", "--reporter", "CHN", "--period", "2025-01:2025-02",
                                        "--out", str(tmp_path / "f")], catch_exceptions=False)
    assert res.exit_code == 1 and "HTTP 500 after 5 retries" in res.stderr
    res = CliRunner().invoke(main, ["run", str(tmp_path / "f"), "--out", str(tmp_path / "r")],
                             catch_exceptions=False)
    assert res.exit_code == 1 and "did not finish" in res.stderr and "run the same" in res.stderr
