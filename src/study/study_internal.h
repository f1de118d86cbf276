/* Internal pieces of the study (src/study): the grid's cells, training, and the report. */
#ifndef AXNN_STUDY_INTERNAL_H
#define AXNN_STUDY_INTERNAL_H

#include "axnn/study.h"

#define STUDY_MAX_UNITS 4

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
/* AXNN_ERR_IO when the file does not exist (then *c is zeroed). */
axnn_status study_cell_load(const char *path, study_cell *c);

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
} study_report;

axnn_status study_write_report(const study_report *r);

#endif
