# Bad input on the command line: each case must give a one-line error naming the flag or file,
# and a non-zero exit status, never a crash.
. "$(dirname "$0")/common.inc"
export LC_ALL=C

expect_error "unknown command" "unknown command" "$AXNN" frobnicate
expect_error "unknown flag" "--bogus" "$AXNN" train --bogus
expect_error "zero epochs" "--epochs" "$AXNN" train --epochs 0
expect_error "negative epochs" "--epochs" "$AXNN" train --epochs -3
expect_error "epochs not a number" "--epochs" "$AXNN" train --epochs many
expect_error "lr not a number" "--lr" "$AXNN" train --lr fast
expect_error "missing flag value" "--batch" "$AXNN" train --batch
expect_error "unknown optimizer" "--opt" "$AXNN" train --opt adagrad
expect_error "unknown model" "unknown model 'resnet21'" "$AXNN" train --arch resnet21 --data mnist --data-dir "$TMP/none"
expect_error "unknown model (info)" "unknown model" "$AXNN" info --arch lenet
expect_error "unknown dataset" "unknown dataset" "$AXNN" train --data imagenet22k
expect_error "missing dataset folder" "$TMP/nowhere" "$AXNN" train --data cifar10 --data-dir "$TMP/nowhere"
expect_error "missing checkpoint" "$TMP/missing.safetensors" "$AXNN" eval "$TMP/missing.safetensors"

printf 'garbage' >"$TMP/short.safetensors"
expect_error "short safetensors" "short.safetensors" "$AXNN" eval "$TMP/short.safetensors"
st_file "$TMP/json.safetensors" '{"a": [1, 2, 3' 0
expect_error "bad JSON header" "json.safetensors" "$AXNN" eval "$TMP/json.safetensors" --arch resnet20
st_file "$TMP/off.safetensors" '{"fc.bias":{"dtype":"F32","shape":[10],"data_offsets":[0,4000]}}' 40
expect_error "offsets out of range" "off.safetensors" "$AXNN" eval "$TMP/off.safetensors" --arch resnet20
st_file "$TMP/shape.safetensors" '{"fc.bias":{"dtype":"F32","shape":[11],"data_offsets":[0,44]}}' 44
expect_error "wrong shape" "shape.safetensors" "$AXNN" eval "$TMP/shape.safetensors" --arch resnet20 --classes 10
st_file "$TMP/dtype.safetensors" '{"fc.bias":{"dtype":"Q99","shape":[10],"data_offsets":[0,40]}}' 40
expect_error "unknown dtype" "Q99" "$AXNN" eval "$TMP/dtype.safetensors" --arch resnet20
st_file "$TMP/bool.safetensors" '{"fc.bias":{"dtype":"BOOL","shape":[10],"data_offsets":[0,10]}}' 10
expect_error "wrong dtype" "bool.safetensors" "$AXNN" eval "$TMP/bool.safetensors" --arch resnet20 --classes 10
st_file "$TMP/meta.safetensors" '{"__metadata__":{"format":"axnn-checkpoint-1","arch":"resnet20"}}' 0
expect_error "checkpoint metadata incomplete" "meta.safetensors" "$AXNN" eval "$TMP/meta.safetensors"

write_idx "$TMP/ds" 20
head -c 1000 "$TMP/ds/train-images-idx3-ubyte" >"$TMP/trunc"
mv "$TMP/trunc" "$TMP/ds/train-images-idx3-ubyte"
expect_error "truncated IDX" "train-images-idx3-ubyte" "$AXNN" train --data mnist --data-dir "$TMP/ds"
write_idx "$TMP/ds2" 20
printf '\000\000\010\007' | dd of="$TMP/ds2/train-labels-idx1-ubyte" bs=1 count=4 conv=notrunc 2>/dev/null
expect_error "wrong IDX magic" "train-labels-idx1-ubyte" "$AXNN" train --data mnist --data-dir "$TMP/ds2"
mkdir -p "$TMP/cf"
head -c 3000 /dev/zero >"$TMP/cf/test_batch.bin"
for i in 1 2 3 4 5; do head -c 3073 /dev/zero >"$TMP/cf/data_batch_$i.bin"; done
expect_error "truncated CIFAR file" "test_batch.bin" "$AXNN" train --data cifar10 --data-dir "$TMP/cf"

finish
