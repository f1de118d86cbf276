/* Kernels of the ONNX op set (src/kernels/gconv, pool, tensor, act): every fast or SIMD
 * variant this CPU runs against its reference (bitwise where the kernel promises it, else
 * within the stated tolerance), and the references themselves against independent facts:
 * adjoint identities <f(x), r> = <x, f'(r)> for the linear ones (conv input and weight
 * gradients, average pool, transpose, shuffle), hand-computed pool windows, gradients by
 * central differences for the element-wise ones, and algebra (shuffle twice = identity,
 * split of concat = parts, depthwise = grouped conv with groups = channels). ONNX's node tests
 * check the references against ONNX's expected outputs (tests/test_onnx_kernels.c). */
#include "testutil.h"

#include "kernels/act/act.h"
#include "kernels/f32-gemm/gemm.h"
#include "kernels/gconv/gconv.h"
#include "kernels/pool/pool.h"
#include "kernels/tensor/tensor.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static float *rnd(int64_t n, axnn_rng *r)
{
    float *x = malloc((size_t)(n ? n : 1) * sizeof(float));
    tu_fill_uniform(x, n, -1.0f, 1.0f, r);
    return x;
}

static double dot(const float *a, const float *b, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

static double sum_abs_prod(const float *a, const float *b, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += fabs((double)a[i] * b[i]);
    return s;
}

/* Float equality that counts +0 and -0 as equal (a skipped tap vs. an added zero). */
static void assert_same(const float *a, const float *b, int64_t n, const char *what)
{
    for (int64_t i = 0; i < n; i++)
        if (!(a[i] == b[i]) && !(isnan(a[i]) && isnan(b[i])))
            fail_msg("%s: element %lld: %.9g vs %.9g", what, (long long)i, a[i], b[i]);
}

/* ------------------------------------------------------------ grouped conv ---- */

static axnn_gconv_shape random_conv(axnn_rng *r)
{
    axnn_gconv_shape s;
    for (;;) {
        int64_t g = 1 + axnn_rng_below(r, 3);
        s = (axnn_gconv_shape){.n = 1 + axnn_rng_below(r, 2),
                               .c = g * (1 + axnn_rng_below(r, 3)),
                               .h = 1 + axnn_rng_below(r, 9),
                               .w = 1 + axnn_rng_below(r, 9),
                               .m = g * (1 + axnn_rng_below(r, 3)),
                               .groups = g,
                               .kh = 1 + axnn_rng_below(r, 3),
                               .kw = 1 + axnn_rng_below(r, 3),
                               .sh = 1 + axnn_rng_below(r, 2),
                               .sw = 1 + axnn_rng_below(r, 3),
                               .dh = 1 + axnn_rng_below(r, 2),
                               .dw = 1 + axnn_rng_below(r, 2),
                               .pt = axnn_rng_below(r, 3),
                               .pl = axnn_rng_below(r, 2),
                               .pb = axnn_rng_below(r, 2),
                               .pr = axnn_rng_below(r, 3)};
        if (axnn_gconv_shape_init(&s)) return s;
    }
}

static void test_gconv_shape(void **state)
{
    axnn_gconv_shape s = {.n = 1,
                          .c = 4,
                          .h = 7,
                          .w = 8,
                          .m = 6,
                          .groups = 2,
                          .kh = 3,
                          .kw = 3,
                          .sh = 2,
                          .sw = 1,
                          .dh = 2,
                          .dw = 1,
                          .pt = 1,
                          .pl = 0,
                          .pb = 2,
                          .pr = 1};
    assert_true(axnn_gconv_shape_init(&s));
    assert_int_equal(s.oh, (7 + 3 - 5) / 2 + 1);
    assert_int_equal(s.ow, (8 + 1 - 3) / 1 + 1);
    s.groups = 3; /* does not divide c = 4 */
    assert_false(axnn_gconv_shape_init(&s));
    s.groups = 2, s.kh = 9; /* window larger than the padded input */
    assert_false(axnn_gconv_shape_init(&s));
}

/* Adjoint identities: <conv(x, W), r> = <x, dx(r)> = <W, dw(x, r)>; bias gradient = sums. */
static void test_gconv_adjoint(void **state)
{
    axnn_rng r;
    axnn_rng_seed(&r, 1);
    for (int it = 0; it < 200; it++) {
        axnn_gconv_shape s = random_conv(&r);
        int64_t nx = s.n * s.c * s.h * s.w, nw = s.m * (s.c / s.groups) * s.kh * s.kw;
        int64_t ny = s.n * s.m * s.oh * s.ow;
        float *x = rnd(nx, &r), *w = rnd(nw, &r), *y = rnd(ny, &r), *g = rnd(ny, &r);
        float *dx = rnd(nx, &r), *dw = rnd(nw, &r), *db = rnd(s.m, &r);
        axnn_gconv_fwd_ref(&s, x, w, NULL, y);
        axnn_gconv_dx_ref(&s, g, w, dx);
        axnn_gconv_dw_ref(&s, x, g, dw, db);
        double a = dot(y, g, ny), b = dot(x, dx, nx), c = dot(w, dw, nw);
        double scale = 1e-5 * (1 + sum_abs_prod(y, g, ny));
        if (fabs(a - b) > scale || fabs(a - c) > scale)
            fail_msg("iteration %d: <y,r> %.9g, <x,dx> %.9g, <w,dw> %.9g", it, a, b, c);
        double gs = 0;
        for (int64_t i = 0; i < ny; i++) gs += g[i];
        double dbs = 0;
        for (int64_t k = 0; k < s.m; k++) dbs += db[k];
        assert_true(fabs(gs - dbs) < 1e-4 * (1 + ny));
        free(x), free(w), free(y), free(g), free(dx), free(dw), free(db);
    }
}

/* A 1x1 identity conv per group and the bias land where the definition puts them. */
static void test_gconv_facts(void **state)
{
    axnn_gconv_shape s = {.n = 2,
                          .c = 4,
                          .h = 3,
                          .w = 5,
                          .m = 4,
                          .groups = 2,
                          .kh = 1,
                          .kw = 1,
                          .sh = 1,
                          .sw = 1,
                          .dh = 1,
                          .dw = 1};
    assert_true(axnn_gconv_shape_init(&s));
    float w[8] = {1, 0, 0, 1, 0, 1, 1, 0}; /* group 0: identity, group 1: swap */
    float b[4] = {10, 20, 30, 40}, x[120], y[120];
    for (int i = 0; i < 120; i++) x[i] = (float)i;
    axnn_gconv_fwd_ref(&s, x, w, b, y);
    for (int i = 0; i < 2; i++)
        for (int p = 0; p < 15; p++) {
            assert_true(y[(i * 4 + 0) * 15 + p] == x[(i * 4 + 0) * 15 + p] + 10);
            assert_true(y[(i * 4 + 1) * 15 + p] == x[(i * 4 + 1) * 15 + p] + 20);
            assert_true(y[(i * 4 + 2) * 15 + p] == x[(i * 4 + 3) * 15 + p] + 30);
            assert_true(y[(i * 4 + 3) * 15 + p] == x[(i * 4 + 2) * 15 + p] + 40);
        }
}

static void test_dw3x3(void **state)
{
    const axnn_dw3x3 *v[4];
    int nv = axnn_dw3x3_variants(v, 4);
    print_message("dw3x3 variants:");
    for (int k = 0; k < nv; k++) print_message(" %s", v[k]->name);
    print_message(" (chosen: %s)\n", axnn_dw3x3_get()->name);
    axnn_rng r;
    axnn_rng_seed(&r, 2);
    for (int it = 0; it < 300; it++) {
        int64_t h = 1 + axnn_rng_below(&r, 40), w = 1 + axnn_rng_below(&r, 70);
        int stride = 1 + (int)axnn_rng_below(&r, 2);
        int64_t oh = (h - 1) / stride + 1, ow = (w - 1) / stride + 1;
        float *x = rnd(h * w, &r), k[9], bias = axnn_rng_uniform(&r);
        tu_fill_uniform(k, 9, -1, 1, &r);
        float *ref = rnd(oh * ow, &r), *y = rnd(oh * ow, &r);
        /* the reference is the grouped conv with one channel per group */
        axnn_gconv_shape s = {.n = 1,
                              .c = 1,
                              .h = h,
                              .w = w,
                              .m = 1,
                              .groups = 1,
                              .kh = 3,
                              .kw = 3,
                              .sh = stride,
                              .sw = stride,
                              .dh = 1,
                              .dw = 1,
                              .pt = 1,
                              .pl = 1,
                              .pb = 1,
                              .pr = 1};
        assert_true(axnn_gconv_shape_init(&s));
        assert_int_equal(s.oh, oh);
        assert_int_equal(s.ow, ow);
        axnn_gconv_fwd_ref(&s, x, k, &bias, ref);
        /* the clamp epilogue: none, ReLU or ReLU6-like bounds */
        float lo = -INFINITY, hi = INFINITY;
        if (it % 3 == 1) lo = 0.0f;
        if (it % 3 == 2) lo = -0.5f, hi = 0.5f;
        for (int64_t i = 0; i < oh * ow; i++) ref[i] = fminf(hi, fmaxf(lo, ref[i]));
        for (int q = 0; q < nv; q++) {
            for (int64_t i = 0; i < oh * ow; i++) y[i] = NAN;
            v[q]->plane(x, h, w, k, bias, lo, hi, y, stride);
            assert_same(y, ref, oh * ow, v[q]->name);
        }
        free(x), free(ref), free(y);
    }
}

static void test_gconv1x1(void **state)
{
    axnn_rng r;
    axnn_rng_seed(&r, 3);
    float *ws = malloc((size_t)axnn_sgemm_ws_floats() * sizeof(float));
    for (int it = 0; it < 40; it++) {
        int64_t g = 1 + axnn_rng_below(&r, 4), c = g * (1 + axnn_rng_below(&r, 24));
        int64_t m = g * (1 + axnn_rng_below(&r, 24)), h = 1 + axnn_rng_below(&r, 12),
                w = 1 + axnn_rng_below(&r, 12), n = 2;
        axnn_gconv_shape s = {.n = n,
                              .c = c,
                              .h = h,
                              .w = w,
                              .m = m,
                              .groups = g,
                              .kh = 1,
                              .kw = 1,
                              .sh = 1,
                              .sw = 1,
                              .dh = 1,
                              .dw = 1};
        assert_true(axnn_gconv_shape_init(&s));
        float *x = rnd(n * c * h * w, &r), *wt = rnd(m * (c / g), &r), *b = rnd(m, &r);
        float *ref = rnd(n * m * h * w, &r), *y = rnd(n * m * h * w, &r);
        axnn_gconv_fwd_ref(&s, x, wt, it & 1 ? b : NULL, ref);
        for (int64_t i = 0; i < n * m * h * w; i++) y[i] = NAN;
        axnn_gconv1x1(0, 1, c, h * w, m, g, x, wt, it & 1 ? b : NULL, y, ws);
        axnn_gconv1x1(1, 2, c, h * w, m, g, x, wt, it & 1 ? b : NULL, y, ws);
        double e = tu_max_rel_err(y, ref, n * m * h * w, 1.0);
        if (e > 1e-5) fail_msg("grouped 1x1: rel error %g", e);
        free(x), free(wt), free(b), free(ref), free(y);
    }
    free(ws);
}

/* ------------------------------------------------------------------- pools ---- */

static void test_pool_shapes(void **state)
{
    /* 8 wide, kernel 3, stride 2, pad 1: floor (8+2-3)/2+1 = 4, ceil 5 */
    axnn_pool_shape p = {.h = 8,
                         .w = 8,
                         .kh = 3,
                         .kw = 3,
                         .sh = 2,
                         .sw = 2,
                         .dh = 1,
                         .dw = 1,
                         .pt = 1,
                         .pl = 1,
                         .pb = 1,
                         .pr = 1};
    assert_true(axnn_pool_shape_init(&p));
    assert_int_equal(p.oh, 4);
    p.ceil_mode = true;
    assert_true(axnn_pool_shape_init(&p));
    assert_int_equal(p.oh, 5);
    /* 6 wide, kernel 2, stride 2, no pad, ceil: (6-2)/2+1 = 3 exactly; 5 wide: ceil(3/2)+1 = 3 */
    p = (axnn_pool_shape){
        .h = 5, .w = 6, .kh = 2, .kw = 2, .sh = 2, .sw = 2, .dh = 1, .dw = 1, .ceil_mode = true};
    assert_true(axnn_pool_shape_init(&p));
    assert_int_equal(p.oh, 3);
    assert_int_equal(p.ow, 3);
    /* the dropped window: 4 wide, k 2, s 2, pad 1 each side, ceil: (4+2-2)/2+1 = 3, last start
     * 2*2-1 = 3 < 4 + 1 kept */
    p = (axnn_pool_shape){.h = 4,
                          .w = 4,
                          .kh = 2,
                          .kw = 2,
                          .sh = 2,
                          .sw = 2,
                          .dh = 1,
                          .dw = 1,
                          .pt = 1,
                          .pl = 1,
                          .pb = 1,
                          .pr = 1,
                          .ceil_mode = true};
    assert_true(axnn_pool_shape_init(&p));
    assert_int_equal(p.oh, 3);
    /* 5 wide, k 2, s 3, pad 1/1, ceil: ceil((5+2-2)/3)+1 = 3, but window 2 would start at
     * 2*3 - 1 = 5, past the input (0..4): dropped -> 2 */
    p = (axnn_pool_shape){.h = 5,
                          .w = 5,
                          .kh = 2,
                          .kw = 2,
                          .sh = 3,
                          .sw = 3,
                          .dh = 1,
                          .dw = 1,
                          .pt = 1,
                          .pl = 1,
                          .pb = 1,
                          .pr = 1,
                          .ceil_mode = true};
    assert_true(axnn_pool_shape_init(&p));
    assert_int_equal(p.oh, 2);
    /* padding as wide as the kernel: refused */
    p = (axnn_pool_shape){
        .h = 3, .w = 3, .kh = 1, .kw = 2, .sh = 2, .sw = 2, .dh = 1, .dw = 1, .pb = 1};
    assert_false(axnn_pool_shape_init(&p));
}

static void test_avgpool_hand(void **state)
{
    /* 3x3 input 1..9, kernel 2, stride 2, pad 1 all round, ceil off: 2x2 windows
     * (0,0) covers x[0] only: include_pad -> 1/4, exclude -> 1 */
    float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, y[4];
    axnn_pool_shape p = {.h = 3,
                         .w = 3,
                         .kh = 2,
                         .kw = 2,
                         .sh = 2,
                         .sw = 2,
                         .dh = 1,
                         .dw = 1,
                         .pt = 1,
                         .pl = 1,
                         .pb = 1,
                         .pr = 1};
    assert_true(axnn_pool_shape_init(&p));
    assert_int_equal(p.oh, 2);
    axnn_avgpool_ref(&p, x, y);
    float want_ex[4] = {1, 2.5f, 5.5f, 7}; /* {1}, {2,3}, {4,7}, {5,6,8,9} */
    assert_same(y, want_ex, 4, "exclude pad");
    p.count_include_pad = true;
    axnn_avgpool_ref(&p, x, y);
    float want_in[4] = {0.25f, 1.25f, 2.75f, 7};
    assert_same(y, want_in, 4, "include pad");
    /* ceil mode window past the padding: 4 wide, k 3, s 2, no pad, ceil -> 2 windows, the second
     * [2, 5) clipped to [2, 4): divisor 2 either way (no padding to count) */
    float x4[4] = {1, 2, 3, 4}, y2[2];
    p = (axnn_pool_shape){.h = 1,
                          .w = 4,
                          .kh = 1,
                          .kw = 3,
                          .sh = 1,
                          .sw = 2,
                          .dh = 1,
                          .dw = 1,
                          .ceil_mode = true,
                          .count_include_pad = true};
    assert_true(axnn_pool_shape_init(&p));
    assert_int_equal(p.ow, 2);
    axnn_avgpool_ref(&p, x4, y2);
    float want2[2] = {2, 3.5f};
    assert_same(y2, want2, 2, "ceil window");
}

static void test_maxpool_hand(void **state)
{
    /* 1x5, kernel 2, dilation 2 (taps 0 and 2), stride 1: max(x0,x2), max(x1,x3), max(x2,x4) */
    float x[5] = {3, 9, 1, 4, 7}, y[3];
    int32_t idx[3];
    axnn_pool_shape p = {.h = 1, .w = 5, .kh = 1, .kw = 2, .sh = 1, .sw = 1, .dh = 1, .dw = 2};
    assert_true(axnn_pool_shape_init(&p));
    assert_int_equal(p.ow, 3);
    axnn_maxpool_ref(&p, x, y, idx);
    float want[3] = {3, 9, 7};
    int32_t widx[3] = {0, 1, 4};
    assert_same(y, want, 3, "dilated max");
    assert_memory_equal(idx, widx, sizeof widx);
    /* NaN wins, ties go to the first, padding never wins (all-negative input) */
    float z[4] = {-5, -5, NAN, -1}, yz[2];
    p = (axnn_pool_shape){.h = 1, .w = 4, .kh = 1, .kw = 2, .sh = 1, .sw = 2, .dh = 1, .dw = 1};
    assert_true(axnn_pool_shape_init(&p));
    axnn_maxpool_ref(&p, z, yz, idx);
    assert_true(yz[0] == -5 && idx[0] == 0);
    assert_true(isnan(yz[1]) && idx[1] == 2);
    p = (axnn_pool_shape){
        .h = 1, .w = 2, .kh = 1, .kw = 3, .sh = 1, .sw = 1, .dh = 1, .dw = 1, .pl = 1, .pr = 1};
    assert_true(axnn_pool_shape_init(&p));
    axnn_maxpool_ref(&p, z, yz, idx);
    assert_true(yz[0] == -5 && yz[1] == -5 && idx[1] == 0);
}

static axnn_pool_shape random_pool(axnn_rng *r)
{
    for (;;) {
        axnn_pool_shape p = {.h = 1 + axnn_rng_below(r, 10),
                             .w = 1 + axnn_rng_below(r, 10),
                             .kh = 1 + axnn_rng_below(r, 4),
                             .kw = 1 + axnn_rng_below(r, 4),
                             .sh = 1 + axnn_rng_below(r, 3),
                             .sw = 1 + axnn_rng_below(r, 3),
                             .dh = 1,
                             .dw = 1,
                             .pt = axnn_rng_below(r, 2),
                             .pl = axnn_rng_below(r, 2),
                             .pb = axnn_rng_below(r, 3),
                             .pr = axnn_rng_below(r, 2),
                             .ceil_mode = axnn_rng_below(r, 2),
                             .count_include_pad = axnn_rng_below(r, 2)};
        if (axnn_pool_shape_init(&p)) return p;
    }
}

static void test_pool_backward(void **state)
{
    axnn_rng r;
    axnn_rng_seed(&r, 4);
    for (int it = 0; it < 300; it++) {
        axnn_pool_shape p = random_pool(&r);
        int64_t nx = p.h * p.w, ny = p.oh * p.ow;
        float *x = rnd(nx, &r), *y = rnd(ny, &r), *g = rnd(ny, &r),
              *dx = calloc((size_t)nx, sizeof(float));
        /* average: linear, so <avg(x), g> = <x, avg'(g)> */
        axnn_avgpool_ref(&p, x, y);
        axnn_avgpool_bwd_ref(&p, g, dx);
        double a = dot(y, g, ny), b = dot(x, dx, nx);
        if (fabs(a - b) > 1e-5 * (1 + sum_abs_prod(y, g, ny)))
            fail_msg("avg pool adjoint: %g vs %g", a, b);
        /* every average lies within its window's range; max pool dominates it */
        float *mx = rnd(ny, &r);
        int32_t *idx = malloc((size_t)ny * sizeof(int32_t));
        axnn_maxpool_ref(&p, x, mx, idx);
        for (int64_t o = 0; o < ny; o++) {
            assert_true(idx[o] >= 0 && idx[o] < nx);
            assert_true(mx[o] == x[idx[o]]);
            if (!p.count_include_pad) assert_true(y[o] <= mx[o] + 1e-6f);
        }
        /* max backward: the gradient lands on the arg-max pixels, nothing else */
        memset(dx, 0, (size_t)nx * sizeof(float));
        axnn_maxpool_bwd_ref(&p, idx, g, dx);
        double sg = 0, sd = 0;
        for (int64_t o = 0; o < ny; o++) sg += g[o];
        for (int64_t i = 0; i < nx; i++) sd += dx[i];
        assert_true(fabs(sg - sd) < 1e-4);
        free(x), free(y), free(g), free(dx), free(mx), free(idx);
    }
}

/* ------------------------------------------------------------------ tensor ---- */

static void test_transpose(void **state)
{
    axnn_rng r;
    axnn_rng_seed(&r, 5);
    for (int it = 0; it < 500; it++) {
        int nd = 1 + (int)axnn_rng_below(&r, 6), perm[6];
        int64_t dims[6], n = 1;
        for (int k = 0; k < nd; k++) dims[k] = 1 + axnn_rng_below(&r, 5), n *= dims[k], perm[k] = k;
        for (int k = nd - 1; k > 0; k--) {
            int j = (int)axnn_rng_below(&r, (uint32_t)k + 1), t = perm[k];
            perm[k] = perm[j], perm[j] = t;
        }
        float *x = rnd(n, &r), *a = rnd(n, &r), *b = rnd(n, &r), *back = rnd(n, &r);
        axnn_transpose_ref(x, nd, dims, perm, a);
        axnn_transpose(x, nd, dims, perm, b);
        assert_memory_equal(a, b, (size_t)n * sizeof(float));
        /* the inverse permutation brings x back */
        int inv[6];
        int64_t od[6];
        for (int k = 0; k < nd; k++) inv[perm[k]] = k, od[k] = dims[perm[k]];
        axnn_transpose(a, nd, od, inv, back);
        assert_memory_equal(back, x, (size_t)n * sizeof(float));
        free(x), free(a), free(b), free(back);
    }
    /* a known case: (2, 3) -> (3, 2) */
    float x[6] = {0, 1, 2, 3, 4, 5}, y[6], want[6] = {0, 3, 1, 4, 2, 5};
    int64_t d[2] = {2, 3};
    int p[2] = {1, 0};
    axnn_transpose(x, 2, d, p, y);
    assert_memory_equal(y, want, sizeof want);
}

static void test_shuffle_concat_split(void **state)
{
    axnn_rng r;
    axnn_rng_seed(&r, 6);
    for (int it = 0; it < 100; it++) {
        int64_t g = 1 + axnn_rng_below(&r, 4), cg = 1 + axnn_rng_below(&r, 5), c = g * cg;
        int64_t n = 1 + axnn_rng_below(&r, 3), hw = 1 + axnn_rng_below(&r, 20), t = n * c * hw;
        float *x = rnd(t, &r), *y = rnd(t, &r), *z = rnd(t, &r), *back = rnd(t, &r);
        axnn_channel_shuffle(x, y, n, c, g, hw);
        int64_t d[4] = {n, g, cg, hw};
        int p[4] = {0, 2, 1, 3};
        axnn_transpose_ref(x, 4, d, p, z);
        assert_memory_equal(y, z, (size_t)t * sizeof(float));
        axnn_channel_shuffle(y, back, n, c, cg, hw);
        assert_memory_equal(back, x, (size_t)t * sizeof(float));
        /* concat along channels of parts of c1, c2, c3 channels, then split back */
        int64_t cs[3] = {1 + axnn_rng_below(&r, 3), 1 + axnn_rng_below(&r, 3),
                         1 + axnn_rng_below(&r, 3)};
        int64_t len[3], total = 0;
        float *parts[3], *out[3];
        for (int k = 0; k < 3; k++) {
            len[k] = cs[k] * hw, total += len[k];
            parts[k] = rnd(n * len[k], &r), out[k] = rnd(n * len[k], &r);
        }
        float *cat = rnd(n * total, &r);
        axnn_tensor_concat(3, (const float *const *)parts, len, n, cat);
        /* element (i, channel ch of part 1, p) sits at (i, cs0 + ch, p) */
        for (int64_t i = 0; i < n; i++)
            for (int64_t ch = 0; ch < cs[1]; ch++)
                for (int64_t q = 0; q < hw; q++)
                    assert_true(cat[i * total + (cs[0] + ch) * hw + q] ==
                                parts[1][(i * cs[1] + ch) * hw + q]);
        axnn_tensor_split(cat, 3, out, len, n);
        for (int k = 0; k < 3; k++) {
            assert_memory_equal(out[k], parts[k], (size_t)(n * len[k]) * sizeof(float));
            free(parts[k]), free(out[k]);
        }
        free(cat), free(x), free(y), free(z), free(back);
    }
}

/* Random broadcastable shapes: b's dims right-aligned, each 1 or a's. */
static void random_bcast(axnn_rng *r, int maxd, int *na, int64_t *ad, int *nb, int64_t *bd)
{
    int nd = 1 + (int)axnn_rng_below(r, (uint32_t)maxd);
    int64_t full[6];
    for (int k = 0; k < nd; k++) full[k] = 1 + axnn_rng_below(r, 5);
    *na = nd - (int)axnn_rng_below(r, 2);
    *nb = nd - (int)axnn_rng_below(r, (uint32_t)nd);
    for (int k = 0; k < *na; k++) ad[k] = axnn_rng_below(r, 3) ? full[nd - *na + k] : 1;
    for (int k = 0; k < *nb; k++) bd[k] = axnn_rng_below(r, 3) ? full[nd - *nb + k] : 1;
}

static int64_t numel(int nd, const int64_t *d)
{
    int64_t n = 1;
    for (int k = 0; k < nd; k++) n *= d[k];
    return n;
}

static void test_binary(void **state)
{
    axnn_rng r;
    axnn_rng_seed(&r, 7);
    for (int it = 0; it < 600; it++) {
        int na, nb, nd;
        int64_t ad[6], bd[6], od[6];
        random_bcast(&r, 5, &na, ad, &nb, bd);
        assert_true(axnn_broadcast_shape(na, ad, nb, bd, &nd, od));
        int64_t n = numel(nd, od), an = numel(na, ad), bn = numel(nb, bd);
        float *a = rnd(an, &r), *b = rnd(bn, &r), *y1 = rnd(n, &r), *y2 = rnd(n, &r);
        for (int64_t i = 0; i < bn; i++) b[i] += b[i] >= 0 ? 0.5f : -0.5f; /* away from 0 */
        axnn_binop op = (axnn_binop)(it % 4);
        axnn_binary_ref(op, a, na, ad, b, nb, bd, y1);
        axnn_binary(op, a, na, ad, b, nb, bd, y2);
        assert_memory_equal(y1, y2, (size_t)n * sizeof(float));
        /* backward against central differences of sum(y * g) at a few elements */
        float *g = rnd(n, &r), *da = rnd(an, &r), *db = rnd(bn, &r), *yp = rnd(n, &r),
              *ym = rnd(n, &r);
        axnn_binary_bwd_ref(op, a, na, ad, b, nb, bd, g, da, db);
        for (int q = 0; q < 4; q++) {
            bool on_a = q & 1;
            float *v = on_a ? a : b, *dv = on_a ? da : db;
            int64_t j = axnn_rng_below(&r, (uint32_t)(on_a ? an : bn));
            float keep = v[j], e = 1e-2f;
            v[j] = keep + e;
            axnn_binary_ref(op, a, na, ad, b, nb, bd, yp);
            v[j] = keep - e;
            axnn_binary_ref(op, a, na, ad, b, nb, bd, ym);
            v[j] = keep;
            double num = (dot(yp, g, n) - dot(ym, g, n)) / (2.0 * e);
            if (fabs(num - dv[j]) > 2e-2 * (1 + fabs(num)))
                fail_msg("op %d: d%s[%lld] %g vs numeric %g", op, on_a ? "a" : "b", (long long)j,
                         dv[j], num);
        }
        free(a), free(b), free(y1), free(y2), free(g), free(da), free(db), free(yp), free(ym);
    }
}

static void test_matmul(void **state)
{
    axnn_rng r;
    axnn_rng_seed(&r, 8);
    float *ws = malloc((size_t)axnn_sgemm_ws_floats() * sizeof(float));
    for (int it = 0; it < 60; it++) {
        int na, nb, nd;
        int64_t ad[6], bd[6], od[6];
        random_bcast(&r, 4, &na, ad, &nb, bd);
        int64_t M = 1 + axnn_rng_below(&r, 20), K = 1 + axnn_rng_below(&r, 30),
                N = 1 + axnn_rng_below(&r, 20);
        ad[na] = M, ad[na + 1] = K, bd[nb] = K, bd[nb + 1] = N;
        na += 2, nb += 2;
        assert_true(axnn_broadcast_shape(na - 2, ad, nb - 2, bd, &nd, od));
        int64_t batches = numel(nd, od);
        float *a = rnd(numel(na, ad), &r), *b = rnd(numel(nb, bd), &r);
        float *c1 = rnd(batches * M * N, &r), *c2 = rnd(batches * M * N, &r);
        axnn_matmul_ref(a, na, ad, b, nb, bd, c1);
        axnn_matmul(a, na, ad, b, nb, bd, c2, ws);
        double e = tu_max_rel_err(c2, c1, batches * M * N, 1.0);
        if (e > 1e-5) fail_msg("matmul: rel error %g", e);
        free(a), free(b), free(c1), free(c2);
    }
    /* (2, 1, 2, 2) x (3, 2, 1): batch broadcast to (2, 3); a known product */
    float a[8] = {1, 2, 3, 4, 5, 6, 7, 8}, b[6] = {1, 0, 0, 1, 1, 1}, c[12];
    int64_t ad[4] = {2, 1, 2, 2}, bd[3] = {3, 2, 1};
    axnn_matmul_ref(a, 4, ad, b, 3, bd, c);
    float want[12] = {1, 3, 2, 4, 3, 7, 5, 7, 6, 8, 11, 15};
    assert_same(c, want, 12, "broadcast matmul");
    free(ws);
}

/* -------------------------------------------------------------- activations ---- */

static const axnn_act ACTS[] = {
    {AXNN_ACT_HARDSIGMOID, 0.2f, 0.5f, 0, 0}, {AXNN_ACT_HARDSWISH, 0, 0, 0, 0},
    {AXNN_ACT_CLIP, 0, 0, 0.0f, 6.0f},        {AXNN_ACT_CLIP, 0, 0, -1.5f, 0.25f},
    {AXNN_ACT_LEAKYRELU, 0.01f, 0, 0, 0},     {AXNN_ACT_LEAKYRELU, 0.3f, 0, 0, 0},
    {AXNN_ACT_SIGMOID, 0, 0, 0, 0},           {AXNN_ACT_TANH, 0, 0, 0, 0},
};

static void test_act_variants(void **state)
{
    const axnn_act_kernels *v[4];
    int nv = axnn_act_variants(v, 4);
    print_message("activation variants:");
    for (int k = 0; k < nv; k++) print_message(" %s", v[k]->name);
    print_message("\n");
    axnn_rng r;
    axnn_rng_seed(&r, 9);
    int64_t n = 4099;
    float *x = malloc((size_t)n * sizeof(float)), *ref = malloc((size_t)n * sizeof(float)),
          *y = malloc((size_t)n * sizeof(float));
    tu_fill_uniform(x, n, -12.0f, 12.0f, &r);
    float specials[] = {0.0f,   -0.0f,      3.0f,     -3.0f,     6.0f,  0.5f,
                        -0.5f,  0.4999999f, 1e-30f,   -1e-7f,    88.0f, -88.0f,
                        100.0f, -100.0f,    INFINITY, -INFINITY, NAN};
    memcpy(x, specials, sizeof specials);
    for (int64_t i = 20; i < 600; i++) x[i] = (float)(i - 310) * 1e-3f; /* near 0 */
    for (size_t a = 0; a < sizeof ACTS / sizeof ACTS[0]; a++) {
        const axnn_act *p = &ACTS[a];
        axnn_act_portable.fwd(p, x, ref, n);
        for (int q = 1; q < nv; q++) {
            for (int64_t off = 0; off < 3; off++) { /* tails of every length */
                v[q]->fwd(p, x + off, y, n - off);
                if (p->kind != AXNN_ACT_SIGMOID && p->kind != AXNN_ACT_TANH) {
                    assert_same(y, ref + off, n - off, v[q]->name);
                    continue;
                }
                for (int64_t i = 0; i < n - off; i++) {
                    double want = ref[i + off], got = y[i];
                    bool ok = (isnan(want) && isnan(got)) || want == got ||
                              fabs(got - want) <= 1e-6 * fabs(want) + 1e-37;
                    if (!ok)
                        fail_msg("%s act %d: x %.9g: %.9g vs %.9g", v[q]->name, p->kind, x[i + off],
                                 got, want);
                }
            }
        }
    }
    free(x), free(ref), free(y);
}

static void test_act_reference(void **state)
{
    /* values from the definitions */
    float x[5] = {-4, -1, 0, 2, 8}, y[5];
    axnn_act hs = {AXNN_ACT_HARDSWISH, 0, 0, 0, 0};
    axnn_act_portable.fwd(&hs, x, y, 5);
    assert_true(y[0] == 0 && y[2] == 0 && y[4] == 8);
    assert_true(fabsf(y[1] - (-1.0f / 3.0f)) < 1e-7f && fabsf(y[3] - 10.0f / 6.0f) < 1e-6f);
    axnn_act relu6 = {AXNN_ACT_CLIP, 0, 0, 0, 6};
    axnn_act_portable.fwd(&relu6, x, y, 5);
    assert_true(y[0] == 0 && y[3] == 2 && y[4] == 6);
    /* gradients against central differences away from the kinks */
    axnn_rng r;
    axnn_rng_seed(&r, 10);
    for (size_t a = 0; a < sizeof ACTS / sizeof ACTS[0]; a++) {
        for (int it = 0; it < 200; it++) {
            float v = -8.0f + 16.0f * axnn_rng_uniform(&r), e = 1e-3f, yp, ym, y0, g = 1.0f, dx;
            const axnn_act *p = &ACTS[a];
            float kinks[] = {-3, 3, 0, 6, -1.5f, 0.25f, -2.5f, 2.5f};
            bool near = false;
            for (int k = 0; k < 8; k++) near |= fabsf(v - kinks[k]) < 2e-3f;
            if (near) continue;
            float vp = v + e, vm = v - e;
            axnn_act_portable.fwd(p, &vp, &yp, 1);
            axnn_act_portable.fwd(p, &vm, &ym, 1);
            axnn_act_portable.fwd(p, &v, &y0, 1);
            axnn_act_bwd_ref(p, &v, &y0, &g, &dx, 1);
            double num = ((double)yp - ym) / (2.0 * e);
            if (fabs(num - dx) > 1e-2 * (1 + fabs(num)))
                fail_msg("act %d at %g: grad %g vs numeric %g", p->kind, v, dx, num);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gconv_shape),
        cmocka_unit_test(test_gconv_adjoint),
        cmocka_unit_test(test_gconv_facts),
        cmocka_unit_test(test_dw3x3),
        cmocka_unit_test(test_gconv1x1),
        cmocka_unit_test(test_pool_shapes),
        cmocka_unit_test(test_avgpool_hand),
        cmocka_unit_test(test_maxpool_hand),
        cmocka_unit_test(test_pool_backward),
        cmocka_unit_test(test_transpose),
        cmocka_unit_test(test_shuffle_concat_split),
        cmocka_unit_test(test_binary),
        cmocka_unit_test(test_matmul),
        cmocka_unit_test(test_act_variants),
        cmocka_unit_test(test_act_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
