"""Real server processes for the provider and cache tests: the local embeddings server
(tests/embedding_server.py) and ``redis-server``, each on a free loopback port."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import redis

from net_helpers import free_port

HERE = Path(__file__).resolve().parent


class EmbeddingServer:
    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "embedding_server.py"), "--port", "0", *args],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().split()
        assert line and line[0] == "PORT", line
        self.url = f"http://127.0.0.1:{line[1]}/v1"

    def script(self, *steps: dict, fail_all: int | None = None) -> None:
        httpx.post(
            self.url.removesuffix("/v1") + "/_script",
            json={"steps": list(steps), "fail_all": fail_all},
        ).raise_for_status()

    def stats(self) -> dict:
        return httpx.get(self.url.removesuffix("/v1") + "/_stats").json()

    def reset(self) -> None:
        httpx.post(self.url.removesuffix("/v1") + "/_reset").raise_for_status()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        if self.proc.stdout:
            self.proc.stdout.close()


class RedisServer:
    """``redis-server`` in a temporary folder, no persistence; can be killed and restarted."""

    def __init__(self, folder: Path, *extra: str) -> None:
        if shutil.which("redis-server") is None:
            pytest.fail("redis-server is not installed (tools/install_services.sh installs it)")
        self.folder = folder
        self.port = free_port()
        self.extra = extra
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.folder),
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
                *self.extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        client.close()

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=5)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        self.kill()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def embedding_server():
    server = EmbeddingServer()
    yield server
    server.stop()
