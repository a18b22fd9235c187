"""Settings: one pydantic-settings object, built by the entrypoint and passed down.

Sources, highest priority first: constructor arguments, environment variables
(prefix ``CODEWEAVER_``, nesting with ``__``, e.g. ``CODEWEAVER_SEARCH__RRF_K``), the
TOML file (``--config`` or ``codeweaver.toml`` in the working directory), defaults.
Every setting is declared here; ``SETTINGS_DOC`` lists them for the docs test.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from codeweaver.errors import ConfigError

__all__ = [
    "BackupSettings",
    "ChunkingSettings",
    "EmbeddingSettings",
    "IndexSettings",
    "QdrantSettings",
    "SearchSettings",
    "Settings",
    "load_settings",
    "setting_names",
]

DEFAULT_CONFIG_FILE = "codeweaver.toml"


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
    provider: Literal["local"] = Field("local", description="Embedding provider.")
    batch_size: int = Field(8, ge=1, le=256, description="Texts per model call.")
    max_seq_len: int = Field(128, ge=16, le=512, description="Token limit per text.")
    threads: int = Field(0, ge=0, description="Inference threads (0: all cores).")


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
    shard_number: int = Field(1, ge=1, description="Shards per collection (server).")
    replication_factor: int = Field(1, ge=1, description="Replicas per shard (server).")


class SearchSettings(_Section):
    default_limit: int = Field(10, ge=1, le=100, description="Results when no limit is given.")
    prefetch_limit: int = Field(50, ge=1, le=1000, description="Candidates per side before fusion.")
    rrf_k: int = Field(5, ge=1, description="RRF rank constant.")
    dense_weight: float = Field(1.0, ge=0, description="RRF weight of the dense side.")
    sparse_weight: float = Field(1.0, ge=0, description="RRF weight of the sparse (BM25) side.")
    max_query_chars: int = Field(2000, ge=1, description="Longest accepted query.")


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
    backup: BackupSettings = Field(default_factory=BackupSettings)  # type: ignore[arg-type]

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


def load_settings(config: Path | None = None, **overrides: Any) -> Settings:
    """Build Settings from defaults, the TOML file, env vars and overrides (in rising priority)."""
    path = config
    if path is None and Path(DEFAULT_CONFIG_FILE).is_file():
        path = Path(DEFAULT_CONFIG_FILE)
    file_values = _read_toml(path) if path is not None else {}
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
