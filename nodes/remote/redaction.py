"""Keeping API keys out of everything a user or a log can see.

Error texts from providers and from requests can echo a key back (an Authorization header in a
proxy's error page, a key in a URL), so every message goes through a Redactor before it reaches
an exception, the log or a UI event.
"""

from __future__ import annotations

import re


class Redactor:
    """Scrubs secrets from any text that may reach a user: exception messages, logs, UI events."""

    # A credential: word characters, possibly joined by "." or ":" (a fal key is id:secret), but
    # never ending in them, so the sentence's own punctuation after a key survives.
    _CREDENTIAL = r"[A-Za-z0-9_\-+/=]+(?:[.:][A-Za-z0-9_\-+/=]+)*"
    # A credential-looking word (has a digit or colon) after Key/Bearer/Token; "Key Authorization" stays.
    _HEADER = re.compile(
        r"(?i)\b(Key|Bearer|Token)\s+(?=[A-Za-z0-9._\-+/=]*[0-9:])(?=[A-Za-z0-9._:\-+/=]{6})" + _CREDENTIAL
    )
    _API_KEY = re.compile(r"(?i)(x-api-key['\"]?\s*[:=]\s*['\"]?)" + _CREDENTIAL)

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
