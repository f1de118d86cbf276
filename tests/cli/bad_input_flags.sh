# Conflicting, useless or non-finite flags, and output paths that cannot be written, each
# refused before any work with one line naming the flag(s) and a non-zero exit. Also checks
# that `eval --json` stays valid JSON when the loss is not finite (null, listed in "nonfinite").
. "$(dirname "$0")/common.inc"
W="timeout 60"

write_idx "$TMP/ds" 64
common="--data mnist --data-dir $TMP/ds --batch 32 --threads 2 --size 28 --crop-pad 0"
"$AXNN" train $common --epochs 1 --out "$TMP/run" >"$TMP/train.log" 2>&1 || { cat "$TMP/train.log"; exit 1; }
MODEL="$TMP/run/model.safetensors"
EV="--data-dir $TMP/ds --threads 2"
# A plain export (no axnn metadata, no checksum) of the same weights.
perl -0777 -pe 's/"axnn_crc32"/"xxxx_crc32"/; s/"format"/"xormat"/' "$MODEL" >"$TMP/plain.safetensors"
PLAIN="$TMP/plain.safetensors"
P="--arch resnet20 --classes 10 --in-channels 1 --size 28"

# ---- quantization flags ----
expect_error "--int8 with --mul" "--int8 and --mul trunc:3 conflict" $W "$AXNN" eval "$MODEL" $EV --int8 --mul trunc:3
expect_error "--mul with empty --mul-layers" "--mul-layers '' selects no layer, so --mul trunc:3" \
    $W "$AXNN" eval "$MODEL" $EV --mul trunc:3 --mul-layers ""
expect_error "layer in both lists" "--mul-layers and --exact-layers both select layer 'conv1'" \
    $W "$AXNN" eval "$MODEL" $EV --mul trunc:3 --mul-layers conv1,fc --exact-layers 'conv*'
expect_error "--mul-layers without --mul" "--mul-layers has no effect without --mul" \
    $W "$AXNN" eval "$MODEL" $EV --mul-layers conv1
expect_error "--exact-layers with --int8" "--exact-layers has no effect without --mul (--int8 keeps every layer exact)" \
    $W "$AXNN" eval "$MODEL" $EV --int8 --exact-layers conv1
expect_error "--keep-first-last without --mul" "--keep-first-last has no effect without --mul" \
    $W "$AXNN" eval "$MODEL" $EV --keep-first-last
expect_error "--exact-layers naming nothing" "--exact-layers ',' names no layer" \
    $W "$AXNN" eval "$MODEL" $EV --mul trunc:3 --exact-layers ,
expect_error "unknown layer in --mul-layers" "--mul-layers: no conv or linear layer named 'conv9'" \
    $W "$AXNN" eval "$MODEL" $EV --mul trunc:3 --mul-layers conv9 --calib 32
expect_error "unknown layer in --exact-layers" "--exact-layers: no conv or linear layer named 'layer9.*'" \
    $W "$AXNN" eval "$MODEL" $EV --mul trunc:3 --exact-layers 'layer9.*' --calib 32

# ---- model flags next to a checkpoint that fixes them ----
expect_error "--arch disagrees with the checkpoint" "--arch resnet32 disagrees with .*model.safetensors, a resnet20" \
    $W "$AXNN" eval "$MODEL" $EV --arch resnet32
expect_error "--classes disagrees" "--classes 100 disagrees with .* which has 10 classes" $W "$AXNN" eval "$MODEL" $EV --classes 100
expect_error "--size disagrees" "--size 32 disagrees with .* whose input is 28x28" $W "$AXNN" eval "$MODEL" $EV --size 32
expect_error "--in-channels disagrees" "--in-channels 3 disagrees" $W "$AXNN" eval "$MODEL" $EV --in-channels 3
expect_error "--mean not a number" "--mean: expected 1 to 4 comma-separated numbers, got 'abc'" \
    $W "$AXNN" eval "$MODEL" $EV --mean abc
expect_error "--mean disagrees" "--mean 0.5 disagrees with .* which fixes mean = " $W "$AXNN" eval "$MODEL" $EV --mean 0.5
expect_error "--std count disagrees" "--std: 3 values for a model of 1 input channels" \
    $W "$AXNN" eval "$MODEL" $EV --std 0.2,0.2,0.2
expect_error "--mean too many values" "--mean: expected 1 to 4" $W "$AXNN" eval "$MODEL" $EV --mean 1,2,3,4,5
expect_error "--mean NaN (plain export)" "--mean: 'nan' is not a finite number" \
    $W "$AXNN" eval "$PLAIN" $EV $P --mean nan --std 0.3
expect_error "--std Inf (plain export)" "--std: 'inf' is not a finite number" \
    $W "$AXNN" eval "$PLAIN" $EV $P --mean 0.1 --std inf
expect_error "--std zero" "--std: 0 must be positive" $W "$AXNN" eval "$PLAIN" $EV $P --mean 0.1 --std 0
expect_error "--std negative" "--std: -1 must be positive" $W "$AXNN" eval "$PLAIN" $EV $P --mean 0.1 --std -1
expect_error "plain export without --arch" "a plain weights file needs --arch" $W "$AXNN" eval "$PLAIN" $EV

# ---- output paths, checked before any data is read ----
touch "$TMP/afile"
expect_error "--out is a file" "--out $TMP/afile: it is a file, not a folder" $W "$AXNN" train $common --out "$TMP/afile"
expect_error "--out under a file" "--out $TMP/afile/sub: $TMP/afile is a file, not a folder" \
    $W "$AXNN" train $common --out "$TMP/afile/sub"
expect_error "--out not writable" "--out /proc/axnn-test/run: folder /proc is not writable" \
    $W "$AXNN" train $common --out /proc/axnn-test/run
expect_error "--metrics is a device" "--metrics /dev/null: is a character device, not a regular file" \
    $W "$AXNN" train $common --out "$TMP/o1" --metrics /dev/null
expect_error "--metrics is a folder" "--metrics $TMP: is a folder, not a regular file" \
    $W "$AXNN" train $common --out "$TMP/o2" --metrics "$TMP"
expect_error "--metrics under a file" "--metrics $TMP/afile/m.jsonl: $TMP/afile is a file" \
    $W "$AXNN" train $common --out "$TMP/o3" --metrics "$TMP/afile/m.jsonl"
mkfifo "$TMP/fifo"
expect_error "--metrics is a FIFO" "--metrics $TMP/fifo: is a FIFO" $W "$AXNN" train $common --out "$TMP/o4" --metrics "$TMP/fifo"
expect_error "--resume with --out a file" "--out $TMP/afile: it is a file" $W "$AXNN" train --resume --out "$TMP/afile"
[ ! -e "$TMP/o1" ] && [ ! -e "$TMP/o2" ] || { echo "FAIL: a refused run created its output folder"; fails=$((fails + 1)); }

# ---- eval --json stays JSON when the loss is not finite ----
hl=$(perl -0777 -ne 'print unpack("Q<", substr($_, 0, 8))' "$PLAIN")
off=$(perl -0777 -ne 'm/"fc\.weight":\{"dtype":"F32","shape":\[10,64\],"data_offsets":\[(\d+),/ and print $1' "$PLAIN")
cp "$PLAIN" "$TMP/huge.safetensors"
perl -e 'open F, "+<", $ARGV[0]; seek F, $ARGV[1], 0; print F pack("f<", 3e38) x 640; close F' \
    "$TMP/huge.safetensors" $((8 + hl + off))
"$AXNN" eval "$TMP/huge.safetensors" $EV $P --mean 0.1 --std 0.3 --json >"$TMP/huge.json" 2>/dev/null
if grep -q '"loss":null' "$TMP/huge.json" && grep -q '"nonfinite":\["loss"\]' "$TMP/huge.json" &&
    ! grep -qiE 'nan|inf[^o]' "$TMP/huge.json"; then
    echo "ok   eval --json with a non-finite loss: $(cat "$TMP/huge.json")"
else
    echo "FAIL eval --json with a non-finite loss: $(cat "$TMP/huge.json")"; fails=$((fails + 1))
fi
finish
