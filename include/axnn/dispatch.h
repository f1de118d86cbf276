/* axnn/dispatch.h - PERTINENCE: input-adaptive dispatch over a model zoo (docs/dispatch.md).
 *
 * A zoo of models of increasing cost is profiled once: for every sample of the train,
 * validation and test splits, each model's prediction, correctness and softmax confidence,
 * plus the pooled penultimate features of one model (the extractor). A dispatcher is one
 * linear layer on those cached features with one output per zoo model; it is trained with a
 * penalty-weighted cross-entropy whose settings NSGA-II searches for the Pareto front of system
 * accuracy against mean MACs per input.
 *
 * Everything here but the zoo builder (axnn_zoo_build, src/dispatch/zoo_run.c) is pure
 * computation over arrays: no graph, no files except the zoo and search-state readers/writers.
 * Shapes: n samples, m zoo models (sorted by cost, cheapest first), d feature dimensions.
 */
#ifndef AXNN_DISPATCH_H
#define AXNN_DISPATCH_H

#include "base.h"
#include "data.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- NSGA-II (Deb, Pratap, Agarwal, Meyarivan 2002), every objective minimized ---- */

/* Non-dominated sorting of n points of m objectives f (n x m, row-major): rank[i] = index of
 * i's front (0 = non-dominated). Returns the number of fronts. */
int axnn_nd_sort(const double *f, int n, int m, int *rank);
/* Crowding distance of the cnt points idx[] (one front) of f: infinite at each objective's
 * extremes, else the sum over objectives of the normalized gap between the two neighbours.
 * crowd[j] belongs to idx[j]. */
void axnn_crowding(const double *f, int m, const int *idx, int cnt, double *crowd);
/* Simulated binary crossover with Deb's bounded spread: with probability pc the pair (p1, p2)
 * of n genes in [lo, hi] makes children c1, c2 (each gene crossed with probability 1/2), else
 * copies. Children stay in [lo, hi]. */
void axnn_sbx(const double *p1, const double *p2, double *c1, double *c2, const double *lo,
              const double *hi, int n, double eta, double pc, axnn_rng *r);
/* Polynomial mutation (Deb's bounded variant): each gene with probability pm. */
void axnn_poly_mutate(double *x, const double *lo, const double *hi, int n, double eta, double pm,
                      axnn_rng *r);
/* Area dominated by the n points f (n x 2, both minimized) and bounded by the reference point
 * (r0, r1); points not strictly better than the reference in both objectives add nothing. */
double axnn_hv2d(const double *f, int n, double r0, double r1);

typedef struct axnn_nsga2_cfg {
    int pop;         /* even, >= 4 */
    int nreal, nint; /* real genes in [lo, hi], integer genes in [0, imax] */
    const double *lo, *hi;
    const int *imax;
    int nobj;
    double pc, eta_c; /* SBX: 0.9, 20 */
    double eta_m, pm; /* polynomial mutation: 25; pm per gene, 0 = 1 / (nreal + nint) */
    uint64_t seed;
} axnn_nsga2_cfg;

/* Evaluates n individuals (real genes x: n x nreal, integer genes xi: n x nint) into f (n x
 * nobj). The callback may parallelize; it must be deterministic. */
typedef axnn_status (*axnn_nsga2_eval_fn)(void *ctx, int n, const double *x, const int *xi,
                                          double *f);

/* The population after generation `gen` (0 = the evaluated initial population). */
typedef struct axnn_nsga2 {
    axnn_nsga2_cfg cfg;
    double lo[64], hi[64];
    int imax[8];
    int gen;
    double *x, *f;  /* pop x nreal, pop x nobj */
    int *xi, *rank; /* pop x nint, pop */
    double *crowd;  /* pop */
    axnn_rng rng;
} axnn_nsga2;

/* Checks cfg (pop >= 4 and even, bounds, at most 64 real and 8 integer genes). */
axnn_status axnn_nsga2_create(const axnn_nsga2_cfg *cfg, axnn_nsga2 **out);
void axnn_nsga2_free(axnn_nsga2 *s);
/* Random initial population, evaluated (gen 0). */
axnn_status axnn_nsga2_init(axnn_nsga2 *s, axnn_nsga2_eval_fn eval, void *ctx);
/* One generation: binary tournaments on (rank, crowding), SBX and polynomial mutation on the
 * real genes, uniform crossover and random reset on the integer genes, evaluation, and
 * elitist selection of the best pop of parents + offspring. */
axnn_status axnn_nsga2_step(axnn_nsga2 *s, axnn_nsga2_eval_fn eval, void *ctx);
/* The state as JSON (genes, objectives and rng exactly, as %.17g); free() the string. */
char *axnn_nsga2_to_json(const axnn_nsga2 *s);
/* Restores a state written by axnn_nsga2_to_json into s (created with the same cfg). */
axnn_status axnn_nsga2_from_json(axnn_nsga2 *s, const char *json, const char *what);

/* ---- the dispatcher's labels and loss ---- */

typedef enum axnn_none_policy {
    AXNN_NONE_ACCURATE, /* no model is right: the most accurate model on the split (default) */
    AXNN_NONE_CHEAPEST,
    AXNN_NONE_DEAREST,
} axnn_none_policy;

/* labels[i] = the cheapest model (lowest cost[j]) with correct[i * m + j], else by policy. */
void axnn_dispatch_labels(const uint8_t *correct, int64_t n, int m, const double *cost,
                          axnn_none_policy none, int32_t *labels);

typedef enum axnn_weighting {
    AXNN_WEIGHT_NONE = 0,
    AXNN_WEIGHT_INS,  /* 1 / n_c */
    AXNN_WEIGHT_ISNS, /* 1 / sqrt(n_c) */
    AXNN_WEIGHT_ENS,  /* (1 - beta) / (1 - beta^n_c) */
} axnn_weighting;
const char *axnn_weighting_name(axnn_weighting w);

/* Class weights wc[0..k) from the label counts n_c, scaled so that the weights of the classes
 * present sum to their number (none: all 1); absent classes get 0. */
void axnn_class_weights(const int32_t *labels, int64_t n, int k, axnn_weighting w, double beta,
                        double *wc);
/* Mean penalty-weighted cross-entropy of logits z (n x k) against labels t (docs/dispatch.md):
 *   L = 1/n sum_i wc[t_i] (-log p_i,t_i - sum_{j != t_i} P[t_i, j] / 100 * log(1 - p_i,j))
 * with p = softmax(z), P (k x k, row = true class) in [0, 100]. dz (may be NULL) gets dL/dz. */
double axnn_penalty_loss(const float *z, const int32_t *t, int n, int k, const double *P,
                         const double *wc, float *dz);

/* ---- the linear dispatcher on cached features ---- */
typedef struct axnn_fc_cfg {
    int epochs, batch;
    float lr, wd;  /* Adam */
    uint64_t seed; /* initialization and sample order */
} axnn_fc_cfg;

typedef struct axnn_fc {
    int d, k;
    float *w, *b;       /* k x d, k */
    float *mean, *istd; /* per-feature standardization (from the training features) */
} axnn_fc;

/* Trains W, b on features x (n x d) and labels (in [0, k)) with axnn_penalty_loss (mini-batch
 * Adam, deterministic for a seed). *out is allocated; axnn_fc_free releases it. */
axnn_status axnn_fc_train(const float *x, int64_t n, int d, const int32_t *labels, int k,
                          const double *P, const double *wc, const axnn_fc_cfg *cfg, axnn_fc *out);
void axnn_fc_free(axnn_fc *fc);
/* A dispatcher that routes every input to output j (zero weights, bias one-hot). */
axnn_status axnn_fc_constant(int d, int k, int j, axnn_fc *out);
/* route[i] = argmax of the dispatcher's logits for x[i]. */
void axnn_fc_route(const axnn_fc *fc, const float *x, int64_t n, int32_t *route);

/* ---- the zoo in memory ---- */
#define AXNN_ZOO_MAX 16

typedef struct axnn_zoo_model {
    char name[64], arch[64];
    char ckpt[512]; /* the model's checkpoint (for dispatch run) */
    double macs;    /* per image */
    int64_t params;
    double accuracy[3]; /* per split */
} axnn_zoo_model;

enum { AXNN_SPLIT_TRAIN, AXNN_SPLIT_VAL, AXNN_SPLIT_TEST };

typedef struct axnn_zoo_split {
    int64_t n;
    int32_t *label;   /* n */
    int32_t *pred;    /* n x m */
    uint8_t *correct; /* n x m */
    float *conf;      /* n x m: max softmax */
    float *feat;      /* n x d: the extractor's pooled penultimate features (NULL until profiled) */
} axnn_zoo_split;

typedef struct axnn_zoo {
    char dataset[64];
    int num_classes, c, h, w;
    int m; /* profiled models, in the order given (cheapest first once sorted) */
    axnn_zoo_model models[AXNN_ZOO_MAX];
    int ext;         /* extractor model index */
    int d;           /* feature dimension */
    double ext_macs; /* MACs of the extractor (its model without the final linear layer) */
    axnn_zoo_split split[3];
    char config[2048]; /* JSON of the settings that made it (resume checks) */
} axnn_zoo;

/* An empty zoo for the split sizes (arrays for up to AXNN_ZOO_MAX models). */
axnn_status axnn_zoo_init(axnn_zoo *z, const int64_t n[3]);
void axnn_zoo_free(axnn_zoo *z);
/* Writes the zoo atomically as safetensors; reads one back (checking every shape). */
axnn_status axnn_zoo_save(const axnn_zoo *z, const char *path);
axnn_status axnn_zoo_load(const char *path, axnn_zoo *z);
/* Appends a profiled model: per split, its predictions (n) and max-softmax confidences (n);
 * correctness comes from the labels. */
axnn_status axnn_zoo_add(axnn_zoo *z, const axnn_zoo_model *md, const int32_t *const pred[3],
                         const float *const conf[3]);
/* Sets the extractor features of split s (n x d, copied). */
axnn_status axnn_zoo_set_features(axnn_zoo *z, int s, const float *feat, int d);
/* Sorts the models by MACs (cheapest first), keeping columns and ext consistent. */
void axnn_zoo_sort(axnn_zoo *z);
/* Correctness of model j on split s as an n-vector view is z->split[s].correct[i * m + j]. */

/* Cost of a dispatched system per input: the extractor and dispatcher always run, then the
 * routed model, whose cost is only its remainder (macs - ext_macs) when it is the extractor's. */
double axnn_dispatch_cost(const axnn_zoo *z, double disp_macs, int route);
/* System accuracy and mean MACs of routes on split s; share (may be NULL) gets per-model counts. */
void axnn_dispatch_eval(const axnn_zoo *z, int s, const int32_t *route, double disp_macs,
                        double *acc, double *mean_macs, int64_t *share);

/* ---- baselines ---- */
/* Oracle: each sample to its cheapest correct model (cheapest model when none), no dispatcher. */
void axnn_oracle(const axnn_zoo *z, int s, double *acc, double *mean_macs);
/* Confidence cascade: models from cheap to dear, stop at the first whose max softmax >= thr
 * (the last always answers). */
void axnn_cascade(const axnn_zoo *z, int s, double thr, double *acc, double *mean_macs);
/* Random dispatch at mean cost `cost`: expected accuracy of routing each sample at random
 * between the two models whose costs bracket it (mixed to hit the cost exactly). */
double axnn_random_at_cost(const axnn_zoo *z, int s, double cost);

/* ---- the search ---- */
typedef struct axnn_search_cfg {
    int pop, gens;
    axnn_fc_cfg fc;
    axnn_none_policy none;
    int threads;
    uint64_t seed;
    const char *state_path; /* search state, written atomically after every generation; resumed
                               from when present (NULL = no state) */
} axnn_search_cfg;

/* One dispatcher configuration (a chromosome, decoded). */
typedef struct axnn_disp_genes {
    double P[AXNN_ZOO_MAX * AXNN_ZOO_MAX]; /* m x m, zero diagonal */
    axnn_weighting weighting;
    double beta;
} axnn_disp_genes;

typedef struct axnn_disp_point {
    axnn_disp_genes genes;
    double acc[3], macs[3]; /* per split */
    int64_t share[3][AXNN_ZOO_MAX];
} axnn_disp_point;

typedef struct axnn_search_result {
    int gens_done;
    double *hv; /* hypervolume of the first front after generations 0 .. gens_done */
    int nhv;
    axnn_disp_point *front; /* the final validation front, sorted by validation MACs */
    int nfront;
    axnn_disp_point plain; /* plain cross-entropy dispatcher */
    double disp_macs;
    double ref_cost; /* hypervolume reference: (error 1, this cost), cost normalized */
    axnn_fc_cfg fc;  /* how the dispatchers were trained */
    axnn_none_policy none;
} axnn_search_result;

/* The front's chromosomes, exactly (%.17g), with the dispatcher settings: front.json, which
 * `axnn dispatch run` reads. Point -1 is the plain cross-entropy dispatcher. */
axnn_status axnn_front_save(const axnn_search_result *r, int m, const char *path);
axnn_status axnn_front_load(const char *path, int m, int point, axnn_disp_genes *g, axnn_fc_cfg *fc,
                            axnn_none_policy *none, int *npoints);

/* Dispatcher MACs per input: d * m (the linear layer). */
double axnn_dispatcher_macs(const axnn_zoo *z);
/* Trains one dispatcher (genes g) on the train split and evaluates it on every split. */
axnn_status axnn_dispatch_fit(const axnn_zoo *z, const axnn_disp_genes *g, const axnn_fc_cfg *fc,
                              axnn_none_policy none, axnn_disp_point *out);
/* Trains the dispatcher of genes g on the train split into *out (axnn_fc_free releases it). */
axnn_status axnn_dispatch_train(const axnn_zoo *z, const axnn_disp_genes *g, const axnn_fc_cfg *fc,
                                axnn_none_policy none, axnn_fc *out);
/* Runs NSGA-II on the zoo; prog (may be NULL) shows generations. */
axnn_status axnn_dispatch_search(const axnn_zoo *z, const axnn_search_cfg *cfg, axnn_progress *prog,
                                 axnn_search_result *res);
void axnn_search_result_free(axnn_search_result *r);

/* ---- the report ---- */
typedef struct axnn_dispatch_summary {
    int best; /* best single model on the test split */
    double best_acc, best_macs;
    int hit;           /* front point with test acc >= best_acc at <= 0.64 x best_macs, or -1 */
    double hit_ratio;  /* its MACs / best_macs */
    double min_ratio;  /* smallest MACs / best_macs of a front point at >= best_acc (0: none) */
    double acc_at_064; /* best front test accuracy at <= 0.64 x best_macs (0: none) */
    int above_cascade; /* front points above the cascade curve at equal MACs (test) */
    double max_margin; /* largest accuracy margin over the cascade (may be negative) */
} axnn_dispatch_summary;

/* Writes report.md, results.csv, results.json and the figures (accuracy_vs_macs.png,
 * hypervolume.png, shares.png; skipped with a warning without gnuplot) into dir. `note` (may be
 * NULL) is a line of run information (command, wall time) for the report. */
axnn_status axnn_dispatch_report(const axnn_zoo *z, const axnn_search_result *r, const char *dir,
                                 const char *note, axnn_dispatch_summary *sum);

/* ---- the zoo builder (src/dispatch/zoo_run.c: the only user of the graph/trainer API) ---- */
typedef struct axnn_zoo_cfg {
    const char *const *archs; /* model architectures (or NAME=CHECKPOINT) */
    int narchs;
    int ext; /* extractor: index into archs, -1 = the cheapest */
    int epochs, batch, threads;
    float lr;
    int64_t train_images;     /* images the zoo models train on (0 = all of the train part) */
    int64_t profile_images;   /* train-part images profiled for the dispatcher (disjoint) */
    int64_t val, test_images; /* validation images carved from train; test images (0 = all) */
    uint64_t seed;
    const char *dir; /* <dir>/models/<name>/ checkpoints, <dir>/zoo.safetensors */
} axnn_zoo_cfg;

/* Trains (or loads, or resumes) every model and profiles it; the zoo file is rewritten
 * atomically after each model, so a killed run resumes per model. */
axnn_status axnn_zoo_build(const axnn_dataset *train, const axnn_dataset *test,
                           const axnn_zoo_cfg *cfg, axnn_progress *prog, axnn_zoo *z);

/* ---- dispatch run: real execution with sub-batches (src/dispatch/zoo_run.c) ----
 * The extractor's model runs on every batch; the dispatcher routes each image; the other models
 * run only on the images routed to them, gathered into batches of their own. */
typedef struct axnn_run_cfg {
    int batch, threads;
    int64_t images; /* first images of the test set (0 = all) */
    bool alone;     /* also time every model alone on the same images */
    /* Streams (the images in order as frames): the dispatcher runs on frame 0, every
     * interval-th frame (> 0) and frames whose change score exceeds change (> 0); the others
     * reuse the last choice (src/dispatch/zoo_run.c has the score). 0 and 0: every frame. */
    int interval;
    double change, pixel_w, hist_w;
} axnn_run_cfg;

typedef struct axnn_run_result {
    const axnn_run_cfg *cfg;
    int64_t n, share[AXNN_ZOO_MAX];
    int64_t keyframes; /* frames the dispatcher ran on */
    double acc, mean_macs, seconds;
    double alone_acc[AXNN_ZOO_MAX], alone_seconds[AXNN_ZOO_MAX];
} axnn_run_result;

axnn_status axnn_dispatch_run(const axnn_zoo *z, const axnn_fc *fc, const axnn_dataset *test,
                              const axnn_run_cfg *cfg, axnn_progress *prog, axnn_run_result *res);

#ifdef __cplusplus
}
#endif
#endif
