"""HTTP for the remote providers: one session per job, explicit timeouts, readable errors.

Every failure becomes one of two exceptions: `TransientError` (worth retrying: 429, 5xx,
connection trouble, malformed JSON) or `ProviderError` (final, carrying the provider's own
message). Both messages pass through the job's Redactor, so a key can never leak through them.
"""

from __future__ import annotations

import json
import socket
import threading
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from .config import PROVIDERS
from .redaction import Redactor

DEFAULT_TIMEOUT = (10.0, 60.0)  # (connect, read) seconds
RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
USER_AGENT = "comfyui-svd-suite/0.1 (python-requests)"


class ProviderError(RuntimeError):
    """A remote job failed for good; the message is the provider's, readable and redacted."""


class TransientError(Exception):
    """A request failed in a way that may succeed on retry (never means 'resubmit the job')."""

    def __init__(self, message: str, retry_after: float | None = None, status: int | None = None):
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


def retry_after_seconds(value: str | None) -> float | None:
    """Parse Retry-After (seconds or an HTTP date) into seconds, capped at 60."""
    if not value:
        return None
    try:
        return max(0.0, min(60.0, float(value)))
    except ValueError:
        pass
    try:
        import datetime as _dt

        when = parsedate_to_datetime(value)
        delta = (when - _dt.datetime.now(when.tzinfo)).total_seconds()
        return max(0.0, min(60.0, delta))
    except (TypeError, ValueError):
        return None


def _join_detail(detail: Any) -> str:
    """fal/pydantic 422 detail lists → 'body.image_url: msg (type); ...'."""
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                loc = ".".join(str(x) for x in item.get("loc", []) if x is not None)
                msg = item.get("msg") or item.get("message") or json.dumps(item)[:200]
                kind = f" ({item['type']})" if item.get("type") else ""
                parts.append(f"{loc}: {msg}{kind}" if loc else f"{msg}{kind}")
            else:
                parts.append(str(item))
        return "; ".join(parts)
    if isinstance(detail, dict):
        return json.dumps(detail)[:500]
    return str(detail)


def provider_message(response: requests.Response) -> str:
    """The provider's own error text from any of the shapes in docs/protocols.md."""
    try:
        body = response.json()
    except ValueError:
        return " ".join((response.text or "").split())[:500] or response.reason or ""
    if isinstance(body, dict):
        pieces = []
        if body.get("title"):
            pieces.append(str(body["title"]))
        for field in ("detail", "error", "message"):
            if body.get(field):
                pieces.append(_join_detail(body[field]))
        if body.get("invalid_fields"):
            pieces.append(_join_detail(body["invalid_fields"]))
        if body.get("error_type"):
            pieces.append(f"[{body['error_type']}]")
        if pieces:
            text = ": ".join(pieces[:2]) + (" " + " ".join(pieces[2:]) if len(pieces) > 2 else "")
            # SiliconFlow: {"code": 20012, "message": "...", "data": "..."}: the code and the data too.
            data = body.get("data")
            if isinstance(data, str) and data.strip() and data != body.get("message"):
                text += f" ({data.strip()[:300]})"
            if body.get("code") is not None:
                text += f" [code {body['code']}]"
            return text
    if isinstance(body, str):  # a bare JSON string, e.g. SiliconFlow's 401 "Invalid token"
        return body.strip()[:500]
    return json.dumps(body)[:500]


class _AbortableAdapter(HTTPAdapter):
    """Remembers the sockets of the connections it hands out, so another thread can shut them.

    The socket itself is recorded when the connection connects: a response sent with
    `Connection: close` takes the socket over from its connection (http.client clears
    `conn.sock`), and a stalled download on such a response must still be abortable.
    """

    def __init__(self, registry: list, lock: threading.Lock):
        self._registry = registry
        self._lock = lock
        super().__init__()

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        pool = super().get_connection_with_tls_context(request, verify, proxies=proxies, cert=cert)
        if not getattr(pool, "_svd_suite_tracked", False):
            original = pool._get_conn
            registry, lock = self._registry, self._lock

            def _get_conn(timeout=None):
                conn = original(timeout=timeout)
                if not getattr(conn, "_svd_suite_tracked", False):
                    connect = conn.connect

                    def tracked_connect():
                        connect()
                        with lock:
                            registry.append(conn.sock)

                    conn.connect = tracked_connect
                    conn._svd_suite_tracked = True
                with lock:
                    registry.append(conn)  # a connection reused from the pool: its current socket
                return conn

            pool._get_conn = _get_conn
            pool._svd_suite_tracked = True
        return pool


class Transport:
    """One provider session: auth headers, timeouts, error mapping, redaction, abort."""

    def __init__(self, provider: str, key: str, auth_headers: dict[str, str]):
        self.provider = provider
        self.label = PROVIDERS[provider].label
        self.key_help = PROVIDERS[provider].key_help
        self.auth_hint = PROVIDERS[provider].auth_hint
        self._key = key
        self.redact = Redactor(key)
        self.session = requests.Session()
        self.session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
        self._auth = dict(auth_headers)
        self._conns: list = []
        self._lock = threading.Lock()
        adapter = _AbortableAdapter(self._conns, self._lock)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def fresh(self) -> Transport:
        """A new session with the same key: for the cancel call after this one's sockets were shut."""
        return Transport(self.provider, self._key, self._auth)

    def request(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        params: dict | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        stream: bool = False,
        auth: bool = True,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        """Send one request; 2xx returns the response, anything else raises (see module doc)."""
        headers = {**(self._auth if auth else {}), **(headers or {})}
        try:
            # Authenticated calls never follow redirects: requests would carry x-api-key to any host.
            response = self.session.request(
                method,
                url,
                json=json_body,
                params=params,
                headers=headers,
                timeout=timeout,
                stream=stream,
                allow_redirects=not auth,
            )
        except requests.RequestException as exc:
            raise TransientError(self.redact(f"{self.label}: {method} {url} failed: {exc}")) from None
        if response.status_code < 300:
            return response
        message = self.redact(provider_message(response))
        status = response.status_code
        response.close()
        if status in RETRYABLE_STATUS:
            raise TransientError(
                f"{self.label} answered {status} {response.reason}: {message}",
                retry_after_seconds(response.headers.get("Retry-After")),
                status,
            )
        if status in (401, 403) and auth:  # a CDN's 401/403 on a result URL is not about our key
            raise ProviderError(
                f"{self.label} rejected the API key ({status} {response.reason}: {message}). "
                f"Check {self.key_help} in the ComfyUI server's environment or the SVD Suite config file."
                + self.auth_hint
            )
        hint = " (check your account's credits)" if status in (402, 406) else ""
        raise ProviderError(f"{self.label} answered {status} {response.reason}: {message}{hint}")

    def json(self, response: requests.Response) -> Any:
        """The response body as JSON; a malformed body is transient (the next poll may be fine)."""
        try:
            return response.json()
        except ValueError:
            raise TransientError(
                f"{self.label} sent a malformed JSON body ({len(response.content)} bytes)"
            ) from None

    def abort(self) -> None:
        """Shut every socket this session opened (unblocks a thread stuck waiting for an answer)."""
        with self._lock:
            entries = list(self._conns)
        for entry in entries:
            sock = entry if isinstance(entry, socket.socket) else getattr(entry, "sock", None)
            if sock is None:
                continue
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        self.session.close()
