/* The table-derived gradient of an approximate multiplier.
 *
 * The straight-through estimator differentiates a quantized layer as if its products were
 * exact: d(a*b)/da = b. The multiplier's table T tells more: its slope along the activation
 * operand, Sa(a, b) = (T(a+1, b) - T(a-1, b)) / 2 (one-sided at the ends), and along the weight
 * operand, Sb(a, b) = (T(a, b+1) - T(a, b-1)) / 2. Used as the local derivatives,
 *     dL/dx = sum over uses of dy * s_w * Sa(a, b),     dL/dw = sum over uses of dy * s_x * Sb(a, b)
 * (a, b the quantized activation and weight, s_x, s_w their scales). Sa - b and Sb - a are the
 * slopes of the error table; a backward pass that looked each one up would cost a table lookup
 * per MAC. Instead each error slope is factored, by a truncated SVD, as a short sum of separable
 * terms u_i(a) v_i(b), so the extra gradient is a few ordinary convolutions / GEMMs on mapped
 * operands (src/ops/qgrad.c):
 *     dx += sum_i u_i(a) . convT(dy, s_w v_i(b))       dW += sum_i s_x v'_i(b) . conv_dw(dy, u'_i(a))
 * The rank is the smallest that keeps 99% of the slope table's energy, at most
 * AXNN_TGRAD_MAX_RANK (the captured share is kept in `energy`). The SVD runs by power iteration
 * with deflation, in double, from fixed start vectors: deterministic. Factorizations are cached
 * per table (by content hash) for the life of the process.
 */
#include "quant/grad_table.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define N 256

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    uint64_t hash;
    axnn_tgrad *t;
} cache[64];
static int ncache;

static uint64_t hash_table(const int32_t *t)
{
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < N * N; i++) h = (h ^ (uint32_t)t[i]) * 1099511628211ull;
    return h;
}

static int32_t at(const int32_t *t, int a, int b) { return t[(a + 128) * N + (b + 128)]; }

/* Error slope along the activation (along_a) or weight operand: E[a + 128][b + 128]. */
static void error_slope(const int32_t *t, bool along_a, double *E)
{
    for (int a = -128; a < 128; a++)
        for (int b = -128; b < 128; b++) {
            int x = along_a ? a : b, lo = x > -128 ? x - 1 : x, hi = x < 127 ? x + 1 : x;
            double s = along_a ? (double)(at(t, hi, b) - at(t, lo, b)) : (double)(at(t, a, hi) - at(t, a, lo));
            s /= (double)(hi - lo);
            E[(a + 128) * N + (b + 128)] = s - (along_a ? b : a);
        }
}

/* Top singular triple of E by power iteration on E^T E: E ~ sigma u v^T. */
static double top_triple(const double *E, double *u, double *v, int k)
{
    double w[N];
    for (int j = 0; j < N; j++) v[j] = 1.0 + 0.001 * ((j * 37 + k * 11) % 17);
    double sigma = 0.0;
    for (int it = 0; it < 300; it++) {
        for (int i = 0; i < N; i++) {
            double s = 0.0;
            for (int j = 0; j < N; j++) s += E[i * N + j] * v[j];
            u[i] = s;
        }
        for (int j = 0; j < N; j++) w[j] = 0.0;
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++) w[j] += E[i * N + j] * u[i];
        double nv = 0.0;
        for (int j = 0; j < N; j++) nv += w[j] * w[j];
        nv = sqrt(nv);
        if (nv == 0.0) return 0.0;
        for (int j = 0; j < N; j++) v[j] = w[j] / nv;
    }
    for (int i = 0; i < N; i++) {
        double s = 0.0;
        for (int j = 0; j < N; j++) s += E[i * N + j] * v[j];
        u[i] = s; /* = sigma * unit u */
        sigma += s * s;
    }
    return sqrt(sigma);
}

static int factor(double *E, float (*uo)[N], float (*vo)[N], double *energy)
{
    double total = 0.0, u[N], v[N];
    for (int i = 0; i < N * N; i++) total += E[i] * E[i];
    int r = 0;
    double left = total;
    while (r < AXNN_TGRAD_MAX_RANK && left > 0.01 * total) {
        double s = top_triple(E, u, v, r);
        if (s <= 0.0) break;
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++) E[i * N + j] -= u[i] * v[j];
        for (int i = 0; i < N; i++) {
            uo[r][i] = (float)u[i];
            vo[r][i] = (float)v[i];
        }
        left = 0.0;
        for (int i = 0; i < N * N; i++) left += E[i] * E[i];
        r++;
    }
    *energy = total > 0 ? 1.0 - left / total : 1.0;
    return r;
}

const axnn_tgrad *axnn_tgrad_get(const int32_t *table)
{
    uint64_t h = hash_table(table);
    pthread_mutex_lock(&lock);
    for (int i = 0; i < ncache; i++)
        if (cache[i].hash == h) {
            pthread_mutex_unlock(&lock);
            return cache[i].t;
        }
    axnn_tgrad *t = calloc(1, sizeof *t);
    double *E = malloc(sizeof(double) * N * N);
    if (t && E) {
        error_slope(table, true, E);
        t->ra = factor(E, t->ua, t->va, &t->energy_a);
        error_slope(table, false, E);
        t->rb = factor(E, t->ub, t->vb, &t->energy_b);
        if (ncache < 64) cache[ncache++] = (typeof(cache[0])){h, t};
    }
    free(E);
    pthread_mutex_unlock(&lock);
    return t;
}
