"""Backups turned against the server: crafted manifests and archives, tampered and
unsigned backups, credentials in settings.json, file modes, and prune at a shared
destination. Each attack runs the real ``codeweaver backup …`` CLI as a subprocess, or the
HTTP backup routes of a real ``codeweaver serve`` (``attack_server``)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import shutil
import stat
import tarfile
from pathlib import Path
from typing import Any

import boto3
import pytest

from attack_server import PASSWORD, attack_server
from backup_support import (
    archive_path,
    cli_env,
    make_codebase,
    manifest_path,
    moto_server,
    run,
    to_legacy_layout,
    verified_path,
    write_signed,
)
from codeweaver.backup.archive import pack
from codeweaver.backup.manifest import BackupManifest, CollectionInfo, new_backup_id
from codeweaver.backup.signing import sign_manifest

JWT = "the-servers-own-jwt-secret-0123456789abcdef"
FORGED = "attacker-chosen-jwt-secret-0123456789abcdef"


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _tree(root: Path) -> dict[str, tuple[str, int]]:
    """Every file under ``root`` with its content hash and mode (what "nothing changed"
    compares); the lock and log files every command touches are left out."""
    skip_names = {"in-use.lock", "audit.log", "index.lock"}
    skip_folders = {".restore", "recovery"}
    return {
        str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest(), _mode(p))
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in skip_names and not skip_folders & set(p.parts)
    }


def _audit(home: Path, event: str) -> list[dict[str, Any]]:
    path = home / "audit.log"
    lines = path.read_text().splitlines() if path.exists() else []
    return [r for r in map(json.loads, lines) if r["event"] == event]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    """A data directory (real model) with a project, a service account in the identity
    store and the server's ``auth/jwt.secret``, made once."""
    base = tmp_path_factory.mktemp("attacks-backup")
    make_codebase(base / "code", files=4)
    env = cli_env(base / "home")
    res = run(["index", str(base / "code"), "-p", "proj"], env)
    assert res.returncode == 0, res.stderr
    res = run(["users", "add", "svc", "--service"], env)
    assert res.returncode == 0, res.stderr
    (base / "home" / "auth" / "jwt.secret").write_text(JWT)
    (base / "home" / "auth" / "jwt.secret").chmod(0o600)
    return base / "home"


@pytest.fixture
def home(indexed, tmp_path):
    shutil.copytree(indexed, tmp_path / "home")
    return tmp_path / "home"


def _create(env: dict[str, str], dest: Path, *extra: str) -> dict[str, Any]:
    res = run(["backup", "create", "--json", "--dest", dest.as_uri(), *extra], env)
    assert res.returncode == 0, res.stdout + res.stderr
    out: dict[str, Any] = json.loads(res.stdout)
    return out


def _craft(
    dest: Path, files: dict[str, bytes], collections: list[CollectionInfo], layout: str = "current"
) -> str:
    """A backup at ``dest`` holding ``files`` and naming ``collections``, unsigned, its
    checksums all correct (what anyone who can write to the destination can make), in
    today's layout or the older one."""
    bid = new_backup_id()
    staging = dest.parent / f"craft-{bid}"
    for name, data in files.items():
        (staging / name).parent.mkdir(parents=True, exist_ok=True)
        (staging / name).write_bytes(data)
    archive_path(dest, bid).parent.mkdir(parents=True, exist_ok=True)
    manifest_path(dest, bid).parent.mkdir(parents=True, exist_ok=True)
    entries, archive = pack(staging, archive_path(dest, bid))
    manifest = BackupManifest(
        backup_id=bid,
        created_at="2026-01-01T00:00:00+00:00",
        codeweaver_version="0.1.0",
        components=["collections", "manifests"],
        collections=collections,
        files=entries,
        archive=archive,
    )
    manifest_path(dest, bid).write_bytes(manifest.to_json())
    if layout == "legacy":
        to_legacy_layout(dest, bid)
    return bid


def _restore(env: dict[str, str], bid: str, dest: Path, *extra: str):
    return run(["backup", "restore", bid, "--dest", dest.as_uri(), *extra], env)


def _one_line_refusal(res, *needles: str) -> None:
    assert res.returncode == 1, res.stdout + res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert errors, res.stderr
    assert all(any(n in e for e in errors) for n in needles), res.stderr


# --- 6: manifest names and archive paths ---------------------------------------------------


def test_a_manifest_naming_dot_dot_auth_cannot_replace_the_jwt_secret(home):
    """The reviewed attack: the collection ``../auth`` swapped the backup's ``auth/``
    folder (with the attacker's jwt.secret) in for ``<home>/auth``."""
    env = cli_env(home)
    dest = home.parent / "vault"
    evil = CollectionInfo("../auth", "edge", 0, 0, None, None, 0)
    bid = _craft(dest, {"auth/jwt.secret": FORGED.encode(), "auth/probes.json": b"[]"}, [evil])
    (home / "auth" / "backup.key").write_text(secrets.token_hex(32))
    before = _tree(home)

    res = _restore(env, bid, dest)
    _one_line_refusal(res, "is not signed")
    assert _tree(home) == before

    # accepted unsigned by the operator: the name itself is still refused, nothing written
    res = _restore(env, bid, dest, "--allow-unsigned")
    _one_line_refusal(res, "invalid project name '../auth'")
    assert (home / "auth" / "jwt.secret").read_text() == JWT
    assert _tree(home) == before
    audited = _audit(home, "admin.backup.restore")
    assert [(a["outcome"], a["allow_unsigned"]) for a in audited] == [
        ("failure", False),
        ("failure", True),
    ]
    assert audited[1]["signature"].startswith("unsigned") and audited[1]["user"].startswith("cli:")

    # even signed with this server's own key (an insider, a stolen key): still refused
    crafted = json.loads((manifest_path(dest, bid)).read_text())
    write_signed(manifest_path(dest, bid), crafted, home / "auth" / "backup.key")
    res = _restore(env, bid, dest)
    _one_line_refusal(res, "invalid project name '../auth'")
    assert _tree(home) == before


@pytest.mark.parametrize(
    "name", ["projects/../../auth/jwt.secret", "/tmp/escaped-by-backup", "projects/p/../../../x"]
)
def test_an_archive_path_escaping_the_home_is_refused(home, name):
    env = cli_env(home)
    dest = home.parent / "vault"
    bid = _craft(dest, {"projects/proj/probes.json": b"[]"}, [])
    archive = archive_path(dest, bid)
    with tarfile.open(archive, "w:gz") as tar:  # rewritten with one escaping member
        info = tarfile.TarInfo(name)
        info.size = len(FORGED)
        tar.addfile(info, io.BytesIO(FORGED.encode()))
    manifest = json.loads((manifest_path(dest, bid)).read_text())
    data = archive.read_bytes()
    manifest["archive"].update(sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    digest = hashlib.sha256(FORGED.encode()).hexdigest()
    manifest["files"] = [{"path": name, "sha256": digest, "size": len(FORGED)}]
    (manifest_path(dest, bid)).write_text(json.dumps(manifest))
    before = _tree(home)
    res = _restore(env, bid, dest)
    _one_line_refusal(res, "is not signed")
    res = _restore(env, bid, dest, "--allow-unsigned")
    _one_line_refusal(res, "unsafe path")
    assert _tree(home) == before
    assert not Path("/tmp/escaped-by-backup").exists()
    assert (home / "auth" / "jwt.secret").read_text() == JWT


def test_a_tampered_and_rechecksummed_backup_is_refused(home):
    """The archive changed (a project's root pointed at /etc) and every checksum in the
    manifest fixed: the signature no longer matches."""
    env = cli_env(home)
    dest = home.parent / "vault"
    bid = _create(env, dest)["backup_id"]
    archive = archive_path(dest, bid)
    unpacked = home.parent / "unpacked"
    with tarfile.open(archive) as tar:
        tar.extractall(unpacked, filter="data")
    meta = unpacked / "projects" / "proj" / "project.json"
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "root": "/etc"}))
    archive.unlink()
    entries, packed = pack(unpacked, archive)
    path = manifest_path(dest, bid)
    manifest = json.loads(path.read_text())
    manifest["files"] = [{"path": e.path, "sha256": e.sha256, "size": e.size} for e in entries]
    manifest["archive"].update(sha256=packed.sha256, size=packed.size)
    path.write_text(json.dumps(manifest))
    before = _tree(home)

    res = run(["backup", "verify", bid, "--dest", dest.as_uri()], env)
    _one_line_refusal(res, "signature does not match")
    res = _restore(env, bid, dest)
    _one_line_refusal(res, "signature does not match")
    assert _tree(home) == before

    # signed with some other key: refused, naming both key ids
    other = sign_manifest(manifest, secrets.token_hex(32).encode())
    path.write_text(json.dumps(other))
    res = _restore(env, bid, dest)
    _one_line_refusal(res, "signed with another key")
    assert _tree(home) == before


def test_an_unsigned_backup_needs_the_audited_override(home):
    """A backup made before signing existed: refused by verify and restore; accepted with
    --allow-unsigned (audited), and never recorded as verified."""
    env = cli_env(home)
    dest = home.parent / "vault"
    bid = _create(env, dest, "--no-verify")["backup_id"]
    path = manifest_path(dest, bid)
    manifest = json.loads(path.read_text())
    assert manifest["signature"]["alg"] == "HMAC-SHA256"
    path.write_text(json.dumps({k: v for k, v in manifest.items() if k != "signature"}))

    res = run(["backup", "verify", bid, "--dest", dest.as_uri()], env)
    _one_line_refusal(res, "is not signed", "--allow-unsigned")
    res = run(["backup", "verify", bid, "--dest", dest.as_uri(), "--json", "--allow-unsigned"], env)
    assert res.returncode == 0, res.stdout + res.stderr
    out = json.loads(res.stdout)
    assert out["ok"] and out["signature"].startswith("unsigned")
    assert not (verified_path(dest, bid)).exists()
    audited = _audit(home, "admin.backup.verify")
    assert audited[-1]["allow_unsigned"] is True and audited[-1]["outcome"] == "success"

    res = _restore(env, bid, dest, "--json", "--allow-unsigned")
    assert res.returncode == 0, res.stdout + res.stderr
    assert json.loads(res.stdout)["signature"].startswith("unsigned")
    assert _audit(home, "admin.backup.restore")[-1]["allow_unsigned"] is True

    # without the key (a new machine, the key not brought): refused, saying what to do
    (home / "auth" / "backup.key").rename(home.parent / "kept.key")
    path.write_text(json.dumps(manifest))  # the original, signed manifest
    res = _restore(env, bid, dest)
    _one_line_refusal(res, "no signing key", "backup.signing_key_file")
    env["CODEWEAVER_BACKUP__SIGNING_KEY_FILE"] = str(home.parent / "kept.key")
    res = run(["backup", "verify", bid, "--dest", dest.as_uri()], env)
    assert res.returncode == 0, res.stdout + res.stderr


# --- 14: credentials and modes ---------------------------------------------------------


CREDENTIALS = {
    "CODEWEAVER_REDIS__URL": "redis://cacheuser:redis-pw-1@127.0.0.1:1/0?password=redis-pw-2",
    "CODEWEAVER_EMBEDDING__BASE_URL": "https://embuser:emb-pw-1@emb.invalid/v1?api_key=emb-key-2",
    "CODEWEAVER_QDRANT__URL": "http://qd-user:qdrant-pw-1@127.0.0.1:1/?api-key=qdrant-key-2",
    "CODEWEAVER_QDRANT__API_KEY": "qdrant-plain-key-3",
    "CODEWEAVER_BACKUP__PROMETHEUS_URL": "http://promuser:prom-pw-1@127.0.0.1:1/?token=prom-tok-2",
    "CODEWEAVER_BACKUP__PROMETHEUS_TOKEN": "prom-bearer-3",
    "CODEWEAVER_BACKUP__S3_ENDPOINT_URL": "http://s3user:s3-pw-1@127.0.0.1:1/?X-Amz-Signature=s3sig2",
    "CODEWEAVER_BACKUP__S3_SECRET_ACCESS_KEY": "s3-secret-3",
    "CODEWEAVER_BACKUP__S3_ACCESS_KEY_ID": "AKIA-S3-ID-4",
    "CODEWEAVER_DATABASE__URL": "postgresql://pguser:pg-pw-1@127.0.0.1:1/db?password=pg-pw-2",
    "CODEWEAVER_AUTH__SECRET": "auth-secret-0123456789abcdef0123456789",
}
SECRETS = (
    "redis-pw-1",
    "redis-pw-2",
    "cacheuser",
    "emb-pw-1",
    "emb-key-2",
    "embuser",
    "qdrant-pw-1",
    "qdrant-key-2",
    "qdrant-plain-key-3",
    "prom-pw-1",
    "prom-tok-2",
    "prom-bearer-3",
    "s3-pw-1",
    "s3sig2",
    "s3-secret-3",
    "AKIA-S3-ID-4",
    "pg-pw-1",
    "pg-pw-2",
    "pguser",
    "auth-secret-0123456789abcdef",
)


def _settings_json(archive: Path) -> dict[str, Any]:
    with tarfile.open(archive) as tar:
        member = tar.extractfile("settings/settings.json")
        assert member is not None
        data: dict[str, Any] = json.loads(member.read())
    return data


def test_settings_json_holds_no_credential(home):
    env = cli_env(home, **CREDENTIALS)
    dest = home.parent / "vault"
    made = _create(env, dest, "--components", "settings")
    settings = _settings_json(archive_path(dest, made["backup_id"]))
    text = json.dumps(settings)
    leaked = [s for s in SECRETS if s in text]
    assert not leaked, leaked
    # what is not a credential stays, to review the configuration
    assert settings["redis"]["url"].startswith("redis://<redacted>@127.0.0.1:1/0?password=")
    assert settings["embedding"]["base_url"].startswith("https://<redacted>@emb.invalid/v1")
    assert settings["backup"]["prometheus_url"].startswith("http://<redacted>@127.0.0.1:1/")
    assert settings["search"]["rrf_k"] == 5


def test_backups_and_restores_are_private(home, tmp_path):
    env = cli_env(home)
    dest = tmp_path / "new" / "vault"
    made = _create(env, dest)
    bid = made["backup_id"]
    assert made["verification"]["ok"]
    for folder in (tmp_path / "new", dest, dest / "backups", dest / "manifests"):
        assert _mode(folder) == 0o700, folder
    for path in (archive_path(dest, bid), manifest_path(dest, bid), verified_path(dest, bid)):
        assert _mode(path) == 0o600, path
    with tarfile.open(archive_path(dest, bid)) as tar:
        modes = {m.name: m.mode for m in tar.getmembers()}
    assert "identity/identity.db" in modes and set(modes.values()) == {0o600}
    key = home / "auth" / "backup.key"
    assert _mode(key) == 0o600 and len(key.read_text().strip()) == 64

    res = _restore(env, bid, dest, "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    report = json.loads(res.stdout)
    assert _mode(home / "identity.db") == 0o600
    restored = home / "projects" / "proj"
    assert _mode(restored) == 0o700
    assert {_mode(p) for p in restored.rglob("*") if p.is_file()} == {0o600}
    assert {_mode(p) for p in restored.rglob("*") if p.is_dir()} <= {0o700}
    recovery = Path(report["report_path"])
    assert _mode(recovery.parent) == 0o700 and _mode(recovery) == 0o600
    assert _mode(Path(report["settings_file"])) == 0o600


def test_the_data_home_is_created_private(tmp_path):
    """A first command creates the data directory, its auth/ folder and every file in
    them private, whatever the umask it was started with."""
    home = tmp_path / "fresh" / "home"
    old = os.umask(0o022)
    try:
        res = run(["users", "add", "svc", "--service"], cli_env(home))
    finally:
        os.umask(old)
    assert res.returncode == 0, res.stderr
    assert _mode(home) == 0o700
    res = run(["status", "--json"], cli_env(home))
    assert (home / "auth").is_dir() and _mode(home / "auth") == 0o700
    files = [p for p in home.rglob("*") if p.is_file()]
    assert files and {_mode(p) for p in files} == {0o600}, {str(p): _mode(p) for p in files}
    assert {_mode(p) for p in home.rglob("*") if p.is_dir()} == {0o700}


# --- 15: prune at a shared destination -------------------------------------------------


FOREIGN = ("family-photos", "2026-archive", "20260101T000000Z-abc", "19700101T000000Z", "backups")


def test_prune_leaves_foreign_folders_alone(home):
    env = cli_env(home)
    dest = home.parent / "shared"
    for name in FOREIGN:
        (dest / name).mkdir(parents=True)
        (dest / name / "precious.txt").write_text(name)
    stale = dest / "20200101T000000Z-0000aa"  # an interrupted backup, long ago
    stale.mkdir()
    (stale / "backup.tar.gz").write_bytes(b"x")
    made = _create(env, dest)
    res = run(["backup", "prune", "--keep-days", "0", "--dest", dest.as_uri(), "--json"], env)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["deleted"] == ["20200101T000000Z-0000aa"] and out["kept"] == [made["backup_id"]]
    for name in FOREIGN:
        assert (dest / name / "precious.txt").read_text() == name
    listed = json.loads(run(["backup", "list", "--dest", dest.as_uri(), "--json"], env).stdout)
    assert [b["backup_id"] for b in listed["backups"]] == [made["backup_id"]]


def test_prune_leaves_foreign_prefixes_of_an_s3_bucket_alone(home):
    with moto_server(home.parent) as url:
        creds = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
        client = boto3.client(
            "s3",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        client.create_bucket(Bucket="shared")
        foreign = [f"{n}/precious.txt" for n in FOREIGN] + ["top-level.txt"]
        for key in foreign:
            client.put_object(Bucket="shared", Key=key, Body=b"keep me")
        client.put_object(Bucket="shared", Key="20200101T000000Z-0000aa/backup.tar.gz", Body=b"x")
        env = cli_env(
            home,
            CODEWEAVER_BACKUP__DEST="s3://shared",
            CODEWEAVER_BACKUP__S3_ENDPOINT_URL=url,
            CODEWEAVER_BACKUP__S3_REGION="us-east-1",
            **creds,
        )
        res = run(["backup", "create", "--json"], env)
        assert res.returncode == 0, res.stdout + res.stderr
        bid = json.loads(res.stdout)["backup_id"]
        res = run(["backup", "prune", "--keep-days", "0", "--json"], env)
        assert res.returncode == 0, res.stderr
        assert json.loads(res.stdout)["deleted"] == ["20200101T000000Z-0000aa"]
        keys = {o["Key"] for o in client.list_objects_v2(Bucket="shared")["Contents"]}
        assert set(foreign) <= keys and f"manifests/manifest-{bid}.json" in keys


# --- over HTTP: the backup routes of a real server --------------------------------------


HTTP_CREDENTIALS = {
    "CODEWEAVER_EMBEDDING__BASE_URL": "https://embuser:emb-pw-1@emb.invalid/v1?api_key=emb-key-2",
    "CODEWEAVER_QDRANT__URL": "http://qd-user:qdrant-pw-1@127.0.0.1:1/?api-key=qdrant-key-2",
    "CODEWEAVER_QDRANT__API_KEY": "qdrant-plain-key-3",
    "CODEWEAVER_BACKUP__S3_ENDPOINT_URL": "http://s3user:s3-pw-1@127.0.0.1:1/?X-Amz-Signature=s3sig2",
    "CODEWEAVER_BACKUP__S3_SECRET_ACCESS_KEY": "s3-secret-3",
}


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("attacks-backup-http")
    with attack_server(tmp, "sqlite", HTTP_CREDENTIALS) as server:
        admin = server.admin()
        admin.add_user("root", "admin", "acme", PASSWORD)
        admin.store.db.close()
        yield server


def _http_backup(srv) -> str:
    r = srv.client.post("/api/v1/admin/backups", json={"wait": True}, headers=srv.auth("root"))
    assert r.status_code == 201, r.text
    bid: str = r.json()["backup_id"]
    return bid


def test_http_backup_is_signed_private_and_holds_no_credential(srv):
    bid = _http_backup(srv)
    dest = srv.home / "backups"
    for folder in (dest / "backups", dest / "manifests"):
        assert _mode(folder) == 0o700
        assert {_mode(p) for p in folder.iterdir()} == {0o600}
    assert json.loads(manifest_path(dest, bid).read_text())["signature"]["mac"]
    text = json.dumps(_settings_json(archive_path(dest, bid)))
    leaked = [s for s in SECRETS if s in text]
    assert not leaked, leaked


def test_http_verify_refuses_tampered_and_unsigned_backups(srv):
    bid = _http_backup(srv)
    path = manifest_path(srv.home / "backups", bid)
    manifest = json.loads(path.read_text())
    (verified_path(srv.home / "backups", bid)).unlink()
    url = f"/api/v1/admin/backups/{bid}/verify"

    path.write_text(json.dumps({**manifest, "codeweaver_version": "0.0.1"}))  # tampered
    r = srv.client.post(url, headers=srv.auth("root"))
    assert r.status_code == 200 and not r.json()["ok"], r.text
    assert r.json()["signature"] == "invalid"
    assert "signature does not match" in r.json()["problems"][0]
    assert "\n" not in r.json()["problems"][0]
    rid = r.headers["x-request-id"]
    record = srv.audit(rid, event="admin.backup.verify")
    assert record and record[0]["outcome"] == "failure" and record[0]["allow_unsigned"] is False

    unsigned = {k: v for k, v in manifest.items() if k != "signature"}
    path.write_text(json.dumps(unsigned))
    r = srv.client.post(url, headers=srv.auth("root"))
    assert not r.json()["ok"] and "is not signed" in r.json()["problems"][0]
    r = srv.client.post(url, json={"allow_unsigned": True}, headers=srv.auth("root"))
    assert r.status_code == 200 and r.json()["ok"], r.text
    assert r.json()["signature"].startswith("unsigned")
    record = srv.audit(r.headers["x-request-id"], event="admin.backup.verify")
    assert record[0]["allow_unsigned"] is True and record[0]["outcome"] == "success"
    assert not (verified_path(srv.home / "backups", bid)).exists()
    # the field is for operators: a readonly caller never reaches it
    r = srv.client.post(url, json={"allow_unsigned": True}, headers=srv.auth("ro"))
    assert r.status_code == 403
    r = srv.client.post(url, json={"allow_unsigned": "yes"}, headers=srv.auth("root"))
    assert r.status_code == 422 and set(r.json()) == {"error"}


# --- the checks themselves ---------------------------------------------------------------


def test_only_real_backup_ids_are_backup_ids():
    from codeweaver.backup.manifest import is_backup_id

    assert is_backup_id(new_backup_id())
    for name in (
        *FOREIGN,
        "20261399T000000Z-abcdef",
        "\uff12\uff10260101T000000Z-abcdef",
        "x/../y",
    ):
        assert not is_backup_id(name), name


def test_urls_lose_their_credentials_and_paths_stay_contained(tmp_path):
    from codeweaver.backup.paths import contained, safe_relative
    from codeweaver.backup.redact import redact_url
    from codeweaver.errors import InputError

    assert (
        redact_url("redis://:pw@h:6379/0?password=x")
        == "redis://<redacted>@h:6379/0?password=<redacted>"
    )
    assert (
        redact_url("https://u@[::1]:8443/v1#tok") == "https://<redacted>@[::1]:8443/v1#<redacted>"
    )
    assert redact_url("s3://bucket/prefix") == "s3://bucket/prefix"
    assert redact_url("not a url") == "not a url"
    for bad in ("../x", "/abs", "a/../../b", "a\\b", "./a", "a//b", "", "a\x00b"):
        with pytest.raises(InputError):
            safe_relative(bad)
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "link").symlink_to(tmp_path)
    for parts in (("..", "auth"), ("link", "x"), ("/etc",)):
        with pytest.raises(InputError):
            contained(tmp_path / "base", *parts)
    assert contained(tmp_path / "base", "p", "q") == (tmp_path / "base" / "p" / "q").resolve()
