/* axnn/quant.h - numeric modes: int8 and approximate-multiplier execution of conv and linear
 * nodes.
 *
 * A quantized node keeps its float weights (training still updates them) and adds:
 *   - weights quantized symmetric per output channel: q = round(w / s_w[c]), s_w[c] =
 *     max|w[c]| / 127, q in [-127, 127];
 *   - its input quantized symmetric per tensor with a calibrated scale s_x, q in [-127, 127];
 *   - int32 accumulation of the products, exact (INT8) or T[a][b] from a multiplier table
 *     (TABLE, activation a, weight b); y = acc * s_x * s_w[c] + bias[c] in float.
 * BatchNorm, activations, pooling and the rest stay in float. INT8 and TABLE with the exact
 * multiplier give identical bits. In training, the forward pass runs in the node's mode and the
 * backward pass is a straight-through estimator: gradients as if the layer were float (or, on
 * request, a table-derived gradient; see axnn_quant_cfg.grad).
 */
#ifndef AXNN_QUANT_H
#define AXNN_QUANT_H

#include "axmul.h"
#include "data.h"
#include "graph.h"
#include "plan.h"
#include "train.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum axnn_numeric { AXNN_NUM_F32, AXNN_NUM_INT8, AXNN_NUM_TABLE } axnn_numeric;
typedef enum axnn_calib_method { AXNN_CALIB_MAX, AXNN_CALIB_PERCENTILE, AXNN_CALIB_MSE } axnn_calib_method;
typedef enum axnn_grad_mode { AXNN_GRAD_STE, AXNN_GRAD_TABLE } axnn_grad_mode;

/* Which kernel runs a TABLE node (chosen automatically unless forced). */
typedef enum axnn_qkernel {
    AXNN_QK_AUTO,
    AXNN_QK_REF,       /* one table lookup per product, scalar */
    AXNN_QK_LUT,       /* SIMD table lookups */
    AXNN_QK_DECOMP,    /* exact GEMM on operands augmented with the error's separable terms */
    AXNN_QK_EXACT,     /* exact int8 GEMM (the multiplier is exact) */
} axnn_qkernel;

typedef struct axnn_quant_cfg {
    const char *mul;          /* multiplier name for TABLE mode; NULL = INT8 (exact kernels) */
    const char *layers;       /* comma-separated node names to approximate (NULL = all conv and
                                 linear nodes); globs with '*' allowed */
    const char *exact_layers; /* comma-separated node names kept exact (int8) */
    bool keep_first_last;     /* the first conv and the last linear stay exact int8 */
    axnn_qkernel kernel;      /* force a kernel (AXNN_QK_AUTO = fastest correct one) */
    axnn_grad_mode grad;      /* backward in training */
    bool count_attention;     /* (ViT) quantize the attention products Q K^T and P V too, with
                                 dynamic per-(image, head) scales; the multiplier applies to
                                 attention nodes ("blocks.N.attn") the layer lists select, and
                                 their MACs count in axnn_quant_mac_split */
} axnn_quant_cfg;

/* Puts the graph's conv and linear nodes in INT8 or TABLE mode per cfg. Scales stay unset until
 * axnn_quant_calibrate. Re-plans the graph if it was planned. Errors name the multiplier (with
 * the command that imports it) or the layer. */
axnn_status axnn_quant_attach(axnn_graph *g, const axnn_quant_cfg *cfg);
/* Attaches a new configuration (e.g. another multiplier) keeping the calibrated input scales:
 * calibration runs in float, so it does not depend on the multiplier. */
axnn_status axnn_quant_reattach(axnn_graph *g, const axnn_quant_cfg *cfg);
/* Back to float everywhere. */
void axnn_quant_detach(axnn_graph *g);
/* Sets one node's multiplier (NULL = exact int8). The table is shared, not copied. */
axnn_status axnn_quant_set_node_mul(axnn_graph *g, int node, const char *mul);

/* Calibrates every quantized node's input scale on the first n images of d (in eval mode). */
axnn_status axnn_quant_calibrate(axnn_graph *g, axnn_pool *pool, const axnn_dataset *d,
                                 const axnn_preproc *pp, int n, axnn_calib_method method,
                                 float percentile);
/* The same on n preprocessed images x, (n, C, H, W) float32, in the graph's input layout. */
axnn_status axnn_quant_calibrate_data(axnn_graph *g, axnn_pool *pool, const float *x, int n,
                                      axnn_calib_method method, float percentile);
/* True when the graph has numeric modes attached. */
bool axnn_quant_attached(const axnn_graph *g);
/* Sets a quantized node's input scale by hand (tests, benchmarks, imported calibrations). */
axnn_status axnn_quant_set_input_scale(axnn_graph *g, int node, float scale);
/* Re-quantizes the weights from the float weights (after training steps). */
void axnn_quant_refresh_weights(axnn_graph *g);

/* ---- introspection ---- */
typedef struct axnn_qnode_info {
    axnn_numeric mode;
    const char *mul;       /* multiplier name ("exact" for INT8) */
    const char *kernel;    /* "exact-avx512vnni", "lut-avx512vbmi", "decomp(r=3)", "ref" ...; valid
                              until the next call in the same thread */
    float in_scale;
    int64_t macs;          /* per image */
} axnn_qnode_info;
/* False when the node is float. */
bool axnn_quant_node_info(const axnn_graph *g, int node, axnn_qnode_info *out);
/* MACs per image done on an approximate multiplier, and in all quantized nodes. */
void axnn_quant_mac_split(const axnn_graph *g, int64_t *approx_macs, int64_t *total_macs);

axnn_calib_method axnn_calib_parse(const char *s, bool *ok);
const char *axnn_calib_name(axnn_calib_method m);

#ifdef __cplusplus
}
#endif
#endif
