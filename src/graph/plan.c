/* The memory planner.
 *
 * A plan (axnn/plan.h) keeps activations, gradients, saved state and scratch in four arenas,
 * laid out once per (batch, threads, training) and reused by every call; nothing is allocated
 * while a batch runs. The graph holds none of it, so plans of one graph are independent.
 *
 * Inference plans reuse memory: an activation lives from its producer to its last consumer, and
 * two activations whose lifetimes do not overlap may share bytes. Training plans keep every
 * forward activation (the backward pass reads most of them) and reuse gradient memory: in the
 * backward order, the gradient of an activation lives from the first consumer that writes it to
 * its producer, which reads it last. The first writer stores, later writers add (node->accum).
 *
 * Training plans count gradient lifetimes in the steps at which nodes run: the nodes of a
 * training-mode chain (fuse.c) after its conv write their input gradients at the chain's tail.
 *
 * Eval-mode fusion (fuse.c) changes the picture for inference plans: values inside a fused
 * chain get no memory, and lifetimes count in execution steps (axnn_fuse_step), since a chain
 * runs at its tail's position.
 *
 * Micro-batches. An inference plan for a graph whose weights are small (a CIFAR ResNet) lays
 * out activations for a micro-batch of images (axnn_plan_micro_batch) and the executor runs
 * the batch through the graph a micro-batch at a time: a ResNet's activations for 128 images
 * (8 MB per tensor) spill from the caches between nodes, those of 32 images do not. Only the
 * logits (read by the caller and by the loss, which runs once on the whole batch) keep the
 * planned batch. The graph may hold only node types that treat images independently in eval
 * mode (AXNN_OPF_PER_IMAGE), so the results are those of a whole-batch run, bit for bit. Graphs with large weights (VGG) run
 * whole batches: each micro-batch would read (and pack) all weights again.
 *
 * Offsets come from the greedy-by-size heuristic: place the largest block first at the lowest
 * offset that does not collide with any placed block whose lifetime overlaps. It is quadratic in
 * the number of values, which is a few hundred.
 */
#include "graph/plan_impl.h"

#include <stdlib.h>
#include <string.h>

typedef struct block {
    int id;
    int start, end; /* inclusive lifetime in steps */
    size_t size, offset;
} block;

static int by_size_desc(const void *a, const void *b)
{
    const block *x = a, *y = b;
    if (x->size != y->size) return x->size < y->size ? 1 : -1;
    return x->id - y->id;
}

/* Assigns offsets; returns the arena size. */
static size_t place_blocks(block *b, int n)
{
    qsort(b, (size_t)n, sizeof *b, by_size_desc);
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        size_t off = 0;
        bool moved = true;
        while (moved) {
            moved = false;
            for (int j = 0; j < i; j++) {
                if (b[j].end < b[i].start || b[i].end < b[j].start) continue;
                if (off < b[j].offset + b[j].size && b[j].offset < off + b[i].size) {
                    off = b[j].offset + b[j].size;
                    moved = true;
                }
            }
        }
        b[i].offset = off;
        if (off + b[i].size > total) total = off + b[i].size;
    }
    return total;
}

static size_t round64(size_t b) { return (b + 63) & ~(size_t)63; }

static size_t tensor_bytes(const axnn_plan *p, int v)
{
    return round64((size_t)axnn_shape_numel(&p->t[v].shape) * axnn_dtype_size(p->g->vals[v].dtype));
}

/* Tensors take the graph's shapes; batched values get the batch, activations other than the
 * outputs get `act` (the micro-batch). */
static void set_shapes(axnn_plan *p, int batch, int act)
{
    const axnn_graph *g = p->g;
    for (int i = 0; i < g->nvals; i++) {
        const axnn_value *v = &g->vals[i];
        axnn_tensor *t = &p->t[i];
        t->shape = v->shape;
        t->rows = batch;
        if (v->flags & AXNN_VF_BATCHED) t->shape.d[0] = v->kind == AXNN_VAL_ACT && !axnn_graph_is_output(g, i) ? act : batch;
    }
}

#define MICRO_WEIGHT_BYTES (4u << 20) /* larger weights: whole batches */
#define MICRO_ACT_BYTES (2u << 20)    /* target size of the largest activation of a micro-batch */

/* The micro-batch of an inference plan (0: whole batches). A pure function of the graph and
 * the plan's settings. Only graphs with one image input and the logits (and loss) as outputs,
 * whose ops all treat images independently, qualify. */
static int micro_batch(const axnn_plan *p)
{
    const axnn_graph *g = p->g;
    if (p->planned_training || g->logits < 0 || g->input < 0 || p->cfg.micro_batch < 0) return 0;
    for (int i = 0; i < g->ninputs; i++)
        if (g->inputs[i] != g->input && g->inputs[i] != g->label) return 0;
    for (int i = 0; i < g->noutputs; i++)
        if (g->outputs[i] != g->logits && g->outputs[i] != g->loss) return 0;
    for (int k = 0; k < g->nnodes; k++)
        if (!(g->nodes[k].op->flags & AXNN_OPF_PER_IMAGE)) return 0; /* e.g. Mixture-of-Experts routing */
    if (p->cfg.micro_batch > 0) return p->cfg.micro_batch < p->batch ? p->cfg.micro_batch : 0;
    const int env = axnn_settings_get()->micro_batch;
    if (env >= 0) return env > 0 && env < p->batch ? env : 0;
    size_t wbytes = 0, abytes = 0;
    for (int i = 0; i < g->nvals; i++) {
        const axnn_value *v = &g->vals[i];
        size_t per = (size_t)axnn_dtype_size(v->dtype);
        for (int d = 1; d < v->shape.nd; d++) per *= (size_t)v->shape.d[d];
        if (v->kind == AXNN_VAL_PARAM) wbytes += per * (size_t)v->shape.d[0];
        if (v->kind == AXNN_VAL_ACT && (v->flags & AXNN_VF_BATCHED) && per > abytes) abytes = per;
    }
    if (wbytes > MICRO_WEIGHT_BYTES || abytes == 0) return 0;
    int mb = (int)(MICRO_ACT_BYTES / abytes);
    mb = mb < 8 ? 8 : mb;
    return mb < p->batch ? mb : 0;
}

/* Which values get a gradient: trainable parameters, and activations computed from them. */
static void mark_grads(axnn_plan *p)
{
    const axnn_graph *g = p->g;
    const bool training = p->planned_training;
    for (int i = 0; i < g->nvals; i++) {
        const axnn_value *v = &g->vals[i];
        p->needs_grad[i] = training && v->kind == AXNN_VAL_PARAM && !(v->flags & AXNN_VF_FROZEN);
    }
    if (!training) return;
    for (int k = 0; k < g->nnodes; k++) {
        const axnn_node *nd = &g->nodes[k];
        if (!nd->op->backward) continue;
        for (int i = 0; i < nd->nin; i++)
            if (p->needs_grad[nd->in[i]]) p->needs_grad[nd->out] = true;
    }
}

static void free_layout(axnn_plan *p)
{
    const axnn_backend *be = p->be;
    be->free(p->act_arena);
    be->free(p->grad_arena);
    be->free(p->state_arena);
    be->free(p->scratch);
    p->act_arena = p->grad_arena = p->state_arena = p->scratch = NULL;
    const axnn_graph *g = p->g;
    for (int i = 0; i < g->nvals && p->t; i++) {
        axnn_tensor *t = &p->t[i];
        if (g->vals[i].kind == AXNN_VAL_PARAM) be->free(t->grad);
        t->data = NULL;
        t->grad = NULL;
    }
    for (int k = 0; k < g->nnodes && p->nrt; k++) p->nrt[k].state = NULL;
}

static axnn_status plan_activations(axnn_plan *p)
{
    const axnn_graph *g = p->g;
    const bool training = p->planned_training;
    block *b = calloc((size_t)g->nvals, sizeof *b);
    if (!b) return axnn_error(AXNN_ERR_NOMEM, "out of memory planning the graph");
    int nb = 0;
    for (int i = 0; i < g->nvals; i++) {
        const axnn_value *v = &g->vals[i];
        if (v->kind != AXNN_VAL_ACT) continue;
        if (!training && axnn_fuse_internal(p, i)) continue; /* never materialized */
        int start = training ? v->producer : axnn_fuse_step(p, v->producer), end = start;
        for (int k = v->producer + 1; k < g->nnodes; k++)
            for (int j = 0; j < g->nodes[k].nin; j++) {
                int step = training ? k : axnn_fuse_step(p, k);
                if (g->nodes[k].in[j] == i && step > end) end = step;
            }
        if (training || axnn_graph_is_output(g, i) || v->nconsumers == 0) end = g->nnodes;
        if (i == g->logits && p->micro) start = 0; /* written by every micro-batch */
        b[nb++] = (block){i, start, end, tensor_bytes(p, i), 0};
    }
    p->act_bytes = place_blocks(b, nb);
    p->act_arena = p->be->alloc(p->act_bytes ? p->act_bytes : 64);
    if (!p->act_arena) {
        free(b);
        return axnn_error(AXNN_ERR_NOMEM, "out of memory for activations (%zu bytes)", p->act_bytes);
    }
    for (int i = 0; i < nb; i++) p->t[b[i].id].data = (char *)p->act_arena + b[i].offset;
    for (int i = 0; i < g->nvals; i++)
        if (g->vals[i].kind == AXNN_VAL_PARAM || g->vals[i].kind == AXNN_VAL_BUFFER) p->t[i].data = g->vals[i].data;
    free(b);
    return AXNN_OK;
}

/* The index at whose place node k runs in training mode: a training chain's nodes after its
 * head run at the tail (graph/fuse.c), and write their input gradients there. */
static int train_step(const axnn_plan *p, int k)
{
    const axnn_fusion *f = &p->nrt[k].fuse;
    int add;
    if (f->role != AXNN_FUSE_INNER && f->role != AXNN_FUSE_TAIL) return k;
    return axnn_fuse_train(p, f->head, &add) ? f->tail : k;
}

static axnn_status plan_param_grads(axnn_plan *p)
{
    const axnn_graph *g = p->g;
    for (int i = 0; i < g->nvals; i++) {
        const axnn_value *v = &g->vals[i];
        if (v->kind != AXNN_VAL_PARAM || !p->needs_grad[i]) continue;
        size_t bytes = (size_t)axnn_shape_numel(&v->shape) * sizeof(float);
        p->t[i].grad = p->be->alloc(bytes ? bytes : 64);
        if (!p->t[i].grad) return axnn_error(AXNN_ERR_NOMEM, "out of memory for the gradient of %s", v->name);
        memset(p->t[i].grad, 0, bytes);
    }
    return AXNN_OK;
}

static axnn_status plan_gradients(axnn_plan *p)
{
    const axnn_graph *g = p->g;
    /* Step s of the backward pass runs node nnodes-1-s. */
    block *b = calloc((size_t)g->nvals, sizeof *b);
    bool *written = calloc((size_t)g->nvals, sizeof *written);
    if (!b || !written) {
        free(b);
        free(written);
        return axnn_error(AXNN_ERR_NOMEM, "out of memory planning gradients");
    }
    int nb = 0;
    for (int i = 0; i < g->nvals; i++) {
        const axnn_value *v = &g->vals[i];
        if (v->kind != AXNN_VAL_ACT || !p->needs_grad[i]) continue;
        int first = g->nnodes - 1 - train_step(p, v->producer), start = first;
        for (int k = g->nnodes - 1; k > v->producer; k--)
            for (int j = 0; j < g->nodes[k].nin; j++) {
                int step = g->nnodes - 1 - train_step(p, k);
                if (g->nodes[k].in[j] == i && step < start) start = step;
            }
        if (i == g->loss || axnn_graph_is_output(g, i)) start = 0;
        b[nb++] = (block){i, start, first, tensor_bytes(p, i), 0};
    }
    p->grad_bytes = place_blocks(b, nb);
    p->grad_arena = p->be->alloc(p->grad_bytes ? p->grad_bytes : 64);
    if (!p->grad_arena) {
        free(b);
        free(written);
        return axnn_error(AXNN_ERR_NOMEM, "out of memory for gradients (%zu bytes)", p->grad_bytes);
    }
    for (int i = 0; i < nb; i++) p->t[b[i].id].grad = (float *)((char *)p->grad_arena + b[i].offset);
    free(b);
    axnn_status st = plan_param_grads(p);
    /* Parameters always accumulate (the trainer zeroes them); activations: first writer stores. */
    for (int k = g->nnodes - 1; k >= 0 && !st; k--) {
        const axnn_node *nd = &g->nodes[k];
        for (int j = 0; j < nd->nin; j++) {
            int id = nd->in[j];
            p->nrt[k].accum[j] = g->vals[id].kind == AXNN_VAL_PARAM || written[id];
            written[id] = true;
        }
    }
    free(written);
    return st;
}

/* Node state, scratch and shared memory: the largest any node (or its extension) asks for. */
static axnn_status plan_node_memory(axnn_plan *p, int act_batch)
{
    const axnn_graph *g = p->g;
    const bool training = p->planned_training;
    const int batch = p->batch, nth = p->nthreads;
    size_t state = 0, scratch = 0, shared = 0;
    for (int k = 0; k < g->nnodes; k++) {
        const axnn_node *nd = &g->nodes[k];
        const axnn_ext_ops *x = nd->ext_ops;
        if (training && nd->op->state_bytes) state += round64(nd->op->state_bytes(g, nd, batch));
        size_t s = nd->op->scratch_bytes ? nd->op->scratch_bytes(g, nd, act_batch, nth, training) : 0;
        if (x && x->scratch_bytes) {
            size_t xs = x->scratch_bytes(g, nd, act_batch, nth, training);
            s = xs > s ? xs : s;
        }
        scratch = s > scratch ? s : scratch;
        s = nd->op->shared_bytes ? nd->op->shared_bytes(g, nd, act_batch, nth, training) : 0;
        if (x && x->shared_bytes) {
            size_t xs = x->shared_bytes(g, nd, act_batch, nth, training);
            s = xs > s ? xs : s;
        }
        shared = s > shared ? s : shared;
    }
    p->state_bytes = state;
    p->scratch_per_thread = round64(scratch);
    p->shared_bytes = round64(shared);
    p->state_arena = p->be->alloc(state ? state : 64);
    /* The shared region follows the per-thread slices (see axnn_exec.shared). */
    p->scratch = p->be->alloc(p->scratch_per_thread * (size_t)nth + p->shared_bytes + 64);
    if (!p->state_arena || !p->scratch) return axnn_error(AXNN_ERR_NOMEM, "out of memory for node state and scratch");
    size_t off = 0;
    for (int k = 0; k < g->nnodes && training; k++) {
        const axnn_node *nd = &g->nodes[k];
        if (!nd->op->state_bytes) continue;
        p->nrt[k].state = (char *)p->state_arena + off;
        off += round64(nd->op->state_bytes(g, nd, batch));
    }
    return AXNN_OK;
}

/* Per-node statistics, kept across re-plans (the node list of a graph never shrinks). */
static axnn_status plan_stats(axnn_plan *p)
{
    const axnn_graph *g = p->g;
    if (p->stats_arena) return AXNN_OK;
    size_t total = 0;
    for (int k = 0; k < g->nnodes; k++)
        if (g->nodes[k].op->stats_bytes) total += round64(g->nodes[k].op->stats_bytes(g, &g->nodes[k]));
    p->stats_total = total;
    p->stats_arena = p->be->alloc(total ? total : 64);
    if (!p->stats_arena) return axnn_error(AXNN_ERR_NOMEM, "out of memory for node statistics");
    memset(p->stats_arena, 0, total ? total : 64);
    size_t off = 0;
    for (int k = 0; k < g->nnodes; k++) {
        if (!g->nodes[k].op->stats_bytes) continue;
        p->nrt[k].stats = (char *)p->stats_arena + off;
        off += round64(g->nodes[k].op->stats_bytes(g, &g->nodes[k]));
    }
    return AXNN_OK;
}

axnn_status axnn_plan_layout(axnn_plan *p)
{
    free_layout(p);
    axnn_graph *g = p->g;
    mark_grads(p);
    p->n = p->batch;
    p->version = g->version;
    for (int k = 0; k < g->nnodes; k++) {
        memset(&p->nrt[k].fuse, 0, sizeof p->nrt[k].fuse);
        memset(p->nrt[k].accum, 0, sizeof p->nrt[k].accum);
    }
    p->micro = micro_batch(p);
    const int act_batch = p->micro ? p->micro : p->batch;
    set_shapes(p, p->batch, act_batch);
    axnn_plan_fuse(p);
    axnn_status st = plan_activations(p);
    if (!st && p->planned_training) st = plan_gradients(p);
    if (!st) st = plan_node_memory(p, act_batch);
    if (!st) st = plan_stats(p);
    if (st) free_layout(p);
    return st;
}

axnn_status axnn_plan_sync(axnn_plan *p)
{
    if (p->version == p->g->version && p->act_arena) return AXNN_OK;
    bool training = p->training;
    axnn_status st = axnn_plan_layout(p);
    p->training = training && p->planned_training;
    return st;
}

axnn_status axnn_plan_create(axnn_graph *g, const axnn_plan_cfg *cfg, axnn_plan **out)
{
    *out = NULL;
    if (cfg->batch < 1) return axnn_error(AXNN_ERR_ARG, "batch size must be at least 1 (got %d)", cfg->batch);
    axnn_plan *p = calloc(1, sizeof *p);
    if (!p) return axnn_error(AXNN_ERR_NOMEM, "out of memory for a plan");
    p->g = g;
    p->cfg = *cfg;
    p->be = axnn_backend_cpu();
    p->batch = cfg->batch;
    p->nthreads = cfg->nthreads < 1 ? 1 : cfg->nthreads;
    p->planned_training = p->training = cfg->training;
    axnn_plan_seed(p, g->seed);
    p->t = calloc((size_t)g->nvals + 1, sizeof *p->t);
    p->nrt = calloc((size_t)g->nnodes + 1, sizeof *p->nrt);
    p->needs_grad = calloc((size_t)g->nvals + 1, sizeof *p->needs_grad);
    axnn_status st = p->t && p->nrt && p->needs_grad ? axnn_plan_layout(p)
                                                      : axnn_error(AXNN_ERR_NOMEM, "out of memory for a plan");
    if (st) {
        axnn_plan_free(p);
        return st;
    }
    *out = p;
    return AXNN_OK;
}

axnn_plan *axnn_plan_new(axnn_graph *g, int batch, int nthreads, bool training)
{
    axnn_plan *p;
    axnn_plan_cfg c = {.batch = batch, .nthreads = nthreads, .training = training};
    return axnn_plan_create(g, &c, &p) ? NULL : p;
}

void axnn_plan_free(axnn_plan *p)
{
    if (!p) return;
    free_layout(p);
    p->be->free(p->stats_arena);
    free(p->t);
    free(p->nrt);
    free(p->needs_grad);
    free(p);
}

axnn_graph *axnn_plan_graph(const axnn_plan *p) { return p->g; }
int axnn_plan_batch(const axnn_plan *p) { return p->batch; }
int axnn_plan_threads(const axnn_plan *p) { return p->nthreads; }
bool axnn_plan_trainable(const axnn_plan *p) { return p->planned_training; }
bool axnn_plan_training(const axnn_plan *p) { return p->training; }
void axnn_plan_set_training(axnn_plan *p, bool training) { p->training = training && p->planned_training; }

void axnn_plan_seed(axnn_plan *p, uint64_t seed)
{
    axnn_rng r;
    axnn_rng_seed(&r, seed);
    p->seed = r.s[0];
}

uint64_t axnn_plan_step(const axnn_plan *p) { return p->step; }
void axnn_plan_set_step(axnn_plan *p, uint64_t step) { p->step = step; }

void *axnn_plan_data(const axnn_plan *p, int v)
{
    return v >= 0 && v < p->g->nvals ? p->t[v].data : NULL;
}

float *axnn_plan_grad(const axnn_plan *p, int v)
{
    return v >= 0 && v < p->g->nvals ? p->t[v].grad : NULL;
}

int axnn_plan_rows(const axnn_plan *p, int v) { return v >= 0 && v < p->g->nvals ? p->t[v].rows : 0; }

void *axnn_plan_node_stats(const axnn_plan *p, int node)
{
    return node >= 0 && node < p->g->nnodes ? p->nrt[node].stats : NULL;
}

void axnn_plan_reset_stats(axnn_plan *p)
{
    if (p->stats_arena) memset(p->stats_arena, 0, p->stats_total ? p->stats_total : 64);
}

axnn_fused axnn_plan_fusion(const axnn_plan *p, int k, int *head)
{
    const axnn_fusion *f = &p->nrt[k].fuse;
    if (head) *head = f->role == AXNN_FUSE_NONE ? k : f->role == AXNN_FUSE_HEAD ? k : f->head;
    return (axnn_fused)f->role; /* the same order as axnn_fuse_role */
}

size_t axnn_plan_bytes(const axnn_plan *p)
{
    return p->act_bytes + p->grad_bytes + p->state_bytes + p->scratch_per_thread * (size_t)p->nthreads +
           p->shared_bytes + p->stats_total;
}
