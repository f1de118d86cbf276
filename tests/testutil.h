/* Shared helpers for the test suites. */
#ifndef AXNN_TESTUTIL_H
#define AXNN_TESTUTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "axnn/axnn.h"

/* Path of a committed golden file: $AXNN_TEST_DATA/name. */
const char *tu_data_path(const char *name);
/* A fresh temporary directory (removed by tu_rmtree). */
char *tu_tmpdir(void);
void tu_rmtree(const char *dir);
void tu_write_file(const char *path, const void *data, size_t len);
/* Max relative error |a-b| / max(|b|, floor) over n values. */
double tu_max_rel_err(const float *a, const float *b, int64_t n, double floor);
void tu_fill_uniform(float *x, int64_t n, float lo, float hi, axnn_rng *r);
/* Fills a float value with scale * (2u - 1), u = (mix32(fnv1a32(name) + i * 0x9e3779b1) >> 8)
 * / 2^24 for element i: the deterministic weights of hash_uniform() in tests/gen/gen_golden.py. */
void tu_hash_uniform(axnn_value *v, float scale);

/* Elements of value v in plan p: for batched values dimension 0 is the plan's batch (as the
 * graph's shape was before plans), else the graph's shape. */
int64_t tu_plan_numel(const axnn_plan *p, int v);

/* Checks the gradient of value v in plan p (axnn_plan_grad) against central differences (step
 * eps) of f(ctx) at every element of v (axnn_plan_data):
 * |num - ana| <= rtol |ana| + atol max(1, max |ana|); fails naming `what`, the value and the
 * element. Returns the worst ratio of error to tolerance. */
double tu_gradcheck_value(axnn_plan *p, int v, double (*f)(void *ctx), void *ctx, float eps, double rtol,
                          double atol, const char *what);

/* ---- golden cases: tensors "<case>.<t>" of a safetensors file plus JSON attributes ---- */
struct cJSON;
typedef struct tu_case {
    const axnn_st_file *f;
    const char *name;
    const struct cJSON *attr;
} tu_case;

const axnn_st_tensor *tu_gt(const tu_case *c, const char *t); /* NULL when absent */
int64_t tu_numel(const axnn_st_tensor *t);
double tu_attr_num(const tu_case *c, const char *k);
bool tu_attr_bool(const tu_case *c, const char *k);
const char *tu_attr_op(const tu_case *c);
/* Copies golden tensor t of case c into graph value `name` (float or int64): a parameter or
 * buffer (its memory is the graph's). */
void tu_fill(axnn_graph *g, const char *name, const tu_case *c, const char *t);
/* The same into `dst`, which holds value `name` of graph g with n elements (a plan's input). */
void tu_fill_to(void *dst, int64_t n, const axnn_graph *g, const char *name, const tu_case *c, const char *t);

/* Copies of what a run produced, for bitwise comparison between runs. */
typedef struct tu_result {
    int n;
    const char *what[8];
    float *data[8];
    int64_t len[8];
} tu_result;
void tu_keep(tu_result *r, const char *what, const float *p, int64_t len);
void tu_result_free(tu_result *r);

/* Writes a JPEG of w x h pixels from `channels` (1 or 3) 8-bit planes stored one after the
 * other (CHW). */
void tu_write_jpeg(const char *path, const uint8_t *planes, int w, int h, int channels, int quality);

#endif
