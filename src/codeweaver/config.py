"""Settings: one pydantic-settings object, built by the entrypoint and passed down.

Sources, highest priority first: constructor arguments, environment variables
(prefix ``CODEWEAVER_``, nesting with ``__``, e.g. ``CODEWEAVER_SEARCH__RRF_K``), the
TOML file given with ``--config``, else the user's file
(``$XDG_CONFIG_HOME/codeweaver/config.toml``, by default ``~/.config/…``) under the
project keys of a ``codeweaver.toml`` in the working directory, then defaults.

A working directory may be an untrusted checkout, so its ``codeweaver.toml`` may set
only ``PROJECT_KEYS`` (what to index and how to chunk it); any other key there (an
endpoint, ``home``, a destination, a secret or a key file) stops the command with an
error naming the key, until the file is passed explicitly with ``--config``.
Every setting is declared here; ``setting_names`` lists them for the docs test.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from codeweaver.errors import ConfigError

__all__ = [
    "PROJECT_KEYS",
    "AuthSettings",
    "BackupSettings",
    "CacheSettings",
    "ChunkingSettings",
    "DatabaseSettings",
    "EmbeddingSettings",
    "EscalationRule",
    "IndexSettings",
    "ObservabilitySettings",
    "OperationsSettings",
    "OwnerSettings",
    "QdrantSettings",
    "RedisSettings",
    "SearchSettings",
    "Settings",
    "load_settings",
    "setting_names",
    "user_config_file",
]

DEFAULT_CONFIG_FILE = "codeweaver.toml"
PROJECT_KEYS = frozenset(
    {
        "index.max_file_bytes",
        "index.exclude",
        "index.use_git",
        "index.batch_chunks",
        "chunking.max_lines",
        "chunking.max_chars",
        "chunking.window_lines",
        "chunking.window_overlap",
        "chunking.context_path",
        "chunking.context_container",
        "chunking.context_signature",
    }
)
"""The only keys a ``codeweaver.toml`` in the working directory may set."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IndexSettings(_Section):
    max_file_bytes: int = Field(1_048_576, ge=1, description="Files larger than this are skipped.")
    exclude: list[str] = Field(
        default_factory=list, description="Extra gitignore-style patterns to skip."
    )
    use_git: bool = Field(True, description="Inside a git repo, list files with git itself.")
    batch_chunks: int = Field(
        64, ge=1, le=4096, description="Chunks embedded and stored per batch."
    )
    allowed_roots: list[Path] = Field(
        default_factory=list,
        description="Folders remote callers may index inside (empty: only admins may index "
        "server folders). The CLI and stdio MCP are not limited.",
    )
    tenant_roots: dict[str, list[Path]] = Field(
        default_factory=dict,
        description="Per tenant: the folders its remote callers may index inside, instead "
        "of allowed_roots (an empty list: only the tenant's admins may index).",
    )
    max_queued_jobs: int = Field(
        8, ge=1, le=10_000, description="Index jobs one tenant may have waiting (429 beyond)."
    )


class ChunkingSettings(_Section):
    max_lines: int = Field(150, ge=10, description="Split units longer than this many lines.")
    max_chars: int = Field(
        6000, ge=200, description="Split units longer than this many characters."
    )
    window_lines: int = Field(60, ge=5, description="Line-window size for plain text files.")
    window_overlap: int = Field(10, ge=0, description="Overlap of consecutive line windows.")
    context_path: bool = Field(True, description="Prefix embedded text with the file path.")
    context_container: bool = Field(True, description="Prefix with the enclosing class/module.")
    context_signature: bool = Field(True, description="Prefix split parts with the signature.")


class EmbeddingSettings(_Section):
    provider: Literal["local", "voyage", "openai"] = Field(
        "local", description="Embedding provider: local model, Voyage AI, OpenAI-compatible."
    )
    batch_size: int = Field(8, ge=1, le=256, description="Texts per model call.")
    max_seq_len: int = Field(128, ge=16, le=512, description="Token limit per text.")
    threads: int = Field(0, ge=0, description="Inference threads (0: all cores).")
    model: str | None = Field(
        None, description="Remote model (voyage-code-3 / text-embedding-3-small by default)."
    )
    dimensions: int | None = Field(
        None, ge=1, le=8192, description="Remote output dimension (model default if unset)."
    )
    base_url: str | None = Field(None, description="Remote API base URL (provider's if unset).")
    api_key: SecretStr | None = Field(None, description="Remote API key (never logged).")
    api_key_file: Path | None = Field(None, description="File holding the remote API key.")
    timeout: float = Field(30.0, gt=0, description="Remote request timeout in seconds.")
    max_retries: int = Field(5, ge=0, le=20, description="Retries on 429/5xx/timeouts.")
    concurrency: int = Field(4, ge=1, le=64, description="Remote requests in flight at once.")
    max_batch_texts: int | None = Field(
        None, ge=1, description="Texts per remote request (provider's limit if unset)."
    )
    max_batch_tokens: int | None = Field(
        None, ge=100, description="Tokens per remote request (provider's limit if unset)."
    )
    breaker_failures: int = Field(
        5, ge=1, description="Consecutive failures that open the circuit breaker."
    )
    breaker_reset_seconds: float = Field(
        30.0, gt=0, description="Seconds the breaker stays open before a trial request."
    )
    outage_wait_seconds: float = Field(
        300.0, ge=0, description="Indexing pauses this long for a failing provider, then stops."
    )


class RedisSettings(_Section):
    url: str | None = Field(None, description="Redis URL of the shared (L2) cache; off if unset.")
    timeout_ms: int = Field(50, ge=1, le=5000, description="Redis connect/command timeout.")
    retry_seconds: float = Field(1.0, gt=0, description="Reconnect interval while Redis is down.")


class CacheSettings(_Section):
    enabled: bool = Field(True, description="Cache embeddings and search results.")
    l1_embedding_mb: float = Field(64.0, ge=0, description="In-process embedding cache size.")
    l1_results_mb: float = Field(16.0, ge=0, description="In-process result cache size.")
    embedding_ttl_seconds: float = Field(86400.0, gt=0, description="Embedding cache TTL.")
    results_ttl_seconds: float = Field(3600.0, gt=0, description="Result cache TTL.")
    warm_top_n: int = Field(50, ge=0, le=10000, description="Popular searches re-run by warming.")
    warm_on_start: bool = Field(True, description="Warm the caches when the server starts.")
    warm_after_index: bool = Field(True, description="Warm a project after it changed.")
    warm_phrases: list[str] = Field(
        default_factory=lambda: [
            "function definition",
            "class declaration",
            "import statement",
            "error handling",
            "database query",
            "API endpoint",
            "test case",
            "configuration",
        ],
        description="Common phrases whose query embeddings warming pre-computes.",
    )
    record_queries: bool = Field(True, description="Count searches for warming.")


class QdrantSettings(_Section):
    mode: Literal["embedded", "server"] = Field("embedded", description="Vector store backend.")
    url: str | None = Field(None, description="Qdrant server URL (mode=server).")
    api_key: str | None = Field(None, description="Qdrant server API key.")
    timeout: float = Field(10.0, gt=0, description="Server request timeout in seconds.")
    pool_size: int = Field(16, ge=1, description="Server HTTP connection-pool limit.")
    collection_prefix: str = Field("codeweaver_", description="Server collection name prefix.")
    hnsw_m: int = Field(16, ge=4, le=128, description="HNSW graph degree.")
    hnsw_ef_construct: int = Field(100, ge=4, description="HNSW build-time beam width.")
    int8_quantization: bool = Field(False, description="Scalar int8 quantization (server).")
    child_optimize_points: int = Field(
        20_000,
        ge=0,
        description="Embedded: optimize a shard this large in a child process (0: never).",
    )
    shard_number: int = Field(1, ge=1, description="Shards per collection (server).")
    replication_factor: int = Field(1, ge=1, description="Replicas per shard (server).")
    deleted_threshold: float | None = Field(
        None, ge=0, le=1, description="Optimizer: deleted share of a segment that vacuums it."
    )
    vacuum_min_vector_number: int | None = Field(
        None, ge=100, description="Optimizer: smallest segment (vectors) that is vacuumed."
    )
    default_segment_number: int | None = Field(
        None, ge=0, le=1024, description="Optimizer: segments to keep (0: by CPU count)."
    )
    max_segment_size_kb: int | None = Field(
        None, ge=1, description="Optimizer: largest segment it builds, in kilobytes."
    )
    memmap_threshold_kb: int | None = Field(
        None, ge=0, description="Optimizer: segments above this many kB memory-mapped (server)."
    )
    wal_capacity_mb: int | None = Field(
        None, ge=1, le=65_536, description="WAL segment size in MB (server, new collections)."
    )
    wal_segments_ahead: int | None = Field(
        None, ge=0, le=1024, description="WAL segments created ahead (server, new collections)."
    )
    on_disk: bool | None = Field(
        None,
        description="Vectors, sparse index, HNSW graph and payload on disk (true) or in RAM "
        "(false); unset: the store's default.",
    )


class SearchSettings(_Section):
    default_limit: int = Field(10, ge=1, le=100, description="Results when no limit is given.")
    prefetch_limit: int = Field(50, ge=1, le=1000, description="Candidates per side before fusion.")
    rrf_k: int = Field(5, ge=1, description="RRF rank constant.")
    dense_weight: float = Field(1.0, ge=0, description="RRF weight of the dense side.")
    sparse_weight: float = Field(1.0, ge=0, description="RRF weight of the sparse (BM25) side.")
    max_query_chars: int = Field(2000, ge=1, description="Longest accepted query.")
    name_boost: float = Field(
        0.5, ge=0, le=10, description="Re-rank: boost for a symbol name matching the query."
    )
    path_boost: float = Field(
        0.0, ge=0, le=10, description="Re-rank: boost for a file name matching the query."
    )
    test_penalty: float = Field(
        0.3, ge=0, lt=1, description="Re-rank: score cut for test/vendored/generated/compat files."
    )
    init_penalty: float = Field(
        0.0, ge=0, lt=1, description="Re-rank: score cut for __init__.py/index.js/mod.rs files."
    )
    adaptive_weights: float = Field(
        0.0,
        ge=0,
        le=10,
        description="Fusion: raise the BM25 weight by this share for queries holding "
        "identifiers, the dense weight for plain questions.",
    )
    file_decay: float = Field(
        1.0, gt=0, le=1, description="Re-rank: score factor per earlier hit from the same file."
    )


class ObservabilitySettings(_Section):
    metrics: bool = Field(True, description="Record Prometheus metrics and serve /metrics.")
    metrics_port: int | None = Field(
        None, ge=1, le=65535, description="Also serve /metrics on this port (separate listener)."
    )
    metrics_host: str = Field(
        "127.0.0.1",
        min_length=1,
        description="Interface of the metrics_port listener; it has no authentication, so a "
        "non-loopback host exposes every tenant's metrics to anyone who can reach it.",
    )
    health_cache_seconds: float = Field(
        5.0, ge=0, le=300, description="Reuse the public /health result this long (0: never)."
    )
    log_format: Literal["json", "console"] = Field(
        "json", description="Server log format: JSON lines or human-readable console lines."
    )
    log_file: Path | None = Field(
        None, description="Write server logs to this file (default stderr)."
    )
    slow_search_ms: float = Field(1000.0, gt=0, description="Log searches slower than this.")
    slow_request_ms: float = Field(2000.0, gt=0, description="Log requests slower than this.")


_Severity = Literal["low", "medium", "high", "critical"]


class SupportTier(BaseModel):
    """One support tier: who answers, and how fast."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="The name rules route to, e.g. 'tier2'.")
    title: str = Field(min_length=1, description="Who answers, e.g. 'technical support'.")
    response_hours: float = Field(gt=0, description="Target first response, normal issues.")
    critical_response_hours: float | None = Field(
        None, gt=0, description="Target first response for critical issues, if different."
    )
    note: str = ""


class EscalationRule(BaseModel):
    """One row of the support escalation matrix."""

    model_config = ConfigDict(extra="forbid")

    category: str = Field(min_length=1, description="What the rule recognises, e.g. 'bug'.")
    tier: str = Field(min_length=1)
    response_hours: float = Field(gt=0, description="Target first response in hours.")
    urgency: int = Field(0, ge=0, description="Higher is more urgent; picks among matching rules.")
    keywords: list[str] = Field(default_factory=list, description="Whole words or phrases.")
    severities: list[_Severity] = Field(
        default_factory=list, description="Severities that alone route to this rule."
    )


class EscalationTarget(BaseModel):
    """Where an issue goes when no keyword matched."""

    model_config = ConfigDict(extra="forbid")

    tier: str = Field(min_length=1)
    response_hours: float = Field(gt=0)


def _default_support_tiers() -> list[SupportTier]:
    return [
        SupportTier(
            name="tier1",
            title="first-line support",
            response_hours=4,
            critical_response_hours=None,
            note="business hours",
        ),
        SupportTier(
            name="tier2", title="technical support", response_hours=8, critical_response_hours=2
        ),
        SupportTier(
            name="tier3",
            title="engineering support",
            response_hours=24,
            critical_response_hours=1,
        ),
        SupportTier(
            name="emergency",
            title="emergency response",
            response_hours=1,
            critical_response_hours=None,
        ),
    ]


def _default_escalation() -> list[EscalationRule]:
    # urgency: the tier's rank (emergency > tier3 > tier2 > tier1), then the shorter response
    return [
        EscalationRule(
            category="security",
            tier="emergency",
            response_hours=1,
            urgency=50,
            keywords=["security", "breach", "vulnerability", "unauthorized"],
        ),
        EscalationRule(
            category="performance",
            tier="tier2",
            response_hours=2,
            urgency=30,
            keywords=["timeout", "slow", "latency", "performance"],
        ),
        EscalationRule(
            category="bug",
            tier="tier3",
            response_hours=4,
            urgency=40,
            keywords=["crash", "error", "exception", "bug"],
        ),
        EscalationRule(
            category="configuration",
            tier="tier2",
            response_hours=8,
            urgency=20,
            keywords=["config", "setup", "deployment"],
        ),
        EscalationRule(
            category="user_error",
            tier="tier1",
            response_hours=24,
            urgency=10,
            keywords=["how to", "usage", "question"],
        ),
    ]


def _default_emergency() -> EscalationRule:
    return EscalationRule(
        category="emergency",
        tier="emergency",
        response_hours=1,
        urgency=0,
        keywords=["down", "outage", "critical", "security breach"],
    )


def _default_fallback() -> dict[_Severity, EscalationTarget]:
    return {
        "critical": EscalationTarget(tier="tier3", response_hours=4),
        "high": EscalationTarget(tier="tier2", response_hours=8),
        "medium": EscalationTarget(tier="tier1", response_hours=24),
        "low": EscalationTarget(tier="tier1", response_hours=24),
    }


class OperationsSettings(_Section):
    p95_latency_seconds: float = Field(2.0, gt=0, description="Doctor/report: p95 request limit.")
    search_p95_seconds: float = Field(1.0, gt=0, description="Report: p95 search latency limit.")
    error_rate: float = Field(0.01, ge=0, le=1, description="Doctor: highest healthy error rate.")
    cache_hit_rate: float = Field(0.7, ge=0, le=1, description="Lowest healthy cache hit rate.")
    memory_mib: int = Field(4000, ge=1, description="Doctor: process memory limit (MiB).")
    cpu_percent: float = Field(80.0, gt=0, description="Report: CPU use that needs attention.")
    tls_min_days: int = Field(30, ge=0, description="Doctor: certificate validity warning.")
    disk_min_gib: float = Field(1.0, ge=0, description="Doctor: free disk space warning.")
    index_max_age_hours: float = Field(24.0, gt=0, description="Doctor: index freshness limit.")
    slow_request_ms: float = Field(2000.0, gt=0, description="Logs: slow request threshold.")
    slow_search_ms: float = Field(1000.0, gt=0, description="Logs: slow search threshold.")
    log_auth_failures: int = Field(10, ge=0, description="Logs: auth failures that need action.")
    log_store_errors: int = Field(5, ge=0, description="Logs: store errors that need action.")
    log_failed_searches: int = Field(20, ge=0, description="Logs: failed searches limit.")
    log_error_rate: float = Field(0.05, ge=0, le=1, description="Logs: error rate limit.")
    support_tiers: list[SupportTier] = Field(
        default_factory=_default_support_tiers, description="Support tiers and response times."
    )
    escalation: list[EscalationRule] = Field(
        default_factory=_default_escalation, description="Support escalation matrix."
    )
    escalation_emergency: EscalationRule = Field(
        default_factory=_default_emergency,
        description="Emergency keywords, checked before any escalation rule.",
    )
    escalation_fallback: dict[_Severity, EscalationTarget] = Field(
        default_factory=_default_fallback,
        description="Tier and response by severity when no keyword matches.",
    )


class AuthSettings(_Section):
    mode: Literal["auto", "none", "jwt"] = Field(
        "auto", description="none (loopback only), jwt, or auto: none on loopback, else jwt."
    )
    algorithm: Literal["HS256", "RS256", "ES256"] = Field(
        "HS256", description="The one JWT algorithm accepted."
    )
    secret: SecretStr | None = Field(None, description="HS256 secret (at least 32 bytes).")
    secret_file: Path | None = Field(
        None, description="File holding the HS256 secret (default: <home>/auth/jwt.secret)."
    )
    private_key_file: Path | None = Field(None, description="PEM private key (RS256/ES256).")
    public_key_file: Path | None = Field(None, description="PEM public key (RS256/ES256).")
    issuer: str = Field("codeweaver", min_length=1, description="JWT 'iss' issued and required.")
    audience: str = Field("codeweaver", min_length=1, description="JWT 'aud' issued and required.")
    access_ttl_seconds: int = Field(900, ge=30, description="Access-token lifetime.")
    refresh_ttl_seconds: int = Field(604_800, ge=60, description="Refresh-token lifetime.")
    clock_skew_seconds: int = Field(30, ge=0, le=30, description="Accepted clock skew.")
    lockout_attempts: int = Field(5, ge=1, description="Failed logins that lock an account.")
    lockout_window_seconds: int = Field(300, ge=1, description="Window counting failures.")
    lockout_seconds: int = Field(900, ge=1, description="How long an account stays locked.")
    user_rate: float = Field(20.0, ge=0, description="Requests/s per user (0: unlimited).")
    user_burst: int = Field(40, ge=1, description="Burst size per user.")
    tenant_rate: float = Field(100.0, ge=0, description="Requests/s per tenant (0: unlimited).")
    tenant_burst: int = Field(200, ge=1, description="Burst size per tenant.")
    max_query_string_bytes: int = Field(8192, ge=256, description="Longest URL query string.")
    roles: dict[str, list[str]] = Field(
        default_factory=dict, description="Custom roles: name -> permission patterns."
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed by CORS (empty: CORS off)."
    )
    audit_file: str = Field(
        "audit.log", description="Audit JSON-lines file, relative to home ('' : logger only)."
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Reverse proxies (IP addresses or CIDR networks) whose X-Forwarded-For "
        "is believed for the client address (empty: the header is ignored).",
    )

    @field_validator("trusted_proxies", mode="after")
    @classmethod
    def _proxy_addresses(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item.strip(), strict=False)
            except ValueError:
                raise ValueError(
                    f"{item!r} is not an IP address or CIDR network (e.g. 10.0.0.5, 10.0.0.0/8)"
                ) from None
        return [item.strip() for item in value]


class DatabaseSettings(_Section):
    url: SecretStr | None = Field(
        None, description="PostgreSQL URL of the identity store (default: SQLite in home)."
    )


class BackupSettings(_Section):
    dest: str | None = Field(
        None, description="Backup destination URI (file:///path or s3://bucket/prefix)."
    )
    s3_endpoint_url: str | None = Field(None, description="S3-compatible endpoint URL.")
    s3_region: str | None = Field(None, description="S3 region.")
    s3_access_key_id: str | None = Field(None, description="S3 access key id.")
    s3_secret_access_key: str | None = Field(None, description="S3 secret access key.")
    interval_hours: float = Field(
        0.0, ge=0, description="Scheduled backups in serve every N hours (0: off)."
    )
    keep_days: int = Field(30, ge=0, description="Prune backups older than this many days.")
    keep_last: int = Field(0, ge=0, description="Always keep this many newest backups.")
    probe_queries: int = Field(5, ge=0, le=50, description="Probe searches recorded per project.")
    lock_timeout: float = Field(
        600.0, gt=0, description="Seconds to wait for a project's writer lock."
    )
    max_mb_per_second: float = Field(
        25.0,
        ge=0,
        description="Rate cap (MiB/s) for a backup's copy, packing, upload and verification "
        "(0: none); keeps searches served meanwhile fast. Restores are not capped.",
    )
    prometheus_url: str | None = Field(
        None,
        pattern=r"^https?://[^/?#\s]+",
        description="Prometheus scraping CodeWeaver: backups then include the 'metrics' "
        "component, an export of its key series (unset: no metrics export).",
    )
    prometheus_token: SecretStr | None = Field(
        None, description="Bearer token for backup.prometheus_url (never written to a backup)."
    )
    prometheus_token_file: Path | None = Field(
        None, description="File holding the bearer token for backup.prometheus_url."
    )
    prometheus_ca_file: Path | None = Field(
        None, description="CA bundle trusted for an https backup.prometheus_url."
    )
    metrics_days: float = Field(
        7.0, gt=0, le=366, description="Days of metrics the 'metrics' component exports."
    )
    metrics_step_seconds: int = Field(
        300,
        ge=1,
        description="Resolution of the metrics export (raised to stay within Prometheus's "
        "11,000 points per series).",
    )
    signing_key_file: Path | None = Field(
        None,
        description="Key that signs every backup's manifest (HMAC-SHA256); verify and restore "
        "refuse backups it did not sign. Default: <home>/auth/backup.key, created 0600 by the "
        "first backup and never included in one.",
    )


class OwnerSettings(_Section):
    autostart: bool = Field(
        False,
        description="When no owner runs, commands start a background owner and ask it "
        "(true) instead of opening the store for their own run (false). 'codeweaver mcp' "
        "always starts one.",
    )
    idle_timeout_seconds: float = Field(
        300.0,
        gt=0,
        le=86_400,
        description="A background owner exits after this long with no client connected.",
    )
    start_timeout_seconds: float = Field(
        60.0,
        ge=1,
        le=3600,
        description="How long a command waits for an owner to start or to hand over.",
    )


class Settings(BaseSettings):
    """All of CodeWeaver's settings."""

    model_config = SettingsConfigDict(
        env_prefix="CODEWEAVER_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    home: Path = Field(
        default_factory=lambda: Path.home() / ".codeweaver",
        description="Data directory (indexes, manifests).",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "warning", description="Log level."
    )
    index: IndexSettings = Field(default_factory=IndexSettings)  # type: ignore[arg-type]
    chunking: ChunkingSettings = Field(default_factory=ChunkingSettings)  # type: ignore[arg-type]
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)  # type: ignore[arg-type]
    qdrant: QdrantSettings = Field(default_factory=QdrantSettings)  # type: ignore[arg-type]
    search: SearchSettings = Field(default_factory=SearchSettings)  # type: ignore[arg-type]
    observability: ObservabilitySettings = Field(default_factory=ObservabilitySettings)  # type: ignore[arg-type]
    operations: OperationsSettings = Field(default_factory=OperationsSettings)  # type: ignore[arg-type]
    redis: RedisSettings = Field(default_factory=RedisSettings)  # type: ignore[arg-type]
    cache: CacheSettings = Field(default_factory=CacheSettings)  # type: ignore[arg-type]
    auth: AuthSettings = Field(default_factory=AuthSettings)  # type: ignore[arg-type]
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)  # type: ignore[arg-type]
    backup: BackupSettings = Field(default_factory=BackupSettings)  # type: ignore[arg-type]
    owner: OwnerSettings = Field(default_factory=OwnerSettings)  # type: ignore[arg-type]

    @field_validator("home", mode="after")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc


def _format_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"]) or "settings"
    env = "CODEWEAVER_" + "__".join(str(p).upper() for p in err["loc"])
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"invalid setting '{loc}' ({env}): {err['msg']}{more}"


def user_config_file() -> Path:
    """The user's settings file: ``$XDG_CONFIG_HOME/codeweaver/config.toml``."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base).expanduser() / "codeweaver" / "config.toml"


def _file_values(config: Path | None) -> dict[str, Any]:
    """``--config`` alone when given; else the user's file under the working
    directory's project keys."""
    if config is not None:
        return _read_toml(config)
    user = user_config_file()
    values = _read_toml(user) if user.is_file() else {}
    local = Path(DEFAULT_CONFIG_FILE)
    if local.is_file():
        values = _deep_merge(values, _project_values(local.absolute(), user))
    return values


def _project_values(path: Path, user: Path) -> dict[str, Any]:
    values = _read_toml(path)
    for key in _dotted_keys(values):
        if key not in PROJECT_KEYS:
            env = "CODEWEAVER_" + key.upper().replace(".", "__")
            raise ConfigError(
                f"{path} in the working directory may not set '{key}' (only index.* and "
                f"chunking.* keys are read from there): set it in {user} or {env}, or pass "
                f"--config {path} to trust the file"
            )
    return values


def _dotted_keys(values: dict[str, Any]) -> list[str]:
    keys: list[str] = []
    for name, value in values.items():
        if isinstance(value, dict):
            keys.extend(f"{name}.{sub}" for sub in value)
        else:
            keys.append(name)
    return keys


def load_settings(config: Path | None = None, **overrides: Any) -> Settings:
    """Build Settings from defaults, the TOML files, env vars and overrides (in rising
    priority); see the module's docstring for which files."""
    file_values = _file_values(config)
    try:
        base = Settings(**overrides)  # env + overrides
        if not file_values:
            return base
        # Layer: file < env < overrides. Rebuild with the file as defaults.
        explicit = base.model_dump(exclude_unset=True)
        merged = _deep_merge(file_values, explicit)
        return Settings(**merged)
    except ValidationError as exc:
        raise ConfigError(_format_error(exc)) from exc


def _deep_merge(low: dict[str, Any], high: dict[str, Any]) -> dict[str, Any]:
    out = dict(low)
    for key, value in high.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def setting_names() -> list[str]:
    """Every setting as its environment variable name (for the docs check)."""
    names: list[str] = []
    for name, info in Settings.model_fields.items():
        ann = info.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            names.extend(f"CODEWEAVER_{name.upper()}__{sub.upper()}" for sub in ann.model_fields)
        else:
            names.append(f"CODEWEAVER_{name.upper()}")
    return names
