"""The runbook articles: structure, real commands and metric names, hybrid search."""

from __future__ import annotations

import json
import re

import pytest
import typer

from codeweaver.cli.app import app
from codeweaver.cli.support_cmd import kb_search
from codeweaver.config import load_settings, setting_names
from codeweaver.container import build_engine
from codeweaver.support.runbooks import KB_PROJECT, SECTIONS, article, articles, kb_dir
from ops_helpers import codeweaver

TOPICS = {
    "slow-search",
    "high-memory",
    "auth-failures",
    "vector-store-connectivity",
    "cache-hit-rate",
    "embedding-failures",
    "indexing-stuck",
    "load-balancer-tls",
    "kubernetes-pods",
    "backup-restore",
}
METRICS = {
    "codeweaver_requests_total",
    "codeweaver_request_duration_seconds",
    "codeweaver_search_latency_seconds",
    "codeweaver_search_results_count",
    "codeweaver_cache_hits_total",
    "codeweaver_cache_misses_total",
    "codeweaver_cache_hit_rate",
    "codeweaver_cache_size_bytes",
    "codeweaver_vector_operations_total",
    "codeweaver_vector_operation_duration_seconds",
    "codeweaver_vector_collection_size",
    "codeweaver_embedding_requests_total",
    "codeweaver_embedding_duration_seconds",
    "codeweaver_index_files_total",
    "codeweaver_index_chunks_total",
    "codeweaver_index_errors_total",
    "codeweaver_index_last_success_timestamp_seconds",
    "codeweaver_memory_usage_bytes",
    "codeweaver_cpu_usage_percent",
    "codeweaver_active_connections",
    "codeweaver_connection_pool_in_use",
    "codeweaver_errors_total",
    "codeweaver_health_check",
    "codeweaver_service_info",
}


def command_paths() -> tuple[set[str], set[str]]:
    """Every command and sub-command path, and the names of the groups."""
    group = typer.main.get_command(app)
    out: set[str] = set()
    groups: set[str] = set()
    for name, cmd in group.commands.items():  # type: ignore[attr-defined]
        out.add(name)
        for sub in getattr(cmd, "commands", {}):
            groups.add(name)
            out.add(f"{name} {sub}")
    return out, groups


def test_every_topic_has_every_section():
    ids = {a.id for a in articles()}
    assert ids >= TOPICS
    for a in articles():
        assert a.title and a.tags, a.id
        sections = a.sections()
        assert list(sections)[: len(SECTIONS)] == list(SECTIONS), a.id
        assert all(sections[s] for s in SECTIONS), a.id


def test_articles_use_real_commands_settings_and_metrics():
    known, groups = command_paths()
    settings_doc = set(setting_names())
    for a in articles():
        for cmd in re.findall(r"`codeweaver ([a-z]+(?: [a-z]+)?)", a.text):
            words = cmd.split()
            assert words[0] in known, (a.id, cmd)
            if words[0] in groups and len(words) == 2:
                assert cmd in known, (a.id, cmd)
        for metric in re.findall(r"\bcodeweaver_[a-z_]+", a.text):
            base = re.sub(r"_(bucket|sum|count)$", "", metric)
            assert metric in METRICS or base in METRICS, (a.id, metric)
        for setting in re.findall(r"\bCODEWEAVER_[A-Z0-9_]+", a.text):
            assert setting in settings_doc or setting in ("CODEWEAVER_HOME",), (a.id, setting)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("search takes seconds and clients time out", "slow-search"),
        ("pods restarting OOMKilled CrashLoopBackOff", "kubernetes-pods"),
        ("certificate expires soon", "load-balancer-tls"),
        ("qdrant connection refused", "vector-store-connectivity"),
        ("token rejected 401", "auth-failures"),
        ("restore the data dir after a disk failure", "backup-restore"),
    ],
)
def test_kb_search_finds_the_article(tmp_path_factory, query, expected):
    home = tmp_path_factory.getbasetemp() / "kbhome"
    settings = load_settings(home=home)
    hits = kb_search(settings, query, limit=3)
    assert expected in [h.article.id for h in hits], [h.article.id for h in hits]


def test_kb_index_is_dedicated_and_incremental(tmp_path):
    settings = load_settings(home=tmp_path)
    kb_search(settings, "memory", limit=1)
    assert (tmp_path / "kb" / "projects" / KB_PROJECT / "project.json").is_file()
    assert not (tmp_path / "projects").exists()  # the user's projects are untouched
    engine = build_engine(settings.model_copy(update={"home": tmp_path / "kb"}))
    try:
        stats = engine.index(kb_dir(), KB_PROJECT)
    finally:
        engine.close()
    assert stats.files_indexed == 0 and stats.files_unchanged == len(articles())


def test_kb_cli(tmp_path):
    env = {"CODEWEAVER_HOME": str(tmp_path)}
    listing = codeweaver("support", "kb", "--json", env=env)
    assert {a["id"] for a in json.loads(listing.stdout)["articles"]} >= TOPICS
    shown = codeweaver("support", "kb", "show", "slow-search", "--json", env=env)
    assert json.loads(shown.stdout)["text"] == article("slow-search").text
    found = codeweaver("support", "kb", "cache", "hit", "rate", "low", "--json", env=env)
    assert json.loads(found.stdout)["results"][0]["id"] == "cache-hit-rate"
    missing = codeweaver("support", "kb", "show", "nope", env=env)
    assert missing.returncode == 2 and "no knowledge-base article" in missing.stderr


def article_command_lines() -> list[tuple[str, str]]:
    """Every ``codeweaver …`` command line of the articles (inline code and code blocks),
    with the ``[optional]`` parts of a synopsis kept and their brackets removed."""
    found = []
    for a in articles():
        spans = re.findall(r"```[a-z]*\n(.*?)```", a.text, re.S)
        spans += re.findall(r"(?<!`)`([^`\n]+)`(?!`)", a.text)
        for span in spans:
            for line in span.splitlines():
                for m in re.finditer(r"(?:^|[|;&]\s*|--\s+)codeweaver\s+(.*)", line):
                    found.append((a.id, m.group(1).split(" | ")[0].strip()))
    return found


COMMAND_LINES = article_command_lines()


def test_the_articles_have_command_lines():
    assert len(COMMAND_LINES) > 40
    lines = {line for _, line in COMMAND_LINES}
    assert {"cache warm --top 100", "cache clear"} <= lines


@pytest.mark.parametrize(("article_id", "line"), COMMAND_LINES)
def test_article_command_line_parses(article_id, line):
    """The command path exists (its --help exits 0) and the options and values parse."""
    import shlex

    from typer.testing import CliRunner

    words = [w for w in shlex.split(line.replace("[", " ").replace("]", " ")) if w != "…"]
    cmd = typer.main.get_command(app)
    path: list[str] = []
    while words and words[0] in getattr(cmd, "commands", {}):
        path.append(words.pop(0))
        cmd = cmd.commands[path[-1]]  # type: ignore[attr-defined]
    assert (path and not hasattr(cmd, "commands")) or cmd.name == "projects", (article_id, line)
    helped = CliRunner().invoke(app, [*path, "--help"])
    assert helped.exit_code == 0, (article_id, line, helped.output)
    try:  # raises on an unknown option, a bad value or a missing argument
        cmd.make_context(" ".join(["codeweaver", *path]), words)
    except Exception as exc:
        # prose that names a command ("run `codeweaver logs analyze` daily") gives no arguments
        if not (words == [] and type(exc).__name__ == "MissingParameter"):
            raise


def test_kb_show_piped_keeps_whole_lines(tmp_path):
    """Piped (not a terminal), ``kb show`` writes the article's lines whole, however long."""
    art = article("cache-hit-rate")
    longest = max(art.text.splitlines(), key=len)
    assert len(longest) > 120  # the Prometheus query line
    run = codeweaver("support", "kb", "show", "cache-hit-rate", env={"COLUMNS": "80"})
    assert run.returncode == 0, run.stderr
    assert run.stdout.rstrip("\n") == art.text.rstrip("\n")
    assert longest in run.stdout.splitlines()
