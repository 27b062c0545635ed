#!/usr/bin/env bash
# One command from a fresh clone to a video: ComfyUI + SVD Suite, then media/rocket.jpg
# turned into demo-output/rocket-<time>.mp4 (+ a contact sheet PNG of its frames).
#
#   bash scripts/demo.sh           run the demo (starts ComfyUI on 127.0.0.1:8188, or reuses it)
#   bash scripts/demo.sh --stop    stop the ComfyUI the demo started
#
# Environment: SVD_SUITE_DEMO_PORT (8188), SVD_SUITE_DEMO_BASE (ComfyUI base dir, outside the
# clone), SVD_SUITE_DEMO_IMAGE (media/rocket.jpg), SVD_SUITE_DEMO_ARGS (extra img2vid flags).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
port="${SVD_SUITE_DEMO_PORT:-8188}"
base="${SVD_SUITE_DEMO_BASE:-${XDG_CACHE_HOME:-$HOME/.cache}/svd-suite/comfyui-demo}"
image="${SVD_SUITE_DEMO_IMAGE:-$repo/media/rocket.jpg}"
url="http://127.0.0.1:$port"
say() { echo "[demo] $*" >&2; }

venv="$(bash "$repo/scripts/env.sh")"
py="$venv/bin/python"
helper=("$py" "$repo/scripts/demo_comfyui.py")

if [ "${1:-}" = "--stop" ]; then
  "${helper[@]}" stop --base "$base"
  exit 0
fi

say "installing the svd-suite client into $venv"
rm -rf "$repo/client/build"  # setuptools would reuse stale files from an earlier build
"$py" -m pip install -q --no-deps --force-reinstall "$repo/client" 2>&1 \
  | { grep -v "is ignored: it is neither a file nor a directory" >&2 || true; }

model="$("${helper[@]}" prepare --base "$base")"
"${helper[@]}" start --base "$base" --port "$port" --model "$model"

# Small sizes so a CPU-only first run ends in a minute or two: measured here with the tiny model,
# 384x256, 14 frames, 10 steps: about 20 s end to end on 2 quiet cores, under 2 minutes while the
# cores were shared with other heavy jobs. A repeated run is answered from ComfyUI's cache.
# Real weights get the same size; real quality wants 1024x576, 25 steps and a GPU.
# Override with e.g. SVD_SUITE_DEMO_ARGS="--width 512 --height 320 --steps 20".
mkdir -p "$repo/demo-output"
stem="$(basename "${image%.*}")-$(date +%Y%m%d-%H%M%S)"
out="$repo/demo-output/$stem.mp4"
n=2
while [ -e "$out" ]; do out="$repo/demo-output/$stem-$n.mp4"; n=$((n + 1)); done

say "generating $out from $image (model $model)"
# shellcheck disable=SC2086  # SVD_SUITE_DEMO_ARGS is a list of flags on purpose
"$venv/bin/svd-suite" img2vid "$image" -o "$out" --server "$url" --model "$model" \
  --width 384 --height 256 --frames 14 --steps 10 ${SVD_SUITE_DEMO_ARGS:-}

stop_cmd="bash scripts/demo.sh --stop"
[ -n "${SVD_SUITE_DEMO_BASE:-}" ] && stop_cmd="SVD_SUITE_DEMO_BASE=$SVD_SUITE_DEMO_BASE $stop_cmd"

sheet="$("$py" "$repo/scripts/demo_contact_sheet.py" "$out" --input "$image")"

# The same command again, ready to paste (paths quoted: a clone may be named "svd suite").
rerun="$(printf '%q ' "$venv/bin/svd-suite" img2vid "$image" -o another.mp4 --server "$url" --model "$model" \
  --width 384 --height 256 --frames 14 --steps 10)"
cat <<EOF

SVD Suite demo finished.
  video:          $out
  contact sheet:  $sheet
  model:          $model$([ "$model" = svd-tiny-demo ] && echo " (random weights: noise-like motion; put real SVD weights in $base/models/diffusers/stable-video-diffusion-img2vid-xt)")
  run it again:   ${rerun% }
  ComfyUI UI:     $url  (Workflow > Browse Templates > comfyui-svd-suite; Load SVD Model picks $model)
  server log:     $base/comfyui.log
  stop server:    $stop_cmd
EOF
