"""Keys, base URLs, redaction and download rules of the remote nodes (no network)."""

from __future__ import annotations

import math

import pytest

from dev.pack import load_pack

load_pack()
from svd_suite.nodes.remote import config, redaction, url_trust  # noqa: E402
from svd_suite.nodes.remote.nodes import SVDSuiteRemoteFal  # noqa: E402


def test_redactor_replaces_the_key_and_its_halves():
    redact = redaction.Redactor("abcdef123:secretpart456")
    text = redact("key abcdef123:secretpart456, id abcdef123, secret secretpart456")
    assert "abcdef123" not in text and "secretpart456" not in text


@pytest.mark.parametrize(
    "header", ["Authorization: Key zz:yy-1234", "Bearer r8_qwerty12345", "x-api-key: SG_abc123"]
)
def test_redactor_hides_auth_header_values_it_was_not_told(header):
    out = redaction.Redactor()(f"request failed with {header} set")
    assert "***" in out and header.split()[-1] not in out


def test_redactor_leaves_ordinary_words_after_key_alone():
    text = "Invalid Key Authorization header format. Token expired."
    assert redaction.Redactor()(text) == text


def test_windows_style_quotes_around_a_key_are_removed(monkeypatch):
    monkeypatch.setenv("SEGMIND_API_KEY", '"SG_quoted"')
    assert config.get_key("segmind") == "SG_quoted"


def test_environment_wins_over_the_config_file(monkeypatch, tmp_path):
    path = tmp_path / "c.json"
    path.write_text('{"REPLICATE_API_TOKEN": "from-file"}')
    monkeypatch.setenv("SVD_SUITE_CONFIG", str(path))
    monkeypatch.setenv("REPLICATE_API_TOKEN", "from-env")
    assert config.get_key("replicate") == "from-env"


def test_broken_config_file_is_named_without_its_content(monkeypatch, tmp_path):
    path = tmp_path / "c.json"
    path.write_text('{"FAL_KEY": "secret-value-xyz"')
    monkeypatch.setenv("SVD_SUITE_CONFIG", str(path))
    monkeypatch.delenv("FAL_KEY", raising=False)
    with pytest.raises(ValueError, match="not readable JSON") as info:
        config.get_key("fal")
    assert "secret-value-xyz" not in str(info.value)


def test_base_urls_default_to_the_providers_and_follow_the_environment(monkeypatch):
    monkeypatch.delenv("SVD_SUITE_SEGMIND_API_URL", raising=False)
    assert config.base_url("segmind") == "https://api.segmind.com"
    monkeypatch.setenv("SVD_SUITE_SEGMIND_API_URL", "http://127.0.0.1:9/")
    assert config.base_url("segmind") == "http://127.0.0.1:9"


@pytest.mark.parametrize(
    ("url", "base", "allowed"),
    [
        ("https://v3.fal.media/files/out.mp4", "https://queue.fal.run", True),
        ("http://cdn.example.com/out.mp4", "https://queue.fal.run", False),
        ("http://127.0.0.1:5000/out.mp4", "https://queue.fal.run", False),
        ("http://127.0.0.1:5000/out.mp4", "http://127.0.0.1:4000", True),
        ("http://cdn.example.com/out.mp4", "http://127.0.0.1:4000", False),
        ("file:///etc/passwd", "http://127.0.0.1:4000", False),
    ],
)
def test_downloads_need_https_unless_provider_and_file_are_both_loopback(monkeypatch, url, base, allowed):
    monkeypatch.setenv("SVD_SUITE_FAL_QUEUE_URL", base)
    assert url_trust.download_allowed(url, "fal") is allowed


def test_random_seed_makes_the_node_rerun_and_a_fixed_seed_keeps_the_cache():
    assert math.isnan(SVDSuiteRemoteFal.IS_CHANGED(seed=-1))
    assert SVDSuiteRemoteFal.IS_CHANGED(seed=5) == SVDSuiteRemoteFal.IS_CHANGED(seed=5)


def test_no_input_of_a_remote_node_can_hold_a_key():
    from svd_suite.nodes.remote.nodes import NODE_CLASS_MAPPINGS

    assert "SVDSuite_RemoteSiliconFlow" in NODE_CLASS_MAPPINGS
    for node in NODE_CLASS_MAPPINGS.values():
        names = set()
        for section in node.INPUT_TYPES().values():
            names.update(section)
        assert not any("key" in name.lower() or "token" in name.lower() for name in names), node


def test_remote_node_functions_are_coroutines_so_comfyui_runs_them_side_by_side():
    import inspect

    from svd_suite.nodes.remote.nodes import NODE_CLASS_MAPPINGS

    for node in NODE_CLASS_MAPPINGS.values():
        assert inspect.iscoroutinefunction(getattr(node(), node.FUNCTION)), node


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "request failed (x-api-key: SG_abc123). Check the key.",
            "request failed (x-api-key: ***). Check the key.",
        ),
        (
            "headers {'x-api-key': 'SG_abc.def1', 'accept': '*/*'}",
            "headers {'x-api-key': '***', 'accept': '*/*'}",
        ),
        ("sent Bearer r8_qwerty12345; rejected.", "sent Bearer ***; rejected."),
        ("Authorization: Key zz:yy-1234, then 401.", "Authorization: Key ***, then 401."),
    ],
)
def test_redaction_keeps_the_punctuation_after_the_key(text, expected):
    assert redaction.Redactor()(text) == expected


def test_a_broken_config_file_does_not_hide_a_key_set_in_the_environment(monkeypatch, tmp_path, caplog):
    path = tmp_path / "broken-config.json"
    path.write_text('{"FAL_KEY": "file-secret-xyz", ')  # cut off half way
    monkeypatch.setenv("SVD_SUITE_CONFIG", str(path))
    monkeypatch.setenv("SEGMIND_API_KEY", "SG_from_env_123")
    monkeypatch.delenv("FAL_KEY", raising=False)
    monkeypatch.delenv("FAL_KEY_ID", raising=False)
    with caplog.at_level("WARNING", logger="svd_suite"):
        assert config.has_key("segmind") and config.get_key("segmind") == "SG_from_env_123"
        assert not config.has_key("fal")
        with pytest.raises(config.MissingKeyError, match="broken-config.json is not readable JSON"):
            config.get_key("fal")
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("broken-config.json" in w and "environment only" in w for w in warnings), warnings
    assert not any("file-secret-xyz" in w or "SG_from_env_123" in w for w in warnings)


def test_the_auto_engine_uses_an_environment_key_despite_a_broken_config_file(monkeypatch, tmp_path):
    from svd_suite.nodes.remote import auto

    path = tmp_path / "c.json"
    path.write_text("not json at all")
    monkeypatch.setenv("SVD_SUITE_CONFIG", str(path))
    monkeypatch.setenv("SEGMIND_API_KEY", "SG_from_env_123")
    assert auto.has_key("segmind")


def test_siliconflow_region_picks_the_base_url_and_the_variable_overrides_it(monkeypatch, tmp_path):
    monkeypatch.delenv("SVD_SUITE_SILICONFLOW_API_URL", raising=False)
    monkeypatch.delenv("SVD_SUITE_SILICONFLOW_REGION", raising=False)
    monkeypatch.setenv("SVD_SUITE_CONFIG", str(tmp_path / "none.json"))
    assert config.base_url("siliconflow") == "https://api.siliconflow.cn/v1"
    monkeypatch.setenv("SVD_SUITE_SILICONFLOW_REGION", "international")
    assert config.base_url("siliconflow") == "https://api.siliconflow.com/v1"
    monkeypatch.setenv("SVD_SUITE_SILICONFLOW_REGION", "mars")
    with pytest.raises(ValueError, match="SVD_SUITE_SILICONFLOW_REGION='mars'.*china, international"):
        config.base_url("siliconflow")
    monkeypatch.delenv("SVD_SUITE_SILICONFLOW_REGION")
    (tmp_path / "c.json").write_text('{"SVD_SUITE_SILICONFLOW_REGION": "com"}')
    monkeypatch.setenv("SVD_SUITE_CONFIG", str(tmp_path / "c.json"))
    assert config.base_url("siliconflow") == "https://api.siliconflow.com/v1"
    monkeypatch.setenv("SVD_SUITE_SILICONFLOW_API_URL", "http://127.0.0.1:9/v1/")
    assert config.base_url("siliconflow") == "http://127.0.0.1:9/v1"
