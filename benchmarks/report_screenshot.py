"""Run the embedded sample and save the report's first screen at 1280 px as docs/report-overview.png.

    python benchmarks/report_screenshot.py [--out reports] [--png docs/report-overview.png]

Needs Chromium (Debian's ``chromium``) and playwright (the dev extra). Prints the figures the README quotes.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="reports")
    ap.add_argument("--png", default=str(Path(__file__).resolve().parents[1] / "docs" / "report-overview.png"))
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from tradeanomaly.config import load_config
    from tradeanomaly.pipeline import run

    t0 = time.perf_counter()
    result = run(load_config(overrides={"out": args.out}))
    print(f"sample run {result.run_id}: {len(result.flows):,} flows, "
          f"{int(result.flags['rank'].notna().sum())} ranked cases, {time.perf_counter() - t0:.1f} s")
    html = (result.out_dir / "report.html").resolve()
    print(f"report.html {html.stat().st_size:,} bytes, {html.read_text(encoding='utf-8').count('<svg'):,} charts")
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.goto(html.as_uri())
        print("scrollWidth <= innerWidth at 1280 px:",
              page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))
        Path(args.png).parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=args.png)
        browser.close()
    print(f"wrote {args.png} ({Path(args.png).stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
