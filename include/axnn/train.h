/* axnn/train.h - optimizers, learning-rate schedules, checkpoints, and the train/eval loops.
 *
 * Training is seeded and deterministic for a fixed seed and thread count: the data order and
 * augmentation depend only on (seed, epoch, batch), dropout masks on (seed, step, node), and
 * every reduction is split the same way for the same number of threads. A run resumed from a
 * checkpoint continues exactly as the uninterrupted run would have.
 */
#ifndef AXNN_TRAIN_H
#define AXNN_TRAIN_H

#include "data.h"
#include "graph.h"
#include "plan.h"
#include "io.h"

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- optimizers ---- */
typedef enum axnn_opt_kind { AXNN_OPT_SGD, AXNN_OPT_ADAMW } axnn_opt_kind;

typedef struct axnn_optim_cfg {
    axnn_opt_kind kind;
    float lr;
    float momentum;     /* SGD */
    bool nesterov;      /* SGD */
    float weight_decay; /* SGD: L2 added to the gradient; AdamW: decoupled */
    float beta1, beta2, eps; /* AdamW */
    bool decay_all;     /* false: no decay on values flagged NO_DECAY (norms, biases, embeddings) */
    float clip_norm;    /* > 0: scale gradients so their global L2 norm is at most this */
} axnn_optim_cfg;

typedef struct axnn_optimizer axnn_optimizer;
/* An optimizer of the trainable parameters of plan's graph, reading the gradients of `plan` (a
 * training plan, which must outlive it). */
axnn_status axnn_optim_create(axnn_plan *plan, const axnn_optim_cfg *cfg, axnn_optimizer **out);
void axnn_optim_free(axnn_optimizer *o);
/* One update of every trainable parameter from its gradient, with learning rate lr. With
 * clip_norm > 0 returns the global gradient norm before clipping, else 0. */
float axnn_optim_step(axnn_optimizer *o, float lr, axnn_pool *pool);
int64_t axnn_optim_steps(const axnn_optimizer *o);
/* Optimizer state as named tensors ("optim.<param>.<slot>") for checkpoints. */
axnn_status axnn_optim_add_state(const axnn_optimizer *o, axnn_st_writer *w);
axnn_status axnn_optim_load_state(axnn_optimizer *o, const axnn_st_file *f);
const char *axnn_opt_kind_name(axnn_opt_kind k);

/* ---- learning-rate schedules (per step) ---- */
typedef enum axnn_sched_kind { AXNN_SCHED_CONSTANT, AXNN_SCHED_COSINE, AXNN_SCHED_MULTISTEP } axnn_sched_kind;

typedef struct axnn_sched_cfg {
    axnn_sched_kind kind;
    float warmup_epochs;   /* linear warmup from lr * warmup_start to lr */
    float warmup_start;    /* fraction of lr at step 0 (e.g. 0.01) */
    float min_lr;          /* cosine floor */
    int milestones[8];     /* multistep: epochs at which lr *= gamma */
    int nmilestones;
    float gamma;
} axnn_sched_cfg;

/* Learning rate at `step` of `total` steps, with `steps_per_epoch`. */
float axnn_sched_lr(const axnn_sched_cfg *s, float base_lr, int64_t step, int64_t total,
                    int64_t steps_per_epoch);
const char *axnn_sched_kind_name(axnn_sched_kind k);

/* ---- preprocessing shared by training and evaluation ---- */
typedef struct axnn_preproc {
    int out_h, out_w; /* zero-padded (centered) to the model's input size */
    float mean[4], std[4];
} axnn_preproc;

/* ---- evaluation ---- */
typedef struct axnn_eval_result {
    double accuracy; /* top-1, in [0, 1] */
    double loss;     /* mean cross-entropy (without label smoothing) */
    int64_t n;
    double seconds;
} axnn_eval_result;

/* Evaluates g on d in eval mode with an eval plan of `batch` images made for the call. */
axnn_status axnn_evaluate(axnn_graph *g, axnn_pool *pool, const axnn_dataset *d,
                          const axnn_preproc *pp, int batch, axnn_progress *prog,
                          axnn_eval_result *res);
/* The same on an existing plan (batches of its size; a training plan runs in eval mode for the
 * call and gets its mode back). */
axnn_status axnn_evaluate_plan(axnn_plan *p, axnn_pool *pool, const axnn_dataset *d, const axnn_preproc *pp,
                               axnn_progress *prog, axnn_eval_result *res);

/* ---- checkpoints ---- */
typedef struct axnn_ckpt_meta {
    axnn_model_info model;
    char dataset[64];
    axnn_preproc pre;
    int epoch;          /* completed epochs */
    int64_t step;       /* optimizer steps */
    uint64_t seed;
    char train_json[2048]; /* training configuration, JSON (for resume) */
    bool have_norm;        /* pre.mean/std are known */
} axnn_ckpt_meta;

/* Writes weights (PyTorch names), metadata and, when opt != NULL, optimizer state atomically. */
axnn_status axnn_checkpoint_save(const char *path, const axnn_graph *g, const axnn_ckpt_meta *m,
                                 const axnn_optimizer *opt);
/* Reads the metadata of an axnn checkpoint (AXNN_ERR_FORMAT when it has none). */
axnn_status axnn_checkpoint_read_meta(const axnn_st_file *f, axnn_ckpt_meta *m);

/* ---- training ---- */
typedef struct axnn_train_cfg {
    int epochs, batch, threads;
    uint64_t seed;
    axnn_optim_cfg opt;
    axnn_sched_cfg sched;
    int crop_pad;  /* random-crop padding (0 = off) */
    bool hflip;
    int eval_every; /* evaluate on the test set every N epochs (0 = only at the end) */
    const char *out_dir;      /* checkpoint.safetensors (resumable), model.safetensors */
    const char *metrics_path; /* JSON lines, one per epoch (NULL = <out_dir>/metrics.jsonl) */
    const char *dataset_name;
    const char *config_json;  /* stored in checkpoints as metadata 'train' (may be NULL) */
    bool resume;
    int stop_after; /* > 0: return after this many epochs of this call (the run stays resumable) */
} axnn_train_cfg;

typedef struct axnn_train_result {
    int epochs_done;
    double train_loss, train_acc;
    axnn_eval_result test;
    double seconds, images_per_second;
} axnn_train_result;

/* Trains g on `train`, evaluating on `test` (may be NULL). With cfg->resume and an existing
 * <out_dir>/checkpoint.safetensors, continues from it. */
axnn_status axnn_train(axnn_graph *g, const axnn_dataset *train, const axnn_dataset *test,
                       const axnn_preproc *pp, const axnn_train_cfg *cfg, axnn_progress *prog,
                       axnn_train_result *res);

#ifdef __cplusplus
}
#endif
#endif
