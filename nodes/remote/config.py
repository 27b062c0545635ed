"""Where remote providers live and how we authenticate: keys, base URLs, polling knobs.

Which URLs are trusted with a key or a download is url_trust.py; scrubbing keys from text is
redaction.py.

Keys come from the ComfyUI server's environment or a JSON config file outside the repository,
never from a widget (widgets end up in workflow files, PNG metadata and /history). Everything is
read at call time so a user can fix a key without restarting ComfyUI, and tests can monkeypatch.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("svd_suite")

DEFAULT_CONFIG_PATH = "~/.config/svd-suite/config.json"


@dataclass(frozen=True)
class ProviderConfig:
    """Static facts about one provider: its display name, key variables and base URL variables."""

    name: str
    label: str
    key_help: str
    base_url_vars: tuple[str, ...]
    default_base_url: str
    key_vars: tuple[str, ...] = ()
    # Providers with one API host per region: the variable that picks one, and host per region.
    region_var: str = ""
    regions: tuple[tuple[str, str], ...] = ()
    auth_hint: str = ""  # added to a 401/403 message


PROVIDERS: dict[str, ProviderConfig] = {
    "fal": ProviderConfig(
        "fal",
        "fal.ai",
        "FAL_KEY (or FAL_KEY_ID + FAL_KEY_SECRET)",
        ("SVD_SUITE_FAL_QUEUE_URL",),
        "https://queue.fal.run",
        ("FAL_KEY", "FAL_KEY_ID", "FAL_KEY_SECRET"),
    ),
    "replicate": ProviderConfig(
        "replicate",
        "Replicate",
        "REPLICATE_API_TOKEN",
        ("SVD_SUITE_REPLICATE_API_URL", "REPLICATE_BASE_URL"),
        "https://api.replicate.com",
        ("REPLICATE_API_TOKEN",),
    ),
    "segmind": ProviderConfig(
        "segmind",
        "Segmind",
        "SEGMIND_API_KEY",
        ("SVD_SUITE_SEGMIND_API_URL",),
        "https://api.segmind.com",
        ("SEGMIND_API_KEY",),
    ),
    "siliconflow": ProviderConfig(
        "siliconflow",
        "SiliconFlow",
        "SILICONFLOW_API_KEY",
        ("SVD_SUITE_SILICONFLOW_API_URL",),  # the whole base, including /v1
        "https://api.siliconflow.cn/v1",
        ("SILICONFLOW_API_KEY",),
        "SVD_SUITE_SILICONFLOW_REGION",
        (("china", "https://api.siliconflow.cn/v1"), ("international", "https://api.siliconflow.com/v1")),
        " A key from SiliconFlow's international site (siliconflow.com) needs "
        "SVD_SUITE_SILICONFLOW_REGION=international; the default is china (siliconflow.cn).",
    ),
}
REGION_ALIASES = {"cn": "china", "com": "international", "intl": "international", "global": "international"}


class MissingKeyError(ValueError):
    """No key configured for a provider (the auto engine skips such providers)."""


def config_path() -> Path:
    """The config file: $SVD_SUITE_CONFIG if set, else ~/.config/svd-suite/config.json."""
    return Path(os.path.expanduser(os.environ.get("SVD_SUITE_CONFIG") or DEFAULT_CONFIG_PATH))


class ConfigFileError(ValueError):
    """The config file exists but cannot be used (the message names the file, never its content)."""


_warned: set[tuple[str, float]] = set()


def _read_config_file() -> dict:
    """The config file's values; ConfigFileError when it exists but is not a JSON object."""
    path = config_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        # The message names the file and the problem, never the content (it holds secrets).
        raise ConfigFileError(
            f"SVD Suite config file {path} is not readable JSON ({type(exc).__name__})"
        ) from None
    if not isinstance(data, dict):
        raise ConfigFileError(f"SVD Suite config file {path} is not a JSON object ({type(data).__name__})")
    return data


def _config_values() -> tuple[dict, str]:
    """(values, problem): a broken file gives no values and a warning, never an exception, so a
    key set in the environment keeps working (the environment wins anyway)."""
    try:
        return _read_config_file(), ""
    except ConfigFileError as exc:
        path = config_path()
        try:
            stamp = (str(path), path.stat().st_mtime)
        except OSError:
            stamp = (str(path), 0.0)
        if stamp not in _warned:  # once per file version, not on every poll
            _warned.add(stamp)
            log.warning("%s; using the environment only. Fix or remove the file.", exc)
        return {}, str(exc)


def _clean(value: object) -> str:
    # Windows users often write `set FAL_KEY="abc"`: the quotes end up in the value.
    return str(value or "").strip().strip('"').strip("'").strip()


def _resolve_key(provider: str, lookup) -> str:
    if provider not in PROVIDERS:
        raise ValueError(f"unknown provider {provider!r}; known: {', '.join(PROVIDERS)}")
    if provider == "fal":
        key = lookup("FAL_KEY")
        if not key:
            key_id, secret = lookup("FAL_KEY_ID"), lookup("FAL_KEY_SECRET")
            if key_id and secret:
                key = f"{key_id}:{secret}"
        return key
    return lookup(PROVIDERS[provider].key_vars[0])


def _key_and_problem(provider: str) -> tuple[str, str]:
    """The key from the environment alone, else from environment-over-file; plus any file problem.

    The environment is consulted first and on its own, so a broken config file can never hide a
    key that is set there.
    """
    key = _resolve_key(provider, lambda name: _clean(os.environ.get(name)))
    if key:
        return key, ""
    values, problem = _config_values()
    key = _resolve_key(provider, lambda name: _clean(os.environ.get(name) or values.get(name)))
    return key, problem


def get_key(provider: str) -> str:
    """The API key for `provider`, or MissingKeyError naming the variables and the config path."""
    key, problem = _key_and_problem(provider)
    if not key:
        cfg = PROVIDERS[provider]
        broken = f" ({problem})" if problem else ""
        raise MissingKeyError(
            f"{cfg.label} needs an API key: set {cfg.key_help} in the environment of the ComfyUI "
            f"server, or add it to the JSON config file {config_path()}{broken} (or the file named by "
            f'SVD_SUITE_CONFIG), e.g. {{"{cfg.key_help.split()[0]}": "..."}}.'
        )
    return key


def has_key(provider: str) -> bool:
    return bool(_key_and_problem(provider)[0])


def setting(name: str) -> str:
    """A non-secret setting (e.g. SVD_SUITE_SILICONFLOW_REGION): the environment, else the config file."""
    value = _clean(os.environ.get(name))
    if value:
        return value
    return _clean(_config_values()[0].get(name))


def region(provider: str) -> str:
    """The provider's region name (first of its regions unless its region variable says otherwise)."""
    cfg = PROVIDERS[provider]
    names = [name for name, _ in cfg.regions]
    chosen = setting(cfg.region_var).lower() if cfg.region_var else ""
    chosen = REGION_ALIASES.get(chosen, chosen)
    if not chosen:
        return names[0] if names else ""
    if chosen not in names:
        raise ValueError(
            f"{cfg.region_var}={chosen!r} is not a {cfg.label} region; use one of: {', '.join(names)}"
        )
    return chosen


def base_url(provider: str) -> str:
    """The provider's API base URL (no trailing slash), overridable for self-hosted proxies and tests."""
    cfg = PROVIDERS[provider]
    for var in cfg.base_url_vars:
        value = os.environ.get(var, "").strip()
        if value:
            return value.rstrip("/")
    if cfg.regions:
        return dict(cfg.regions)[region(provider)]
    return cfg.default_base_url


def poll_min_s() -> float:
    """First (shortest) poll interval; tests shrink it with SVD_SUITE_POLL_MIN_S."""
    try:
        return max(0.01, float(os.environ.get("SVD_SUITE_POLL_MIN_S", "0.5")))
    except ValueError:
        return 0.5


def poll_max_s() -> float:
    try:
        return max(poll_min_s(), float(os.environ.get("SVD_SUITE_POLL_MAX_S", "4")))
    except ValueError:
        return 4.0
