/* Data-movement and broadcasting kernels of the ONNX op set (float, row-major):
 * concatenation and split along an axis, transposition of up to AXNN_TENSOR_MAX_DIMS
 * dimensions, channel shuffle, binary element-wise ops with numpy broadcasting, and batched
 * matrix multiplication with broadcast batch dimensions.
 *
 * Each has a plain reference (an odometer over the output's indices) that the tests trust and,
 * where the layout allows, a fast path that copies or computes whole contiguous runs: the
 * fast paths move the same floats (transpose, concat, split, shuffle: bitwise equal) or apply
 * the same IEEE operation to the same operands (binary ops: bitwise equal). Batched matmul
 * runs the blocked f32 GEMM per matrix; it matches the reference within 1e-5 relative.
 */
#ifndef AXNN_KERNELS_TENSOR_H
#define AXNN_KERNELS_TENSOR_H

#include <stdbool.h>
#include <stdint.h>

#define AXNN_TENSOR_MAX_DIMS 6

/* ---- concat / split: the tensor seen as (outer, len_k) blocks per part k ----
 * Concatenation along axis a of parts of shape (d0..d_{a-1}, c_k, d_{a+1}..): outer =
 * d0*...*d_{a-1}, len[k] = c_k * d_{a+1} * ...; y holds outer blocks of sum(len) floats.
 * Split is the inverse (and each is the other's backward pass). */
void axnn_tensor_concat(int nparts, const float *const *x, const int64_t *len, int64_t outer,
                        float *y);
void axnn_tensor_split(const float *x, int nparts, float *const *y, const int64_t *len,
                       int64_t outer);

/* ---- transpose: y = x.permute(perm); x has shape dims (nd <= 6); y's shape is
 * dims[perm[0]], dims[perm[1]], ... The backward pass is the inverse permutation. */
void axnn_transpose_ref(const float *x, int nd, const int64_t *dims, const int *perm, float *y);
/* The same, with the dimensions that stay adjacent merged and contiguous runs copied. */
void axnn_transpose(const float *x, int nd, const int64_t *dims, const int *perm, float *y);

/* ---- channel shuffle (ShuffleNet): x (n, c, hw) seen as (n, groups, c/groups, hw) is
 * transposed to (n, c/groups, groups, hw). Its backward pass is the shuffle with c/groups
 * groups. */
void axnn_channel_shuffle(const float *x, float *y, int64_t n, int64_t c, int64_t groups,
                          int64_t hw);

/* ---- binary element-wise ops with broadcasting ---- */
typedef enum axnn_binop { AXNN_BIN_ADD, AXNN_BIN_SUB, AXNN_BIN_MUL, AXNN_BIN_DIV } axnn_binop;

/* The broadcast shape of a (na dims) and b (nb dims), right-aligned; false if they do not
 * broadcast or have more than 6 dimensions. */
bool axnn_broadcast_shape(int na, const int64_t *ad, int nb, const int64_t *bd, int *nd,
                          int64_t *out);
void axnn_binary_ref(axnn_binop op, const float *a, int na, const int64_t *ad, const float *b,
                     int nb, const int64_t *bd, float *y);
/* The same on contiguous runs: the shapes are merged into at most 6 dims of three kinds
 * (both vary, only a varies, only b varies), and the innermost run is one vector loop. */
void axnn_binary(axnn_binop op, const float *a, int na, const int64_t *ad, const float *b, int nb,
                 const int64_t *bd, float *y);
/* Backward: da (shape ad) and db (shape bd) from dy (the broadcast shape), summing over the
 * broadcast dimensions; either may be NULL. Needs a and b for MUL and DIV. Overwrites. */
void axnn_binary_bwd_ref(axnn_binop op, const float *a, int na, const int64_t *ad, const float *b,
                         int nb, const int64_t *bd, const float *dy, float *da, float *db);

/* ---- batched matmul: C[.., M, N] = A[.., M, K] B[.., K, N] with the batch dims of A (na - 2
 * of them) and B (nb - 2) broadcast against each other (na, nb >= 2; ONNX's 1-d operands are
 * the caller's to reshape). ws: axnn_sgemm_ws_floats() floats. */
void axnn_matmul_ref(const float *a, int na, const int64_t *ad, const float *b, int nb,
                     const int64_t *bd, float *c);
void axnn_matmul(const float *a, int na, const int64_t *ad, const float *b, int nb,
                 const int64_t *bd, float *c, float *ws);

#endif
