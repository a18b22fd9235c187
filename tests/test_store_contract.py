"""One contract for every VectorStore: Qdrant Edge, Qdrant server (client local mode), twin."""

from __future__ import annotations

import json
import math
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import httpx
import pytest
from qdrant_client import QdrantClient

from codeweaver.adapters.edge_store import EdgeStore
from codeweaver.adapters.server_store import QdrantServerStore, connect
from codeweaver.errors import StoreError
from codeweaver.types import Hit, SearchFilters, SparseVec, StoredPoint, StoreQuery, VectorStore
from store_twin import MemoryState, MemoryStore

DIM = 16
COMMON_TERM = 1


@dataclass
class Backend:
    name: str
    factory: Callable[[], VectorStore]
    opened: list[VectorStore] = field(default_factory=list)

    def open(self) -> VectorStore:
        store = self.factory()
        self.opened.append(store)
        return store


@pytest.fixture(params=["edge", "server", "memory"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    client: QdrantClient | None = None
    if request.param == "edge":
        factory: Callable[[], VectorStore] = partial(EdgeStore, tmp_path / "shard")
    elif request.param == "server":
        client = QdrantClient(":memory:")
        factory = partial(QdrantServerStore, client, "project")
    else:
        state = MemoryState()
        factory = partial(MemoryStore, state)
    be = Backend(request.param, factory)
    yield be
    for store in be.opened:
        store.close()
    if client is not None:
        client.close()


@pytest.fixture
def store(backend: Backend) -> VectorStore:
    return backend.open()


# -- data ---------------------------------------------------------------------------------

# (path, language, kind, symbol) for point i; three chunks per file.
LAYOUT = [
    ("src/parser.py", "python", "class", "Parser"),
    ("src/parser.py", "python", "method", "Parser.parse"),
    ("src/parser.py", "python", "function", "tokenize"),
    ("src/lexer.py", "python", "class", "Lexer"),
    ("src/lexer.py", "python", "method", "Lexer.parse"),
    ("src/lexer.py", "python", "function", "scan"),
    ("cmd/main.go", "go", "function", "main"),
    ("cmd/main.go", "go", "method", "Server.Serve"),
    ("cmd/main.go", "go", "function", "parseFlags"),
    ("pkg/util.go", "go", "function", "Join"),
    ("pkg/util.go", "go", "method", "Buffer.parse"),
    ("pkg/util.go", "go", "class", "Buffer"),
]


def pid(i: int) -> str:
    return str(uuid.UUID(int=i + 1))


def axis(i: int, secondary: float = 0.0) -> list[float]:
    vec = [0.0] * DIM
    vec[i % DIM] = 1.0
    vec[(i + 1) % DIM] = secondary
    norm = math.sqrt(1.0 + secondary * secondary)
    return [v / norm for v in vec]


def term(i: int) -> int:
    return 1000 + i


def make_point(i: int) -> StoredPoint:
    path, language, kind, symbol = LAYOUT[i]
    keys = [symbol] if "." not in symbol else [symbol, symbol.rsplit(".", 1)[-1]]
    payload = {
        "path": path,
        "language": language,
        "kind": kind,
        "symbol": symbol,
        "symbol_keys": keys,
        "start_line": 10 * i + 1,
        "end_line": 10 * i + 9,
        "content": f"def chunk_{i}(): pass",
        "content_hash": f"hash{i}",
    }
    sparse = SparseVec((COMMON_TERM, term(i)), (0.5 + 0.01 * i, 1.0))
    return StoredPoint(pid(i), axis(i, 0.1 * (i % 3 + 1)), sparse, payload)


POINTS = [make_point(i) for i in range(len(LAYOUT))]
ALL_PATHS = {p for p, *_ in LAYOUT}


def filled(store: VectorStore) -> VectorStore:
    store.ensure(DIM)
    store.upsert(POINTS)
    return store


def q(
    dense: list[float] | None = None,
    sparse: SparseVec | None = None,
    limit: int = 5,
    **filters: object,
) -> StoreQuery:
    return StoreQuery(dense, sparse, limit, SearchFilters(**filters))  # type: ignore[arg-type]


def sq(*terms: int) -> SparseVec:
    return SparseVec(tuple(sorted(terms)), tuple(1.0 for _ in terms))


def ids(hits: list[Hit]) -> list[str]:
    return [h.id for h in hits]


# -- lifecycle ----------------------------------------------------------------------------


def test_ensure_is_idempotent(store: VectorStore) -> None:
    store.ensure(DIM)
    store.ensure(DIM)
    assert store.count() == 0
    store.upsert(POINTS)
    store.ensure(DIM)
    assert store.count() == len(POINTS)


def test_upsert_and_count(store: VectorStore) -> None:
    filled(store)
    assert store.count() == len(POINTS)


def test_upsert_same_ids_replaces(store: VectorStore) -> None:
    filled(store)
    changed = StoredPoint(POINTS[0].id, POINTS[0].dense, POINTS[0].sparse, {**POINTS[0].payload})
    changed.payload["content"] = "replaced"
    store.upsert([*POINTS, changed])
    assert store.count() == len(POINTS)
    top = store.search(q(dense=axis(0), limit=1))
    assert top[0].id == pid(0)
    assert top[0].snippet == "replaced"


def test_upsert_before_ensure_raises(store: VectorStore) -> None:
    with pytest.raises(StoreError):
        store.upsert(POINTS[:1])


def test_delete_paths_removes_exactly_those(store: VectorStore) -> None:
    filled(store)
    store.delete_paths(["src/lexer.py", "pkg/util.go", "no/such/file.py"])
    assert store.count() == 6
    assert store.paths() == {"src/parser.py", "cmd/main.go"}
    hits = store.search(q(dense=axis(4), limit=20))
    assert {h.path for h in hits} == {"src/parser.py", "cmd/main.go"}
    store.delete_paths([])
    assert store.count() == 6


def test_paths_is_exact_set(store: VectorStore) -> None:
    filled(store)
    assert store.paths() == ALL_PATHS


def test_empty_store_reads_are_empty(store: VectorStore) -> None:
    # Not created yet: reads are empty, deletes are no-ops.
    assert store.search(q(dense=axis(0), sparse=sq(term(0)))) == []
    assert store.count() == 0
    assert store.paths() == set()
    store.delete_paths(["src/parser.py"])
    # Created but empty.
    store.ensure(DIM)
    assert store.search(q(dense=axis(0), sparse=sq(term(0)))) == []
    assert store.search(q(sparse=sq(term(0)))) == []
    assert store.paths() == set()


def test_dimension_mismatch_raises(backend: Backend) -> None:
    store = filled(backend.open())
    with pytest.raises(StoreError):
        store.ensure(DIM + 1)
    with pytest.raises(StoreError):
        store.upsert([StoredPoint(pid(99), [1.0, 0.0], SparseVec((), ()), POINTS[0].payload)])
    with pytest.raises(StoreError):
        store.search(q(dense=[1.0, 0.0]))
    store.close()
    reopened = backend.open()
    with pytest.raises(StoreError):
        reopened.ensure(DIM - 1)
    reopened.ensure(DIM)
    assert reopened.count() == len(POINTS)


def test_reopen_keeps_data(backend: Backend) -> None:
    store = filled(backend.open())
    store.flush()
    store.close()
    reopened = backend.open()
    assert reopened.count() == len(POINTS)
    assert reopened.paths() == ALL_PATHS
    assert ids(reopened.search(q(dense=axis(7), sparse=sq(term(7)), limit=1))) == [pid(7)]
    reopened.ensure(DIM)
    reopened.upsert([make_point(0)])
    assert reopened.count() == len(POINTS)


def test_closed_store_raises(store: VectorStore) -> None:
    filled(store)
    store.close()
    store.close()
    with pytest.raises(StoreError):
        store.count()
    with pytest.raises(StoreError):
        store.search(q(dense=axis(0)))


def test_drop_removes_everything(backend: Backend, tmp_path: Path) -> None:
    store = filled(backend.open())
    store.drop()
    assert store.count() == 0
    assert store.paths() == set()
    assert store.search(q(dense=axis(0), sparse=sq(term(0)))) == []
    if backend.name == "edge":
        assert not (tmp_path / "shard").exists()
    store.ensure(DIM + 4)  # a dropped store can be created again, with another dimension
    assert store.count() == 0
    store.close()
    assert backend.open().count() == 0


def test_optimize_keeps_results(store: VectorStore) -> None:
    filled(store)
    store.optimize()
    store.flush()
    assert store.count() == len(POINTS)
    assert ids(store.search(q(dense=axis(5), limit=1))) == [pid(5)]


# -- ranking ------------------------------------------------------------------------------


@pytest.mark.parametrize("i", [0, 4, 9])
def test_dense_only_ranks_match_first(store: VectorStore, i: int) -> None:
    filled(store)
    hits = store.search(q(dense=axis(i)))
    assert hits[0].id == pid(i)
    assert hits[0].score == pytest.approx(1 / math.sqrt(1 + (0.1 * (i % 3 + 1)) ** 2), rel=1e-4)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


@pytest.mark.parametrize("i", [1, 6, 11])
def test_sparse_only_ranks_match_first(store: VectorStore, i: int) -> None:
    filled(store)
    hits = store.search(q(sparse=sq(COMMON_TERM, term(i))))
    assert hits[0].id == pid(i)
    assert len(hits) == 5
    only = store.search(q(sparse=sq(term(i)), limit=10))
    assert ids(only) == [pid(i)]  # points without a shared term do not match


def test_hybrid_ranks_match_first(store: VectorStore) -> None:
    filled(store)
    hits = store.search(q(dense=axis(3), sparse=sq(term(3)), limit=3))
    assert hits[0].id == pid(3)
    # dense points at 2, sparse at 8: both sides contribute to the fused list
    mixed = ids(store.search(q(dense=axis(2), sparse=sq(term(8)), limit=4)))
    assert {pid(2), pid(8)} <= set(mixed[:2])


def test_hybrid_weights_shift_ranking(store: VectorStore) -> None:
    filled(store)
    # one candidate per side: dense finds 2, sparse finds 8; the heavier side wins
    dense_heavy = StoreQuery(axis(2), sq(term(8)), 1, prefetch_limit=1, dense_weight=3.0)
    sparse_heavy = StoreQuery(axis(2), sq(term(8)), 1, prefetch_limit=1, sparse_weight=3.0)
    assert store.search(dense_heavy)[0].id == pid(2)
    assert store.search(sparse_heavy)[0].id == pid(8)


def test_limit_is_respected(store: VectorStore) -> None:
    filled(store)
    assert len(store.search(q(dense=axis(0), limit=3))) == 3
    assert len(store.search(q(sparse=sq(COMMON_TERM), limit=4))) == 4
    assert len(store.search(q(dense=axis(0), sparse=sq(COMMON_TERM), limit=2))) == 2
    big = StoreQuery(axis(0), sq(COMMON_TERM), 12, prefetch_limit=3)
    assert len(store.search(big)) == 12  # a limit above prefetch_limit is still filled
    assert store.search(q(dense=axis(0), limit=0)) == []


def test_no_query_vector_returns_nothing(store: VectorStore) -> None:
    filled(store)
    assert store.search(q()) == []
    assert store.search(q(sparse=SparseVec((), ()))) == []


def test_hits_carry_full_payload(store: VectorStore) -> None:
    filled(store)
    (hit,) = store.search(q(dense=axis(4), sparse=sq(term(4)), limit=1))
    assert hit == Hit(
        path="src/lexer.py",
        start_line=41,
        end_line=49,
        symbol="Lexer.parse",
        kind="method",
        language="python",
        score=hit.score,
        snippet="def chunk_4(): pass",
        id=pid(4),
    )
    assert hit.score > 0


# -- filters ------------------------------------------------------------------------------


def _all_modes(store: VectorStore, target: int, **filters: object) -> list[list[Hit]]:
    dense, sparse = axis(target), sq(COMMON_TERM, term(target))
    return [
        store.search(q(dense=dense, limit=20, **filters)),
        store.search(q(sparse=sparse, limit=20, **filters)),
        store.search(StoreQuery(dense, sparse, 20, SearchFilters(**filters), prefetch_limit=2)),  # type: ignore[arg-type]
    ]


def test_language_filter(store: VectorStore) -> None:
    filled(store)
    for hits in _all_modes(store, 0, language="go"):
        assert hits
        assert {h.language for h in hits} == {"go"}
    assert store.search(q(dense=axis(0), language="rust")) == []


def test_kind_filter(store: VectorStore) -> None:
    filled(store)
    for hits in _all_modes(store, 0, kind="method"):
        assert {h.kind for h in hits} == {"method"}
        assert len(hits) == 4


def test_symbol_filter_matches_qualified_or_short_name(store: VectorStore) -> None:
    filled(store)
    for hits in _all_modes(store, 0, symbol="parse"):
        assert {h.symbol for h in hits} == {"Parser.parse", "Lexer.parse", "Buffer.parse"}
    for hits in _all_modes(store, 0, symbol="Lexer.parse"):
        assert ids(hits) == [pid(4)]
    for hits in _all_modes(store, 0, symbol="Lexer"):
        assert ids(hits) == [pid(3)]  # the class itself, not its methods


def test_paths_filter(store: VectorStore) -> None:
    filled(store)
    wanted = ("cmd/main.go", "src/lexer.py")
    for hits in _all_modes(store, 0, paths=wanted):
        assert {h.path for h in hits} == set(wanted)
        assert len(hits) == 6
    assert store.search(q(dense=axis(0), paths=())) == []


def test_filters_combine(store: VectorStore) -> None:
    filled(store)
    for hits in _all_modes(store, 0, language="go", kind="method", symbol="parse"):
        assert ids(hits) == [pid(10)]


# -- agreement with the twin --------------------------------------------------------------


def _random_points(n: int, seed: int) -> list[StoredPoint]:
    rng = random.Random(seed)
    points = []
    for i in range(n):
        dense = [rng.gauss(0, 1) for _ in range(DIM)]
        terms = sorted(rng.sample(range(40), rng.randint(2, 6)))
        sparse = SparseVec(tuple(terms), tuple(round(rng.uniform(0.2, 2.0), 3) for _ in terms))
        payload = {**make_point(i % len(LAYOUT)).payload, "content": f"chunk {i}"}
        points.append(StoredPoint(pid(i), dense, sparse, payload))
    return points


def _grouped(hits: list[Hit]) -> list[tuple[float, frozenset[str]]]:
    """Hits as runs of equal score (order inside a tie is unspecified)."""
    groups: list[tuple[float, set[str]]] = []
    for hit in hits:
        if groups and math.isclose(groups[-1][0], hit.score, rel_tol=1e-5):
            groups[-1][1].add(hit.id)
        else:
            groups.append((hit.score, {hit.id}))
    return [(round(s, 5), frozenset(g)) for s, g in groups]


@pytest.mark.parametrize("kind", ["edge", "server"])
def test_hybrid_rrf_agrees_with_twin(kind: str, tmp_path: Path) -> None:
    points = _random_points(60, seed=7)
    twin = MemoryStore()
    client = QdrantClient(":memory:")
    real: VectorStore = (
        EdgeStore(tmp_path / "agree") if kind == "edge" else QdrantServerStore(client, "agree")
    )
    rng = random.Random(11)
    try:
        for st in (twin, real):
            st.ensure(DIM)
            st.upsert(points)
        for _ in range(8):
            dense = [rng.gauss(0, 1) for _ in range(DIM)]
            sparse = sq(*rng.sample(range(40), 3))
            for weights in ((1.0, 1.0), (1.0, 0.6)):
                query = StoreQuery(
                    dense,
                    sparse,
                    30,
                    prefetch_limit=10,
                    rrf_k=60,
                    dense_weight=weights[0],
                    sparse_weight=weights[1],
                )
                expected, got = twin.search(query), real.search(query)
                assert len(got) == len(expected) == 30
                # the last run of equal scores may be cut by the limit at a different member
                assert _grouped(got)[:-1] == _grouped(expected)[:-1]
            for single in (StoreQuery(dense, None, 10), StoreQuery(None, sparse, 10)):
                expected, got = twin.search(single), real.search(single)
                assert ids(got) == ids(expected)
                assert [h.score for h in got] == pytest.approx([h.score for h in expected], 1e-4)
    finally:
        real.close()
        client.close()


# -- adapter specifics --------------------------------------------------------------------


def test_server_unreachable_is_store_error() -> None:
    client = connect("http://127.0.0.1:9", timeout=1)
    store = QdrantServerStore(client, "project", owns_client=True)
    try:
        with pytest.raises(StoreError) as err:
            store.count()
        assert "\n" not in str(err.value)
        with pytest.raises(StoreError):
            store.ensure(DIM)
    finally:
        store.close()


def _fake_server(handler: Callable[[httpx.Request], httpx.Response]) -> QdrantClient:
    transport = httpx.MockTransport(handler)
    return QdrantClient(
        url="http://qdrant.test:6333", transport=transport, check_compatibility=False
    )


def test_server_sends_weighted_rrf_with_filtered_prefetches() -> None:
    bodies: dict[str, dict] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/exists"):
            return httpx.Response(200, json={"result": {"exists": True}, "status": "ok"})
        bodies[request.url.path] = json.loads(request.content)
        point = {"id": pid(0), "version": 1, "score": 0.5, "payload": POINTS[0].payload}
        return httpx.Response(200, json={"result": {"points": [point]}, "status": "ok"})

    store = QdrantServerStore(_fake_server(handler), "proj", hnsw_ef=64, owns_client=True)
    query = StoreQuery(axis(0), sq(term(0)), 5, SearchFilters(language="go"), 20, 60, 1.0, 0.5)
    assert ids(store.search(query)) == [pid(0)]
    body = bodies["/collections/proj/points/query"]
    assert body["query"] == {"rrf": {"k": 60, "weights": [1.0, 0.5]}}
    assert body["limit"] == 5
    go = {"must": [{"key": "language", "match": {"value": "go"}}]}
    dense, sparse = body["prefetch"]
    assert (dense["using"], dense["limit"], dense["params"], dense["filter"]) == (
        "dense",
        20,
        {"hnsw_ef": 64},
        go,
    )
    assert (sparse["using"], sparse["query"], sparse["filter"]) == (
        "sparse",
        {"indices": [term(0)], "values": [1.0]},
        go,
    )
    store.close()


@pytest.mark.parametrize("failure", ["status", "timeout"])
def test_server_errors_become_one_line_store_errors(failure: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if failure == "timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        return httpx.Response(500, json={"status": {"error": "boom\nmore"}, "time": 0})

    store = QdrantServerStore(_fake_server(handler), "proj", owns_client=True)
    for call in (store.count, store.paths, lambda: store.ensure(DIM)):
        with pytest.raises(StoreError) as err:
            call()
        assert "\n" not in str(err.value)
    store.close()


def test_server_store_options_in_local_mode() -> None:
    client = QdrantClient(":memory:")
    store = QdrantServerStore(
        client, "opts", hnsw_ef=64, int8_quantization=True, on_disk=True, shard_number=2
    )
    filled(store)
    assert ids(store.search(q(dense=axis(1), sparse=sq(term(1)), limit=1))) == [pid(1)]
    store.drop()
    client.close()


def test_edge_paths_complete_beyond_facet_defaults(tmp_path: Path) -> None:
    store = EdgeStore(tmp_path / "many", upsert_batch=100)
    store.ensure(4)
    points = [
        StoredPoint(
            pid(i),
            [1.0, 0.0, 0.0, float(i % 7)],
            SparseVec((i,), (1.0,)),
            {**POINTS[0].payload, "path": f"f{i // 2}.py"},
        )
        for i in range(2500)
    ]
    store.upsert(points)
    assert store.paths() == {f"f{i}.py" for i in range(1250)}
    store.delete_paths([f"f{i}.py" for i in range(1000)])
    assert store.paths() == {f"f{i}.py" for i in range(1000, 1250)}
    store.close()


def test_numpy_rows_are_accepted(store: VectorStore) -> None:
    np = pytest.importorskip("numpy")
    store.ensure(DIM)
    rows = np.asarray([p.dense for p in POINTS], dtype=np.float32)
    pairs = zip(POINTS, rows, strict=True)
    store.upsert([StoredPoint(p.id, row, p.sparse, p.payload) for p, row in pairs])
    assert store.count() == len(POINTS)
    assert ids(store.search(q(dense=rows[6], limit=1))) == [pid(6)]


@pytest.mark.parametrize("kind", ["edge", "server"])
def test_search_while_writing_from_another_thread(kind: str, tmp_path: Path) -> None:
    client = QdrantClient(":memory:")
    store: VectorStore = (
        EdgeStore(tmp_path / "threads", upsert_batch=50)
        if kind == "edge"
        else QdrantServerStore(client, "threads", upsert_batch=50)
    )
    store.ensure(DIM)
    store.upsert(POINTS)
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for round_ in range(5):
                extra = [
                    StoredPoint(
                        pid(100 + round_ * 200 + i),
                        axis(i, 0.5),
                        sq(term(i)),
                        {**POINTS[0].payload, "path": f"gen/{round_}.py", "language": "go"},
                    )
                    for i in range(200)
                ]
                store.upsert(extra)
                store.delete_paths([f"gen/{round_}.py"])
        except BaseException as exc:
            errors.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        while writer.is_alive():
            hits = store.search(q(dense=axis(3), sparse=sq(term(3)), limit=3, language="python"))
            assert hits[0].id == pid(3)  # the writer's points are all "go"
    finally:
        writer.join()
        store.close()
        client.close()
    assert not errors


def test_edge_unreadable_folder_is_store_error(tmp_path: Path) -> None:
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "file.txt").write_text("not a shard")
    with pytest.raises(StoreError):
        EdgeStore(tmp_path / "junk")


_CHILD = textwrap.dedent(
    """
    import sys, time, uuid
    from pathlib import Path
    from codeweaver.adapters.edge_store import EdgeStore
    from codeweaver.types import SparseVec, StoredPoint
    store = EdgeStore(Path(sys.argv[1]))
    store.ensure(4)
    payload = {"path": "a.py", "start_line": 1, "end_line": 2}
    store.upsert([
        StoredPoint(str(uuid.UUID(int=i + 1)), [1.0, 0.5, 0.0, float(i)],
                    SparseVec((i,), (1.0,)), payload)
        for i in range(500)
    ])
    print("ready", flush=True)
    time.sleep(120)
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_edge_upsert_survives_sigkill_without_flush(tmp_path: Path) -> None:
    shard = tmp_path / "killed"
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    with subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(shard)], stdout=subprocess.PIPE, text=True, env=env
    ) as child:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        child.send_signal(signal.SIGKILL)
        child.wait()
    store = EdgeStore(shard)
    try:
        assert store.count() == 500
        store.ensure(4)
    finally:
        store.close()
