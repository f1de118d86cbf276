/* Concat, split, transpose, channel shuffle, broadcasting binary ops and batched matmul
 * (see tensor.h). The fast transpose and binary paths first simplify the shapes: dimensions
 * of size 1 are dropped and neighbours that move together are merged, so a channel-last to
 * channel-first transpose of (n, h, w, c) becomes a 3-d one, and an add of a per-channel bias
 * becomes (outer, c, inner) with an inner vector loop. */
#include "kernels/tensor/tensor.h"

#include "kernels/f32-gemm/gemm.h"

#include <string.h>

#define MAXD AXNN_TENSOR_MAX_DIMS

void axnn_tensor_concat(int nparts, const float *const *x, const int64_t *len, int64_t outer,
                        float *y)
{
    for (int64_t o = 0; o < outer; o++)
        for (int k = 0; k < nparts; k++) {
            memcpy(y, x[k] + o * len[k], (size_t)len[k] * sizeof(float));
            y += len[k];
        }
}

void axnn_tensor_split(const float *x, int nparts, float *const *y, const int64_t *len,
                       int64_t outer)
{
    for (int64_t o = 0; o < outer; o++)
        for (int k = 0; k < nparts; k++) {
            memcpy(y[k] + o * len[k], x, (size_t)len[k] * sizeof(float));
            x += len[k];
        }
}

static void strides_of(int nd, const int64_t *dims, int64_t *st)
{
    int64_t s = 1;
    for (int k = nd - 1; k >= 0; k--) st[k] = s, s *= dims[k];
}

static int64_t numel_of(int nd, const int64_t *dims)
{
    int64_t n = 1;
    for (int k = 0; k < nd; k++) n *= dims[k];
    return n;
}

/* Advances idx over dims (odometer); returns false after the last index. */
static bool next_index(int nd, const int64_t *dims, int64_t *idx)
{
    for (int k = nd - 1; k >= 0; k--) {
        if (++idx[k] < dims[k]) return true;
        idx[k] = 0;
    }
    return false;
}

void axnn_transpose_ref(const float *x, int nd, const int64_t *dims, const int *perm, float *y)
{
    int64_t st[MAXD], od[MAXD], idx[MAXD] = {0};
    strides_of(nd, dims, st);
    for (int k = 0; k < nd; k++) od[k] = dims[perm[k]];
    int64_t n = numel_of(nd, dims);
    for (int64_t o = 0; o < n; o++) {
        int64_t off = 0;
        for (int k = 0; k < nd; k++) off += idx[k] * st[perm[k]];
        y[o] = x[off];
        next_index(nd, od, idx);
    }
}

/* Drops size-1 dims and merges input dims that stay adjacent in the output. */
static int simplify_perm(int nd, const int64_t *dims, const int *perm, int64_t *d2, int *p2)
{
    int keep[MAXD], map[MAXD], nk = 0;
    for (int k = 0; k < nd; k++) {
        map[k] = -1;
        if (dims[k] != 1) map[k] = nk, keep[nk++] = k;
    }
    int pk[MAXD], np = 0;
    for (int k = 0; k < nd; k++)
        if (map[perm[k]] >= 0) pk[np++] = map[perm[k]];
    /* merge runs pk[j], pk[j]+1, ... : group input dims */
    int group_of[MAXD], ng = 0;
    for (int j = 0; j < np; j++) {
        if (j > 0 && pk[j] == pk[j - 1] + 1)
            group_of[pk[j]] = group_of[pk[j - 1]];
        else
            group_of[pk[j]] = ng++;
    }
    /* groups in input order get new indices */
    int order[MAXD], rank[MAXD], no = 0;
    for (int i = 0; i < nk; i++)
        if (i == 0 || group_of[i] != group_of[i - 1]) order[no++] = group_of[i];
    for (int r = 0; r < no; r++) rank[order[r]] = r;
    for (int r = 0; r < no; r++) d2[r] = 1;
    for (int i = 0; i < nk; i++) d2[rank[group_of[i]]] *= dims[keep[i]];
    for (int g = 0; g < ng; g++) p2[g] = rank[g];
    return ng;
}

void axnn_transpose(const float *x, int nd, const int64_t *dims, const int *perm, float *y)
{
    int64_t d[MAXD], st[MAXD], od[MAXD], idx[MAXD] = {0};
    int p[MAXD];
    int n = simplify_perm(nd, dims, perm, d, p);
    int64_t total = numel_of(nd, dims);
    if (n <= 1) {
        memcpy(y, x, (size_t)total * sizeof(float));
        return;
    }
    strides_of(n, d, st);
    for (int k = 0; k < n; k++) od[k] = d[p[k]];
    int64_t inner = od[n - 1], istride = st[p[n - 1]];
    for (int64_t o = 0; o < total; o += inner) {
        int64_t off = 0;
        for (int k = 0; k < n - 1; k++) off += idx[k] * st[p[k]];
        const float *src = x + off;
        for (int64_t j = 0; j < inner; j++) y[o + j] = src[j * istride];
        next_index(n - 1, od, idx);
    }
}

void axnn_channel_shuffle(const float *x, float *y, int64_t n, int64_t c, int64_t groups,
                          int64_t hw)
{
    int64_t cg = c / groups;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < cg; j++)
            for (int64_t g = 0; g < groups; g++)
                memcpy(y + ((i * c) + j * groups + g) * hw, x + ((i * c) + g * cg + j) * hw,
                       (size_t)hw * sizeof(float));
}

/* ---- broadcasting ---- */

bool axnn_broadcast_shape(int na, const int64_t *ad, int nb, const int64_t *bd, int *nd,
                          int64_t *out)
{
    *nd = na > nb ? na : nb;
    if (*nd > MAXD) return false;
    for (int k = 0; k < *nd; k++) {
        int64_t x = k - (*nd - na) >= 0 ? ad[k - (*nd - na)] : 1;
        int64_t y = k - (*nd - nb) >= 0 ? bd[k - (*nd - nb)] : 1;
        if (x != y && x != 1 && y != 1) return false;
        out[k] = x == 1 ? y : x;
    }
    return true;
}

/* Strides of an operand of n dims broadcast to nd dims (0 where it is broadcast). */
static void bcast_strides(int n, const int64_t *d, int nd, int64_t *st)
{
    int64_t s = 1;
    for (int k = nd - 1; k >= 0; k--) {
        int j = k - (nd - n);
        if (j < 0 || d[j] == 1)
            st[k] = 0;
        else
            st[k] = s;
        if (j >= 0) s *= d[j];
    }
}

static inline float apply(axnn_binop op, float a, float b)
{
    switch (op) {
    case AXNN_BIN_ADD:
        return a + b;
    case AXNN_BIN_SUB:
        return a - b;
    case AXNN_BIN_MUL:
        return a * b;
    default:
        return a / b;
    }
}

void axnn_binary_ref(axnn_binop op, const float *a, int na, const int64_t *ad, const float *b,
                     int nb, const int64_t *bd, float *y)
{
    int nd;
    int64_t od[MAXD], sa[MAXD], sb[MAXD], idx[MAXD] = {0};
    if (!axnn_broadcast_shape(na, ad, nb, bd, &nd, od)) return;
    bcast_strides(na, ad, nd, sa);
    bcast_strides(nb, bd, nd, sb);
    int64_t n = numel_of(nd, od);
    for (int64_t o = 0; o < n; o++) {
        int64_t oa = 0, ob = 0;
        for (int k = 0; k < nd; k++) oa += idx[k] * sa[k], ob += idx[k] * sb[k];
        y[o] = apply(op, a[oa], b[ob]);
        next_index(nd, od, idx);
    }
}

/* The innermost run: y[j] = a[j*sa] op b[j*sb] with sa, sb in {0, 1}. */
static void run(axnn_binop op, const float *a, int64_t sa, const float *b, int64_t sb, float *y,
                int64_t n)
{
#define RUN(EXPR)                                                                                  \
    do {                                                                                           \
        if (sa && sb)                                                                              \
            for (int64_t j = 0; j < n; j++) {                                                      \
                float x = a[j], z = b[j];                                                          \
                y[j] = EXPR;                                                                       \
            }                                                                                      \
        else if (sa) {                                                                             \
            float z = b[0];                                                                        \
            for (int64_t j = 0; j < n; j++) {                                                      \
                float x = a[j];                                                                    \
                y[j] = EXPR;                                                                       \
            }                                                                                      \
        } else {                                                                                   \
            float x = a[0];                                                                        \
            for (int64_t j = 0; j < n; j++) {                                                      \
                float z = b[j];                                                                    \
                y[j] = EXPR;                                                                       \
            }                                                                                      \
        }                                                                                          \
    } while (0)
    switch (op) {
    case AXNN_BIN_ADD:
        RUN(x + z);
        break;
    case AXNN_BIN_SUB:
        RUN(x - z);
        break;
    case AXNN_BIN_MUL:
        RUN(x * z);
        break;
    default:
        RUN(x / z);
        break;
    }
#undef RUN
}

void axnn_binary(axnn_binop op, const float *a, int na, const int64_t *ad, const float *b, int nb,
                 const int64_t *bd, float *y)
{
    int nd;
    int64_t od[MAXD], sa[MAXD], sb[MAXD];
    if (!axnn_broadcast_shape(na, ad, nb, bd, &nd, od)) return;
    bcast_strides(na, ad, nd, sa);
    bcast_strides(nb, bd, nd, sb);
    /* merge: drop size-1 output dims; join k into k+1 when both strides chain */
    int64_t d[MAXD], xa[MAXD], xb[MAXD];
    int m = 0;
    for (int k = 0; k < nd; k++) {
        if (od[k] == 1) continue;
        if (m > 0 && xa[m - 1] == sa[k] * od[k] && xb[m - 1] == sb[k] * od[k]) {
            d[m - 1] *= od[k];
            xa[m - 1] = sa[k], xb[m - 1] = sb[k];
            continue;
        }
        d[m] = od[k], xa[m] = sa[k], xb[m] = sb[k];
        m++;
    }
    if (m == 0) {
        y[0] = apply(op, a[0], b[0]);
        return;
    }
    /* the innermost merged dim is a run when each stride is 0 or 1 */
    int64_t inner = d[m - 1], ia = xa[m - 1], ib = xb[m - 1], idx[MAXD] = {0};
    if (ia > 1 || ib > 1 || (!ia && !ib)) {
        axnn_binary_ref(op, a, na, ad, b, nb, bd, y);
        return;
    }
    int64_t total = numel_of(m, d);
    for (int64_t o = 0; o < total; o += inner) {
        int64_t oa = 0, ob = 0;
        for (int k = 0; k < m - 1; k++) oa += idx[k] * xa[k], ob += idx[k] * xb[k];
        run(op, a + oa, ia, b + ob, ib, y + o, inner);
        next_index(m - 1, d, idx);
    }
}

void axnn_binary_bwd_ref(axnn_binop op, const float *a, int na, const int64_t *ad, const float *b,
                         int nb, const int64_t *bd, const float *dy, float *da, float *db)
{
    int nd;
    int64_t od[MAXD], sa[MAXD], sb[MAXD], idx[MAXD] = {0};
    if (!axnn_broadcast_shape(na, ad, nb, bd, &nd, od)) return;
    bcast_strides(na, ad, nd, sa);
    bcast_strides(nb, bd, nd, sb);
    if (da) memset(da, 0, (size_t)numel_of(na, ad) * sizeof(float));
    if (db) memset(db, 0, (size_t)numel_of(nb, bd) * sizeof(float));
    int64_t n = numel_of(nd, od);
    for (int64_t o = 0; o < n; o++) {
        int64_t oa = 0, ob = 0;
        for (int k = 0; k < nd; k++) oa += idx[k] * sa[k], ob += idx[k] * sb[k];
        float g = dy[o], ga, gb;
        switch (op) {
        case AXNN_BIN_ADD:
            ga = g, gb = g;
            break;
        case AXNN_BIN_SUB:
            ga = g, gb = -g;
            break;
        case AXNN_BIN_MUL:
            ga = g * b[ob], gb = g * a[oa];
            break;
        default:
            ga = g / b[ob], gb = -g * a[oa] / (b[ob] * b[ob]);
            break;
        }
        if (da) da[oa] += ga;
        if (db) db[ob] += gb;
        next_index(nd, od, idx);
    }
}

/* ---- batched matmul ---- */

typedef void (*mm_fn)(int64_t M, int64_t N, int64_t K, const float *a, const float *b, float *c,
                      float *ws);

static void mm_ref(int64_t M, int64_t N, int64_t K, const float *a, const float *b, float *c,
                   float *ws)
{
    axnn_sgemm_ref(false, false, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N);
}

static void mm_fast(int64_t M, int64_t N, int64_t K, const float *a, const float *b, float *c,
                    float *ws)
{
    axnn_sgemm(false, false, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N, ws);
}

static void matmul_with(mm_fn f, const float *a, int na, const int64_t *ad, const float *b, int nb,
                        const int64_t *bd, float *c, float *ws)
{
    int64_t M = ad[na - 2], K = ad[na - 1], N = bd[nb - 1];
    int nd;
    int64_t od[MAXD], sa[MAXD], sb[MAXD], idx[MAXD] = {0};
    if (!axnn_broadcast_shape(na - 2, ad, nb - 2, bd, &nd, od)) return;
    bcast_strides(na - 2, ad, nd, sa);
    bcast_strides(nb - 2, bd, nd, sb);
    int64_t batches = numel_of(nd, od);
    for (int64_t o = 0; o < batches; o++) {
        int64_t oa = 0, ob = 0;
        for (int k = 0; k < nd; k++) oa += idx[k] * sa[k], ob += idx[k] * sb[k];
        f(M, N, K, a + oa * M * K, b + ob * K * N, c + o * M * N, ws);
        next_index(nd, od, idx);
    }
}

void axnn_matmul_ref(const float *a, int na, const int64_t *ad, const float *b, int nb,
                     const int64_t *bd, float *c)
{
    matmul_with(mm_ref, a, na, ad, b, nb, bd, c, NULL);
}

void axnn_matmul(const float *a, int na, const int64_t *ad, const float *b, int nb,
                 const int64_t *bd, float *c, float *ws)
{
    matmul_with(mm_fast, a, na, ad, b, nb, bd, c, ws);
}
