# axnn mul: list, show (with a gnuplot heat map), import of EvoApproxLib-style C files (good and
# broken) and raw tables, export. Multipliers go to a temporary AXNN_MUL_PATH; temporary files of
# the tool go to a private TMPDIR, which must be empty again at the end.
. "$(dirname "$0")/common.inc"
export LC_ALL=C
export AXNN_MUL_PATH="$TMP/muls"
export TMPDIR="$TMP/tmp"
mkdir -p "$TMPDIR"
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
expect_error "one bad file among good ones" "tc_segv.c" "$AXNN" mul import "$D/tc_exact.c" "$D/tc_segv.c"
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

left=$(ls -A "$TMPDIR")
if [ -z "$left" ]; then echo "ok   temporary files removed"; else echo "FAIL left in TMPDIR: $left"; fails=$((fails + 1)); fi

finish
