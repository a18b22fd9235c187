"""Composition root: Settings → adapters → the Engine. The only place that picks adapters."""

from __future__ import annotations

from codeweaver.config import Settings
from codeweaver.core.bm25 import Bm25Encoder
from codeweaver.core.chunking import ChunkOptions, ContextOptions
from codeweaver.engine import Engine, StoreFactory
from codeweaver.errors import ConfigError
from codeweaver.index.pipeline import IndexOptions
from codeweaver.index.projects import Project, ProjectRegistry
from codeweaver.ops.backup import BackupService
from codeweaver.search.service import FusionParams, SearchService
from codeweaver.types import Embedder, VectorStore

__all__ = [
    "build_backup_service",
    "build_embedder",
    "build_engine",
    "build_store_factory",
    "chunk_options",
]


def build_embedder(settings: Settings) -> Embedder:
    from codeweaver.adapters.onnx_embedder import OnnxEmbedder

    cfg = settings.embedding
    return OnnxEmbedder(
        batch_size=cfg.batch_size,
        max_seq_len=cfg.max_seq_len,
        threads=cfg.threads or None,
    )


def build_store_factory(settings: Settings) -> StoreFactory:
    q = settings.qdrant
    if q.mode == "server":
        from codeweaver.adapters.server_store import QdrantServerStore, connect

        if not q.url:
            raise ConfigError(
                "invalid setting 'qdrant.url' (CODEWEAVER_QDRANT__URL): required when "
                "qdrant.mode is 'server'"
            )
        client = connect(q.url, api_key=q.api_key, timeout=q.timeout, pool_size=q.pool_size)

        def server(project: Project) -> VectorStore:
            return QdrantServerStore(
                client,
                f"{q.collection_prefix}{project.name}",
                hnsw_m=q.hnsw_m,
                hnsw_ef_construct=q.hnsw_ef_construct,
                int8_quantization=q.int8_quantization,
                shard_number=q.shard_number,
                replication_factor=q.replication_factor,
            )

        return server

    from codeweaver.adapters.edge_store import EdgeStore

    def embedded(project: Project) -> VectorStore:
        return EdgeStore(project.shard_path, hnsw_m=q.hnsw_m, hnsw_ef_construct=q.hnsw_ef_construct)

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


def build_engine(settings: Settings, embedder: Embedder | None = None) -> Engine:
    s = settings.search
    params = FusionParams(
        prefetch_limit=s.prefetch_limit,
        rrf_k=s.rrf_k,
        dense_weight=s.dense_weight,
        sparse_weight=s.sparse_weight,
        max_query_chars=s.max_query_chars,
    )
    emb = embedder or build_embedder(settings)
    sparse = Bm25Encoder()
    idx = settings.index
    options = IndexOptions(
        max_file_bytes=idx.max_file_bytes,
        exclude=tuple(idx.exclude),
        use_git=idx.use_git,
        batch_chunks=idx.batch_chunks,
        chunking=chunk_options(settings),
    )
    return Engine(
        registry=ProjectRegistry(settings.home),
        store_factory=build_store_factory(settings),
        embedder=emb,
        sparse=sparse,
        searcher=SearchService(emb, sparse, params),
        index_options=options,
    )


def build_backup_service(settings: Settings) -> BackupService:
    """Backups of this data directory: projects, their writer locks, the version."""
    from importlib.metadata import PackageNotFoundError, version

    from codeweaver.index.lock import writer_lock
    from codeweaver.ops.backup import BackupContext, BackupService, ProjectRef

    registry = ProjectRegistry(settings.home)

    def projects() -> list[ProjectRef]:
        return [ProjectRef(p.name, p.folder) for p in registry.list()]

    try:
        running = version("codeweaver")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        running = "0"
    return BackupService(BackupContext(settings, projects, writer_lock, running))
