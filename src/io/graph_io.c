/* Graph weights <-> safetensors. Tensor names are the values' names (PyTorch state_dict keys), so
 * a file exported with `safetensors.torch.save_file(model.state_dict(), ...)` loads directly.
 * Loading checks every tensor first (finite values, presence, shape, dtype) and copies only when
 * all pass. */
#include "axnn/io.h"

#include <stdio.h>
#include <string.h>

static bool is_weight(const axnn_value *v)
{
    return v->kind == AXNN_VAL_PARAM || v->kind == AXNN_VAL_BUFFER;
}

static bool is_float_st(axnn_st_dtype t)
{
    return t == AXNN_ST_F32 || t == AXNN_ST_F16 || t == AXNN_ST_BF16 || t == AXNN_ST_F64;
}

/* Float values take float dtypes; int64 values any integer dtype; int32 values integer dtypes
 * of at most 32 bits (so every value fits). */
static bool dtype_fits(const axnn_value *v, axnn_st_dtype t)
{
    if (v->dtype == AXNN_F32) return is_float_st(t);
    if (v->dtype == AXNN_I32) return axnn_st_is_integer(t) && t != AXNN_ST_I64;
    return axnn_st_is_integer(t);
}

static bool shape_matches(const axnn_value *v, const axnn_st_tensor *t)
{
    if (v->shape.nd != t->nd) return false;
    for (int i = 0; i < t->nd; i++)
        if (v->shape.d[i] != t->shape[i]) return false;
    return true;
}

static axnn_status check_value(const axnn_value *v, const axnn_st_file *f, const axnn_st_tensor *t)
{
    char a[160], b[160];
    if (!shape_matches(v, t)) {
        axnn_shape ts = {.nd = t->nd <= AXNN_MAX_DIMS ? t->nd : 0};
        for (int i = 0; i < ts.nd; i++) ts.d[i] = t->shape[i];
        if (t->nd > AXNN_MAX_DIMS)
            snprintf(b, sizeof b, "[%d dims]", t->nd);
        else
            axnn_shape_str(&ts, b, sizeof b);
        return axnn_error(AXNN_ERR_SHAPE,
                          "%s: tensor '%s': shape %s in the file, the model expects %s", f->path,
                          v->name, b, axnn_shape_str(&v->shape, a, sizeof a));
    }
    if (!dtype_fits(v, t->dtype))
        return axnn_error(AXNN_ERR_FORMAT,
                          "%s: tensor '%s': dtype %s cannot be loaded into a %s %s", f->path,
                          v->name, axnn_st_dtype_name(t->dtype), axnn_dtype_name(v->dtype),
                          v->kind == AXNN_VAL_PARAM ? "parameter" : "buffer");
    return AXNN_OK;
}

/* Every tensor of f must be a weight of g (strict mode). */
static axnn_status check_unexpected(const axnn_graph *g, const axnn_st_file *f)
{
    for (int i = 0; i < f->ntensors; i++) {
        int id = axnn_graph_find_value(g, f->tensors[i].name);
        if (id < 0 || !is_weight(&g->vals[id]))
            return axnn_error(AXNN_ERR_FORMAT,
                              "%s: tensor '%s' is not a parameter or buffer of the model", f->path,
                              f->tensors[i].name);
    }
    return AXNN_OK;
}

static axnn_status check_all(const axnn_graph *g, const axnn_st_file *f, bool strict)
{
    for (int i = 0; i < g->nvals; i++) {
        const axnn_value *v = &g->vals[i];
        if (!is_weight(v)) continue;
        const axnn_st_tensor *t = axnn_st_find(f, v->name);
        if (!t) {
            if (!strict) continue;
            char a[160];
            return axnn_error(AXNN_ERR_FORMAT, "%s: tensor '%s' (shape %s) is missing", f->path,
                              v->name, axnn_shape_str(&v->shape, a, sizeof a));
        }
        axnn_status st = check_value(v, f, t);
        if (st != AXNN_OK) return st;
    }
    return strict ? check_unexpected(g, f) : AXNN_OK;
}

/* Converts t (already checked by dtype_fits) into v's storage. */
static axnn_status copy_value(axnn_value *v, const axnn_st_tensor *t)
{
    if (v->dtype == AXNN_F32) {
        axnn_st_to_f32(t, v->data);
        return AXNN_OK;
    }
    int64_t n = axnn_shape_numel(&v->shape);
    if (v->dtype == AXNN_I64) {
        axnn_st_to_i64(t, v->data);
        return AXNN_OK;
    }
    int64_t *tmp = axnn_alloc((size_t)(n ? n : 1) * sizeof *tmp);
    if (!tmp) return axnn_error(AXNN_ERR_NOMEM, "out of memory loading %s", v->name);
    axnn_st_to_i64(t, tmp);
    int32_t *dst = v->data;
    for (int64_t i = 0; i < n; i++) dst[i] = (int32_t)tmp[i];
    axnn_free(tmp);
    return AXNN_OK;
}

axnn_status axnn_graph_load_weights(axnn_graph *g, const axnn_st_file *f, bool strict)
{
    axnn_status st = axnn_st_check_finite(f);
    if (!st) st = check_all(g, f, strict);
    for (int i = 0; i < g->nvals && st == AXNN_OK; i++) {
        axnn_value *v = &g->vals[i];
        const axnn_st_tensor *t = is_weight(v) ? axnn_st_find(f, v->name) : NULL;
        if (t) st = copy_value(v, t);
    }
    return st;
}

static axnn_st_dtype st_dtype_of(axnn_dtype t)
{
    return t == AXNN_I64 ? AXNN_ST_I64 : t == AXNN_I32 ? AXNN_ST_I32 : AXNN_ST_F32;
}

axnn_status axnn_graph_add_weights(axnn_st_writer *w, const axnn_graph *g)
{
    for (int i = 0; i < g->nvals; i++) {
        const axnn_value *v = &g->vals[i];
        if (!is_weight(v)) continue;
        axnn_status st =
            axnn_st_writer_add(w, v->name, st_dtype_of(v->dtype), v->shape.nd, v->shape.d, v->data);
        if (st != AXNN_OK) return st;
    }
    return AXNN_OK;
}
