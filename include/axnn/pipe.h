/* axnn/pipe.h - Pipe-it's hardware-independent core: the CPU topology, the design-space search
 * over pipelines, streams and their mixtures, and the per-layer time predictor.
 *
 * Topology. axnn_pipe_topo_read() reads the CPU layout under a sysfs root ("/sys" on a real
 * machine, a fake tree in tests): online and offline CPUs, core types, packages, clusters, shared
 * caches and maximum frequencies, and groups identical cores that share their last-level cache.
 * A core group is the unit the search hands out: a stage gets k CPUs of one group.
 *
 * Search. A network is a sequence of layers (as they run after fusion) with a time per layer on
 * every core configuration (core type x thread count), the bytes each layer hands to the next,
 * and which boundaries are legal cuts. axnn_pipe_search() splits the layers into contiguous
 * stages on disjoint CPUs of the groups, each with a thread count (optionally a stage replicated
 * over two core sets), and runs one or several such pipelines side by side ("lanes"; a lane of
 * one stage is an independent stream). It maximizes throughput (images per second: the sum over
 * lanes of 1 / the lane's slowest stage, a stage's time including the hand-off of its output)
 * and breaks ties by latency. src/pipe/search.c explains the algorithm; src/pipe/brute.c is the
 * exhaustive check.
 *
 * Predictor. A layer is described by axnn_pipe_desc (no timing); a model fitted on synthetic
 * layers predicts its time on each core configuration (src/pipe/predict.c gives the form).
 */
#ifndef AXNN_PIPE_H
#define AXNN_PIPE_H

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AXNN_PIPE_MAX_CPUS 256
#define AXNN_PIPE_MAX_TYPES 8
#define AXNN_PIPE_MAX_GROUPS 16
#define AXNN_PIPE_MAX_THREADS 64 /* per core configuration */

/* ---------------------------------------------------------------- topology ---- */

typedef struct axnn_pipe_cpu {
    int id;
    int type;        /* index into topo->types */
    int package;     /* physical_package_id, -1 unknown */
    int cluster;     /* cluster_id, -1 unknown */
    int smt_first;   /* lowest CPU among its SMT siblings (itself without SMT) */
    int l2, l3;      /* lowest CPU of its L2 / L3 shared_cpu_list, -1 when absent */
    int capacity;    /* ARM cpu_capacity (1024 = the biggest), 0 unknown */
    int64_t max_khz; /* cpufreq/cpuinfo_max_freq, 0 unknown */
    int group;       /* index into topo->groups */
} axnn_pipe_cpu;

typedef struct axnn_pipe_type {
    char name[32]; /* "A73", "P-core", "E-core", "core" ... */
    int capacity;  /* as axnn_pipe_cpu */
    int64_t max_khz;
    double speed; /* simulated relative speed (axnn_pipe_topo_simulate); 1 = as measured */
} axnn_pipe_type;

typedef struct axnn_pipe_group {
    int type;
    int n;                        /* CPUs */
    int cpus[AXNN_PIPE_MAX_CPUS]; /* ascending */
    char shares[16];              /* "L3", "L2", "package", "none", "--groups" */
} axnn_pipe_group;

typedef struct axnn_pipe_topo {
    char root[512]; /* the sysfs root read */
    int ncpus;      /* online CPUs */
    axnn_pipe_cpu cpus[AXNN_PIPE_MAX_CPUS];
    int noffline; /* possible but offline CPUs */
    int offline[AXNN_PIPE_MAX_CPUS];
    int ntypes;
    axnn_pipe_type types[AXNN_PIPE_MAX_TYPES];
    int ngroups;
    axnn_pipe_group groups[AXNN_PIPE_MAX_GROUPS];
    bool hybrid; /* Intel hybrid (cpu_core / cpu_atom) */
    bool smt;    /* some CPUs have SMT siblings */
    bool groups_overridden;
    bool simulated; /* speeds set by axnn_pipe_topo_simulate */
    char sim_name[64];
} axnn_pipe_topo;

/* Reads the topology under `sysfs_root` (the folder holding devices/system/cpu; "/sys" on a real
 * machine). Needs devices/system/cpu/online; every other file is optional. *out: free() it. */
axnn_status axnn_pipe_topo_read(const char *sysfs_root, axnn_pipe_topo **out);
/* Replaces the groups by a list such as "0-3,4-7" (groups separated by commas; CPUs of one group
 * as ranges joined by '+': "0-1+4-5"). Error (AXNN_ERR_ARG, naming --groups) when a CPU is
 * offline or unknown, repeated, or a group mixes core types; t is unchanged then. */
axnn_status axnn_pipe_topo_set_groups(axnn_pipe_topo *t, const char *spec);
/* Sets per-type speed factors "A53=0.5,A73=1" (type names as in t->types) and marks the
 * topology simulated under `name`. */
axnn_status axnn_pipe_topo_simulate(axnn_pipe_topo *t, const char *name, const char *speeds);
/* The speeds of a built-in simulation preset ("hikey970": "A53=...,A73=1"), NULL if unknown.
 * The factors and their sources are in src/pipe/groups.c. */
const char *axnn_pipe_sim_preset(const char *name);
/* Parses a sysfs CPU list ("0-3,8,10-11") into set[0..max); AXNN_ERR_FORMAT on bad syntax or a
 * CPU >= max. `what` names the source in the error. */
axnn_status axnn_pipe_cpulist_parse(const char *s, bool *set, int max, const char *what);
/* Formats CPUs (ascending) as a compact list "0-3,6" into buf. */
char *axnn_pipe_cpulist_str(const int *cpus, int n, char *buf, size_t len);

/* ---------------------------------------------------------------- search ---- */

/* One core configuration: `threads` CPUs of a group of core type `type`. */
typedef struct axnn_pipe_conf {
    int type, threads;
} axnn_pipe_conf;

typedef struct axnn_pipe_problem {
    int nlayers;
    int ntypes, maxthreads;
    /* time[(l * ntypes + type) * maxthreads + threads - 1]: seconds per image of layer l on
     * `threads` CPUs of core type `type`; not finite = not available. */
    const double *time;
    const double *out_bytes; /* per layer: bytes of activation handed to the next stage */
    const bool *cut;         /* nlayers - 1 entries: cut[i] = a stage may end after layer i;
                              * NULL = every boundary */
    double handoff_s, handoff_s_per_byte; /* a hand-off costs handoff_s + bytes * per_byte */
    int ngroups;
    int group_type[AXNN_PIPE_MAX_GROUPS];
    int group_size[AXNN_PIPE_MAX_GROUPS];
    /* search space */
    int max_stages;      /* per pipeline; 0 = up to nlayers */
    bool lanes;          /* several pipelines / streams side by side */
    bool stage_replicas; /* a stage may run on two core sets, images alternating */
} axnn_pipe_problem;

#define AXNN_PIPE_MAX_STAGES 64
#define AXNN_PIPE_MAX_LANES 32

typedef struct axnn_pipe_stage {
    int first, last; /* layers [first, last] */
    int nrep;        /* 1, or 2 when replicated */
    int group[2], threads[2];
    double time[2]; /* seconds per image on each replica, hand-off included */
    double period;  /* effective seconds per image: time[0], or 1 / (1/t0 + 1/t1) */
} axnn_pipe_stage;

typedef struct axnn_pipe_lane {
    int nstages;
    axnn_pipe_stage stages[AXNN_PIPE_MAX_STAGES];
    double period;  /* slowest stage's period */
    double latency; /* seconds an image spends in the lane (mean over replicas) */
} axnn_pipe_lane;

typedef struct axnn_pipe_plan {
    int nlanes;
    axnn_pipe_lane lanes[AXNN_PIPE_MAX_LANES];
    double throughput; /* images per second */
    double latency;    /* mean latency, lanes weighted by their throughput */
    double search_s;   /* seconds the search took */
    int64_t evaluated; /* candidate stages (or full plans, exhaustive) looked at */
} axnn_pipe_plan;

/* Checks a problem (AXNN_ERR_ARG naming the field: more stages than layers, bad sizes ...). */
axnn_status axnn_pipe_problem_check(const axnn_pipe_problem *p);
/* The exact search (Pareto dynamic programming + knapsack over lanes). *out: free() it. */
axnn_status axnn_pipe_search(const axnn_pipe_problem *p, axnn_pipe_plan **out);
/* The exhaustive search, for small problems (AXNN_ERR_UNSUPPORTED when too large). */
axnn_status axnn_pipe_search_exhaustive(const axnn_pipe_problem *p, axnn_pipe_plan **out);
/* The time of layer l on `threads` CPUs of `type` (a lookup in p->time). */
double axnn_pipe_time(const axnn_pipe_problem *p, int l, int type, int threads);
/* Seconds of stage [first, last] on (type, threads), with the hand-off when it is not last. */
double axnn_pipe_stage_time(const axnn_pipe_problem *p, int first, int last, int type, int threads);
/* Recomputes the periods, latencies and throughput of a plan from the problem (used by the
 * tests and to evaluate baselines); AXNN_ERR_ARG when the plan is not legal for p. */
axnn_status axnn_pipe_plan_eval(const axnn_pipe_problem *p, axnn_pipe_plan *plan);
/* The CPUs of each stage replica: the next free CPUs of its group, lanes and stages in order.
 * first[(lane * AXNN_PIPE_MAX_STAGES + stage) * 2 + rep] indexes the group's cpus[]; threads
 * CPUs follow. AXNN_ERR_ARG when the plan needs more CPUs than t's groups have. */
axnn_status axnn_pipe_plan_cpus(const axnn_pipe_plan *plan, const axnn_pipe_topo *t, int *first);

/* Plan files ("format": "axnn-pipe-plan-1", JSON, written atomically): the network, its layer
 * count, whether the times were simulated, and the lanes and stages. The reader checks that
 * the plan is for `network` with `nlayers` layers (AXNN_ERR_ARG naming the file otherwise) and
 * that every stage is well formed; axnn_pipe_plan_eval then checks it against a problem. */
axnn_status axnn_pipe_plan_write(const axnn_pipe_plan *plan, const char *network, int nlayers,
                                 bool simulated, const char *path);
axnn_status axnn_pipe_plan_read(const char *path, const char *network, int nlayers,
                                axnn_pipe_plan *plan);

/* ---------------------------------------------------------------- predictor ---- */

typedef enum axnn_pipe_kind {
    AXNN_PK_CONV,   /* conv2d, with its fused BatchNorm / residual add / ReLU */
    AXNN_PK_DWCONV, /* grouped conv (groups > 1; no such node in the engine yet) */
    AXNN_PK_LINEAR,
    AXNN_PK_POOL,    /* max / average pooling with a window */
    AXNN_PK_GPOOL,   /* global average pooling */
    AXNN_PK_ELTWISE, /* relu, add, dropout, BatchNorm on its own */
    AXNN_PK_GELU,    /* GELU (an erf per element: far costlier per byte) */
    AXNN_PK_NORM,    /* layernorm */
    AXNN_PK_ATTENTION,
    AXNN_PK_OTHER, /* reshapes and the rest */
    AXNN_PK_COUNT
} axnn_pipe_kind;
const char *axnn_pipe_kind_name(axnn_pipe_kind k);
/* AXNN_ERR_ARG for an unknown name. */
axnn_status axnn_pipe_kind_parse(const char *name, axnn_pipe_kind *k);

/* What the predictor sees of a layer, per image: never a time. */
typedef struct axnn_pipe_desc {
    axnn_pipe_kind kind;
    int batch;            /* images per call */
    int in_c, in_h, in_w; /* input (C, H, W); tokens (N, T, D) as (D, T, 1) */
    int out_c, out_h, out_w;
    int kh, kw, stride, groups;
    bool bn, residual, relu;              /* fused epilogue of a conv */
    int64_t macs;                         /* per image */
    int64_t in_bytes, out_bytes, w_bytes; /* per image (weights: once) */
} axnn_pipe_desc;

/* The model's features of a descriptor (its form: src/pipe/predict.c). */
#define AXNN_PIPE_NFEAT 9
void axnn_pipe_features(const axnn_pipe_desc *d, double f[AXNN_PIPE_NFEAT]);

/* A fitted predictor: per core configuration and layer kind, non-negative coefficients. About
 * 400 KB: allocate it on the heap. */
typedef struct axnn_pipe_model {
    char machine[256]; /* where it was calibrated (axnn_pipe_machine_id) */
    int nconf;
    axnn_pipe_conf conf[AXNN_PIPE_MAX_TYPES * AXNN_PIPE_MAX_THREADS];
    char type_name[AXNN_PIPE_MAX_TYPES][32];
    int ntypes;
    double coef[AXNN_PIPE_MAX_TYPES * AXNN_PIPE_MAX_THREADS][AXNN_PK_COUNT][AXNN_PIPE_NFEAT];
    bool fitted[AXNN_PIPE_MAX_TYPES * AXNN_PIPE_MAX_THREADS][AXNN_PK_COUNT];
    double fit_mape[AXNN_PIPE_MAX_TYPES * AXNN_PIPE_MAX_THREADS][AXNN_PK_COUNT];
} axnn_pipe_model;

/* One timed layer: a descriptor and its measured seconds per image on each configuration. */
typedef struct axnn_pipe_sample {
    char name[64];
    axnn_pipe_desc d;
    double t[AXNN_PIPE_MAX_TYPES * AXNN_PIPE_MAX_THREADS]; /* NaN = not measured */
} axnn_pipe_sample;

/* A profile: configurations plus timed layers (synthetic or a network's, in order). */
typedef struct axnn_pipe_profile {
    char machine[256];
    char network[64]; /* "" for a calibration sweep */
    int nconf;
    axnn_pipe_conf conf[AXNN_PIPE_MAX_TYPES * AXNN_PIPE_MAX_THREADS];
    int ntypes;
    char type_name[AXNN_PIPE_MAX_TYPES][32];
    int nsamples;
    axnn_pipe_sample *samples;
    bool *cut; /* nsamples - 1 legal boundaries, may be NULL (all) */
} axnn_pipe_profile;

void axnn_pipe_profile_free(axnn_pipe_profile *p);
/* JSON (cJSON), written atomically; the reader checks every field and names the file. */
axnn_status axnn_pipe_profile_write(const axnn_pipe_profile *p, const char *path);
axnn_status axnn_pipe_profile_read(const char *path, axnn_pipe_profile *out);
axnn_status axnn_pipe_model_write(const axnn_pipe_model *m, const char *path);
axnn_status axnn_pipe_model_read(const char *path, axnn_pipe_model *out);

/* Fits a model on the samples of a profile: per configuration and kind with at least two
 * timed samples, a non-negative least-squares fit of the relative error (src/pipe/predict.c).
 * At prediction, a kind that was not fitted borrows ELTWISE's coefficients. */
axnn_status axnn_pipe_fit(const axnn_pipe_profile *p, axnn_pipe_model *m);
/* Predicted seconds per image of d on configuration index c of m (NaN when not fitted). */
double axnn_pipe_predict(const axnn_pipe_model *m, int c, const axnn_pipe_desc *d);
/* Index of (type, threads) in m's configurations, -1 when absent. */
int axnn_pipe_model_conf(const axnn_pipe_model *m, int type, int threads);
/* Mean absolute percentage error of m on a profile's samples for configuration c (per layer),
 * and of sums over consecutive runs of `stage_len` layers (per stage). */
double axnn_pipe_mape(const axnn_pipe_model *m, const axnn_pipe_profile *p, int c, int stage_len);

/* Errors of m on a profile for configuration c over groups of stage_len consecutive layers:
 * the MAPE over all groups, the MAPE over the groups that take at least min_share of the
 * measured total ("major"), and the weighted absolute percentage error (sum |error| / sum
 * time), all in percent. */
typedef struct axnn_pipe_err {
    double mape, mape_major, wape;
    int n, n_major;
} axnn_pipe_err;
axnn_pipe_err axnn_pipe_error(const axnn_pipe_model *m, const axnn_pipe_profile *p, int c,
                              int stage_len, double min_share);

/* A string that identifies this machine's CPUs (model name, online CPUs, ISA). */
void axnn_pipe_machine_id(char *buf, size_t len);

/* ---------------------------------------------------------------- synthetic sweep ---- */

/* A synthetic layer: one node (or one fused conv chain) on an input of the given shape. `op`
 * names the node: conv, linear, maxpool, avgpool, gap (global average pool), relu, add (x + x),
 * dropout, gelu, layernorm, attention, flatten, tokens, cls_token, pos_embed, cls_pool. The
 * input is (c, h, w) images when in_nd = 4, or goes first through a tokens node ((N, h*w, c),
 * in_nd = 3) or a flatten node ((N, c*h*w), in_nd = 2); that prefix is timed separately and
 * subtracted. */
typedef struct axnn_pipe_synth {
    const char *op;
    int in_nd;
    int c, h, w;
    int cout, k, stride, pad; /* conv: output channels, kernel, stride, padding; linear: cout */
    bool bn, residual, relu;  /* conv: the fused epilogue (residual: + the input) */
    int heads;                /* attention */
} axnn_pipe_synth;

/* The sweep: *n layers (quick: a short one for tests and --quick). Static storage. */
const axnn_pipe_synth *axnn_pipe_sweep(bool quick, int *n);

/* ---------------------------------------------------------------- timing (bench_run.c) ---- */

typedef struct axnn_pipe_bench_opts {
    int batch; /* images per call */
    int warmup, repeats;
    double max_s; /* stop repeating a layer after this long (0 = no limit) */
    bool best;    /* the fastest call instead of the median (machines shared with other jobs) */
} axnn_pipe_bench_opts;

/* Times synthetic layer s on `threads` CPUs (cpus[0..threads)): builds a one-layer graph,
 * plans it in eval mode, pins a pool, runs warm-up calls and returns the median seconds per
 * image over the repeats in *t; fills *d from the built graph. */
axnn_status axnn_pipe_bench_synth(const axnn_pipe_synth *s, const int *cpus, int threads,
                                  const axnn_pipe_bench_opts *o, axnn_pipe_desc *d, double *t);
/* The layers of a model (built for channels x size x size inputs, 10 classes) as they run
 * after eval-mode fusion, in order: descriptors, the synthetic layers that rebuild each alone
 * (op NULL when no synthetic op fits), names (64 bytes each) and the legal cuts: cut[i] when
 * exactly one activation crosses the boundary after layer i (so a branch and the residual it
 * feeds stay in one stage; the graph cut API will replace this). The arrays are malloc'ed. */
axnn_status axnn_pipe_model_layers(const char *arch, int channels, int size,
                                   axnn_pipe_synth **layers, axnn_pipe_desc **descs,
                                   char (**names)[64], bool **cut, int *n);
/* Median seconds per image of the whole model's eval forward on cpus[0..threads). */
axnn_status axnn_pipe_bench_model(const char *arch, int channels, int size, const int *cpus,
                                  int threads, const axnn_pipe_bench_opts *o, double *t);

/* ---------------------------------------------------------------- calibration ---- */

/* The core configurations of a topology: (type, k) for k = 1 .. its largest group (at most
 * max_threads when > 0). conf holds AXNN_PIPE_MAX_TYPES * AXNN_PIPE_MAX_THREADS entries. */
axnn_status axnn_pipe_confs(const axnn_pipe_topo *t, int max_threads, axnn_pipe_conf *conf,
                            int *nconf);
/* Times the sweep (quick or full) on every configuration of t into p (free it with
 * axnn_pipe_profile_free). prog may be NULL. */
axnn_status axnn_pipe_calibrate(const axnn_pipe_topo *t, bool quick, int max_threads,
                                const axnn_pipe_bench_opts *o, axnn_progress *prog,
                                axnn_pipe_profile *p);
/* Times every layer of a network alone on every configuration (with its legal cuts). */
axnn_status axnn_pipe_profile_network(const axnn_pipe_topo *t, const char *arch, int channels,
                                      int size, int max_threads, const axnn_pipe_bench_opts *o,
                                      axnn_pipe_profile *p);

/* Fills a search problem for topology t (groups, types, thread counts up to its largest group)
 * from L layers' times th[l * hn + c] on the host configurations hc[0..hn) of types
 * host_types; time receives L x t->ntypes x maxthreads entries (allocate L x
 * AXNN_PIPE_MAX_TYPES x AXNN_PIPE_MAX_THREADS). Simulated topologies scale the host's first
 * type by each type's speed (src/pipe/simulate.c); real ones match types by name. The caller
 * sets out_bytes, cut, hand-off costs and the search options. */
axnn_status axnn_pipe_problem_build(axnn_pipe_problem *p, const axnn_pipe_topo *t,
                                    const char (*host_types)[32], int host_ntypes,
                                    const axnn_pipe_conf *hc, int hn, const double *th, int L,
                                    double *time);

#ifdef __cplusplus
}
#endif
#endif
