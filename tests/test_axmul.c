/* Tests of the approximate-multiplier library: metrics, built-in families against hand-checked
 * entries and independent formulas, .axmul and raw files, EvoApproxLib C import of the circuits
 * in tests/data/axmul (written by tests/gen/gen_axmul.py), including broken ones that must fail
 * with a message naming the file while this process survives, and the decomposition. */
#define _GNU_SOURCE
#include "testutil.h"
#include "axnn/axmul.h"

#include "axnn/io.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static axnn_mul *get(const char *name)
{
    axnn_mul *m = NULL;
    axnn_status st = axnn_mul_get(name, &m);
    if (st) fprintf(stderr, "%s: %s\n", name, axnn_last_error());
    assert_int_equal(st, AXNN_OK);
    return m;
}

static void assert_same_table(const axnn_mul *x, const axnn_mul *y)
{
    for (int a = -128; a < 128; a++)
        for (int b = -128; b < 128; b++)
            if (axnn_mul_at(x, a, b) != axnn_mul_at(y, a, b)) {
                fprintf(stderr, "%s vs %s differ at (%d, %d): %d vs %d\n", x->name, y->name, a, b,
                        axnn_mul_at(x, a, b), axnn_mul_at(y, a, b));
                fail();
            }
}

static void assert_error_has(const char *needle)
{
    if (!strstr(axnn_last_error(), needle)) {
        fprintf(stderr, "error '%s' lacks '%s'\n", axnn_last_error(), needle);
        fail();
    }
}

/* ---------------------------------------------------------------- metrics ---- */

static void test_metrics_exact(void **state)
{
    axnn_mul *m = get("exact");
    const axnn_mul_metrics *x = &m->metrics;
    assert_true(axnn_mul_is_exact(m));
    assert_true(x->mae == 0 && x->mae_pct == 0 && x->wce == 0 && x->wce_pct == 0 &&
                x->wcre_pct == 0);
    assert_true(x->mre_pct == 0 && x->ep_pct == 0 && x->mse == 0 && x->bias == 0 && x->std == 0);
    assert_true(m->power_mw == 0.425 && m->power_estimated);
    assert_non_null(strstr(m->source, "reference"));
    axnn_mul_free(m);
}

static void test_metrics_trunc3(void **state)
{
    axnn_mul *m = get("trunc:3");
    const axnn_mul_metrics *x = &m->metrics;
    assert_true(x->mae == 4.25);
    assert_true(fabs(x->mae_pct - 4.25 / 65536 * 100) < 1e-12);
    assert_true(x->wce == 17);
    assert_true(fabs(x->wce_pct - 17.0 / 65536 * 100) < 1e-12);
    assert_true(fabs(x->wcre_pct - 1700.0) < 1e-9); /* a = b = -1: exact 1, approx -16 */
    assert_true(x->ep_pct == 68.75);
    assert_true(x->mse == 34.25);
    assert_true(fabs(x->mre_pct - 0.902397579859769) < 1e-9); /* tests/gen/gen_axmul.py */
    assert_true(x->bias == -4.25);                            /* truncation only lowers */
    assert_true(fabs(x->std - sqrt(34.25 - 4.25 * 4.25)) < 1e-12);
    assert_false(axnn_mul_is_exact(m));
    assert_true(m->power_estimated && fabs(m->power_mw - 0.425 * 58 / 64) < 1e-12);
    axnn_mul_free(m);
}

static void test_metrics_from_table(void **state)
{
    int32_t *t = malloc(AXNN_MUL_ENTRIES * sizeof *t);
    for (int a = -128; a < 128; a++)
        for (int b = -128; b < 128; b++)
            t[(a + 128) * 256 + b + 128] = a * b + (a == 3 && b == 0 ? 5 : 0);
    axnn_mul *m;
    assert_int_equal(axnn_mul_from_table("one", "test", t, &m), AXNN_OK);
    /* the only error is on a zero product: no relative error (EvoApproxLib leaves those out) */
    assert_true(m->metrics.wce == 5 && m->metrics.wcre_pct == 0 && m->metrics.mre_pct == 0);
    assert_true(m->metrics.ep_pct == 100.0 / 65536 && m->metrics.mse == 25.0 / 65536);
    assert_true(isnan(m->claimed.mae) && m->power_mw < 0);
    axnn_mul_free(m);
    /* plus a large relative error: T(1, 1) = 100, and T(-2, 64) = -120 (|e| / |x| = 8 / 128) */
    t[(1 + 128) * 256 + 1 + 128] = 100;
    t[(-2 + 128) * 256 + 64 + 128] = -120;
    assert_int_equal(axnn_mul_from_table("two", "test", t, &m), AXNN_OK);
    const axnn_mul_metrics *x = &m->metrics;
    assert_true(x->wce == 99 && x->wcre_pct == 9900.0);
    assert_true(x->mae == (5.0 + 99 + 8) / 65536 && x->mse == (25.0 + 99 * 99 + 64) / 65536);
    /* 255 * 255 = 65,025 pairs with a non-zero product */
    assert_true(fabs(x->mre_pct - (99.0 + 8.0 / 128) / 65025 * 100) < 1e-12);
    assert_true(x->ep_pct == 300.0 / 65536 && x->bias == (5.0 + 99 + 8) / 65536);
    axnn_mul_free(m);
    free(t);
}

/* Extreme entries: no integer overflow (UBSan build), exact values. With x = a * b,
 * sum x = (sum a)^2 = 16384 and sum x^2 = (sum a^2)^2 = 1398144^2. */
static void test_metrics_extreme(void **state)
{
    int32_t *t = malloc(AXNN_MUL_ENTRIES * sizeof *t);
    for (int i = 0; i < AXNN_MUL_ENTRIES; i++) t[i] = INT32_MIN;
    axnn_mul *m;
    assert_int_equal(axnn_mul_from_table("min", "test", t, &m), AXNN_OK);
    const axnn_mul_metrics *x = &m->metrics;
    const double two31 = 2147483648.0, mx2 = 1398144.0 * 1398144.0 / 65536;
    assert_true(x->mae == two31 + 0.25 && x->bias == -(two31 + 0.25)); /* e = -(2^31 + x) */
    assert_true(x->wce == two31 + 16384 && x->ep_pct == 100);
    assert_true(x->wcre_pct == (two31 + 1) * 100); /* x = 1 */
    double mse = two31 * two31 + 2 * two31 * 0.25 + mx2;
    assert_true(fabs(x->mse - mse) <= 1e-15 * mse);
    assert_true(fabs(x->std - sqrt(mx2 - 0.0625)) < 1e-6);
    axnn_mul_free(m);
    for (int i = 0; i < AXNN_MUL_ENTRIES; i++) t[i] = i % 2 ? INT32_MAX : INT32_MIN;
    assert_int_equal(axnn_mul_from_table("alt", "test", t, &m), AXNN_OK);
    assert_true(isfinite(m->metrics.mse) && isfinite(m->metrics.std) && m->metrics.mse > 4e18);
    assert_true(m->metrics.wce == two31 + 16384);
    axnn_mul_free(m);
    for (int i = 0; i < AXNN_MUL_ENTRIES; i++) t[i] = INT32_MAX;
    assert_int_equal(axnn_mul_from_unsigned("umax", "test", t, &m), AXNN_OK);
    assert_true(m->metrics.wce == 2147483647.0 && m->metrics.ep_pct == 100);
    axnn_mul_free(m);
    free(t);
}

static void claim(axnn_mul *m, double *field, double v, double unit)
{
    field[0] = v;
    field[(double *)&m->claimed_unit - (double *)&m->claimed] = unit;
}

static void test_claims_precision(void **state)
{
    axnn_mul *m = get("trunc:3");
    int n;
    assert_int_equal(axnn_mul_check_claims(m, &n, NULL, 0), 0);
    assert_int_equal(n, 0);
    /* EvoApproxLib's printed values for the same circuit: truncated and rounded ones agree */
    claim(m, &m->claimed.mae_pct, 0.0064, 1e-4);
    claim(m, &m->claimed.mae, 4.2, 0.1);
    claim(m, &m->claimed.wce_pct, 0.026, 1e-3);
    claim(m, &m->claimed.wce, 17, 1);
    claim(m, &m->claimed.wcre_pct, 1700.00, 0.01);
    claim(m, &m->claimed.ep_pct, 68.75, 0.01);
    claim(m, &m->claimed.mre_pct, 0.90, 0.01);
    claim(m, &m->claimed.mse, 34, 1);
    char msg[256];
    assert_int_equal(axnn_mul_check_claims(m, &n, msg, sizeof msg), 0);
    assert_int_equal(n, 8);
    assert_string_equal(msg, "");
    claim(m, &m->claimed.wce, 16, 1);
    assert_int_equal(axnn_mul_check_claims(m, &n, msg, sizeof msg), 1);
    assert_string_equal(msg, "WCE: header 16, computed 17");
    claim(m, &m->claimed.wce, 18, 1);
    assert_int_equal(axnn_mul_check_claims(m, &n, msg, sizeof msg), 1);
    claim(m, &m->claimed.wce, 17, 1);
    claim(m, &m->claimed.mae, 4.3, 0.1); /* 4.25 rounded up: fine */
    assert_int_equal(axnn_mul_check_claims(m, &n, msg, sizeof msg), 0);
    claim(m, &m->claimed.mae, 4.4, 0.1);
    assert_int_equal(axnn_mul_check_claims(m, &n, msg, sizeof msg), 1);
    axnn_mul_free(m);
}

/* MAE% derived from the header's own rounded MAE (EvoApproxLib's mul8s_1KVA: MAE 1.25 printed
 * "1.2", MAE% printed "0.0018" = 1.2 / 655.36, not 0.0019). */
static void test_claims_derived_pct(void **state)
{
    int32_t *t = malloc(AXNN_MUL_ENTRIES * sizeof *t);
    for (int a = -128; a < 128; a++)
        for (int b = -128; b < 128; b++) t[(a + 128) * 256 + b + 128] = a * b + (b % 4 ? 0 : 5);
    axnn_mul *m;
    assert_int_equal(axnn_mul_from_table("kva", "test", t, &m), AXNN_OK);
    assert_true(m->metrics.mae == 1.25);
    char msg[256];
    int n;
    claim(m, &m->claimed.mae_pct, 0.0018, 1e-4);
    assert_int_equal(axnn_mul_check_claims(m, &n, msg, sizeof msg), 1); /* no MAE claim yet */
    claim(m, &m->claimed.mae, 1.2, 0.1);
    assert_int_equal(axnn_mul_check_claims(m, &n, msg, sizeof msg), 0);
    claim(m, &m->claimed.mae, 1.0, 0.1); /* a wrong MAE does not vouch for its percentage */
    assert_int_equal(axnn_mul_check_claims(m, &n, msg, sizeof msg), 2);
    claim(m, &m->claimed.mae, 1.2, 0.1);
    claim(m, &m->claimed.mae_pct, 0.0030, 1e-4);
    assert_int_equal(axnn_mul_check_claims(m, &n, msg, sizeof msg), 1);
    assert_non_null(strstr(msg, "MAE%: header 0.003"));
    axnn_mul_free(m);
    free(t);
}

/* ---------------------------------------------------------------- families ---- */

static void test_trunc_entries(void **state)
{
    axnn_mul *m = get("trunc:3");
    assert_int_equal(axnn_mul_at(m, -1, -1), -16);
    assert_int_equal(axnn_mul_at(m, 1, 1), 0);
    assert_int_equal(axnn_mul_at(m, 7, 7), 32);
    assert_int_equal(axnn_mul_at(m, 3, 5), 8);
    assert_int_equal(axnn_mul_at(m, 127, 127), 16112);
    assert_int_equal(axnn_mul_at(m, -128, -128), 16384);
    assert_int_equal(axnn_mul_at(m, 0, -77), 0);
    axnn_mul_free(m);
    axnn_mul *z = get("trunc:15"), *e = get("trunc:0");
    for (int a = -128; a < 128; a += 5)
        for (int b = -128; b < 128; b += 3) assert_int_equal(axnn_mul_at(z, a, b), 0);
    assert_true(axnn_mul_is_exact(e));
    axnn_mul_free(z);
    axnn_mul_free(e);
}

static void test_bam_entries(void **state)
{
    axnn_mul *m = get("bam:1,0"); /* row b_0 dropped: a * (b with bit 0 cleared) */
    for (int a = -128; a < 128; a++)
        for (int b = -128; b < 128; b++) assert_int_equal(axnn_mul_at(m, a, b), a * (b & ~1));
    assert_int_equal(axnn_mul_at(m, 5, 3), 10);
    assert_int_equal(axnn_mul_at(m, -7, -1), 14);
    axnn_mul_free(m);
    for (int v = 0; v < 16; v++) {
        char n1[32], n2[32];
        snprintf(n1, sizeof n1, "bam:0,%d", v);
        snprintf(n2, sizeof n2, "trunc:%d", v);
        axnn_mul *x = get(n1), *y = get(n2);
        assert_same_table(x, y);
        axnn_mul_free(x);
        axnn_mul_free(y);
    }
    axnn_mul *z = get("bam:8,0");
    assert_true(z->metrics.mae == 4096.0); /* the zero multiplier: mean |a*b| */
    assert_true(z->power_mw == 0.0);
    axnn_mul_free(z);
}

/* DRUM by a different route: s = floor(log2 x) - K + 1 and x' = 2^s (2 floor(x / 2^(s+1)) + 1). */
static double drum_ref(int x, int k)
{
    if (x < (1 << k)) return x;
    int s = (int)floor(log2((double)x)) - k + 1;
    return ldexp(2.0 * floor(ldexp(x, -(s + 1))) + 1.0, s);
}

static void test_drum(void **state)
{
    axnn_mul *m = get("drum:4");
    assert_int_equal(axnn_mul_at(m, 100, 100), 10816);
    assert_int_equal(axnn_mul_at(m, -100, 100), -10816);
    assert_int_equal(axnn_mul_at(m, 15, 15), 225);
    assert_int_equal(axnn_mul_at(m, 128 - 256, 1), -144);
    assert_int_equal(axnn_mul_at(m, 17, 3), 54);
    axnn_mul_free(m);
    for (int k = 3; k <= 8; k++) {
        char n[16];
        snprintf(n, sizeof n, "drum:%d", k);
        m = get(n);
        for (int a = -128; a < 128; a++)
            for (int b = -128; b < 128; b++) {
                double p =
                    drum_ref(abs(a), k) * drum_ref(abs(b), k) * ((a < 0) != (b < 0) ? -1 : 1);
                assert_true(axnn_mul_at(m, a, b) == p);
            }
        if (k == 8) assert_true(axnn_mul_is_exact(m));
        axnn_mul_free(m);
    }
}

/* Mitchell in floating point: antilog of the piecewise-linear log sum (exact in doubles here). */
static double mitchell_ref(int x, int y)
{
    if (!x || !y) return 0;
    double k1 = floor(log2(x)), k2 = floor(log2(y));
    double f1 = x / exp2(k1) - 1, f2 = y / exp2(k2) - 1;
    return f1 + f2 < 1 ? exp2(k1 + k2) * (1 + f1 + f2) : exp2(k1 + k2 + 1) * (f1 + f2);
}

static void test_mitchell(void **state)
{
    axnn_mul *m = get("mitchell");
    assert_int_equal(axnn_mul_at(m, 3, 3), 8);
    assert_int_equal(axnn_mul_at(m, 2, 3), 6);
    assert_int_equal(axnn_mul_at(m, -5, 7), -32);
    assert_int_equal(axnn_mul_at(m, 0, 99), 0);
    for (int a = -128; a < 128; a++)
        for (int b = -128; b < 128; b++) {
            double p = mitchell_ref(abs(a), abs(b)) * ((a < 0) != (b < 0) ? -1 : 1);
            assert_true(axnn_mul_at(m, a, b) == p);
            assert_true(abs(axnn_mul_at(m, a, b)) <= abs(a * b)); /* never overestimates */
        }
    axnn_mul_free(m);
}

static void test_udm(void **state)
{
    axnn_mul *m = get("udm");
    assert_int_equal(axnn_mul_at(m, 3, 3), 7);
    assert_int_equal(axnn_mul_at(m, -3, 3), -7);
    assert_int_equal(axnn_mul_at(m, 15, 15), 175);
    assert_int_equal(axnn_mul_at(m, 127, 1), 127);
    assert_int_equal(axnn_mul_at(m, 11, 7), 75);
    assert_int_equal(axnn_mul_at(m, 2, 2), 4);
    axnn_mul_free(m);
}

static void test_bad_names(void **state)
{
    axnn_mul *m = (axnn_mul *)1;
    assert_int_equal(axnn_mul_get("trunc:16", &m), AXNN_ERR_ARG);
    assert_null(m);
    assert_error_has("K = 0..15");
    assert_int_equal(axnn_mul_get("trunc:3x", &m), AXNN_ERR_ARG);
    assert_int_equal(axnn_mul_get("bam:9,0", &m), AXNN_ERR_ARG);
    assert_int_equal(axnn_mul_get("bam:2", &m), AXNN_ERR_ARG);
    assert_int_equal(axnn_mul_get("drum:2", &m), AXNN_ERR_ARG);
    assert_int_equal(axnn_mul_get("etm:3", &m), AXNN_ERR_ARG);
    assert_error_has("etm:3");
    setenv("AXNN_MUL_PATH", "/nonexistent/axnn-mul-test", 1);
    assert_int_equal(axnn_mul_get("mul8s_1KV9", &m), AXNN_ERR_ARG);
    assert_error_has("unknown multiplier 'mul8s_1KV9'");
    assert_error_has("axnn mul import mul8s_1KV9.c");
    assert_int_equal(axnn_mul_get("mul8s_1KV9.c", &m), AXNN_ERR_ARG);
    assert_error_has("axnn mul import mul8s_1KV9.c");
    assert_int_equal(axnn_mul_get("/nonexistent/x.axmul", &m), AXNN_ERR_IO);
    assert_error_has("/nonexistent/x.axmul");
    assert_false(axnn_mul_name_ok("exact"));
    assert_false(axnn_mul_name_ok("a/b"));
    assert_false(axnn_mul_name_ok(".hidden"));
    assert_false(axnn_mul_name_ok(""));
    assert_true(axnn_mul_name_ok("mul8s_1KV9"));
    const char *const *f = axnn_mul_families();
    int n = 0;
    while (f[n]) n++;
    assert_true(n >= 6);
}

/* ---------------------------------------------------------------- files ---- */

static void test_save_load(void **state)
{
    char *dir = tu_tmpdir(), path[512];
    axnn_mul *m = get("bam:2,4");
    m->claimed.mae = 97.0;
    m->claimed_unit.mae = 1.0;
    m->area_um2 = 123.5;
    snprintf(path, sizeof path, "%s/b.axmul", dir);
    assert_int_equal(axnn_mul_save(m, path), AXNN_OK);
    axnn_mul *r;
    assert_int_equal(axnn_mul_load(path, &r), AXNN_OK);
    assert_same_table(m, r);
    assert_string_equal(r->name, "bam:2,4");
    assert_string_equal(r->source, m->source);
    assert_true(r->power_mw == m->power_mw && r->power_estimated && r->area_um2 == 123.5 &&
                r->delay_ns < 0);
    assert_true(r->claimed.mae == 97.0 && r->claimed_unit.mae == 1.0 && isnan(r->claimed.mse));
    assert_true(memcmp(&r->metrics, &m->metrics, sizeof m->metrics) == 0);
    int n;
    assert_int_equal(axnn_mul_check_claims(r, &n, NULL, 0), 0);
    assert_int_equal(n, 1);
    axnn_mul_free(r);
    /* by path, through axnn_mul_get */
    assert_int_equal(axnn_mul_get(path, &r), AXNN_OK);
    axnn_mul_free(r);
    /* not an axnn multiplier file */
    tu_write_file(path, "garbage!", 8);
    assert_int_not_equal(axnn_mul_load(path, &r), AXNN_OK);
    assert_error_has("b.axmul");
    axnn_mul_free(m);
    tu_rmtree(dir);
    free(dir);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc(*len + 1);
    assert_int_equal(fread(b, 1, *len, f), *len);
    fclose(f);
    b[*len] = 0;
    return b;
}

static void expect_load_error(const char *path, const char *needle)
{
    axnn_mul *r = (axnn_mul *)1;
    assert_int_not_equal(axnn_mul_load(path, &r), AXNN_OK);
    assert_null(r);
    assert_error_has(path);
    assert_error_has(needle);
    assert_null(strchr(axnn_last_error(), '\n'));
}

/* A file written by hand with the safetensors writer: format, power_mw and crc32 as given. */
static void write_axmul(const char *path, const axnn_mul *m, const char *format, const char *power,
                        const char *crc)
{
    axnn_st_writer *w = axnn_st_writer_new();
    const int64_t shape[2] = {256, 256};
    assert_int_equal(axnn_st_writer_add(w, "table", AXNN_ST_I32, 2, shape, m->table), AXNN_OK);
    axnn_st_writer_meta(w, "format", format);
    axnn_st_writer_meta(w, "name", m->name);
    axnn_st_writer_meta(w, "source", "test");
    if (power) axnn_st_writer_meta(w, "power_mw", power);
    if (crc) axnn_st_writer_meta(w, "crc32", crc);
    assert_int_equal(axnn_st_writer_write(w, path), AXNN_OK);
    axnn_st_writer_free(w);
}

static void test_integrity(void **state)
{
    char *dir = tu_tmpdir(), path[512];
    axnn_mul *m = get("trunc:4"), *r;
    m->area_um2 = 123.5;
    snprintf(path, sizeof path, "%s/t.axmul", dir);
    assert_int_equal(axnn_mul_save(m, path), AXNN_OK);
    assert_int_equal(axnn_mul_load(path, &r), AXNN_OK);
    assert_false(r->unverified);
    axnn_mul_free(r);
    size_t len;
    char *good = slurp(path, &len);
    assert_non_null(memmem(good, len, "\"crc32\"", 7));
    /* every byte of the table data: a flip anywhere is caught (sampled every 997 bytes) */
    for (size_t k = len - AXNN_MUL_ENTRIES * 4; k < len; k += 997) {
        good[k] ^= 0x10;
        tu_write_file(path, good, len);
        expect_load_error(path, "checksum mismatch");
        good[k] ^= 0x10;
    }
    /* a digit of a metadata value */
    char *area = memmem(good, len, "123.5", 5);
    assert_non_null(area);
    area[2] = '4';
    tu_write_file(path, good, len);
    expect_load_error(path, "checksum mismatch");
    area[2] = '3';
    tu_write_file(path, good, len);
    assert_int_equal(axnn_mul_load(path, &r), AXNN_OK);
    axnn_mul_free(r);
    free(good);
    /* no checksum in the current format: damaged */
    write_axmul(path, m, "axnn-multiplier-2", "0.3", NULL);
    expect_load_error(path, "no 'crc32'");
    /* an old file without a checksum loads, flagged */
    write_axmul(path, m, "axnn-multiplier-1", "0.3", NULL);
    assert_int_equal(axnn_mul_load(path, &r), AXNN_OK);
    assert_true(r->unverified && r->power_mw == 0.3);
    assert_same_table(m, r);
    axnn_mul_free(r);
    /* non-finite metadata */
    static const char *const bad[] = {"nan", "inf", "-inf", "1e999", "NaN"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_axmul(path, m, "axnn-multiplier-1", bad[i], NULL);
        expect_load_error(path, "power_mw");
        assert_error_has("not a finite number");
    }
    m->delay_ns = NAN; /* saved with a valid checksum, still rejected */
    assert_int_equal(axnn_mul_save(m, path), AXNN_OK);
    expect_load_error(path, "delay_ns");
    axnn_mul_free(m);
    tu_rmtree(dir);
    free(dir);
}

static void test_store_and_list(void **state)
{
    char *dir = tu_tmpdir(), sub[512], path[600];
    snprintf(sub, sizeof sub, "%s/a/b", dir);
    setenv("AXNN_MUL_PATH", sub, 1);
    assert_string_equal(axnn_mul_dir(), sub);
    axnn_mul *m = get("trunc:2");
    assert_int_equal(axnn_mul_store(m, path, sizeof path), AXNN_ERR_ARG); /* built-in name */
    snprintf(m->name, sizeof m->name, "my_trunc2");
    assert_int_equal(axnn_mul_store(m, path, sizeof path), AXNN_OK);
    assert_non_null(strstr(path, "a/b/my_trunc2.axmul"));
    axnn_mul *r = get("my_trunc2");
    assert_same_table(m, r);
    char **names = axnn_mul_list();
    bool seen = false;
    for (char **p = names; *p; p++) seen |= !strcmp(*p, "my_trunc2");
    assert_true(seen && !strcmp(names[0], "exact"));
    axnn_mul_names_free(names);
    axnn_mul_free(r);
    axnn_mul_free(m);
    unsetenv("AXNN_MUL_PATH");
    char *home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    setenv("XDG_DATA_HOME", "/x", 1);
    assert_string_equal(axnn_mul_dir(), "/x/axnn/multipliers");
    unsetenv("XDG_DATA_HOME");
    setenv("HOME", "/h", 1);
    assert_string_equal(axnn_mul_dir(), "/h/.local/share/axnn/multipliers");
    if (home) setenv("HOME", home, 1);
    free(home);
    tu_rmtree(dir);
    free(dir);
}

static void test_raw_roundtrip(void **state)
{
    char *dir = tu_tmpdir(), bin[512], csv[512];
    snprintf(bin, sizeof bin, "%s/t.bin", dir);
    snprintf(csv, sizeof csv, "%s/t.csv", dir);
    axnn_mul *m = get("mitchell"), *r;
    assert_int_equal(axnn_mul_export_raw(m, bin, NULL), AXNN_OK);
    assert_int_equal(axnn_mul_export_raw(m, csv, NULL), AXNN_OK);
    assert_int_equal(axnn_mul_import_raw(bin, "mb", NULL, &r), AXNN_OK);
    assert_same_table(m, r);
    assert_string_equal(r->name, "mb");
    axnn_mul_free(r);
    assert_int_equal(axnn_mul_import_raw(csv, "mc", NULL, &r), AXNN_OK);
    assert_same_table(m, r);
    axnn_mul_free(r);
    /* little-endian int16 at (a, b) = (-128, -127): offset 2 */
    FILE *f = fopen(bin, "rb");
    unsigned char h[4];
    assert_int_equal(fread(h, 1, 4, f), 4);
    fclose(f);
    assert_int_equal((int16_t)(h[2] | h[3] << 8), axnn_mul_at(m, -128, -127));
    axnn_mul_free(m);
    tu_rmtree(dir);
    free(dir);
}

/* Every raw format round-trips; the orders put (a, b) where axnn/axmul.h says. */
static void test_raw_orders(void **state)
{
    char *dir = tu_tmpdir(), p[512];
    axnn_mul *m = get("mitchell"), *r;
    const axnn_mul_raw_format twos = {AXNN_MUL_ORDER_TWOS, false};
    const char *const ext[] = {"bin", "csv"};
    for (int e = 0; e < 2; e++)
        for (int o = 0; o < 2; o++) {
            const axnn_mul_raw_format f = {o ? AXNN_MUL_ORDER_TWOS : AXNN_MUL_ORDER_OFFSET, false};
            snprintf(p, sizeof p, "%s/t%d.%s", dir, o, ext[e]);
            assert_int_equal(axnn_mul_export_raw(m, p, &f), AXNN_OK);
            assert_int_equal(axnn_mul_import_raw(p, "r", &f, &r), AXNN_OK);
            assert_same_table(m, r);
            assert_null(r->utable);
            axnn_mul_free(r);
        }
    /* twos order: (a, b) = (-1, 3) at index 255 * 256 + 3; (0, -128) at 128 */
    snprintf(p, sizeof p, "%s/t1.bin", dir);
    size_t len;
    unsigned char *b = (unsigned char *)slurp(p, &len);
    int i = 255 * 256 + 3;
    assert_int_equal((int16_t)(b[2 * i] | b[2 * i + 1] << 8), axnn_mul_at(m, -1, 3));
    i = 128;
    assert_int_equal((int16_t)(b[2 * i] | b[2 * i + 1] << 8), axnn_mul_at(m, 0, -128));
    free(b);
    /* reading a twos file as offset gives another table */
    assert_int_equal(axnn_mul_import_raw(p, "r", NULL, &r), AXNN_OK);
    assert_int_not_equal(axnn_mul_at(r, -1, 3), axnn_mul_at(m, -1, 3));
    axnn_mul_free(r);
    /* CSV twos order: line 1 is a = 0, its first value b = 0 */
    snprintf(p, sizeof p, "%s/t1.csv", dir);
    assert_int_equal(axnn_mul_export_raw(m, p, &twos), AXNN_OK);
    char *text = slurp(p, &len);
    assert_int_equal(atoi(text), axnn_mul_at(m, 0, 0));
    free(text);
    axnn_mul_free(m);
    tu_rmtree(dir);
    free(dir);
}

/* An unsigned multiplier: its own table, metrics on uint8 operands, sign-magnitude use. */
static void test_raw_unsigned(void **state)
{
    char *dir = tu_tmpdir(), p[512];
    int32_t *u = malloc(AXNN_MUL_ENTRIES * sizeof *u);
    for (int a = 0; a < 256; a++)
        for (int b = 0; b < 256; b++) u[a * 256 + b] = (a * b) & ~7;
    axnn_mul *m, *r;
    assert_int_equal(axnn_mul_from_unsigned("u3", "test", u, &m), AXNN_OK);
    /* e = -(ab mod 8): for a, b = 0..255 mean 2.75, EP 68.75% (as tests/gen/gen_axmul.py) */
    assert_true(m->metrics.mae == 2.75 && m->metrics.wce == 7 && m->metrics.ep_pct == 68.75);
    assert_true(m->metrics.wcre_pct == 100 && m->metrics.mse == 13.25);
    assert_true(fabs(m->metrics.mre_pct - 0.17187769813434609) < 1e-12);
    assert_int_equal(axnn_mul_at(m, -3, 5), -8);
    assert_int_equal(axnn_mul_at(m, -128, -128), 16384);
    assert_int_equal(axnn_mul_at(m, 127, -9), -(127 * 9 & ~7));
    const axnn_mul_raw_format uf = {AXNN_MUL_ORDER_OFFSET, true};
    const char *const ext[] = {"bin", "csv", "axmul"};
    for (int e = 0; e < 3; e++) {
        snprintf(p, sizeof p, "%s/u.%s", dir, ext[e]);
        if (e < 2) {
            assert_int_equal(axnn_mul_export_raw(m, p, &uf), AXNN_OK);
            assert_int_equal(axnn_mul_import_raw(p, "u", &uf, &r), AXNN_OK);
        } else {
            assert_int_equal(axnn_mul_save(m, p), AXNN_OK);
            assert_int_equal(axnn_mul_load(p, &r), AXNN_OK);
        }
        assert_non_null(r->utable);
        assert_memory_equal(r->utable, u, AXNN_MUL_ENTRIES * sizeof *u);
        assert_same_table(m, r);
        assert_true(memcmp(&r->metrics, &m->metrics, sizeof m->metrics) == 0);
        axnn_mul_free(r);
    }
    /* the same .bin read as signed (the default) is a signed table: no utable */
    snprintf(p, sizeof p, "%s/u.bin", dir);
    assert_int_equal(axnn_mul_import_raw(p, "s", NULL, &r), AXNN_OK);
    assert_null(r->utable);
    axnn_mul_free(r);
    /* a signed multiplier has no unsigned table to export */
    axnn_mul *s = get("trunc:2");
    assert_int_equal(axnn_mul_export_raw(s, p, &uf), AXNN_ERR_ARG);
    assert_error_has("is signed");
    axnn_mul_free(s);
    /* an unsigned value above 65535 does not fit .bin */
    m->utable[7] = 70000;
    assert_int_equal(axnn_mul_export_raw(m, p, &uf), AXNN_ERR_ARG);
    assert_error_has("outside uint16");
    axnn_mul_free(m);
    free(u);
    tu_rmtree(dir);
    free(dir);
}

/* The C header export compiles (when a compiler is there) and holds the table. */
static void test_export_header(void **state)
{
    char *dir = tu_tmpdir(), p[512];
    axnn_mul *m = get("drum:4");
    const axnn_mul_raw_format twos = {AXNN_MUL_ORDER_TWOS, false};
    snprintf(p, sizeof p, "%s/t.h", dir);
    assert_int_equal(axnn_mul_export_raw(m, p, &twos), AXNN_OK);
    size_t len;
    char *text = slurp(p, &len);
    assert_non_null(strstr(text, "static const int16_t T[256][256] = {"));
    assert_non_null(strstr(text, "x = (uint8_t)a, y = (uint8_t)b"));
    /* row 0 = a = 0: all zeros; row 255 = a = -1 */
    char want[64];
    snprintf(want, sizeof want, "{%d,%d,", axnn_mul_at(m, -1, 0), axnn_mul_at(m, -1, 1));
    assert_non_null(strstr(text, want));
    free(text);
    axnn_mul_free(m);
    tu_rmtree(dir);
    free(dir);
}

static void expect_raw_error(const char *dir, const char *fname, const void *data, size_t len,
                             const char *needle)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, fname);
    tu_write_file(p, data, len);
    axnn_mul *m = (axnn_mul *)1;
    assert_int_not_equal(axnn_mul_import_raw(p, "x", NULL, &m), AXNN_OK);
    assert_null(m);
    assert_error_has(fname);
    assert_error_has(needle);
}

static char *csv_text(int lines, int per_line, const char *bad)
{
    char *s = malloc((size_t)lines * per_line * 8 + 64), *p = s;
    for (int i = 0; i < lines; i++)
        for (int j = 0; j < per_line; j++)
            p += sprintf(p, "%s%c", i == 7 && j == 9 && bad ? bad : "1",
                         j == per_line - 1 ? '\n' : ',');
    *p = 0;
    return s;
}

static void test_raw_bad(void **state)
{
    char *dir = tu_tmpdir();
    char *zeros = calloc(1, 131073);
    expect_raw_error(dir, "short.bin", zeros, 131071, "exactly 131072 bytes");
    expect_raw_error(dir, "long.bin", zeros, 131073, "exactly 131072 bytes");
    expect_raw_error(dir, "empty.bin", zeros, 0, "exactly 131072 bytes");
    expect_raw_error(dir, "table.txt", zeros, 16, "unknown raw table format");
    char *s = csv_text(255, 256, NULL);
    expect_raw_error(dir, "lines.csv", s, strlen(s), "255 lines");
    free(s);
    s = csv_text(256, 255, NULL);
    expect_raw_error(dir, "cols.csv", s, strlen(s), "expected 256");
    free(s);
    s = csv_text(257, 256, NULL);
    expect_raw_error(dir, "more.csv", s, strlen(s), "more than 256 lines");
    free(s);
    s = csv_text(256, 256, "x1");
    expect_raw_error(dir, "word.csv", s, strlen(s), "line 8, value 10");
    free(s);
    s = csv_text(256, 257, NULL);
    expect_raw_error(dir, "wide.csv", s, strlen(s), "more than 256 values");
    free(s);
    axnn_mul *m = (axnn_mul *)1;
    assert_int_equal(axnn_mul_import_raw("/nonexistent/t.bin", "x", NULL, &m), AXNN_ERR_IO);
    assert_error_has("/nonexistent/t.bin");
    /* a table with a value outside int16 exports to .csv but not to .bin */
    int32_t *t = calloc(AXNN_MUL_ENTRIES, sizeof *t);
    t[5] = 40000;
    assert_int_equal(axnn_mul_from_table("big", "test", t, &m), AXNN_OK);
    char p[512];
    snprintf(p, sizeof p, "%s/big.bin", dir);
    assert_int_equal(axnn_mul_export_raw(m, p, NULL), AXNN_ERR_ARG);
    assert_error_has("outside int16");
    snprintf(p, sizeof p, "%s/big.csv", dir);
    assert_int_equal(axnn_mul_export_raw(m, p, NULL), AXNN_OK);
    axnn_mul *r;
    assert_int_equal(axnn_mul_import_raw(p, "big", NULL, &r), AXNN_OK);
    assert_int_equal(r->table[5], 40000);
    axnn_mul_free(r);
    axnn_mul_free(m);
    free(t);
    free(zeros);
    tu_rmtree(dir);
    free(dir);
}

/* ---------------------------------------------------------------- C import ---- */

static axnn_mul *import(const char *file, double timeout)
{
    char path[1024];
    snprintf(path, sizeof path, "%s", tu_data_path(file));
    axnn_mul *m = NULL;
    axnn_status st = axnn_mul_import_c(path, timeout, AXNN_MUL_SIGNEDNESS_AUTO, &m);
    if (st) fprintf(stderr, "%s\n", axnn_last_error());
    assert_int_equal(st, AXNN_OK);
    return m;
}

static void assert_claims_agree(const axnn_mul *m)
{
    char msg[512];
    int n, bad = axnn_mul_check_claims(m, &n, msg, sizeof msg);
    if (bad) fprintf(stderr, "%s: %s\n", m->name, msg);
    assert_int_equal(bad, 0);
    assert_int_equal(n, 8);
}

static void test_import_trunc3(void **state)
{
    axnn_mul *m = import("axmul/tc_trunc3.c", 0), *t = get("trunc:3");
    assert_string_equal(m->name, "tc_trunc3");
    assert_non_null(strstr(m->source, "tc_trunc3.c"));
    assert_same_table(m, t);
    assert_claims_agree(m);
    assert_true(m->claimed.mae == 4.2 && fabs(m->claimed_unit.mae - 0.1) < 1e-12);
    assert_true(m->claimed.mse == 34 && m->claimed_unit.mse == 1);
    assert_true(m->power_mw == 0.385 && m->area_um2 == 661.4 && m->delay_ns == 1.48);
    assert_false(m->power_estimated);
    axnn_mul_free(t);
    axnn_mul_free(m);
}

static void test_import_exact_and_u8(void **state)
{
    axnn_mul *m = import("axmul/tc_exact.c", 5);
    assert_true(axnn_mul_is_exact(m));
    assert_claims_agree(m);
    axnn_mul_free(m);
    m = import("axmul/tc_bam24_u8.c", 5); /* uint16_t f(uint8_t, uint8_t) */
    assert_non_null(strstr(m->source, "two's-complement bits"));
    axnn_mul *b = get("bam:2,4");
    assert_same_table(m, b);
    assert_claims_agree(m);
    axnn_mul_free(b);
    axnn_mul_free(m);
}

/* Circuits whose metrics are known by hand (tests/gen/gen_axmul.py writes their headers). */
static void test_import_hand_metrics(void **state)
{
    axnn_mul *m = import("axmul/tc_zeroerr.c", 5); /* f(0, b) = 7 */
    const axnn_mul_metrics *x = &m->metrics;
    assert_true(x->mae == 7.0 * 256 / 65536 && x->wce == 7 && x->mse == 49.0 * 256 / 65536);
    assert_true(x->ep_pct == 256.0 / 65536 * 100 && x->mre_pct == 0 && x->wcre_pct == 0);
    assert_claims_agree(m);
    axnn_mul_free(m);
    m = import("axmul/tc_bigrel.c", 5); /* f(1, 1) = 100, f(0, 5) = -3 */
    x = &m->metrics;
    assert_true(x->mae == 102.0 / 65536 && x->wce == 99 && x->mse == (99.0 * 99 + 9) / 65536);
    assert_true(x->wcre_pct == 9900 && fabs(x->mre_pct - 9900.0 / 65025) < 1e-12);
    assert_true(x->ep_pct == 2.0 / 65536 * 100);
    assert_claims_agree(m);
    axnn_mul_free(m);
    m = import("axmul/tc_umul.c", 5); /* uint64_t f(const uint64_t B, const uint64_t A) */
    assert_non_null(m->utable);
    assert_non_null(strstr(m->source, "unsigned"));
    for (int a = 0; a < 256; a++)
        for (int b = 0; b < 256; b++) assert_int_equal(m->utable[a * 256 + b], (a * b) & ~7);
    assert_true(m->metrics.mae == 2.75 && m->metrics.ep_pct == 68.75);
    assert_claims_agree(m);
    axnn_mul_free(m);
    /* read as signed on request: two's-complement bits of the same results */
    char path[1024];
    snprintf(path, sizeof path, "%s", tu_data_path("axmul/tc_umul.c"));
    assert_int_equal(axnn_mul_import_c(path, 5, AXNN_MUL_SIGNEDNESS_SIGNED, &m), AXNN_OK);
    assert_null(m->utable);
    assert_int_equal(axnn_mul_at(m, 3, 5), 8);
    assert_int_equal(axnn_mul_at(m, -1, 1), (int16_t)(255 & ~7));
    axnn_mul_free(m);
}

static void test_import_bad_header(void **state)
{
    axnn_mul *m = import("axmul/tc_badheader.c", 5);
    char msg[512];
    int n, bad = axnn_mul_check_claims(m, &n, msg, sizeof msg);
    assert_int_equal(bad, 2);
    assert_int_equal(n, 8);
    assert_non_null(strstr(msg, "MAE: header 3.1, computed 4.25"));
    assert_non_null(strstr(msg, "MSE"));
    axnn_mul_free(m);
}

static void expect_import_error(const char *file, double timeout, const char *needle)
{
    char path[1024];
    snprintf(path, sizeof path, "%s", tu_data_path(file));
    axnn_mul *m = (axnn_mul *)1;
    double t0 = axnn_now();
    assert_int_not_equal(axnn_mul_import_c(path, timeout, AXNN_MUL_SIGNEDNESS_AUTO, &m), AXNN_OK);
    assert_null(m);
    assert_error_has(path);
    assert_error_has(needle);
    assert_null(strchr(axnn_last_error(), '\n'));
    assert_true(axnn_now() - t0 < timeout + 60);
}

static void test_import_broken(void **state)
{
    expect_import_error("axmul/tc_nocompile.c", 5, "does not compile");
    expect_import_error("axmul/tc_nocompile.c", 5, "error"); /* the compiler's first error line */
    expect_import_error("axmul/tc_segv.c", 5, "crashed with signal");
    expect_import_error("axmul/tc_loop.c", 1, "did not finish within 1 s");
    expect_import_error("axmul/tc_nofunc.c", 5, "no multiplier function");
    expect_import_error("axmul/missing.c", 5, "cannot open");
    expect_import_error("axmul/tc_arity.c", 5, "'int16_t tc_arity(int8_t A)' has the wrong arity");
    expect_import_error("axmul/tc_types.c", 5, "'int16_t tc_types(float A, float B)' has the");
    /* still alive, and imports still work */
    axnn_mul *m = import("axmul/tc_trunc3.c", 5);
    axnn_mul_free(m);
}

/* Escape attempts: each stopped and reported; what it tried is not there afterwards. */
static void test_import_escapes(void **state)
{
    char *dir = tu_tmpdir();
    setenv("AXNN_ESCAPE", dir, 1);
    static const struct {
        const char *file, *needle, *trace;
    } cases[] = {
        {"axmul/esc_write.c", "forbidden system call (openat)", "written"},
        {"axmul/esc_ctor.c", "forbidden system call (openat)", "constructed"},
        {"axmul/esc_fork.c", "forbidden system call (clone)", "forked"},
        {"axmul/esc_exec.c", "forbidden system call (execve)", "executed"},
        {"axmul/esc_kill.c", "forbidden system call (kill)", NULL},
        /* a crash when malloc returns NULL; under ASan, its report's system calls stop it */
        {"axmul/esc_malloc.c", "esc_malloc() ", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        expect_import_error(cases[i].file, 5, cases[i].needle);
        const char *e = axnn_last_error();
        assert_true(strstr(e, "memory is limited to 256 MiB") || strstr(e, "was stopped"));
        if (!cases[i].trace) continue;
        char p[600];
        snprintf(p, sizeof p, "%s/%s", dir, cases[i].trace);
        assert_int_not_equal(access(p, F_OK), 0);
    }
    sleep(3); /* esc_fork's child would write after 2 s */
    char p[600];
    snprintf(p, sizeof p, "%s/forked", dir);
    assert_int_not_equal(access(p, F_OK), 0);
    unsetenv("AXNN_ESCAPE");
    tu_rmtree(dir);
    free(dir);
}

static void test_import_no_compiler(void **state)
{
    setenv("CC", "/nonexistent/compiler", 1);
    expect_import_error("axmul/tc_trunc3.c", 5, "cannot run the C compiler");
    unsetenv("CC");
}

/* ---------------------------------------------------------------- decomposition ---- */

static axnn_mul_decomp *decomp_of(const axnn_mul *m)
{
    axnn_mul_decomp *d = malloc(sizeof *d);
    axnn_status st = axnn_mul_decompose(m, AXNN_MUL_MAX_RANK, d);
    if (st) fprintf(stderr, "%s\n", axnn_last_error());
    assert_int_equal(st, AXNN_OK);
    assert_true(axnn_mul_decomp_verify(m, d));
    return d;
}

static void test_decomp_exact(void **state)
{
    axnn_mul *m = get("exact");
    axnn_mul_decomp *d = decomp_of(m);
    assert_int_equal(d->rank, 0);
    assert_int_equal(axnn_mul_error_rank(m), 0);
    free(d);
    axnn_mul_free(m);
}

static void test_decomp_trunc(void **state)
{
    for (int k = 1; k <= 15; k++) {
        char n[16];
        snprintf(n, sizeof n, "trunc:%d", k);
        axnn_mul *m = get(n);
        axnn_mul_decomp *d = decomp_of(m);
        assert_int_equal(d->rank, axnn_mul_error_rank(m));
        if (k <= 7) { /* bits of a, g_i(b) = -2^i (b mod 2^(K-i)) */
            assert_int_equal(d->rank, k);
            for (int i = 0; i < k; i++) {
                assert_true(d->f_min[i] == 0 && d->f_max[i] == 1);
                assert_true(d->g_min[i] == -((1 << k) - (1 << i)) && d->g_max[i] == 0);
            }
        }
        free(d);
        axnn_mul_free(m);
    }
}

static void test_decomp_others(void **state)
{
    static const struct {
        const char *name;
        int rank;
        bool int8;
    } cases[] = {
        {"udm", 1, true}, {"bam:2,4", 3, true}, {"bam:1,0", 1, true}, {"drum:4", 2, false}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        axnn_mul *m = get(cases[c].name);
        axnn_mul_decomp *d = decomp_of(m);
        assert_int_equal(d->rank, cases[c].rank);
        bool fits = true;
        for (int i = 0; i < d->rank; i++)
            fits &= d->f_min[i] >= -128 && d->f_max[i] <= 127 && d->g_min[i] >= -128 &&
                    d->g_max[i] <= 127;
        assert_true(fits == cases[c].int8);
        free(d);
        axnn_mul_free(m);
    }
}

static void test_decomp_random_fails(void **state)
{
    axnn_rng r;
    axnn_rng_seed(&r, 7);
    int32_t *t = malloc(AXNN_MUL_ENTRIES * sizeof *t);
    for (int a = -128; a < 128; a++)
        for (int b = -128; b < 128; b++)
            t[(a + 128) * 256 + b + 128] = a * b + (int)axnn_rng_below(&r, 9) - 4;
    axnn_mul *m;
    assert_int_equal(axnn_mul_from_table("noisy", "test", t, &m), AXNN_OK);
    axnn_mul_decomp *d = malloc(sizeof *d);
    assert_int_equal(axnn_mul_decompose(m, AXNN_MUL_MAX_RANK, d), AXNN_ERR_UNSUPPORTED);
    assert_error_has("noisy");
    assert_error_has("rank 256");
    assert_int_equal(d->rank, 0);
    assert_int_equal(axnn_mul_decompose(m, 0, d), AXNN_ERR_ARG);
    axnn_mul_free(m);
    m = get("mitchell");
    assert_int_equal(axnn_mul_decompose(m, 8, d), AXNN_ERR_UNSUPPORTED);
    axnn_mul_free(m);
    free(d);
    free(t);
}

static void test_decomp_verify_catches(void **state)
{
    axnn_mul *m = get("trunc:5");
    axnn_mul_decomp *d = decomp_of(m);
    d->g[2][77] += 1;
    assert_false(axnn_mul_decomp_verify(m, d));
    d->g[2][77] -= 1;
    assert_true(axnn_mul_decomp_verify(m, d));
    d->rank--;
    assert_false(axnn_mul_decomp_verify(m, d));
    d->rank++;
    m->table[12345] += 1;
    assert_false(axnn_mul_decomp_verify(m, d));
    free(d);
    axnn_mul_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_exact),
        cmocka_unit_test(test_metrics_trunc3),
        cmocka_unit_test(test_metrics_from_table),
        cmocka_unit_test(test_metrics_extreme),
        cmocka_unit_test(test_claims_precision),
        cmocka_unit_test(test_claims_derived_pct),
        cmocka_unit_test(test_trunc_entries),
        cmocka_unit_test(test_bam_entries),
        cmocka_unit_test(test_drum),
        cmocka_unit_test(test_mitchell),
        cmocka_unit_test(test_udm),
        cmocka_unit_test(test_bad_names),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_integrity),
        cmocka_unit_test(test_store_and_list),
        cmocka_unit_test(test_raw_roundtrip),
        cmocka_unit_test(test_raw_orders),
        cmocka_unit_test(test_raw_unsigned),
        cmocka_unit_test(test_export_header),
        cmocka_unit_test(test_raw_bad),
        cmocka_unit_test(test_import_trunc3),
        cmocka_unit_test(test_import_exact_and_u8),
        cmocka_unit_test(test_import_hand_metrics),
        cmocka_unit_test(test_import_bad_header),
        cmocka_unit_test(test_import_escapes),
        cmocka_unit_test(test_import_broken),
        cmocka_unit_test(test_import_no_compiler),
        cmocka_unit_test(test_decomp_exact),
        cmocka_unit_test(test_decomp_trunc),
        cmocka_unit_test(test_decomp_others),
        cmocka_unit_test(test_decomp_random_fails),
        cmocka_unit_test(test_decomp_verify_catches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
