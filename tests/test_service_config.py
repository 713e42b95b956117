"""Service configuration: defaults, config files, environment, API keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from toolkit.errors import ConfigError
from toolkit.service.config import ApiKey, load_config, parse_api_keys


def test_defaults() -> None:
    cfg = load_config(env={})
    assert (cfg.host, cfg.port, cfg.max_file_bytes, cfg.url_expiry_seconds) == ("127.0.0.1", 8000, 300_000_000, 900)
    assert cfg.store is None and cfg.s3_endpoint is None and cfg.api_keys == {}


def test_priority_file_then_env_then_overrides(tmp_path: Path) -> None:
    file = tmp_path / "service.toml"
    file.write_text('port = 7000\nmax_file_bytes = 1000\ns3_bucket = "from-file"\n'
                    '[api_keys]\nk1 = { workspaces = ["ws-a"] }\n')
    cfg = load_config(file, env={"TOOLKIT_PORT": "7100", "TOOLKIT_S3_BUCKET": "from-env"}, port=7200)
    assert cfg.port == 7200
    assert cfg.s3_bucket == "from-env"
    assert cfg.max_file_bytes == 1000
    assert cfg.api_keys["k1"].workspaces == frozenset({"ws-a"})


def test_json_config_file_and_env_keys(tmp_path: Path) -> None:
    file = tmp_path / "service.json"
    file.write_text(json.dumps({"workers": 1, "api_keys": {"k": ["ws-x"]}}))
    env = {"TOOLKIT_SERVICE_CONFIG": str(file),
           "TOOLKIT_API_KEYS": json.dumps({"k2": {"workspaces": ["ws-a"], "streams": ["ws-b"]}})}
    cfg = load_config(env=env)
    assert cfg.workers == 1
    assert set(cfg.api_keys) == {"k2"}  # the environment replaces the file's keys
    assert cfg.api_keys["k2"].workspaces == frozenset({"ws-a", "ws-b"})


def test_api_key_scope() -> None:
    key = ApiKey("k", frozenset({"ws-a", "ws-b"}))
    assert key.allows("ws-a") and not key.allows("ws-c") and not key.allows(None)
    assert key.visible(None) == ["ws-a", "ws-b"]
    assert key.visible(["ws-c", "ws-b"]) == ["ws-b"]
    star = ApiKey("s", frozenset({"*"}))
    assert star.visible(None) is None and star.visible(["x"]) == ["x"] and star.allows("anything")


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("{not json", "not valid JSON"),
        ('["k"]', "expected an object"),
        ('{"k": {"workspaces": []}}', "allows no workspace"),
        ('{"k": {"workspaces": [3]}}', "list of strings"),
        ('{"k": {"workspaces": ["bad/ws"]}}', "not a valid workspace id"),
        ('{"": ["ws"]}', "non-empty"),
    ],
)
def test_bad_api_keys_name_the_problem(value: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        parse_api_keys(value, source="TOOLKIT_API_KEYS")


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"TOOLKIT_PORT": "eighty"}, "TOOLKIT_PORT: port must be a number"),
        ({"TOOLKIT_PORT": "70000"}, "port=70000"),
        ({"TOOLKIT_MAX_FILE_BYTES": "0"}, "max_file_bytes=0 must be positive"),
        ({"TOOLKIT_S3_BUCKET": "No_Such"}, "not a valid S3 bucket name"),
        ({"TOOLKIT_WORKERS": "0"}, "workers=0"),
    ],
)
def test_bad_settings_name_the_setting(env: dict[str, str], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        load_config(env=env)


def test_bad_config_files(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("port = \n")
    with pytest.raises(ConfigError, match="broken.toml: not valid TOML"):
        load_config(broken, env={})
    unknown = tmp_path / "unknown.json"
    unknown.write_text('{"prot": 1}')
    with pytest.raises(ConfigError, match="unknown setting 'prot'"):
        load_config(unknown, env={})
    with pytest.raises(ConfigError, match="Cannot read service config"):
        load_config(tmp_path / "missing.toml", env={})


def test_issue_12_settings_defaults_environment_and_ranges() -> None:
    cfg = load_config(env={})
    assert (cfg.url_expiry_seconds, cfg.s3_post_signature, cfg.body_read_timeout_seconds, cfg.max_attempts) == (
        900, "s3", 30.0, 3)
    cfg = load_config(env={"TOOLKIT_S3_POST_SIGNATURE": "s3v4", "TOOLKIT_BODY_READ_TIMEOUT_SECONDS": "2.5",
                           "TOOLKIT_MAX_ATTEMPTS": "5"})
    assert (cfg.s3_post_signature, cfg.body_read_timeout_seconds, cfg.max_attempts) == ("s3v4", 2.5, 5)
    for name, value in (("s3_post_signature", "v2"), ("body_read_timeout_seconds", 0), ("max_attempts", 0)):
        with pytest.raises(ConfigError, match=name):
            load_config(env={}, **{name: value})
