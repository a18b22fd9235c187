"""The identity store on SQLite and on a real PostgreSQL server: migrations, users,
API keys, sessions and refresh-token families, revoked tokens and lockout — one
contract suite."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

import pg_server
from codeweaver.auth.db import MIGRATIONS, Database
from codeweaver.auth.export import latest_version
from codeweaver.auth.setup import open_store
from codeweaver.auth.store import IdentityStore
from codeweaver.config import Settings
from codeweaver.errors import ConfigError, InputError, NotFoundError, StoreError


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    if not pg_server.available():
        pytest.skip("PostgreSQL 15 server binaries are not installed")
    with pg_server.postgres() as url:
        yield url


def _fresh_pg(url: str) -> str:
    """A new, empty database on the test server (one per test)."""
    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(params=["sqlite", "postgresql"])
def db_factory(request, tmp_path):
    made: list[Database] = []
    url = _fresh_pg(request.getfixturevalue("pg_url")) if request.param == "postgresql" else None

    def make() -> Database:
        db = Database(tmp_path / "identity.db", url)
        made.append(db)
        return db

    yield make
    for db in made:
        db.close()


@pytest.fixture
def store(db_factory) -> IdentityStore:
    db = db_factory()
    db.migrate()
    return IdentityStore(db)


ALL_VERSIONS = [v for v, _ in MIGRATIONS]
LATEST = latest_version()


def test_migrations_apply_once_and_in_order(db_factory):
    db = db_factory()
    assert db.migrate() == ALL_VERSIONS == list(range(1, LATEST + 1))
    assert db.migrate() == []
    assert db.version() == LATEST
    step = (LATEST + 1, ("CREATE TABLE extra_table (id INTEGER PRIMARY KEY)",))
    assert db.migrate((*MIGRATIONS, step)) == [LATEST + 1]
    assert db.version() == LATEST + 1
    with db.tx() as tx:
        assert tx.all("SELECT id FROM extra_table") == []


def test_concurrent_migrations_apply_each_step_once(db_factory):
    dbs = [db_factory() for _ in range(4)]
    applied: list[list[int]] = []
    errors: list[BaseException] = []

    def go(db: Database) -> None:
        try:
            applied.append(db.migrate())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(db,)) for db in dbs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sorted(v for a in applied for v in a) == ALL_VERSIONS


def test_users_and_tenants(store):
    user = store.add_user("alice", kind="user", role="developer", tenant="acme", password_hash="h")
    assert user.tenants == ("acme",) and user.primary_tenant == "acme" and not user.disabled
    with pytest.raises(InputError, match="already exists"):
        store.add_user("alice", kind="user", role="admin", tenant="x", password_hash=None)
    store.add_tenant("alice", "shared")
    store.add_tenant("alice", "shared")
    store.set_role("alice", "manager")
    store.set_disabled("alice", True)
    got = store.require_user("alice")
    assert got.tenants == ("acme", "shared") and got.role == "manager" and got.disabled
    assert [u.name for u in store.list_users()] == ["alice"]
    with pytest.raises(NotFoundError):
        store.set_role("nobody", "admin")
    assert store.get_user("nobody") is None
    assert store.session("nobody", "j") == (None, False, None)
    store.revoke_jti("j", time.time() + 60)
    assert store.session("alice", "j") == (got, True, None)
    assert store.session("alice", "other") == (got, False, None)
    assert store.session("alice") == (got, False, None)


def test_api_keys(store):
    store.add_user("bot", kind="service", role="developer", tenant="acme", password_hash=None)
    store.add_key("k1", "bot", "ci", "digest1", None)
    store.add_key("k2", "bot", "old", "digest2", time.time() - 1)
    assert [k.key_id for k in store.list_keys("bot")] == ["k1", "k2"]
    store.revoke_key("k1")
    store.revoke_key("k1")  # idempotent
    assert store.get_key("k1").revoked_at is not None
    with pytest.raises(NotFoundError):
        store.revoke_key("nope")
    with pytest.raises(NotFoundError):
        store.add_key("k3", "ghost", "x", "d", None)


def test_refresh_rotation_and_reuse_revokes_family(store):
    now = time.time()
    store.start_session("h1", "fam", "alice", None, now + 60)
    assert store.use_refresh("h1", now) == ("ok", "alice", "fam", None)
    store.add_refresh("h2", "fam", "alice", now + 60)
    assert store.use_refresh("h1", now).outcome == "reused"
    assert store.use_refresh("h2", now).outcome == "revoked"  # the family went with it
    assert store.use_refresh("zz", now).outcome == "unknown"
    store.start_session("h3", "fam2", "alice", None, now - 1)
    assert store.use_refresh("h3", now).outcome == "expired"
    assert store.family_of("h3") == ("fam2", "alice")
    store.add_refresh("h4", "no-such-family", "alice", now + 60)
    assert store.use_refresh("h4", now).outcome == "revoked"


def test_sessions_record_their_key_and_end_with_it(store):
    store.add_user("bot", kind="service", role="developer", tenant="acme", password_hash=None)
    store.add_key("k1", "bot", "ci", "digest1", None)
    store.add_key("k2", "bot", "short", "digest2", time.time() + 3600)
    now = time.time()
    store.start_session("r1", "f1", "bot", "k1", now + 60)
    store.start_session("r2", "f2", "bot", "k2", now + 86400)
    store.start_session("r3", "f3", "bot", None, now + 60)
    user, revoked, family = store.session("bot", "j", "f1")
    assert user is not None and not revoked and family is not None
    assert (family.family_id, family.user, family.key_id) == ("f1", "bot", "k1")
    assert family.problem(now) is None
    assert store.session("bot", "j", "nope").family is None
    assert store.session("bot", "j", "f2").family.problem(now + 7200) == (
        "the API key of this session is expired"
    )
    assert store.use_refresh("r2", now + 7200).outcome == "key revoked"
    assert store.session("bot", "j", "f2").family.problem(now) == "session revoked"
    store.revoke_key("k1")  # its sessions end with it: refresh and access alike
    assert store.session("bot", "j", "f1").family.problem(now) == "session revoked"
    assert store.use_refresh("r1", now).outcome == "revoked"
    assert store.session("bot", "j", "f3").family.problem(now) is None  # not the key's
    assert store.use_refresh("r3", now) == ("ok", "bot", "f3", None)
    store.revoke_family("f3")
    assert store.session("bot", "j", "f3").family.revoked_at is not None


def test_revoked_jti(store):
    assert not store.is_revoked("j1")
    store.revoke_jti("j1", time.time() + 60)
    store.revoke_jti("j1", time.time() + 60)
    assert store.is_revoked("j1")


def _fail(store: IdentityStore, name: str, now: float) -> bool | None:
    """One wrong login: None when it was refused before any check, else whether it locked."""
    if not store.claim_login(name, now, 300, 5):
        return None
    return store.record_failure(name, now, 300, 5, 900)


def test_lockout_counts_attempts_in_window(store):
    now = 1000.0
    for i in range(4):
        assert _fail(store, "alice", now + i) is False
    assert store.locked_until("alice") is None
    assert _fail(store, "alice", now + 4) is True
    assert store.locked_until("alice") == now + 4 + 900
    assert _fail(store, "alice", now + 5) is None  # locked: not even counted
    assert not store.claim_login("alice", now + 903, 300, 5)
    assert store.claim_login("alice", now + 905, 300, 5)  # the lock is over
    store.clear_failures("alice")
    assert store.locked_until("alice") is None
    # attempts of an earlier window do not count
    for i in range(4):
        _fail(store, "bob", now + i)
    assert _fail(store, "bob", now + 400) is False
    # a success forgets the attempts, not a lock
    real = time.time()
    _fail(store, "cy", real)
    store.clear_failures("cy")
    assert store.claim_login("cy", real, 300, 1)  # forgotten: a new first attempt
    assert store.record_failure("cy", real, 300, 1, 900)
    store.clear_failures("cy")
    assert store.locked_until("cy") == real + 900


def test_parallel_logins_claim_at_most_the_limit(db_factory):
    db = db_factory()
    db.migrate()
    stores = [IdentityStore(db_factory()) for _ in range(6)]
    now = time.time()
    granted: list[bool] = []
    barrier = threading.Barrier(len(stores) * 5)

    def go(store: IdentityStore) -> None:
        barrier.wait()
        granted.append(store.claim_login("alice", now, 300, 5))

    threads = [threading.Thread(target=go, args=(s,)) for s in stores for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert granted.count(True) == 5 and len(granted) == 30


def test_open_store_rejects_other_urls_and_hides_passwords(tmp_path):
    settings = Settings(home=tmp_path, database={"url": "mysql://u:secret@h/db"})
    with pytest.raises(ConfigError, match="postgresql://") as err:
        open_store(settings)
    assert "secret" not in str(err.value)
    settings = Settings(
        home=tmp_path, database={"url": "postgresql://u:hunter2secret@127.0.0.1:1/db"}
    )
    with pytest.raises(StoreError) as err:
        open_store(settings)
    assert "hunter2secret" not in str(err.value)


def test_sqlite_file_is_private(tmp_path):
    store = open_store(Settings(home=tmp_path))
    try:
        assert (tmp_path / "identity.db").stat().st_mode & 0o077 == 0
    finally:
        store.db.close()


def test_store_path_default_is_home(tmp_path: Path):
    store = open_store(Settings(home=tmp_path / "h"))
    store.db.close()
    assert (tmp_path / "h" / "identity.db").is_file()
