"""Support triage: route a problem description and severity through the escalation matrix.

A rule matches when one of its keywords occurs as whole words (``down`` does not match
``download``) or when the severity is one the rule takes on its own. Among matching rules
the one with the highest ``urgency`` wins — an explicit number, not the tier's name.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from codeweaver.config import EscalationRule
from codeweaver.errors import ConfigError, InputError

__all__ = ["SEVERITIES", "Triage", "keyword_matches", "triage"]

SEVERITIES = ("low", "medium", "high", "critical")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


@dataclass(frozen=True, slots=True)
class Triage:
    tier: str
    response: str
    severity: str
    categories: tuple[str, ...]
    matched_keywords: tuple[str, ...]
    reason: str
    candidates: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {
            "tier": self.tier,
            "response": self.response,
            "severity": self.severity,
            "categories": list(self.categories),
            "matched_keywords": list(self.matched_keywords),
            "reason": self.reason,
            "candidates": list(self.candidates),
        }


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def keyword_matches(keyword: str, words: Sequence[str]) -> bool:
    """Whether ``keyword`` (one word or a phrase) occurs in ``words`` as whole words."""
    needle = _words(keyword)
    n = len(needle)
    if n == 0:
        return False
    return any(list(words[i : i + n]) == needle for i in range(len(words) - n + 1))


def triage(description: str, severity: str, rules: Sequence[EscalationRule]) -> Triage:
    if not description.strip():
        raise InputError("describe the problem: the description is empty")
    if severity not in SEVERITIES:
        raise InputError(f"invalid severity {severity!r}: use one of {', '.join(SEVERITIES)}")
    if not rules:
        raise ConfigError(
            "invalid setting 'operations.escalation' (CODEWEAVER_OPERATIONS__ESCALATION): empty"
        )
    words = _words(description)
    matched: list[tuple[EscalationRule, list[str], bool]] = []
    for rule in rules:
        hits = [k for k in rule.keywords if keyword_matches(k, words)]
        by_severity = severity in rule.severities
        if hits or by_severity:
            matched.append((rule, hits, by_severity))
    if not matched:
        least = min(rules, key=lambda r: r.urgency)
        return Triage(
            least.tier,
            least.response,
            severity,
            tuple(least.categories),
            (),
            "no keyword or severity rule matched; least urgent tier",
            (),
        )
    rule, hits, by_severity = max(matched, key=lambda m: m[0].urgency)
    reasons = []
    if hits:
        reasons.append("keywords " + ", ".join(repr(h) for h in hits))
    if by_severity:
        reasons.append(f"severity {severity}")
    return Triage(
        tier=rule.tier,
        response=rule.response,
        severity=severity,
        categories=tuple(rule.categories),
        matched_keywords=tuple(hits),
        reason="matched " + " and ".join(reasons),
        candidates=tuple(m[0].tier for m in matched),
    )
