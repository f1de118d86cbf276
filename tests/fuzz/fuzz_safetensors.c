/* libFuzzer target: safetensors files and axnn checkpoint metadata. The input is the whole file;
 * whatever axnn_st_read accepts is then checked for finiteness, read as checkpoint metadata and
 * converted tensor by tensor, touching every byte the reader hands out. */
#include "axnn/io.h"
#include "axnn/train.h"
#include "fuzz_util.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    const char *p = fuzz_write(0, "x.safetensors", data, len);
    axnn_st_file *f;
    if (axnn_st_read(p, &f) != AXNN_OK) return 0;
    (void)axnn_st_check_finite(f);
    axnn_ckpt_meta m;
    (void)axnn_checkpoint_read_meta(f, &m);
    for (int i = 0; i < f->ntensors; i++) {
        const axnn_st_tensor *t = &f->tensors[i];
        size_t es = axnn_st_dtype_size(t->dtype), n = es ? t->nbytes / es : 0;
        float *v = malloc((n ? n : 1) * sizeof *v);
        int64_t *w = malloc((n ? n : 1) * sizeof *w);
        if (v && w) {
            axnn_st_to_f32(t, v);
            axnn_st_to_i64(t, w);
        }
        free(v);
        free(w);
        if (axnn_st_find(f, t->name) != t) abort(); /* lookup must find every tensor */
    }
    axnn_st_close(f);
    return 0;
}
