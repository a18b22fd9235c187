"""Backups through a real S3-compatible server process (moto_server on loopback)."""

from __future__ import annotations

import json
import shutil

import boto3
import pytest

from backup_support import cli_env, make_codebase, moto_server, run, search_ids, status

BUCKET = "cw-backups"


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    work = tmp_path_factory.mktemp("moto")
    with moto_server(work) as url:
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        client.create_bucket(Bucket=BUCKET)
        yield url, client


@pytest.fixture
def env(s3, tmp_path):
    url, _ = s3
    make_codebase(tmp_path / "code", files=12)
    env = cli_env(
        tmp_path / "home",
        CODEWEAVER_BACKUP__DEST=f"s3://{BUCKET}/{tmp_path.name}",
        CODEWEAVER_BACKUP__S3_ENDPOINT_URL=url,
        CODEWEAVER_BACKUP__S3_REGION="us-east-1",
        CODEWEAVER_BACKUP__S3_ACCESS_KEY_ID="testing",
        CODEWEAVER_BACKUP__S3_SECRET_ACCESS_KEY="testing",
    )
    res = run(["index", str(tmp_path / "code"), "-p", "proj"], env)
    assert res.returncode == 0, res.stderr
    return env


def _create(env) -> dict:
    res = run(["backup", "create", "--json"], env)
    assert res.returncode == 0, res.stdout + res.stderr
    return json.loads(res.stdout)


def test_create_list_verify_restore_through_s3(env, s3, tmp_path):
    _, client = s3
    before, counts = search_ids(env), status(env)
    made = _create(env)
    assert made["destination"].startswith(f"s3://{BUCKET}/") and made["verification"]["ok"]
    keys = {
        o["Key"] for o in client.list_objects_v2(Bucket=BUCKET, Prefix=tmp_path.name)["Contents"]
    }
    bid = made["backup_id"]
    manifest_key = f"{tmp_path.name}/manifests/manifest-{bid}.json"
    assert {f"{tmp_path.name}/backups/codeweaver-backup-{bid}.tar.gz", manifest_key} <= keys
    body = client.get_object(Bucket=BUCKET, Key=manifest_key)["Body"]
    text = body.read().decode()
    assert "testing" not in text  # no credentials in the manifest
    listed = json.loads(run(["backup", "list", "--json"], env).stdout)["backups"]
    assert [(b["backup_id"], b["status"]) for b in listed] == [(bid, "verified")]
    assert run(["backup", "verify", bid], env).returncode == 0

    kept = tmp_path / "kept-backup.key"  # the signing key, kept apart from the backups
    shutil.copy(tmp_path / "home" / "auth" / "backup.key", kept)
    shutil.rmtree(tmp_path / "home")
    env["CODEWEAVER_BACKUP__SIGNING_KEY_FILE"] = str(kept)
    res = run(["backup", "restore", bid, "--json"], env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert status(env) == counts and search_ids(env) == before


def test_truncated_upload_is_detected_and_refused(env, s3, tmp_path):
    _, client = s3
    before, counts = search_ids(env), status(env)
    bid = _create(env)["backup_id"]
    key = f"{tmp_path.name}/backups/codeweaver-backup-{bid}.tar.gz"
    data = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    client.put_object(Bucket=BUCKET, Key=key, Body=data[: len(data) - 1000])
    res = run(["backup", "verify", bid], env)
    assert res.returncode == 1 and "bytes, the manifest says" in res.stderr
    res = run(["backup", "restore", bid], env)
    assert res.returncode == 1 and "current data is unchanged" in res.stdout
    assert status(env) == counts and search_ids(env) == before


def test_prune_on_s3_keeps_the_newest_verified(env, s3, tmp_path):
    _, client = s3
    first = _create(env)["backup_id"]
    second = _create(env)["backup_id"]
    # a third, unverified backup: made without verification
    res = run(["backup", "create", "--json", "--no-verify"], env)
    third = json.loads(res.stdout)["backup_id"]
    # an interrupted one: archive uploaded, no manifest, from long ago
    client.put_object(
        Bucket=BUCKET, Key=f"{tmp_path.name}/20200101T000000Z-0000aa/backup.tar.gz", Body=b"x"
    )
    res = run(["backup", "prune", "--keep-days", "0", "--json"], env)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert sorted(out["deleted"]) == sorted([first, third, "20200101T000000Z-0000aa"])
    listed = json.loads(run(["backup", "list", "--json"], env).stdout)["backups"]
    assert [b["backup_id"] for b in listed] == [second]
