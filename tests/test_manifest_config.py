from pathlib import Path

import pytest

from codeweaver.config import load_settings, setting_names
from codeweaver.errors import ConfigError
from codeweaver.index.manifest import FileRecord, Manifest


def test_manifest_roundtrip_and_failures(tmp_path):
    with Manifest(tmp_path / "m.sqlite") as m:
        m.record_failures([("bad.py", "not valid UTF-8")])
        m.record_files([FileRecord("a.py", "h1", 10, 1, 3), FileRecord("bad.py", "h2", 5, 1, 1)])
        m.set(run_state="running", model_id="x")
    with Manifest(tmp_path / "m.sqlite") as m:
        assert set(m.files()) == {"a.py", "bad.py"}
        assert m.failures() == []  # recording a file clears its failure
        assert m.chunk_total() == 4
        assert m.get("run_state") == "running" and m.get("missing", 7) == 7
        m.forget_files(["a.py"])
        assert set(m.files()) == {"bad.py"}
        m.replace_failures([("z.py", "cannot read")])
        assert m.failures() == [("z.py", "cannot read")]


def test_settings_env_beats_file_and_file_beats_defaults(tmp_path, monkeypatch):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[search]\nrrf_k = 30\ndense_weight = 2.0\n[index]\nexclude = ["x/"]\n')
    monkeypatch.setenv("CODEWEAVER_SEARCH__RRF_K", "40")
    monkeypatch.setenv("CODEWEAVER_HOME", str(tmp_path / "home"))
    s = load_settings(cfg)
    assert s.search.rrf_k == 40 and s.search.dense_weight == 2.0
    assert s.index.exclude == ["x/"] and s.home == tmp_path / "home"


def test_default_config_file_in_working_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("codeweaver.toml").write_text("[embedding]\nbatch_size = 8\n")
    assert load_settings().embedding.batch_size == 8


@pytest.mark.parametrize(
    ("env", "value", "name"),
    [
        ("CODEWEAVER_SEARCH__RRF_K", "abc", "search.rrf_k"),
        ("CODEWEAVER_QDRANT__MODE", "cloud", "qdrant.mode"),
        ("CODEWEAVER_INDEX__MAX_FILE_BYTES", "0", "index.max_file_bytes"),
    ],
)
def test_invalid_settings_name_the_setting(monkeypatch, env, value, name):
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigError, match=name.replace(".", r"\.")):
        load_settings()


def test_bad_toml_and_unknown_keys(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[search\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(bad)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("[search]\nwhatever = 1\n")
    with pytest.raises(ConfigError, match=r"search\.whatever"):
        load_settings(unknown)
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "nope.toml")


def test_setting_names_cover_nested():
    names = setting_names()
    assert "CODEWEAVER_SEARCH__RRF_K" in names and "CODEWEAVER_HOME" in names
