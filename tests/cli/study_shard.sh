# axnn study --shard K/N and --merge: two shards of the tiny study, merged, give the same
# report.md, results.json and results.csv as one run (all but the wall and retraining times),
# and the same cell files; a shard folder refuses another N, a whole-study run, and the merge
# refuses folders of another configuration, another grid, a shard given twice, a non-shard.
. "$(dirname "$0")/common.inc"
. "$(dirname "$0")/study_data.inc"

write_small "$TMP/ds" 192
run() { "$@" >"$TMP/log" 2>&1 || { echo "FAIL: $*"; cat "$TMP/log"; exit 1; }; }

# Under the sanitizers (scripts/test.sh sets ASAN_OPTIONS) the single reference run is skipped:
# the merged report is then checked for completeness only.
reference=1
[ -n "$ASAN_OPTIONS" ] && reference=0
[ $reference = 1 ] && run "$AXNN" study $STUDY --out "$TMP/one"
run "$AXNN" study $STUDY --shard 1/2 --out "$TMP/s1"
grep -q "shard 1/2 finished" "$TMP/log" || { echo "FAIL: no shard line"; cat "$TMP/log"; exit 1; }
run "$AXNN" study $STUDY --shard 2/2 --out "$TMP/s2"
[ ! -e "$TMP/s1/report.md" ] || { echo "FAIL: a shard wrote a report"; exit 1; }
# the fixed assignment: contiguous blocks of the run order, listed in shard.json
grep -q '"cells/dense/exact.json", "cells/dense/trunc_8.json", "cells/dense/trunc_8.table.json"' "$TMP/s1/shard.json" ||
    { echo "FAIL: shard 1/2 assignment"; cat "$TMP/s1/shard.json"; exit 1; }
grep -q '"cells/hard/exact.json", "cells/hard/trunc_8.json"' "$TMP/s2/shard.json" ||
    { echo "FAIL: shard 2/2 assignment"; cat "$TMP/s2/shard.json"; exit 1; }
[ ! -e "$TMP/s1/cells/hard/exact.json" ] && [ ! -e "$TMP/s2/cells/dense/exact.json" ] ||
    { echo "FAIL: a shard ran another shard's cell"; exit 1; }
echo "ok   two shards ran their own cells"

run "$AXNN" study --merge "$TMP/s2" "$TMP/s1" --out "$TMP/merged"
grep -q "warning" "$TMP/log" && { echo "FAIL: merge warned"; cat "$TMP/log"; exit 1; }
for f in report.md results.csv results.json accuracy_by_multiplier.png accuracy_vs_power.png study.json; do
    [ -s "$TMP/merged/$f" ] || { echo "FAIL: merged $f missing"; exit 1; }
done
grep -q "summed over 2 shards" "$TMP/merged/report.md" || { echo "FAIL: no shard note in the report"; exit 1; }
grep -q ' - |' "$TMP/merged/report.md" && { echo "FAIL: merged report has missing cells"; exit 1; }
[ "$(grep -c '^[a-z]*,"' "$TMP/merged/results.csv")" -eq 5 ] || { echo "FAIL: merged results.csv rows"; exit 1; }
if [ $reference = 1 ]; then
    same_results "$TMP/one" "$TMP/merged" || exit 1
    for f in "$TMP"/one/cells/*/*.json; do
        rel=${f#"$TMP/one/"}
        grep -v retrain_seconds "$f" >"$TMP/ca"
        grep -v retrain_seconds "$TMP/merged/$rel" >"$TMP/cb" 2>/dev/null
        cmp -s "$TMP/ca" "$TMP/cb" || { echo "FAIL: merged $rel differs from the single run's"; exit 1; }
    done
    echo "ok   shards + merge equal a single run (report, results.csv, results.json, cell files)"
fi

expect_error "shard rerun with another N" "holds shard 1/2 of a study, not 1/3" \
    "$AXNN" study $STUDY --shard 1/3 --out "$TMP/s1"
expect_error "whole study in a shard folder" "holds shard 2/2" "$AXNN" study $STUDY --out "$TMP/s2"
expect_error "shard of another grid" "other --topologies, --mul" \
    "$AXNN" study $STUDY --mul exact --compare-grad '' --shard 1/2 --out "$TMP/s1"
expect_error "more shards than cells" "only 5 cells" "$AXNN" study $STUDY --shard 1/6 --out "$TMP/s6"
expect_error "bad --shard" "--shard: expected K/N" "$AXNN" study $STUDY --shard 0/2 --out "$TMP/s0"
expect_error "merge: shard given twice" "shard 1/2 is already given by" \
    "$AXNN" study --merge "$TMP/s1" "$TMP/s1" --out "$TMP/m2"
cp -r "$TMP/s2" "$TMP/other"
sed -i 's/"lr": 0.1,/"lr": 0.5,/' "$TMP/other/study.json"
expect_error "merge: another configuration" "$TMP/other: another study configuration than $TMP/s1" \
    "$AXNN" study --merge "$TMP/s1" "$TMP/other" --out "$TMP/m2"
cp -r "$TMP/s2" "$TMP/grid"
sed -i 's/"trunc:8"\]/"trunc:7"]/' "$TMP/grid/shard.json"
expect_error "merge: another grid" "$TMP/grid: a shard of another grid" \
    "$AXNN" study --merge "$TMP/s1" "$TMP/grid" --out "$TMP/m2"
if [ $reference = 1 ]; then
    expect_error "merge: a whole study" "$TMP/one: not a shard" "$AXNN" study --merge "$TMP/s1" "$TMP/one" --out "$TMP/m2"
fi
expect_error "merge: not a study" "not a study folder" "$AXNN" study --merge "$TMP/s1" "$TMP/ds" --out "$TMP/m2"
expect_error "merge into a shard" "holds shard 1/2: merge into another --out" \
    "$AXNN" study --merge "$TMP/s1" "$TMP/s2" --out "$TMP/s1"
expect_error "merge with a study flag" "drop --lr" "$AXNN" study --merge "$TMP/s1" "$TMP/s2" --out "$TMP/m2" --lr 0.5
expect_error "merge without --out" "--out DIR" "$AXNN" study --merge "$TMP/s1" "$TMP/s2"

# one shard alone: a report with its cells and '-' for the others, and a warning
"$AXNN" study --merge "$TMP/s1" --out "$TMP/half" >"$TMP/out" 2>"$TMP/err" || { cat "$TMP/err"; exit 1; }
grep -q "shard 2/2 is not given; its 2 cell(s)" "$TMP/err" || { echo "FAIL: no missing-shard warning"; cat "$TMP/err"; exit 1; }
grep -q ' - |' "$TMP/half/report.md" || { echo "FAIL: missing cells not shown as -"; exit 1; }
echo "ok   a partial merge warns and marks the missing cells"
finish
