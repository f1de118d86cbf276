/* axnn/data.h - datasets in memory, their readers, and the batch loader.
 *
 * A dataset is held as uint8 images in NCHW order plus int32 labels. Readers:
 *   IDX (MNIST, Fashion-MNIST), gzip-compressed or raw;
 *   CIFAR-10 binary (data_batch_1..5.bin, test_batch.bin) and CIFAR-100 binary (train.bin,
 *   test.bin, each record coarse + fine label);
 *   Tiny ImageNet-200 (wnids.txt, train/<wnid>/images/<file>.JPEG, val/val_annotations.txt).
 * Every reader checks sizes and headers and fails with a message naming the file.
 */
#ifndef AXNN_DATA_H
#define AXNN_DATA_H

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct axnn_dataset {
    char name[64]; /* "fashion-mnist", "mnist", "cifar10", "cifar100", "tinyimagenet" */
    int64_t n;
    int c, h, w;
    int num_classes;
    uint8_t *images;     /* n * c * h * w, NCHW */
    int32_t *labels;     /* n, each in [0, num_classes) */
    char **class_names;  /* num_classes strings, or NULL */
} axnn_dataset;

void axnn_dataset_free(axnn_dataset *d);

/* IDX pair (images: magic 0x803, labels: 0x801); files may be gzip-compressed. */
axnn_status axnn_idx_load(const char *images_path, const char *labels_path, axnn_dataset *out);
/* MNIST-style folder holding {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]. */
axnn_status axnn_mnist_dir_load(const char *dir, bool train, axnn_dataset *out);
/* dir holds the .bin files (or a cifar-10-batches-bin / cifar-100-binary subfolder). */
axnn_status axnn_cifar10_load(const char *dir, bool train, axnn_dataset *out);
axnn_status axnn_cifar100_load(const char *dir, bool train, bool coarse, axnn_dataset *out);
/* dir is the tiny-imagenet-200 folder; train=false reads the labelled val split. */
axnn_status axnn_tinyimagenet_load(const char *dir, bool train, axnn_dataset *out);

/* By name: "fashion-mnist" (default dir /usr/share/datasets/fashion-mnist), "mnist", "cifar10",
 * "cifar100", "cifar100-coarse", "tinyimagenet"; dir NULL = the default location. */
axnn_status axnn_dataset_load(const char *name, const char *dir, bool train, axnn_dataset *out);
const char *axnn_dataset_default_dir(const char *name);

/* Per-channel mean and standard deviation of the pixels scaled to [0, 1]. */
void axnn_dataset_channel_stats(const axnn_dataset *d, float *mean, float *std);

/* ---- batch loader: a background thread prepares the next batch while the current one runs ---- */
typedef struct axnn_loader_cfg {
    int batch;
    bool shuffle;
    bool drop_last;
    uint64_t seed;
    int out_h, out_w;   /* images are zero-padded (centered) to this size; 0 = as stored */
    int crop_pad;       /* random crop after padding by this many pixels (0 = none) */
    bool hflip;         /* random horizontal flip */
    float mean[4], std[4]; /* normalization per channel, on [0, 1] pixels */
} axnn_loader_cfg;

typedef struct axnn_loader axnn_loader;
axnn_status axnn_loader_create(const axnn_dataset *d, const axnn_loader_cfg *cfg, axnn_loader **out);
void axnn_loader_destroy(axnn_loader *l);
/* Starts an epoch (shuffle order and augmentation depend only on seed and epoch). */
void axnn_loader_start_epoch(axnn_loader *l, int epoch);
/* Next batch: x is (n, c, out_h, out_w) float32, y is n int32. False at the end of the epoch.
 * The pointers stay valid until the next call. */
bool axnn_loader_next(axnn_loader *l, const float **x, const int32_t **y, int *n);
int64_t axnn_loader_batches(const axnn_loader *l);

#ifdef __cplusplus
}
#endif
#endif
