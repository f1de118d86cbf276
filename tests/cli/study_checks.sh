# axnn study and sweep, checked inputs and outputs: duplicate list entries are refused naming
# the flag; an output folder that is a file, under a file or not writable is refused before any
# work (even the dataset is not read); cell files that name another topology or multiplier,
# hold an accuracy out of range, a null cost or no JSON are recomputed with one warning each,
# giving the same results; a cell path that is a folder is refused; results.json and
# sweep.json are valid JSON; a write that fails (a full disk, simulated with ulimit -f) exits
# non-zero and leaves the previous report, tables and figures whole, with no temporary file.
. "$(dirname "$0")/common.inc"
. "$(dirname "$0")/study_data.inc"

write_small "$TMP/ds" 192
run() { "$@" >"$TMP/log" 2>&1 || { echo "FAIL: $*"; cat "$TMP/log"; exit 1; }; }
valid_json() { python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$1" || { echo "FAIL: $1 is not JSON"; exit 1; }; }

expect_error "duplicate --mul" "--mul: 'exact' is given twice" "$AXNN" study $STUDY --mul exact,trunc:8,exact --out "$TMP/x"
expect_error "duplicate --mul with commas" "--mul: 'bam:2,6' is given twice" \
    "$AXNN" study $STUDY --mul bam:2,6,exact,bam:2,6 --out "$TMP/x"
expect_error "duplicate --topologies" "--topologies: 'hard' is given twice" \
    "$AXNN" study $STUDY --topologies hard,dense,hard --out "$TMP/x"
expect_error "duplicate --compare-grad" "--compare-grad: 'trunc:8' is given twice" \
    "$AXNN" study $STUDY --compare-grad trunc:8,trunc:8 --out "$TMP/x"
[ ! -e "$TMP/x" ] || { echo "FAIL: a refused study made its folder"; exit 1; }

touch "$TMP/file"
expect_error "--out is a file" "$TMP/file: is a file, not a folder" \
    "$AXNN" study $STUDY --data-dir "$TMP/nothing" --out "$TMP/file"
expect_error "--out under a file" "$TMP/file is a file" "$AXNN" study $STUDY --data-dir "$TMP/nothing" --out "$TMP/file/sub"
expect_error "--out not writable" "/proc: the output folder is not writable" \
    "$AXNN" study $STUDY --data-dir "$TMP/nothing" --out /proc

mkdir -p "$TMP/dirs/report.md"
expect_error "an output file is a folder" "report.md: exists and is not a regular file" \
    "$AXNN" study $STUDY --data-dir "$TMP/nothing" --out "$TMP/dirs"

run "$AXNN" study $STUDY --out "$TMP/one"
valid_json "$TMP/one/results.json"
echo "ok   results.json is valid JSON"

# tampered cells are recomputed, each with one warning, and the results come out the same
cp -r "$TMP/one" "$TMP/v"
sed -i 's/"topology":[[:space:]]*"dense"/"topology": "hard"/' "$TMP/v/cells/dense/exact.json"
sed -i 's/"accuracy_after":[[:space:]]*[0-9.e+-]*/"accuracy_after": 5/' "$TMP/v/cells/hard/trunc_8.json"
sed -i 's/"static_macs":[[:space:]]*[0-9.e+-]*/"static_macs": null/' "$TMP/v/cells/hard/float.json"
head -c 40 "$TMP/one/cells/dense/trunc_8.table.json" >"$TMP/v/cells/dense/trunc_8.table.json"
"$AXNN" study $STUDY --out "$TMP/v" >"$TMP/out" 2>"$TMP/err" || { echo "FAIL: tampered study"; cat "$TMP/err"; exit 1; }
for want in "cells/dense/exact.json: names 'hard', not this file's topology; the cell is recomputed" \
    "cells/hard/trunc_8.json: 'accuracy_after' is out of range (5); the cell is recomputed" \
    "cells/hard/float.json: 'static_macs' is not a number; the cell is recomputed" \
    "cells/dense/trunc_8.table.json: not valid JSON; the cell is recomputed"; do
    [ "$(grep -cF -- "$want" "$TMP/err")" -eq 1 ] || { echo "FAIL: want one warning '$want'"; cat "$TMP/err"; exit 1; }
done
[ "$(grep -c warning "$TMP/err")" -eq 4 ] || { echo "FAIL: warnings"; cat "$TMP/err"; exit 1; }
same_results "$TMP/one" "$TMP/v" || exit 1
echo "ok   four bad cell files recomputed with one warning each; same results"
sed -i 's/"multiplier":[[:space:]]*"trunc:8"/"multiplier": "exact"/' "$TMP/v/cells/dense/trunc_8.json"
"$AXNN" study $STUDY --out "$TMP/v" >"$TMP/out" 2>"$TMP/err" || { cat "$TMP/err"; exit 1; }
grep -qF "cells/dense/trunc_8.json: names 'exact', not this file's multiplier" "$TMP/err" ||
    { echo "FAIL: another multiplier's cell accepted"; cat "$TMP/err"; exit 1; }
echo "ok   a cell naming another multiplier is recomputed"
rm "$TMP/v/cells/hard/exact.json" && mkdir "$TMP/v/cells/hard/exact.json"
AXNN_LOG=warn expect_error "cell path is a folder" "cells/hard/exact.json: not a regular file" \
    "$AXNN" study $STUDY --out "$TMP/v"

# a full disk: no file installed half-written, exit non-zero, the old outputs whole
mkdir "$TMP/keep" && cp "$TMP"/one/*.png "$TMP"/one/*.md "$TMP"/one/*.csv "$TMP"/one/*.json "$TMP/keep/"
for limit in 1 24; do # 1 KiB: report.md cannot be written; 24 KiB: the tables can, the figures not
    (trap '' XFSZ; ulimit -f $limit; exec "$AXNN" study $STUDY --out "$TMP/one") >"$TMP/out" 2>"$TMP/err"
    rc=$?
    [ $rc -eq 1 ] || { echo "FAIL: full disk ($limit KiB): exit $rc"; cat "$TMP/err"; exit 1; }
    grep -Eq "(write|flush) failed: File too large|incomplete PNG" "$TMP/err" || { echo "FAIL: full disk message"; cat "$TMP/err"; exit 1; }
    for f in "$TMP"/keep/*; do
        cmp -s "$f" "$TMP/one/$(basename "$f")" ||
            [ "$(basename "$f")" = report.md ] || [ "$(basename "$f")" = results.json ] ||
            [ "$(basename "$f")" = results.csv ] || { echo "FAIL: $(basename "$f") changed"; exit 1; }
    done
    for f in report.md results.json results.csv; do # rewritten whole (the wall time changes) or kept
        tail -c 1 "$TMP/one/$f" | od -c | grep -q '\\n' || { echo "FAIL: $f truncated"; exit 1; }
    done
    [ -z "$(find "$TMP/one" -name '*.tmp*')" ] || { echo "FAIL: temporary file left"; exit 1; }
    echo "ok   full disk at $limit KiB: $(cat "$TMP/err" | tail -1)"
done

# sweep: the same checks
ck="$TMP/one/models/base.safetensors"
sweep="--data mnist --data-dir $TMP/ds --threads 2 --calib 32"
expect_error "sweep: duplicate --mul" "--mul: 'trunc:8' is given twice" "$AXNN" sweep "$ck" $sweep --mul trunc:8,exact,trunc:8
expect_error "sweep: --out is a file" "$TMP/file: is a file, not a folder" \
    "$AXNN" sweep "$ck" --data mnist --data-dir "$TMP/nothing" --mul exact --out "$TMP/file"
expect_error "sweep: --out not writable" "not writable" "$AXNN" sweep "$ck" --data mnist --data-dir "$TMP/nothing" --mul exact --out /proc
mkdir -p "$TMP/swd/sweep.png"
expect_error "sweep: an output file is a folder" "sweep.png: exists and is not a regular file" \
    "$AXNN" sweep "$ck" --data mnist --data-dir "$TMP/nothing" --mul exact --out "$TMP/swd"
run "$AXNN" sweep "$ck" $sweep --mul exact,trunc:8 --out "$TMP/sw/deep"
valid_json "$TMP/sw/deep/sweep.json"
echo "ok   sweep.json is valid JSON (folder made with its parents)"
(trap '' XFSZ; ulimit -f 1; exec "$AXNN" sweep "$ck" $sweep --mul exact,trunc:8 --out "$TMP/sw2") >"$TMP/out" 2>"$TMP/err"
rc=$?
[ $rc -eq 1 ] || { echo "FAIL: sweep on a full disk: exit $rc"; cat "$TMP/err"; exit 1; }
[ ! -e "$TMP/sw2/sweep.png" ] && [ -z "$(find "$TMP/sw2" -name '*.tmp*')" ] ||
    { echo "FAIL: sweep left a figure or temporary file on a full disk: $(ls -a "$TMP/sw2")"; exit 1; }
for f in "$TMP"/sw2/*.json; do valid_json "$f"; done
echo "ok   sweep on a full disk: $(tail -1 "$TMP/err")"
finish
