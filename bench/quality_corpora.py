"""The evaluation corpora: where each comes from, how to fetch it, how to prepare it.

Sources are third-party packages installed with their ordinary clients (Debian source
packages, npm tarballs, PyPI sdists) into a cache directory outside the repository.
The standard libraries of Python, Go and Rust, OpenJDK's class library, lodash and rxjs
are never used: they are held out for independent checks.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from quality_cases import Case, Definition, blank_and_extract

__all__ = ["CORPORA", "Corpus", "fetch", "prepare", "split_of"]

_GO = "/usr/share/gocode/src/github.com"
_RUST = "/usr/share/cargo/registry"


@dataclass(frozen=True)
class Source:
    name: str
    root: str  # under the cache dir unless absolute
    include: tuple[str, ...]  # globs relative to root


@dataclass(frozen=True)
class Corpus:
    language: str
    ext: tuple[str, ...]
    sources: tuple[Source, ...]


def _npm(pkg: str, ver: str, *globs: str) -> Source:
    flat = pkg.removeprefix("@").replace("/", "-")  # how `npm pack` names the tarball
    return Source(flat, f"npm/{flat}-{ver}/package", globs)


CORPORA: dict[str, Corpus] = {
    "python": Corpus(
        "python",
        (".py",),
        tuple(
            Source(n, f"pypi/{n}-{v}", (f"src/{n}/**/*.py", f"{n}/**/*.py", "tests/**/*.py"))
            for n, v in (
                ("requests", "2.32.3"),
                ("click", "8.1.8"),
                ("attrs", "24.2.0"),
                ("rich", "13.9.4"),
                ("httpx", "0.27.2"),
                ("jinja2", "3.1.4"),
            )
        ),
    ),
    "go": Corpus(
        "go",
        (".go",),
        tuple(
            Source(p.replace("/", "-"), f"{_GO}/{p}", ("**/*.go",))
            for p in (
                "spf13/cobra",
                "gin-gonic/gin",
                "gorilla/mux",
                "urfave/cli",
                "sirupsen/logrus",
                "spf13/pflag",
                "spf13/viper",
            )
        ),
    ),
    "java": Corpus(
        "java",
        (".java",),
        (
            Source(
                "commons-lang3",
                "debsrc/commons-lang-rel-commons-lang-3.12.0",
                ("src/main/java/**/*.java",),
            ),
            Source("jsoup", "debsrc/jsoup-jsoup-1.15.3", ("src/main/java/**/*.java",)),
        ),
    ),
    "javascript": Corpus(
        "javascript",
        (".js",),
        (
            _npm("axios", "1.21.1", "lib/**/*.js"),
            _npm("express", "5.3.0", "lib/**/*.js", "index.js"),
            _npm("commander", "14.0.3", "lib/**/*.js", "index.js"),
            _npm("moment", "2.31.0", "src/lib/**/*.js"),
        ),
    ),
    "typescript": Corpus(
        "typescript",
        (".ts",),
        (
            _npm("zod", "4.6.7", "src/v4/**/*.ts"),
            _npm("@reduxjs/toolkit", "2.16.0", "src/**/*.ts"),
            _npm("@tanstack/query-core", "5.108.4", "src/**/*.ts"),
            _npm("immer", "11.2.14", "src/**/*.ts"),
        ),
    ),
    "rust": Corpus(
        "rust",
        (".rs",),
        tuple(
            Source(n, f"{_RUST}/{n}", ("src/**/*.rs", "tests/**/*.rs"))
            for n in (
                "serde-1.0.152",
                "regex-1.7.1",
                "regex-syntax-0.6.27",
                "anyhow-1.0.69",
                "itertools-0.10.3",
            )
        ),
    ),
}

_APT = [
    "golang-github-spf13-cobra-dev",
    "golang-github-gin-gonic-gin-dev",
    "golang-github-gorilla-mux-dev",
    "golang-github-urfave-cli-v2-dev",
    "golang-github-sirupsen-logrus-dev",
    "golang-github-spf13-pflag-dev",
    "golang-github-spf13-viper-dev",
    "librust-serde-dev",
    "librust-regex-dev",
    "librust-regex-syntax-dev",
    "librust-anyhow-dev",
    "librust-itertools-dev",
]
_DEB_SOURCES = ["libcommons-lang3-java=3.12.0-2+deb12u1", "jsoup=1.15.3-1"]
_NPM = [
    "axios@1.21.1",
    "express@5.3.0",
    "commander@14.0.3",
    "moment@2.31.0",
    "zod@4.6.7",
    "@reduxjs/toolkit@2.16.0",
    "@tanstack/query-core@5.108.4",
    "immer@11.2.14",
]
_PYPI = [
    "requests==2.32.3",
    "click==8.1.8",
    "attrs==24.2.0",
    "rich==13.9.4",
    "httpx==0.27.2",
    "jinja2==3.1.4",
]


def _run(cmd: list[str], cwd: Path) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=cwd, check=True)


def fetch(cache: Path, pip: str) -> None:
    """Install every source into ``cache`` (apt needs root and a deb-src entry)."""
    for sub in ("debsrc", "npm", "pypi"):
        (cache / sub).mkdir(parents=True, exist_ok=True)
    _run(["apt-get", "install", "-y", "--no-install-recommends", *_APT], cache)
    _run(["apt-get", "source", "--download-only", *_DEB_SOURCES], cache / "debsrc")
    for tar in (cache / "debsrc").glob("*.orig.tar.*"):
        _run(["tar", "xf", tar.name], cache / "debsrc")
    for spec in _NPM:
        _run(["npm", "pack", spec, "--silent"], cache / "npm")
    for tgz in (cache / "npm").glob("*.tgz"):
        dest = cache / "npm" / tgz.name.removesuffix(".tgz")
        dest.mkdir(exist_ok=True)
        with tarfile.open(tgz) as tf:
            tf.extractall(dest, filter="data")
    _run([pip, "download", "--no-deps", "--no-binary", ":all:", "-d", ".", *_PYPI], cache / "pypi")
    for sdist in (cache / "pypi").glob("*.tar.gz"):
        with tarfile.open(sdist) as tf:
            tf.extractall(cache / "pypi", filter="data")


def _files(cache: Path, source: Source, ext: tuple[str, ...]) -> list[tuple[Path, str]]:
    root = Path(source.root) if source.root.startswith("/") else cache / source.root
    if not root.is_dir():
        raise SystemExit(f"missing corpus source {root}: run `eval_quality.py fetch` first")
    seen: dict[Path, str] = {}
    for glob in source.include:
        for path in sorted(root.glob(glob)):
            if path.is_file() and path.suffix in ext and not path.name.endswith(".d.ts"):
                seen.setdefault(path, f"{source.name}/{path.relative_to(root).as_posix()}")
    return sorted(seen.items(), key=lambda kv: kv[1])


def prepare(
    cache: Path, corpus: Corpus, dest: Path, max_files: int = 0
) -> tuple[list[Case], list[Definition]]:
    """Write the doc-blanked copy of ``corpus`` to ``dest``; return its cases and defs."""
    cases: list[Case] = []
    defs: list[Definition] = []
    if dest.exists():
        shutil.rmtree(dest)
    files = [f for source in corpus.sources for f in _files(cache, source, corpus.ext)]
    if max_files:
        files = sorted(files, key=lambda f: hashlib.sha1(f[1].encode()).digest())[:max_files]
    for path, rel in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        blanked, c, d = blank_and_extract(text, rel, corpus.language)
        if not _secondary(rel):
            cases.extend(c)
            defs.extend(d)
        out = dest / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(blanked, encoding="utf-8")
    return cases, defs


def _secondary(rel: str) -> bool:
    """Test files: indexed, but no cases are drawn from them."""
    name = rel.rsplit("/", 1)[-1]
    return "/tests/" in rel or "/test/" in rel or name.endswith(("_test.go", ".test.ts"))


def split_of(path: str) -> str:
    """``dev`` or ``test``, by file, so no file feeds both splits."""
    return "dev" if hashlib.sha1(path.encode()).digest()[0] % 2 == 0 else "test"
