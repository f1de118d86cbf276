# axnn dispatch end to end on a tiny generated dataset: bad input gives one line and a non-zero
# exit; a run killed with SIGKILL after its first profiled zoo model resumes without redoing it
# and ends with the same results as an uninterrupted run; --zoo reuses the zoo; the report's
# files are all there.
. "$(dirname "$0")/common.inc"

write_idx "$TMP/ds" 300
run="--data mnist --data-dir $TMP/ds --models resnet8,resnet14 --epochs 1 --batch 32 --train-images 120
     --profile-images 60 --val 40 --test-images 80 --pop 6 --gens 3 --fc-epochs 3 --threads 2"
reference=1
[ -n "$ASAN_OPTIONS" ] && reference=0

expect_error "population below 4" "--pop" "$AXNN" dispatch $run --pop 2 --out "$TMP/bad"
expect_error "tiny validation split" "--val" "$AXNN" dispatch $run --val 5 --out "$TMP/bad"
expect_error "empty validation split" "--val" "$AXNN" dispatch $run --val 0 --out "$TMP/bad"
expect_error "one model" "--models" "$AXNN" dispatch $run --models resnet8 --out "$TMP/bad"
expect_error "unknown model" "unknown model" "$AXNN" dispatch $run --models resnet8,resnet9 --out "$TMP/bad"
expect_error "unknown extractor" "--extractor" "$AXNN" dispatch $run --extractor vgg11_bn --out "$TMP/bad"
expect_error "unknown mode" "unknown mode" "$AXNN" dispatch frobnicate $run --out "$TMP/bad"
printf 'garbage' >"$TMP/zoo.bad"
expect_error "corrupt zoo file" "zoo.bad" "$AXNN" dispatch --zoo "$TMP/zoo.bad" --out "$TMP/bad"
st_file "$TMP/zoo2.bad" '{"__metadata__":{"format":"axnn-zoo","zoo":"{}"}}' 0
expect_error "zoo file without its checksum" "checksum" "$AXNN" dispatch --zoo "$TMP/zoo2.bad" --out "$TMP/bad"

if [ $reference = 1 ]; then
    "$AXNN" dispatch $run --out "$TMP/full" >"$TMP/full.log" 2>&1 || { cat "$TMP/full.log"; exit 1; }
    echo "ok   uninterrupted run: $(grep -c '^front,' "$TMP/full/results.csv") front point(s)"
fi

"$AXNN" dispatch $run --out "$TMP/cut" >"$TMP/cut.log" 2>&1 &
pid=$!
while [ ! -f "$TMP/cut/zoo.safetensors" ] && kill -0 $pid 2>/dev/null; do sleep 0.05; done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
[ -f "$TMP/cut/zoo.safetensors" ] || { echo "FAIL: no zoo file before the kill"; cat "$TMP/cut.log"; exit 1; }
cp "$TMP/cut/zoo.safetensors" "$TMP/zoo.first"
"$AXNN" dispatch $run --out "$TMP/cut" >"$TMP/resume.log" 2>&1 || { cat "$TMP/resume.log"; exit 1; }
if [ -f "$TMP/cut/report.md" ] && grep -q "report $TMP/cut/report.md" "$TMP/resume.log"; then :; else
    echo "FAIL: no report after resuming"; cat "$TMP/resume.log"; exit 1
fi
grep -q "training resnet8" "$TMP/resume.log" && { echo "FAIL: the profiled model was trained again"; exit 1; }
echo "ok   resumed after a kill without redoing the profiled model"
for f in report.md results.csv results.json accuracy_vs_macs.png hypervolume.png shares.png search.json front.json; do
    [ -s "$TMP/cut/$f" ] || { echo "FAIL: $f missing"; exit 1; }
done
if [ $reference = 1 ]; then
    cmp -s "$TMP/full/results.csv" "$TMP/cut/results.csv" || {
        echo "FAIL: resumed results differ"; diff "$TMP/full/results.csv" "$TMP/cut/results.csv"; exit 1; }
    echo "ok   resumed run equals the uninterrupted one"
    # --zoo reuses a profiled zoo: same search, same results
    "$AXNN" dispatch --zoo "$TMP/full/zoo.safetensors" --pop 6 --gens 3 --fc-epochs 3 --threads 2 \
        --out "$TMP/again" >"$TMP/again.log" 2>&1 || { cat "$TMP/again.log"; exit 1; }
    cmp -s "$TMP/full/results.csv" "$TMP/again/results.csv" || { echo "FAIL: --zoo results differ"; exit 1; }
    echo "ok   --zoo reuses the zoo"
fi
# dispatch run: everything routed to one model equals that model alone, exactly; a front point
# equals its line in the report
for m in resnet8 resnet14; do
    want=$(awk -F, -v m=$m '$1 == "model" && $2 == m { printf "%.2f%%", 100 * $3 }' "$TMP/cut/results.csv")
    "$AXNN" dispatch run $run --route-all $m --out "$TMP/cut" >"$TMP/run.log" 2>&1 || { cat "$TMP/run.log"; exit 1; }
    grep -q "everything to $m) on 80 mnist test images: accuracy $want" "$TMP/run.log" ||
        { echo "FAIL: run with everything to $m is not $want"; cat "$TMP/run.log"; exit 1; }
    grep -q "alone $m: accuracy $want" "$TMP/run.log" || { echo "FAIL: $m alone is not $want"; exit 1; }
done
echo "ok   dispatch run: routing everything to one model equals that model's accuracy"
want=$(awk -F, '$1 == "front" && $2 == "front0" { printf "accuracy %.2f%%, mean %.2f MMACs", 100 * $3, $4 / 1e6 }' "$TMP/cut/results.csv")
"$AXNN" dispatch run $run --point 0 --out "$TMP/cut" >"$TMP/run.log" 2>&1 || { cat "$TMP/run.log"; exit 1; }
grep -q "$want" "$TMP/run.log" || { echo "FAIL: front point 0 run is not '$want'"; cat "$TMP/run.log"; exit 1; }
echo "ok   dispatch run of front point 0: $want, as in the report"
# streams: --interval 1 is plain dispatch; --interval 4 dispatches 20 of 80 frames; a change
# threshold no score can pass leaves frame 0 alone
"$AXNN" dispatch run $run --point 0 --interval 1 --out "$TMP/cut" >"$TMP/run1.log" 2>&1 || { cat "$TMP/run1.log"; exit 1; }
grep -q "$want" "$TMP/run1.log" || { echo "FAIL: --interval 1 differs from plain dispatch"; cat "$TMP/run1.log"; exit 1; }
"$AXNN" dispatch run $run --point 0 --interval 4 --out "$TMP/cut" >"$TMP/run4.log" 2>&1 || { cat "$TMP/run4.log"; exit 1; }
grep -q "dispatcher ran on 20 of 80 frames" "$TMP/run4.log" || { echo "FAIL: --interval 4"; cat "$TMP/run4.log"; exit 1; }
"$AXNN" dispatch run $run --point 0 --change 1 --out "$TMP/cut" >"$TMP/runc.log" 2>&1 || { cat "$TMP/runc.log"; exit 1; }
grep -q "dispatcher ran on 1 of 80 frames" "$TMP/runc.log" || { echo "FAIL: --change 1"; cat "$TMP/runc.log"; exit 1; }
echo "ok   streams: --interval and --change choose the frames the dispatcher runs on"
expect_error "front point out of range" "--point 99" "$AXNN" dispatch run $run --point 99 --out "$TMP/cut"
expect_error "route to an unknown model" "--route-all" "$AXNN" dispatch run $run --route-all vgg11_bn --out "$TMP/cut"

expect_error "other settings" "other settings" "$AXNN" dispatch $run --epochs 2 --out "$TMP/cut"
# a checkpoint for another class count, and one for another input size
"$AXNN" train --data mnist --data-dir "$TMP/ds" --arch resnet8 --epochs 1 --classes 12 --threads 2 \
    --out "$TMP/c12" >/dev/null 2>&1 || { echo "FAIL: train"; exit 1; }
expect_error "other class count" "classes" "$AXNN" dispatch $run --models resnet8,big=$TMP/c12/model.safetensors --out "$TMP/bad"
"$AXNN" train --data mnist --data-dir "$TMP/ds" --arch resnet8 --epochs 1 --size 40 --threads 2 \
    --out "$TMP/s40" >/dev/null 2>&1 || { echo "FAIL: train"; exit 1; }
expect_error "other input shape" "input shapes" "$AXNN" dispatch $run --models resnet8,big=$TMP/s40/model.safetensors --out "$TMP/bad"
if [ -d /usr/share/datasets/fashion-mnist ]; then
    expect_error "checkpoint of another dataset" "checkpoint for mnist" "$AXNN" dispatch $run --data fashion-mnist \
        --data-dir /usr/share/datasets/fashion-mnist --models resnet8,m=$TMP/s40/model.safetensors --out "$TMP/bad"
fi
[ -z "$(find "$TMP/cut" -name '*.tmp*')" ] || { echo "FAIL: temporary file left behind"; exit 1; }
finish
