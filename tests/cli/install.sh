# The public API as a user sees it: `make install` into a prefix, then examples/classify.c built
# against the installed headers and axnn.pc alone, and run on a small trained model. Its float
# accuracy must equal `axnn eval`'s on the same images; int8 (exact and a multiplier) must run.
. "$(dirname "$0")/common.inc"

BUILD=$(dirname "$AXNN")
cmake --install "$BUILD" --prefix "$TMP/prefix" >"$TMP/install.log" 2>&1 || { cat "$TMP/install.log"; exit 1; }
for f in include/axnn/axnn.h include/axnn/infer.h lib/libaxnn.a lib/pkgconfig/axnn.pc bin/axnn; do
    [ -e "$TMP/prefix/$f" ] || { echo "FAIL: $f not installed"; exit 1; }
done
export PKG_CONFIG_PATH="$TMP/prefix/lib/pkgconfig"
# a sanitizer build installs an instrumented library: the program links the same runtime
san=""
grep -q '^AXNN_SANITIZE:BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null && san="-fsanitize=address,undefined"
# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -Werror $san -o "$TMP/classify" "$SRC/../examples/classify.c" \
    $(pkg-config --cflags axnn) $(pkg-config --static --libs axnn) || { echo "FAIL: classify.c does not build"; exit 1; }
echo "ok   classify.c builds against the installed headers and axnn.pc"

write_idx "$TMP/ds" 96
"$AXNN" train --data mnist --data-dir "$TMP/ds" --epochs 2 --batch 32 --threads 2 --lr 0.05 --crop-pad 0 \
    --size 28 --out "$TMP/m" >"$TMP/train.log" 2>&1 || { cat "$TMP/train.log"; exit 1; }
"$AXNN" eval "$TMP/m/model.safetensors" --data-dir "$TMP/ds" --json >"$TMP/eval.json" || exit 1
want=$(sed -n 's/.*"accuracy": *\([0-9.]*\).*/\1/p' "$TMP/eval.json" | head -1)
got=$("$TMP/classify" "$TMP/m/model.safetensors" "$TMP/ds/t10k-images-idx3-ubyte" "$TMP/ds/t10k-labels-idx1-ubyte") \
    || { echo "FAIL: classify"; exit 1; }
right=$(echo "$got" | sed -n 's/accuracy \([0-9]*\)\/\([0-9]*\)/\1/p')
total=$(echo "$got" | sed -n 's/accuracy \([0-9]*\)\/\([0-9]*\)/\2/p')
awk -v r="$right" -v t="$total" -v a="$want" 'BEGIN { d = r / t - a; if (a > 1) d = 100 * r / t - a; exit !(d < 1e-6 && d > -1e-6) }' \
    || { echo "FAIL: classify says $got, axnn eval says accuracy $want"; exit 1; }
echo "ok   classify ($got) equals axnn eval ($want)"
for mul in exact mitchell; do
    out=$("$TMP/classify" "$TMP/m/model.safetensors" "$TMP/ds/t10k-images-idx3-ubyte" "$TMP/ds/t10k-labels-idx1-ubyte" $mul) \
        || { echo "FAIL: classify with $mul"; exit 1; }
    echo "ok   classify with $mul: $out"
done
"$TMP/classify" "$TMP/m/model.safetensors" "$TMP/ds/t10k-images-idx3-ubyte" "$TMP/ds/t10k-labels-idx1-ubyte" nosuch \
    >/dev/null 2>"$TMP/err" && { echo "FAIL: an unknown multiplier was accepted"; exit 1; }
echo "ok   unknown multiplier: $(cat "$TMP/err")"
exit 0
