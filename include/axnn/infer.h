/* axnn/infer.h - the inference API: open a model, preprocess images, choose a numeric mode,
 * classify.
 *
 *   axnn_model *m;
 *   if (axnn_model_open("resnet20.safetensors", NULL, &m)) die(axnn_last_error());
 *   float *x = malloc(axnn_model_input_floats(m) * sizeof(float));
 *   axnn_model_preprocess(m, pixels, 28, 28, AXNN_LAYOUT_CHW, x);   // pad + normalize
 *   axnn_model_set_multiplier(m, "mitchell", NULL);                // int8 with a multiplier
 *   axnn_model_calibrate(m, calib_images, 64);                     // activation scales
 *   axnn_model_run(m, x, 1, logits);
 *   axnn_model_close(m);
 *
 * Every call returns an axnn_status (axnn_last_error() has the one-line message) and is safe
 * to call from one thread at a time per model. A model holds its graph, an eval plan for the
 * largest batch run so far and a thread pool.
 */
#ifndef AXNN_INFER_H
#define AXNN_INFER_H

#include "base.h"
#include "graph.h"
#include "train.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct axnn_model axnn_model;

/* Pixel order of the images given to axnn_model_preprocess: planes (the dataset readers'
 * layout) or interleaved (a decoded JPEG or PNG). */
typedef enum axnn_layout { AXNN_LAYOUT_CHW, AXNN_LAYOUT_HWC } axnn_layout;

typedef struct axnn_open_cfg {
    const char *arch;     /* architecture when the file does not say it (a plain PyTorch
                             safetensors export): "resnet20", "cifar100_vgg11_bn", ... */
    int classes;          /* plain exports: outputs (0: 10, or the cifar prefix's) */
    int in_channels;      /* plain exports: input channels (0: 3) */
    int size;             /* plain exports: input height and width (0: 32) */
    const float *mean;    /* plain exports: per-channel normalization (NULL: none, i.e. 0) */
    const float *std;     /* (NULL: 1) */
    int threads;          /* 0: all cores */
} axnn_open_cfg;

/* Opens an axnn checkpoint (its metadata gives the architecture and the normalization) or a
 * plain PyTorch safetensors export (cfg->arch needed). cfg may be NULL for checkpoints. */
axnn_status axnn_model_open(const char *path, const axnn_open_cfg *cfg, axnn_model **out);
void axnn_model_close(axnn_model *m);
/* What axnn_model_open reads: the graph with its weights, and the metadata (for a plain export:
 * the cfg's; meta->have_norm tells whether mean and std were given). */
axnn_status axnn_model_load(const char *path, const axnn_open_cfg *cfg, axnn_graph **g, axnn_ckpt_meta *meta);

const axnn_model_info *axnn_model_describe(const axnn_model *m); /* arch, input shape, classes */
axnn_graph *axnn_model_graph(axnn_model *m); /* for the full library API */
/* Floats of one preprocessed image (C * H * W of the model's input). */
size_t axnn_model_input_floats(const axnn_model *m);

/* One h x w image of the model's channel count, 8-bit pixels, to the model's input: scaled
 * to [0, 1], zero-padded (centered) to the input size, normalized with the model's mean and
 * std, exactly as the dataset loader does for training and evaluation. */
axnn_status axnn_model_preprocess(const axnn_model *m, const uint8_t *pixels, int h, int w, axnn_layout layout,
                                  float *out);

/* Numeric mode: mul NULL = float; "exact" = int8; any multiplier name (axnn/axmul.h) = int8 with
 * its product table on the layers in `layers` (comma-separated names or globs, NULL = all conv
 * and linear layers; the others exact int8). Int8 modes need calibration before a run. */
axnn_status axnn_model_set_multiplier(axnn_model *m, const char *mul, const char *layers);
/* Activation scales (max method) from n preprocessed images, (n, C, H, W). */
axnn_status axnn_model_calibrate(axnn_model *m, const float *x, int n);

/* Logits (n, classes) of n preprocessed images. */
axnn_status axnn_model_run(axnn_model *m, const float *x, int n, float *logits);
/* The index of the largest logit of each of n images (labels: n ints). */
axnn_status axnn_model_classify(axnn_model *m, const float *x, int n, int *labels);

#ifdef __cplusplus
}
#endif
#endif
