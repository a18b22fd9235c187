"""Headless Chromium (Debian's ``chromium`` + ``chromium-driver``) driven by Selenium,
for the web page tests and the web page benchmark: a fresh profile per browser, no
network but the server under test, console errors collected."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = shutil.which("chromium") or ""
CHROMEDRIVER = shutil.which("chromedriver") or ""
ARTIFACTS = Path(
    os.environ.get("CODEWEAVER_TEST_ARTIFACTS", Path(__file__).resolve().parents[1] / "artifacts")
)
# axe-core, installed by ``make install`` from npm (never fetched while the tests run)
AXE = Path(
    os.environ.get(
        "CODEWEAVER_AXE",
        Path(__file__).resolve().parents[1] / ".venv/axe/node_modules/axe-core/axe.min.js",
    )
)
# WCAG 2.1 A and AA (labels, names, contrast, …) and the focus order rules
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "rules": {"tabindex": {"enabled": True}, "focus-order-semantics": {"enabled": True}},
    "resultTypes": ["violations"],
}
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
)


def available() -> bool:
    return bool(CHROMIUM and CHROMEDRIVER)


@contextmanager
def browser() -> Iterator[webdriver.Chrome]:
    profile = tempfile.mkdtemp(prefix="cw-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def problems(driver: webdriver.Chrome) -> list[str]:
    """Console errors: script errors, CSP violations and anything else severe, except
    the refusals (401/403/404) the page asks for and handles."""
    found = []
    for entry in driver.get_log("browser"):
        message = str(entry.get("message", ""))
        if "Content Security Policy" in message or "Refused to" in message:
            found.append(message)
        elif entry.get("level") == "SEVERE":
            handled = entry.get("source") == "network" and any(
                f"status of {code}" in message for code in (401, 403, 404)
            )
            if not handled:
                found.append(message)
    return found


def wait(driver: webdriver.Chrome, seconds: float = 20) -> WebDriverWait[Any]:
    return WebDriverWait(driver, seconds)


def visible(driver: webdriver.Chrome, css: str, seconds: float = 20) -> Any:
    return wait(driver, seconds).until(ec.visibility_of_element_located((By.CSS_SELECTOR, css)))


def sign_in(driver: webdriver.Chrome, user: str, password: str) -> None:
    visible(driver, "#username").send_keys(user)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "login-submit").click()
    visible(driver, "#nav")


def screenshot(driver: webdriver.Chrome, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"web-{name}.png"
    driver.save_screenshot(str(path))
    return path


def accessibility(driver: webdriver.Chrome) -> list[str]:
    """axe-core's violations on the page as shown now, one line per rule and element."""
    if not AXE.is_file():
        raise AssertionError(f"axe-core is missing at {AXE}: run `make install`")
    if not driver.execute_script("return !!window.axe"):
        driver.execute_script(AXE.read_text(encoding="utf-8"))
    found = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, arguments[0]).then(r => done(r.violations.map(v =>"
        " v.nodes.map(n => v.id + ': ' + n.target.join(' ') + ' -- ' + n.failureSummary)"
        ").flat()), e => done(['axe failed: ' + e]));",
        AXE_OPTIONS,
    )
    return [str(line).replace("\n", " ") for line in found]
