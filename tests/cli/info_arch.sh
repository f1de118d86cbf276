# axnn info with an architecture name where a checkpoint is expected: shows the architecture as
# --arch would; an unknown name says it is neither a file nor an architecture; a file of that
# name wins; a name and --arch together are refused.
. "$(dirname "$0")/common.inc"
AXNN=$(cd "$(dirname "$AXNN")" && pwd)/$(basename "$AXNN") # the test changes folder below

for a in "resnet20" "cifar100_vgg11_bn --size 64" "vit_tiny_p16 --size 64 --classes 200"; do
    set -- $a
    name=$1; shift
    "$AXNN" info "$name" "$@" >"$TMP/a" 2>&1 || { echo "FAIL: info $a"; cat "$TMP/a"; fails=$((fails + 1)); continue; }
    "$AXNN" info --arch "$name" "$@" >"$TMP/b" 2>&1
    cmp -s "$TMP/a" "$TMP/b" && echo "ok   info $a = info --arch $a" ||
        { echo "FAIL: info $a differs from --arch"; diff "$TMP/a" "$TMP/b"; fails=$((fails + 1)); }
done
expect_error "unknown name" "resnet21: no such file, nor an architecture" "$AXNN" info resnet21
expect_error "missing path" "cannot open" "$AXNN" info "$TMP/none.safetensors"
expect_error "name and --arch" "both name an architecture" "$AXNN" info resnet20 --arch vgg11_bn
echo "not a checkpoint" >"$TMP/resnet20"
cd "$TMP"
expect_error "a file named like an architecture is read as a file" "resnet20: " "$AXNN" info resnet20
cd - >/dev/null
finish
