/* libFuzzer target: the Tiny ImageNet val split: wnids.txt, val/val_annotations.txt and one
 * image val/images/a.JPEG. Input: wnids, "\nANNOT\n", annotations, "\nJPEG\n", the JPEG. */
#include "axnn/data.h"
#include "fuzz_util.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    size_t wlen, alen, jlen, rlen;
    const uint8_t *rest, *jpeg;
    fuzz_split(data, len, "\nANNOT\n", &wlen, &rest, &rlen);
    if (!rest) rest = data + len;
    fuzz_split(rest, rlen, "\nJPEG\n", &alen, &jpeg, &jlen);
    const char *dir = fuzz_mkdir(0, "tin");
    fuzz_mkdir(1, "tin/val/images");
    fuzz_write(2, "tin/wnids.txt", data, wlen);
    fuzz_write(3, "tin/val/val_annotations.txt", rest, alen);
    fuzz_write(4, "tin/val/images/a.JPEG", jpeg ? jpeg : data, jlen);
    axnn_dataset d;
    if (axnn_tinyimagenet_load(dir, false, &d) == AXNN_OK) {
        for (int64_t i = 0; i < d.n; i++)
            if (d.labels[i] < 0 || d.labels[i] >= d.num_classes) abort();
        axnn_dataset_free(&d);
    }
    return 0;
}
