/* axnn/moe.h - Mixture-of-Experts topologies as graph transformations, k-means, and the cost
 * accounting of MoE graphs under approximate multipliers.
 *
 * Every topology is an ordinary axnn_graph (see src/moe/moe.c for the essay):
 *   dense    the model itself;
 *   hard     chosen units (a ResNet block's conv path, a VGG conv-BN-ReLU layer) become E
 *            expert copies plus a gate (global average pool -> linear -> softmax) that picks one
 *            expert per image (top-1); only that expert runs on the image (ragged batches,
 *            axnn_node.rows). A Switch-style load-balancing loss E * sum_e f_e * P_e trains the
 *            gate;
 *   soft     the same units; every expert runs and the output is the gate-weighted sum;
 *   cluster  E copies of the whole network; a gateway (a frozen float prefix of the dense
 *            model, then global average pooling) gives features, and the nearest of E k-means
 *            centroids picks the copy that runs on the image.
 * New nodes: moe_gate, moe_nearest (the cluster gateway's choice), moe_dispatch (gathers the
 * images routed to one expert) and moe_combine (scatters, or sums with gate weights). Expert
 * parameters are named "<module>.experts.<e>.<leaf>" (layer3.2.conv1.experts.3.weight), gates
 * "<unit>.gate.weight", cluster copies "experts.<e>.<name>" and the gateway "gateway.<name>".
 * Gates and the gateway are flagged AXNN_NF_FLOAT: numeric modes never apply to them.
 */
#ifndef AXNN_MOE_H
#define AXNN_MOE_H

#include "data.h"
#include "graph.h"
#include "plan.h"
#include "train.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AXNN_MOE_MAX_EXPERTS 16

typedef enum axnn_moe_kind { AXNN_MOE_DENSE, AXNN_MOE_HARD, AXNN_MOE_SOFT, AXNN_MOE_CLUSTER } axnn_moe_kind;
const char *axnn_moe_kind_name(axnn_moe_kind k);
/* "dense", "hard", "soft", "cluster"; false when unknown. */
bool axnn_moe_kind_parse(const char *s, axnn_moe_kind *out);

/* ---- node attributes (also hold run-time statistics) ---- */
typedef struct axnn_moe_gate_attr {
    int experts;
    float aux_weight; /* weight of the load-balancing loss (training, trainable gate) */
} axnn_moe_gate_attr;

/* Statistics the routing nodes keep in each plan (axnn_plan_node_stats), over the forward
 * calls since axnn_moe_reset_stats. */
typedef struct axnn_moe_gate_stats {
    int64_t seen, load[AXNN_MOE_MAX_EXPERTS]; /* images, and images whose top-1 is e */
    double prob_sum[AXNN_MOE_MAX_EXPERTS];
    float aux_loss; /* of the last training forward */
} axnn_moe_gate_stats;

typedef struct axnn_moe_nearest_attr {
    int experts;
} axnn_moe_nearest_attr;

typedef struct axnn_moe_nearest_stats {
    int64_t seen, load[AXNN_MOE_MAX_EXPERTS];
} axnn_moe_nearest_stats;

/* The images routed to the expert in the last call are the dispatch output's rows in the plan
 * (axnn_plan_rows); the expert's nodes run on those (node->rows_of). */
typedef struct axnn_moe_dispatch_attr {
    int expert;
} axnn_moe_dispatch_attr;

typedef struct axnn_moe_dispatch_stats {
    int64_t routed, seen; /* accumulated since axnn_moe_reset_stats */
} axnn_moe_dispatch_stats;

typedef struct axnn_moe_combine_attr {
    int experts;
    bool soft; /* gate-weighted sum of all experts; else top-1 scatter */
} axnn_moe_combine_attr;

/* ---- builder calls ---- */
/* probs (N, E) = softmax(W gap(x) + b); x (N, C, H, W) or (N, C). Parameters
 * "<name>.weight" (E, C) and "<name>.bias" (E), initialized N(0, 0.01^2) and 0 by `init`. */
int axnn_moe_gate(axnn_graph *g, const char *name, int x, int experts, float aux_weight, axnn_rng *init);
/* probs (N, E): one-hot of the nearest centroid to each row of feat (N, D); buffer
 * "<name>.centroids" (E, D). */
int axnn_moe_nearest(axnn_graph *g, const char *name, int feat, int experts);
/* The images of x whose top-1 expert (argmax of probs, first on ties) is `expert`, packed in
 * order at the front of the output; the node's attr counts them (rows). */
int axnn_moe_dispatch(axnn_graph *g, const char *name, int x, int probs, int expert);
/* Combines expert outputs ys[e] (hard: packed as by moe_dispatch; soft: whole batches). Hard:
 * y_i = ys[k_i] row of image i, times p/sg(p) (value unchanged, gradient to the gate as
 * Switch's p * expert). Soft: y_i = sum_e p_ie ys[e]_i. */
int axnn_moe_combine(axnn_graph *g, const char *name, int probs, const int *ys, int experts, bool soft);

/* ---- transformations ---- */
typedef struct axnn_moe_cfg {
    axnn_moe_kind kind;
    int experts;         /* E (default 4), 2..AXNN_MOE_MAX_EXPERTS */
    const char *units;   /* comma-separated units: ResNet blocks "layer3.2", VGG conv layers
                            "features.40", ...; NULL = axnn_moe_default_units */
    float width;         /* expert width relative to the unit's hidden channels (default 1;
                            units with a hidden layer only, e.g. ResNet blocks) */
    float aux_weight;    /* hard: load-balancing loss weight (default 0.01) */
    float noise;         /* relative noise on copied expert weights, breaks symmetry (0.01) */
    const char *gateway; /* cluster: the dense model's value where the gateway ends: a module
                            name whose output is taken ("layer1"); NULL = "layer1" (ResNet) */
    uint64_t seed;
} axnn_moe_cfg;

void axnn_moe_cfg_defaults(axnn_moe_cfg *c);
/* Default MoE units of an architecture ("layer3.2" for resnet20, the last conv layer of a VGG);
 * a static string. */
const char *axnn_moe_default_units(const axnn_graph *dense);

/* Builds the topology from a dense graph (not modified). Experts start as copies of the dense
 * unit (with `noise`), gates at small random weights. For cluster, the centroids are zero
 * until axnn_moe_cluster_fit. The new graph is not planned. */
axnn_status axnn_moe_build(const axnn_graph *dense, const axnn_moe_cfg *cfg, axnn_graph **out);
/* Cluster MoE: runs the gateway on the first n images of d (in float, eval mode), clusters the
 * features with k-means++ / Lloyd (k = E) and stores the centroids in the graph. */
axnn_status axnn_moe_cluster_fit(axnn_graph *g, axnn_pool *pool, const axnn_dataset *d,
                                 const axnn_preproc *pp, int n, uint64_t seed);
/* Initializes every gate as a nearest-centroid router on its input features (k-means, k = E,
 * over the first n images of d; see src/moe/gate_init.c), so that top-1 routing starts
 * balanced instead of collapsing onto one expert. */
axnn_status axnn_moe_init_gates(axnn_graph *g, axnn_pool *pool, const axnn_dataset *d,
                                const axnn_preproc *pp, int n, uint64_t seed);
/* Freezes (or unfreezes) gates and the gateway (AXNN_VF_FROZEN). Re-plan afterwards. */
void axnn_moe_freeze_gates(axnn_graph *g, bool frozen);

/* ---- statistics (kept per plan: the routing that plan p saw) ---- */
void axnn_moe_reset_stats(axnn_plan *p);
/* Per-expert share of the images (sum 1) for the router of MoE unit `unit` (0-based, in graph
 * order) in plan p; returns E, or 0 when there is no such router. */
int axnn_moe_loads(const axnn_plan *p, int unit, double *share);
int axnn_moe_units(const axnn_graph *g); /* routers (gates and nearest nodes) in the graph */
/* Name of router `unit` ("layer3.2.gate", "gateway.nearest"). */
const char *axnn_moe_unit_name(const axnn_graph *g, int unit);
/* Sum of the load-balancing losses of the last training forward of p (weighted). */
float axnn_moe_aux_loss(const axnn_plan *p);

/* ---- k-means ---- */
/* Clusters n points of dimension d (row-major) into k clusters: k-means++ seeding from `seed`,
 * then Lloyd iterations until no assignment changes (at most max_iter). centroids: k x d;
 * assign (may be NULL): n. Deterministic. Returns the final inertia (sum of squared
 * distances) in *inertia (may be NULL). */
axnn_status axnn_kmeans(const float *x, int64_t n, int d, int k, int max_iter, uint64_t seed,
                        float *centroids, int *assign, double *inertia);
/* Index of the nearest centroid (squared Euclidean; first on ties). */
int axnn_kmeans_nearest(const float *centroids, int k, int d, const float *p);

/* ---- cost ---- */
typedef struct axnn_moe_cost {
    double static_macs;  /* per image, every node (all experts) */
    double eff_macs;     /* per image, expert nodes weighted by their routed share */
    double approx_macs;  /* effective MACs on an approximate multiplier */
    double exact_macs;   /* effective MACs on exact arithmetic (int8, float, gates, gateway) */
    double router_macs;  /* effective MACs of gates, gateway and routing */
    double f_apx;        /* approx_macs / eff_macs */
} axnn_moe_cost;

/* Costs of g with its current numeric modes and the routing statistics of plan p
 * (axnn_moe_reset_stats, then evaluate on p, then this). With no statistics (p NULL, or none
 * seen yet), hard experts count 1/E each. */
void axnn_moe_cost_of(const axnn_graph *g, const axnn_plan *p, axnn_moe_cost *out);
/* P_norm = (M_eff / M_base) * (f_apx * P_mul / P_exact + (1 - f_apx)). */
double axnn_moe_pnorm(double eff_macs, double base_macs, double f_apx, double p_mul, double p_exact);

#ifdef __cplusplus
}
#endif
#endif
