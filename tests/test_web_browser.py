"""The web page in a real headless Chromium against a real ``codeweaver serve`` (auth
jwt, two tenants): search and open a result at its line, shared URLs, sign-in, token
refresh and logout, tenant isolation, roles, the CSP, and no console errors."""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest

import web_browser as wb
from attack_server import PASSWORD, Server, attack_server, index_project

pytestmark = pytest.mark.skipif(
    not wb.available(),
    reason="Debian chromium and chromium-driver are not installed (tools/install_services.sh)",
)
ACCESS_TTL = 30  # the shortest the settings allow: refresh happens during the tests
LONG_LINES = 600  # long.py: far more than the first painted window of 200 lines


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("web")
    env = {"CODEWEAVER_AUTH__ACCESS_TTL_SECONDS": str(ACCESS_TTL)}
    with attack_server(tmp, extra_env=env) as server:
        admin = server.admin()
        admin.add_user("root", "admin", "acme", PASSWORD)
        admin.store.db.close()
        functions = [f"def step_{i}(x):\n    return x + {i}\n" for i in range(LONG_LINES // 2)]
        (server.acme / "long.py").write_text("".join(functions))  # type: ignore[attr-defined]
        index_project(server, "am", server.acme, "acme")  # type: ignore[attr-defined]
        yield server


@pytest.fixture
def driver() -> Iterator[wb.webdriver.Chrome]:
    with wb.browser() as d:
        yield d
        assert wb.problems(d) == []  # script errors and CSP violations fail the test


def _search(driver: wb.webdriver.Chrome, query: str) -> None:
    box = wb.visible(driver, "#q")
    box.clear()
    box.send_keys(query + "\n")
    wb.wait(driver).until(
        lambda d: d.find_element(wb.By.TAG_NAME, "body").get_attribute("data-searched")
    )


def test_page_headers_and_assets_are_strict(srv: Server) -> None:
    r = httpx.get(srv.base + "/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe" not in csp
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert len(r.headers.get_list("content-security-policy")) == 1
    assert "<script>" not in r.text and " style=" not in r.text and "http" not in r.text.lower()
    for name in ("app.js", "style.css"):
        a = httpx.get(f"{srv.base}/ui/{name}")
        assert a.status_code == 200 and a.headers["content-security-policy"] == csp
        assert (
            httpx.get(
                f"{srv.base}/ui/{name}", headers={"If-None-Match": a.headers["etag"]}
            ).status_code
            == 304
        )
    missing = httpx.get(srv.base + "/ui/pages.py")
    assert missing.status_code == 404 and set(missing.json()) == {"error"}
    assert httpx.get(srv.base + "/ui/..%2Fpages.py").status_code == 401  # no such route
    assert httpx.get(srv.base + "/api/v1/projects").status_code == 401  # the API still asks


def test_search_open_result_at_its_line(srv: Server, driver: wb.webdriver.Chrome) -> None:
    driver.get(srv.base + "/")
    wb.screenshot(driver, "sign-in")
    wb.sign_in(driver, "alice", PASSWORD)
    _search(driver, "upload a file and retry on connection errors")
    results = driver.find_element(wb.By.ID, "results")
    assert "upload_with_retry" in results.text and "globex" not in results.text
    assert "q=upload" in driver.current_url  # the query is in the URL
    assert results.find_elements(wb.By.CSS_SELECTOR, "code .tok-k")  # highlighted by the server
    wb.screenshot(driver, "search")
    link = next(
        a
        for a in results.find_elements(wb.By.CSS_SELECTOR, "a.hit-link")
        if "upload_with_retry" in a.text
    )
    link.send_keys("\n")  # keyboard: Enter on the focused result opens it
    wb.visible(driver, "#file-lines .fline")
    marked = wb.wait(driver).until(lambda d: d.find_elements(wb.By.CSS_SELECTOR, ".fline.hl"))
    assert marked[0].get_attribute("id") == "L1" and "upload_with_retry" in marked[0].text
    assert "#L1-L7" in driver.current_url and "view=file" in driver.current_url
    assert len(driver.find_elements(wb.By.CSS_SELECTOR, ".fline")) == 7
    wb.screenshot(driver, "file")
    shared = driver.current_url.replace("#L1-L7", "#L4")  # a shared line link
    driver.get("about:blank")
    driver.get(shared)
    wb.sign_in(driver, "alice", PASSWORD)
    marked = wb.wait(driver).until(lambda d: d.find_elements(wb.By.CSS_SELECTOR, ".fline.hl"))
    assert [m.get_attribute("id") for m in marked] == ["L4"]


def test_shared_url_reproduces_the_search(srv: Server, driver: wb.webdriver.Chrome) -> None:
    url = srv.base + "/?q=" + quote("retry upload") + "&project=acme&kind=function"
    driver.get(url)
    wb.sign_in(driver, "alice", PASSWORD)
    wb.wait(driver).until(
        lambda d: d.find_element(wb.By.TAG_NAME, "body").get_attribute("data-searched")
    )
    assert driver.find_element(wb.By.ID, "q").get_attribute("value") == "retry upload"
    assert driver.find_element(wb.By.ID, "kind").get_attribute("value") == "function"
    assert "upload_with_retry" in driver.find_element(wb.By.ID, "results").text


def test_tenant_b_sees_nothing_of_tenant_a(srv: Server, driver: wb.webdriver.Chrome) -> None:
    driver.get(srv.base + "/")
    wb.sign_in(driver, "mallory", PASSWORD)
    options = [
        o.get_attribute("value")
        for o in driver.find_elements(wb.By.CSS_SELECTOR, "#project option")
    ]
    assert options == ["globex"]
    _search(driver, "upload a file and retry")
    assert "upload_with_retry" not in driver.page_source
    driver.get(srv.base + "/?view=file&project=acme&path=upload.py")
    wb.sign_in(driver, "mallory", PASSWORD)
    wb.wait(driver).until(lambda d: "acme" in d.find_element(wb.By.ID, "file-meta").text)
    assert "upload_with_retry" not in driver.page_source
    assert not driver.find_elements(wb.By.CSS_SELECTOR, ".fline")
    driver.get(srv.base + "/?view=projects")
    wb.sign_in(driver, "mallory", PASSWORD)
    wb.visible(driver, "#project-table tbody tr")
    rows = driver.find_elements(wb.By.CSS_SELECTOR, "#project-table tbody tr")
    assert [r.get_attribute("data-project") for r in rows] == ["globex"]
    assert "acme" not in driver.find_element(wb.By.ID, "projects").text
    jobs = srv.client.get("/api/v1/jobs", headers=srv.auth("mallory")).json()["jobs"]
    assert jobs and {j["project"] for j in jobs} == {"globex"}


def test_readonly_sees_no_reindex_and_the_api_refuses(
    srv: Server, driver: wb.webdriver.Chrome
) -> None:
    driver.get(srv.base + "/?view=projects")
    wb.sign_in(driver, "ro", PASSWORD)
    wb.visible(driver, "#project-table tbody tr")
    assert not driver.find_elements(wb.By.CSS_SELECTOR, "button.reindex")
    assert driver.find_element(wb.By.ID, "nav-ops").is_displayed() is False
    r = srv.client.post(
        "/api/v1/index",
        json={"path": str(srv.acme), "project": "acme"},
        headers=srv.auth("ro"),  # type: ignore[attr-defined]
    )
    assert r.status_code == 403, r.text


def test_manager_reindexes_with_live_progress(srv: Server, driver: wb.webdriver.Chrome) -> None:
    driver.get(srv.base + "/?view=projects")
    wb.sign_in(driver, "am", PASSWORD)
    button = wb.visible(driver, "button.reindex[data-project='acme']")
    before = len(srv.audit(event="data.access", action="index", project="acme"))
    button.click()
    wb.visible(driver, "#jobs tbody tr")
    state = "return document.querySelector('#jobs tbody tr .job-state').textContent"
    wb.wait(driver, 90).until(lambda d: d.execute_script(state) == "succeeded")  # re-rendered live
    assert len(srv.audit(event="data.access", action="index", project="acme")) == before + 1
    wb.screenshot(driver, "projects")


def test_token_refresh_during_a_session_then_logout(
    srv: Server, driver: wb.webdriver.Chrome
) -> None:
    driver.get(srv.base + "/")
    wb.sign_in(driver, "dis", PASSWORD)
    started = time.time()
    deadline = started + ACCESS_TTL + 20
    while not [r for r in srv.audit(event="auth.token.refresh", user="dis", outcome="success")]:
        assert time.time() < deadline, "the page did not refresh its token"
        time.sleep(1)
    time.sleep(max(0.0, started + ACCESS_TTL + 2 - time.time()))  # the first token has expired
    _search(driver, "upload a file and retry")
    assert "upload_with_retry" in driver.find_element(wb.By.ID, "results").text
    driver.find_element(wb.By.ID, "logout").click()
    wb.visible(driver, "#login")
    assert srv.audit(event="auth.logout", user="dis")
    assert "upload_with_retry" not in driver.page_source  # nothing of the session is left


def test_operator_views(srv: Server, driver: wb.webdriver.Chrome) -> None:
    driver.get(srv.base + "/?view=ops")
    wb.sign_in(driver, "root", PASSWORD)
    wb.visible(driver, "#health-table tbody tr")
    components = driver.find_element(wb.By.ID, "health-table").text
    assert "vector_store" in components and "auth_store" in components
    wb.wait(driver).until(
        lambda d: d.find_element(wb.By.ID, "value-request_ms").text.endswith("ms")
    )
    assert driver.find_element(wb.By.ID, "ops-backups").is_displayed()
    wb.wait(driver).until(lambda d: d.find_elements(wb.By.CSS_SELECTOR, "#runbook-results li"))
    box = wb.visible(driver, "#runbook-q")
    box.send_keys("search takes seconds and clients time out\n")
    first = "#runbook-results li:first-child button.runbook-link[data-article='slow-search']"
    wb.visible(driver, first).click()
    article = wb.visible(driver, "#runbook-article[data-article='slow-search']")
    assert article.find_element(wb.By.TAG_NAME, "h3").text.strip()  # the article's title
    assert [e.text for e in article.find_elements(wb.By.TAG_NAME, "h4")][:2] == [
        "Symptoms",
        "Diagnostic steps",
    ]
    wb.screenshot(driver, "operations")


def test_runbook_markdown_is_rendered_as_text(srv: Server, driver: wb.webdriver.Chrome) -> None:
    driver.get(srv.base + "/?view=ops")
    wb.sign_in(driver, "root", PASSWORD)
    wb.visible(driver, "#runbook-q")
    hostile = "# T <img src=x onerror=alert(1)>\n- `<script>x()</script>` **<b>b</b>**\n<i>p</i>"
    made = driver.execute_script(
        "const m = await import('/ui/runbooks.js');"
        "const box = document.createElement('div');"
        "box.append(...m.renderMarkdown(arguments[0]));"
        "return [box.innerHTML, box.textContent,"
        " box.querySelectorAll('img, script, b, i').length];",
        hostile,
    )
    html, text, injected = made
    assert injected == 0 and "<img" not in html and "&lt;img" in html
    assert "<script>x()</script>" in text and "<i>p</i>" in text


def test_non_admins_have_no_runbooks(srv: Server, driver: wb.webdriver.Chrome) -> None:
    driver.get(srv.base + "/?view=ops")
    wb.sign_in(driver, "am", PASSWORD)
    wb.visible(driver, "#ops")
    assert not driver.find_element(wb.By.ID, "ops-runbooks").is_displayed()
    r = srv.client.get("/api/v1/runbooks?q=memory", headers=srv.auth("am"))
    assert r.status_code == 403


def test_every_control_is_labelled_and_reachable(srv: Server, driver: wb.webdriver.Chrome) -> None:
    driver.get(srv.base + "/")
    wb.sign_in(driver, "alice", PASSWORD)
    unlabelled = driver.execute_script(
        "return [...document.querySelectorAll('input:not([type=hidden]), select')]"
        ".filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))"
        ".map(e => e.id)"
    )
    assert unlabelled == []
    body = driver.find_element(wb.By.TAG_NAME, "body")
    body.send_keys("/")
    assert driver.switch_to.active_element.get_attribute("id") == "q"


def _open_long(driver: wb.webdriver.Chrome, srv: Server, hash_: str) -> str:
    driver.get(srv.base + "/?view=file&project=acme&path=long.py" + hash_)
    wb.sign_in(driver, "alice", PASSWORD)
    wb.wait(driver).until(
        lambda d: d.find_element(wb.By.TAG_NAME, "body").get_attribute("data-file-all-ms")
    )
    return driver.find_element(wb.By.ID, "file-meta").text


def _in_view(driver: wb.webdriver.Chrome, line: int) -> bool:
    return bool(
        driver.execute_script(
            "const r = document.getElementById(arguments[0]).getBoundingClientRect();"
            "return r.top >= 0 && r.bottom <= window.innerHeight;",
            f"L{line}",
        )
    )


def test_a_far_line_link_paints_its_window_and_marks_the_line(
    srv: Server, driver: wb.webdriver.Chrome
) -> None:
    meta = _open_long(driver, srv, "#L450")
    assert meta.endswith(f"{LONG_LINES} lines")
    marked = driver.find_elements(wb.By.CSS_SELECTOR, ".fline.hl")
    assert [m.get_attribute("id") for m in marked] == ["L450"]
    assert "x + 224" in marked[0].text and marked[0].find_elements(wb.By.CSS_SELECTOR, ".tok-k")
    assert _in_view(driver, 450)  # painted first and kept in view while the rest loads
    assert len(driver.find_elements(wb.By.CSS_SELECTOR, ".fline")) == LONG_LINES


def test_a_line_link_past_the_end_opens_the_file_at_its_end(
    srv: Server, driver: wb.webdriver.Chrome
) -> None:
    meta = _open_long(driver, srv, "#L9999")
    assert meta.endswith(f"line 9999 is past the end ({LONG_LINES} lines)")
    assert "error" not in (driver.find_element(wb.By.ID, "file-meta").get_attribute("class") or "")
    assert _in_view(driver, LONG_LINES)
    assert len(driver.find_elements(wb.By.CSS_SELECTOR, ".fline")) == LONG_LINES
    assert not driver.find_elements(wb.By.CSS_SELECTOR, ".fline.hl")


def test_the_pages_pass_the_accessibility_check(srv: Server, driver: wb.webdriver.Chrome) -> None:
    """axe-core on each main view as a user sees it: labels, contrast and focus order."""
    driver.set_script_timeout(60)
    found: dict[str, list[str]] = {}
    driver.get(srv.base + "/?view=ops")
    wb.visible(driver, "#username")
    found["sign-in"] = wb.accessibility(driver)
    wb.sign_in(driver, "root", PASSWORD)
    wb.visible(driver, "#health-table tbody tr")
    wb.wait(driver).until(lambda d: d.find_elements(wb.By.CSS_SELECTOR, "#runbook-results li"))
    wb.visible(driver, "#runbook-results button.runbook-link").click()
    wb.visible(driver, "#runbook-article h3")
    found["operations"] = wb.accessibility(driver)
    driver.get(srv.base + "/?q=" + quote("upload a file and retry"))
    wb.sign_in(driver, "root", PASSWORD)
    wb.wait(driver).until(
        lambda d: d.find_element(wb.By.TAG_NAME, "body").get_attribute("data-searched")
    )
    found["search"] = wb.accessibility(driver)
    driver.get(srv.base + "/?view=file&project=acme&path=upload.py#L2-L3")
    wb.sign_in(driver, "root", PASSWORD)
    wb.visible(driver, "#file-lines .fline.hl")
    found["file"] = wb.accessibility(driver)
    driver.get(srv.base + "/?view=projects")
    wb.sign_in(driver, "root", PASSWORD)
    wb.visible(driver, "#project-table tbody tr")
    found["projects"] = wb.accessibility(driver)
    assert {view: lines for view, lines in found.items() if lines} == {}


def test_script_errors_and_csp_violations_are_caught(srv: Server) -> None:
    """The check every browser test ends with does see an error and a refused script."""
    with wb.browser() as d:
        d.get(srv.base + "/")
        wb.visible(d, "#username")
        d.execute_script("setTimeout(() => { throw new Error('boom in the page'); }, 0);")
        d.execute_script(
            "const s = document.createElement('script'); s.textContent = 'window.x = 1';"
            "document.body.append(s);"
        )
        time.sleep(0.5)
        found = wb.problems(d)
    assert any("boom in the page" in line for line in found), found
    assert any("Content Security Policy" in line for line in found), found
