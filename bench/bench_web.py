"""The web page in headless Chromium against `codeweaver serve` on a 100k-chunk project.

    python bench/bench_web.py [--points 100000] [--runs 20] [--home DIR]

Prints (medians over --runs): the time from Enter in the query box to the first
results painted (the first frame after the results are in the page), measured in the
browser; the page weight before any result (every byte the browser loaded); and the
time to fetch, highlight and render a 5,000-line file in the file view.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
from bench_http import free_port, project_identifiers
from bench_search import NL_QUERIES

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import web_browser as wb

ARM = """
window.__cw = {};
const box = document.getElementById('q');
box.addEventListener('keydown', e => {
  if (e.key === 'Enter') window.__cw.t0 = performance.now();
}, true);
new MutationObserver((records, obs) => {
  if (!document.querySelector('#results .hit')) return;
  obs.disconnect();
  requestAnimationFrame(() => { window.__cw.painted = performance.now() - window.__cw.t0; });
}).observe(document.getElementById('results'), {childList: true, subtree: true});
"""
WEIGHT = """
const entries = [...performance.getEntriesByType('navigation'),
                 ...performance.getEntriesByType('resource')];
return entries.reduce((a, e) => a + (e.decodedBodySize || 0), 0);
"""


def big_file(root: Path, lines: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(lines // 5):
        out += [
            f"def handler_{i}(request, retries={i % 7}):",
            f'    """Handle request number {i}, retrying on errors."""',
            f"    total = sum(x * {i} for x in range(retries))",
            "    return {'id': request, 'total': total}",
            "",
        ]
    (root / "big.py").write_text("\n".join(out) + "\n")


def serve(home: Path, allowed: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "CODEWEAVER_HOME": str(home),
        "CODEWEAVER_INDEX__ALLOWED_ROOTS": json.dumps([str(allowed)]),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "codeweaver.cli.app", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(base + "/health/ready").status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("codeweaver serve did not become ready")


def index_big(base: str, root: Path) -> None:
    job = httpx.post(base + "/api/v1/index", json={"path": str(root), "project": "big"}).json()
    while httpx.get(f"{base}/api/v1/jobs/{job['job_id']}").json()["state"] not in (
        "succeeded",
        "failed",
    ):
        time.sleep(0.3)


def measure_search(driver: wb.webdriver.Chrome, base: str, queries: list[str]) -> list[float]:
    times = []
    for query in queries:
        driver.get(base + "/?" + urlencode({"project": "bench"}))
        wb.visible(driver, "#q")
        driver.execute_script(ARM)
        driver.find_element(wb.By.ID, "q").send_keys(query + "\n")
        wb.wait(driver, 30).until(lambda d: d.execute_script("return window.__cw.painted"))
        times.append(float(driver.execute_script("return window.__cw.painted")))
    return times


def measure_file(driver: wb.webdriver.Chrome, base: str, runs: int) -> list[float]:
    url = base + "/?" + urlencode({"view": "file", "project": "big", "path": "big.py"}) + "#L2500"
    times = []
    for _ in range(runs):
        driver.get("about:blank")
        driver.get(url)
        wb.wait(driver, 30).until(lambda d: d.execute_script("return document.body.dataset.fileMs"))
        times.append(float(driver.execute_script("return document.body.dataset.fileMs")))
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--real", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--home", type=Path, help="reuse (or keep) the built project in this folder")
    args = ap.parse_args()
    if not wb.available():
        raise SystemExit("chromium and chromedriver are needed: bash tools/install_services.sh")
    home = args.home or Path(tempfile.mkdtemp(prefix="cw-bench-web-")) / "home"
    home.parent.mkdir(parents=True, exist_ok=True)
    idents = project_identifiers(home, args.points, args.real)
    src = home.parent / "big-src"
    big_file(src, 5000)
    proc, base = serve(home, home.parent)
    try:
        index_big(base, src)
        queries = (NL_QUERIES + idents)[: args.runs]
        with wb.browser() as driver:
            driver.get(base + "/")
            wb.visible(driver, "#q")
            weight = int(driver.execute_script(WEIGHT))
            measure_search(driver, base, queries[:2])  # warm the page's code paths
            search = measure_search(driver, base, queries)
            files = measure_file(driver, base, args.runs)
            lines = len(driver.find_elements(wb.By.CSS_SELECTOR, ".fline"))
            problems = wb.problems(driver)
    finally:
        proc.terminate()
        proc.wait(30)
    print(f"project points: {args.points}, runs: {len(search)}")
    print(f"first results painted after Enter: median {statistics.median(search):.1f} ms")
    print(f"  (min {min(search):.1f}, max {max(search):.1f})")
    print(f"page weight before results: {weight / 1024:.1f} KB")
    print(f"file view of a {lines}-line file: first (cold) {files[0]:.1f} ms")
    print(f"  then median {statistics.median(files[1:]):.1f} ms (highlighting cached)")
    print(f"console problems: {len(problems)}")


if __name__ == "__main__":
    main()
