/* Data-driven gate initialization: every gate starts as a nearest-centroid router.
 *
 * A gate's input is a post-ReLU feature map, so its global average g is positive in every
 * channel; a gate with small random weights then ranks the experts almost the same way for
 * every image and top-1 routing collapses onto one expert before training starts. Instead,
 * k-means (k = E) runs on the gate inputs g of n training images and the gate is set to
 *     W_e = s (c_e - cbar),   b_e = -s (|c_e|^2 - |cbar|^2) / 2,   cbar = mean of the c_e,
 * for which argmax_e (W_e g + b_e) = argmin_e |g - c_e|^2: the routing starts balanced and
 * follows the structure of the data. s sets the mean margin between the best and second-best
 * logit to 2 (a confident but soft softmax). Gates are set in graph order, each on features
 * computed through the gates before it. A per-token gate (input (N, T, D)) clusters token
 * vectors, from at most 20,000 tokens.
 */
#include "moe/rewrite.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

static double sq(const float *a, const float *b, int d)
{
    double s = 0.0;
    for (int j = 0; j < d; j++) s += ((double)a[j] - b[j]) * ((double)a[j] - b[j]);
    return s;
}

/* Mean over points of (second-smallest - smallest squared distance) / 2. */
static double mean_margin(const float *f, int64_t n, int d, const float *c, int E)
{
    double tot = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double b1 = DBL_MAX, b2 = DBL_MAX;
        for (int e = 0; e < E; e++) {
            double q = sq(f + i * d, c + (int64_t)e * d, d);
            if (q < b1) b2 = b1, b1 = q;
            else if (q < b2) b2 = q;
        }
        tot += (b2 - b1) / 2;
    }
    return n ? tot / (double)n : 1.0;
}

static void set_gate(axnn_graph *g, const axnn_node *nd, const float *c, int E, int d, double s)
{
    float *W = g->vals[nd->in[1]].data, *b = g->vals[nd->in[2]].data;
    double cb2 = 0.0;
    float *cbar = calloc((size_t)d, sizeof *cbar);
    for (int e = 0; e < E; e++)
        for (int j = 0; j < d; j++) cbar[j] += c[(int64_t)e * d + j] / (float)E;
    for (int j = 0; j < d; j++) cb2 += (double)cbar[j] * cbar[j];
    for (int e = 0; e < E; e++) {
        double c2 = 0.0;
        for (int j = 0; j < d; j++) {
            W[(int64_t)e * d + j] = (float)(s * (c[(int64_t)e * d + j] - cbar[j]));
            c2 += (double)c[(int64_t)e * d + j] * c[(int64_t)e * d + j];
        }
        b[e] = (float)(-s * (c2 - cb2) / 2);
    }
    free(cbar);
}

axnn_status axnn_moe_init_gates(axnn_graph *g, axnn_pool *pool, const axnn_dataset *d, const axnn_preproc *pp,
                                int n, uint64_t seed)
{
    int64_t m = n > 0 && n < d->n ? n : d->n;
    axnn_status st = AXNN_OK;
    for (int k = 0; k < g->nnodes && !st; k++) {
        const axnn_node *nd = &g->nodes[k];
        if (nd->op != &axnn_op_moe_gate) continue;
        const int E = ((const axnn_moe_gate_attr *)nd->attr)->experts;
        if (m < E) return axnn_error(AXNN_ERR_ARG, "gate initialization needs at least %d images", E);
        axnn_graph *sub = NULL;
        float *f = NULL, *c = NULL;
        int dim = 0;
        const axnn_value *x = &g->vals[nd->in[0]];
        const int64_t T = x->shape.nd == 3 ? x->shape.d[1] : 1;
        int64_t imgs = T > 1 && m * T > 20000 ? (20000 + T - 1) / T : m;
        st = moe_extract(g, nd->in[0], true, &sub);
        if (!st) st = moe_features(sub, pool, d, pp, imgs, &f, &dim);
        int64_t pts = imgs * T; /* token rows: T points of dim / T each */
        dim /= (int)T;
        if (!st && !(c = malloc((size_t)E * (size_t)dim * sizeof *c))) st = axnn_error(AXNN_ERR_NOMEM, "out of memory");
        if (!st) st = axnn_kmeans(f, pts, dim, E, 100, seed + (uint64_t)k, c, NULL, NULL);
        if (!st) {
            double margin = mean_margin(f, pts, dim, c, E);
            set_gate(g, nd, c, E, dim, margin > 0 ? 2.0 / margin : 1.0);
        }
        free(f);
        free(c);
        axnn_graph_free(sub);
    }
    return st;
}
