"""The indexing pipeline: discover → chunk → embed + BM25 → store, incrementally.

Crash safety: a file's old points are deleted just before its first new point is
written, and the file is recorded in the manifest only after its last point is
written. A run marks itself ``running`` in the manifest; a run that finds that mark
left behind first removes points of paths the manifest does not know. Re-running
after ``kill -9`` therefore converges on exactly the right points.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codeweaver.core.chunking import ChunkOptions, chunk_file
from codeweaver.errors import EmbeddingError, InputError
from codeweaver.index.background import ahead
from codeweaver.index.confined import Escape
from codeweaver.index.discovery import Discovered, DiscoveredFile, discover, git_commit
from codeweaver.index.manifest import FileRecord, Manifest
from codeweaver.index.partial import discover_paths
from codeweaver.types import (
    Chunk,
    Embedder,
    IndexStats,
    SparseEncoder,
    SparseVec,
    StoredPoint,
    VectorStore,
)

__all__ = ["IndexOptions", "Indexer", "Progress", "embed_text", "model_mismatch", "point_id"]

log = logging.getLogger("codeweaver.index")

_POINT_NS = uuid.UUID("6f1c1c8e-5d2e-4c1a-9a57-2f8f0b7e6a10")
_BINARY_SNIFF = 8192
CHUNKER_VERSION = 1  # bump when chunking code changes what it emits


def point_id(chunk: Chunk, ordinal: int) -> str:
    return str(uuid.uuid5(_POINT_NS, f"{chunk.path}\0{ordinal}\0{chunk.content_hash}"))


def embed_text(chunk: Chunk) -> str:
    """The text embedded (and BM25-encoded) for a chunk: its context header, then content."""
    return f"{chunk.context}\n{chunk.content}" if chunk.context else chunk.content


def chunk_payload(chunk: Chunk) -> dict[str, Any]:
    keys = [k for k in dict.fromkeys((chunk.symbol, chunk.name)) if k]
    return {
        "path": chunk.path,
        "language": chunk.language,
        "kind": chunk.kind,
        "symbol": chunk.symbol,
        "symbol_keys": keys,
        "start_line": chunk.start_line,
        "end_line": chunk.end_line,
        "content": chunk.content,
        "content_hash": chunk.content_hash,
    }


@dataclass(frozen=True, slots=True)
class Progress:
    files_done: int
    files_total: int
    chunks_done: int


@dataclass(frozen=True, slots=True)
class IndexOptions:
    max_file_bytes: int = 1_048_576
    exclude: tuple[str, ...] = ()
    use_git: bool = True
    batch_chunks: int = 64
    chunking: ChunkOptions = field(default_factory=ChunkOptions)
    # Remote providers: also bound each embedding batch by estimated tokens, filling
    # batches first-fit from a slightly larger pool so each is one full request.
    batch_tokens: int | None = None
    count_tokens: Callable[[str], int] | None = None  # the provider's token estimate
    # How long indexing pauses (retrying) while the embedder fails before giving up;
    # finished files stay recorded, so a later run resumes where this one stopped.
    embed_wait_seconds: float = 0.0
    sleep: Callable[[float], None] = time.sleep
    # resolved locations discovery never picks files from (the data home, secret files)
    protected: tuple[Path, ...] = ()


@dataclass(slots=True, eq=False)
class _FileWork:
    file: DiscoveredFile
    sha256: str
    remaining: int
    total: int = 0
    cleared: bool = False


@dataclass(frozen=True, slots=True)
class _Item:
    work: _FileWork
    chunk: Chunk
    text: str
    sparse: SparseVec
    tokens: int = 0


@dataclass(frozen=True, slots=True)
class _Prepared:
    work: _FileWork
    items: list[_Item]
    problem: str | None = None
    readable: bool = True


@dataclass(slots=True)
class _Run:
    files_total: int
    files_done: int = 0
    chunks_added: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    pending: list[_Item] = field(default_factory=list)
    pending_tokens: int = 0
    outside: int = 0  # known files a path-restricted run left alone
    partial: bool = False


class Indexer:
    """Indexes one project's root into its store, recording progress in its manifest."""

    def __init__(
        self,
        store: VectorStore,
        embedder: Embedder,
        sparse: SparseEncoder,
        manifest: Manifest,
        options: IndexOptions | None = None,
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._sparse = sparse
        self._manifest = manifest
        self._opts = options or IndexOptions()
        self._resumed = False  # the last run was interrupted (its optimize may be undone)

    # ------------------------------------------------------------------ public
    def run(
        self,
        root: Path,
        project: str,
        *,
        full: bool = False,
        on_progress: Callable[[Progress], None] | None = None,
        paths: Collection[str] | None = None,
    ) -> IndexStats:
        """Index ``root``. With ``paths`` (project-relative files or folders), only those
        are looked at for changes and deletions; every other file counts as unchanged."""
        started = time.perf_counter()
        full = self._prepare(full)
        scope = None if paths is None or full else {p.strip("/") for p in paths} - {"", "."}
        kw: dict[str, Any] = {
            "max_bytes": self._opts.max_file_bytes,
            "use_git": self._opts.use_git,
            "protected": self._opts.protected,
        }
        if scope is None:
            found = discover(root, exclude=list(self._opts.exclude), **kw)
        else:
            found = discover_paths(root, sorted(scope), exclude=self._opts.exclude, **kw)
        known = self._manifest.files()
        run = _Run(files_total=0, partial=scope is not None)
        if scope is not None:
            inside = {p for p in known if _in_scope(p, scope)}
            run.outside = len(known) - len(inside)
            known = {p: known[p] for p in inside}
        changed, unchanged, deleted = self._plan(found, known)
        self._manifest.set(run_state="running", run_started_at=time.time(), root=str(root))
        if deleted:
            self._store.delete_paths(deleted)
            self._manifest.forget_files(deleted)
        if scope is not None:  # stale failure records of paths that are gone
            present = {f.path for f in found.files}
            self._manifest.forget_files(p for p in scope if p not in present)
        run.files_total = len(changed)
        report = on_progress or (lambda _p: None)
        for prepared in ahead(map(self._read_file, changed)):
            self._accept(prepared, run)
            while self._batch_ready(run):
                self._flush_batch(run)
            report(Progress(run.files_done, run.files_total, run.chunks_added))
        while run.pending:
            self._flush_batch(run)
        report(Progress(run.files_done, run.files_total, run.chunks_added))
        return self._finish(root, project, found, run, unchanged, deleted, started, full)

    # ------------------------------------------------------------------ stages
    def _prepare(self, full: bool) -> bool:
        meta = self._manifest.meta()
        model = meta.get("model_id")
        if (
            model is not None
            and not full
            and (model != self._embedder.model_id or meta.get("dim") != self._embedder.dim)
        ):
            raise InputError(model_mismatch(model, meta.get("dim"), self._embedder))
        signature = _signature(self._opts.chunking)
        if meta.get("chunking") not in (None, signature):
            full = True  # chunking rules changed: every chunk must be rebuilt
        if full:
            self._store.drop()
            self._manifest.clear()
        self._store.ensure(self._embedder.dim)
        if meta.get("run_state") == "running" and not full:
            self._resumed = True
            self._reconcile()
        self._manifest.set(
            model_id=self._embedder.model_id, dim=self._embedder.dim, chunking=signature
        )
        return full

    def _version(self) -> str:
        """Names the indexed content: equal for equal files, model and chunking rules, so
        replicas indexing the same code share cached results, and any change renames it."""
        files = sorted((r.path, r.sha256) for r in self._manifest.files().values())
        chunking = _signature(self._opts.chunking)
        return _content_version(self._embedder.model_id, self._embedder.dim, chunking, files)

    def _reconcile(self) -> None:
        """After a crash: drop points of paths the manifest never recorded."""
        orphans = self._store.paths() - set(self._manifest.files())
        if orphans:
            self._store.delete_paths(sorted(orphans))

    def _plan(
        self, found: Discovered, known: dict[str, FileRecord]
    ) -> tuple[list[_FileWork], int, list[str]]:
        changed: list[_FileWork] = []
        unchanged = 0
        touched: list[FileRecord] = []
        for item in found.files:
            rec = known.get(item.path)
            if rec is not None and rec.size == item.size and rec.mtime_ns == item.mtime_ns:
                unchanged += 1
                continue
            sha = _sha256(item, self._opts.max_file_bytes)
            if rec is not None and sha is not None and rec.sha256 == sha:
                unchanged += 1  # touched, same content: remember the new mtime only
                touched.append(FileRecord(rec.path, sha, item.size, item.mtime_ns, rec.chunks))
                continue
            changed.append(_FileWork(item, sha or "", remaining=0))
        if touched:
            self._manifest.record_files(touched)
        present = {f.path for f in found.files}
        deleted = sorted(p for p in known if p not in present)
        return changed, unchanged, deleted

    def _read_file(self, work: _FileWork) -> _Prepared:
        """Read, chunk and BM25-encode one file (runs in the reader thread: no store I/O)."""
        text, problem = _read_text(work.file, self._opts.max_file_bytes)
        if text is None:
            return _Prepared(work, [], problem, readable=False)
        try:
            chunks = chunk_file(work.file.path, text, options=self._opts.chunking)
        except Exception as exc:  # a chunker bug must not stop the run
            return _Prepared(work, [], f"chunking failed: {exc}", readable=False)
        items = []
        for chunk in chunks:
            body = embed_text(chunk)
            sparse = self._sparse.encode_document(body)
            tokens = self._opts.count_tokens(body) if self._opts.count_tokens else 0
            items.append(_Item(work, chunk, body, sparse, tokens))
        return _Prepared(work, items)

    def _accept(self, prepared: _Prepared, run: _Run) -> None:
        work = prepared.work
        if not prepared.readable:
            run.files_done += 1
            if prepared.problem:
                run.failures.append((work.file.path, prepared.problem))
            self._store.delete_paths([work.file.path])
            self._manifest.forget_files([work.file.path])
            return
        work.remaining = work.total = len(prepared.items)
        if not prepared.items:
            run.files_done += 1
            self._store.delete_paths([work.file.path])
            self._commit([work])
            return
        run.pending.extend(prepared.items)
        run.pending_tokens += sum(i.tokens for i in prepared.items)

    def _batch_ready(self, run: _Run) -> bool:
        if len(run.pending) >= self._opts.batch_chunks:
            return True
        budget = self._opts.batch_tokens
        return budget is not None and run.pending_tokens >= budget + budget // 4

    def _take(self, run: _Run) -> list[_Item]:
        """The next embedding batch: at most ``batch_chunks`` items and, when set,
        ``batch_tokens`` estimated tokens, chosen first-fit in arrival order."""
        size, budget = self._opts.batch_chunks, self._opts.batch_tokens
        if budget is None:
            batch, run.pending = run.pending[:size], run.pending[size:]
        else:
            batch, rest, used = [], [], 0
            for item in run.pending:
                if len(batch) < size and (used + item.tokens <= budget or not batch):
                    batch.append(item)
                    used += item.tokens
                else:
                    rest.append(item)
            run.pending = rest
        run.pending_tokens -= sum(i.tokens for i in batch)
        return batch

    def _embed(self, texts: list[str], run: _Run) -> list[list[float]]:
        """Embed, pausing with backoff while the embedder fails (up to the configured wait)."""
        waited, delay = 0.0, 1.0
        while True:
            try:
                return self._embedder.embed_documents(texts)
            except EmbeddingError as exc:
                left = self._opts.embed_wait_seconds - waited
                if left <= 0:
                    if not self._opts.embed_wait_seconds:
                        raise
                    raise EmbeddingError(
                        f"embedding provider unavailable for {waited:.0f}s, indexing stopped "
                        f"with {run.files_done} files stored; re-run to resume: {exc}"
                    ) from exc
                pause = min(delay, left)
                log.warning("embedding failed (%s); indexing paused for %.1fs", exc, pause)
                self._opts.sleep(pause)
                waited += pause
                delay = min(delay * 2, 30.0)

    def _flush_batch(self, run: _Run) -> None:
        batch = self._take(run)
        dense = self._embed([i.text for i in batch], run)  # before any delete: may pause
        to_clear = list(dict.fromkeys(i.work for i in batch if not i.work.cleared))
        if to_clear:
            self._store.delete_paths([w.file.path for w in to_clear])
            for w in to_clear:
                w.cleared = True
        points = []
        for item, vec in zip(batch, dense, strict=True):
            ordinal = item.work.remaining  # unique per file while counting down
            item.work.remaining -= 1
            points.append(
                StoredPoint(
                    id=point_id(item.chunk, ordinal),
                    dense=vec,
                    sparse=item.sparse,
                    payload=chunk_payload(item.chunk),
                )
            )
        self._store.upsert(points)
        run.chunks_added += len(points)
        done = [w for w in dict.fromkeys(i.work for i in batch) if w.remaining == 0]
        if done:
            self._commit(done)
            run.files_done += len(done)

    def _commit(self, done: list[_FileWork]) -> None:
        self._manifest.record_files(
            FileRecord(w.file.path, w.sha256, w.file.size, w.file.mtime_ns, w.total) for w in done
        )

    def _finish(
        self,
        root: Path,
        project: str,
        found: Discovered,
        run: _Run,
        unchanged: int,
        deleted: list[str],
        started: float,
        full: bool,
    ) -> IndexStats:
        if run.chunks_added or deleted or self._resumed:
            self._store.optimize()
        self._store.flush()
        commit = git_commit(root) if found.via_git else None
        seconds = time.perf_counter() - started
        stats = IndexStats(
            project=project,
            files_total=len(found.files) + run.outside,
            files_indexed=run.files_total - len(run.failures),
            files_unchanged=unchanged + run.outside,
            files_deleted=len(deleted),
            chunks_added=run.chunks_added,
            chunks_total=self._manifest.chunk_total(),
            failures=tuple(run.failures),
            seconds=seconds,
            commit=commit,
        )
        if run.files_total or deleted or full or self._manifest.get("index_version") is None:
            self._manifest.set(index_version=self._version())  # invalidates cached results
        if run.partial:
            self._manifest.record_failures(run.failures)
        else:
            self._manifest.replace_failures(run.failures)
            self._manifest.set(skipped=found.skipped[:1000], skipped_count=len(found.skipped))
        self._manifest.set(
            run_state="complete",
            last_run_at=time.time(),
            last_run_seconds=round(seconds, 3),
            last_commit=commit,
            last_full=full,
        )
        return stats


def model_mismatch(model: str, dim: object, embedder: Embedder) -> str:
    """The refusal for using a project with a model other than the one it was indexed with."""
    return (
        f"this project was indexed with model {model} ({dim} dims) but the configured "
        f"model is {embedder.model_id} ({embedder.dim} dims); vectors of different models "
        "are never mixed: re-index into a new project (codeweaver index PATH --project NEW) "
        "and switch to it, or re-index with --full to rebuild this one"
    )


def _content_version(model: str, dim: int, chunking: str, files: list[tuple[str, str]]) -> str:
    digest = hashlib.sha256(f"{model}\0{dim}\0{chunking}".encode())
    for path, sha in files:
        digest.update(f"\0{path}\0{sha}".encode())
    return digest.hexdigest()[:32]


def _in_scope(path: str, scope: set[str]) -> bool:
    """``path`` is one of ``scope`` or lies in a folder of ``scope``."""
    parts = path.split("/")
    return any("/".join(parts[:i]) in scope for i in range(1, len(parts) + 1))


def _signature(options: ChunkOptions) -> str:
    """Identifies the chunking rules; a change forces a full rebuild of the chunks."""
    return hashlib.sha256(f"{CHUNKER_VERSION}:{options!r}".encode()).hexdigest()[:16]


def _sha256(file: DiscoveredFile, max_bytes: int) -> str | None:
    try:
        return hashlib.sha256(file.read_bytes(max_bytes)).hexdigest()
    except (OSError, ValueError):
        return None


def _read_text(file: DiscoveredFile, max_bytes: int) -> tuple[str | None, str | None]:
    """The file's text, or ``(None, reason)``; binaries give ``(None, None)`` (skipped).
    The file is read only from inside the project root, and only up to ``max_bytes``."""
    try:
        data = file.read_bytes(max_bytes)
    except Escape as exc:
        return None, str(exc)
    except ValueError as exc:
        return None, str(exc)
    except OSError as exc:
        return None, f"cannot read: {exc.strerror or exc}"
    if b"\0" in data[:_BINARY_SNIFF]:
        return None, None
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        return None, f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})"
