/* Datasets by name, their default folders, allocation and per-channel statistics.
 *
 * A dataset in memory is n uint8 images in NCHW order plus n int32 labels; the readers in idx.c,
 * cifar.c and tinyimagenet.c fill one. This file maps a short name ("fashion-mnist", "cifar10",
 * ...) to a reader and a default folder, so that the CLI and the experiment drivers can say
 * `--dataset cifar10` and nothing more. Fashion-MNIST comes from a Debian package and lives under
 * /usr/share/datasets; the others must be downloaded by hand into ./data, so a missing folder is
 * reported together with where to get the files.
 *
 * Channel statistics accumulate integer sums of pixels and squared pixels per channel (exact in
 * uint64 for any realistic dataset), then form mean and population standard deviation of the
 * pixels scaled to [0, 1] in double.
 */
#include "axnn/data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct source {
    const char *name;
    const char *dir;
    const char *hint; /* where to get it, for a missing folder */
} source;

static const source sources[] = {
    {"fashion-mnist", "/usr/share/datasets/fashion-mnist",
     "install the Debian package dataset-fashion-mnist or pass the folder"},
    {"mnist", "/usr/share/datasets/mnist", "pass the folder holding the MNIST IDX files"},
    {"cifar10", "./data/cifar-10-batches-bin",
     "download the CIFAR-10 binary version (cifar-10-binary.tar.gz) from "
     "https://www.cs.toronto.edu/~kriz/cifar.html and unpack it into ./data"},
    {"cifar100", "./data/cifar-100-binary",
     "download the CIFAR-100 binary version (cifar-100-binary.tar.gz) from "
     "https://www.cs.toronto.edu/~kriz/cifar.html and unpack it into ./data"},
    {"cifar100-coarse", "./data/cifar-100-binary",
     "download the CIFAR-100 binary version (cifar-100-binary.tar.gz) from "
     "https://www.cs.toronto.edu/~kriz/cifar.html and unpack it into ./data"},
    {"tinyimagenet", "./data/tiny-imagenet-200",
     "download tiny-imagenet-200.zip from http://cs231n.stanford.edu/tiny-imagenet-200.zip and "
     "unzip it into ./data"},
};
#define NSOURCES (int)(sizeof sources / sizeof sources[0])

static const char *const names[] = {"fashion-mnist",   "mnist",        "cifar10", "cifar100",
                                    "cifar100-coarse", "tinyimagenet", NULL};

static const char *const fashion_classes[] = {"T-shirt/top", "Trouser",   "Pullover", "Dress",
                                              "Coat",        "Sandal",    "Shirt",    "Sneaker",
                                              "Bag",         "Ankle boot"};

const char *const *axnn_dataset_names(void)
{
    return names;
}

static const source *find_source(const char *name)
{
    for (int i = 0; i < NSOURCES; i++)
        if (!strcmp(sources[i].name, name)) return &sources[i];
    return NULL;
}

const char *axnn_dataset_default_dir(const char *name)
{
    const source *s = name ? find_source(name) : NULL;
    return s ? s->dir : NULL;
}

axnn_status axnn_dataset_alloc(axnn_dataset *d, const char *name, int64_t n, int c, int h, int w,
                               int num_classes)
{
    memset(d, 0, sizeof *d);
    if (n < 0 || c < 1 || h < 1 || w < 1)
        return axnn_error(AXNN_ERR_ARG, "bad dataset shape %lld x %d x %d x %d", (long long)n, c, h,
                          w);
    snprintf(d->name, sizeof d->name, "%s", name ? name : "");
    d->n = n;
    d->c = c;
    d->h = h;
    d->w = w;
    d->num_classes = num_classes;
    size_t pixels = (size_t)n * (size_t)c * (size_t)h * (size_t)w;
    d->images = calloc(pixels ? pixels : 1, 1);
    d->labels = calloc(n ? (size_t)n : 1, sizeof *d->labels);
    if (!d->images || !d->labels) {
        axnn_dataset_free(d);
        return axnn_error(AXNN_ERR_NOMEM, "out of memory for %lld images of %dx%dx%d", (long long)n,
                          c, h, w);
    }
    return AXNN_OK;
}

void axnn_dataset_free(axnn_dataset *d)
{
    if (!d) return;
    if (d->class_names)
        for (int i = 0; i < d->num_classes; i++) free(d->class_names[i]);
    free(d->class_names);
    free(d->images);
    free(d->labels);
    memset(d, 0, sizeof *d);
}

static axnn_status set_fashion_names(axnn_dataset *d)
{
    d->class_names = calloc(10, sizeof *d->class_names);
    if (!d->class_names) return axnn_error(AXNN_ERR_NOMEM, "out of memory");
    for (int i = 0; i < 10; i++)
        if (!(d->class_names[i] = strdup(fashion_classes[i])))
            return axnn_error(AXNN_ERR_NOMEM, "out of memory");
    return AXNN_OK;
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static axnn_status unknown_name(const char *name)
{
    return axnn_error(AXNN_ERR_ARG,
                      "unknown dataset '%s' (known: fashion-mnist, mnist, cifar10, cifar100, "
                      "cifar100-coarse, tinyimagenet)",
                      name ? name : "(null)");
}

static axnn_status load_by_name(const char *name, const char *dir, bool train, axnn_dataset *out)
{
    if (!strcmp(name, "fashion-mnist") || !strcmp(name, "mnist"))
        return axnn_mnist_dir_load(dir, train, out);
    if (!strcmp(name, "cifar10")) return axnn_cifar10_load(dir, train, out);
    if (!strcmp(name, "cifar100")) return axnn_cifar100_load(dir, train, false, out);
    if (!strcmp(name, "cifar100-coarse")) return axnn_cifar100_load(dir, train, true, out);
    return axnn_tinyimagenet_load(dir, train, out);
}

axnn_status axnn_dataset_load(const char *name, const char *dir, bool train, axnn_dataset *out)
{
    memset(out, 0, sizeof *out);
    const source *s = name ? find_source(name) : NULL;
    if (!s) return unknown_name(name);
    if (!dir) dir = s->dir;
    if (!is_dir(dir))
        return axnn_error(AXNN_ERR_IO, "dataset folder %s not found (%s): %s", dir, name, s->hint);
    axnn_status st = load_by_name(name, dir, train, out);
    if (st) return st;
    snprintf(out->name, sizeof out->name, "%s", name);
    if (!strcmp(name, "fashion-mnist") && !out->class_names && (st = set_fashion_names(out)))
        axnn_dataset_free(out);
    return st;
}

void axnn_dataset_channel_stats(const axnn_dataset *d, float *mean, float *std)
{
    int64_t plane = (int64_t)d->h * d->w;
    for (int c = 0; c < d->c; c++) {
        uint64_t sum = 0, sumsq = 0;
        for (int64_t i = 0; i < d->n; i++) {
            const uint8_t *p = d->images + (i * d->c + c) * plane;
            for (int64_t k = 0; k < plane; k++) {
                sum += p[k];
                sumsq += (uint64_t)p[k] * p[k];
            }
        }
        double count = (double)d->n * (double)plane;
        double m = count > 0 ? (double)sum / count : 0.0;
        double var = count > 0 ? (double)sumsq / count - m * m : 0.0;
        mean[c] = (float)(m / 255.0);
        std[c] = (float)(sqrt(var > 0 ? var : 0) / 255.0);
    }
}
