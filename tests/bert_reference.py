"""A plain numpy fp32 forward pass of all-MiniLM-L6-v2, straight from safetensors.

Written independently of the ONNX graph builder (torch-layout weights, separate
Q/K/V, explicit token-type embedding, exact erf GELU) so it can serve as the
reference both the fp32 and the int8 ONNX models are checked against.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer


def _erf(x: np.ndarray) -> np.ndarray:
    """erf via Abramowitz & Stegun 7.1.26 (abs error < 1.5e-7), in float64."""
    z = np.abs(x.astype(np.float64))
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    return np.sign(x) * (1.0 - poly * np.exp(-z * z))


def _gelu(x: np.ndarray) -> np.ndarray:
    return (0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))).astype(np.float32)


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return ((x - mu) / np.sqrt(var + eps) * w + b).astype(np.float32)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class BertReference:
    """Sentence embeddings from a model folder holding safetensors + tokenizer + config."""

    def __init__(self, model_dir: Path, max_seq_len: int = 256) -> None:
        self.w = load_file(str(model_dir / "model.safetensors"))
        self.cfg = json.loads((model_dir / "config.json").read_text())
        self.tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tok.no_padding()
        self.tok.enable_truncation(max_length=max_seq_len)

    def _lin(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self.w[f"{name}.weight"].T + self.w[f"{name}.bias"]

    def _ln(self, x: np.ndarray, name: str) -> np.ndarray:
        eps = float(self.cfg["layer_norm_eps"])
        return _layer_norm(x, self.w[f"{name}.weight"], self.w[f"{name}.bias"], eps)

    def _self_attention(self, x: np.ndarray, p: str) -> np.ndarray:
        n_heads = int(self.cfg["num_attention_heads"])
        seq, hidden = x.shape
        d = hidden // n_heads

        def split(t: np.ndarray) -> np.ndarray:  # [seq, hidden] -> [heads, seq, d]
            return t.reshape(seq, n_heads, d).transpose(1, 0, 2)

        q = split(self._lin(x, f"{p}.query"))
        k = split(self._lin(x, f"{p}.key"))
        v = split(self._lin(x, f"{p}.value"))
        probs = _softmax(q @ k.transpose(0, 2, 1) / math.sqrt(d))
        return (probs @ v).transpose(1, 0, 2).reshape(seq, hidden)

    def _encode(self, ids: list[int], types: list[int]) -> np.ndarray:
        w = self.w
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][: len(ids)]
            + w["embeddings.token_type_embeddings.weight"][types]
        )
        x = self._ln(x, "embeddings.LayerNorm")
        for i in range(int(self.cfg["num_hidden_layers"])):
            p = f"encoder.layer.{i}"
            a = self._lin(
                self._self_attention(x, f"{p}.attention.self"), f"{p}.attention.output.dense"
            )
            x = self._ln(a + x, f"{p}.attention.output.LayerNorm")
            h = _gelu(self._lin(x, f"{p}.intermediate.dense"))
            x = self._ln(self._lin(h, f"{p}.output.dense") + x, f"{p}.output.LayerNorm")
        pooled = x.mean(axis=0)  # no padding: every token counts
        return (pooled / max(float(np.linalg.norm(pooled)), 1e-12)).astype(np.float32)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        rows = []
        for text in texts:
            enc = self.tok.encode(text)
            rows.append(self._encode(enc.ids, enc.type_ids))
        return np.stack(rows)
