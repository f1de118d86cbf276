# End to end: train on a small generated dataset, kill the run with SIGKILL after its first
# checkpoint, resume it, and check that the result equals an uninterrupted run byte for byte.
. "$(dirname "$0")/common.inc"

write_idx "$TMP/ds" 128
common="--data mnist --data-dir $TMP/ds --epochs 5 --batch 32 --threads 2 --lr 0.05 --crop-pad 0 --size 28"

"$AXNN" train $common --out "$TMP/full" >"$TMP/full.log" 2>&1 || { cat "$TMP/full.log"; exit 1; }
grep -q "test accuracy" "$TMP/full.log" || { echo "no accuracy line"; cat "$TMP/full.log"; exit 1; }
acc=$(sed -n 's/.*test accuracy \([0-9.]*\)%.*/\1/p' "$TMP/full.log")
echo "uninterrupted run: test accuracy $acc%"
awk -v a="$acc" 'BEGIN { exit !(a >= 75) }' || { echo "FAIL: the model did not learn ($acc%)"; exit 1; }

"$AXNN" train $common --out "$TMP/cut" >"$TMP/cut.log" 2>&1 &
pid=$!
while [ ! -f "$TMP/cut/checkpoint.safetensors" ] && kill -0 $pid 2>/dev/null; do sleep 0.05; done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
if [ -f "$TMP/cut/model.safetensors" ]; then echo "note: the run finished before the kill"; fi
echo "killed after: $(grep -c epoch "$TMP/cut/metrics.jsonl") epoch(s)"

"$AXNN" train --out "$TMP/cut" --resume --threads 2 >"$TMP/resume.log" 2>&1 || { cat "$TMP/resume.log"; exit 1; }
grep -q "resuming from" "$TMP/resume.log" || { echo "FAIL: did not resume"; cat "$TMP/resume.log"; exit 1; }
[ "$(wc -l <"$TMP/cut/metrics.jsonl")" -eq 5 ] || { echo "FAIL: metrics.jsonl"; cat "$TMP/cut/metrics.jsonl"; exit 1; }
cmp "$TMP/full/model.safetensors" "$TMP/cut/model.safetensors" || { echo "FAIL: resumed model differs"; exit 1; }
echo "ok   resumed run equals the uninterrupted run"

"$AXNN" eval "$TMP/cut/model.safetensors" --data-dir "$TMP/ds" --json >"$TMP/eval.json" || exit 1
grep -q '"accuracy"' "$TMP/eval.json" || { echo "FAIL: eval output"; exit 1; }
"$AXNN" info "$TMP/cut/model.safetensors" | grep -q "total: 272" || { echo "FAIL: info"; exit 1; }
ls "$TMP/cut" | grep -q tmp && { echo "FAIL: temporary file left behind"; exit 1; }
echo "all passed"
