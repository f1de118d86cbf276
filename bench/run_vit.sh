#!/usr/bin/env bash
# bench/run_engine.sh for the Vision Transformers at Tiny ImageNet's shape: vit_tiny and
# vit_small on 3x64x64, patch 8, 200 classes, batch 64, 5 timed steps after 2 warmup steps per
# round. Takes the same arguments as run_engine.sh, which override these defaults:
#
#   bench/run_vit.sh [BUILD_DIR] [--threads N] [--rounds R] [--models vit_tiny,vit_mini] ...
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build=()
if [[ $# -gt 0 && "$1" != --* ]]; then build=("$1"); shift; fi
exec bash "${here}/run_engine.sh" "${build[@]}" --models vit_tiny,vit_small --batch 64 --iters 5 --warmup 2 \
    --size 64 --patch 8 --classes 200 "$@"
