/* Internal state of quantized execution (see axnn/quant.h).
 *
 * Multipliers are loaded once per graph and shared by nodes (axnn_qmul: the table, its
 * weight-major planes for the SIMD kernel, and its decomposition when one exists). Each conv or
 * linear node in INT8/TABLE mode carries an axnn_qnode in node->ext: its quantized weights,
 * scales, calibration statistics and the kernel that runs it.
 */
#ifndef AXNN_QUANT_QSTATE_H
#define AXNN_QUANT_QSTATE_H

#include "axnn/quant.h"
#include "kernels/lut-gemm/lut-gemm.h"

#define AXNN_QHIST 2048

typedef struct axnn_qmul {
    char name[128];
    axnn_mul *mul;  /* NULL: exact int8 */
    bool exact;     /* the table holds exact products (or mul == NULL) */
    axnn_lut8 *lut; /* prepared planes (table mode) */
    bool have_decomp;
    axnn_mul_decomp dec;
    int8_t fa[AXNN_MUL_MAX_RANK][256]; /* f_i(a) as int8, index a + 128 */
    int8_t gb[AXNN_MUL_MAX_RANK][256]; /* g_i(b) as int8 */
    int8_t fmap[AXNN_MUL_MAX_RANK][256]; /* f_i for the quad layout (s8-conv.h): [(uint8_t)a] = f_i(a) + 128 */
    axnn_qkernel kernel; /* forced or the only choice; AUTO = LUT or DECOMP, timed per node */
} axnn_qmul;

typedef struct axnn_qnode {
    axnn_numeric mode;
    axnn_qmul *qm;
    axnn_qkernel kernel; /* this node's kernel; AUTO until timed on its first forward */
    int64_t rows, K;  /* weight matrix: output channels x reduction */
    float in_scale;   /* 0 until calibrated */
    float *w_scale;   /* rows */
    int8_t *wq;       /* rows x K */
    int8_t *wq_aug;   /* decomposition: rows x K*(1+rank): [w, g_1(w), ..., g_r(w)] */
    int cin, khw;     /* K = cin * khw (conv: input channels, kernel taps; linear: K, 1) */
    bool conv;
    /* on CPUs with AVX-512 VNNI, wq and wq_aug packed once per weight update (NULL otherwise):
     * conv nodes for the int8 convolution kernel (kernels/s8-gemm/s8-conv.h, terms = 1 + rank),
     * linear nodes as plain rows x K and rows x K(1+rank) matrices for
     * axnn_s8_gemm_packed_avx512vnni */
    void *wpack, *wpack_aug;
    uint64_t weights_version; /* graph step at which wq was made */
    bool weights_fresh;
    /* calibration */
    int calib;        /* 0 off, 1 collecting max, 2 collecting histogram */
    double amax;
    uint64_t hist[AXNN_QHIST];
    uint64_t count;
} axnn_qnode;

typedef struct axnn_quant_state {
    axnn_qmul *muls[64];
    int nmuls;
    axnn_quant_cfg cfg;
} axnn_quant_state;

/* The extension methods of quantized conv2d / linear nodes and of attention nodes whose
 * products run in int8 (src/quant/hooks.c): the graph runs them through node->ext_ops. */
extern const axnn_ext_ops axnn_qnode_ext_ops, axnn_qattn_ext_ops;
/* The graph's quantization state (graph->ext), or NULL. */
struct axnn_quant_state;
struct axnn_quant_state *axnn_quant_state_of(const axnn_graph *g);
/* The node's quantization state, or NULL when it runs in float. */
static inline axnn_qnode *axnn_qnode_of(const axnn_node *nd)
{
    return nd->ext_ops == &axnn_qnode_ext_ops ? (axnn_qnode *)nd->ext : NULL;
}
/* True when the node's forward must run quantized now (attached, calibrated, not collecting). */
static inline bool axnn_qnode_active(const axnn_node *nd)
{
    const axnn_qnode *q = axnn_qnode_of(nd);
    return q && q->mode != AXNN_NUM_F32 && q->calib == 0 && q->in_scale > 0.0f;
}

/* Records calibration statistics of a node's float input (n elements). */
void axnn_qnode_observe(axnn_qnode *q, const float *x, int64_t n);
/* Makes the quantized weights current (after the float weights changed). */
void axnn_qnode_quantize_weights(axnn_qnode *q, const float *w);
/* Decomposition rank the node may use (0 when it never runs the decomposition path). */
static inline int axnn_qnode_aug_rank(const axnn_qnode *q)
{
    return (q->kernel == AXNN_QK_DECOMP || q->kernel == AXNN_QK_AUTO) && q->qm->have_decomp ? q->qm->dec.rank : 0;
}
/* The multiplier of an attention node's two products (Q K^T and P V) when the graph runs them
 * quantized (axnn_quant_cfg.count_attention), else NULL (float); see quant.c. */
const axnn_qmul *axnn_quant_attention_qmul(const axnn_graph *g, const axnn_node *nd);
/* Name of the kernel that runs the node ("exact-avx512vnni", "lut-avx512vbmi", ...). */
const char *axnn_qnode_kernel_name(const axnn_qnode *q);
void axnn_quant_state_free(struct axnn_graph *g);
void axnn_qnode_free(axnn_qnode *q);

#endif
