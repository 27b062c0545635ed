"""Which URLs we trust: with our key (the configured provider host only) and for downloads
(https, or plain http only between loopback addresses, for the fake providers in tests).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from .config import base_url

# A provider's result is a short video; anything bigger is refused rather than filling the disk.
MAX_DOWNLOAD_BYTES = 512 * 1024 * 1024


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


def same_origin(url: str, base: str) -> bool:
    """True when `url` is on the configured provider host: only then may it carry our key."""
    a, b = urlsplit(url), urlsplit(base)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)
