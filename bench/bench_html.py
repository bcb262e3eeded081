"""HTML page benchmark: how long a long log's page takes to write and to open.

    .venv/bin/python bench/bench_html.py [--lines N] [--keep DIR]

Builds a log of N lines (default 100,000) from real lines (tests/long_log.py: the real
uninteresting lines of fixtures/unfiltered.log around the real seed-full recording),
writes its page with ``bpfexplain parse --format html`` and opens it in headless
chromium (the browser of the tests), three times.  Target (issue 13): the page opens
in under 2 s.  "Opens" is the browser's own navigation timing, from the start of the
navigation to the end of the load event (the page's script has run by then), and the
wall time of WebDriver's ``get``.  Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.long_log import write_long_log  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="keep the log and page in DIR")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="bpfexplain-bench-html-"))
    work.mkdir(parents=True, exist_ok=True)
    log, page = work / "long.log", work / "long.html"
    write_long_log(log, args.lines)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bpfexplain", "parse", "-q", str(log), "--format",
                    "html", "-o", str(page)], check=True)
    written = time.perf_counter() - start
    print(f"log: {args.lines:,} lines, {log.stat().st_size / 1e6:.1f} MB")
    print(f"page: {page.stat().st_size / 1e6:.1f} MB, written in {written:.2f} s "
          "(parse + story + page)")

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="bpfexplain-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", f"--user-data-dir={profile}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        for attempt in range(3):
            driver.get("about:blank")
            began = time.perf_counter()
            driver.get(page.as_uri())
            wall = time.perf_counter() - began
            timing = driver.execute_script(
                "var t = performance.getEntriesByType('navigation')[0];"
                "return [t.domContentLoadedEventEnd, t.loadEventEnd,"
                " document.documentElement.dataset.ready,"
                " document.querySelectorAll('.ln').length];")
            dcl, load, ready, rows = timing
            print(f"open {attempt + 1}: load event end {load / 1000:.2f} s "
                  f"(DOMContentLoaded {dcl / 1000:.2f} s), WebDriver get {wall:.2f} s, "
                  f"script ready={ready}, {rows:,} log rows in the page")
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
