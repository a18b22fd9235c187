"""A throwaway PostgreSQL server for tests: initdb + postgres on a free loopback port.

PostgreSQL refuses to run as root; then the server runs as the unprivileged
``postgres`` OS user (via ``runuser``) in a temporary folder it owns.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from net_helpers import free_port as _free_port

PG_BIN = Path(os.environ.get("CODEWEAVER_PG_BIN", "/usr/lib/postgresql/15/bin"))


def available() -> bool:
    return (PG_BIN / "initdb").is_file() and (PG_BIN / "pg_ctl").is_file()


def _as_user() -> list[str]:
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", "postgres", "--"]


@contextmanager
def postgres() -> Iterator[str]:
    """Start a server; yield its URL (database ``codeweaver``, user ``codeweaver``)."""
    base = Path(tempfile.mkdtemp(prefix="cw-pg-"))
    data = base / "data"
    prefix = _as_user()
    if prefix:
        shutil.chown(base, "postgres", "postgres")
    pw = base / "pw"
    pw.write_text("cw-test-password\n")
    if prefix:
        shutil.chown(pw, "postgres", "postgres")
    port = _free_port()
    run = {"check": True, "capture_output": True, "timeout": 120}
    subprocess.run(
        [*prefix, str(PG_BIN / "initdb"), "-D", str(data), "-U", "codeweaver", "-A",
         "scram-sha-256", "--pwfile", str(pw), "-E", "UTF8", "--no-sync"],
        **run,
    )  # fmt: skip
    opts = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={base} -F"
    subprocess.run(
        [*prefix, str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", opts, "-l",
         str(base / "log"), "-w", "-t", "60", "start"],
        **run,
    )  # fmt: skip
    try:
        subprocess.run(
            [*prefix, str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(port),
             "-U", "codeweaver", "codeweaver"],
            env={**os.environ, "PGPASSWORD": "cw-test-password"},
            **run,
        )  # fmt: skip
        yield f"postgresql://codeweaver:cw-test-password@127.0.0.1:{port}/codeweaver"
    finally:
        subprocess.run(
            [*prefix, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            timeout=60,
            check=False,
        )
        time.sleep(0.1)
        shutil.rmtree(base, ignore_errors=True)


def fresh_database(url: str, prefix: str = "t_") -> str:
    """A new, empty database on the server at ``url``; its URL."""
    import uuid

    import psycopg

    name = prefix + uuid.uuid4().hex[:12]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return url.rsplit("/", 1)[0] + "/" + name
