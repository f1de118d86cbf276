/* ONNX tensors: from a TensorProto (raw_data, the typed repeated fields, or an external-data
 * file) to an axnn_onnx_tensor of float or int64 values, with every length checked against
 * the shape; and the reader of serialized TensorProto files (ONNX's test data).
 *
 * raw_data holds the values little-endian in their own type. The typed fields hold them
 * widened: float_data (float), double_data (double), int64_data (int64), uint64_data (uint32,
 * uint64), int32_data (every narrower integer and bool, and float16/bfloat16 as their bit
 * patterns). External data names a file relative to the model's folder, and optionally a
 * byte offset and length inside it; paths that are absolute or contain ".." are refused so a
 * model cannot read files outside its folder.
 */
#include "onnx/onnx-internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

char *axnn_onnx_strdup(const char *s)
{
    if (!s) s = "";
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

bool axnn_onnx_is_float_type(int32_t t)
{
    return t == AXNN_ONNX_FLOAT || t == AXNN_ONNX_DOUBLE || t == AXNN_ONNX_FLOAT16 ||
           t == AXNN_ONNX_BFLOAT16;
}

const char *axnn_onnx_type_name(int32_t t)
{
    static const char *names[] = {"undefined",  "float",   "uint8",  "int8",   "uint16",
                                  "int16",      "int32",   "int64",  "string", "bool",
                                  "float16",    "double",  "uint32", "uint64", "complex64",
                                  "complex128", "bfloat16"};
    return t >= 0 && t <= 16 ? names[t] : "unknown";
}

/* Bytes per element in raw_data; 0 for types axnn does not convert. */
static size_t elem_size(int32_t t)
{
    switch (t) {
    case AXNN_ONNX_FLOAT:
    case AXNN_ONNX_INT32:
    case AXNN_ONNX_UINT32:
        return 4;
    case AXNN_ONNX_DOUBLE:
    case AXNN_ONNX_INT64:
    case AXNN_ONNX_UINT64:
        return 8;
    case AXNN_ONNX_FLOAT16:
    case AXNN_ONNX_BFLOAT16:
    case AXNN_ONNX_INT16:
    case AXNN_ONNX_UINT16:
        return 2;
    case AXNN_ONNX_INT8:
    case AXNN_ONNX_UINT8:
    case AXNN_ONNX_BOOL:
        return 1;
    default:
        return 0;
    }
}

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 31, m = h & 1023;
    float v;
    if (e == 0)
        v = ldexpf((float)m, -24);
    else if (e == 31)
        v = m ? NAN : INFINITY;
    else
        v = ldexpf((float)(m | 1024), (int)e - 25);
    return sign ? -v : v;
}

static float bf16_to_float(uint16_t b)
{
    uint32_t u = (uint32_t)b << 16;
    float v;
    memcpy(&v, &u, 4);
    return v;
}

axnn_status axnn_onnx_check_dims(const int64_t *dims, size_t nd, const char *what, const char *ctx,
                                 int64_t *numel)
{
    if (nd > AXNN_ONNX_MAX_DIMS)
        return axnn_error(AXNN_ERR_UNSUPPORTED, "%s: %s has rank %zu (at most %d)", what, ctx, nd,
                          AXNN_ONNX_MAX_DIMS);
    int64_t n = 1;
    for (size_t k = 0; k < nd; k++) {
        if (dims[k] < 0 || dims[k] > AXNN_ONNX_MAX_DIM)
            return axnn_error(AXNN_ERR_FORMAT, "%s: %s has dimension %zu of size %lld", what, ctx,
                              k, (long long)dims[k]);
        if (dims[k] && n > AXNN_ONNX_MAX_NUMEL / dims[k])
            return axnn_error(AXNN_ERR_FORMAT, "%s: %s has more than %lld elements", what, ctx,
                              (long long)AXNN_ONNX_MAX_NUMEL);
        n *= dims[k];
    }
    *numel = n;
    return AXNN_OK;
}

/* Converts element k of little-endian raw bytes of type t. */
static void raw_elem(const uint8_t *p, int32_t t, float *f, int64_t *i)
{
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    switch (t) {
    case AXNN_ONNX_FLOAT:
        memcpy(f, p, 4);
        break;
    case AXNN_ONNX_DOUBLE: {
        double d;
        memcpy(&d, p, 8);
        *f = (float)d;
    } break;
    case AXNN_ONNX_FLOAT16:
        memcpy(&u16, p, 2);
        *f = half_to_float(u16);
        break;
    case AXNN_ONNX_BFLOAT16:
        memcpy(&u16, p, 2);
        *f = bf16_to_float(u16);
        break;
    case AXNN_ONNX_INT64:
        memcpy(&u64, p, 8);
        *i = (int64_t)u64;
        break;
    case AXNN_ONNX_UINT64:
        memcpy(&u64, p, 8);
        *i = (int64_t)u64;
        break;
    case AXNN_ONNX_INT32:
        memcpy(&u32, p, 4);
        *i = (int32_t)u32;
        break;
    case AXNN_ONNX_UINT32:
        memcpy(&u32, p, 4);
        *i = u32;
        break;
    case AXNN_ONNX_INT16:
        memcpy(&u16, p, 2);
        *i = (int16_t)u16;
        break;
    case AXNN_ONNX_UINT16:
        memcpy(&u16, p, 2);
        *i = u16;
        break;
    case AXNN_ONNX_INT8:
        *i = (int8_t)p[0];
        break;
    case AXNN_ONNX_UINT8:
        *i = p[0];
        break;
    case AXNN_ONNX_BOOL:
        *i = p[0] != 0;
        break;
    }
}

static void from_raw(const uint8_t *p, axnn_onnx_tensor *o)
{
    size_t es = elem_size(o->elem_type);
    float f = 0.0f;
    int64_t iv = 0;
    for (int64_t k = 0; k < o->numel; k++) {
        raw_elem(p + (size_t)k * es, o->elem_type, &f, &iv);
        if (o->f)
            o->f[k] = f;
        else
            o->i[k] = iv;
    }
}

/* The typed field of t that holds o's type, and its length. */
static size_t typed_count(const Onnx__TensorProto *t, int32_t type)
{
    switch (type) {
    case AXNN_ONNX_FLOAT:
        return t->n_float_data;
    case AXNN_ONNX_DOUBLE:
        return t->n_double_data;
    case AXNN_ONNX_INT64:
        return t->n_int64_data;
    case AXNN_ONNX_UINT32:
    case AXNN_ONNX_UINT64:
        return t->n_uint64_data;
    default:
        return t->n_int32_data;
    }
}

static void from_typed(const Onnx__TensorProto *t, axnn_onnx_tensor *o)
{
    for (int64_t k = 0; k < o->numel; k++) {
        switch (o->elem_type) {
        case AXNN_ONNX_FLOAT:
            o->f[k] = t->float_data[k];
            break;
        case AXNN_ONNX_DOUBLE:
            o->f[k] = (float)t->double_data[k];
            break;
        case AXNN_ONNX_FLOAT16:
            o->f[k] = half_to_float((uint16_t)t->int32_data[k]);
            break;
        case AXNN_ONNX_BFLOAT16:
            o->f[k] = bf16_to_float((uint16_t)t->int32_data[k]);
            break;
        case AXNN_ONNX_INT64:
            o->i[k] = t->int64_data[k];
            break;
        case AXNN_ONNX_UINT32:
        case AXNN_ONNX_UINT64:
            o->i[k] = (int64_t)t->uint64_data[k];
            break;
        case AXNN_ONNX_BOOL:
            o->i[k] = t->int32_data[k] != 0;
            break;
        default:
            o->i[k] = t->int32_data[k];
            break;
        }
    }
}

static bool safe_relative(const char *loc)
{
    if (!loc[0] || loc[0] == '/' || loc[0] == '\\' || strchr(loc, ':')) return false;
    const char *p = loc;
    while (*p) {
        size_t n = strcspn(p, "/\\");
        if (n == 2 && p[0] == '.' && p[1] == '.') return false;
        p += n;
        if (*p) p++;
    }
    return true;
}

static axnn_status parse_i64(const char *s, const char *what, const char *ctx, const char *key,
                             int64_t *v)
{
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || end == s || *end || x < 0)
        return axnn_error(AXNN_ERR_FORMAT, "%s: tensor '%s': bad external-data %s '%s'", what, ctx,
                          key, s);
    *v = x;
    return AXNN_OK;
}

/* Reads `len` bytes of the external data of t into a new buffer (*buf). */
static axnn_status read_external(const Onnx__TensorProto *t, const char *dir, const char *what,
                                 size_t len, uint8_t **buf)
{
    const char *loc = NULL;
    int64_t off = 0, n = -1;
    for (size_t k = 0; k < t->n_external_data; k++) {
        const char *key = t->external_data[k]->key, *val = t->external_data[k]->value;
        if (!key || !val) continue;
        axnn_status s = AXNN_OK;
        if (!strcmp(key, "location"))
            loc = val;
        else if (!strcmp(key, "offset"))
            s = parse_i64(val, what, t->name, key, &off);
        else if (!strcmp(key, "length"))
            s = parse_i64(val, what, t->name, key, &n);
        if (s) return s;
    }
    if (!loc)
        return axnn_error(AXNN_ERR_FORMAT, "%s: tensor '%s': external data without location", what,
                          t->name);
    if (!dir)
        return axnn_error(AXNN_ERR_ARG, "%s: tensor '%s': external data, but no model folder", what,
                          t->name);
    if (!safe_relative(loc))
        return axnn_error(AXNN_ERR_FORMAT,
                          "%s: tensor '%s': external-data location '%s' leaves the model's folder",
                          what, t->name, loc);
    if (n >= 0 && (size_t)n != len)
        return axnn_error(AXNN_ERR_FORMAT,
                          "%s: tensor '%s': external-data length %lld, its shape needs %zu bytes",
                          what, t->name, (long long)n, len);
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, loc) >= (int)sizeof path)
        return axnn_error(AXNN_ERR_ARG, "%s: tensor '%s': external-data path too long", what,
                          t->name);
    FILE *f = fopen(path, "rb");
    if (!f) return axnn_error(AXNN_ERR_IO, "%s: cannot open %s: %s", what, path, strerror(errno));
    *buf = malloc(len ? len : 1);
    axnn_status s = AXNN_OK;
    if (!*buf)
        s = axnn_error(AXNN_ERR_NOMEM, "%s: out of memory", what);
    else if (fseeko(f, off, SEEK_SET) || fread(*buf, 1, len, f) != len)
        s = axnn_error(AXNN_ERR_FORMAT, "%s: tensor '%s': %s has fewer than %lld + %zu bytes", what,
                       t->name, path, (long long)off, len);
    fclose(f);
    if (s) {
        free(*buf);
        *buf = NULL;
    }
    return s;
}

static axnn_status fill_data(const Onnx__TensorProto *t, const char *dir, const char *what,
                             axnn_onnx_tensor *o)
{
    const char *name = o->name;
    size_t es = elem_size(o->elem_type), need = (size_t)o->numel * es;
    if (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
        uint8_t *buf = NULL;
        axnn_status s = read_external(t, dir, what, need, &buf);
        if (s) return s;
        from_raw(buf, o);
        free(buf);
        return AXNN_OK;
    }
    if (t->has_raw_data) {
        if (t->raw_data.len != need)
            return axnn_error(AXNN_ERR_FORMAT,
                              "%s: tensor '%s' holds %zu bytes, its shape needs %zu", what, name,
                              t->raw_data.len, need);
        from_raw(t->raw_data.data, o);
        return AXNN_OK;
    }
    size_t have = typed_count(t, o->elem_type);
    if (have != (size_t)o->numel)
        return axnn_error(AXNN_ERR_FORMAT, "%s: tensor '%s' holds %zu values, its shape needs %lld",
                          what, name, have, (long long)o->numel);
    from_typed(t, o);
    return AXNN_OK;
}

axnn_status axnn_onnx_convert_tensor(const Onnx__TensorProto *t, const char *dir, const char *what,
                                     axnn_onnx_tensor *o)
{
    memset(o, 0, sizeof *o);
    o->name = axnn_onnx_strdup(t->name);
    if (!o->name) return axnn_error(AXNN_ERR_NOMEM, "%s: out of memory", what);
    o->elem_type = t->has_data_type ? t->data_type : 0;
    axnn_status s;
    if (t->segment) {
        s = axnn_error(AXNN_ERR_UNSUPPORTED, "%s: tensor '%s' is segmented", what, o->name);
        goto fail;
    }
    if (!elem_size(o->elem_type)) {
        s = axnn_error(AXNN_ERR_UNSUPPORTED, "%s: tensor '%s' has data type %s", what, o->name,
                       axnn_onnx_type_name(o->elem_type));
        goto fail;
    }
    char ctx[300];
    snprintf(ctx, sizeof ctx, "tensor '%s'", o->name);
    if ((s = axnn_onnx_check_dims(t->dims, t->n_dims, what, ctx, &o->numel))) goto fail;
    o->nd = (int)t->n_dims;
    for (int k = 0; k < o->nd; k++) o->dims[k] = t->dims[k];
    size_t n = (size_t)(o->numel ? o->numel : 1);
    if (axnn_onnx_is_float_type(o->elem_type))
        o->f = malloc(n * sizeof(float));
    else
        o->i = malloc(n * sizeof(int64_t));
    if (!o->f && !o->i) {
        s = axnn_error(AXNN_ERR_NOMEM, "%s: out of memory for tensor '%s'", what, o->name);
        goto fail;
    }
    if ((s = fill_data(t, dir, what, o))) goto fail;
    return AXNN_OK;
fail:
    axnn_onnx_tensor_clear(o);
    return s;
}

void axnn_onnx_tensor_clear(axnn_onnx_tensor *t)
{
    if (!t) return;
    free(t->name);
    free(t->f);
    free(t->i);
    memset(t, 0, sizeof *t);
}

void axnn_onnx_free_tensors(axnn_onnx_tensor *t, int n)
{
    if (!t) return;
    for (int k = 0; k < n; k++) axnn_onnx_tensor_clear(&t[k]);
    free(t);
}

/* Reads a whole file into memory. */
static axnn_status slurp(const char *path, uint8_t **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return axnn_error(AXNN_ERR_IO, "%s: %s", path, strerror(errno));
    axnn_status s = AXNN_OK;
    if (fseeko(f, 0, SEEK_END)) s = axnn_error(AXNN_ERR_IO, "%s: cannot seek", path);
    off_t n = s ? 0 : ftello(f);
    if (!s && n < 0) s = axnn_error(AXNN_ERR_IO, "%s: cannot tell its size", path);
    if (!s) {
        rewind(f);
        *buf = malloc((size_t)n + 1);
        if (!*buf)
            s = axnn_error(AXNN_ERR_NOMEM, "%s: out of memory (%lld bytes)", path, (long long)n);
        else if (fread(*buf, 1, (size_t)n, f) != (size_t)n) {
            s = axnn_error(AXNN_ERR_IO, "%s: read failed", path);
            free(*buf);
        }
        *len = (size_t)n;
    }
    fclose(f);
    return s;
}

axnn_status axnn_onnx_slurp(const char *path, uint8_t **buf, size_t *len)
{
    return slurp(path, buf, len);
}

axnn_status axnn_onnx_read_tensor(const char *path, axnn_onnx_tensor *out)
{
    memset(out, 0, sizeof *out);
    uint8_t *buf;
    size_t len;
    axnn_status s = slurp(path, &buf, &len);
    if (s) return s;
    Onnx__TensorProto *t = onnx__tensor_proto__unpack(NULL, len, buf);
    free(buf);
    if (!t)
        return axnn_error(AXNN_ERR_FORMAT,
                          "%s: not a valid TensorProto (truncated or corrupt protobuf)", path);
    /* External data of a test tensor is relative to the file's folder. */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    else
        snprintf(dir, sizeof dir, ".");
    s = axnn_onnx_convert_tensor(t, dir, path, out);
    onnx__tensor_proto__free_unpacked(t, NULL);
    return s;
}
