"""The whole run: outputs, determinism, changes since the previous run, escaping, and the report in a browser."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from tradeanomaly.config import load_config
from tradeanomaly.pipeline import run
from tradeanomaly.synth import generate

ARTIFACTS = Path(__file__).parent / "_artifacts"
EVIL = "<script>alert('x')</script>"


@pytest.fixture(scope="module")
def panel_file(tmp_path_factory) -> Path:
    """A 3-year generated panel as a canonical CSV, plus one row whose partner is a markup string."""
    d = tmp_path_factory.mktemp("panel")
    flows = generate(seed=3, months=36).flows
    evil = flows.iloc[[0]].copy()
    evil["partner"] = EVIL
    evil["period"] = flows["period"].max()
    flows = pd.concat([flows, evil], ignore_index=True)
    path = d / "flows.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8", newline="") as fh:
        flows.to_csv(fh, index=False)
    return path


def _config(panel: Path, out: Path, period: str):
    return load_config(overrides={"input": {"source": "canonical", "files": [str(panel)]}, "out": str(out),
                                  "period": period}, environ={})


@pytest.fixture(scope="module")
def runs(panel_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    first = run(_config(panel_file, out, "2019-11"))
    second = run(_config(panel_file, out, "2019-12"))
    return out, first, second


def test_run_writes_every_output(runs):
    out, first, second = runs
    d = second.out_dir
    for name in ("flags.csv", "flags.json", "findings.csv", "report.md", "report.html", "ledger.json",
                 "manifest.json", "config.yaml"):
        assert (d / name).is_file(), name
    manifest = json.loads((d / "manifest.json").read_text())
    assert manifest["periods"] == ["2019-12"] and manifest["previous_run"] == first.run_id
    assert manifest["inputs"][0]["sha256"] and manifest["seeds"] == {"seed": 0}
    # no temporary folder left behind
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == [".tradeanomaly.lock"]
    # the ledger accounts for every input row, including the markup row set aside as unknown
    ledger = json.loads((d / "ledger.json").read_text())
    read = ledger[0]
    assert read["rows_in"] == sum(read["counts"].values())
    assert read["counts"].get("unknown_country") == 1


def test_same_configuration_gives_identical_flags(runs, panel_file, tmp_path):
    _, first, _ = runs
    again = run(_config(panel_file, tmp_path, "2019-11"))
    assert (again.out_dir / "flags.csv").read_bytes() == (first.out_dir / "flags.csv").read_bytes()
    assert (again.out_dir / "findings.csv").read_bytes() == (first.out_dir / "findings.csv").read_bytes()


def test_status_against_previous_run(runs):
    _, first, second = runs
    prev = pd.read_csv(first.out_dir / "flags.csv", dtype=str, keep_default_na=False)
    cur = pd.read_csv(second.out_dir / "flags.csv", dtype=str, keep_default_na=False)
    prev_subjects = set(prev.loc[prev["status"] != "resolved", "subject"])
    live = cur[cur["status"] != "resolved"]
    assert len(live) > 0
    for row in live.itertuples():
        want = "persisting" if row.subject in prev_subjects else "new"
        assert row.status == want, row.subject
    resolved = set(cur.loc[cur["status"] == "resolved", "subject"])
    assert resolved == prev_subjects - set(live["subject"])


def test_markup_in_input_is_escaped(runs):
    _, _, second = runs
    html = (second.out_dir / "report.html").read_text(encoding="utf-8")
    md = (second.out_dir / "report.md").read_text(encoding="utf-8")
    assert EVIL not in html and html.lower().count("<script") == 1  # only the report's own sorting script
    assert "&lt;script&gt;" in html  # it is shown, as text, in the ledger's examples
    assert "<script" not in md.lower()


def test_interrupted_write_leaves_no_report(panel_file, tmp_path, monkeypatch):
    import tradeanomaly.pipeline as pl

    def boom(result, d):
        (d / "flags.csv").write_text("partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(pl, "write_outputs", boom)
    with pytest.raises(KeyboardInterrupt):
        run(_config(panel_file, tmp_path, "2019-11"))
    assert [p.name for p in tmp_path.iterdir()] == [".tradeanomaly.lock"]  # the lock of the folder, released


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_report_in_real_browser(runs):
    exe = _chromium()
    if exe is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra")
    _, _, second = runs
    flags = pd.read_csv(second.out_dir / "flags.csv", dtype=str, keep_default_na=False)
    top = flags[flags["label"] == "fraud_signal"].iloc[0]
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            messages, requests = [], []
            page.on("console", lambda m: messages.append((m.type, m.text)))
            page.on("pageerror", lambda e: messages.append(("pageerror", str(e))))
            page.on("request", lambda r: requests.append(r.url))
            page.goto((second.out_dir / "report.html").as_uri())
            assert [m for m in messages if m[0] in ("error", "pageerror")] == []
            assert all(u.startswith("file://") or u.startswith("data:") for u in requests)  # no network
            first_row = page.locator("#flags-table tbody tr").first.inner_text()
            assert top["subject"] in first_row
            card = page.locator("#card-1")
            assert top["subject"] in card.inner_text()
            assert card.locator("svg").count() >= 1
            page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=False)
            card.screenshot(path=str(ARTIFACTS / "report-card-1.png"))
        finally:
            browser.close()
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000


def test_explain_one_subject(runs, panel_file, tmp_path):
    from click.testing import CliRunner

    from tradeanomaly.cli import main
    from tradeanomaly.report.subject import explain_subject, render_subject_html

    _, _, second = runs
    flags = second.flags[second.flags["label"] == "fraud_signal"]
    subject = flags.iloc[0]["subject"]
    text = explain_subject(second, subject)
    assert text.startswith(f"{subject}: periods under test 2019-12")
    assert "Flags:" in text and f"#1 {flags.iloc[0]['period']}" in text
    top_finding = second.findings[second.findings["subject"] == subject].iloc[0]
    assert top_finding["detail"][:60] in text
    page = render_subject_html(second, subject)
    assert "<svg" in page and "<script" not in page.lower()

    html = tmp_path / "one.html"
    res = CliRunner().invoke(main, ["explain", subject, "--source", "canonical", str(panel_file),
                                    "--period", "2019-12", "--html", str(html)], catch_exceptions=False)
    assert res.exit_code == 0
    assert res.output.startswith(f"{subject}: periods under test 2019-12") and html.is_file()


def test_large_detail_tables_are_written_as_parquet(tmp_path):
    """Above ``output.parquet_above`` rows a detail table goes to Parquet with the same rows; same bytes twice."""
    import hashlib

    from tradeanomaly.config import OutputConfig
    from tradeanomaly.pipeline import table_format, write_table

    table = pd.DataFrame({"period": ["2020", "2021", "2022"] * 100, "value": [k / 7 for k in range(300)],
                          "name": pd.Series(list("abc") * 100, dtype="str")})
    out = OutputConfig(parquet_above=299)
    assert table_format(299, out) == "csv" and table_format(300, out) == "parquet"
    assert table_format(10, OutputConfig(tables="parquet")) == "parquet"
    assert table_format(10**9, OutputConfig(tables="csv")) == "csv"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = write_table(table, tmp_path / "a" / "big", out)
    b = write_table(table, tmp_path / "b" / "big", out)
    assert a.name == "big.parquet"
    assert hashlib.sha256(a.read_bytes()).hexdigest() == hashlib.sha256(b.read_bytes()).hexdigest()
    back = pd.read_parquet(a)
    pd.testing.assert_frame_equal(back, table, check_dtype=False)
    small = write_table(table.head(5), tmp_path / "small", out)
    assert small.name == "small.csv" and len(pd.read_csv(small)) == 5
