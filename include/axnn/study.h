/* axnn/study.h - the AxMoE characterization study: topologies x multipliers, before and after
 * approximation-aware retraining, with a report (src/study/study.c has the essay).
 *
 * Layout of the output folder:
 *   study.json                 the configuration (a resumed study must match it)
 *   models/base.safetensors    the dense model trained from scratch (or given with base_path)
 *   models/<topology>.safetensors   each topology after its float fine-tuning
 *   cells/<topology>/<multiplier>.json   one finished cell, written atomically as it finishes
 *   report.md, results.csv, results.json, accuracy_by_multiplier.png, accuracy_vs_power.png
 *   shard.json                 a shard's assignment (axnn study --shard K/N), see src/study/shard.c
 * Restarting with the same folder redoes nothing that was saved.
 */
#ifndef AXNN_STUDY_H
#define AXNN_STUDY_H

#include "moe.h"
#include "quant.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AXNN_STUDY_MAX_MULS 32
#define AXNN_STUDY_MAX_TOPOS 4

typedef struct axnn_study_cfg {
    const char *arch, *data, *data_dir, *out;
    const char *topologies; /* "dense,hard,soft,cluster" */
    const char *muls;       /* comma-separated multiplier names (exact included) */
    const char *base_path;  /* a trained dense checkpoint to start from, or NULL: train one */
    int size;               /* model input size (0: 32 for 28x28 data, else the image size) */
    /* budgets */
    int base_epochs, base_images;  /* dense training from scratch (images per epoch, 0 = all) */
    int moe_epochs, moe_images;    /* float fine-tuning of the MoE topologies */
    float base_lr, moe_lr;         /* learning rates of those two trainings */
    int calib;                     /* calibration images */
    int retrain_epochs, retrain_images; /* approximation-aware retraining per cell */
    int eval_images;               /* test images per evaluation (0 = all) */
    int cluster_images;            /* k-means on this many training images' gateway (and gate)
                                      features */
    int bn_images;                 /* after retraining, BatchNorm statistics re-estimated on this
                                      many training images (0 = off) */
    /* retraining recipe */
    float lr, wd, momentum;
    int batch;
    axnn_grad_mode grad;           /* STE (default) or the table-derived gradient */
    const char *table_grad_muls;   /* also retrain these with the other gradient, dense only
                                      (the STE vs table comparison); NULL = none */
    axnn_calib_method calib_method;
    axnn_moe_cfg moe;
    int threads;
    uint64_t seed;
    int shard_k, shard_n; /* run only shard k (1-based) of n; n = 0: the whole study */
} axnn_study_cfg;

void axnn_study_defaults(axnn_study_cfg *c);
/* Runs (or resumes) the study; `prog` shows one bar for the whole grid (may be NULL). On
 * success, report.md is in cfg->out. */
axnn_status axnn_study_run(const axnn_study_cfg *cfg, axnn_progress *prog);
/* Builds one study folder `out` (study.json, cells/, the report) from the folders of its shards.
 * They must hold the same study.json and grid, and distinct shards of the same N; a missing
 * shard or cell is a warning and shows as "-". */
axnn_status axnn_study_merge(const char *const *dirs, int ndirs, const char *out);

#ifdef __cplusplus
}
#endif
#endif
