"""The shipped int8 MiniLM embedder against an independent numpy fp32 forward pass."""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from bert_reference import BertReference
from codeweaver.adapters.onnx_embedder import OnnxEmbedder
from codeweaver.errors import EmbeddingError
from codeweaver.types import Embedder
from model_source import find_model_source, load_build_module

TEXTS: list[str] = [
    "def read_file(path):\n    with open(path, encoding='utf-8') as f:\n        return f.read()",
    "read a file from disk",
    "class RequestHandler(BaseHTTPRequestHandler):\n    def do_GET(self):\n"
    "        self.send_response(200)\n        self.end_headers()",
    "start a web server that listens on port 8080",
    "SELECT u.id, count(o.id) FROM users u LEFT JOIN orders o ON o.user_id = u.id GROUP BY u.id;",
    "func (c *Cache) Get(key string) (value []byte, ok bool) {\n\tc.mu.RLock()\n"
    "\tdefer c.mu.RUnlock()\n\tvalue, ok = c.items[key]\n\treturn\n}",
    "impl Iterator for Fib { type Item = u64; fn next(&mut self) -> Option<u64> { "
    "let r = self.a; self.a = self.b; self.b += r; Some(r) } }",
    "export async function fetchJson(url) {\n  const res = await fetch(url);\n"
    "  if (!res.ok) throw new Error(res.statusText);\n  return res.json();\n}",
    "public List<String> topWords(Map<String, Integer> counts, int k) { return counts.entrySet()"
    ".stream().sorted(Map.Entry.comparingByValue(Comparator.reverseOrder())).limit(k)"
    ".map(Map.Entry::getKey).collect(Collectors.toList()); }",
    "#include <stdlib.h>\nvoid *xmalloc(size_t n) {\n    void *p = malloc(n);\n"
    "    if (!p) abort();\n    return p;\n}",
    "template <typename T> T clamp(T v, T lo, T hi) { return v < lo ? lo : (hi < v ? hi : v); }",
    "def retry(fn, attempts=5, base=0.5):\n    for i in range(attempts):\n        try:\n"
    "            return fn()\n        except OSError:\n            time.sleep(base * 2 ** i)\n"
    "    raise RuntimeError('gave up')",
    "retry a failing network call with exponential backoff",
    "how to parse command line arguments in python",
    "parser = argparse.ArgumentParser()\nparser.add_argument('--verbose', action='store_true')",
    "Compute the SHA-256 hash of a file in chunks so large files fit in memory.",
    "h = hashlib.sha256()\nfor block in iter(lambda: f.read(65536), b''):\n    h.update(block)",
    "The quick brown fox jumps over the lazy dog.",
    "Machine learning models need careful evaluation on held-out data.",
    "def __eq__(self, other: object) -> bool:\n    return isinstance(other, Point) and "
    "(self.x, self.y) == (other.x, other.y)",
    "# TODO: handle the case where the connection drops mid-transfer",
    "raise ValueError(f'unknown mode: {mode!r}')",
    '<div class="card"><h2>{{ title }}</h2><p>{{ body }}</p></div>',
    "docker run -d -p 6333:6333 -v $(pwd)/storage:/qdrant/storage qdrant/qdrant",
    "x = np.linalg.solve(A, b)  # solve the linear system Ax = b",
    "sort a list of dictionaries by the value of one key",
    "users.sort(key=lambda u: u['age'])",
    "def levenshtein(a: str, b: str) -> int:\n    prev = list(range(len(b) + 1))\n"
    "    for i, ca in enumerate(a, 1):\n        cur = [i]\n        for j, cb in enumerate(b, 1):\n"
    "            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))\n"
    "        prev = cur\n    return prev[-1]",
    "Ünïcödé façade naïve café — 日本語のテキスト and emoji 🚀",
    "",
    "a",
    'if err != nil {\n\treturn nil, fmt.Errorf("open %s: %w", path, err)\n}',
    "\n".join(f"    value_{i} = compute(value_{i - 1}, factor={i})" for i in range(1, 80)),
    " ".join(["token"] * 600),
]

READ_FILE_FN = (
    "def load_text(path: str) -> str:\n"
    "    with open(path, 'r', encoding='utf-8') as handle:\n"
    "        return handle.read()"
)
HTTP_SERVER_FN = (
    "def serve(port: int) -> None:\n"
    "    server = HTTPServer(('0.0.0.0', port), Handler)\n"
    "    server.serve_forever()"
)


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


@pytest.fixture(scope="module")
def model_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = getattr(request.config, "cache", None)  # absent with -p no:cacheprovider
    if cache is not None:
        return find_model_source(Path(cache.mkdir("minilm-source")))
    return find_model_source(tmp_path_factory.getbasetemp() / "minilm-source")


@pytest.fixture(scope="module")
def reference(model_dir: Path) -> np.ndarray:
    return BertReference(model_dir).embed(TEXTS)


@pytest.fixture(scope="module")
def embedder() -> OnnxEmbedder:
    return OnnxEmbedder()


@pytest.fixture(scope="module")
def build_dir(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """fp32 and int8 models rebuilt from the upstream weights by tools/build_model.py."""
    bm = load_build_module()
    out = tmp_path_factory.mktemp("build")
    onnx.save(bm.build_fp32(bm.read_source(model_dir)), str(out / "fp32.onnx"))
    bm.quantize_int8(out / "fp32.onnx", out / "int8.onnx")
    return out


def test_is_an_embedder(embedder: OnnxEmbedder) -> None:
    assert isinstance(embedder, Embedder)
    assert embedder.model_id == "minilm-l6-v2-int8"
    assert embedder.dim == 384


def test_int8_close_to_fp32_reference(embedder: OnnxEmbedder, reference: np.ndarray) -> None:
    got = np.array(embedder.embed_documents(TEXTS))
    assert got.shape == (len(TEXTS), 384)
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    cos = _cos(got, reference)
    assert cos.mean() >= 0.99, cos.mean()
    # onnxruntime's int8 kernels differ by CPU (VNNI vs plain AVX2 u8s8 arithmetic): the
    # worst text (the empty one, [CLS][SEP] alone) measured 0.975+ on VNNI, 0.968 on AVX2
    assert cos.min() >= 0.96, cos.min()


@pytest.mark.parametrize("token_type_ids", [False, True])
def test_built_fp32_matches_reference(
    model_dir: Path, reference: np.ndarray, tmp_path: Path, token_type_ids: bool
) -> None:
    bm = load_build_module()
    path = tmp_path / "fp32.onnx"
    onnx.save(bm.build_fp32(bm.read_source(model_dir), token_type_ids=token_type_ids), str(path))
    tokenizer = model_dir / "tokenizer.json"
    got = np.array(OnnxEmbedder(path, tokenizer, batch_size=8).embed_documents(TEXTS))
    assert _cos(got, reference).min() > 0.9999


def test_rebuilt_int8_matches_shipped(build_dir: Path, embedder: OnnxEmbedder) -> None:
    rebuilt = np.array(OnnxEmbedder(build_dir / "int8.onnx").embed_documents(TEXTS))
    shipped = np.array(embedder.embed_documents(TEXTS))
    assert _cos(rebuilt, shipped).min() > 0.9999
    meta = json.loads((resources.files("codeweaver") / "models" / "minilm-l6-v2.json").read_text())
    if (meta["onnx_version"], meta["onnxruntime_version"]) == (onnx.__version__, ort.__version__):
        digest = hashlib.sha256((build_dir / "int8.onnx").read_bytes()).hexdigest()
        assert digest == meta["onnx_sha256"]  # same tool versions: byte-identical rebuild


def test_shipped_metadata_describes_shipped_files(model_dir: Path) -> None:
    models = resources.files("codeweaver") / "models"
    meta = json.loads((models / "minilm-l6-v2.json").read_text(encoding="utf-8"))
    onnx_bytes = (models / meta["model"]).read_bytes()
    assert hashlib.sha256(onnx_bytes).hexdigest() == meta["onnx_sha256"]
    weights = (model_dir / "model.safetensors").read_bytes()
    assert hashlib.sha256(weights).hexdigest() == meta["source"]["model_safetensors_sha256"]
    assert (meta["dim"], meta["max_seq_len"]) == (384, 256)
    assert len(onnx_bytes) < 30_000_000


def test_query_is_closer_to_matching_code(embedder: OnnxEmbedder) -> None:
    query = np.array(embedder.embed_query("read a file from disk"))
    read_fn, http_fn = np.array(embedder.embed_documents([READ_FILE_FN, HTTP_SERVER_FN]))
    assert float(query @ read_fn) > float(query @ http_fn) + 0.1


def test_order_is_preserved_across_length_sorted_batches() -> None:
    emb = OnnxEmbedder(batch_size=3)
    texts = TEXTS[::-1]  # long texts first, then mixed lengths
    batched = np.array(emb.embed_documents(texts))
    single = np.array([emb.embed_query(t) for t in texts])
    sims = batched @ single.T
    assert (sims.argmax(axis=1) == np.arange(len(texts))).all()
    # Dynamic int8 activation scales are per batch, so batch-mates shift vectors slightly
    # (most for near-empty texts such as "" and "a").
    assert np.diag(sims).mean() > 0.99
    assert np.diag(sims).min() > 0.95


def test_empty_input_and_lazy_load() -> None:
    emb = OnnxEmbedder(model_path="/nonexistent/model.onnx")
    assert emb.embed_documents([]) == []  # nothing to do: the model is never touched
    with pytest.raises(TypeError):
        emb.embed_documents("one string")


def test_truncation_to_max_seq_len() -> None:
    emb = OnnxEmbedder(max_seq_len=16)
    long = "alpha beta gamma delta " * 50
    a, b = np.array(emb.embed_documents([long, long + " epsilon zeta"]))
    assert float(a @ b) > 0.9999


def test_corrupt_model_raises_embedding_error(tmp_path: Path) -> None:
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"\x08\x07 this is not an onnx model")
    with pytest.raises(EmbeddingError, match="cannot load embedding model"):
        OnnxEmbedder(bad).embed_query("hello")


def test_missing_model_raises_embedding_error(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingError, match="not found"):
        OnnxEmbedder(tmp_path / "absent.onnx").embed_documents(["hello"])


def test_corrupt_tokenizer_raises_embedding_error(tmp_path: Path) -> None:
    bad = tmp_path / "tokenizer.json"
    bad.write_text("{ not json", encoding="utf-8")
    with pytest.raises(EmbeddingError, match="cannot load tokenizer") as info:
        OnnxEmbedder(tokenizer_path=bad).embed_query("hello")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "kwargs", [{"max_seq_len": 1}, {"max_seq_len": 513}, {"batch_size": 0}, {"threads": 0}]
)
def test_rejects_bad_settings(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        OnnxEmbedder(**kwargs)


def test_query_session_matches_document_session() -> None:
    """Queries run on their own one-thread session; the vectors are the same."""
    emb = OnnxEmbedder(threads=2)
    for text in ("parse the config file", "retry failed uploads", "HttpClient.send"):
        doc = np.array(emb.embed_documents([text])[0])
        query = np.array(emb.embed_query(text))
        assert float(doc @ query) > 0.9999
