"""Support triage: route a problem description and severity through the escalation matrix.

The emergency keywords are checked first; then every rule whose keywords occur in the
description as whole words or phrases (``down`` does not match ``download``), or whose
severities include the given one, is a candidate, and the one with the highest ``urgency``
wins — an explicit number, not the tier's name compared as a string. When nothing matches,
the severity picks the tier and response time (``fallback``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from codeweaver.config import EscalationRule, EscalationTarget, SupportTier
from codeweaver.errors import ConfigError, InputError

__all__ = ["SEVERITIES", "Triage", "format_hours", "keyword_matches", "triage"]

SEVERITIES = ("low", "medium", "high", "critical")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


@dataclass(frozen=True, slots=True)
class Triage:
    tier: str
    response_time_hours: float
    category: str
    reason: str
    severity: str
    tier_title: str = ""
    matched_keywords: tuple[str, ...] = ()
    candidates: tuple[str, ...] = field(default=())

    @property
    def response(self) -> str:
        return format_hours(self.response_time_hours)

    def as_dict(self) -> dict[str, Any]:
        return {
            "tier": self.tier,
            "response_time_hours": self.response_time_hours,
            "category": self.category,
            "reason": self.reason,
            "severity": self.severity,
            "tier_title": self.tier_title,
            "response": self.response,
            "matched_keywords": list(self.matched_keywords),
            "candidates": list(self.candidates),
        }


def format_hours(hours: float) -> str:
    """``1`` -> "1 hour", ``24`` -> "24 hours", ``0.5`` -> "30 minutes"."""
    if hours < 1:
        minutes = round(hours * 60)
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    text = f"{hours:g}"
    return f"{text} hour{'s' if hours != 1 else ''}"


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def keyword_matches(keyword: str, words: Sequence[str]) -> bool:
    """Whether ``keyword`` (one word or a phrase) occurs in ``words`` as whole words."""
    needle = _words(keyword)
    n = len(needle)
    if n == 0:
        return False
    return any(list(words[i : i + n]) == needle for i in range(len(words) - n + 1))


def _quoted(words: Sequence[str]) -> str:
    return ", ".join(repr(w) for w in words)


def _emergency(
    rule: EscalationRule, words: Sequence[str], severity: str, titles: Mapping[str, str]
) -> Triage | None:
    hits = [k for k in rule.keywords if keyword_matches(k, words)]
    if not hits and severity not in rule.severities:
        return None
    why = f"emergency keywords {_quoted(hits)}" if hits else f"severity {severity}"
    return Triage(
        tier=rule.tier,
        response_time_hours=rule.response_hours,
        category=rule.category,
        reason=f"matched {why}",
        severity=severity,
        tier_title=titles.get(rule.tier, ""),
        matched_keywords=tuple(hits),
        candidates=(rule.category,),
    )


def _fallback(
    fallback: Mapping[Any, EscalationTarget], severity: str, titles: Mapping[str, str]
) -> Triage:
    target = fallback.get(severity)
    if target is None:
        raise ConfigError(
            "invalid setting 'operations.escalation_fallback' "
            f"(CODEWEAVER_OPERATIONS__ESCALATION_FALLBACK): no entry for severity {severity!r}"
        )
    return Triage(
        tier=target.tier,
        response_time_hours=target.response_hours,
        category="general",
        reason=f"no keyword matched; severity {severity}",
        severity=severity,
        tier_title=titles.get(target.tier, ""),
    )


def triage(
    description: str,
    severity: str,
    rules: Sequence[EscalationRule],
    *,
    fallback: Mapping[Any, EscalationTarget],
    emergency: EscalationRule | None = None,
    tiers: Sequence[SupportTier] = (),
) -> Triage:
    if not description.strip():
        raise InputError("describe the problem: the description is empty")
    if severity not in SEVERITIES:
        raise InputError(f"invalid severity {severity!r}: use one of {', '.join(SEVERITIES)}")
    titles = {t.name: t.title for t in tiers}
    words = _words(description)
    first = _emergency(emergency, words, severity, titles) if emergency is not None else None
    if first is not None:
        return first
    matched: list[tuple[EscalationRule, list[str], bool]] = []
    for rule in rules:
        hits = [k for k in rule.keywords if keyword_matches(k, words)]
        by_severity = severity in rule.severities
        if hits or by_severity:
            matched.append((rule, hits, by_severity))
    if not matched:
        return _fallback(fallback, severity, titles)
    # max() keeps the first of equal urgencies: rule order breaks ties
    rule, hits, by_severity = max(matched, key=lambda m: m[0].urgency)
    reasons = []
    if hits:
        reasons.append(f"{rule.category} keywords {_quoted(hits)}")
    if by_severity:
        reasons.append(f"severity {severity}")
    return Triage(
        tier=rule.tier,
        response_time_hours=rule.response_hours,
        category=rule.category,
        reason="matched " + " and ".join(reasons),
        severity=severity,
        tier_title=titles.get(rule.tier, ""),
        matched_keywords=tuple(hits),
        candidates=tuple(m[0].category for m in matched),
    )
