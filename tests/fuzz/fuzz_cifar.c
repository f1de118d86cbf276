/* libFuzzer target: CIFAR-10 / CIFAR-100 binary files and their class-name files. Input: a mode
 * byte (bit 0: CIFAR-100, bit 1: coarse labels), the records, "\nNAMES\n", the names file. */
#include "axnn/data.h"
#include "fuzz_util.h"

#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (len < 1) return 0;
    int mode = data[0];
    size_t rlen, nlen;
    const uint8_t *names;
    fuzz_split(data + 1, len - 1, "\nNAMES\n", &rlen, &names, &nlen);
    const char *dir = fuzz_mkdir(0, "cifar");
    bool c100 = mode & 1, coarse = mode & 2;
    fuzz_write(1, c100 ? "cifar/test.bin" : "cifar/test_batch.bin", data + 1, rlen);
    const char *nf = !c100    ? "cifar/batches.meta.txt"
                     : coarse ? "cifar/coarse_label_names.txt"
                              : "cifar/fine_label_names.txt";
    fuzz_write(2, nf, names ? names : data, nlen);
    axnn_dataset d;
    axnn_status st =
        c100 ? axnn_cifar100_load(dir, false, coarse, &d) : axnn_cifar10_load(dir, false, &d);
    if (st == AXNN_OK) {
        for (int64_t i = 0; i < d.n; i++)
            if (d.labels[i] < 0 || d.labels[i] >= d.num_classes) abort();
        for (int c = 0; d.class_names && c < d.num_classes; c++)
            if (!d.class_names[c]) abort();
        axnn_dataset_free(&d);
    }
    return 0;
}
