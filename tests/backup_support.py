"""Helpers for the backup tests: a fixture codebase, the CLI as a subprocess, moto_server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from net_helpers import free_port

CLI = [sys.executable, "-m", "codeweaver.cli.app"]
QUERIES = ("handle the request kind", "retry the upload", "parse configuration values")


def write_signed(manifest_path: Path, manifest: dict[str, object], key_file: Path) -> None:
    """Write an edited ``manifest`` signed with the backup key in ``key_file`` (a data
    directory's: ``<home>/auth/backup.key``), as the server that made it would have: for
    checks that come after the signature's."""
    from codeweaver.backup.signing import sign_manifest

    key = key_file.read_bytes().strip()
    manifest_path.write_text(json.dumps(sign_manifest(manifest, key)))


def make_codebase(root: Path, files: int = 30) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        funcs = "\n\n".join(
            f"def handler_{i}_{j}(request):\n"
            f"    '''Handle request kind {j} for module {i}: retry the upload, parse config.'''\n"
            f"    value = request.get('k{j}')\n"
            f"    return value or {i * j}\n"
            for j in range(4)
        )
        (root / f"handlers_{i:03d}.py").write_text(funcs)


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "CODEWEAVER_HOME": str(home), **extra}


def run(
    args: list[str], env: dict[str, str], timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=timeout)


class Results:
    """Search results compared the way probes are: equal up to the order of tied scores
    (RRF scores tie often)."""

    def __init__(self, rows: list[list[tuple[str, float]]]) -> None:
        self.rows = rows

    def __eq__(self, other: object) -> bool:
        from codeweaver.backup.project_data import same_results

        if not isinstance(other, Results) or len(other.rows) != len(self.rows):
            return NotImplemented
        return all(same_results(a, b) for a, b in zip(self.rows, other.rows, strict=True))

    def __repr__(self) -> str:
        return f"Results({self.rows!r})"


def search_ids(env: dict[str, str], project: str = "proj") -> Results:
    """Every query of ``QUERIES`` in one process (``search --batch``)."""
    batch = Path(env["CODEWEAVER_HOME"]).parent / "queries.txt"
    batch.write_text("\n".join(QUERIES) + "\n")
    res = run(["search", "--batch", str(batch), "-p", project, "--json", "-n", "10"], env)
    assert res.returncode == 0, res.stderr
    out = []
    for line in res.stdout.splitlines():
        hits = json.loads(line)["results"]
        out.append([(f"{r['path']}:{r['start_line']}", float(r["score"])) for r in hits])
        assert out[-1], "no results"
    assert len(out) == len(QUERIES)
    return Results(out)


def status(env: dict[str, str], project: str = "proj") -> dict[str, object]:
    res = run(["status", "-p", project, "--json"], env)
    assert res.returncode == 0, res.stderr
    data: dict[str, object] = json.loads(res.stdout)
    return {k: data[k] for k in ("files", "chunks", "points", "model", "dim")}


@contextmanager
def moto_server(workdir: Path) -> Iterator[str]:
    """A real S3-compatible HTTP server (moto's) on a free loopback port."""
    port = free_port()
    log = (workdir / "moto.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=workdir,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url + "/moto-api/", timeout=1)
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"moto_server did not start: {(workdir / 'moto.log').read_text()}"
                    ) from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def archive_path(dest: Path, backup_id: str) -> Path:
    """Where a backup's archive is in a destination folder."""
    return dest / "backups" / f"codeweaver-backup-{backup_id}.tar.gz"


def manifest_path(dest: Path, backup_id: str) -> Path:
    """Where a backup's manifest is in a destination folder."""
    return dest / "manifests" / f"manifest-{backup_id}.json"


def verified_path(dest: Path, backup_id: str) -> Path:
    """Where a backup's verification record is in a destination folder."""
    return dest / "manifests" / f"verified-{backup_id}.json"


def to_legacy_layout(dest: Path, backup_id: str) -> Path:
    """Move a backup into the layout releases before the current one wrote
    (``<id>/backup.tar.gz``, ``<id>/manifest.json``, ``<id>/verified.json``)."""
    folder = dest / backup_id
    folder.mkdir(mode=0o700)
    archive_path(dest, backup_id).rename(folder / "backup.tar.gz")
    manifest_path(dest, backup_id).rename(folder / "manifest.json")
    if verified_path(dest, backup_id).exists():
        verified_path(dest, backup_id).rename(folder / "verified.json")
    return folder
