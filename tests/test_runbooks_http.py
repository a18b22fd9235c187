"""The runbook routes against a real ``codeweaver serve`` (auth jwt): admins search and
read the articles; names outside the shipped list, paths and other roles are refused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from attack_server import PASSWORD, Server, attack_server, refused
from codeweaver.support.runbooks import articles


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with attack_server(tmp_path_factory.mktemp("runbooks")) as server:
        admin = server.admin()
        admin.add_user("root", "admin", "acme", PASSWORD)
        admin.store.db.close()
        yield server


def test_admin_lists_searches_and_reads_the_articles(srv: Server) -> None:
    root = srv.auth("root")
    listed = srv.client.get("/api/v1/runbooks", headers=root)
    assert listed.status_code == 200, listed.text
    assert [a["id"] for a in listed.json()["articles"]] == [a.id for a in articles()]
    found = srv.client.get(
        "/api/v1/runbooks", params={"q": "search takes seconds and clients time out"}, headers=root
    )
    assert found.status_code == 200, found.text
    hits = found.json()["articles"]
    assert hits[0]["id"] == "slow-search" and hits[0]["snippet"] and hits[0]["score"] > 0
    read = srv.client.get("/api/v1/runbooks/slow-search", headers=root)
    assert read.status_code == 200, read.text
    body = read.json()
    assert body["text"].startswith("# ") and "## Resolution" in body["text"]
    assert srv.audit(read.headers["x-request-id"], event="admin.runbook.read", outcome="success")
    assert srv.audit(found.headers["x-request-id"], event="admin.runbook.search")


@pytest.mark.parametrize(
    ("slug", "status"),
    [
        ("no-such-article", 404),
        ("slow-search.md", 404),
        ("..", 404),
        ("...", 404),
        ("..%2F..%2Fconfig", 404),
        ("..%5Cslow-search", 404),
        ("%2Fetc%2Fpasswd", 404),
        ("SLOW-SEARCH", 404),
        ("x" * 65, 422),
    ],
)
def test_names_outside_the_list_are_refused(srv: Server, slug: str, status: int) -> None:
    r = srv.client.get(f"/api/v1/runbooks/{slug}", headers=srv.auth("root"))
    assert r.status_code == status, r.text
    assert set(r.json()) == {"error"} and "root:" not in r.text
    assert "Traceback" not in r.text and "\n" not in r.json()["error"]["message"]


def test_known_names_are_in_the_not_found_message(srv: Server) -> None:
    r = srv.client.get("/api/v1/runbooks/nope", headers=srv.auth("root"))
    assert r.status_code == 404 and "slow-search" in r.json()["error"]["message"]


@pytest.mark.parametrize("user", ["alice", "am", "ro"])
@pytest.mark.parametrize("path", ["/api/v1/runbooks?q=memory", "/api/v1/runbooks/slow-search"])
def test_other_roles_are_refused(srv: Server, user: str, path: str) -> None:
    refused(srv, srv.client.get(path, headers=srv.auth(user)), 403)


def test_anonymous_is_refused(srv: Server) -> None:
    r = srv.client.get("/api/v1/runbooks/slow-search")
    assert r.status_code == 401 and set(r.json()) == {"error"}
