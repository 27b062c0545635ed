#!/usr/bin/env bash
# README's test command: sets up the pinned environments (once, cached), then lint + all tests
# against both supported ComfyUI servers (0.3.75 and 0.33.0).
# Extra arguments go to pytest (e.g. scripts/test.sh -k video).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# Today's ComfyUI runs from a venv of its own; the harness starts it from there. On a fresh
# machine both venvs are built side by side (mostly waiting on downloads and disk).
venv_033_path="$(mktemp)"
trap 'rm -f "$venv_033_path"' EXIT
bash scripts/env.sh comfyui-0.33 >"$venv_033_path" &
venv_033_pid=$!
venv="$(bash scripts/env.sh)"
py="$venv/bin/python"
if ! wait "$venv_033_pid"; then
  echo "[test.sh] building the ComfyUI 0.33.0 environment failed (see above)" >&2
  exit 1
fi
SVD_SUITE_COMFYUI_033_VENV="$(cat "$venv_033_path")"
export SVD_SUITE_COMFYUI_033_VENV
# Both servers are part of the run: a missing one fails it rather than skipping quietly.
export SVD_SUITE_REQUIRE_ALL_COMFYUI=1

# The companion client from this checkout, installed beside it (not into the shared venv, which
# other clones use at the same time): its modules on PYTHONPATH, its svd-suite script on PATH.
# setuptools builds in client/build/ and would reuse stale files from there (a module deleted
# in the checkout would still be installed), so the build starts clean.
client_site="$root/.test-env/client"
rm -rf "$client_site" "$root/client/build"
"$py" -m pip install -q --no-deps --target "$client_site" "$root/client" 2>&1 \
  | { grep -v "is ignored: it is neither a file nor a directory" || true; }
export PYTHONPATH="$client_site${PYTHONPATH:+:$PYTHONPATH}"
export PATH="$client_site/bin:$venv/bin:$PATH"

# Browser tests drive Debian's Chromium (never Playwright's own download).
bash scripts/ensure-chromium.sh || echo "[test.sh] chromium unavailable: browser tests will be skipped"

echo "[test.sh] ruff check"
"$py" -m ruff check .
echo "[test.sh] pytest"
"$py" -m pytest "$@"
