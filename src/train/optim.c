/* Optimizers: SGD (momentum, Nesterov, L2 weight decay) and AdamW (decoupled weight decay), with
 * PyTorch's update rules, and optional global gradient-norm clipping.
 *
 * SGD, for each parameter p with gradient g:  g += wd * p;  buf = momentum * buf + g;
 *   p -= lr * (nesterov ? g + momentum * buf : buf)        (torch.optim.SGD, dampening 0)
 * AdamW:  p *= 1 - lr * wd;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
 *   p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)   (torch.optim.AdamW)
 * Parameters are split over threads by element ranges of one flat list, so each element is
 * touched by exactly one thread. Gradients come from the training plan the optimizer was made
 * for, looked up at every step (a plan that re-plans moves them); a parameter that has no
 * gradient in the plan (frozen since) is left alone.
 */
#include "axnn/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct opt_param {
    const axnn_value *v;
    int id;      /* value id */
    float *grad; /* the plan's gradient, refreshed at each step (NULL: none) */
    int64_t n;
    float *m, *s; /* SGD: momentum buffer in m; AdamW: first and second moments */
    float wd;
} opt_param;

struct axnn_optimizer {
    axnn_optim_cfg cfg;
    axnn_plan *plan;
    opt_param *p;
    int np;
    int64_t total; /* elements over all parameters */
    int64_t steps;
};

const char *axnn_opt_kind_name(axnn_opt_kind k) { return k == AXNN_OPT_SGD ? "sgd" : "adamw"; }

axnn_status axnn_optim_create(axnn_plan *plan, const axnn_optim_cfg *cfg, axnn_optimizer **out)
{
    const axnn_graph *g = axnn_plan_graph(plan);
    *out = NULL;
    if (!(cfg->lr >= 0.0f) || !(cfg->weight_decay >= 0.0f) || !(cfg->momentum >= 0.0f && cfg->momentum < 1.0f))
        return axnn_error(AXNN_ERR_ARG, "optimizer: learning rate, weight decay and momentum must be >= 0 "
                                        "(momentum < 1)");
    if (cfg->nesterov && cfg->momentum <= 0.0f)
        return axnn_error(AXNN_ERR_ARG, "optimizer: Nesterov needs momentum > 0");
    axnn_optimizer *o = calloc(1, sizeof *o);
    if (!o) return axnn_error(AXNN_ERR_NOMEM, "out of memory");
    o->cfg = *cfg;
    o->plan = plan;
    o->p = calloc((size_t)g->nvals, sizeof *o->p);
    if (!o->p) {
        free(o);
        return axnn_error(AXNN_ERR_NOMEM, "out of memory");
    }
    bool adam = cfg->kind == AXNN_OPT_ADAMW;
    for (int i = 0; i < g->nvals; i++) {
        const axnn_value *v = &g->vals[i];
        if (v->kind != AXNN_VAL_PARAM || (v->flags & AXNN_VF_FROZEN)) continue;
        opt_param *q = &o->p[o->np++];
        q->v = v;
        q->id = i;
        q->n = axnn_shape_numel(&v->shape);
        q->wd = (cfg->decay_all || !(v->flags & AXNN_VF_NO_DECAY)) ? cfg->weight_decay : 0.0f;
        if (cfg->momentum > 0.0f || adam) q->m = axnn_calloc((size_t)q->n * sizeof(float));
        if (adam) q->s = axnn_calloc((size_t)q->n * sizeof(float));
        if (((cfg->momentum > 0.0f || adam) && !q->m) || (adam && !q->s)) {
            axnn_optim_free(o);
            return axnn_error(AXNN_ERR_NOMEM, "out of memory for optimizer state");
        }
        o->total += q->n;
    }
    *out = o;
    return AXNN_OK;
}

void axnn_optim_free(axnn_optimizer *o)
{
    if (!o) return;
    for (int i = 0; i < o->np; i++) {
        axnn_free(o->p[i].m);
        axnn_free(o->p[i].s);
    }
    free(o->p);
    free(o);
}

int64_t axnn_optim_steps(const axnn_optimizer *o) { return o->steps; }

typedef struct step_task {
    axnn_optimizer *o;
    float lr, gscale;
    double *sq; /* per-thread sum of squares (norm pass) */
} step_task;

/* Calls fn on every [lo, hi) piece of the flat parameter list that falls to thread ith. */
static void for_my_elements(axnn_optimizer *o, int ith, int nth,
                            void (*fn)(step_task *, opt_param *, int64_t, int64_t), step_task *t)
{
    int64_t lo, hi, base = 0;
    axnn_split(o->total, ith, nth, &lo, &hi);
    for (int i = 0; i < o->np && base < hi; i++) {
        opt_param *q = &o->p[i];
        int64_t a = lo > base ? lo - base : 0, b = hi - base < q->n ? hi - base : q->n;
        if (a < b) fn(t, q, a, b);
        base += q->n;
    }
}

static void norm_piece(step_task *t, opt_param *q, int64_t a, int64_t b)
{
    double s = 0.0;
    for (int64_t i = a; i < b && q->grad; i++) s += (double)q->grad[i] * q->grad[i];
    t->sq[0] += s;
}

static void sgd_piece(step_task *t, opt_param *q, int64_t a, int64_t b)
{
    const axnn_optim_cfg *c = &t->o->cfg;
    float *p = q->v->data, *g = q->grad, *m = q->m;
    if (!g) return;
    const float mu = c->momentum, lr = t->lr, wd = q->wd, gs = t->gscale;
    for (int64_t i = a; i < b; i++) {
        float d = g[i] * gs + wd * p[i];
        if (m) {
            m[i] = mu * m[i] + d; /* starts at zero: the first step stores d, as PyTorch */
            d = c->nesterov ? d + mu * m[i] : m[i];
        }
        p[i] -= lr * d;
    }
}

static void adamw_piece(step_task *t, opt_param *q, int64_t a, int64_t b)
{
    const axnn_optim_cfg *c = &t->o->cfg;
    float *p = q->v->data, *g = q->grad, *m = q->m, *v = q->s;
    if (!g) return;
    const double k = (double)t->o->steps + 1.0;
    const float bc1 = (float)(1.0 - pow(c->beta1, k)), bc2 = (float)(1.0 - pow(c->beta2, k));
    const float lr = t->lr, decay = 1.0f - t->lr * q->wd, gs = t->gscale;
    const float step = lr / bc1, rb2 = 1.0f / sqrtf(bc2);
    for (int64_t i = a; i < b; i++) {
        float gi = g[i] * gs;
        p[i] *= decay;
        m[i] = c->beta1 * m[i] + (1.0f - c->beta1) * gi;
        v[i] = c->beta2 * v[i] + (1.0f - c->beta2) * gi * gi;
        p[i] -= step * m[i] / (sqrtf(v[i]) * rb2 + c->eps);
    }
}

typedef struct piece_run {
    step_task *t;
    void (*fn)(step_task *, opt_param *, int64_t, int64_t);
    double sq[64];
} piece_run;

static void run_pieces(void *arg, int ith, int nth)
{
    piece_run *r = arg;
    step_task t = *r->t;
    double sq = 0.0;
    t.sq = &sq;
    for_my_elements(t.o, ith, nth, r->fn, &t);
    r->sq[ith] = sq;
}

float axnn_optim_step(axnn_optimizer *o, float lr, axnn_pool *pool)
{
    step_task t = {o, lr, 1.0f, NULL};
    for (int i = 0; i < o->np; i++) o->p[i].grad = axnn_plan_grad(o->plan, o->p[i].id);
    int nth = axnn_pool_size(pool) < 64 ? axnn_pool_size(pool) : 64;
    piece_run r = {&t, norm_piece, {0}};
    float norm = 0.0f;
    if (o->cfg.clip_norm > 0.0f) {
        axnn_pool_run(pool, run_pieces, &r);
        double sq = 0.0;
        for (int i = 0; i < nth; i++) sq += r.sq[i];
        norm = (float)sqrt(sq);
        if (norm > o->cfg.clip_norm) t.gscale = o->cfg.clip_norm / (norm + 1e-6f);
    }
    r.fn = o->cfg.kind == AXNN_OPT_SGD ? sgd_piece : adamw_piece;
    axnn_pool_run(pool, run_pieces, &r);
    o->steps++;
    return norm;
}

axnn_status axnn_optim_add_state(const axnn_optimizer *o, axnn_st_writer *w)
{
    const char *slot0 = o->cfg.kind == AXNN_OPT_SGD ? "momentum_buffer" : "exp_avg";
    for (int i = 0; i < o->np; i++) {
        const opt_param *q = &o->p[i];
        char name[AXNN_NAME_MAX + 32];
        if (q->m) {
            snprintf(name, sizeof name, "optim.%s.%s", q->v->name, slot0);
            axnn_status st = axnn_st_writer_add(w, name, AXNN_ST_F32, q->v->shape.nd, q->v->shape.d, q->m);
            if (st) return st;
        }
        if (q->s) {
            snprintf(name, sizeof name, "optim.%s.exp_avg_sq", q->v->name);
            axnn_status st = axnn_st_writer_add(w, name, AXNN_ST_F32, q->v->shape.nd, q->v->shape.d, q->s);
            if (st) return st;
        }
    }
    return AXNN_OK;
}

static axnn_status load_slot(const axnn_st_file *f, const opt_param *q, const char *slot, float *dst)
{
    char name[AXNN_NAME_MAX + 32];
    snprintf(name, sizeof name, "optim.%s.%s", q->v->name, slot);
    const axnn_st_tensor *t = axnn_st_find(f, name);
    if (!t) return axnn_error(AXNN_ERR_FORMAT, "%s: optimizer state '%s' is missing", f->path, name);
    int64_t n = 1;
    for (int i = 0; i < t->nd; i++) n *= t->shape[i];
    if (n != q->n || t->dtype != AXNN_ST_F32)
        return axnn_error(AXNN_ERR_FORMAT, "%s: optimizer state '%s' has the wrong size or dtype", f->path, name);
    memcpy(dst, t->data, (size_t)n * sizeof(float));
    return AXNN_OK;
}

axnn_status axnn_optim_load_state(axnn_optimizer *o, const axnn_st_file *f)
{
    const char *slot0 = o->cfg.kind == AXNN_OPT_SGD ? "momentum_buffer" : "exp_avg";
    for (int i = 0; i < o->np; i++) {
        const opt_param *q = &o->p[i];
        axnn_status st = AXNN_OK;
        if (q->m) st = load_slot(f, q, slot0, q->m);
        if (!st && q->s) st = load_slot(f, q, "exp_avg_sq", q->s);
        if (st) return st;
    }
    const char *steps = axnn_st_meta(f, "optim_steps");
    o->steps = steps ? atoll(steps) : 0;
    return AXNN_OK;
}
