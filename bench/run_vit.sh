#!/usr/bin/env bash
# Runs bench_vit (axnn) and bench/peers/torch_vit.py (PyTorch) side by side and prints a table of
# images per second with the ratio axnn / pytorch, for the Vision Transformers at Tiny ImageNet's
# shape (64x64, patch 8, 200 classes, batch 64).
#
#   bench/run_vit.sh [BUILD_DIR] [--threads N] [--rounds R] [--iters K] [--warmup W]
#                    [--models a,b] [--mode train|eval|both] [--batch B]
#
# BUILD_DIR (default: build) must hold bench/bench_vit. Each round runs axnn and then PyTorch for
# one model and one mode at a time, so that a noisy spell hurts both alike; the table reports,
# per cell, the median over the rounds. PyTorch runs under /usr/bin/python3 with the same number
# of threads; when it is missing, its column reads "-".
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="${here}/../build"
if [[ $# -gt 0 && "$1" != --* ]]; then build="$1"; shift; fi
threads=2 rounds=3 iters=5 warmup=2 models="vit_tiny,vit_small" mode=both batch=64
while [[ $# -gt 0 ]]; do
    case "$1" in
        --threads) threads="$2" ;;
        --rounds) rounds="$2" ;;
        --iters) iters="$2" ;;
        --warmup) warmup="$2" ;;
        --models) models="$2" ;;
        --mode) mode="$2" ;;
        --batch) batch="$2" ;;
        *) echo "run_vit.sh: unknown flag $1" >&2; exit 2 ;;
    esac
    shift 2
done

bin="${build}/bench/bench_vit"
[[ -x "$bin" ]] || { echo "run_vit.sh: $bin not found (build first)" >&2; exit 1; }
modes=(train eval)
[[ "$mode" == both ]] || modes=("$mode")
common=(--threads "$threads" --iters "$iters" --warmup "$warmup" --batch "$batch")

results="$(mktemp)"
trap 'rm -f "$results"' EXIT
for ((r = 1; r <= rounds; r++)); do
    for m in ${models//,/ }; do
        for md in "${modes[@]}"; do
            "$bin" "${common[@]}" --models "$m" --mode "$md" 2>/dev/null >>"$results" || true
            /usr/bin/python3 "${here}/peers/torch_vit.py" "${common[@]}" --models "$m" \
                --mode "$md" 2>/dev/null >>"$results" || true
        done
    done
done

echo "threads=${threads} batch=${batch} 64x64 patch 8, 200 classes, rounds=${rounds} iters=${iters} (median img/s)"
awk -v models="$models" -v modes="${modes[*]}" '
    { v[$1 " " $2 " " $3] = v[$1 " " $2 " " $3] " " $4 }
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
