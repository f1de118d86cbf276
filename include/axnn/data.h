/* axnn/data.h - datasets in memory, their readers, and the batch loader.
 *
 * A dataset is held as uint8 images in NCHW order plus int32 labels. Readers:
 *   IDX (MNIST, Fashion-MNIST), gzip-compressed or raw;
 *   CIFAR-10 binary (data_batch_1..5.bin, test_batch.bin) and CIFAR-100 binary (train.bin,
 *   test.bin, each record coarse + fine label);
 *   Tiny ImageNet-200 (wnids.txt, train/<wnid>/images/<file>.JPEG, val/val_annotations.txt).
 * Every reader checks sizes and headers and fails with a message naming the file. Readers open
 * regular files only (a folder, a device, a FIFO is refused at once, see axnn_open_regular),
 * and check the sizes a header announces against the file size before allocating.
 * A dataset owns its arrays (allocated with malloc); axnn_dataset_free releases them.
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
    uint8_t *images;    /* n * c * h * w, NCHW */
    int32_t *labels;    /* n, each in [0, num_classes) */
    char **class_names; /* num_classes strings, or NULL */
} axnn_dataset;

/* Allocates zeroed images and labels for n images of c x h x w; class_names stays NULL.
 * Readers use it; so can callers that build a dataset in memory (subsets, tests). */
axnn_status axnn_dataset_alloc(axnn_dataset *d, const char *name, int64_t n, int c, int h, int w,
                               int num_classes);
/* Frees the arrays and zeroes *d; safe on a zeroed or already freed dataset. */
void axnn_dataset_free(axnn_dataset *d);

/* IDX pair (images: magic 0x803, labels: 0x801); files may be gzip-compressed.
 * num_classes = largest label + 1. */
axnn_status axnn_idx_load(const char *images_path, const char *labels_path, axnn_dataset *out);
/* MNIST-style folder holding {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]; labels must be
 * below 10 and num_classes is 10. */
axnn_status axnn_mnist_dir_load(const char *dir, bool train, axnn_dataset *out);
/* dir holds the .bin files (or a cifar-10-batches-bin / cifar-100-binary subfolder). Class names
 * come from batches.meta.txt / {fine,coarse}_label_names.txt when present. */
axnn_status axnn_cifar10_load(const char *dir, bool train, axnn_dataset *out);
axnn_status axnn_cifar100_load(const char *dir, bool train, bool coarse, axnn_dataset *out);
/* dir is the tiny-imagenet-200 folder; train=false reads the labelled val split. Images are
 * 64x64 RGB (grayscale JPEGs are expanded to 3 channels); classes follow wnids.txt. */
axnn_status axnn_tinyimagenet_load(const char *dir, bool train, axnn_dataset *out);
/* Decodes one in-memory Tiny ImageNet JPEG (64x64, gray or RGB) into dst, 3 planes of 64x64;
 * any other size or a corrupt or truncated JPEG is AXNN_ERR_FORMAT naming `name`. */
axnn_status axnn_jpeg64_decode(const char *name, const void *buf, size_t len, uint8_t *dst);

/* By name; dir NULL = the default location:
 *   fashion-mnist    /usr/share/datasets/fashion-mnist  (Debian package dataset-fashion-mnist)
 *   mnist            /usr/share/datasets/mnist
 *   cifar10          ./data/cifar-10-batches-bin
 *   cifar100         ./data/cifar-100-binary   (100 fine classes)
 *   cifar100-coarse  ./data/cifar-100-binary   (20 coarse classes)
 *   tinyimagenet     ./data/tiny-imagenet-200
 * A missing folder or an unknown name is an error whose message says what to do. */
axnn_status axnn_dataset_load(const char *name, const char *dir, bool train, axnn_dataset *out);
const char *axnn_dataset_default_dir(const char *name); /* NULL for an unknown name */
const char *const *axnn_dataset_names(void);            /* NULL-terminated */

/* Per-channel mean and standard deviation of the pixels scaled to [0, 1]. */
void axnn_dataset_channel_stats(const axnn_dataset *d, float *mean, float *std);

/* ---- batch loader: a background thread prepares the next batch while the current one runs ----
 * Per image, in this order: pixels / 255; zero-pad (centered) to out_h x out_w; if crop_pad > 0,
 * zero-pad crop_pad more on each side and take a random out_h x out_w crop; if hflip, flip with
 * probability 1/2; normalize (x - mean[c]) / std[c]. Padding is black in pixel space, before
 * normalization (as torchvision's Pad / RandomCrop followed by Normalize). The shuffle order
 * depends only on (seed, epoch) and the augmentation of a batch only on (seed, epoch, batch index),
 * never on timing. */
typedef struct axnn_loader_cfg {
    int batch;
    bool shuffle;
    bool drop_last;
    uint64_t seed;
    int out_h, out_w;      /* images are zero-padded (centered) to this size; 0 = as stored */
    int crop_pad;          /* random crop after padding by this many pixels (0 = none) */
    bool hflip;            /* random horizontal flip */
    float mean[4], std[4]; /* normalization per channel, on [0, 1] pixels; std 0 means 1, so a
                              zeroed cfg leaves pixels in [0, 1] */
} axnn_loader_cfg;

typedef struct axnn_loader axnn_loader;
/* The dataset must outlive the loader (it is read, not copied). Fails on batch < 1, an empty
 * dataset, c > 4, out_h < h or out_w < w, crop_pad < 0, or std < 0. */
axnn_status axnn_loader_create(const axnn_dataset *d, const axnn_loader_cfg *cfg,
                               axnn_loader **out);
/* Stops the thread (also in the middle of an epoch) and frees everything. NULL is fine. */
void axnn_loader_destroy(axnn_loader *l);
/* Starts epoch `epoch` (abandoning any unfinished one); the thread begins preparing batch 0. */
void axnn_loader_start_epoch(axnn_loader *l, int epoch);
/* Next batch, blocking until it is ready: x is (n, c, out_h, out_w) float32, y is n int32.
 * False at the end of the epoch, or when no epoch was started. The pointers stay valid until the
 * next call to next, start_epoch or destroy. */
bool axnn_loader_next(axnn_loader *l, const float **x, const int32_t **y, int *n);
/* Batches per epoch: ceil(n / batch), or floor(n / batch) with drop_last. */
int64_t axnn_loader_batches(const axnn_loader *l);

#ifdef __cplusplus
}
#endif
#endif
