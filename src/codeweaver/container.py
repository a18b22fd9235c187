"""Composition root: Settings → adapters → the Engine. The only place that picks adapters."""

from __future__ import annotations

from codeweaver.config import Settings
from codeweaver.core.bm25 import Bm25Encoder
from codeweaver.core.chunking import ChunkOptions, ContextOptions
from codeweaver.engine import Engine, StoreFactory
from codeweaver.errors import ConfigError
from codeweaver.index.pipeline import IndexOptions
from codeweaver.index.projects import Project, ProjectRegistry
from codeweaver.ops.instrumented import InstrumentedEmbedder, InstrumentedStore
from codeweaver.ops.metrics import Metrics
from codeweaver.search.service import FusionParams, SearchService
from codeweaver.types import Embedder, VectorStore

__all__ = [
    "build_embedder",
    "build_engine",
    "build_store_factory",
    "chunk_options",
    "instrument_store_factory",
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


def instrument_store_factory(factory: StoreFactory, metrics: Metrics) -> StoreFactory:
    """Every store the factory opens, measured under its project's name."""

    def measured(project: Project) -> VectorStore:
        return InstrumentedStore(factory(project), project.name, metrics)

    return measured


def build_engine(
    settings: Settings, embedder: Embedder | None = None, *, metrics: Metrics | None = None
) -> Engine:
    """The engine; with ``metrics`` its embedder and every store report to them."""
    s = settings.search
    params = FusionParams(
        prefetch_limit=s.prefetch_limit,
        rrf_k=s.rrf_k,
        dense_weight=s.dense_weight,
        sparse_weight=s.sparse_weight,
        max_query_chars=s.max_query_chars,
    )
    emb = embedder or build_embedder(settings)
    stores = build_store_factory(settings)
    if metrics is not None:
        emb = InstrumentedEmbedder(emb, metrics)
        stores = instrument_store_factory(stores, metrics)
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
        store_factory=stores,
        embedder=emb,
        sparse=sparse,
        searcher=SearchService(emb, sparse, params),
        index_options=options,
    )
