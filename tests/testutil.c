#define _GNU_SOURCE
#include "testutil.h"

#include <cjson/cJSON.h>
#include <ftw.h>
#include <jpeglib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *tu_data_path(const char *name)
{
    static char buf[4096];
    const char *d = getenv("AXNN_TEST_DATA");
    snprintf(buf, sizeof buf, "%s/%s", d ? d : "tests/data", name);
    return buf;
}

char *tu_tmpdir(void)
{
    char tmpl[] = "/tmp/axnn-test-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(p);
}

void tu_rmtree(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void tu_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

double tu_max_rel_err(const float *a, const float *b, int64_t n, double floor)
{
    double m = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]) / fmax(fabs((double)b[i]), floor);
        if (d > m || isnan(d)) m = isnan(d) ? INFINITY : d;
    }
    return m;
}

void tu_fill_uniform(float *x, int64_t n, float lo, float hi, axnn_rng *r)
{
    for (int64_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * axnn_rng_uniform(r);
}

static uint32_t fnv1a32(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static uint32_t mix32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x2c1b3c6du;
    return x ^ (x >> 16);
}

void tu_hash_uniform(axnn_value *v, float scale)
{
    const uint32_t s = fnv1a32(v->name);
    float *p = v->data;
    for (int64_t i = 0; i < axnn_shape_numel(&v->shape); i++) {
        float u = (float)(mix32(s + (uint32_t)i * 0x9e3779b1u) >> 8) * (1.0f / 16777216.0f);
        p[i] = (u * 2.0f - 1.0f) * scale;
    }
}

const axnn_st_tensor *tu_gt(const tu_case *c, const char *t)
{
    char key[256];
    snprintf(key, sizeof key, "%s.%s", c->name, t);
    return axnn_st_find(c->f, key);
}

int64_t tu_numel(const axnn_st_tensor *t) { return (int64_t)(t->nbytes / axnn_st_dtype_size(t->dtype)); }

static const cJSON *attr(const tu_case *c, const char *k)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(c->attr, k);
    if (!j) fail_msg("%s: no attribute '%s'", c->name, k);
    return j;
}

double tu_attr_num(const tu_case *c, const char *k)
{
    const cJSON *j = attr(c, k);
    assert_true(cJSON_IsNumber(j));
    return j->valuedouble;
}

bool tu_attr_bool(const tu_case *c, const char *k)
{
    const cJSON *j = attr(c, k);
    assert_true(cJSON_IsBool(j));
    return cJSON_IsTrue(j);
}

const char *tu_attr_op(const tu_case *c)
{
    const cJSON *j = attr(c, "op");
    assert_true(cJSON_IsString(j));
    return j->valuestring;
}

void tu_fill_to(void *dst, int64_t n, const axnn_graph *g, const char *name, const tu_case *c, const char *t)
{
    const axnn_st_tensor *s = tu_gt(c, t);
    int id = axnn_graph_find_value(g, name);
    if (!s) fail_msg("%s: no golden tensor '%s'", c->name, t);
    if (id < 0) fail_msg("%s: no graph value '%s'", c->name, name);
    const axnn_value *v = &g->vals[id];
    assert_non_null(dst);
    assert_int_equal(n, tu_numel(s));
    if (v->dtype == AXNN_F32)
        axnn_st_to_f32(s, dst);
    else
        axnn_st_to_i64(s, dst);
}

void tu_fill(axnn_graph *g, const char *name, const tu_case *c, const char *t)
{
    int id = axnn_graph_find_value(g, name);
    if (id < 0) fail_msg("%s: no graph value '%s'", c->name, name);
    axnn_value *v = &g->vals[id];
    tu_fill_to(v->data, axnn_shape_numel(&v->shape), g, name, c, t);
}

int64_t tu_plan_numel(const axnn_plan *p, int v)
{
    const axnn_value *val = &axnn_plan_graph(p)->vals[v];
    int64_t n = axnn_shape_numel(&val->shape);
    if ((val->flags & AXNN_VF_BATCHED) && val->shape.nd > 0 && val->shape.d[0] > 0)
        n = n / val->shape.d[0] * axnn_plan_batch(p);
    return n;
}

void tu_keep(tu_result *r, const char *what, const float *p, int64_t len)
{
    assert_true(r->n < 8);
    r->what[r->n] = what;
    r->data[r->n] = malloc((size_t)len * sizeof(float));
    memcpy(r->data[r->n], p, (size_t)len * sizeof(float));
    r->len[r->n++] = len;
}

void tu_result_free(tu_result *r)
{
    for (int i = 0; i < r->n; i++) free(r->data[i]);
    r->n = 0;
}

void tu_write_jpeg(const char *path, const uint8_t *planes, int w, int h, int channels, int quality)
{
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr jerr;
    ci.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&ci);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    jpeg_stdio_dest(&ci, f);
    ci.image_width = (JDIMENSION)w;
    ci.image_height = (JDIMENSION)h;
    ci.input_components = channels;
    ci.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, quality, TRUE);
    jpeg_start_compress(&ci, TRUE);
    unsigned char *row = malloc((size_t)w * (size_t)channels);
    assert_non_null(row);
    while (ci.next_scanline < ci.image_height) {
        int y = (int)ci.next_scanline;
        for (int x = 0; x < w; x++)
            for (int c = 0; c < channels; c++) row[x * channels + c] = planes[((int64_t)c * h + y) * w + x];
        JSAMPROW rows[1] = {row};
        jpeg_write_scanlines(&ci, rows, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    fclose(f);
    free(row);
}

double tu_gradcheck_value(axnn_plan *pl, int vid, double (*f)(void *ctx), void *ctx, float eps, double rtol,
                          double atol, const char *what)
{
    const axnn_value *v = &axnn_plan_graph(pl)->vals[vid];
    int64_t n = tu_plan_numel(pl, vid);
    float *p = axnn_plan_data(pl, vid), *ana = malloc((size_t)n * sizeof *ana);
    assert_non_null(p);
    assert_non_null(ana);
    assert_non_null(axnn_plan_grad(pl, vid));
    memcpy(ana, axnn_plan_grad(pl, vid), (size_t)n * sizeof *ana);
    double scale = 1.0, worst = 0.0;
    for (int64_t i = 0; i < n; i++) scale = fmax(scale, fabs(ana[i]));
    for (int64_t i = 0; i < n; i++) {
        float keep = p[i];
        p[i] = keep + eps;
        double fp = f(ctx);
        p[i] = keep - eps;
        double fm = f(ctx);
        p[i] = keep;
        double num = (fp - fm) / (2.0 * (double)eps);
        double q = fabs(num - ana[i]) / (rtol * fabs(ana[i]) + atol * scale);
        if (q > worst) worst = q;
        if (!(q <= 1.0))
            fail_msg("%s: d/d %s[%lld]: analytic %.6g, numeric %.6g", what, v->name, (long long)i, ana[i], num);
    }
    free(ana);
    return worst;
}
