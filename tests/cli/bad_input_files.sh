# Bad files, each a one-line error naming the file and the real cause with a non-zero exit,
# never a hang or a crash: things that are not regular files, IDX headers that announce more
# than the file holds, corrupt gzip data, CIFAR and Tiny ImageNet oddities, non-finite weights,
# negative BatchNorm variances, checkpoints changed after they were written (CRC-32), and
# checkpoint metadata out of range. Commands run under `timeout` so a hang fails the case.
. "$(dirname "$0")/common.inc"
W="timeout 60"

# A real checkpoint to damage: one epoch on a tiny generated dataset.
write_idx "$TMP/ds" 64
common="--data mnist --data-dir $TMP/ds --batch 32 --threads 2 --size 28 --crop-pad 0"
"$AXNN" train $common --epochs 1 --out "$TMP/run" >"$TMP/train.log" 2>&1 || { cat "$TMP/train.log"; exit 1; }
CK="$TMP/run/checkpoint.safetensors"
MODEL="$TMP/run/model.safetensors"
EV="--data-dir $TMP/ds --threads 2"
# copy_edit SRC DST PERL: DST is SRC with the perl substitution applied to its bytes.
copy_edit() { perl -0777 -pe "$3" "$1" >"$2"; }
# st_edit SRC DST PERL: DST is SRC with the substitution applied to its JSON header (length
# rewritten, padding kept to a multiple of 8) and its checksum stamped again, as a writer that
# stored those values would: so the check of the values themselves is what answers.
st_edit() {
    perl -MCompress::Zlib -0777 -e 'local $_ = <STDIN>; my $n = unpack("Q<", substr($_, 0, 8));
        my $h = substr($_, 8, $n); my $d = substr($_, 8 + $n); $_ = $h;
        eval $ARGV[0]; die $@ if $@; s/ +$//; $_ .= " " x (-length($_) % 8);
        s/"axnn_crc32":"[0-9a-f]{8}"/"axnn_crc32":"00000000"/;
        my $f = pack("Q<", length($_)) . $_ . $d; my $c = sprintf("%08x", crc32($f));
        $f =~ s/"axnn_crc32":"00000000"/"axnn_crc32":"$c"/; print $f' "$3" <"$1" >"$2"
}

# ---- not regular files ----
mkfifo "$TMP/fifo.safetensors"
expect_error "eval a folder" "is a folder, not a regular file" $W "$AXNN" eval "$TMP"
expect_error "eval /dev/zero" "/dev/zero: is a character device" $W "$AXNN" eval /dev/zero
expect_error "info /dev/zero" "/dev/zero: is a character device" $W "$AXNN" info /dev/zero
expect_error "eval a FIFO" "fifo.safetensors: is a FIFO" $W "$AXNN" eval "$TMP/fifo.safetensors"
: >"$TMP/empty.safetensors"
expect_error "eval an empty file" "file of 0 bytes is too short" $W "$AXNN" eval "$TMP/empty.safetensors"
cp -r "$TMP/ds" "$TMP/dfold"; rm "$TMP/dfold/train-images-idx3-ubyte"; mkdir "$TMP/dfold/train-images-idx3-ubyte"
expect_error "IDX file is a folder" "train-images-idx3-ubyte: is a folder" $W "$AXNN" train $common --data-dir "$TMP/dfold" --out "$TMP/o"
cp -r "$TMP/ds" "$TMP/dfifo"; rm "$TMP/dfifo/train-labels-idx1-ubyte"; mkfifo "$TMP/dfifo/train-labels-idx1-ubyte"
expect_error "IDX file is a FIFO" "train-labels-idx1-ubyte: is a FIFO" $W "$AXNN" train $common --data-dir "$TMP/dfifo" --out "$TMP/o"

# ---- IDX headers and gzip ----
cp -r "$TMP/ds" "$TMP/dhuge"
printf '\000\000\010\003\005\365\340\377' | dd of="$TMP/dhuge/train-images-idx3-ubyte" bs=1 count=8 conv=notrunc 2>/dev/null
expect_error "IDX count beyond the file" "header announces 78399999216 data bytes, the file holds 50176" \
    $W "$AXNN" train $common --data-dir "$TMP/dhuge" --out "$TMP/o"
cp -r "$TMP/ds" "$TMP/dgz"; gzip "$TMP/dgz/train-images-idx3-ubyte"
cp -r "$TMP/dgz" "$TMP/dgzbad"
perl -e 'open F, "+<", $ARGV[0]; seek F, 200, 0; print F "corruptcorrupt"; close F' "$TMP/dgzbad/train-images-idx3-ubyte.gz"
expect_error "corrupt gzip data" "train-images-idx3-ubyte.gz: corrupt gzip data" \
    $W "$AXNN" train $common --data-dir "$TMP/dgzbad" --out "$TMP/o"
cp -r "$TMP/dgz" "$TMP/dgzcut"
head -c 300 "$TMP/dgz/train-images-idx3-ubyte.gz" >"$TMP/dgzcut/train-images-idx3-ubyte.gz"
expect_error "truncated gzip stream" "truncated gzip stream" $W "$AXNN" train $common --data-dir "$TMP/dgzcut" --out "$TMP/o"
cp -r "$TMP/dgz" "$TMP/dgzhuge"
printf '\000\000\010\003\005\365\340\377\000\000\000\034\000\000\000\034' | gzip >"$TMP/dgzhuge/train-images-idx3-ubyte.gz"
expect_error "gzip IDX count beyond any inflation" "more than a gzip file of" \
    $W "$AXNN" train $common --data-dir "$TMP/dgzhuge" --out "$TMP/o"
cp -r "$TMP/ds" "$TMP/dtrail"; printf 'x' >>"$TMP/dtrail/train-labels-idx1-ubyte"
expect_error "IDX trailing bytes" "trailing bytes after 64 data bytes" $W "$AXNN" train $common --data-dir "$TMP/dtrail" --out "$TMP/o"
cp -r "$TMP/ds" "$TMP/dzero"
printf '\000\000\010\003\000\000\000\000' | dd of="$TMP/dzero/train-images-idx3-ubyte" bs=1 count=8 conv=notrunc 2>/dev/null
expect_error "IDX count zero" "bad IDX size 0 in dimension 0" $W "$AXNN" train $common --data-dir "$TMP/dzero" --out "$TMP/o"
write_idx "$TMP/dn" 32; cp "$TMP/ds/train-labels-idx1-ubyte" "$TMP/dn/"
expect_error "IDX labels disagree with images" "64 labels but the image file holds 32 images" \
    $W "$AXNN" train $common --data-dir "$TMP/dn" --out "$TMP/o"

# ---- CIFAR ----
mkdir -p "$TMP/cf"
for i in 1 2 3 4 5; do head -c 3073 /dev/zero >"$TMP/cf/data_batch_$i.bin"; done
mkdir "$TMP/cf/test_batch.bin"
expect_error "CIFAR file is a folder" "test_batch.bin: is a folder" $W "$AXNN" train --data cifar10 --data-dir "$TMP/cf" --out "$TMP/o"
rmdir "$TMP/cf/test_batch.bin"; mkfifo "$TMP/cf/test_batch.bin"
expect_error "CIFAR file is a FIFO" "test_batch.bin: is a FIFO" $W "$AXNN" train --data cifar10 --data-dir "$TMP/cf" --out "$TMP/o"
rm "$TMP/cf/test_batch.bin"; { printf '\014'; head -c 3072 /dev/zero; } >"$TMP/cf/test_batch.bin"
expect_error "CIFAR label out of range" "record 0 has label 12 (expected < 10)" \
    $W "$AXNN" train --data cifar10 --data-dir "$TMP/cf" --out "$TMP/o"

# ---- Tiny ImageNet ----
tin="$TMP/tin"; mkdir -p "$tin/val/images"
mkdir "$tin/wnids.txt"
expect_error "wnids.txt is a folder" "wnids.txt: is a folder" $W "$AXNN" eval "$MODEL" --data tinyimagenet --data-dir "$tin"
rmdir "$tin/wnids.txt"; printf 'n01443537\n../../etc\n' >"$tin/wnids.txt"
expect_error "class id with a path" "wnids.txt:2: '../../etc' is not a class id" \
    $W "$AXNN" eval "$MODEL" --data tinyimagenet --data-dir "$tin"
printf 'n01443537\n' >"$tin/wnids.txt"
printf 'a.JPEG\tn99999999\t0\t0\t1\t1\n' >"$tin/val/val_annotations.txt"
expect_error "annotation of an unknown class" "val_annotations.txt:1: class n99999999 is not in wnids.txt" \
    $W "$AXNN" eval "$MODEL" --data tinyimagenet --data-dir "$tin"
printf '../../x.JPEG\tn01443537\n' >"$tin/val/val_annotations.txt"
expect_error "annotation with a path" "is not a file name in val/images" \
    $W "$AXNN" eval "$MODEL" --data tinyimagenet --data-dir "$tin"
printf 'a.JPEG\tn01443537\n' >"$tin/val/val_annotations.txt"
printf '\377\330\377\340garbage' >"$tin/val/images/a.JPEG"
expect_error "corrupt JPEG" "a.JPEG: corrupt JPEG" $W "$AXNN" eval "$MODEL" --data tinyimagenet --data-dir "$tin"
rm "$tin/val/images/a.JPEG"; mkfifo "$tin/val/images/a.JPEG"
expect_error "JPEG is a FIFO" "a.JPEG: is a FIFO" $W "$AXNN" eval "$MODEL" --data tinyimagenet --data-dir "$tin"

# ---- non-finite weights (plain exports: the checksum key is dropped so the edit is the test) ----
# Patch elements of bn1.running_var at their offset in the data buffer.
off=$(perl -0777 -ne 'm/"bn1\.running_var":\{"dtype":"F32","shape":\[16\],"data_offsets":\[(\d+),/ and print $1' "$MODEL")
hl=$(perl -0777 -ne 'print unpack("Q<", substr($_, 0, 8))' "$MODEL")
patch_f32() { # patch_f32 SRC DST BYTE_OFFSET HEX8: DST is SRC (no checksum, no format) with 4 bytes replaced
    perl -0777 -pe 's/"axnn_crc32"/"xxxx_crc32"/; s/"format"/"xormat"/' "$1" >"$2"
    printf "$(echo "$4" | sed 's/../\\x&/g')" | dd of="$2" bs=1 seek="$3" conv=notrunc 2>/dev/null
}
base=$((8 + hl + off))
plain="--arch resnet20 --classes 10 --in-channels 1 --size 28 --mean 0.5 --std 0.25"
patch_f32 "$MODEL" "$TMP/nan.safetensors" "$base" 0000c07f
expect_error "NaN weight" "tensor 'bn1.running_var': non-finite value nan at element 0" \
    $W "$AXNN" eval "$TMP/nan.safetensors" $plain $EV
patch_f32 "$MODEL" "$TMP/inf.safetensors" $((base + 8)) 0000807f
expect_error "Inf weight" "tensor 'bn1.running_var': non-finite value inf at element 2" \
    $W "$AXNN" eval "$TMP/inf.safetensors" $plain $EV
patch_f32 "$MODEL" "$TMP/negvar.safetensors" $((base + 4)) 000080bf
expect_error "negative running variance" "negative BatchNorm running variance -1 at element 1" \
    $W "$AXNN" eval "$TMP/negvar.safetensors" $plain $EV

# ---- integrity: a byte changed after writing ----
sz=$(wc -c <"$MODEL")
cp "$MODEL" "$TMP/flip.safetensors"
printf '\001' | dd of="$TMP/flip.safetensors" bs=1 seek=$((sz - 3)) conv=notrunc 2>/dev/null
expect_error "flipped data byte" "flip.safetensors: checksum mismatch: corrupt file (CRC-32" $W "$AXNN" eval "$TMP/flip.safetensors" $EV
copy_edit "$MODEL" "$TMP/flipmeta.safetensors" 's/"dataset":"mnist"/"dataset":"mnisu"/'
expect_error "changed metadata byte" "flipmeta.safetensors: checksum mismatch" $W "$AXNN" eval "$TMP/flipmeta.safetensors" $EV
copy_edit "$MODEL" "$TMP/fliphdr.safetensors" 's/"shape":\[16\]/"shape":[17]/'
expect_error "changed header byte" "fliphdr.safetensors: checksum mismatch: corrupt file" $W "$AXNN" eval "$TMP/fliphdr.safetensors" $EV
copy_edit "$MODEL" "$TMP/badcrc.safetensors" 's/"axnn_crc32":"[0-9a-f]{8}"/"axnn_crc32":"zzzzzzzz"/'
expect_error "malformed checksum" "metadata 'axnn_crc32' = 'zzzzzzzz' is malformed" \
    $W "$AXNN" eval "$TMP/badcrc.safetensors" $EV
copy_edit "$MODEL" "$TMP/nokey.safetensors" 's/"axnn_crc32"/"axnn_crc3x"/'
expect_error "checksum key damaged" "but the 'axnn_crc32' checksum that axnn writes with it is missing" \
    $W "$AXNN" eval "$TMP/nokey.safetensors" $EV
mkdir -p "$TMP/run2"; cp "$CK" "$TMP/run2/checkpoint.safetensors"
printf '\001' | dd of="$TMP/run2/checkpoint.safetensors" bs=1 seek=$((sz - 3)) conv=notrunc 2>/dev/null
expect_error "resume from a damaged checkpoint" "checkpoint.safetensors: checksum mismatch" \
    $W "$AXNN" train --out "$TMP/run2" --resume --threads 2

# ---- checkpoint metadata ranges (checksums stamped again, so the metadata check itself answers) ----
# (the checks that need the training set run after the "training ..." log line: hide it)
export AXNN_LOG=warn
st_edit "$MODEL" "$TMP/nanmean.safetensors" 's/"mean":"\[[0-9.e-]*\]"/"mean":"[nan]"/'
expect_error "NaN mean in metadata" "metadata 'mean' holds a non-finite value" \
    $W "$AXNN" eval "$TMP/nanmean.safetensors" $EV
st_edit "$MODEL" "$TMP/negstd.safetensors" 's/"std":"\[[0-9.e-]*\]"/"std":"[-1]"/'
expect_error "negative std in metadata" "metadata 'std' must be positive" $W "$AXNN" eval "$TMP/negstd.safetensors" $EV
mkdir -p "$TMP/r_epoch"; st_edit "$CK" "$TMP/r_epoch/checkpoint.safetensors" 's/"epoch":"1"/"epoch":"999999999"/'
expect_error "epoch out of range" "metadata 'epoch' = '999999999' is not an integer in .0, 1000000." \
    $W "$AXNN" train --out "$TMP/r_epoch" --resume --threads 2
mkdir -p "$TMP/r_step"; st_edit "$CK" "$TMP/r_step/checkpoint.safetensors" 's/"step":"2"/"step":"-2"/'
expect_error "negative step count" "metadata 'step' = '-2' is not an integer in .0," \
    $W "$AXNN" train --out "$TMP/r_step" --resume --threads 2
mkdir -p "$TMP/r_opt"; st_edit "$CK" "$TMP/r_opt/checkpoint.safetensors" 's/"optim_steps":"2"/"optim_steps":"7"/'
expect_error "step and optim_steps disagree" "metadata 'step' = 2 but 'optim_steps' = 7" \
    $W "$AXNN" train --out "$TMP/r_opt" --resume --threads 2
mkdir -p "$TMP/r_cnt"; st_edit "$CK" "$TMP/r_cnt/checkpoint.safetensors" 's/"step":"2"/"step":"5"/; s/"optim_steps":"2"/"optim_steps":"5"/'
expect_error "step count implausible for the epoch" "checkpoint records 5 steps after 1 epochs, expected 2" \
    $W "$AXNN" train --out "$TMP/r_cnt" --resume --threads 2
mkdir -p "$TMP/r_ep"
st_edit "$CK" "$TMP/r_ep/checkpoint.safetensors" 's/"epoch":"1"/"epoch":"2"/; s/"step":"2"/"step":"4"/; s/"optim_steps":"2"/"optim_steps":"4"/'
expect_error "checkpoint beyond --epochs" "checkpoint is after epoch 2, beyond --epochs 1" \
    $W "$AXNN" train --out "$TMP/r_ep" --resume --threads 2
mkdir -p "$TMP/r_tr"
st_edit "$CK" "$TMP/r_tr/checkpoint.safetensors" 's/("optim\.fc\.weight\.momentum_buffer":\{"dtype":"F32","shape":)\[10,64\]/$1\[64,10\]/'
expect_error "transposed optimizer state" "optimizer state 'optim.fc.weight.momentum_buffer' is F32 .64, 10., the parameter is F32 .10, 64." \
    $W "$AXNN" train --out "$TMP/r_tr" --resume --threads 2
mkdir -p "$TMP/r_un"; st_edit "$CK" "$TMP/r_un/checkpoint.safetensors" 's/"optim\.fc\.weight\.momentum_buffer"/"optim.fc.weigh.momentum_buffer"/'
expect_error "optimizer state of no parameter" "optimizer state 'optim.fc.weigh.momentum_buffer' belongs to no parameter" \
    $W "$AXNN" train --out "$TMP/r_un" --resume --threads 2
mkdir -p "$TMP/r_slot"; st_edit "$CK" "$TMP/r_slot/checkpoint.safetensors" 's/"optim\.fc\.weight\.momentum_buffer"/"optim.fc.weight.momentum_bufxer"/'
expect_error "optimizer state of an unknown slot" "'optim.fc.weight.momentum_bufxer' has an unknown slot" \
    $W "$AXNN" train --out "$TMP/r_slot" --resume --threads 2
mkdir -p "$TMP/r_cfg"; st_edit "$CK" "$TMP/r_cfg/checkpoint.safetensors" 's/"lr\\":\\"0.100000001\\"/"lr\\":\\"abcdefghijk\\"/'
expect_error "saved configuration with a bad value" "--lr: 'abcdefghijk' is not a number" \
    $W "$AXNN" train --out "$TMP/r_cfg" --resume --threads 2
finish
