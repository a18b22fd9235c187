"""Read Prometheus text exposition and compute what the operator tools need from it.

Only what a scrape of ``/metrics`` holds: samples with labels. Histogram quantiles use the
same linear interpolation inside a bucket as PromQL's ``histogram_quantile``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

__all__ = ["Sample", "Samples", "histogram_quantile", "parse"]

Labels = tuple[tuple[str, str], ...]

_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(?:\s+\S+)?\s*$")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')
_UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    labels: Labels
    value: float

    def label(self, key: str) -> str:
        return dict(self.labels).get(key, "")


def _labels(text: str) -> Labels:
    body = text[1:-1]
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(body):
        m = _LABEL.match(body, pos)
        if m is None:
            break
        value = re.sub(r"\\[\\\"n]", lambda e: _UNESCAPE[e.group(0)], m.group(2))
        out.append((m.group(1), value))
        pos = m.end()
    return tuple(sorted(out))


def _value(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _parse_lines(lines: Iterable[str]) -> Iterator[Sample]:
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if m is None:
            continue
        value = _value(m.group(3))
        if value is not None:
            yield Sample(m.group(1), _labels(m.group(2)) if m.group(2) else (), value)


class Samples:
    """Samples of one scrape, looked up by metric name."""

    def __init__(self, samples: Iterable[Sample]) -> None:
        self._by_name: dict[str, list[Sample]] = {}
        for s in samples:
            self._by_name.setdefault(s.name, []).append(s)

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    def get(self, name: str, **match: str) -> list[Sample]:
        found = self._by_name.get(name, [])
        if not match:
            return list(found)
        return [s for s in found if all(s.label(k) == v for k, v in match.items())]

    def total(self, name: str, **match: str) -> float | None:
        found = self.get(name, **match)
        return sum(s.value for s in found) if found else None

    def by(self, name: str, key: str, **match: str) -> dict[str, float]:
        out: dict[str, float] = {}
        for s in self.get(name, **match):
            out[s.label(key)] = out.get(s.label(key), 0.0) + s.value
        return out

    def buckets(self, histogram: str, **match: str) -> dict[float, float]:
        """Cumulative counts per upper bound, summed over every other label."""
        out: dict[float, float] = {}
        for s in self.get(f"{histogram}_bucket", **match):
            le = _value(s.label("le"))
            if le is not None:
                out[le] = out.get(le, 0.0) + s.value
        return out


def parse(text: str) -> Samples:
    return Samples(_parse_lines(text.splitlines()))


def histogram_quantile(q: float, buckets: Mapping[float, float]) -> float | None:
    """The ``q`` quantile of cumulative ``buckets`` (upper bound -> count); None without data."""
    if not buckets or not 0 <= q <= 1:
        return None
    bounds = sorted(buckets)
    if not math.isinf(bounds[-1]):
        return None
    total = buckets[bounds[-1]]
    if total <= 0:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower  # beyond the last finite bucket: its bound is the best estimate
            if count == below:
                return bound
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = bound, count
    return None
