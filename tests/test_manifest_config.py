from pathlib import Path

import pytest

from codeweaver.config import load_settings, setting_names, user_config_file
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


def test_working_dir_file_sets_project_keys_over_the_user_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert user_config_file() == tmp_path / "xdg" / "codeweaver" / "config.toml"
    user_config_file().parent.mkdir(parents=True)
    user_config_file().write_text(
        "[embedding]\nbatch_size = 4\n[chunking]\nmax_lines = 90\nwindow_lines = 30\n"
    )
    Path("codeweaver.toml").write_text('[chunking]\nmax_lines = 40\n[index]\nexclude = ["gen/"]\n')
    s = load_settings()
    assert s.embedding.batch_size == 4 and s.chunking.window_lines == 30
    assert s.chunking.max_lines == 40 and s.index.exclude == ["gen/"]
    only = tmp_path / "only.toml"
    only.write_text("[chunking]\nwindow_lines = 20\n")
    s = load_settings(only)  # --config alone: neither the user's nor the local file
    assert s.chunking.window_lines == 20 and s.chunking.max_lines == 150
    assert s.embedding.batch_size == 8


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[embedding]\nbase_url = "http://127.0.0.1:9/v1"\n', "embedding.base_url"),
        ('home = "/tmp/elsewhere"\n', "home"),
        ('[backup]\ndest = "file:///tmp/x"\n', "backup.dest"),
        ('[auth]\nsecret_file = "k"\n', "auth.secret_file"),
        ('[auth.roles]\nall = ["codeweaver:*:*"]\n', "auth.roles"),
        ('[index]\nexclude = []\n[redis]\nurl = "redis://evil"\n', "redis.url"),
        ("[embedding]\nbatch_size = 8\n", "embedding.batch_size"),
    ],
)
def test_working_dir_file_may_not_set_other_keys(tmp_path, monkeypatch, text, key):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    Path("codeweaver.toml").write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert f"may not set '{key}'" in message and "\n" not in message
    assert f"--config {tmp_path / 'codeweaver.toml'}" in message
    assert str(user_config_file()) in message
    assert load_settings(Path("codeweaver.toml"))  # trusted when passed explicitly


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
