/* Exact separable decomposition of a multiplier's error, E(a, b) = T(a, b) - a*b.
 *
 * A table kernel that computes sum_k T(x_k, w_k) can instead compute the exact int8 dot product
 * plus a correction sum_i sum_k f_i(x_k) g_i(w_k): rank-many extra int8-like dot products, which
 * SIMD does far faster than table lookups. That needs E = F G^T exactly, in integers, with small
 * ranges (f_i ideally bits or a small unsigned range, g_i fitting int8).
 *
 * Any integer matrix of rational rank r has such a factorisation with exactly r terms: take G to
 * be a basis of the lattice spanned by E's rows (every row is then an integer combination of
 * the basis rows, since it lies in the lattice). We build that basis by integer row reduction,
 * one row at a time, in echelon form: a new row is reduced at each pivot column, by an exact
 * quotient when the pivot divides its entry, else by the extended-Euclid 2x2 unimodular step
 * that replaces the pivot by the gcd. A row that survives to a fresh column becomes a basis
 * row. Afterwards each basis row is reduced modulo the later pivots (Hermite style) to keep
 * entries small, and each row of E is written in the basis by walking the pivots. Arithmetic is
 * int64 with overflow checks; an overflow abandons the candidate instead of giving wrong bits.
 *
 * The lattice basis is exact but not always the nicest. Array multipliers have error terms that
 * are products of operand bits, and there the bits themselves are the best f: so we also try
 * E(a, b) = G_c(b) + sum_i a_i G_i(b), reading G_c = E(0, .) and G_i = E(2^i, .) - E(0, .)
 * straight off the table and verifying the identity on all pairs (and the same with the roles of
 * a and b swapped). Candidates: bits of a, bits of b, row lattice, column lattice (the row
 * lattice of E^T). A term's sign is flipped (f, g -> -f, -g) when that brings a range into
 * int8. A candidate whose terms all fit int8 beats one that does not (the int8 kernels need
 * both f_i and g_i in int8); then the lowest rank wins, then the smallest total value range (sum
 * of log2 of the ranges, plus a penalty per range outside int8); ties go to the earlier
 * candidate. For trunc:K (K <= 7) this
 * gives rank K with f_i = bit i of a and g_i in [-(2^K - 2^i), 0].
 *
 * axnn_mul_error_rank computes the rational rank by Gaussian elimination modulo two primes
 * (each result is a lower bound of the true rank, equal to it unless the prime divides certain
 * minors), for messages and reports.
 */
#include "axmul_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 256
#define LIMIT ((int64_t)1 << 60)

/* A separable form M(x, y) = sum_i left_i(x) right_i(y) of a 256 x 256 matrix. */
typedef struct form {
    int rank;
    int64_t left[AXNN_MUL_MAX_RANK][N], right[AXNN_MUL_MAX_RANK][N];
} form;

static void error_matrix(const axnn_mul *m, int32_t *e)
{
    for (int a = -128; a < 128; a++)
        for (int b = -128; b < 128; b++) e[AXMUL_IDX(a, b)] = m->table[AXMUL_IDX(a, b)] - a * b;
}

static void transpose(const int32_t *m, int32_t *t)
{
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) t[j * N + i] = m[i * N + j];
}

static bool form_matches(const form *f, const int32_t *m)
{
    for (int x = 0; x < N; x++)
        for (int y = 0; y < N; y++) {
            int64_t s = 0;
            for (int i = 0; i < f->rank; i++) s += f->left[i][x] * f->right[i][y];
            if (s != m[x * N + y]) return false;
        }
    return true;
}

/* ---------------------------------------------------------------- bits ---- */

/* M(x, y) = R_c(y) + sum_i x_i R_i(y), x_i = bit i of the int8 value x - 128. Zero terms are
 * left out. */
static bool bits_form(const int32_t *m, int max_rank, form *f)
{
    f->rank = 0;
    const int32_t *r0 = m + 128 * N; /* the row of value 0 */
    for (int i = -1; i < 8; i++) {
        int x = i < 0 ? 0 : (int)(int8_t)(uint8_t)(1u << i);
        bool nonzero = false;
        int64_t r[N];
        for (int y = 0; y < N; y++) {
            r[y] = i < 0 ? r0[y] : (int64_t)m[(x + 128) * N + y] - r0[y];
            nonzero |= r[y] != 0;
        }
        if (!nonzero) continue;
        if (f->rank == max_rank) return false;
        memcpy(f->right[f->rank], r, sizeof r);
        for (int v = 0; v < N; v++)
            f->left[f->rank][v] = i < 0 ? 1 : (((unsigned)(uint8_t)(int8_t)(v - 128)) >> i) & 1;
        f->rank++;
    }
    return form_matches(f, m);
}

/* ---------------------------------------------------------------- lattice ---- */

typedef struct lattice {
    int r, piv[AXNN_MUL_MAX_RANK + 1];
    int64_t b[AXNN_MUL_MAX_RANK + 1][N];
} lattice;

static bool fits(__int128 x)
{
    return x > -LIMIT && x < LIMIT;
}

/* dst = p * x + q * y, elementwise; false on overflow. */
static bool combine(int64_t *dst, int64_t p, const int64_t *x, int64_t q, const int64_t *y)
{
    int64_t out[N];
    for (int j = 0; j < N; j++) {
        __int128 v = (__int128)p * x[j] + (__int128)q * y[j];
        if (!fits(v)) return false;
        out[j] = (int64_t)v;
    }
    memcpy(dst, out, sizeof out);
    return true;
}

/* g = gcd(a, b) > 0 with s a + t b = g (a > 0). */
static int64_t ext_gcd(int64_t a, int64_t b, int64_t *s, int64_t *t)
{
    int64_t r0 = a, r1 = b, s0 = 1, s1 = 0, t0 = 0, t1 = 1;
    while (r1) {
        int64_t q = r0 / r1, tmp;
        tmp = r0 - q * r1, r0 = r1, r1 = tmp;
        tmp = s0 - q * s1, s0 = s1, s1 = tmp;
        tmp = t0 - q * t1, t0 = t1, t1 = tmp;
    }
    if (r0 < 0) r0 = -r0, s0 = -s0, t0 = -t0;
    *s = s0;
    *t = t0;
    return r0;
}

static int find_pivot(const lattice *l, int c)
{
    for (int k = 0; k < l->r; k++)
        if (l->piv[k] == c) return k;
    return -1;
}

static void add_row(lattice *l, const int64_t *v, int c)
{
    int k = l->r++;
    while (k > 0 && l->piv[k - 1] > c) {
        l->piv[k] = l->piv[k - 1];
        memcpy(l->b[k], l->b[k - 1], sizeof l->b[k]);
        k--;
    }
    l->piv[k] = c;
    for (int j = 0; j < N; j++) l->b[k][j] = v[c] < 0 ? -v[j] : v[j];
}

/* Adds row v (modified) to the lattice; 1 = ok, 0 = overflow, -1 = rank above max_rank. */
static int insert(lattice *l, int64_t *v, int max_rank)
{
    for (int c = 0; c < N; c++) {
        if (!v[c]) continue;
        int k = find_pivot(l, c);
        if (k < 0) {
            if (l->r == max_rank) return -1;
            add_row(l, v, c);
            return 1;
        }
        int64_t p = l->b[k][c], x = v[c];
        if (x % p == 0) {
            if (!combine(v, 1, v, -(x / p), l->b[k])) return 0;
            continue;
        }
        int64_t s, t, g = ext_gcd(p, x, &s, &t);
        int64_t nb[N];
        if (!combine(nb, s, l->b[k], t, v) || !combine(v, p / g, v, -(x / g), l->b[k])) return 0;
        memcpy(l->b[k], nb, sizeof nb);
    }
    return 1;
}

static int64_t round_div(int64_t x, int64_t p) /* nearest integer to x / p, p > 0 */
{
    int64_t q = x / p, r = x % p;
    if (2 * r > p)
        q++;
    else if (2 * r < -p)
        q--;
    return q;
}

/* Reduces each basis row at the later pivots to (-p/2, p/2]. Ascending k: reducing with row k
 * only changes columns >= piv[k], so earlier reductions stay. */
static bool hermite_reduce(lattice *l)
{
    for (int k = 1; k < l->r; k++)
        for (int i = 0; i < k; i++) {
            int64_t q = round_div(l->b[i][l->piv[k]], l->b[k][l->piv[k]]);
            if (q && !combine(l->b[i], 1, l->b[i], -q, l->b[k])) return false;
        }
    return true;
}

/* Coefficients of row v in the basis (false if v is not in the lattice or on overflow). */
static bool coords(const lattice *l, const int32_t *row, int64_t *c)
{
    int64_t v[N];
    for (int j = 0; j < N; j++) v[j] = row[j];
    for (int k = 0; k < l->r; k++) {
        int64_t p = l->b[k][l->piv[k]];
        if (v[l->piv[k]] % p) return false;
        c[k] = v[l->piv[k]] / p;
        if (c[k] && !combine(v, 1, v, -c[k], l->b[k])) return false;
    }
    for (int j = 0; j < N; j++)
        if (v[j]) return false;
    return true;
}

/* 1 = found, 0 = overflow or failure, -1 = rank above max_rank. */
static int lattice_form(const int32_t *m, int max_rank, form *f)
{
    lattice *l = calloc(1, sizeof *l);
    if (!l) return 0;
    int rc = 1;
    for (int x = 0; x < N && rc == 1; x++) {
        int64_t v[N];
        for (int j = 0; j < N; j++) v[j] = m[x * N + j];
        rc = insert(l, v, max_rank);
    }
    if (rc == 1 && !hermite_reduce(l)) rc = 0;
    f->rank = l->r;
    for (int k = 0; rc == 1 && k < l->r; k++) memcpy(f->right[k], l->b[k], sizeof f->right[k]);
    for (int x = 0; rc == 1 && x < N; x++) {
        int64_t c[AXNN_MUL_MAX_RANK + 1];
        if (!coords(l, m + x * N, c)) rc = 0;
        for (int k = 0; rc == 1 && k < l->r; k++) f->left[k][x] = c[k];
    }
    free(l);
    return rc;
}

/* ---------------------------------------------------------------- choosing ---- */

static bool range_of(const int64_t *v, int *lo, int *hi)
{
    int64_t a = v[0], b = v[0];
    for (int i = 1; i < N; i++) {
        if (v[i] < a) a = v[i];
        if (v[i] > b) b = v[i];
    }
    *lo = (int)(a < INT16_MIN ? INT16_MIN : a);
    *hi = (int)(b > INT16_MAX ? INT16_MAX : b);
    return a >= INT16_MIN && b <= INT16_MAX;
}

/* Fills d from f (left = functions of a when !swapped); false when a value exceeds int16. */
static bool to_decomp(const form *f, bool swapped, const char *method, axnn_mul_decomp *d)
{
    memset(d, 0, sizeof *d);
    d->rank = f->rank;
    snprintf(d->method, sizeof d->method, "%s", method);
    for (int i = 0; i < f->rank; i++) {
        const int64_t *fa = swapped ? f->right[i] : f->left[i];
        const int64_t *gb = swapped ? f->left[i] : f->right[i];
        if (!range_of(fa, &d->f_min[i], &d->f_max[i]) || !range_of(gb, &d->g_min[i], &d->g_max[i]))
            return false;
        for (int v = 0; v < N; v++) {
            d->f[i][v] = (int16_t)fa[v];
            d->g[i][v] = (int16_t)gb[v];
        }
    }
    return true;
}

static bool in_int8(int lo, int hi)
{
    return lo >= -128 && hi <= 127;
}

/* Negates term i (f and g together) when that brings a range into int8 without pushing the
 * other out, e.g. g in [-127, 128] -> [-128, 127] with f in [0, 1] -> [-1, 0]. */
static void normalize_signs(axnn_mul_decomp *d)
{
    for (int i = 0; i < d->rank; i++) {
        int now = in_int8(d->f_min[i], d->f_max[i]) + in_int8(d->g_min[i], d->g_max[i]);
        int flipped = in_int8(-d->f_max[i], -d->f_min[i]) + in_int8(-d->g_max[i], -d->g_min[i]);
        if (flipped <= now) continue;
        for (int v = 0; v < N; v++) {
            d->f[i][v] = (int16_t)-d->f[i][v];
            d->g[i][v] = (int16_t)-d->g[i][v];
        }
        int t = d->f_min[i];
        d->f_min[i] = -d->f_max[i], d->f_max[i] = -t;
        t = d->g_min[i];
        d->g_min[i] = -d->g_max[i], d->g_max[i] = -t;
    }
}

static bool all_int8(const axnn_mul_decomp *d)
{
    for (int i = 0; i < d->rank; i++)
        if (!in_int8(d->f_min[i], d->f_max[i]) || !in_int8(d->g_min[i], d->g_max[i])) return false;
    return true;
}

static double cost(const axnn_mul_decomp *d)
{
    double c = 0.0;
    for (int i = 0; i < d->rank; i++) {
        c += log2(d->f_max[i] - d->f_min[i] + 1.0) + log2(d->g_max[i] - d->g_min[i] + 1.0);
        if (!in_int8(d->g_min[i], d->g_max[i])) c += 16.0;
        if (!in_int8(d->f_min[i], d->f_max[i])) c += 16.0;
    }
    return c;
}

/* All terms in int8 first (what the int8 kernels can use), then rank, then cost. */
static bool better(const axnn_mul_decomp *a, const axnn_mul_decomp *best, bool have)
{
    if (!have) return true;
    if (all_int8(a) != all_int8(best)) return all_int8(a);
    if (a->rank != best->rank) return a->rank < best->rank;
    return cost(a) < cost(best) - 1e-9;
}

typedef struct work {
    int32_t e[AXNN_MUL_ENTRIES], et[AXNN_MUL_ENTRIES];
    form f;
    axnn_mul_decomp cand;
} work;

/* Tries the four candidates; *over = some lattice had rank above max_rank. */
static bool search(work *w, int max_rank, axnn_mul_decomp *best, bool *over)
{
    static const char *const names[] = {"bits of a", "bits of b", "row lattice", "column lattice"};
    bool have = false;
    *over = false;
    for (int c = 0; c < 4; c++) {
        const int32_t *m = c % 2 == 0 ? w->e : w->et;
        bool ok;
        if (c < 2) {
            ok = bits_form(m, max_rank, &w->f);
        } else {
            int rc = lattice_form(m, max_rank, &w->f);
            *over |= rc < 0;
            ok = rc == 1;
        }
        if (!ok || !to_decomp(&w->f, c % 2 == 1, names[c], &w->cand)) continue;
        normalize_signs(&w->cand);
        if (better(&w->cand, best, have)) {
            *best = w->cand;
            have = true;
        }
    }
    return have;
}

axnn_status axnn_mul_decompose(const axnn_mul *m, int max_rank, axnn_mul_decomp *out)
{
    memset(out, 0, sizeof *out);
    if (max_rank < 1 || max_rank > AXNN_MUL_MAX_RANK)
        return axnn_error(AXNN_ERR_ARG, "decomposition of '%s': max_rank must be 1..%d", m->name,
                          AXNN_MUL_MAX_RANK);
    work *w = malloc(sizeof *w);
    if (!w) return axnn_error(AXNN_ERR_NOMEM, "decomposition of '%s': out of memory", m->name);
    error_matrix(m, w->e);
    transpose(w->e, w->et);
    bool over, found = search(w, max_rank, out, &over);
    free(w);
    if (found && axnn_mul_decomp_verify(m, out)) {
        if (out->rank == 0) snprintf(out->method, sizeof out->method, "exact (no terms)");
        return AXNN_OK;
    }
    memset(out, 0, sizeof *out);
    int r = axnn_mul_error_rank(m);
    if (r > max_rank)
        return axnn_error(AXNN_ERR_UNSUPPORTED,
                          "multiplier '%s': its error T(a,b) - a*b has rank %d, more than %d "
                          "separable terms",
                          m->name, r, max_rank);
    return axnn_error(AXNN_ERR_UNSUPPORTED,
                      "multiplier '%s': no integer decomposition of its error (rank %d) with "
                      "terms in the int16 range was found",
                      m->name, r);
}

bool axnn_mul_decomp_verify(const axnn_mul *m, const axnn_mul_decomp *d)
{
    if (d->rank < 0 || d->rank > AXNN_MUL_MAX_RANK) return false;
    for (int a = -128; a < 128; a++)
        for (int b = -128; b < 128; b++) {
            int64_t s = (int64_t)a * b;
            for (int i = 0; i < d->rank; i++) s += (int64_t)d->f[i][a + 128] * d->g[i][b + 128];
            if (s != m->table[AXMUL_IDX(a, b)]) return false;
        }
    return true;
}

/* ---------------------------------------------------------------- rank ---- */

static uint64_t pow_mod(uint64_t x, uint64_t e, uint64_t p)
{
    uint64_t r = 1;
    for (x %= p; e; e >>= 1, x = x * x % p)
        if (e & 1) r = r * x % p;
    return r;
}

static int rank_mod(const int32_t *e, uint64_t p, uint64_t *a)
{
    for (int i = 0; i < AXNN_MUL_ENTRIES; i++)
        a[i] = (uint64_t)(((int64_t)e[i] % (int64_t)p + (int64_t)p) % (int64_t)p);
    int r = 0;
    for (int c = 0; c < N && r < N; c++) {
        int piv = -1;
        for (int i = r; i < N && piv < 0; i++)
            if (a[i * N + c]) piv = i;
        if (piv < 0) continue;
        for (int j = 0; j < N; j++) {
            uint64_t t = a[r * N + j];
            a[r * N + j] = a[piv * N + j];
            a[piv * N + j] = t;
        }
        uint64_t inv = pow_mod(a[r * N + c], p - 2, p);
        for (int i = r + 1; i < N; i++) {
            uint64_t q = a[i * N + c] * inv % p;
            if (!q) continue;
            for (int j = c; j < N; j++) a[i * N + j] = (a[i * N + j] + (p - q) * a[r * N + j]) % p;
        }
        r++;
    }
    return r;
}

int axnn_mul_error_rank(const axnn_mul *m)
{
    int32_t *e = malloc(AXNN_MUL_ENTRIES * sizeof *e);
    uint64_t *a = malloc(AXNN_MUL_ENTRIES * sizeof *a);
    int r = -1;
    if (e && a) {
        error_matrix(m, e);
        int r1 = rank_mod(e, 2147483647u, a), r2 = rank_mod(e, 1000000007u, a);
        r = r1 > r2 ? r1 : r2;
    }
    free(e);
    free(a);
    return r;
}
