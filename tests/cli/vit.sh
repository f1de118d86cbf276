# Vision Transformers from the command line: `axnn train --arch vit_*` picks the transformer
# recipe for the flags not given (and CNNs keep theirs), --patch and name suffixes set the patch
# size, the model reloads by its saved name for eval (also with int8 attention) and info.
. "$(dirname "$0")/common.inc"

write_idx "$TMP/ds" 320
common="--data mnist --data-dir $TMP/ds --batch 32 --threads 2 --crop-pad 0 --hflip=false --size 28"

# The saved configuration (metadata "train" of the checkpoint) holds the flags in effect.
saved() { head -c 16384 "$1/checkpoint.safetensors" | tr -d '\\' | grep -ao "\"$2\": *\"[^\"]*\"" | head -1; }
check() {
    got=$(saved "$1" "$2")
    if [ "$(echo "$got" | tr -d ' ')" = "\"$2\":\"$3\"" ]; then echo "ok   $4: $got"; else echo "FAIL $4: $2 is '$got', not $3"; fails=$((fails + 1)); fi
}

"$AXNN" train --arch vit_mini $common --patch 7 --epochs 2 --warmup 1 --out "$TMP/vit" >"$TMP/vit.log" 2>&1 \
    || { cat "$TMP/vit.log"; exit 1; }
acc=$(sed -n 's/.*test accuracy \([0-9.]*\)%.*/\1/p' "$TMP/vit.log")
echo "vit_mini (patch 7, 16 tokens), 2 epochs on 320 generated images: test accuracy $acc%"
awk -v a="$acc" 'BEGIN { exit !(a >= 50) }' || { echo "FAIL: the ViT did not learn ($acc%)"; cat "$TMP/vit.log"; exit 1; }
check "$TMP/vit" opt adamw "vit defaults: optimizer"
check "$TMP/vit" lr 0.00100000005 "vit defaults: learning rate"
check "$TMP/vit" wd 0.0500000007 "vit defaults: weight decay"
check "$TMP/vit" warmup 1 "vit: --warmup given on the command line wins"
check "$TMP/vit" label-smoothing 0.100000001 "vit defaults: label smoothing"
check "$TMP/vit" clip 1 "vit defaults: clipping"
check "$TMP/vit" decay-all false "vit defaults: no decay on norms, biases, embeddings"

"$AXNN" train --arch vit_mini $common --patch 14 --epochs 1 --opt sgd --lr 0.01 --out "$TMP/vsgd" >/dev/null 2>&1 || exit 1
check "$TMP/vsgd" opt sgd "vit: --opt given on the command line wins"
check "$TMP/vsgd" lr 0.00999999978 "vit: --lr given on the command line wins"
check "$TMP/vsgd" clip 1 "vit: the other defaults stay"
check "$TMP/vsgd" warmup 2 "vit defaults: warmup"

"$AXNN" train --arch resnet20 $common --size 32 --epochs 1 --out "$TMP/cnn" >/dev/null 2>&1 || exit 1
check "$TMP/cnn" opt sgd "cnn defaults unchanged: optimizer"
check "$TMP/cnn" decay-all true "cnn defaults unchanged: decay-all"

"$AXNN" info "$TMP/vit/model.safetensors" | grep -q "^$TMP/vit/model.safetensors: vit_mini_p7," \
    && echo "ok   info: saved as vit_mini_p7" || { echo "FAIL: info"; fails=$((fails + 1)); }
"$AXNN" eval "$TMP/vit/model.safetensors" --data-dir "$TMP/ds" --int8 --quant-attention --calib 64 \
    >"$TMP/q.log" 2>&1 && grep -q "accuracy" "$TMP/q.log" \
    && echo "ok   eval --int8 --quant-attention: $(grep accuracy "$TMP/q.log")" \
    || { echo "FAIL: eval --quant-attention"; cat "$TMP/q.log"; fails=$((fails + 1)); }
"$AXNN" info --arch vit_tiny_p16 --size 64 --classes 200 | grep -q "^vit_tiny_p16, 200 classes" \
    && echo "ok   info: vit_tiny_p16 at 64x64" || { echo "FAIL: info vit_tiny_p16"; fails=$((fails + 1)); }

expect_error "patch that does not divide the input" "patch size 5" \
    "$AXNN" train --arch vit_mini $common --epochs 1 --patch 5 --out "$TMP/bad"
expect_error "name and --patch disagree" "patch size 4, not 7" \
    "$AXNN" train --arch vit_mini_p4 $common --epochs 1 --patch 7 --out "$TMP/bad"
expect_error "unknown vit" "unknown model" "$AXNN" train --arch vit_huge $common --out "$TMP/bad"
expect_error "drop path out of range" "drop-path" "$AXNN" train --arch vit_mini $common --drop-path 1.5 --out "$TMP/bad"
finish
