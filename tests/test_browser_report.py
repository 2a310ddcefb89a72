"""The report in a real headless Chromium: overview above the table, sorting by a header click, no sideways
scroll at 1280 px, the top case's chart present. Screenshots go to $TRADEANOMALY_ARTIFACTS (default
tests/_artifacts)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from report_support import report_runs  # noqa: F401

ARTIFACTS = Path(os.environ.get("TRADEANOMALY_ARTIFACTS", Path(__file__).parent / "_artifacts"))
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def _browser(pw):
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("no Chromium: Debian's chromium package is not installed (.ci/run installs it)")
    return pw.chromium.launch(executable_path=exe, args=ARGS)


@pytest.fixture(scope="module")
def page_of(report_runs):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = _browser(pw)
        try:
            def open_page(width: int, scripts: bool = True):
                ctx = browser.new_context(viewport={"width": width, "height": 900}, java_script_enabled=scripts)
                page = ctx.new_page()
                page.messages, page.requests = [], []
                page.on("console", lambda m: page.messages.append((m.type, m.text)))
                page.on("pageerror", lambda e: page.messages.append(("pageerror", str(e))))
                page.on("request", lambda r: page.requests.append(r.url))
                page.goto((report_runs[3].out_dir / "report.html").as_uri())
                return page
            yield open_page
        finally:
            browser.close()


def _column(page, i: int) -> list[str]:
    return page.eval_on_selector_all(f"#flags-table tbody tr td:nth-child({i})",
                                     "cells => cells.map(c => c.textContent.trim())")


def test_first_screen_sort_and_width(page_of, report_runs):
    page = page_of(1280)
    assert [m for m in page.messages if m[0] in ("error", "pageerror")] == []
    assert all(u.startswith(("file://", "data:")) for u in page.requests)  # no network
    # the overview sits above the table, on the first screen
    ov = page.locator("#overview").bounding_box()
    table = page.locator("#flags-table").bounding_box()
    assert ov["y"] < table["y"] and ov["y"] < 900
    assert page.locator("#overview svg.overview-chart rect").count() >= 2
    # no sideways scroll at 1280 px
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=str(ARTIFACTS / "report-overview.png"))
    # a click on the USD header reorders the rows by dollars, a second click reverses them
    ranks = _column(page, 1)
    assert ranks == sorted(ranks, key=int)
    page.click("#flags-table thead th:nth-child(7)")
    usd = [float(v) for v in page.eval_on_selector_all(
        "#flags-table tbody tr td:nth-child(7)", "cells => cells.map(c => c.getAttribute('data-v'))")]
    assert usd == sorted(usd) and _column(page, 1) != ranks
    page.click("#flags-table thead th:nth-child(7)")
    usd2 = [float(v) for v in page.eval_on_selector_all(
        "#flags-table tbody tr td:nth-child(7)", "cells => cells.map(c => c.getAttribute('data-v'))")]
    assert usd2 == sorted(usd, reverse=True)
    # the kind filter keeps only that kind's rows
    flags = pd.read_csv(report_runs[3].out_dir / "flags.csv", dtype=str, keep_default_na=False)
    ranked = flags[(flags["label"] == "fraud_signal") & (flags["status"] != "resolved")]
    kind = ranked["kind"].value_counts().index[0]
    page.select_option("#filter-kind", kind)
    visible = page.locator("#flags-table tbody tr:visible")
    assert visible.count() == int((ranked["kind"] == kind).sum())
    assert page.locator("#filter-count").inner_text() == f"{visible.count()} of {len(ranked)} cases shown"


def test_top_case_chart_and_no_script_view(page_of, report_runs):
    flags = pd.read_csv(report_runs[3].out_dir / "flags.csv", dtype=str, keep_default_na=False)
    top = flags[flags["label"] == "fraud_signal"].iloc[0]
    page = page_of(1280)
    card = page.locator("#card-1")
    assert top["subject"] in card.inner_text()
    assert card.locator("svg polyline").count() >= 2  # the series behind it, two lines at least
    card.screenshot(path=str(ARTIFACTS / "report-card-1.png"))
    plain = page_of(1280, scripts=False)  # still readable with scripts off: every row, no filter controls
    assert plain.locator("#flags-table tbody tr:visible").count() == int(
        ((flags["label"] == "fraud_signal") & (flags["status"] != "resolved")).sum())
    assert not plain.locator("#flags-filter").is_visible()
    assert plain.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert (ARTIFACTS / "report-overview.png").stat().st_size > 10_000
