"""The default embedder: all-MiniLM-L6-v2, int8 ONNX, run locally with onnxruntime.

The model and tokenizer ship inside the package (``codeweaver/models``); nothing is
downloaded. The session is created on first use, not at import or construction.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from codeweaver.errors import EmbeddingError

__all__ = ["DIM", "MODEL_ID", "OnnxEmbedder"]

MODEL_ID = "minilm-l6-v2-int8"
DIM = 384
_MODEL_FILE = "minilm-l6-v2-int8.onnx"
_TOKENIZER_FILE = "minilm-l6-v2.tokenizer.json"
_OUTPUT = "embeddings"
_MAX_POSITIONS = 512  # BERT position table


def _default_threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 200 else text[:197] + "..."


class OnnxEmbedder:
    """Dense, L2-normalised 384-d embeddings from the shipped int8 MiniLM model.

    ``model_path``/``tokenizer_path`` replace the shipped files. Texts are cut to
    ``max_seq_len`` tokens; each call is tokenised, sorted by length, run in
    batches of ``batch_size`` padded to their longest member, and returned in
    the caller's order. ``threads`` sets onnxruntime's intra-op threads for
    documents (default: every core this process may use). Queries run on a second
    session with one thread and no spin-waiting: a single short text gains little
    from a second thread, and a server answers many queries at once.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        tokenizer_path: str | Path | None = None,
        *,
        max_seq_len: int = 256,
        batch_size: int = 16,
        threads: int | None = None,
    ) -> None:
        if not 2 <= max_seq_len <= _MAX_POSITIONS:
            raise ValueError(f"max_seq_len must be between 2 and {_MAX_POSITIONS}")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if threads is not None and threads < 1:
            raise ValueError("threads must be at least 1")
        self._model_path = Path(model_path) if model_path is not None else None
        self._tokenizer_path = Path(tokenizer_path) if tokenizer_path is not None else None
        self._max_seq_len = max_seq_len
        self._batch_size = batch_size
        self._threads = threads if threads is not None else _default_threads()
        self._lock = threading.Lock()
        self._session: Any = None
        self._query_session: Any = None
        self._tokenizer: Any = None
        self._inputs: frozenset[str] = frozenset()

    @property
    def model_id(self) -> str:
        return MODEL_ID

    @property
    def dim(self) -> int:
        return DIM

    @property
    def max_seq_len(self) -> int:
        return self._max_seq_len

    @property
    def batch_size(self) -> int:
        return self._batch_size

    @property
    def threads(self) -> int:
        return self._threads

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        if isinstance(texts, str):
            raise TypeError("embed_documents takes a sequence of texts, not one string")
        if not texts:
            return []
        session, tokenizer = self._load()
        return self._embed(session, tokenizer, texts)

    def embed_query(self, text: str) -> list[float]:
        _, tokenizer = self._load()
        with self._lock:
            if self._query_session is None:
                self._query_session = self._load_session(threads=1, spin=False)
        return self._embed(self._query_session, tokenizer, [text])[0]

    def warmup(self) -> None:
        """Load the model now instead of on the first call."""
        self._load()

    # ------------------------------------------------------------------ internals

    def _embed(self, session: Any, tokenizer: Any, texts: Sequence[str]) -> list[list[float]]:
        try:
            encodings = tokenizer.encode_batch(list(texts))
        except Exception as err:
            raise EmbeddingError(f"tokenizer failed: {_one_line(err)}") from err
        ids = [e.ids for e in encodings]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        out = np.empty((len(ids), DIM), dtype=np.float32)
        for start in range(0, len(order), self._batch_size):
            chunk = order[start : start + self._batch_size]
            out[chunk] = self._run(session, [ids[i] for i in chunk])
        rows: list[list[float]] = out.tolist()
        return rows

    def _run(self, session: Any, batch: list[list[int]]) -> np.ndarray:
        width = max(len(row) for row in batch)
        input_ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for r, row in enumerate(batch):
            input_ids[r, : len(row)] = row
            mask[r, : len(row)] = 1
        feed = {"input_ids": input_ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(input_ids)
        try:
            result = session.run([_OUTPUT], feed)[0]
        except Exception as err:
            raise EmbeddingError(f"embedding model failed: {_one_line(err)}") from err
        vectors = np.asarray(result, dtype=np.float32)
        if vectors.shape != (len(batch), DIM):
            raise EmbeddingError(f"embedding model returned shape {vectors.shape}, want {DIM}-d")
        return vectors

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._session is None:
                self._tokenizer = self._load_tokenizer()
                self._session = self._load_session(threads=self._threads, spin=True)
                self._inputs = frozenset(i.name for i in self._session.get_inputs())
            return self._session, self._tokenizer

    def _load_session(self, *, threads: int, spin: bool) -> Any:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        with _resolved(self._model_path, _MODEL_FILE) as path:
            try:
                return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
            except Exception as err:
                raise EmbeddingError(
                    f"cannot load embedding model {path}: {_one_line(err)}"
                ) from err

    def _load_tokenizer(self) -> Any:
        from tokenizers import Tokenizer

        with _resolved(self._tokenizer_path, _TOKENIZER_FILE) as path:
            try:
                tokenizer = Tokenizer.from_file(str(path))
            except Exception as err:
                raise EmbeddingError(f"cannot load tokenizer {path}: {_one_line(err)}") from err
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=self._max_seq_len)
        return tokenizer


@contextmanager
def _resolved(explicit: Path | None, shipped: str) -> Iterator[Path]:
    """A real file path for an explicit file or one shipped in ``codeweaver/models``."""
    with ExitStack() as stack:
        if explicit is not None:
            path = explicit
        else:
            resource = resources.files("codeweaver") / "models" / shipped
            path = stack.enter_context(resources.as_file(resource))
        if not path.is_file():
            raise EmbeddingError(f"embedding model file not found: {path}")
        yield path
