/* Internal pieces of the study (src/study): the grid's cells, training, and the report. */
#ifndef AXNN_STUDY_INTERNAL_H
#define AXNN_STUDY_INTERNAL_H

#include "axnn/study.h"

struct cJSON;

#define STUDY_MAX_UNITS 4

/* The grid: topologies x multipliers, plus the gradient-comparison cells (dense only). */
typedef struct study_grid {
    char topos[AXNN_STUDY_MAX_TOPOS][16];
    axnn_moe_kind kinds[AXNN_STUDY_MAX_TOPOS];
    int ntopos;
    char muls[AXNN_STUDY_MAX_MULS][128], tmuls[AXNN_STUDY_MAX_MULS][128];
    int nmuls, ntmuls;
    axnn_grad_mode grad; /* the main gradient; the comparison cells use the other one */
} study_grid;

/* Parses and checks the lists (unknown topology, duplicates, two multipliers that would share a
 * cell file), naming the flag. */
axnn_status study_grid_parse(study_grid *g, const char *topologies, const char *muls, const char *tmuls,
                             axnn_grad_mode grad);

/* The cells in run order: for each topology its multipliers, then (dense only) the comparison
 * cells. Cell i is (topology *t, multiplier *m), m >= nmuls naming tmuls[m - nmuls]. */
int study_grid_ncells(const study_grid *g);
void study_grid_cell(const study_grid *g, int i, int *t, int *m);
/* Index of (t, m) in run order, or -1 when the grid has no such cell. */
int study_grid_index(const study_grid *g, int t, int m);
const char *study_grid_mul(const study_grid *g, int m);
axnn_grad_mode study_grid_grad(const study_grid *g, int m);
/* "cells/<topology>/<multiplier><suffix>.json", relative to the study folder. */
void study_grid_cell_path(const study_grid *g, int t, int m, char *out, size_t n);

/* Shards (axnn study --shard K/N): cell i of C belongs to shard floor(i * N / C) + 1, i.e. each
 * shard gets a contiguous block of the run order, so it fine-tunes as few topologies as it can.
 * k is 1-based; n = 0 means the whole study. */
bool study_shard_owns(const study_grid *g, int k, int n, int i);
/* Checks or writes <out>/shard.json before any work (a folder holds one shard of one grid, or
 * a whole study, for good). */
axnn_status study_shard_prepare(const char *out, const study_grid *g, int k, int n);
/* <dir>/shard.json parsed into *o, with its shard k of n; a missing file gives AXNN_OK, *o NULL. */
axnn_status study_shard_read(const char *dir, struct cJSON **o, int *k, int *n);
/* Whether two shard files hold the same grid. */
bool study_shard_same_grid(const struct cJSON *a, const struct cJSON *b);
/* Records what the merge needs (architecture, M_base, and, when done, the wall time). */
axnn_status study_shard_record(const char *out, const char *arch, double base_macs, double seconds);

/* One topology x multiplier cell (grad "ste" or "table"). */
typedef struct study_cell {
    char topo[16], mul[128], grad[8];
    bool have_before, have_after;
    double acc_before, acc_after;
    double static_macs, eff_before, eff_after, f_apx, pnorm_before, pnorm_after;
    double p_mul, p_exact;
    bool p_est;
    int nunits, experts;
    char unit_names[STUDY_MAX_UNITS][64];
    double loads[STUDY_MAX_UNITS][AXNN_MOE_MAX_EXPERTS]; /* after retraining (test set) */
    double retrain_seconds;
} study_cell;

/* Progress over the whole grid, in work units (a test image = 1, a training image = 2, each
 * times the topology's cost relative to dense: ResNet-20 trains at about half its eval rate). */
typedef struct study_progress {
    axnn_progress *p;
    int64_t done, total;
    char status[160];
} study_progress;
void study_progress_add(study_progress *sp, int64_t units);

typedef struct study_train {
    int epochs, images, batch;
    float lr, wd, momentum;
    uint64_t seed;
    double unit_cost; /* progress units per training image */
    int bn_images;    /* > 0: re-estimate BatchNorm statistics on this many images afterwards */
} study_train;

/* SGD (Nesterov momentum) with a cosine schedule on the first t->images training images. */
axnn_status study_finetune(axnn_plan *p, axnn_pool *pool, const axnn_dataset *train, const axnn_preproc *pp,
                           const study_train *t, study_progress *sp);

axnn_status study_cell_save(const char *path, const study_cell *c);
/* Reads and validates a cell file: it must name this topology, multiplier and gradient, with
 * accuracies in [0, 1] and finite, non-negative costs. A missing file gives AXNN_OK with *c
 * zeroed (nothing done); a file that fails validation gives AXNN_ERR_FORMAT (*c zeroed, the
 * error names the file and the problem: the caller recomputes the cell); a path that is not a
 * regular file, or unreadable, gives AXNN_ERR_IO. */
axnn_status study_cell_load(const char *path, const char *topo, const char *mul, const char *grad, study_cell *c);
/* The same with a warning line for a bad file (which then reads as missing). */
axnn_status study_cell_load_warn(const char *path, const char *topo, const char *mul, const char *grad,
                                 study_cell *c);

/* Reads a small regular file whole (NUL-terminated; free() it). A missing file gives AXNN_OK
 * with *out = NULL; anything but a regular file of at most `max` bytes is an error. */
axnn_status study_read_file(const char *path, size_t max, char **out);
/* Checks that `dir` can hold the study's outputs before any work: creates it (and its parents)
 * if needed; refuses a file, a path under a file, or a folder that cannot be written. */
axnn_status study_check_out(const char *dir);
/* s as a JSON string literal, quotes included (escaped by cJSON). */
void study_json_quote(char *dst, size_t n, const char *s);
/* mkdir -p, naming a part of the path that is a file */
axnn_status study_mkdir_p(const char *dir);

typedef struct study_report {
    const axnn_study_cfg *cfg;
    const char *arch, *data;
    char topos[AXNN_STUDY_MAX_TOPOS][16];
    int ntopos;
    char muls[AXNN_STUDY_MAX_MULS][128];
    int nmuls;
    double float_acc[AXNN_STUDY_MAX_TOPOS]; /* each topology in float */
    double base_macs;
    const study_cell *cells; /* ntopos * nmuls, [t * nmuls + m] */
    const study_cell *extra; /* table-gradient comparison cells */
    int nextra;
    double seconds;
    int nshards; /* > 0: merged from this many shards (seconds summed over them) */
} study_report;

axnn_status study_write_report(const study_report *r);

#endif
