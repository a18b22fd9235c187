"""Support triage: the escalation matrix from the settings, whole-word keywords, urgency."""

from __future__ import annotations

import json

import pytest

from codeweaver.config import EscalationRule, load_settings
from codeweaver.errors import InputError
from codeweaver.support.triage import keyword_matches, triage
from ops_helpers import codeweaver

OPS = load_settings().operations
RULES = OPS.escalation


def route(text: str, severity: str):
    return triage(
        text,
        severity,
        RULES,
        emergency=OPS.escalation_emergency,
        fallback=OPS.escalation_fallback,
        tiers=OPS.support_tiers,
    )


TABLE = [
    # the operations guide's examples
    ("service is down", "medium", "emergency", 1, "emergency"),
    ("service is down", "low", "emergency", 1, "emergency"),
    ("security vulnerability found", "medium", "emergency", 1, "security"),
    ("CodeWeaver search is very slow and timing out", "high", "tier2", 2, "performance"),
    # emergency keywords come before any rule
    ("Possible security breach in the API", "low", "emergency", 1, "emergency"),
    ("complete outage after the deploy", "low", "emergency", 1, "emergency"),
    ("critical error while indexing", "low", "emergency", 1, "emergency"),
    ("crash when the service went down", "low", "emergency", 1, "emergency"),
    # the rules, one each
    ("unauthorized requests in the log", "low", "emergency", 1, "security"),
    ("searches hit a timeout", "low", "tier2", 2, "performance"),
    ("latency doubled", "critical", "tier2", 2, "performance"),
    ("indexer throws an exception", "low", "tier3", 4, "bug"),
    ("I think this is a bug", "high", "tier3", 4, "bug"),
    ("the deployment fails", "medium", "tier2", 8, "configuration"),
    ("config for two projects", "low", "tier2", 8, "configuration"),
    ("how to search two projects", "low", "tier1", 24, "user_error"),
    ("usage of the watch command", "high", "tier1", 24, "user_error"),
    # several rules: the most urgent tier wins, not the tier name as a string
    ("slow search and then a crash", "low", "tier3", 4, "bug"),
    ("crash with a security exception", "low", "emergency", 1, "security"),
    ("question about a slow setup", "low", "tier2", 2, "performance"),
    ("setup question", "low", "tier2", 8, "configuration"),
    ("vulnerability in the setup question", "low", "emergency", 1, "security"),
    # whole words: none of these match a keyword
    ("How do I configure the download folder?", "low", "tier1", 24, "general"),
    ("Downtime window planning, slowly", "low", "tier1", 24, "general"),
    ("errors everywhere, crashed twice", "medium", "tier1", 24, "general"),
    ("the configuration is confusing", "high", "tier2", 8, "general"),
    # no match: the severity decides
    ("something odd", "critical", "tier3", 4, "general"),
    ("something odd", "high", "tier2", 8, "general"),
    ("something odd", "medium", "tier1", 24, "general"),
    ("something odd", "low", "tier1", 24, "general"),
]


@pytest.mark.parametrize(("text", "severity", "tier", "hours", "category"), TABLE)
def test_triage_table(text, severity, tier, hours, category):
    got = route(text, severity)
    assert (got.tier, got.response_time_hours, got.category) == (tier, hours, category), got


def test_tiers_are_the_guides():
    tiers = {t.name: t for t in OPS.support_tiers}
    assert [t.name for t in OPS.support_tiers] == ["tier1", "tier2", "tier3", "emergency"]
    assert (tiers["tier1"].title, tiers["tier1"].response_hours) == ("first-line support", 4)
    assert (tiers["tier2"].response_hours, tiers["tier2"].critical_response_hours) == (8, 2)
    assert (tiers["tier3"].response_hours, tiers["tier3"].critical_response_hours) == (24, 1)
    assert route("service is down", "low").tier_title == "emergency response"


def test_urgency_is_explicit_not_by_name():
    # names that would sort the wrong way as strings: urgency decides
    rules = [
        EscalationRule(category="a", tier="zeta", urgency=1, response_hours=24, keywords=["slow"]),
        EscalationRule(category="b", tier="alpha", urgency=9, response_hours=1, keywords=["x"]),
    ]
    fallback = OPS.escalation_fallback
    assert triage("slow x", "low", rules, fallback=fallback).tier == "alpha"
    assert triage("slow", "low", rules, fallback=fallback).tier == "zeta"
    assert triage("fine", "low", [], fallback=fallback).tier == "tier1"


def test_whole_word_matching():
    words = ["the", "download", "is", "slowly", "going"]
    assert not keyword_matches("down", words) and not keyword_matches("slow", words)
    assert keyword_matches("download", words)
    assert keyword_matches("is slowly", words) and not keyword_matches("slowly is", words)


def test_bad_input():
    with pytest.raises(InputError):
        route("  ", "high")
    with pytest.raises(InputError):
        route("slow", "urgent")


def test_cli_and_matrix_from_settings(tmp_path):
    run = codeweaver("support", "triage", "service is down", "--json")
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout)
    assert got["tier"] == "emergency" and got["response_time_hours"] == 1
    assert got["category"] == "emergency" and "'down'" in got["reason"]
    assert got["severity"] == "medium" and got["response"] == "1 hour"
    run = codeweaver("support", "triage", "security vulnerability found", "--json")
    got = json.loads(run.stdout)
    assert (got["tier"], got["category"]) == ("emergency", "security")
    text = codeweaver("support", "triage", "search is slow", "--severity", "high").stdout
    assert "tier2 (technical support): respond within 2 hours" in text
    cfg = tmp_path / "cw.toml"
    cfg.write_text(
        "[operations.escalation_emergency]\ncategory = 'page'\ntier = 'oncall'\n"
        "response_hours = 0.25\nkeywords = ['fire']\n"
        "[[operations.escalation]]\ncategory = 'speed'\ntier = 'perf'\nurgency = 1\n"
        "response_hours = 3\nkeywords = ['slow']\n"
    )
    run = codeweaver(
        "support", "triage", "slow", "--severity", "low", "--json", "--config", str(cfg)
    )
    assert json.loads(run.stdout)["tier"] == "perf"
    run = codeweaver("support", "triage", "fire and down", "--config", str(cfg))
    assert "oncall: respond within 15 minutes" in run.stdout
    run = codeweaver(
        "support", "triage", "nothing", "--severity", "high", "--json", "--config", str(cfg)
    )
    assert json.loads(run.stdout)["tier"] == "tier2"  # the fallbacks stay the defaults
    bad = codeweaver("support", "triage", "slow", "--severity", "urgent")
    assert bad.returncode == 2 and "invalid severity" in bad.stderr
    cfg.write_text("[[operations.escalation]]\ntier = 'x'\nresponse = '5 minutes'\n")
    bad = codeweaver("support", "triage", "slow", "--config", str(cfg))
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert "operations.escalation" in bad.stderr
