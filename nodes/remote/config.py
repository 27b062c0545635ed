"""Where remote providers live and how we authenticate: keys, base URLs, polling knobs.

Keys come from the ComfyUI server's environment or a JSON config file outside the repository,
never from a widget (widgets end up in workflow files, PNG metadata and /history). Everything is
read at call time so a user can fix a key without restarting ComfyUI, and tests can monkeypatch.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_CONFIG_PATH = "~/.config/svd-suite/config.json"


@dataclass(frozen=True)
class ProviderConfig:
    """Static facts about one provider: its display name, key variables and base URL variables."""

    name: str
    label: str
    key_help: str
    base_url_vars: tuple[str, ...]
    default_base_url: str


PROVIDERS: dict[str, ProviderConfig] = {
    "fal": ProviderConfig(
        "fal",
        "fal.ai",
        "FAL_KEY (or FAL_KEY_ID + FAL_KEY_SECRET)",
        ("SVD_SUITE_FAL_QUEUE_URL",),
        "https://queue.fal.run",
    ),
    "replicate": ProviderConfig(
        "replicate",
        "Replicate",
        "REPLICATE_API_TOKEN",
        ("SVD_SUITE_REPLICATE_API_URL", "REPLICATE_BASE_URL"),
        "https://api.replicate.com",
    ),
    "segmind": ProviderConfig(
        "segmind",
        "Segmind",
        "SEGMIND_API_KEY",
        ("SVD_SUITE_SEGMIND_API_URL",),
        "https://api.segmind.com",
    ),
}


class MissingKeyError(ValueError):
    """No key configured for a provider (the auto engine skips such providers)."""


def config_path() -> Path:
    """The config file: $SVD_SUITE_CONFIG if set, else ~/.config/svd-suite/config.json."""
    return Path(os.path.expanduser(os.environ.get("SVD_SUITE_CONFIG") or DEFAULT_CONFIG_PATH))


def _config_values() -> dict:
    path = config_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        # The message names the file and the problem, never the content (it holds secrets).
        raise ValueError(
            f"SVD Suite config file {path} is not readable JSON ({type(exc).__name__})."
        ) from None
    return data if isinstance(data, dict) else {}


def _lookup(name: str, file_values: dict) -> str:
    value = os.environ.get(name) or file_values.get(name) or ""
    # Windows users often write `set FAL_KEY="abc"`: the quotes end up in the value.
    return str(value).strip().strip('"').strip("'").strip()


def _resolve_key(provider: str, file_values: dict) -> str:
    if provider == "fal":
        key = _lookup("FAL_KEY", file_values)
        if not key:
            key_id, secret = _lookup("FAL_KEY_ID", file_values), _lookup("FAL_KEY_SECRET", file_values)
            if key_id and secret:
                key = f"{key_id}:{secret}"
        return key
    if provider == "replicate":
        return _lookup("REPLICATE_API_TOKEN", file_values)
    if provider == "segmind":
        return _lookup("SEGMIND_API_KEY", file_values)
    raise ValueError(f"unknown provider {provider!r}; known: {', '.join(PROVIDERS)}")


def get_key(provider: str) -> str:
    """The API key for `provider`, or MissingKeyError naming the variables and the config path."""
    key = _resolve_key(provider, _config_values())
    if not key:
        cfg = PROVIDERS[provider]
        raise MissingKeyError(
            f"{cfg.label} needs an API key: set {cfg.key_help} in the environment of the ComfyUI "
            f"server, or add it to the JSON config file {config_path()} (or the file named by "
            f'SVD_SUITE_CONFIG), e.g. {{"{cfg.key_help.split()[0]}": "..."}}.'
        )
    return key


def has_key(provider: str) -> bool:
    try:
        return bool(_resolve_key(provider, _config_values()))
    except ValueError:
        return False


def base_url(provider: str) -> str:
    """The provider's API base URL (no trailing slash), overridable for self-hosted proxies and tests."""
    cfg = PROVIDERS[provider]
    for var in cfg.base_url_vars:
        value = os.environ.get(var, "").strip()
        if value:
            return value.rstrip("/")
    return cfg.default_base_url


def is_loopback_http(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def download_allowed(url: str, provider: str) -> bool:
    """Results come over https only; plain http only when the provider itself is a loopback fake."""
    scheme = urlsplit(url).scheme
    if scheme == "https":
        return True
    return is_loopback_http(url) and is_loopback_http(base_url(provider))


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


MAX_DOWNLOAD_BYTES = 512 * 1024 * 1024


class Redactor:
    """Scrubs secrets from any text that may reach a user: exception messages, logs, UI events."""

    # A credential-looking word (has a digit or colon) after Key/Bearer/Token; "Key Authorization" stays.
    _HEADER = re.compile(r"(?i)\b(Key|Bearer|Token)\s+(?=[A-Za-z0-9._\-+/=]*[0-9:])[A-Za-z0-9._:\-+/=]{6,}")
    _API_KEY = re.compile(r"(?i)(x-api-key['\"]?\s*[:=]\s*['\"]?)[^\s'\",}]+")

    def __init__(self, *secrets: str):
        parts: set[str] = set()
        for secret in secrets:
            if not secret:
                continue
            parts.add(secret)
            # A fal key is id:secret; either half alone is still sensitive.
            parts.update(p for p in secret.split(":") if len(p) >= 6)
        self._secrets = sorted(parts, key=len, reverse=True)

    def __call__(self, text: object) -> str:
        out = str(text)
        for secret in self._secrets:
            out = out.replace(secret, "***")
        out = self._HEADER.sub(lambda m: f"{m.group(1)} ***", out)
        return self._API_KEY.sub(lambda m: f"{m.group(1)}***", out)


def same_origin(url: str, base: str) -> bool:
    """True when `url` is on the configured provider host: only then may it carry our key."""
    a, b = urlsplit(url), urlsplit(base)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)
