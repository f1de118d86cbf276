/* libFuzzer target: IDX image and label files, raw or gzip. Input: one mode byte, then the
 * image file, "\nLABELS\n", the label file. Mode bit 0 / bit 1 gzip-compress the image / label
 * part before writing it (so the fuzzer mutates the IDX content inside a valid gzip stream);
 * without them the bytes are written as they are (a mutated gzip stream is read as such when it
 * keeps its signature). */
#include "axnn/data.h"
#include "fuzz_util.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Writes data gzip-compressed (level 1) to the slot's file. */
static const char *write_gz(int slot, const char *name, const uint8_t *data, size_t len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) abort();
    size_t cap = deflateBound(&z, (uLong)len) + 64;
    uint8_t *out = malloc(cap);
    if (!out) abort();
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) abort();
    const char *p = fuzz_write(slot, name, out, cap - z.avail_out);
    deflateEnd(&z);
    free(out);
    return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (len < 1) return 0;
    int mode = data[0];
    size_t ilen, llen;
    const uint8_t *lab;
    fuzz_split(data + 1, len - 1, "\nLABELS\n", &ilen, &lab, &llen);
    const char *ip =
        mode & 1 ? write_gz(0, "img", data + 1, ilen) : fuzz_write(0, "img", data + 1, ilen);
    const char *lp = mode & 2 ? write_gz(1, "lab", lab ? lab : data, llen)
                              : fuzz_write(1, "lab", lab ? lab : data, llen);
    axnn_dataset d;
    if (axnn_idx_load(ip, lp, &d) == AXNN_OK) {
        for (int64_t i = 0; i < d.n; i++)
            if (d.labels[i] < 0 || d.labels[i] >= d.num_classes) abort();
        axnn_dataset_free(&d);
    }
    return 0;
}
