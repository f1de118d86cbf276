#!/bin/sh
# Builds axnn twice (release, and AddressSanitizer + UndefinedBehaviorSanitizer) and runs the
# whole ctest suite on both, then runs the fuzz targets briefly. Exit status is non-zero when
# anything fails.
set -e
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"
cmake -S . -B build-asan -DAXNN_SANITIZE=ON -DAXNN_BENCH=OFF >/dev/null
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j"$jobs" -E '^bench'
# Fuzzing: every libFuzzer target for AXNN_FUZZ_SECONDS seconds (default 30; 0 skips), built
# with clang in build-fuzz/ (see scripts/fuzz.sh).
if [ "${AXNN_FUZZ_SECONDS:-30}" != 0 ]; then
    sh scripts/fuzz.sh "${AXNN_FUZZ_SECONDS:-30}"
fi
