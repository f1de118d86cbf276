/* safetensors I/O: round trips, metadata, dtype conversion, every kind of corrupt header
 * (crafted byte by byte), truncation and random mutation (must fail cleanly, never crash),
 * the CRC-32 that axnn's files carry (every single-byte change caught), non-finite values,
 * non-regular files, atomic writes, and loading graph weights (strict and non-strict, wrong shapes and dtypes). */
#define _GNU_SOURCE
#include "testutil.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ------------------------------------------------------------------ helpers ---- */

static char *path_in(const char *dir, const char *name)
{
    static char buf[4][512];
    static int k;
    char *p = buf[k++ & 3];
    snprintf(p, 512, "%s/%s", dir, name);
    return p;
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

/* A file made of the 8-byte length of `header`, the header, and `ndata` bytes 0, 1, 2, ... */
static void craft(const char *path, const char *header, size_t ndata)
{
    size_t hl = strlen(header), total = 8 + hl + ndata;
    uint8_t *b = malloc(total);
    uint64_t h = hl;
    memcpy(b, &h, 8);
    memcpy(b + 8, header, hl);
    for (size_t i = 0; i < ndata; i++) b[8 + hl + i] = (uint8_t)i;
    tu_write_file(path, b, total);
    free(b);
}

/* The same with the given data bytes. */
static void craft_data(const char *path, const char *header, const void *data, size_t ndata)
{
    size_t hl = strlen(header), total = 8 + hl + ndata;
    uint8_t *b = malloc(total);
    uint64_t h = hl;
    memcpy(b, &h, 8);
    memcpy(b + 8, header, hl);
    memcpy(b + 8 + hl, data, ndata);
    tu_write_file(path, b, total);
    free(b);
}

/* Reading `header` (+ndata bytes) must fail with `want`, naming the file and `needle`. */
static void expect_bad(const char *dir, const char *header, size_t ndata, axnn_status want,
                       const char *needle)
{
    const char *p = path_in(dir, "bad.safetensors");
    craft(p, header, ndata);
    axnn_st_file *f = (axnn_st_file *)0x1;
    axnn_status st = axnn_st_read(p, &f);
    if (st != want || !strstr(axnn_last_error(), needle) || !strstr(axnn_last_error(), p))
        fail_msg("header %s: status %d (want %d), message \"%s\" (want \"%s\")", header, st, want,
                 axnn_last_error(), needle);
    assert_null(f);
}

static const float F6[6] = {1, -2, 3.5f, 0, 1e-30f, -7};

/* ------------------------------------------------------------------ round trip ---- */

static void write_sample(const char *p)
{
    static const int64_t i64 = -1234567890123LL;
    static const uint16_t f16[4] = {0x3c00, 0xc000, 0x0001, 0x7c00};
    static const uint8_t bools[3] = {1, 0, 1};
    int64_t s23[2] = {2, 3}, s4[1] = {4}, s3[1] = {3}, s05[2] = {0, 5};
    axnn_st_writer *w = axnn_st_writer_new();
    assert_int_equal(axnn_st_writer_add(w, "z.weight", AXNN_ST_F32, 2, s23, F6), AXNN_OK);
    assert_int_equal(axnn_st_writer_add(w, "a.count", AXNN_ST_I64, 0, NULL, &i64), AXNN_OK);
    assert_int_equal(axnn_st_writer_add(w, "m.half", AXNN_ST_F16, 1, s4, f16), AXNN_OK);
    assert_int_equal(axnn_st_writer_add(w, "m.mask", AXNN_ST_BOOL, 1, s3, bools), AXNN_OK);
    assert_int_equal(axnn_st_writer_add(w, "m.empty", AXNN_ST_F32, 2, s05, NULL), AXNN_OK);
    assert_int_equal(axnn_st_writer_add(w, "z.weight", AXNN_ST_F32, 2, s23, F6), AXNN_ERR_ARG);
    assert_int_equal(axnn_st_writer_add(w, "__metadata__", AXNN_ST_F32, 2, s23, F6), AXNN_ERR_ARG);
    assert_int_equal(axnn_st_writer_meta(w, "format", "pt"), AXNN_OK);
    assert_int_equal(axnn_st_writer_meta(w, "note", "old"), AXNN_OK);
    assert_int_equal(axnn_st_writer_meta(w, "note", "quote \" back\\slash\nnewline"), AXNN_OK);
    assert_int_equal(axnn_st_writer_write(w, p), AXNN_OK);
    axnn_st_writer_free(w);
}

static void test_round_trip(void **state)
{
    char *dir = tu_tmpdir();
    const char *p = path_in(dir, "rt.safetensors");
    write_sample(p);
    axnn_st_file *f;
    assert_int_equal(axnn_st_read(p, &f), AXNN_OK);
    assert_int_equal(f->ntensors, 5);
    const char *order[5] = {"a.count", "m.empty", "m.half", "m.mask", "z.weight"};
    for (int i = 0; i < 5; i++) assert_string_equal(f->tensors[i].name, order[i]);
    uint64_t hl;
    memcpy(&hl, f->buf, 8);
    assert_int_equal(hl % 8, 0);
    const axnn_st_tensor *t = axnn_st_find(f, "z.weight");
    assert_non_null(t);
    assert_int_equal(t->dtype, AXNN_ST_F32);
    assert_int_equal(t->nd, 2);
    assert_int_equal(t->shape[0], 2);
    assert_int_equal(t->shape[1], 3);
    assert_memory_equal(t->data, F6, sizeof F6);
    t = axnn_st_find(f, "a.count");
    assert_int_equal(t->nd, 0);
    int64_t c;
    axnn_st_to_i64(t, &c);
    assert_true(c == -1234567890123LL);
    t = axnn_st_find(f, "m.empty");
    assert_int_equal(t->nbytes, 0);
    assert_int_equal(t->shape[0], 0);
    assert_null(axnn_st_find(f, "nope"));
    assert_string_equal(axnn_st_meta(f, "format"), "pt");
    assert_string_equal(axnn_st_meta(f, "note"), "quote \" back\\slash\nnewline");
    assert_null(axnn_st_meta(f, "absent"));
    axnn_st_close(f);
    tu_rmtree(dir);
    free(dir);
}

static void test_conversions(void **state)
{
    char *dir = tu_tmpdir();
    const char *p = path_in(dir, "rt.safetensors");
    write_sample(p);
    axnn_st_file *f;
    assert_int_equal(axnn_st_read(p, &f), AXNN_OK);
    float h[4], b[3];
    axnn_st_to_f32(axnn_st_find(f, "m.half"), h);
    assert_true(h[0] == 1.0f && h[1] == -2.0f && h[2] == ldexpf(1.0f, -24) && isinf(h[3]));
    axnn_st_to_f32(axnn_st_find(f, "m.mask"), b);
    assert_true(b[0] == 1.0f && b[1] == 0.0f && b[2] == 1.0f);
    axnn_st_close(f);

    /* BF16 1.0 and -0.5, F64 2.25 and I8 -3, written raw */
    static const uint16_t bf[2] = {0x3f80, 0xbf00};
    static const double f64[1] = {2.25};
    static const int8_t i8[1] = {-3};
    int64_t s2[1] = {2}, s1[1] = {1};
    axnn_st_writer *w = axnn_st_writer_new();
    assert_int_equal(axnn_st_writer_add(w, "bf", AXNN_ST_BF16, 1, s2, bf), AXNN_OK);
    assert_int_equal(axnn_st_writer_add(w, "d", AXNN_ST_F64, 1, s1, f64), AXNN_OK);
    assert_int_equal(axnn_st_writer_add(w, "i", AXNN_ST_I8, 1, s1, i8), AXNN_OK);
    assert_int_equal(axnn_st_writer_write(w, p), AXNN_OK);
    axnn_st_writer_free(w);
    assert_int_equal(axnn_st_read(p, &f), AXNN_OK);
    float v[2];
    axnn_st_to_f32(axnn_st_find(f, "bf"), v);
    assert_true(v[0] == 1.0f && v[1] == -0.5f);
    axnn_st_to_f32(axnn_st_find(f, "d"), v);
    assert_true(v[0] == 2.25f);
    axnn_st_to_f32(axnn_st_find(f, "i"), v);
    assert_true(v[0] == -3.0f);
    axnn_st_close(f);
    tu_rmtree(dir);
    free(dir);
}

/* A file written with Python's safetensors (header bytes as that library emits them, with the
 * metadata first and padding spaces) reads correctly. */
static void test_python_layout(void **state)
{
    char *dir = tu_tmpdir();
    const char *p = path_in(dir, "py.safetensors");
    craft(p,
          "{\"__metadata__\":{\"format\":\"pt\"},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_"
          "offsets\":[0,8]},"
          "\"a\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[8,11]}}    ",
          11);
    axnn_st_file *f;
    assert_int_equal(axnn_st_read(p, &f), AXNN_OK);
    assert_int_equal(f->ntensors, 2);
    assert_string_equal(axnn_st_meta(f, "format"), "pt");
    float a[3];
    axnn_st_to_f32(axnn_st_find(f, "a"), a);
    assert_true(a[0] == 8.0f && a[1] == 9.0f && a[2] == 10.0f);
    axnn_st_close(f);
    tu_rmtree(dir);
    free(dir);
}

/* ------------------------------------------------------------------ corrupt files ---- */

#define T(body) "{\"t\":{" body "}}"
#define OK_T(dt, shape, off) T("\"dtype\":\"" dt "\",\"shape\":" shape ",\"data_offsets\":" off)

static void test_corrupt_headers(void **state)
{
    char *dir = tu_tmpdir();
    const axnn_status F = AXNN_ERR_FORMAT;
    /* sanity: the template itself is fine */
    axnn_st_file *f;
    craft(path_in(dir, "ok.safetensors"), OK_T("F32", "[2, 3]", "[0, 24]"), 24);
    assert_int_equal(axnn_st_read(path_in(dir, "ok.safetensors"), &f), AXNN_OK);
    axnn_st_close(f);

    expect_bad(dir, "{\"t\":", 0, F, "not valid JSON");
    expect_bad(dir, "[1, 2]", 0, F, "not a JSON object");
    expect_bad(dir, "{} garbage", 0, F, "trailing bytes");
    expect_bad(dir, "{\"t\": 5}", 0, F, "tensor 't': entry is not an object");
    expect_bad(dir, T("\"shape\":[1],\"data_offsets\":[0,4]"), 4, F, "tensor 't': \"dtype\"");
    expect_bad(dir, OK_T("F33", "[1]", "[0, 4]"), 4, F,
               "tensor 't': unknown or unsupported dtype \"F33\"");
    expect_bad(dir, T("\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,4]"), 4, F, "\"dtype\"");
    expect_bad(dir, T("\"dtype\":\"F32\",\"data_offsets\":[0,4]"), 4, F, "tensor 't': \"shape\"");
    expect_bad(dir, OK_T("F32", "4", "[0, 4]"), 4, F, "\"shape\" is missing or not a list");
    expect_bad(dir, OK_T("F32", "[-1]", "[0, 4]"), 4, F, "\"shape\" entry 0 is not a non-negative");
    expect_bad(dir, OK_T("F32", "[1, 1.5]", "[0, 4]"), 4, F, "\"shape\" entry 1");
    expect_bad(dir, OK_T("F32", "[\"1\"]", "[0, 4]"), 4, F, "\"shape\" entry 0");
    expect_bad(dir, OK_T("F32", "[1e300]", "[0, 4]"), 4, F, "\"shape\" entry 0");
    expect_bad(dir, OK_T("F32", "[1,1,1,1,1,1,1,1,1]", "[0, 4]"), 4, F, "9 dimensions");
    expect_bad(dir, T("\"dtype\":\"F32\",\"shape\":[1]"), 4, F, "\"data_offsets\" must be");
    expect_bad(dir, OK_T("F32", "[1]", "[0]"), 4, F, "\"data_offsets\" must be");
    expect_bad(dir, OK_T("F32", "[1]", "[0, 4, 8]"), 8, F, "\"data_offsets\" must be");
    expect_bad(dir, OK_T("F32", "[1]", "[-4, 0]"), 4, F, "\"data_offsets\" must be");
    expect_bad(dir, OK_T("F32", "[1]", "[4, 0]"), 4, F, "data_offsets [4, 0] outside");
    expect_bad(dir, OK_T("F32", "[1]", "[0, 8]"), 4, F,
               "data_offsets [0, 8] outside the data buffer of 4");
    expect_bad(dir, OK_T("F32", "[10, 64]", "[0, 100]"), 100, F,
               "tensor 't': data_offsets [0, 100] hold 100 bytes, shape [10, 64] F32 needs 2560");
    expect_bad(dir, OK_T("F32", "[4294967296, 4294967296, 4294967296]", "[0, 0]"), 0, F,
               "needs too many");
    expect_bad(dir, OK_T("F32", "[]", "[0, 0]"), 0, F, "shape [] F32 needs 4");
    expect_bad(dir, "{\"__metadata__\":{\"a\":1}}", 0, F, "metadata 'a': value is not a string");
    expect_bad(dir, "{\"__metadata__\":[\"a\"]}", 0, F, "\"__metadata__\" is not an object");
    expect_bad(dir, "{\"__metadata__\":{\"a\":\"x\",\"a\":\"y\"}}", 0, F,
               "metadata 'a': key appears twice");
    expect_bad(dir,
               "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
               12, F, "tensors 'a' and 'b' overlap");
    expect_bad(dir,
               "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
               "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
               8, F, "tensor 'a' appears twice");

    /* too short, header length beyond the file, missing file */
    const char *p = path_in(dir, "short.safetensors");
    tu_write_file(p, "\x10\0\0", 3);
    assert_int_equal(axnn_st_read(p, &f), F);
    assert_non_null(strstr(axnn_last_error(), "too short"));
    uint8_t big[12] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, '{', '}', ' ', ' '};
    tu_write_file(p, big, sizeof big);
    assert_int_equal(axnn_st_read(p, &f), F);
    assert_non_null(strstr(axnn_last_error(), "exceeds the file size"));
    assert_int_equal(axnn_st_read(path_in(dir, "missing.safetensors"), &f), AXNN_ERR_IO);
    assert_non_null(strstr(axnn_last_error(), "missing.safetensors"));
    assert_int_equal(axnn_st_read(dir, &f), AXNN_ERR_IO); /* a folder */
    tu_rmtree(dir);
    free(dir);
}

/* Every truncation and many random byte mutations of a valid file fail cleanly or succeed; under
 * the sanitizers this proves the reader never reads out of bounds or leaks. */
static void test_hostile_bytes(void **state)
{
    char *dir = tu_tmpdir();
    const char *p = path_in(dir, "rt.safetensors"), *q = path_in(dir, "mut.safetensors");
    write_sample(p);
    axnn_st_file *f;
    assert_int_equal(axnn_st_read(p, &f), AXNN_OK);
    size_t n = f->size;
    uint8_t *orig = malloc(n), *b = malloc(n);
    memcpy(orig, f->buf, n);
    axnn_st_close(f);
    for (size_t len = 0; len < n; len++) {
        tu_write_file(q, orig, len);
        assert_int_not_equal(axnn_st_read(q, &f), AXNN_OK);
    }
    axnn_rng r;
    axnn_rng_seed(&r, 42);
    static const char junk[] = "{}[]\",:-0123456789e. \\\x00\xff";
    for (int it = 0; it < 1500; it++) {
        memcpy(b, orig, n);
        int k = 1 + (int)axnn_rng_below(&r, 4);
        size_t span = it % 2 || n < 208 ? n : 208; /* odd: anywhere; even: the header start */
        for (int j = 0; j < k; j++) {
            size_t at = axnn_rng_below(&r, (uint32_t)span);
            b[at] =
                it % 3 ? (uint8_t)junk[axnn_rng_below(&r, sizeof junk)] : (uint8_t)axnn_rng_u64(&r);
        }
        tu_write_file(q, b, n);
        if (axnn_st_read(q, &f) == AXNN_OK) { /* touch every byte of every tensor */
            unsigned sum = 0;
            for (int i = 0; i < f->ntensors; i++)
                for (size_t j = 0; j < f->tensors[i].nbytes; j++)
                    sum += ((const uint8_t *)f->tensors[i].data)[j];
            (void)sum;
            axnn_st_close(f);
        }
    }
    free(orig);
    free(b);
    tu_rmtree(dir);
    free(dir);
}

/* ------------------------------------------------------------------ atomic writes ---- */

/* Files axnn writes carry a CRC-32 of all their bytes: changing any single byte is caught (as
 * a corrupt file, or by the parser when it breaks the structure first); a file without the
 * checksum (other writers) still loads. */
static void test_checksum(void **state)
{
    char *dir = tu_tmpdir();
    const char *p = path_in(dir, "ck.safetensors"), *q = path_in(dir, "flip.safetensors");
    static const uint16_t f16[2] = {0x3c00, 0xc000};
    int64_t s23[2] = {2, 3}, s2[1] = {2};
    axnn_st_writer *w = axnn_st_writer_new();
    assert_int_equal(axnn_st_writer_add(w, "w", AXNN_ST_F32, 2, s23, F6), AXNN_OK);
    assert_int_equal(axnn_st_writer_add(w, "h", AXNN_ST_F16, 1, s2, f16), AXNN_OK);
    assert_int_equal(axnn_st_writer_meta(w, "format", "axnn-test-1"), AXNN_OK);
    assert_int_equal(axnn_st_writer_meta(w, "axnn_crc32", "ignored"), AXNN_OK); /* recomputed */
    assert_int_equal(axnn_st_writer_write(w, p), AXNN_OK);
    axnn_st_writer_free(w);
    axnn_st_file *f;
    assert_int_equal(axnn_st_read(p, &f), AXNN_OK);
    assert_int_equal(strlen(axnn_st_meta(f, "axnn_crc32")), 8);
    size_t n = f->size;
    uint8_t *orig = malloc(n), *b = malloc(n);
    memcpy(orig, f->buf, n);
    axnn_st_close(f);
    int corrupt = 0;
    for (size_t at = 0; at < n; at++) {
        memcpy(b, orig, n);
        b[at] ^= 0x01;
        tu_write_file(q, b, n);
        if (axnn_st_read(q, &f) == AXNN_OK) fail_msg("flipped byte %zu ('%c') accepted", at, orig[at]);
        corrupt += strstr(axnn_last_error(), "corrupt file") != NULL;
        assert_non_null(strstr(axnn_last_error(), "flip.safetensors"));
    }
    assert_true(corrupt > (int)n / 2); /* most flips are reported as corruption */
    /* without the axnn format and the checksum it is a plain file again and loads */
    memcpy(b, orig, n);
    uint8_t *k = memmem(b, n, "axnn_crc32", 10), *fm = memmem(b, n, "\"format\"", 8);
    assert_non_null(k);
    assert_non_null(fm);
    k[0] = 'x';
    fm[1] = 'x';
    tu_write_file(q, b, n);
    assert_int_equal(axnn_st_read(q, &f), AXNN_OK);
    assert_null(axnn_st_meta(f, "axnn_crc32"));
    axnn_st_close(f);
    free(orig);
    free(b);
    tu_rmtree(dir);
    free(dir);
}

/* NaN / Inf in any float dtype and negative running variances are refused, naming the tensor. */
static void test_finite(void **state)
{
    char *dir = tu_tmpdir();
    const char *p = path_in(dir, "nf.safetensors");
    axnn_st_file *f;
    craft(p, OK_T("F32", "[2]", "[0, 8]"), 8); /* tiny finite values */
    assert_int_equal(axnn_st_read(p, &f), AXNN_OK);
    assert_int_equal(axnn_st_check_finite(f), AXNN_OK);
    axnn_st_close(f);
    static const struct {
        const char *dtype, *bytes, *want;
        int size;
    } cases[] = {
        {"F32", "\0\0\xc0\x7f", "non-finite value nan at element 1", 4},
        {"F32", "\0\0\x80\xff", "non-finite value -inf at element 1", 4},
        {"F16", "\0\x7c", "non-finite value inf", 2},
        {"BF16", "\xc0\x7f", "non-finite value nan", 2},
        {"F64", "\0\0\0\0\0\0\xf0\x7f", "non-finite value inf", 8},
        {"F64", "\0\0\0\0\0\0\xf0\x47", "non-finite value inf", 8}, /* 2^128: beyond float */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char hdr[160], data[16] = {0};
        snprintf(hdr, sizeof hdr, "{\"t\":{\"dtype\":\"%s\",\"shape\":[2],\"data_offsets\":[0,%d]}}",
                 cases[i].dtype, 2 * cases[i].size);
        memcpy(data + cases[i].size, cases[i].bytes, (size_t)cases[i].size);
        craft_data(p, hdr, data, (size_t)(2 * cases[i].size));
        assert_int_equal(axnn_st_read(p, &f), AXNN_OK);
        assert_int_equal(axnn_st_check_finite(f), AXNN_ERR_FORMAT);
        if (!strstr(axnn_last_error(), cases[i].want) || !strstr(axnn_last_error(), "tensor 't'"))
            fail_msg("%s: '%s' lacks '%s'", cases[i].dtype, axnn_last_error(), cases[i].want);
        axnn_st_close(f);
    }
    /* a negative variance only matters for running_var; integers are never checked */
    craft_data(p, "{\"bn.running_var\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                  "\"bn.running_mean\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
               "\0\0\x80\xbf\0\0\x80\xbf", 8);
    assert_int_equal(axnn_st_read(p, &f), AXNN_OK);
    assert_int_equal(axnn_st_check_finite(f), AXNN_ERR_FORMAT);
    assert_non_null(strstr(axnn_last_error(), "tensor 'bn.running_var': negative BatchNorm running variance -1"));
    axnn_st_close(f);
    tu_rmtree(dir);
    free(dir);
}

/* Only regular files are read, and a FIFO does not block. */
static void test_not_regular(void **state)
{
    char *dir = tu_tmpdir();
    const char *fifo = path_in(dir, "fifo");
    axnn_st_file *f;
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(axnn_st_read(fifo, &f), AXNN_ERR_IO);
    assert_non_null(strstr(axnn_last_error(), "is a FIFO"));
    assert_int_equal(axnn_st_read("/dev/zero", &f), AXNN_ERR_IO);
    assert_non_null(strstr(axnn_last_error(), "/dev/zero: is a character device"));
    assert_int_equal(axnn_st_read(dir, &f), AXNN_ERR_IO);
    assert_non_null(strstr(axnn_last_error(), "is a folder"));
    tu_rmtree(dir);
    free(dir);
}

static void test_atomic_write(void **state)
{
    char *dir = tu_tmpdir();
    const char *p = path_in(dir, "out.bin");
    assert_int_equal(axnn_write_file_atomic(p, "hello", 5), AXNN_OK);
    assert_int_equal(axnn_write_file_atomic(p, "bye", 3), AXNN_OK); /* replaces */
    assert_int_equal(count_entries(dir), 1);                        /* no temporary left */
    FILE *fp = fopen(p, "rb");
    char buf[8] = {0};
    assert_int_equal(fread(buf, 1, sizeof buf, fp), 3);
    fclose(fp);
    assert_string_equal(buf, "bye");
    /* a missing folder fails, and a folder in the way of the rename fails and cleans up */
    assert_int_equal(axnn_write_file_atomic(path_in(dir, "no/such/file"), "x", 1), AXNN_ERR_IO);
    char sub[600];
    snprintf(sub, sizeof sub, "%s/sub", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    FILE *in = fopen(path_in(sub, "x"), "wb"); /* a non-empty folder cannot be renamed over */
    fclose(in);
    assert_int_equal(axnn_write_file_atomic(sub, "x", 1), AXNN_ERR_IO);
    assert_int_equal(count_entries(dir), 2); /* out.bin and sub only */
    tu_rmtree(dir);
    free(dir);
}

/* ------------------------------------------------------------------ graphs ---- */

/* input (3, 6, 6) -> conv 4 3x3 (+bias) -> bn -> relu -> flatten -> linear 5 */
static axnn_graph *small_graph(uint64_t seed)
{
    axnn_graph *g = axnn_graph_new();
    int x = axnn_input(g, 3, 6, 6);
    x = axnn_conv2d(g, "conv", x, 4, 3, 1, 1, true);
    x = axnn_relu(g, axnn_batchnorm2d(g, "bn", x));
    x = axnn_linear(g, "fc", axnn_flatten(g, x), 5, true);
    assert_true(x >= 0);
    axnn_rng r;
    axnn_rng_seed(&r, seed);
    for (int i = 0; i < g->nvals; i++) {
        axnn_value *v = &g->vals[i];
        if (v->kind != AXNN_VAL_PARAM && v->kind != AXNN_VAL_BUFFER) continue;
        if (v->dtype == AXNN_F32)
            tu_fill_uniform(v->data, axnn_shape_numel(&v->shape), 0.5f, 1.5f, &r);
        else
            *(int64_t *)v->data = (int64_t)axnn_rng_below(&r, 1000) + 1;
    }
    return g;
}

static void assert_same_weights(const axnn_graph *a, const axnn_graph *b)
{
    assert_int_equal(a->nvals, b->nvals);
    for (int i = 0; i < a->nvals; i++) {
        const axnn_value *v = &a->vals[i];
        if (v->kind != AXNN_VAL_PARAM && v->kind != AXNN_VAL_BUFFER) continue;
        size_t n = (size_t)axnn_shape_numel(&v->shape) * axnn_dtype_size(v->dtype);
        assert_memory_equal(v->data, b->vals[i].data, n);
    }
}

static void save_graph(const axnn_graph *g, const char *p)
{
    axnn_st_writer *w = axnn_st_writer_new();
    assert_int_equal(axnn_graph_add_weights(w, g), AXNN_OK);
    assert_int_equal(axnn_st_writer_write(w, p), AXNN_OK);
    axnn_st_writer_free(w);
}

static axnn_status load_into(axnn_graph *g, const char *p, bool strict)
{
    axnn_st_file *f;
    assert_int_equal(axnn_st_read(p, &f), AXNN_OK);
    axnn_status st = axnn_graph_load_weights(g, f, strict);
    axnn_st_close(f);
    return st;
}

static void test_graph_round_trip(void **state)
{
    char *dir = tu_tmpdir();
    const char *p = path_in(dir, "g.safetensors");
    axnn_graph *a = small_graph(1), *b = small_graph(2);
    save_graph(a, p);
    axnn_st_file *f;
    assert_int_equal(axnn_st_read(p, &f), AXNN_OK);
    assert_int_equal(f->ntensors, 9);
    const axnn_st_tensor *nbt = axnn_st_find(f, "bn.num_batches_tracked");
    assert_true(nbt && nbt->dtype == AXNN_ST_I64 && nbt->nd == 0);
    axnn_st_close(f);
    assert_int_equal(load_into(b, p, true), AXNN_OK);
    assert_same_weights(a, b);
    axnn_graph_free(a);
    axnn_graph_free(b);
    tu_rmtree(dir);
    free(dir);
}

/* Writes g's weights except `skip`, plus `extra` (F32 [1]) when not NULL. */
static void save_partial(const axnn_graph *g, const char *p, const char *skip, const char *extra)
{
    static const float one = 1.0f;
    int64_t s1[1] = {1};
    axnn_st_writer *w = axnn_st_writer_new();
    for (int i = 0; i < g->nvals; i++) {
        const axnn_value *v = &g->vals[i];
        if ((v->kind != AXNN_VAL_PARAM && v->kind != AXNN_VAL_BUFFER) || !strcmp(v->name, skip))
            continue;
        axnn_st_dtype dt = v->dtype == AXNN_I64 ? AXNN_ST_I64 : AXNN_ST_F32;
        assert_int_equal(axnn_st_writer_add(w, v->name, dt, v->shape.nd, v->shape.d, v->data),
                         AXNN_OK);
    }
    if (extra) assert_int_equal(axnn_st_writer_add(w, extra, AXNN_ST_F32, 1, s1, &one), AXNN_OK);
    assert_int_equal(axnn_st_writer_write(w, p), AXNN_OK);
    axnn_st_writer_free(w);
}

static void test_graph_strict(void **state)
{
    char *dir = tu_tmpdir();
    const char *p = path_in(dir, "g.safetensors");
    axnn_graph *a = small_graph(1), *b = small_graph(2), *b0 = small_graph(2);

    save_partial(a, p, "bn.running_var", NULL); /* missing tensor */
    assert_int_equal(load_into(b, p, true), AXNN_ERR_FORMAT);
    assert_non_null(strstr(axnn_last_error(), "'bn.running_var' (shape [4]) is missing"));
    assert_non_null(strstr(axnn_last_error(), "g.safetensors"));
    assert_same_weights(b, b0); /* unchanged on error */
    assert_int_equal(load_into(b, p, false), AXNN_OK);
    int rv = axnn_graph_find_value(b, "bn.running_var");
    assert_memory_equal(b->vals[rv].data, b0->vals[rv].data, 4 * sizeof(float)); /* kept */
    int fw = axnn_graph_find_value(b, "fc.weight");
    assert_memory_equal(b->vals[fw].data, a->vals[fw].data, 5 * 144 * sizeof(float)); /* loaded */

    save_partial(a, p, "", "head.weight"); /* unexpected tensor */
    assert_int_equal(load_into(b, p, true), AXNN_ERR_FORMAT);
    assert_non_null(strstr(axnn_last_error(), "'head.weight' is not a parameter or buffer"));
    assert_int_equal(load_into(b, p, false), AXNN_OK);
    assert_same_weights(a, b);
    axnn_graph_free(a);
    axnn_graph_free(b);
    axnn_graph_free(b0);
    tu_rmtree(dir);
    free(dir);
}

static void test_graph_wrong_shape_dtype(void **state)
{
    char *dir = tu_tmpdir();
    const char *p = path_in(dir, "g.safetensors");
    axnn_graph *g = small_graph(1);
    static float w[4 * 3 * 5 * 5];
    static const uint8_t mask[4] = {1, 1, 0, 1};
    static const uint16_t half[4] = {0x3c00, 0x4000, 0x3800, 0xbc00}; /* 1, 2, 0.5, -1 */
    static const double dbl[4] = {0.25, 0.5, 0.75, 1.0};
    static const float fnbt = 3.0f;
    int64_t s4[1] = {4}, s5[4] = {4, 3, 5, 5};

    axnn_st_writer *wr = axnn_st_writer_new(); /* conv.weight with a 5x5 kernel */
    assert_int_equal(axnn_st_writer_add(wr, "conv.weight", AXNN_ST_F32, 4, s5, w), AXNN_OK);
    assert_int_equal(axnn_st_writer_write(wr, p), AXNN_OK);
    axnn_st_writer_free(wr);
    assert_int_equal(load_into(g, p, false), AXNN_ERR_SHAPE);
    assert_non_null(strstr(axnn_last_error(),
                           "g.safetensors: tensor 'conv.weight': shape [4, 3, 5, 5] "
                           "in the file, the model expects [4, 3, 3, 3]"));

    wr = axnn_st_writer_new(); /* BOOL into a float parameter */
    assert_int_equal(axnn_st_writer_add(wr, "bn.weight", AXNN_ST_BOOL, 1, s4, mask), AXNN_OK);
    assert_int_equal(axnn_st_writer_write(wr, p), AXNN_OK);
    axnn_st_writer_free(wr);
    assert_int_equal(load_into(g, p, false), AXNN_ERR_FORMAT);
    assert_non_null(
        strstr(axnn_last_error(), "tensor 'bn.weight': dtype BOOL cannot be loaded into a F32"));

    wr = axnn_st_writer_new(); /* F32 into the int64 counter */
    assert_int_equal(axnn_st_writer_add(wr, "bn.num_batches_tracked", AXNN_ST_F32, 0, NULL, &fnbt),
                     AXNN_OK);
    assert_int_equal(axnn_st_writer_write(wr, p), AXNN_OK);
    axnn_st_writer_free(wr);
    assert_int_equal(load_into(g, p, false), AXNN_ERR_FORMAT);
    assert_non_null(strstr(axnn_last_error(), "'bn.num_batches_tracked': dtype F32"));

    wr = axnn_st_writer_new(); /* F16, F64 and I32 convert */
    static const int32_t nbt32 = 77;
    assert_int_equal(axnn_st_writer_add(wr, "bn.weight", AXNN_ST_F16, 1, s4, half), AXNN_OK);
    assert_int_equal(axnn_st_writer_add(wr, "bn.bias", AXNN_ST_F64, 1, s4, dbl), AXNN_OK);
    assert_int_equal(axnn_st_writer_add(wr, "bn.num_batches_tracked", AXNN_ST_I32, 0, NULL, &nbt32),
                     AXNN_OK);
    assert_int_equal(axnn_st_writer_write(wr, p), AXNN_OK);
    axnn_st_writer_free(wr);
    assert_int_equal(load_into(g, p, false), AXNN_OK);
    const float *bw = g->vals[axnn_graph_find_value(g, "bn.weight")].data;
    const float *bb = g->vals[axnn_graph_find_value(g, "bn.bias")].data;
    assert_true(bw[0] == 1.0f && bw[1] == 2.0f && bw[2] == 0.5f && bw[3] == -1.0f);
    assert_true(bb[0] == 0.25f && bb[3] == 1.0f);
    assert_true(*(int64_t *)g->vals[axnn_graph_find_value(g, "bn.num_batches_tracked")].data == 77);
    axnn_graph_free(g);
    tu_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_conversions),
        cmocka_unit_test(test_python_layout),
        cmocka_unit_test(test_corrupt_headers),
        cmocka_unit_test(test_hostile_bytes),
        cmocka_unit_test(test_checksum),
        cmocka_unit_test(test_finite),
        cmocka_unit_test(test_not_regular),
        cmocka_unit_test(test_atomic_write),
        cmocka_unit_test(test_graph_round_trip),
        cmocka_unit_test(test_graph_strict),
        cmocka_unit_test(test_graph_wrong_shape_dtype),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
