/* libFuzzer target: multiplier files through the public axmul loaders: .axmul (safetensors),
 * raw .bin and .csv tables. Input: a mode byte (low bits % 3: 0 .axmul, 1 .bin, 2 .csv; bit 2:
 * twos order; bit 3: unsigned), then the file. */
#include "axnn/axmul.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (len < 1) return 0;
    static const char *const names[3] = {"m.axmul", "m.bin", "m.csv"};
    int mode = data[0] % 3;
    const char *p = fuzz_write(0, names[mode], data + 1, len - 1);
    axnn_mul *m = NULL;
    axnn_mul_raw_format fmt = {(data[0] >> 2) & 1 ? AXNN_MUL_ORDER_TWOS : AXNN_MUL_ORDER_OFFSET, (data[0] >> 3) & 1};
    axnn_status st = mode == 0 ? axnn_mul_load(p, &m) : axnn_mul_import_raw(p, "fz", &fmt, &m);
    if (st == AXNN_OK) axnn_mul_free(m);
    return 0;
}
