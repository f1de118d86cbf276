# Helpers for the CLI tests. Usage: . lib.sh; $AXNN is the binary.
AXNN="$1"
SRC="$2"
TMP=$(mktemp -d /tmp/axnn-cli-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
fails=0

# expect_error "description" "substring" cmd args...: the command must exit with status 1 or 2
# (not a signal), print exactly one line on stderr, containing the substring.
expect_error() {
    desc="$1"; want="$2"; shift 2
    "$@" >"$TMP/out" 2>"$TMP/err"
    rc=$?
    lines=$(wc -l <"$TMP/err")
    if [ $rc -ne 1 ] && [ $rc -ne 2 ]; then
        echo "FAIL $desc: exit status $rc"; cat "$TMP/err"; fails=$((fails + 1)); return
    fi
    if [ "$lines" -ne 1 ]; then
        echo "FAIL $desc: $lines lines on stderr"; cat "$TMP/err"; fails=$((fails + 1)); return
    fi
    if ! grep -q -- "$want" "$TMP/err"; then
        echo "FAIL $desc: message lacks '$want':"; cat "$TMP/err"; fails=$((fails + 1)); return
    fi
    echo "ok   $desc: $(cat "$TMP/err")"
}

# write_idx DIR N: a small MNIST-layout dataset (train and t10k) of N 28x28 images, 10 classes;
# class k has a bright horizontal bar at row 2k+4, plus noise.
write_idx() {
    dir="$1"; n="$2"
    mkdir -p "$dir"
    for split in train t10k; do
        awk -v n="$n" -v seed="$([ $split = train ] && echo 1 || echo 2)" 'BEGIN {
            srand(seed);
            printf "%c%c%c%c", 0, 0, 8, 3;
            printf "%c%c%c%c", int(n / 16777216) % 256, int(n / 65536) % 256, int(n / 256) % 256, n % 256;
            printf "%c%c%c%c%c%c%c%c", 0, 0, 0, 28, 0, 0, 0, 28;
            for (i = 0; i < n; i++) { k = i % 10;
                for (p = 0; p < 784; p++) { r = int(p / 28);
                    v = (r == 2 * k + 4 || r == 2 * k + 5) ? 220 : int(rand() * 50);
                    printf "%c", v; } } }' | LC_ALL=C cat >"$dir/$split-images-idx3-ubyte"
        awk -v n="$n" 'BEGIN {
            printf "%c%c%c%c", 0, 0, 8, 1;
            printf "%c%c%c%c", int(n / 16777216) % 256, int(n / 65536) % 256, int(n / 256) % 256, n % 256;
            for (i = 0; i < n; i++) printf "%c", i % 10; }' >"$dir/$split-labels-idx1-ubyte"
    done
}

# st_file PATH JSON DATA_BYTES: a safetensors file with the given header (padded with spaces to
# a multiple of 8) followed by DATA_BYTES zero bytes.
st_file() {
    json="$2"
    while [ $(( ${#json} % 8 )) -ne 0 ]; do json="$json "; done
    n=${#json}
    printf "$(printf '\\%03o\\%03o\\%03o\\%03o\\000\\000\\000\\000' $((n % 256)) $((n / 256 % 256)) \
        $((n / 65536 % 256)) $((n / 16777216)))" >"$1"
    printf '%s' "$json" >>"$1"
    head -c "$3" /dev/zero >>"$1"
}

finish() {
    if [ $fails -ne 0 ]; then echo "$fails failure(s)"; exit 1; fi
    echo "all passed"
}
