"""The HTTP half of the client: ComfyUI's REST endpoints, each a small method.

`ComfyClient` (client.py) adds the websocket and prompt following on top of this.
"""

from __future__ import annotations

import os
import time
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

import requests

from .errors import ComfyClientError, ServerGone
from .outputs import RunResult, write_atomic

DEFAULT_SERVER = "http://127.0.0.1:8188"


def default_server() -> str:
    return os.environ.get("SVD_SUITE_SERVER") or DEFAULT_SERVER


class ServerApi:
    """HTTP calls to one ComfyUI server; connection failures become `ServerGone`."""

    def __init__(
        self,
        server: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        token: str | None = None,
        verify: bool = True,
        http_timeout: float = 30.0,
    ):
        self.base = (server or default_server()).rstrip("/")
        if not self.base.startswith(("http://", "https://")):
            raise ValueError(f"server must start with http:// or https://, got {self.base!r}")
        # For messages: a URL with user:password@ must not leak its credentials into errors or logs.
        parts = urllib.parse.urlsplit(self.base)
        self.display_base = parts._replace(
            netloc=(parts.hostname or "") + (f":{parts.port}" if parts.port else "")
        ).geturl()
        self.http_timeout = http_timeout
        self._headers = dict(headers or {})
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._verify = verify
        self.session = requests.Session()
        self.session.headers.update(self._headers)
        self.session.verify = verify

    def _request(self, method: str, path: str, retry: bool = True, **kwargs) -> requests.Response:
        """One HTTP call; connection errors are retried twice (a kept-alive connection that a proxy
        or the server closed fails once, harmlessly) unless `retry` is False, then `ServerGone`."""
        kwargs.setdefault("timeout", self.http_timeout)
        attempts = 3 if retry else 1
        for attempt in range(attempts):
            try:
                return self.session.request(method, self.base + path, **kwargs)
            except requests.Timeout:
                raise ServerGone(
                    f"server {self.display_base} did not answer {method} {path} within {kwargs['timeout']}s"
                ) from None
            except requests.ConnectionError as exc:
                error = exc
                if attempt + 1 < attempts:
                    time.sleep(0.05 * (attempt + 1))
        raise ServerGone(f"server {self.display_base} is unreachable ({type(error).__name__})") from None

    def _json(self, method: str, path: str, **kwargs) -> Any:
        response = self._request(method, path, **kwargs)
        if response.status_code >= 400:
            raise ComfyClientError(
                f"{method} {path} failed: HTTP {response.status_code} {response.text[:200]}"
            )
        return response.json() if response.content else {}

    def object_info(self, class_type: str | None = None) -> dict[str, Any]:
        return self._json("GET", "/object_info" + (f"/{class_type}" if class_type else ""))

    def system_stats(self) -> dict[str, Any]:
        return self._json("GET", "/system_stats")

    def history(self, prompt_id: str | None = None) -> dict[str, Any]:
        """/history/{id} entry of one prompt ({} while unknown), or the whole history without an id."""
        if prompt_id is None:
            return self._json("GET", "/history")
        return self._json("GET", f"/history/{prompt_id}").get(prompt_id, {})

    def wait_for_server(self, seconds: float) -> bool:
        """True as soon as /system_stats answers, False when it did not within `seconds`."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            try:
                self._json("GET", "/system_stats", timeout=max(0.5, min(self.http_timeout, left)))
                return True
            except ComfyClientError:
                if left <= 0:
                    return False
            time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))

    def queue_state(self) -> dict[str, list[str]]:
        """Prompt ids running and pending on the server: {"running": [...], "pending": [...]}."""
        raw = self._json("GET", "/queue")
        return {
            "running": [item[1] for item in raw.get("queue_running", [])],
            "pending": [item[1] for item in raw.get("queue_pending", [])],
        }

    def queue_length(self) -> int:
        state = self.queue_state()
        return len(state["running"]) + len(state["pending"])

    def interrupt(self, prompt_id: str | None = None) -> None:
        """Interrupt `prompt_id` if it is running (or whatever runs, without an id)."""
        self._json("POST", "/interrupt", json={"prompt_id": prompt_id} if prompt_id else {})

    def delete_from_queue(self, prompt_ids: list[str]) -> None:
        self._json("POST", "/queue", json={"delete": list(prompt_ids)})

    def upload_image(
        self,
        image: str | os.PathLike | bytes,
        subfolder: str = "",
        overwrite: bool = False,
        filename: str | None = None,
        type: str = "input",
    ) -> dict[str, str]:
        """Upload to the server's input folder; returns {"name", "subfolder", "type"}.

        Use `image_reference(answer)` for the value of a LoadImage `image` input.
        """
        if isinstance(image, bytes | bytearray):
            data, name = bytes(image), filename or f"upload-{uuid.uuid4().hex[:8]}.png"
        else:
            path = Path(image)
            if not path.is_file():
                raise FileNotFoundError(f"image file not found: {path}")
            data, name = path.read_bytes(), filename or path.name
        files = {"image": (name, data, "application/octet-stream")}
        form = {"type": type, "subfolder": subfolder, "overwrite": "true" if overwrite else "false"}
        return self._json("POST", "/upload/image", files=files, data=form)

    def download(
        self, filename: str, subfolder: str, type: str, target: Path, overwrite: bool = False
    ) -> Path:
        """GET /view into `target` atomically (a taken name gets a suffix unless `overwrite`)."""
        params = {"filename": filename, "subfolder": subfolder, "type": type}
        response = self._request("GET", "/view", params=params, stream=True)
        with response:
            if response.status_code != 200:
                raise ComfyClientError(f"cannot download {subfolder}/{filename}: HTTP {response.status_code}")
            return write_atomic(target, response.iter_content(1 << 16), overwrite=overwrite)

    def download_outputs(
        self, result: RunResult, directory: str | os.PathLike, types: tuple[str, ...] = ("output",)
    ) -> list[Path]:
        """Download every output file of `result` into `directory` (never overwriting)."""
        directory = Path(directory)
        return [
            self.download(f.filename, f.subfolder, f.type, directory / Path(f.filename).name)
            for f in result.files(types)
        ]
