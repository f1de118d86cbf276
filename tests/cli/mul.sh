# axnn mul: list, show (with a gnuplot heat map), import of EvoApproxLib-style C files (good,
# broken and hostile: the sandbox's escape attempts) and raw tables in every order, export
# (.bin/.csv/.h/.axmul), --force, integrity of .axmul files, cleanup on SIGINT/SIGTERM.
# Multipliers go to a temporary AXNN_MUL_PATH; temporary files of the tool go to a private
# TMPDIR, which must be empty again at the end; escape attempts aim at $AXNN_ESCAPE, which must
# stay empty.
. "$(dirname "$0")/common.inc"
export LC_ALL=C
export AXNN_MUL_PATH="$TMP/muls"
export TMPDIR="$TMP/tmp"
export AXNN_ESCAPE="$TMP/escape"
mkdir -p "$TMPDIR" "$AXNN_ESCAPE"
D="$SRC/data/axmul"

# expect_ok "description" "stdout substring" cmd args...: exit status 0, nothing on stderr, and
# the substring (a grep -F pattern) on stdout.
expect_ok() {
    desc="$1"; want="$2"; shift 2
    "$@" >"$TMP/out" 2>"$TMP/err"
    rc=$?
    if [ $rc -ne 0 ] || [ -s "$TMP/err" ]; then
        echo "FAIL $desc: exit status $rc"; cat "$TMP/err"; fails=$((fails + 1)); return
    fi
    if ! grep -q -F -- "$want" "$TMP/out"; then
        echo "FAIL $desc: output lacks '$want':"; cat "$TMP/out"; fails=$((fails + 1)); return
    fi
    echo "ok   $desc"
}

expect_ok "list before imports" "(none: add some" "$AXNN" mul list
expect_ok "list shows families" "trunc:K" "$AXNN" mul list
expect_ok "show trunc:3 metrics" "MAE      4.25" "$AXNN" mul show trunc:3
expect_ok "show trunc:3 decomposition" "sum of 3 terms f_i(a) g_i(b) (bits of a)" "$AXNN" mul show trunc:3
expect_ok "show power estimate" "(estimate" "$AXNN" mul show drum:4
expect_ok "show mitchell (no decomposition)" "decomposition: none" "$AXNN" mul show mitchell
expect_ok "help" "import FILE.c" "$AXNN" mul --help

if command -v gnuplot >/dev/null 2>&1; then
    expect_ok "show --plot" "plot: wrote $TMP/t3.png" "$AXNN" mul show trunc:3 --plot "$TMP/t3.png"
    if [ "$(head -c 4 "$TMP/t3.png" | od -An -tx1 | tr -d ' ')" = "89504e47" ]; then
        echo "ok   plot is a PNG"
    else
        echo "FAIL plot is not a PNG"; fails=$((fails + 1))
    fi
    expect_error "plot into a missing folder" "$TMP/nowhere/x.png" \
        "$AXNN" mul show trunc:3 --plot "$TMP/nowhere/x.png"
fi
expect_error "gnuplot missing" "gnuplot is not installed" \
    env PATH=/nonexistent "$AXNN" mul show trunc:3 --plot "$TMP/np.png"

expect_ok "import three circuits" "imported tc_bam24_u8 from" \
    "$AXNN" mul import "$D/tc_trunc3.c" "$D/tc_bam24_u8.c" "$D/tc_exact.c" --timeout 20
n=$(grep -c "all 8 claimed metrics match" "$TMP/out")
if [ "$n" -eq 3 ]; then echo "ok   three headers match"; else echo "FAIL $n headers match"; fails=$((fails + 1)); fi
expect_ok "import with a lying header" "WARNING: 2 of 8 claimed metrics disagree" \
    "$AXNN" mul import "$D/tc_badheader.c"
expect_ok "import under another name" "imported t3copy from" "$AXNN" mul import "$D/tc_trunc3.c" --name t3copy
expect_ok "list shows imports" "tc_trunc3" "$AXNN" mul list
expect_ok "show an import's power" "power      0.385 mW" "$AXNN" mul show tc_trunc3
expect_ok "show an import's header" "4.2" "$AXNN" mul show tc_trunc3
expect_ok "uint8 circuit equals bam:2,4" "sum of 3 terms" "$AXNN" mul show tc_bam24_u8

expect_ok "export .bin" "wrote $TMP/t.bin" "$AXNN" mul export tc_trunc3 "$TMP/t.bin"
expect_ok "export .csv" "wrote $TMP/t.csv" "$AXNN" mul export tc_trunc3 "$TMP/t.csv"
expect_ok "export .axmul" "wrote $TMP/t.axmul" "$AXNN" mul export tc_trunc3 "$TMP/t.axmul"
expect_ok "export built-in" "wrote $TMP/b.bin" "$AXNN" mul export trunc:3 "$TMP/b.bin"
if cmp -s "$TMP/t.bin" "$TMP/b.bin" && [ "$(wc -c <"$TMP/t.bin")" -eq 131072 ]; then
    echo "ok   imported circuit equals trunc:3"
else
    echo "FAIL imported circuit differs from trunc:3"; fails=$((fails + 1))
fi
expect_ok "import raw .bin" "imported rawbin from" "$AXNN" mul import --raw "$TMP/t.bin" --name rawbin
expect_ok "import raw .csv" "imported rawcsv from" "$AXNN" mul import --raw "$TMP/t.csv" --name rawcsv
expect_ok "re-export raw" "wrote" "$AXNN" mul export rawcsv "$TMP/r.bin"
if cmp -s "$TMP/t.bin" "$TMP/r.bin"; then echo "ok   raw roundtrip"; else echo "FAIL raw roundtrip"; fails=$((fails + 1)); fi
expect_ok "show by path" "MAE      4.25" "$AXNN" mul show "$TMP/t.axmul"

expect_error "no subcommand" "give a subcommand" "$AXNN" mul
expect_error "unknown subcommand" "unknown subcommand 'frob'" "$AXNN" mul frob
expect_error "show without a name" "give one multiplier name" "$AXNN" mul show
expect_error "unknown multiplier" "axnn mul import mul8s_1KV9.c" "$AXNN" mul show mul8s_1KV9
expect_error "C file given as a name" "import it first" "$AXNN" mul show "$D/tc_trunc3.c"
expect_error "bad family parameter" "trunc:K with K = 0..15" "$AXNN" mul show trunc:99
expect_error "unknown option" "--bogus" "$AXNN" mul show trunc:3 --bogus
expect_error "circuit that does not compile" "tc_nocompile.c" "$AXNN" mul import "$D/tc_nocompile.c"
expect_error "compiler error line" "error: expected" "$AXNN" mul import "$D/tc_nocompile.c"
expect_error "circuit that crashes" "tc_segv.c: tc_segv() crashed with signal" "$AXNN" mul import "$D/tc_segv.c"
expect_error "circuit that hangs" "tc_loop.c: tc_loop() did not finish within 1 s" \
    "$AXNN" mul import "$D/tc_loop.c" --timeout 1
expect_error "no multiplier function" "tc_nofunc.c: no multiplier function" "$AXNN" mul import "$D/tc_nofunc.c"
expect_error "missing C file" "$TMP/missing.c" "$AXNN" mul import "$TMP/missing.c"
expect_error "one bad file among good ones" "tc_segv.c" "$AXNN" mul import "$D/tc_segv.c" "$D/tc_exact.c" --force
expect_error "re-import without --force" "'tc_trunc3' is already imported" "$AXNN" mul import "$D/tc_trunc3.c"
expect_ok "re-import with --force: old metrics" "  old: MAE 4.25" "$AXNN" mul import "$D/tc_badheader.c" --name tc_trunc3 --force
expect_ok "re-import with --force: new metrics" "  new: MAE 4.25" "$AXNN" mul import "$D/tc_trunc3.c" --force
expect_error "raw re-import without --force" "already imported" "$AXNN" mul import --raw "$TMP/t.bin" --name rawbin
expect_error "wrong arity" "'int16_t tc_arity(int8_t A)' has the wrong arity or types" "$AXNN" mul import "$D/tc_arity.c"
expect_error "wrong types" "'int16_t tc_types(float A, float B)' has the wrong arity or types" "$AXNN" mul import "$D/tc_types.c"
expect_ok "hand metrics: errors on zero products" "WCRE 0%  EP 0.3906%  MRE 0%" "$AXNN" mul import "$D/tc_zeroerr.c"
expect_ok "hand metrics: header agrees" "all 8 claimed metrics match" "$AXNN" mul import "$D/tc_bigrel.c"
expect_ok "unsigned circuit (mul8u form)" "all 8 claimed metrics match" "$AXNN" mul import "$D/tc_umul.c"
expect_ok "unsigned circuit shown as such" "operands   unsigned 8x8" "$AXNN" mul show tc_umul

# ---- escape attempts: each stopped and reported, nothing it tried exists afterwards
check_escape() {
    left=$(ls -A "$AXNN_ESCAPE")
    if [ -z "$left" ]; then echo "ok   $1 left nothing"; else echo "FAIL $1 left $left"; fails=$((fails + 1)); fi
}
expect_error "escape: write a file" "esc_write() was stopped: it made a forbidden system call (openat)" "$AXNN" mul import "$D/esc_write.c"
check_escape esc_write
expect_error "escape: constructor writes a file" "forbidden system call (openat)" "$AXNN" mul import "$D/esc_ctor.c"
check_escape esc_ctor
expect_error "escape: fork" "forbidden system call (clone)" "$AXNN" mul import "$D/esc_fork.c"
expect_error "escape: exec" "forbidden system call (execve)" "$AXNN" mul import "$D/esc_exec.c"
check_escape esc_exec
expect_error "escape: kill the parent" "forbidden system call (kill)" "$AXNN" mul import "$D/esc_kill.c"
# (a crash once malloc returns NULL; in a sanitizer build, its report's system calls stop it)
expect_error "escape: huge malloc" "esc_malloc() \(crashed with signal 11 (Segmentation fault) while being tabulated (memory is limited to 256 MiB)\|was stopped\)" "$AXNN" mul import "$D/esc_malloc.c"
expect_error "escape: infinite loop" "tc_loop() did not finish within 0.5 s" "$AXNN" mul import "$D/tc_loop.c" --timeout 0.5
sleep 2.5 # esc_fork's child, had it existed, writes after 2 s
check_escape esc_fork
for e in write ctor fork exec kill malloc; do
    if [ -e "$AXNN_MUL_PATH/esc_$e.axmul" ]; then echo "FAIL esc_$e was stored"; fails=$((fails + 1)); fi
done
n=$(ps -eo args | grep -c '[e]sc_fork.c')
if [ "$n" -eq 0 ]; then echo "ok   no process outlived the imports"; else echo "FAIL $n processes left"; fails=$((fails + 1)); fi

# ---- interrupted imports: the process ends by the signal, its children and TMPDIR are gone
for sig in INT TERM; do
    # (a background job of a script starts with SIGINT ignored: give it the default back)
    env --default-signal=$sig "$AXNN" mul import "$D/tc_loop.c" --timeout 30 >/dev/null 2>&1 &
    pid=$!
    sleep 1
    kill -$sig $pid
    wait $pid
    rc=$?
    want=$([ $sig = INT ] && echo 130 || echo 143)
    left=$(ls -A "$TMPDIR")
    n=$(ps -eo args | grep -c '[t]c_loop.c --timeout 30')
    if [ $rc -eq "$want" ] && [ -z "$left" ] && [ "$n" -eq 0 ]; then
        echo "ok   SIG$sig during an import: exit $rc, nothing left"
    else
        echo "FAIL SIG$sig during an import: exit $rc, TMPDIR '$left', $n processes"; fails=$((fails + 1))
    fi
done
expect_error "bad timeout" "--timeout" "$AXNN" mul import "$D/tc_exact.c" --timeout 0
expect_error "no files" "give one or more" "$AXNN" mul import
expect_error "--name with two files" "--name needs exactly one file" \
    "$AXNN" mul import "$D/tc_exact.c" "$D/tc_trunc3.c" --name x
expect_error "raw without a name" "--name" "$AXNN" mul import --raw "$TMP/t.bin"
expect_error "raw with a built-in name" "bad name 'exact'" "$AXNN" mul import --raw "$TMP/t.bin" --name exact
head -c 1000 "$TMP/t.bin" >"$TMP/short.bin"
expect_error "short raw table" "short.bin" "$AXNN" mul import --raw "$TMP/short.bin" --name s
head -n 200 "$TMP/t.csv" >"$TMP/short.csv"
expect_error "short CSV table" "short.csv: 200 lines, expected 256" \
    "$AXNN" mul import --raw "$TMP/short.csv" --name s
sed '5s/^-\{0,1\}[0-9]*,/abc,/' "$TMP/t.csv" >"$TMP/word.csv"
expect_error "CSV with a word" "word.csv: line 5, value 1" "$AXNN" mul import --raw "$TMP/word.csv" --name s
expect_error "raw of unknown type" "unknown raw table format" "$AXNN" mul import --raw "$TMP/t.axmul" --name s
expect_error "export to an unknown format" "$TMP/x.txt" "$AXNN" mul export trunc:3 "$TMP/x.txt"
expect_error "export an unknown multiplier" "unknown multiplier 'nosuch'" "$AXNN" mul export nosuch "$TMP/x.bin"
expect_error "export into a missing folder" "$TMP/nowhere/x.csv" "$AXNN" mul export trunc:3 "$TMP/nowhere/x.csv"
printf 'garbage' >"$TMP/bad.axmul"
expect_error "corrupt .axmul" "bad.axmul" "$AXNN" mul show "$TMP/bad.axmul"
# a flipped byte in the table data (the end of the file)
cp "$TMP/t.axmul" "$TMP/flip.axmul"
size=$(wc -c <"$TMP/flip.axmul")
printf '\377' | dd of="$TMP/flip.axmul" bs=1 seek=$((size - 5000)) conv=notrunc 2>/dev/null
expect_error "flipped byte in .axmul" "flip.axmul: checksum mismatch" "$AXNN" mul show "$TMP/flip.axmul"
cp "$TMP/flip.axmul" "$AXNN_MUL_PATH/flipped.axmul"
expect_error "flipped byte in a stored multiplier" "flipped.axmul: checksum mismatch" "$AXNN" mul export flipped "$TMP/f.bin"
rm -f "$AXNN_MUL_PATH/flipped.axmul"

# ---- table orders and signedness: every format round-trips
for order in offset twos; do
    for ext in bin csv; do
        expect_ok "export --order $order .$ext" "wrote" "$AXNN" mul export mitchell "$TMP/m_$order.$ext" --order $order
        expect_ok "import --order $order .$ext" "imported m_${order}_$ext" \
            "$AXNN" mul import --raw "$TMP/m_$order.$ext" --name "m_${order}_$ext" --order $order
        expect_ok "re-export $order .$ext" "wrote" "$AXNN" mul export "m_${order}_$ext" "$TMP/back_$order.$ext" --order $order
        if cmp -s "$TMP/m_$order.$ext" "$TMP/back_$order.$ext"; then echo "ok   $order .$ext round trip"; else echo "FAIL $order .$ext round trip"; fails=$((fails + 1)); fi
    done
done
if cmp -s "$TMP/m_offset.bin" "$TMP/m_twos.bin"; then echo "FAIL the orders are the same file"; fails=$((fails + 1)); fi
# twos order: the first CSV line is a = 0 (all zeros for mitchell), offset's is a = -128
if head -n 1 "$TMP/m_twos.csv" | grep -qv '[1-9]' && head -n 1 "$TMP/m_offset.csv" | grep -q '[1-9]'; then
    echo "ok   twos order starts at a = 0"
else
    echo "FAIL twos order does not start at a = 0"; fails=$((fails + 1))
fi
for ext in bin csv; do
    expect_ok "export unsigned .$ext" "wrote" "$AXNN" mul export tc_umul "$TMP/u.$ext" --signedness unsigned
    expect_ok "import unsigned .$ext" "imported u_$ext" "$AXNN" mul import --raw "$TMP/u.$ext" --name "u_$ext" --signedness unsigned
    expect_ok "re-export unsigned .$ext" "wrote" "$AXNN" mul export "u_$ext" "$TMP/u2.$ext" --signedness unsigned
    if cmp -s "$TMP/u.$ext" "$TMP/u2.$ext"; then echo "ok   unsigned .$ext round trip"; else echo "FAIL unsigned .$ext round trip"; fails=$((fails + 1)); fi
done
expect_ok "unsigned metrics kept" "MAE      2.75" "$AXNN" mul show u_bin
expect_error "unsigned export of a signed multiplier" "is signed" "$AXNN" mul export trunc:3 "$TMP/x.bin" --signedness unsigned
expect_error "--order with unsigned" "--order applies to signed tables" "$AXNN" mul export tc_umul "$TMP/x.bin" --signedness unsigned --order twos
expect_error "bad --order" "--order: 'diagonal'" "$AXNN" mul export trunc:3 "$TMP/x.bin" --order diagonal
expect_error "bad --signedness" "--signedness: 'both'" "$AXNN" mul import --raw "$TMP/u.bin" --name q --signedness both
expect_error "--order for .axmul" "apply to .bin, .csv and .h" "$AXNN" mul export trunc:3 "$TMP/x.axmul" --order twos
expect_ok "help documents the orders" "(a+128)*256 + (b+128)" "$AXNN" mul --help
expect_ok "help documents twos" "(uint8)a*256 + (uint8)b" "$AXNN" mul --help

# ---- C header export: compiles and holds the same table as .bin, in both orders
for order in offset twos; do
    expect_ok "export .h --order $order" "wrote" "$AXNN" mul export mitchell "$TMP/m_$order.h" --order $order
    if command -v cc >/dev/null 2>&1; then
        cat >"$TMP/dump_$order.c" <<EOF
#include <stdio.h>
#include "m_$order.h"
int main(void)
{
    for (int i = 0; i < 256; i++)
        for (int j = 0; j < 256; j++) {
            unsigned v = (unsigned)(uint16_t)T[i][j];
            putchar((int)(v & 0xff));
            putchar((int)(v >> 8));
        }
    return 0;
}
EOF
        if cc -std=c11 -Wall -Werror -o "$TMP/dump_$order" "$TMP/dump_$order.c" && "$TMP/dump_$order" >"$TMP/h_$order.bin" &&
            cmp -s "$TMP/h_$order.bin" "$TMP/m_$order.bin"; then
            echo "ok   .h --order $order equals the .bin"
        else
            echo "FAIL .h --order $order"; fails=$((fails + 1))
        fi
    fi
done
expect_ok "export unsigned .h" "wrote" "$AXNN" mul export tc_umul "$TMP/u.h" --signedness unsigned
if grep -q 'static const uint16_t T\[256\]\[256\] = {' "$TMP/u.h"; then echo "ok   unsigned .h is uint16_t"; else echo "FAIL unsigned .h"; fails=$((fails + 1)); fi
expect_error "import of a .h" "unknown raw table format" "$AXNN" mul import --raw "$TMP/u.h" --name q

left=$(ls -A "$TMPDIR")
if [ -z "$left" ]; then echo "ok   temporary files removed"; else echo "FAIL left in TMPDIR: $left"; fails=$((fails + 1)); fi

finish
