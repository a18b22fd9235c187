"""Composition root: Settings → adapters → the Engine. The only place that picks adapters."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

from pydantic import BaseModel

from codeweaver.backup import BackupService
from codeweaver.config import DEFAULT_CONFIG_FILE, Settings
from codeweaver.core.bm25 import Bm25Encoder
from codeweaver.core.cache import CacheCounters, LruCache, TieredCache
from codeweaver.core.chunking import ChunkOptions, ContextOptions
from codeweaver.core.embedding_cache import CachingEmbedder, strip_path_header
from codeweaver.core.signals import RerankParams
from codeweaver.engine import Engine, StoreFactory
from codeweaver.errors import ConfigError
from codeweaver.index.ignore import checked_excludes
from codeweaver.index.pipeline import IndexOptions
from codeweaver.index.projects import Project, ProjectRegistry, validate_project_name
from codeweaver.index.roots import RootPolicy
from codeweaver.search.cache_set import CacheSet
from codeweaver.search.popular import PopularQueries
from codeweaver.search.result_cache import ResultCache
from codeweaver.search.service import FusionParams, SearchService
from codeweaver.telemetry.instrumented import InstrumentedEmbedder, InstrumentedStore
from codeweaver.telemetry.metrics import Metrics
from codeweaver.types import Cache, Embedder, VectorStore

if TYPE_CHECKING:
    from qdrant_client import QdrantClient

    from codeweaver.adapters.server_backup import ServerCollections, StoreMaker
    from codeweaver.adapters.store_tuning import StoreTuning

__all__ = [
    "build_backup_service",
    "build_caches",
    "build_embedder",
    "build_engine",
    "build_qdrant_client",
    "build_shared_cache",
    "build_store_factory",
    "chunk_options",
    "instrument_store_factory",
    "root_policy",
    "secret_locations",
    "store_tuning",
]

_MB = 1024 * 1024


def build_embedder(settings: Settings) -> Embedder:
    cfg = settings.embedding
    if cfg.provider != "local":
        from codeweaver.adapters.providers import build_remote_embedder

        return build_remote_embedder(cfg)

    from codeweaver.adapters.onnx_embedder import OnnxEmbedder

    return OnnxEmbedder(
        batch_size=cfg.batch_size,
        max_seq_len=cfg.max_seq_len,
        threads=cfg.threads or None,
    )


def build_qdrant_client(settings: Settings) -> QdrantClient:
    """The client of the Qdrant server (``qdrant.mode = "server"``). The engine and the
    backup service share one: with ``qdrant.url = ":memory:"`` each client is its own
    in-process database."""
    from codeweaver.adapters.server_store import connect

    q = settings.qdrant
    if not q.url:
        raise ConfigError(
            "invalid setting 'qdrant.url' (CODEWEAVER_QDRANT__URL): required when "
            "qdrant.mode is 'server'"
        )
    return connect(q.url, api_key=q.api_key, timeout=q.timeout, pool_size=q.pool_size)


def store_tuning(settings: Settings) -> StoreTuning:
    """The optimizer, WAL and on-disk parameters stores are created and opened with."""
    from codeweaver.adapters.store_tuning import StoreTuning

    q = settings.qdrant
    return StoreTuning(
        deleted_threshold=q.deleted_threshold,
        vacuum_min_vector_number=q.vacuum_min_vector_number,
        default_segment_number=q.default_segment_number,
        max_segment_size_kb=q.max_segment_size_kb,
        memmap_threshold_kb=q.memmap_threshold_kb,
        wal_capacity_mb=q.wal_capacity_mb,
        wal_segments_ahead=q.wal_segments_ahead,
        on_disk=q.on_disk,
    )


def server_store_maker(settings: Settings, client: QdrantClient) -> StoreMaker:
    """Stores on ``client`` for any collection name, made with the configured parameters."""
    from codeweaver.adapters.server_store import QdrantServerStore

    q = settings.qdrant
    tuning = store_tuning(settings)

    def make(collection: str) -> QdrantServerStore:
        return QdrantServerStore(
            client,
            collection,
            hnsw_m=q.hnsw_m,
            hnsw_ef_construct=q.hnsw_ef_construct,
            int8_quantization=q.int8_quantization,
            shard_number=q.shard_number,
            replication_factor=q.replication_factor,
            tuning=tuning,
        )

    return make


def build_store_factory(
    settings: Settings, qdrant_client: QdrantClient | None = None
) -> StoreFactory:
    """Stores per project; in server mode on ``qdrant_client`` (default: a new client)."""
    q = settings.qdrant
    if q.mode == "server":
        make = server_store_maker(settings, qdrant_client or build_qdrant_client(settings))

        def server(project: Project) -> VectorStore:
            return make(f"{q.collection_prefix}{project.name}")

        return server

    from codeweaver.adapters.edge_store import EdgeStore

    tuning = store_tuning(settings)

    def embedded(project: Project) -> VectorStore:
        return EdgeStore(
            project.shard_path,
            hnsw_m=q.hnsw_m,
            hnsw_ef_construct=q.hnsw_ef_construct,
            tuning=tuning,
            child_optimize_points=q.child_optimize_points,
        )

    return embedded


def chunk_options(settings: Settings) -> ChunkOptions:
    c = settings.chunking
    return ChunkOptions(
        max_lines=c.max_lines,
        max_chars=c.max_chars,
        window=c.window_lines,
        overlap=c.window_overlap,
        context=ContextOptions(
            include_path=c.context_path,
            include_container=c.context_container,
            include_signature=c.context_signature,
        ),
    )


def build_shared_cache(settings: Settings) -> Cache | None:
    """The Redis level-2 cache when ``redis.url`` is set."""
    r = settings.redis
    if not r.url:
        return None
    from codeweaver.adapters.redis_cache import RedisCache

    return RedisCache(r.url, timeout=r.timeout_ms / 1000.0, retry_interval=r.retry_seconds)


def build_caches(settings: Settings, embedder: Embedder) -> CacheSet:
    c = settings.cache
    if not c.enabled:
        return CacheSet(warm_phrases=(), warm_top_n=0, warm_after_index=False)
    shared = build_shared_cache(settings)
    emb_store = TieredCache(LruCache(int(c.l1_embedding_mb * _MB)), shared)
    res_store = TieredCache(LruCache(int(c.l1_results_mb * _MB)), shared)
    counters = CacheCounters()
    popular = None
    if c.record_queries:
        popular = PopularQueries(settings.home / "cache" / "popular.sqlite")
    return CacheSet(
        embedder=CachingEmbedder(
            embedder,
            emb_store,
            c.embedding_ttl_seconds,
            counters,
            document_key=strip_path_header if settings.chunking.context_path else None,
        ),
        embedding_store=emb_store,
        embedding_counters=counters,
        results=ResultCache(res_store, c.results_ttl_seconds),
        results_store=res_store,
        popular=popular,
        warm_phrases=tuple(c.warm_phrases),
        warm_top_n=c.warm_top_n,
        warm_after_index=c.warm_after_index,
    )


def instrument_store_factory(factory: StoreFactory, metrics: Metrics) -> StoreFactory:
    """Every store the factory opens, measured under its project's name."""

    def measured(project: Project) -> VectorStore:
        return InstrumentedStore(factory(project), project.name, metrics)

    return measured


def build_engine(
    settings: Settings,
    embedder: Embedder | None = None,
    *,
    metrics: Metrics | None = None,
    qdrant_client: QdrantClient | None = None,
) -> Engine:
    """The engine; with ``metrics`` its embedder (beneath the embedding cache, so only
    real provider calls count) and every store report to them. In server mode its
    stores use ``qdrant_client`` (default: a new client)."""
    s = settings.search
    params = FusionParams(
        prefetch_limit=s.prefetch_limit,
        rrf_k=s.rrf_k,
        dense_weight=s.dense_weight,
        sparse_weight=s.sparse_weight,
        max_query_chars=s.max_query_chars,
        adaptive_weights=s.adaptive_weights,
        rerank=RerankParams(
            name_boost=s.name_boost,
            path_boost=s.path_boost,
            test_penalty=s.test_penalty,
            init_penalty=s.init_penalty,
            file_decay=s.file_decay,
        ),
    )
    emb = embedder or build_embedder(settings)
    stores = build_store_factory(settings, qdrant_client)
    if metrics is not None:
        emb = InstrumentedEmbedder(emb, metrics)
        stores = instrument_store_factory(stores, metrics)
    sparse = Bm25Encoder()
    caches = build_caches(settings, emb)
    policy = root_policy(settings)
    return Engine(
        registry=ProjectRegistry(settings.home),
        roots=policy,
        store_factory=stores,
        embedder=emb,
        sparse=sparse,
        searcher=SearchService(caches.embedder or emb, sparse, params),
        index_options=index_options(settings, emb),
        caches=caches,
    )


def index_options(settings: Settings, embedder: Embedder) -> IndexOptions:
    """Remote providers get embedding batches sized to one full request each."""
    idx = settings.index
    batch_chunks, batch_tokens, wait = idx.batch_chunks, None, 0.0
    counter = None
    if settings.embedding.provider != "local":
        from codeweaver.adapters.remote_embedder import RemoteEmbedder, estimate_tokens

        wait = settings.embedding.outage_wait_seconds
        if isinstance(embedder, RemoteEmbedder):
            batch_chunks, batch_tokens = embedder.max_texts, embedder.max_tokens
            counter = estimate_tokens
    return IndexOptions(
        max_file_bytes=idx.max_file_bytes,
        exclude=checked_excludes(idx.exclude),
        use_git=idx.use_git,
        batch_chunks=batch_chunks,
        chunking=chunk_options(settings),
        batch_tokens=batch_tokens,
        count_tokens=counter,
        embed_wait_seconds=wait,
    )


def secret_locations(settings: Settings) -> list[Path]:
    """Every file a setting names (``*_file``: keys, tokens, CA bundles, the log), the
    default HS256 secret file, ``./codeweaver.toml`` (it may hold secrets) and a
    ``file://`` backup destination: never indexed."""
    found: list[Path] = [settings.home / "auth" / "jwt.secret", Path(DEFAULT_CONFIG_FILE)]
    for section in settings.__dict__.values():
        if not isinstance(section, BaseModel):
            continue
        for name, value in section.__dict__.items():
            if name.endswith("_file") and isinstance(value, Path):
                found.append(value)
    if settings.auth.audit_file:
        found.append(settings.home / settings.auth.audit_file)
    dest = settings.backup.dest
    if dest and dest.startswith("file://"):
        found.append(Path(unquote(urlparse(dest).path)))
    return found


def root_policy(settings: Settings) -> RootPolicy:
    """Which folders remote callers may index (``index.allowed_roots`` /
    ``index.tenant_roots``), and the locations nobody's index ever reads."""
    idx = settings.index
    return RootPolicy(
        settings.home,
        allowed=idx.allowed_roots,
        tenant_roots=idx.tenant_roots,
        secrets=secret_locations(settings),
    )


def build_backup_service(
    settings: Settings, *, qdrant_client: QdrantClient | None = None
) -> BackupService:
    """Backups of this data directory: projects, their writer locks, the version and, in
    server mode, the server's collections through ``qdrant_client`` (default: a client
    made when first needed; pass the engine's to share an in-process ``:memory:`` one)."""
    from importlib.metadata import PackageNotFoundError, version

    from codeweaver.backup import BackupContext, BackupService, ProjectRef
    from codeweaver.index.lock import home_exclusive, writer_lock

    registry = ProjectRegistry(settings.home)

    def projects() -> list[ProjectRef]:
        return [ProjectRef(p.name, p.folder) for p in registry.list()]

    try:
        running = version("codeweaver")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        running = "0"
    server = (
        _server_collections(settings, qdrant_client) if settings.qdrant.mode == "server" else None
    )
    return BackupService(
        BackupContext(
            settings,
            projects,
            writer_lock,
            running,
            validate_project_name,
            server=server,
            exclusive_home=lambda action: home_exclusive(settings.home, action),
        )
    )


def _server_collections(
    settings: Settings, client: QdrantClient | None
) -> Callable[[], ServerCollections]:
    made: list[ServerCollections] = []

    def get() -> ServerCollections:
        from codeweaver.adapters.server_backup import ServerCollections

        if not made:
            shared = client or build_qdrant_client(settings)
            maker = server_store_maker(settings, shared)
            made.append(ServerCollections(shared, maker, settings.qdrant.collection_prefix))
        return made[0]

    return get
