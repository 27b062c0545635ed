#!/usr/bin/env bash
# README's test command: sets up the pinned environment (once, cached), then lint + all tests.
# Extra arguments go to pytest (e.g. scripts/test.sh -k video).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="$(bash scripts/env.sh)"
py="$venv/bin/python"
export PATH="$venv/bin:$PATH"

# The companion client from this checkout (not editable: the venv is shared between clones).
"$py" -m pip install -q --no-deps --force-reinstall "$root/client" 2>&1 \
  | { grep -v "is ignored: it is neither a file nor a directory" || true; }

# Browser tests drive Debian's Chromium (never Playwright's own download).
bash scripts/ensure-chromium.sh || echo "[test.sh] chromium unavailable: browser tests will be skipped"

echo "[test.sh] ruff check"
"$py" -m ruff check .
echo "[test.sh] pytest"
exec "$py" -m pytest "$@"
