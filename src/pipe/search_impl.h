/* Shared by the exact and the exhaustive search: CPU-vector indexing, stage assignments,
 * tolerant comparisons and the cost of a stage. */
#ifndef AXNN_PIPE_SEARCH_IMPL_H
#define AXNN_PIPE_SEARCH_IMPL_H

#include "axnn/pipe.h"

/* Relative tolerance of comparisons between sums of times added in different orders. */
#define PIPE_EPS 1e-12

static inline bool pipe_le(double a, double b)
{
    return a <= b + PIPE_EPS * (b > 0 ? b : -b);
}
static inline bool pipe_lt(double a, double b)
{
    return !pipe_le(b, a);
}
/* (throughput, throughput x latency) pairs: higher throughput first, then lower latency. */
static inline bool pipe_better(double thr, double w, double thr2, double w2)
{
    if (pipe_lt(thr2, thr)) return true;
    return pipe_le(thr2, thr) && pipe_lt(w, w2);
}

/* A stage's placement: nrep (1 or 2) replicas, each k[r] CPUs of group g[r]. */
typedef struct pipe_assign {
    int nrep, g[2], k[2];
    int single[2]; /* a pair: the indices of its two single assignments */
} pipe_assign;

/* CPU vectors u (u_g CPUs used in group g) as mixed-radix indices, and the assignments. */
typedef struct pipe_space {
    int ngroups, size[AXNN_PIPE_MAX_GROUPS], stride[AXNN_PIPE_MAX_GROUPS];
    int nres;
    pipe_assign *assign;
    int nassign;
} pipe_space;

axnn_status pipe_space_init(pipe_space *sp, const axnn_pipe_problem *p);
void pipe_space_free(pipe_space *sp);
/* u plus the CPUs of assignment a, or -1 when a group overflows. */
int pipe_space_add(const pipe_space *sp, int u, int a);
/* Whether v <= u in every group. */
bool pipe_space_sub_ok(const pipe_space *sp, int u, int v);
/* CPUs of group g used in u. */
static inline int pipe_space_get(const pipe_space *sp, int u, int g)
{
    return (u / sp->stride[g]) % (sp->size[g] + 1);
}

/* Seconds to hand layer j's output to the next stage. */
double pipe_handoff(const axnn_pipe_problem *p, int j);
/* Period and latency of a stage whose replicas take t[0..nrep) seconds per image: images go to
 * the replicas in proportion to their speed (period 1 / sum 1/t), and the mean latency is the
 * speed-weighted mean of t (nrep / sum 1/t). */
void pipe_stage_period(const double *t, int nrep, double *period, double *lat);

#endif
