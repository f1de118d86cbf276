/* The memory planner.
 *
 * Activations, gradients, saved state and scratch live in four arenas, laid out once per
 * (batch, threads, training) and reused by every call; nothing is allocated while a batch runs.
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
 * mode (per_image_op), so the results are those of a whole-batch run, bit for bit. Graphs with large weights (VGG) run
 * whole batches: each micro-batch would read (and pack) all weights again.
 *
 * Offsets come from the greedy-by-size heuristic: place the largest block first at the lowest
 * offset that does not collide with any placed block whose lifetime overlaps. It is quadratic in
 * the number of values, which is a few hundred.
 */
#include "axnn/graph.h"

#include "graph/fuse.h"
#include "graph/plan.h"
#include "ops/op.h"

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

static size_t value_bytes(const axnn_value *v)
{
    size_t b = (size_t)axnn_shape_numel(&v->shape) * axnn_dtype_size(v->dtype);
    return (b + 63) & ~(size_t)63;
}

/* Batched values get the batch; activations other than the logits get `act` (the micro-batch). */
static void set_batch(axnn_graph *g, int batch, int act)
{
    for (int i = 0; i < g->nvals; i++) {
        axnn_value *v = &g->vals[i];
        if (!(v->flags & AXNN_VF_BATCHED)) continue;
        v->shape.d[0] = v->kind == AXNN_VAL_ACT && i != g->logits ? act : batch;
    }
}

#define MICRO_WEIGHT_BYTES (4u << 20) /* larger weights: whole batches */
#define MICRO_ACT_BYTES (2u << 20)    /* target size of the largest activation of a micro-batch */

/* Node types known to treat the images of a batch independently in eval mode. */
static bool per_image_op(const char *op)
{
    static const char *const ok[] = {"conv2d",  "batchnorm2d",    "relu",    "add",
                                     "maxpool2d", "avgpool2d",    "global_avgpool", "flatten",
                                     "linear",  "dropout",        "softmax_ce"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (!strcmp(op, ok[i])) return true;
    return false;
}

int axnn_plan_micro_batch(const axnn_graph *g)
{
    if (g->planned_training || g->logits < 0) return 0;
    for (int k = 0; k < g->nnodes; k++)
        if (!per_image_op(g->nodes[k].op->name)) return 0; /* e.g. Mixture-of-Experts routing */
    const char *env = getenv("AXNN_MICRO_BATCH");
    if (env) {
        int mb = atoi(env);
        return mb > 0 && mb < g->batch ? mb : 0;
    }
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
    return mb < g->batch ? mb : 0;
}

/* Which values get a gradient: trainable parameters, and activations computed from them. */
static void mark_grads(axnn_graph *g, bool training)
{
    for (int i = 0; i < g->nvals; i++) {
        axnn_value *v = &g->vals[i];
        v->flags &= ~AXNN_VF_NEEDS_GRAD;
        if (training && v->kind == AXNN_VAL_PARAM && !(v->flags & AXNN_VF_FROZEN))
            v->flags |= AXNN_VF_NEEDS_GRAD;
    }
    if (!training) return;
    for (int k = 0; k < g->nnodes; k++) {
        axnn_node *nd = &g->nodes[k];
        if (!nd->op->backward) continue;
        for (int i = 0; i < nd->nin; i++)
            if (g->vals[nd->in[i]].flags & AXNN_VF_NEEDS_GRAD) g->vals[nd->out].flags |= AXNN_VF_NEEDS_GRAD;
    }
}

static void free_plan(axnn_graph *g)
{
    axnn_free(g->act_arena);
    axnn_free(g->grad_arena);
    axnn_free(g->state_arena);
    axnn_free(g->scratch);
    g->act_arena = g->grad_arena = g->state_arena = g->scratch = NULL;
    for (int i = 0; i < g->nvals; i++) {
        axnn_value *v = &g->vals[i];
        if (v->kind == AXNN_VAL_PARAM) {
            axnn_free(v->grad);
        } else if (v->kind != AXNN_VAL_BUFFER) {
            v->data = NULL;
        }
        v->grad = NULL;
    }
    for (int k = 0; k < g->nnodes; k++) g->nodes[k].state = NULL;
}

static axnn_status plan_activations(axnn_graph *g, bool training)
{
    block *b = calloc((size_t)g->nvals, sizeof *b);
    if (!b) return axnn_error(AXNN_ERR_NOMEM, "out of memory planning the graph");
    int nb = 0;
    for (int i = 0; i < g->nvals; i++) {
        axnn_value *v = &g->vals[i];
        if (v->kind != AXNN_VAL_ACT) continue;
        if (!training && axnn_fuse_internal(g, i)) continue; /* never materialized */
        int start = training ? v->producer : axnn_fuse_step(g, v->producer), end = start;
        for (int k = v->producer + 1; k < g->nnodes; k++)
            for (int j = 0; j < g->nodes[k].nin; j++) {
                int step = training ? k : axnn_fuse_step(g, k);
                if (g->nodes[k].in[j] == i && step > end) end = step;
            }
        if (training || i == g->logits || i == g->loss || v->nconsumers == 0) end = g->nnodes;
        if (i == g->logits && axnn_plan_micro_batch(g)) start = 0; /* written by every micro-batch */
        b[nb++] = (block){i, start, end, value_bytes(v), 0};
    }
    g->act_bytes = place_blocks(b, nb);
    g->act_arena = axnn_alloc(g->act_bytes);
    if (!g->act_arena) {
        free(b);
        return axnn_error(AXNN_ERR_NOMEM, "out of memory for activations (%zu bytes)", g->act_bytes);
    }
    for (int i = 0; i < nb; i++) g->vals[b[i].id].data = (char *)g->act_arena + b[i].offset;
    free(b);
    return AXNN_OK;
}

/* The index at whose place node k runs in training mode: a training chain's nodes after its
 * head run at the tail (graph/fuse.c), and write their input gradients there. */
static int train_step(const axnn_graph *g, int k)
{
    const axnn_fusion *f = &g->nodes[k].fuse;
    int add;
    if (f->role != AXNN_FUSE_INNER && f->role != AXNN_FUSE_TAIL) return k;
    return axnn_fuse_train(g, f->head, &add) ? f->tail : k;
}

static axnn_status plan_gradients(axnn_graph *g)
{
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
        axnn_value *v = &g->vals[i];
        if (v->kind != AXNN_VAL_ACT || !(v->flags & AXNN_VF_NEEDS_GRAD)) continue;
        int first = g->nnodes - 1 - train_step(g, v->producer), start = first;
        for (int k = g->nnodes - 1; k > v->producer; k--)
            for (int j = 0; j < g->nodes[k].nin; j++) {
                int step = g->nnodes - 1 - train_step(g, k);
                if (g->nodes[k].in[j] == i && step < start) start = step;
            }
        if (i == g->loss) start = 0;
        b[nb++] = (block){i, start, first, value_bytes(v), 0};
    }
    g->grad_bytes = place_blocks(b, nb);
    g->grad_arena = axnn_alloc(g->grad_bytes ? g->grad_bytes : 64);
    if (!g->grad_arena) {
        free(b);
        free(written);
        return axnn_error(AXNN_ERR_NOMEM, "out of memory for gradients (%zu bytes)", g->grad_bytes);
    }
    for (int i = 0; i < nb; i++) g->vals[b[i].id].grad = (float *)((char *)g->grad_arena + b[i].offset);
    free(b);

    for (int i = 0; i < g->nvals; i++) {
        axnn_value *v = &g->vals[i];
        if (v->kind == AXNN_VAL_PARAM && (v->flags & AXNN_VF_NEEDS_GRAD)) {
            v->grad = axnn_calloc((size_t)axnn_shape_numel(&v->shape) * sizeof(float));
            if (!v->grad) {
                free(written);
                return axnn_error(AXNN_ERR_NOMEM, "out of memory for the gradient of %s", v->name);
            }
        }
    }
    /* Parameters always accumulate (the trainer zeroes them); activations: first writer stores. */
    for (int k = g->nnodes - 1; k >= 0; k--) {
        axnn_node *nd = &g->nodes[k];
        for (int j = 0; j < nd->nin; j++) {
            int id = nd->in[j];
            nd->accum[j] = g->vals[id].kind == AXNN_VAL_PARAM || written[id];
            written[id] = true;
        }
    }
    free(written);
    return AXNN_OK;
}

axnn_status axnn_graph_plan(axnn_graph *g, int batch, int nthreads, bool training)
{
    if (batch < 1) return axnn_error(AXNN_ERR_ARG, "batch size must be at least 1 (got %d)", batch);
    if (nthreads < 1) nthreads = 1;
    free_plan(g);
    mark_grads(g, training);
    g->batch = batch;
    g->n = batch;
    g->nthreads = nthreads;
    g->planned_training = training;
    g->training = training;
    const int micro = axnn_plan_micro_batch(g), act_batch = micro ? micro : batch;
    set_batch(g, batch, act_batch);
    axnn_graph_fuse(g);

    axnn_status st = plan_activations(g, training);
    if (st == AXNN_OK && training) st = plan_gradients(g);
    if (st != AXNN_OK) {
        free_plan(g);
        return st;
    }

    size_t state = 0, scratch = 0, shared = 0;
    for (int k = 0; k < g->nnodes; k++) {
        axnn_node *nd = &g->nodes[k];
        if (training && nd->op->state_bytes)
            state += (nd->op->state_bytes(g, nd, batch) + 63) & ~(size_t)63;
        if (nd->op->scratch_bytes) {
            size_t s = nd->op->scratch_bytes(g, nd, act_batch, nthreads);
            if (s > scratch) scratch = s;
        }
        if (nd->op->shared_bytes) {
            size_t s = nd->op->shared_bytes(g, nd, act_batch, nthreads);
            if (s > shared) shared = s;
        }
    }
    g->state_bytes = state;
    g->scratch_per_thread = (scratch + 63) & ~(size_t)63;
    g->state_arena = axnn_alloc(state ? state : 64);
    /* The shared region follows the per-thread slices (see axnn_exec.shared). */
    g->scratch = axnn_alloc(g->scratch_per_thread * (size_t)nthreads + ((shared + 63) & ~(size_t)63) + 64);
    if (!g->state_arena || !g->scratch) {
        free_plan(g);
        return axnn_error(AXNN_ERR_NOMEM, "out of memory for node state and scratch");
    }
    size_t off = 0;
    for (int k = 0; k < g->nnodes && training; k++) {
        axnn_node *nd = &g->nodes[k];
        if (!nd->op->state_bytes) continue;
        nd->state = (char *)g->state_arena + off;
        off += (nd->op->state_bytes(g, nd, batch) + 63) & ~(size_t)63;
    }
    return AXNN_OK;
}
