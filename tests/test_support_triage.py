"""Support triage: the escalation matrix from the settings, whole-word keywords, urgency."""

from __future__ import annotations

import json

import pytest

from codeweaver.config import EscalationRule, load_settings
from codeweaver.errors import InputError
from codeweaver.support.triage import keyword_matches, triage
from ops_helpers import codeweaver

RULES = load_settings().operations.escalation

TABLE = [
    # the operations guide's own example
    ("CodeWeaver search is very slow and timing out", "high", "tier2", "2 hours"),
    ("CodeWeaver search is very slow and timing out", "low", "tier2", "2 hours"),
    ("How do I configure the download folder?", "low", "tier1", "8 hours"),  # not "down"
    ("How do I configure the download folder?", "medium", "tier1", "8 hours"),
    ("Question about the docs", "high", "tier2", "2 hours"),
    ("Question about the docs", "critical", "emergency", "15 minutes"),
    ("The service is down for everyone", "medium", "tier3", "30 minutes"),
    ("Index looks corrupted after upgrade", "low", "tier3", "30 minutes"),
    ("Production down since the deploy", "low", "emergency", "15 minutes"),
    ("data loss after the search got slow", "medium", "emergency", "15 minutes"),
    ("Possible security breach in the API", "high", "emergency", "15 minutes"),
    ("Memory keeps growing", "medium", "tier2", "2 hours"),
    ("something odd", "low", "tier1", "8 hours"),
    ("something odd", "medium", "tier1", "8 hours"),
    ("Downtime window planning, slowly", "low", "tier1", "8 hours"),  # no whole words
]


@pytest.mark.parametrize(("text", "severity", "tier", "response"), TABLE)
def test_triage_table(text, severity, tier, response):
    got = triage(text, severity, RULES)
    assert (got.tier, got.response) == (tier, response), got


def test_urgency_is_explicit_not_by_name():
    # names that would sort the wrong way as strings: urgency decides
    rules = [
        EscalationRule(tier="zeta", urgency=1, response="1 day", keywords=["slow"]),
        EscalationRule(tier="alpha", urgency=9, response="now", keywords=["outage"]),
    ]
    assert triage("slow outage", "low", rules).tier == "alpha"


def test_whole_word_matching():
    words = ["the", "download", "is", "slowly", "going"]
    assert not keyword_matches("down", words) and not keyword_matches("slow", words)
    assert keyword_matches("download", words)
    assert keyword_matches("is slowly", words) and not keyword_matches("slowly is", words)


def test_bad_input():
    with pytest.raises(InputError):
        triage("  ", "high", RULES)
    with pytest.raises(InputError):
        triage("slow", "urgent", RULES)


def test_cli_and_matrix_from_settings(tmp_path):
    run = codeweaver(
        "support",
        "triage",
        "CodeWeaver search is very slow and timing out",
        "--severity",
        "high",
        "--json",
    )
    assert run.returncode == 0
    assert json.loads(run.stdout)["tier"] == "tier2"
    assert (
        "respond within 2 hours"
        in codeweaver("support", "triage", "search is slow", "--severity", "high").stdout
    )
    cfg = tmp_path / "cw.toml"
    cfg.write_text(
        "[[operations.escalation]]\ntier = 'oncall'\nurgency = 1\nresponse = '5 minutes'\n"
        "keywords = ['slow']\n"
    )
    run = codeweaver(
        "support", "triage", "slow", "--severity", "low", "--json", "--config", str(cfg)
    )
    assert json.loads(run.stdout)["tier"] == "oncall"
    bad = codeweaver("support", "triage", "slow", "--severity", "urgent")
    assert bad.returncode == 2 and "invalid severity" in bad.stderr
