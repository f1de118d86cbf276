#!/usr/bin/env bash
# Runs bench_engine (axnn) and bench/peers/torch_engine.py (PyTorch) side by side and prints
# a table of images per second with the ratio axnn / pytorch.
#
#   bench/run_engine.sh [BUILD_DIR] [--threads N] [--rounds R] [--iters K] [--warmup W]
#                       [--models a,b] [--mode train|eval|both] [--stat median|best]
#                       [--batch B] [--size S] [--patch P] [--classes C]
#
# The defaults measure the CNNs (resnet20, vgg11_bn) at batch 128 on 3x32x32; bench/run_vit.sh
# runs the same comparison for the Vision Transformers (Tiny ImageNet's shape, batch 64).
#
# BUILD_DIR (default: build) must hold bench/bench_engine. Each round runs axnn and then PyTorch
# for one model and one mode at a time, so that a noisy spell hurts both alike; the table
# reports, per cell, the median over the rounds of each run's img/s -- from its median step
# time (--stat median, the default) or from its fastest step (--stat best: on a machine shared
# with other jobs, the step that was least disturbed, for both sides alike). PyTorch runs under
# /usr/bin/python3; when it is missing, its column reads "-".
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="${here}/../build"
if [[ $# -gt 0 && "$1" != --* ]]; then build="$1"; shift; fi
threads=2 rounds=3 iters=10 warmup=3 models="resnet20,vgg11_bn" mode=both stat=median
batch=128 size=0 patch=8 classes=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --threads) threads="$2" ;;
        --rounds) rounds="$2" ;;
        --iters) iters="$2" ;;
        --warmup) warmup="$2" ;;
        --models) models="$2" ;;
        --mode) mode="$2" ;;
        --stat) stat="$2" ;;
        --batch) batch="$2" ;;
        --size) size="$2" ;;
        --patch) patch="$2" ;;
        --classes) classes="$2" ;;
        *) echo "run_engine.sh: unknown flag $1" >&2; exit 2 ;;
    esac
    shift 2
done

bin="${build}/bench/bench_engine"
[[ -x "$bin" ]] || { echo "run_engine.sh: $bin not found (build first)" >&2; exit 1; }
modes=(train eval)
[[ "$mode" == both ]] || modes=("$mode")
common=(--threads "$threads" --iters "$iters" --warmup "$warmup" --batch "$batch" --size "$size"
        --patch "$patch" --classes "$classes")

results="$(mktemp)"
trap 'rm -f "$results"' EXIT
for ((r = 1; r <= rounds; r++)); do
    for m in ${models//,/ }; do
        for md in "${modes[@]}"; do
            "$bin" "${common[@]}" --models "$m" --mode "$md" 2>/dev/null >>"$results" || true
            /usr/bin/python3 "${here}/peers/torch_engine.py" "${common[@]}" --models "$m" \
                --mode "$md" 2>/dev/null >>"$results" || true
        done
    done
done

[[ "$stat" == median || "$stat" == best ]] || { echo "run_engine.sh: --stat median|best" >&2; exit 2; }
field=4
[[ "$stat" == best ]] && field=6
echo "threads=${threads} batch=${batch} rounds=${rounds} iters=${iters} (img/s from the ${stat} step, median of rounds)"
awk -v models="$models" -v modes="${modes[*]}" -v field="$field" '
    NF >= field { v[$1 " " $2 " " $3] = v[$1 " " $2 " " $3] " " $field }
    function med(s,   a, n, i, j, t) {
        n = split(s, a, " ")
        if (n == 0) return -1
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    END {
        printf "%-10s %-6s %12s %12s %8s\n", "model", "mode", "axnn", "pytorch", "ratio"
        nm = split(models, M, ","); nd = split(modes, D, " ")
        for (i = 1; i <= nm; i++) for (j = 1; j <= nd; j++) {
            a = med(v["axnn " M[i] " " D[j]]); p = med(v["torch " M[i] " " D[j]])
            printf "%-10s %-6s %12s %12s %8s\n", M[i], D[j], a < 0 ? "-" : sprintf("%.1f", a),
                   p < 0 ? "-" : sprintf("%.1f", p), (a < 0 || p <= 0) ? "-" : sprintf("%.2f", a / p)
        }
    }' "$results"
