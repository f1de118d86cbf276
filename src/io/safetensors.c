/* safetensors reader and writer (the format of Hugging Face's `safetensors` library).
 *
 * Layout: an 8-byte little-endian header length N, N bytes of JSON, then the data buffer. The
 * JSON is an object mapping each tensor name to {"dtype", "shape", "data_offsets"} (offsets are
 * relative to the start of the data buffer), plus an optional "__metadata__" object of strings.
 *
 * The reader loads the whole file and trusts nothing in it: every field is checked, numbers must
 * be integers in range, byte counts must equal numel * dtype size (computed without overflow),
 * tensors must lie inside the buffer and must not overlap, names must be unique. Each failure
 * leaves a one-line message naming the file and the tensor or field.
 *
 * The writer emits tensors sorted by name, packed back to back, the header padded with spaces
 * so the data starts at a multiple of 8 bytes, and writes the file atomically. Numbers are
 * printed as plain integers (never in exponent form), which strict readers require.
 * Multi-byte values are stored little-endian; axnn only runs on little-endian hosts.
 */
#include "axnn/io.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define ST_MAX_DIMS 8
#define META_KEY "__metadata__"
#define CRC_KEY "axnn_crc32"
#define CRC_PATTERN "\"" CRC_KEY "\":\""
#define CRC_DIGITS 8

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors I/O assumes little-endian");

static const struct {
    const char *name;
    size_t size;
} dtypes[] = {
    [AXNN_ST_F32] = {"F32", 4},   [AXNN_ST_F16] = {"F16", 2}, [AXNN_ST_BF16] = {"BF16", 2},
    [AXNN_ST_F64] = {"F64", 8},   [AXNN_ST_I64] = {"I64", 8}, [AXNN_ST_I32] = {"I32", 4},
    [AXNN_ST_I16] = {"I16", 2},   [AXNN_ST_I8] = {"I8", 1},   [AXNN_ST_U8] = {"U8", 1},
    [AXNN_ST_BOOL] = {"BOOL", 1},
};
#define NDTYPES ((int)(sizeof dtypes / sizeof dtypes[0]))

const char *axnn_st_dtype_name(axnn_st_dtype t)
{
    return (int)t >= 0 && (int)t < NDTYPES ? dtypes[t].name : "?";
}

size_t axnn_st_dtype_size(axnn_st_dtype t)
{
    return (int)t >= 0 && (int)t < NDTYPES ? dtypes[t].size : 0;
}

static int dtype_parse(const char *s)
{
    for (int i = 0; i < NDTYPES; i++)
        if (!strcmp(dtypes[i].name, s)) return i;
    return -1;
}

/* "[10, 64]" */
static char *dims_str(int nd, const int64_t *d, char *buf, size_t n)
{
    axnn_shape s = {.nd = 0};
    for (int i = 0; i < nd && i < AXNN_MAX_DIMS; i++) s.d[s.nd++] = d[i];
    axnn_shape_str(&s, buf, n);
    if (nd > AXNN_MAX_DIMS) snprintf(buf, n, "[%d dims]", nd);
    return buf;
}

/* ---------------------------------------------------------------- reading ---- */

/* Sets the error as "<path>: <message>". */
static axnn_status fail(axnn_status s, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static axnn_status fail(axnn_status s, const char *path, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return axnn_error(s, "%s: %s", path, msg);
}

/* Larger files are refused before allocating (a corrupt size, or not a model at all). */
#define ST_MAX_FILE (64ull << 30)

static axnn_status read_all(const char *path, uint8_t **buf, size_t *size)
{
    return axnn_read_regular(path, ST_MAX_FILE, buf, size);
}

/* A JSON number that is an integer in [0, 2^53]. */
static bool json_uint(const cJSON *j, uint64_t *out)
{
    if (!cJSON_IsNumber(j)) return false;
    double v = j->valuedouble;
    if (!(v >= 0.0 && v <= 9007199254740992.0) || v != floor(v)) return false;
    *out = (uint64_t)v;
    return true;
}

static axnn_status parse_shape(const char *path, axnn_st_tensor *t, const cJSON *js)
{
    if (!cJSON_IsArray(js))
        return fail(AXNN_ERR_FORMAT, path, "tensor '%s': \"shape\" is missing or not a list",
                    t->name);
    int nd = cJSON_GetArraySize(js);
    if (nd > ST_MAX_DIMS)
        return fail(AXNN_ERR_FORMAT, path, "tensor '%s': %d dimensions (at most %d supported)",
                    t->name, nd, ST_MAX_DIMS);
    const cJSON *d;
    t->nd = 0;
    cJSON_ArrayForEach(d, js)
    {
        uint64_t v;
        if (!json_uint(d, &v))
            return fail(AXNN_ERR_FORMAT, path,
                        "tensor '%s': \"shape\" entry %d is not a non-negative integer", t->name,
                        t->nd);
        t->shape[t->nd++] = (int64_t)v;
    }
    return AXNN_OK;
}

static axnn_status parse_offsets(const char *path, axnn_st_tensor *t, const cJSON *jo,
                                 size_t data_size, uint64_t *begin, uint64_t *end)
{
    if (!cJSON_IsArray(jo) || cJSON_GetArraySize(jo) != 2 || !json_uint(jo->child, begin) ||
        !json_uint(jo->child->next, end))
        return fail(AXNN_ERR_FORMAT, path,
                    "tensor '%s': \"data_offsets\" must be [begin, end] with non-negative integers",
                    t->name);
    if (*begin > *end || *end > data_size)
        return fail(AXNN_ERR_FORMAT, path,
                    "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] outside the data buffer "
                    "of %zu bytes",
                    t->name, *begin, *end, data_size);
    return AXNN_OK;
}

/* Checks end - begin == numel * dtype size, without overflow. */
static axnn_status check_nbytes(const char *path, const axnn_st_tensor *t, uint64_t begin,
                                uint64_t end)
{
    uint64_t need = axnn_st_dtype_size(t->dtype);
    bool overflow = false;
    for (int i = 0; i < t->nd; i++)
        overflow |= __builtin_mul_overflow(need, (uint64_t)t->shape[i], &need);
    if (overflow || need != end - begin) {
        char s[160], nb[32] = "too many";
        if (!overflow) snprintf(nb, sizeof nb, "%" PRIu64, need);
        return fail(AXNN_ERR_FORMAT, path,
                    "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] hold %" PRIu64
                    " bytes, shape %s %s needs %s",
                    t->name, begin, end, end - begin, dims_str(t->nd, t->shape, s, sizeof s),
                    axnn_st_dtype_name(t->dtype), nb);
    }
    return AXNN_OK;
}

static axnn_status parse_tensor(axnn_st_file *f, axnn_st_tensor *t, const cJSON *j,
                                const uint8_t *data, size_t data_size)
{
    const char *path = f->path;
    if (!cJSON_IsObject(j))
        return fail(AXNN_ERR_FORMAT, path, "tensor '%s': entry is not an object", t->name);
    const cJSON *jd = cJSON_GetObjectItemCaseSensitive(j, "dtype");
    if (!cJSON_IsString(jd))
        return fail(AXNN_ERR_FORMAT, path, "tensor '%s': \"dtype\" is missing or not a string",
                    t->name);
    int dt = dtype_parse(jd->valuestring);
    if (dt < 0)
        return fail(AXNN_ERR_FORMAT, path, "tensor '%s': unknown or unsupported dtype \"%.32s\"",
                    t->name, jd->valuestring);
    t->dtype = (axnn_st_dtype)dt;
    axnn_status st = parse_shape(path, t, cJSON_GetObjectItemCaseSensitive(j, "shape"));
    if (st != AXNN_OK) return st;
    uint64_t begin = 0, end = 0;
    st = parse_offsets(path, t, cJSON_GetObjectItemCaseSensitive(j, "data_offsets"), data_size,
                       &begin, &end);
    if (st != AXNN_OK) return st;
    st = check_nbytes(path, t, begin, end);
    if (st != AXNN_OK) return st;
    t->data = data + begin;
    t->nbytes = (size_t)(end - begin);
    return AXNN_OK;
}

static int str_ptr_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Metadata keys must be unique (sorting a copy of the key list keeps this O(n log n)). */
static axnn_status check_meta_unique(axnn_st_file *f)
{
    if (f->nmeta < 2) return AXNN_OK;
    char **keys = malloc((size_t)f->nmeta * sizeof *keys);
    if (!keys) return fail(AXNN_ERR_NOMEM, f->path, "out of memory");
    memcpy(keys, f->meta_keys, (size_t)f->nmeta * sizeof *keys);
    qsort(keys, (size_t)f->nmeta, sizeof *keys, str_ptr_cmp);
    axnn_status st = AXNN_OK;
    for (int i = 1; i < f->nmeta && st == AXNN_OK; i++)
        if (!strcmp(keys[i - 1], keys[i]))
            st = fail(AXNN_ERR_FORMAT, f->path, "metadata '%s': key appears twice", keys[i]);
    free(keys);
    return st;
}

static axnn_status parse_meta(axnn_st_file *f, const cJSON *j)
{
    if (cJSON_IsNull(j)) return AXNN_OK;
    if (!cJSON_IsObject(j))
        return fail(AXNN_ERR_FORMAT, f->path, "\"" META_KEY "\" is not an object");
    int n = cJSON_GetArraySize(j);
    f->meta_keys = calloc((size_t)n + 1, sizeof(char *));
    f->meta_vals = calloc((size_t)n + 1, sizeof(char *));
    if (!f->meta_keys || !f->meta_vals) return fail(AXNN_ERR_NOMEM, f->path, "out of memory");
    const cJSON *m;
    cJSON_ArrayForEach(m, j)
    {
        if (!cJSON_IsString(m))
            return fail(AXNN_ERR_FORMAT, f->path, "metadata '%s': value is not a string",
                        m->string);
        char *k = strdup(m->string), *v = strdup(m->valuestring);
        if (!k || !v) {
            free(k);
            free(v);
            return fail(AXNN_ERR_NOMEM, f->path, "out of memory");
        }
        f->meta_keys[f->nmeta] = k;
        f->meta_vals[f->nmeta++] = v;
    }
    return check_meta_unique(f);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const axnn_st_tensor *)a)->name, ((const axnn_st_tensor *)b)->name);
}

static int by_offset(const void *a, const void *b)
{
    const axnn_st_tensor *x = *(const axnn_st_tensor *const *)a,
                         *y = *(const axnn_st_tensor *const *)b;
    if (x->data != y->data) return x->data < y->data ? -1 : 1;
    return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

/* Names must be unique; non-empty byte ranges must not overlap. Sorts tensors by name. */
static axnn_status check_layout(axnn_st_file *f)
{
    if (f->ntensors == 0) return AXNN_OK;
    qsort(f->tensors, (size_t)f->ntensors, sizeof *f->tensors, by_name);
    for (int i = 1; i < f->ntensors; i++)
        if (!strcmp(f->tensors[i - 1].name, f->tensors[i].name))
            return fail(AXNN_ERR_FORMAT, f->path, "tensor '%s' appears twice", f->tensors[i].name);
    const axnn_st_tensor **ord = malloc((size_t)f->ntensors * sizeof *ord);
    if (!ord) return fail(AXNN_ERR_NOMEM, f->path, "out of memory");
    for (int i = 0; i < f->ntensors; i++) ord[i] = &f->tensors[i];
    qsort(ord, (size_t)f->ntensors, sizeof *ord, by_offset);
    axnn_status st = AXNN_OK;
    const axnn_st_tensor *prev = NULL;
    for (int i = 0; i < f->ntensors && st == AXNN_OK; i++) {
        if (!ord[i]->nbytes) continue;
        if (prev && (const uint8_t *)ord[i]->data < (const uint8_t *)prev->data + prev->nbytes)
            st = fail(AXNN_ERR_FORMAT, f->path, "tensors '%s' and '%s' overlap in the data buffer",
                      prev->name, ord[i]->name);
        prev = ord[i];
    }
    free(ord);
    return st;
}

/* Counts the tensor entries (every member but "__metadata__") and allocates them. */
static axnn_status alloc_tensors(axnn_st_file *f, const cJSON *root)
{
    int n = 0;
    const cJSON *j;
    cJSON_ArrayForEach(j, root) n += strcmp(j->string, META_KEY) != 0;
    f->tensors = calloc((size_t)n + 1, sizeof *f->tensors);
    return f->tensors ? AXNN_OK : fail(AXNN_ERR_NOMEM, f->path, "out of memory");
}

static axnn_status parse_entries(axnn_st_file *f, const cJSON *root, const uint8_t *data,
                                 size_t dsize)
{
    axnn_status st = alloc_tensors(f, root);
    bool seen_meta = false;
    const cJSON *j;
    cJSON_ArrayForEach(j, root)
    {
        if (st != AXNN_OK) break;
        if (!strcmp(j->string, META_KEY)) {
            st = seen_meta ? fail(AXNN_ERR_FORMAT, f->path, "\"" META_KEY "\" appears twice")
                           : parse_meta(f, j);
            seen_meta = true;
            continue;
        }
        axnn_st_tensor *t = &f->tensors[f->ntensors];
        t->name = strdup(j->string);
        if (!t->name) return fail(AXNN_ERR_NOMEM, f->path, "out of memory");
        f->ntensors++;
        st = parse_tensor(f, t, j, data, dsize);
    }
    return st == AXNN_OK ? check_layout(f) : st;
}

static axnn_status parse_file(axnn_st_file *f)
{
    if (f->size < 8)
        return fail(AXNN_ERR_FORMAT, f->path,
                    "file of %zu bytes is too short for a safetensors header", f->size);
    uint64_t hlen;
    memcpy(&hlen, f->buf, 8);
    if (hlen > f->size - 8)
        return fail(AXNN_ERR_FORMAT, f->path,
                    "header length %" PRIu64 " exceeds the file size (%zu bytes)", hlen, f->size);
    const char *hdr = (const char *)f->buf + 8, *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(hdr, (size_t)hlen, &end, false);
    if (!root) {
        size_t at = end && end >= hdr ? (size_t)(end - hdr) : 0;
        return fail(AXNN_ERR_FORMAT, f->path, "header is not valid JSON (near byte %zu)", at);
    }
    axnn_status st = AXNN_OK;
    for (const char *p = end; p < hdr + hlen && st == AXNN_OK; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            st = fail(AXNN_ERR_FORMAT, f->path, "header has trailing bytes after the JSON object");
    if (st == AXNN_OK && !cJSON_IsObject(root))
        st = fail(AXNN_ERR_FORMAT, f->path, "header is not a JSON object");
    if (st == AXNN_OK) st = parse_entries(f, root, f->buf + 8 + hlen, f->size - 8 - (size_t)hlen);
    cJSON_Delete(root);
    return st;
}

/* CRC-32 of buf[0, n) with the CRC_DIGITS bytes at `hole` read as '0'. */
static uint32_t crc_with_hole(const uint8_t *buf, size_t n, size_t hole)
{
    static const uint8_t zeros[CRC_DIGITS] = "00000000";
    uLong c = crc32_z(0L, Z_NULL, 0);
    c = crc32_z(c, buf, hole);
    c = crc32_z(c, zeros, CRC_DIGITS);
    c = crc32_z(c, buf + hole + CRC_DIGITS, n - hole - CRC_DIGITS);
    return (uint32_t)c;
}

/* Where the checksum's digits are in the header: right after the only CRC_PATTERN. */
static bool find_crc_digits(const axnn_st_file *f, size_t hlen, size_t *at)
{
    const char *h = (const char *)f->buf + 8, *end = h + hlen;
    const size_t pl = sizeof CRC_PATTERN - 1;
    const char *hit = NULL;
    for (const char *p = h; p + pl + CRC_DIGITS <= end; p++) {
        p = memchr(p, '"', (size_t)(end - p));
        if (!p || p + pl + CRC_DIGITS > end) break;
        if (memcmp(p, CRC_PATTERN, pl)) continue;
        if (hit) return false;
        hit = p;
    }
    if (!hit) return false;
    *at = (size_t)(hit - (const char *)f->buf) + pl;
    return true;
}

/* A file that fails to parse but carries a checksum that disagrees was damaged after writing:
 * that is the real cause to report (the message goes to msg). */
static bool crc_says_corrupt(const axnn_st_file *f, char *msg, size_t cap)
{
    uint64_t hlen;
    size_t at;
    if (f->size < 8) return false;
    memcpy(&hlen, f->buf, 8);
    if (hlen > f->size - 8 || !find_crc_digits(f, (size_t)hlen, &at)) return false;
    char digits[CRC_DIGITS + 1], *end;
    memcpy(digits, f->buf + at, CRC_DIGITS);
    digits[CRC_DIGITS] = 0;
    unsigned long want = strtoul(digits, &end, 16);
    uint32_t got = crc_with_hole(f->buf, f->size, at);
    if (*end || got == (uint32_t)want) return false;
    snprintf(msg, cap,
             "checksum mismatch: corrupt file (CRC-32 is %08x, the file records %08lx: changed after it was written)",
             got, want);
    return true;
}

/* Verifies metadata axnn_crc32 when the file has it (see io.h). */
static axnn_status verify_crc(const axnn_st_file *f)
{
    const char *v = axnn_st_meta(f, CRC_KEY), *fmt = axnn_st_meta(f, "format");
    /* the formats older axnn versions wrote, without a checksum, still load (unverified) */
    const bool legacy = fmt && (!strcmp(fmt, "axnn-checkpoint-1") || !strcmp(fmt, "axnn-multiplier-1"));
    if (!v && fmt && !strncmp(fmt, "axnn-", 5) && !legacy) /* axnn always writes one: a damaged key? */
        return fail(AXNN_ERR_FORMAT, f->path,
                    "corrupt file: 'format' is '%.40s' but the '" CRC_KEY "' checksum that axnn "
                    "writes with it is missing",
                    fmt);
    if (!v) return AXNN_OK;
    char *end;
    unsigned long want = strtoul(v, &end, 16);
    size_t at, hlen;
    memcpy(&hlen, f->buf, 8);
    if (strlen(v) != CRC_DIGITS || *end || !find_crc_digits(f, hlen, &at))
        return fail(AXNN_ERR_FORMAT, f->path, "metadata '" CRC_KEY "' = '%.32s' is malformed", v);
    uint32_t got = crc_with_hole(f->buf, f->size, at);
    if (got != (uint32_t)want)
        return fail(AXNN_ERR_FORMAT, f->path,
                    "checksum mismatch: corrupt file (CRC-32 is %08x, the file records %08lx: "
                    "changed after it was written)",
                    got, want);
    return AXNN_OK;
}

axnn_status axnn_st_read(const char *path, axnn_st_file **out)
{
    *out = NULL;
    axnn_st_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        free(f);
        return axnn_error(AXNN_ERR_NOMEM, "%s: out of memory", path);
    }
    char msg[160];
    axnn_status st = read_all(path, &f->buf, &f->size);
    if (st == AXNN_OK) st = parse_file(f);
    if (st == AXNN_OK)
        st = verify_crc(f);
    else if (f->buf && crc_says_corrupt(f, msg, sizeof msg))
        st = fail(AXNN_ERR_FORMAT, path, "%s", msg);
    if (st != AXNN_OK) {
        axnn_st_close(f);
        return st;
    }
    *out = f;
    return AXNN_OK;
}

void axnn_st_close(axnn_st_file *f)
{
    if (!f) return;
    for (int i = 0; i < f->ntensors; i++) free(f->tensors[i].name);
    for (int i = 0; i < f->nmeta; i++) {
        free(f->meta_keys[i]);
        free(f->meta_vals[i]);
    }
    free(f->tensors);
    free(f->meta_keys);
    free(f->meta_vals);
    free(f->buf);
    free(f->path);
    free(f);
}

const axnn_st_tensor *axnn_st_find(const axnn_st_file *f, const char *name)
{
    if (!f->ntensors) return NULL;
    axnn_st_tensor key = {.name = (char *)name};
    return bsearch(&key, f->tensors, (size_t)f->ntensors, sizeof key, by_name);
}

const char *axnn_st_meta(const axnn_st_file *f, const char *key)
{
    for (int i = 0; i < f->nmeta; i++)
        if (!strcmp(f->meta_keys[i], key)) return f->meta_vals[i];
    return NULL;
}

/* ------------------------------------------------------------ conversion ---- */

/* IEEE half -> float, including subnormals, infinities and NaNs. */
static float half_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 0x1f, m = h & 0x3ff, bits;
    if (e == 0x1f) {
        bits = sign | 0x7f800000u | (m << 13);
    } else if (e == 0) {
        float v = ldexpf((float)m, -24);
        return sign ? -v : v;
    } else {
        bits = sign | ((e + 112) << 23) | (m << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static float elem_to_f32(axnn_st_dtype dt, const uint8_t *p)
{
    union {
        float f;
        double d;
        int64_t i64;
        int32_t i32;
        int16_t i16;
        uint16_t u16;
        uint32_t u32;
    } u;
    switch (dt) {
    case AXNN_ST_F32:
        memcpy(&u.f, p, 4);
        return u.f;
    case AXNN_ST_F16:
        memcpy(&u.u16, p, 2);
        return half_to_f32(u.u16);
    case AXNN_ST_BF16:
        memcpy(&u.u16, p, 2);
        u.u32 = (uint32_t)u.u16 << 16;
        return u.f;
    case AXNN_ST_F64:
        memcpy(&u.d, p, 8);
        return (float)u.d;
    case AXNN_ST_I64:
        memcpy(&u.i64, p, 8);
        return (float)u.i64;
    case AXNN_ST_I32:
        memcpy(&u.i32, p, 4);
        return (float)u.i32;
    case AXNN_ST_I16:
        memcpy(&u.i16, p, 2);
        return (float)u.i16;
    case AXNN_ST_I8:
        return (float)(int8_t)p[0];
    case AXNN_ST_U8:
        return (float)p[0];
    case AXNN_ST_BOOL:
        return p[0] ? 1.0f : 0.0f;
    }
    return 0.0f;
}

void axnn_st_to_f32(const axnn_st_tensor *t, float *dst)
{
    size_t es = axnn_st_dtype_size(t->dtype), n = es ? t->nbytes / es : 0;
    const uint8_t *p = t->data;
    if (t->dtype == AXNN_ST_F32) {
        memcpy(dst, p, t->nbytes);
        return;
    }
    for (size_t i = 0; i < n; i++) dst[i] = elem_to_f32(t->dtype, p + i * es);
}

/* ------------------------------------------------------------- validity ---- */

static bool is_float_dtype(axnn_st_dtype t)
{
    return t == AXNN_ST_F32 || t == AXNN_ST_F16 || t == AXNN_ST_BF16 || t == AXNN_ST_F64;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* Index of the first element that is not finite (or, with nonneg, below zero), or -1. F64
 * values beyond float range count as not finite: they would load as infinities. */
static int64_t first_bad(const axnn_st_tensor *t, bool nonneg)
{
    size_t es = axnn_st_dtype_size(t->dtype), n = t->nbytes / es;
    const uint8_t *p = t->data;
    for (size_t i = 0; i < n; i++, p += es) {
        float v;
        if (t->dtype == AXNN_ST_F32) {
            uint32_t u;
            memcpy(&u, p, 4);
            if ((u & 0x7f800000u) == 0x7f800000u) return (int64_t)i;
            memcpy(&v, &u, 4);
        } else if (t->dtype == AXNN_ST_F64) {
            double d;
            memcpy(&d, p, 8);
            if (!(fabs(d) <= FLT_MAX)) return (int64_t)i;
            v = (float)d;
        } else {
            v = elem_to_f32(t->dtype, p);
            if (!isfinite(v)) return (int64_t)i;
        }
        if (nonneg && v < 0) return (int64_t)i;
    }
    return -1;
}

axnn_status axnn_st_check_finite(const axnn_st_file *f)
{
    for (int i = 0; i < f->ntensors; i++) {
        const axnn_st_tensor *t = &f->tensors[i];
        if (!is_float_dtype(t->dtype)) continue;
        bool var = ends_with(t->name, "running_var");
        int64_t k = first_bad(t, var);
        if (k < 0) continue;
        float v = elem_to_f32(t->dtype,
                              (const uint8_t *)t->data + (size_t)k * axnn_st_dtype_size(t->dtype));
        if (var && isfinite(v))
            return fail(AXNN_ERR_FORMAT, f->path,
                        "tensor '%s': negative BatchNorm running variance %g at element %" PRId64,
                        t->name, (double)v, k);
        return fail(AXNN_ERR_FORMAT, f->path,
                    "tensor '%s': non-finite value %g at element %" PRId64, t->name, (double)v, k);
    }
    return AXNN_OK;
}

bool axnn_st_is_integer(axnn_st_dtype t)
{
    return t == AXNN_ST_I64 || t == AXNN_ST_I32 || t == AXNN_ST_I16 || t == AXNN_ST_I8 ||
           t == AXNN_ST_U8;
}

void axnn_st_to_i64(const axnn_st_tensor *t, int64_t *dst)
{
    size_t es = axnn_st_dtype_size(t->dtype), n = es ? t->nbytes / es : 0;
    const uint8_t *p = t->data;
    for (size_t i = 0; i < n; i++, p += es) {
        int64_t v = 0;
        int32_t v32;
        int16_t v16;
        switch (t->dtype) {
        case AXNN_ST_I64:
            memcpy(&v, p, 8);
            break;
        case AXNN_ST_I32:
            memcpy(&v32, p, 4);
            v = v32;
            break;
        case AXNN_ST_I16:
            memcpy(&v16, p, 2);
            v = v16;
            break;
        case AXNN_ST_I8:
            v = (int8_t)p[0];
            break;
        case AXNN_ST_U8:
        case AXNN_ST_BOOL:
            v = p[0];
            break;
        default: { /* floats truncate toward zero, saturating; NaN reads as 0 */
            float x = elem_to_f32(t->dtype, p);
            v = x != x ? 0 : x >= 0x1p63f ? INT64_MAX : x < -0x1p63f ? INT64_MIN : (int64_t)x;
            break;
        }
        }
        dst[i] = v;
    }
}

/* ---------------------------------------------------------------- writing ---- */

typedef struct wentry {
    char *name;
    axnn_st_dtype dtype;
    int nd;
    int64_t shape[ST_MAX_DIMS];
    const void *data;
    size_t nbytes;
} wentry;

struct axnn_st_writer {
    wentry *e;
    int n, cap;
    char **mkeys, **mvals;
    int nmeta, capmeta;
};

axnn_st_writer *axnn_st_writer_new(void)
{
    return calloc(1, sizeof(axnn_st_writer));
}

void axnn_st_writer_free(axnn_st_writer *w)
{
    if (!w) return;
    for (int i = 0; i < w->n; i++) free(w->e[i].name);
    for (int i = 0; i < w->nmeta; i++) {
        free(w->mkeys[i]);
        free(w->mvals[i]);
    }
    free(w->e);
    free(w->mkeys);
    free(w->mvals);
    free(w);
}

static axnn_status check_add(axnn_st_writer *w, const char *name, axnn_st_dtype dt, int nd,
                             const int64_t *shape, const void *data, size_t *nbytes)
{
    if (!name || !strcmp(name, META_KEY))
        return axnn_error(AXNN_ERR_ARG, "safetensors: bad tensor name '%s'",
                          name ? name : "(null)");
    if ((int)dt < 0 || (int)dt >= NDTYPES || nd < 0 || nd > ST_MAX_DIMS)
        return axnn_error(AXNN_ERR_ARG, "safetensors: tensor '%s': bad dtype or rank", name);
    uint64_t nb = axnn_st_dtype_size(dt);
    for (int i = 0; i < nd; i++)
        if (shape[i] < 0 || __builtin_mul_overflow(nb, (uint64_t)shape[i], &nb))
            return axnn_error(AXNN_ERR_ARG, "safetensors: tensor '%s': bad shape", name);
    if (nb && !data) return axnn_error(AXNN_ERR_ARG, "safetensors: tensor '%s': no data", name);
    for (int i = 0; i < w->n; i++)
        if (!strcmp(w->e[i].name, name))
            return axnn_error(AXNN_ERR_ARG, "safetensors: tensor '%s' added twice", name);
    *nbytes = (size_t)nb;
    return AXNN_OK;
}

axnn_status axnn_st_writer_add(axnn_st_writer *w, const char *name, axnn_st_dtype dt, int nd,
                               const int64_t *shape, const void *data)
{
    size_t nbytes = 0;
    axnn_status st = check_add(w, name, dt, nd, shape, data, &nbytes);
    if (st != AXNN_OK) return st;
    if (w->n == w->cap) {
        int cap = w->cap ? 2 * w->cap : 32;
        wentry *ne = realloc(w->e, (size_t)cap * sizeof *ne);
        if (!ne) return axnn_error(AXNN_ERR_NOMEM, "safetensors: out of memory");
        w->e = ne;
        w->cap = cap;
    }
    wentry *e = &w->e[w->n];
    memset(e, 0, sizeof *e);
    if (!(e->name = strdup(name))) return axnn_error(AXNN_ERR_NOMEM, "safetensors: out of memory");
    e->dtype = dt;
    e->nd = nd;
    for (int i = 0; i < nd; i++) e->shape[i] = shape[i];
    e->data = data;
    e->nbytes = nbytes;
    w->n++;
    return AXNN_OK;
}

axnn_status axnn_st_writer_meta(axnn_st_writer *w, const char *key, const char *value)
{
    if (!key || !value) return axnn_error(AXNN_ERR_ARG, "safetensors: NULL metadata key or value");
    char *v = strdup(value);
    if (!v) return axnn_error(AXNN_ERR_NOMEM, "safetensors: out of memory");
    for (int i = 0; i < w->nmeta; i++)
        if (!strcmp(w->mkeys[i], key)) { /* replace */
            free(w->mvals[i]);
            w->mvals[i] = v;
            return AXNN_OK;
        }
    if (w->nmeta == w->capmeta) {
        int cap = w->capmeta ? 2 * w->capmeta : 8;
        char **k = realloc(w->mkeys, (size_t)cap * sizeof *k);
        if (k) w->mkeys = k;
        char **vv = k ? realloc(w->mvals, (size_t)cap * sizeof *vv) : NULL;
        if (vv) w->mvals = vv;
        if (!k || !vv) {
            free(v);
            return axnn_error(AXNN_ERR_NOMEM, "safetensors: out of memory");
        }
        w->capmeta = cap;
    }
    if (!(w->mkeys[w->nmeta] = strdup(key))) {
        free(v);
        return axnn_error(AXNN_ERR_NOMEM, "safetensors: out of memory");
    }
    w->mvals[w->nmeta++] = v;
    return AXNN_OK;
}

/* A growing string for the header. */
typedef struct sbuf {
    char *s;
    size_t n, cap;
    bool oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->n + n + 1) cap *= 2;
        char *ns = realloc(b->s, cap);
        if (!ns) {
            b->oom = true;
            return;
        }
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    sb_put(b, tmp, (size_t)k < sizeof tmp ? (size_t)k : sizeof tmp - 1);
}

/* A JSON string literal; bytes >= 0x80 pass through (names are UTF-8). */
static void sb_json_str(sbuf *b, const char *s)
{
    sb_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            sb_put(b, esc, 2);
        } else if (c < 0x20) {
            sb_printf(b, "\\u%04x", c);
        } else {
            sb_put(b, (const char *)&c, 1);
        }
    }
    sb_put(b, "\"", 1);
}

static int wentry_by_name(const void *a, const void *b)
{
    return strcmp(((const wentry *)a)->name, ((const wentry *)b)->name);
}

/* Builds the header; *crc_at is the offset in it of the checksum's eight digits (zeros). */
static void build_header(const axnn_st_writer *w, sbuf *b, size_t *crc_at)
{
    sb_put(b, "{\"" META_KEY "\":{", sizeof META_KEY + 4);
    for (int i = 0; i < w->nmeta; i++) {
        if (!strcmp(w->mkeys[i], CRC_KEY)) continue; /* always recomputed */
        sb_json_str(b, w->mkeys[i]);
        sb_put(b, ":", 1);
        sb_json_str(b, w->mvals[i]);
        sb_put(b, ",", 1);
    }
    sb_put(b, CRC_PATTERN, sizeof CRC_PATTERN - 1);
    *crc_at = b->n;
    sb_put(b, "00000000\"}", CRC_DIGITS + 2);
    uint64_t off = 0;
    for (int i = 0; i < w->n; i++) {
        const wentry *e = &w->e[i];
        sb_put(b, ",", 1);
        sb_json_str(b, e->name);
        sb_printf(b, ":{\"dtype\":\"%s\",\"shape\":[", axnn_st_dtype_name(e->dtype));
        for (int d = 0; d < e->nd; d++) sb_printf(b, "%s%" PRId64, d ? "," : "", e->shape[d]);
        sb_printf(b, "],\"data_offsets\":[%" PRIu64 ",", off);
        off += e->nbytes;
        sb_printf(b, "%" PRIu64 "]}", off);
    }
    sb_put(b, "}", 1);
    while (b->n % 8) sb_put(b, " ", 1);
}

/* Fills the checksum digits: CRC-32 of every part with the digits read as '0' (they are). */
static void stamp_crc(const void *const *parts, const size_t *lens, int nparts, char *digits)
{
    uLong c = crc32_z(0L, Z_NULL, 0);
    for (int i = 0; i < nparts; i++)
        if (lens[i]) c = crc32_z(c, parts[i], lens[i]); /* a NULL buffer would reset c */
    char hex[CRC_DIGITS + 1];
    snprintf(hex, sizeof hex, "%08lx", (unsigned long)(c & 0xffffffffu));
    memcpy(digits, hex, CRC_DIGITS);
}

axnn_status axnn_st_writer_write(axnn_st_writer *w, const char *path)
{
    if (w->n) qsort(w->e, (size_t)w->n, sizeof *w->e, wentry_by_name);
    sbuf h = {0};
    size_t crc_at = 0;
    build_header(w, &h, &crc_at);
    const void **parts = malloc(((size_t)w->n + 2) * sizeof *parts);
    size_t *lens = malloc(((size_t)w->n + 2) * sizeof *lens);
    axnn_status st = AXNN_OK;
    if (h.oom || !parts || !lens) {
        st = axnn_error(AXNN_ERR_NOMEM, "%s: out of memory building the header", path);
    } else {
        uint64_t hlen = h.n;
        parts[0] = &hlen;
        lens[0] = 8;
        parts[1] = h.s;
        lens[1] = h.n;
        for (int i = 0; i < w->n; i++) {
            parts[i + 2] = w->e[i].data;
            lens[i + 2] = w->e[i].nbytes;
        }
        stamp_crc(parts, lens, w->n + 2, h.s + crc_at);
        st = axnn_write_file_atomic_parts(path, parts, lens, w->n + 2);
    }
    free(parts);
    free(lens);
    free(h.s);
    return st;
}
