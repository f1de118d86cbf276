/* Multiplier files: .axmul (safetensors) and raw tables (.bin, .csv; .h for export).
 *
 * An .axmul file is a safetensors file with the tensor "table" I32 [256, 256] (offset order:
 * row a + 128, column b + 128), for unsigned multipliers also "utable" I32 [256, 256] (row a,
 * column b, a, b = 0..255), and string metadata: format = "axnn-multiplier-2", name, source,
 * signedness, power_mw, power_estimated ("true"/"false"), area_um2, delay_ns (-1 = unknown),
 * for each claimed metric claimed_<key> plus claimed_<key>_unit (keys as in axmul_fields:
 * mae_pct, mae, ...), and crc32.
 *
 * Integrity. crc32 is zlib's CRC-32, as 8 lower-case hex digits, of the tensor data ("table",
 * then "utable" when present, as stored: little-endian int32) followed by "key=value\n" for each
 * metadata key of meta_key() that is present, in that order (claimed_* sorted, then the
 * others sorted). So a flipped byte in
 * the data or in any value axnn reads fails the load with one line naming the file; a flipped
 * byte in the JSON structure already fails the safetensors parse. Files of the first format,
 * "axnn-multiplier-1", have no checksum: they still load (an older axnn wrote them and nothing
 * else differs), flagged `unverified` and with a warning on stderr; saving them again adds the
 * checksum. Every number in the metadata must be finite (NaN or Inf power, area, delay or
 * claims are rejected naming the key).
 *
 * Metrics are not stored: they are recomputed from the table on load, so a file can never
 * carry metrics that disagree with its own table.
 *
 * Raw tables carry nothing but the values and are validated strictly: a .bin must be exactly
 * 65536 16-bit values, a .csv exactly 256 lines of 256 integers. Their order and signedness
 * come from the caller (axnn_mul_raw_format; axnn/axmul.h states the orders).
 */
#include "axmul_impl.h"
#include "axnn/io.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define AXMUL_FORMAT "axnn-multiplier-2"
#define AXMUL_FORMAT_V1 "axnn-multiplier-1"
#define RAW_BIN_BYTES (AXNN_MUL_ENTRIES * 2)
#define RAW_CSV_MAX (16u << 20)
#define META_MAX 32
#define META_VAL 320

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static const char *extension(const char *path)
{
    const char *b = base_name(path), *d = strrchr(b, '.');
    return d ? d : "";
}

/* ---------------------------------------------------------------- .axmul ---- */

/* Metadata as key/value pairs (the checksum covers them in meta_key order). */
typedef struct meta_kv {
    char key[48], val[META_VAL];
} meta_kv;
typedef struct meta_list {
    meta_kv kv[META_MAX];
    int n;
} meta_list;

static const char *const meta_fixed[] = {"area_um2",        "delay_ns", "format",     "name",
                                         "power_estimated", "power_mw", "signedness", "source"};
#define META_FIXED (int)(sizeof meta_fixed / sizeof meta_fixed[0])

/* The i-th key of the checksummed set, sorted: claimed_<key>[_unit] first, then meta_fixed. */
static void meta_key(int i, char *buf, size_t n)
{
    if (i < 2 * AXMUL_NFIELDS) {
        static const char *const sorted[AXMUL_NFIELDS] = {"ep_pct", "mae", "mae_pct", "mre_pct",
                                                          "mse",    "wce", "wce_pct", "wcre_pct"};
        snprintf(buf, n, "claimed_%s%s", sorted[i / 2], i % 2 ? "_unit" : "");
    } else
        snprintf(buf, n, "%s", meta_fixed[i - 2 * AXMUL_NFIELDS]);
}
#define META_KEYS (2 * AXMUL_NFIELDS + META_FIXED)

static void meta_set(meta_list *l, const char *key, const char *val)
{
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->kv[i].key, key)) {
            snprintf(l->kv[i].val, META_VAL, "%s", val);
            return;
        }
    if (l->n == META_MAX) return;
    snprintf(l->kv[l->n].key, sizeof l->kv[0].key, "%s", key);
    snprintf(l->kv[l->n].val, META_VAL, "%s", val);
    l->n++;
}

static void meta_num(meta_list *l, const char *key, double v)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.17g", v);
    meta_set(l, key, buf);
}

static const char *meta_get(const meta_list *l, const char *key)
{
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->kv[i].key, key)) return l->kv[i].val;
    return NULL;
}

static void meta_of(const axnn_mul *m, meta_list *l)
{
    l->n = 0;
    meta_set(l, "format", AXMUL_FORMAT);
    meta_set(l, "name", m->name);
    meta_set(l, "source", m->source);
    meta_set(l, "signedness", m->utable ? "unsigned" : "signed");
    meta_num(l, "power_mw", m->power_mw);
    meta_set(l, "power_estimated", m->power_estimated ? "true" : "false");
    meta_num(l, "area_um2", m->area_um2);
    meta_num(l, "delay_ns", m->delay_ns);
    for (int i = 0; i < AXMUL_NFIELDS; i++) {
        double c = axmul_field_get(&m->claimed, i), u = axmul_field_get(&m->claimed_unit, i);
        if (isnan(c)) continue;
        char key[64];
        snprintf(key, sizeof key, "claimed_%s", axmul_fields[i].key);
        meta_num(l, key, c);
        snprintf(key, sizeof key, "claimed_%s_unit", axmul_fields[i].key);
        if (!isnan(u)) meta_num(l, key, u);
    }
}

/* Metadata of a file: the checksummed keys that are present. */
static void meta_read(const axnn_st_file *f, meta_list *l)
{
    l->n = 0;
    for (int i = 0; i < META_KEYS; i++) {
        char key[48];
        meta_key(i, key, sizeof key);
        const char *v = axnn_st_meta(f, key);
        if (v) meta_set(l, key, v);
    }
}

static uint32_t checksum(const void *table, const void *utable, const meta_list *l)
{
    uLong c = crc32(0L, Z_NULL, 0);
    c = crc32(c, table, AXNN_MUL_ENTRIES * 4);
    if (utable) c = crc32(c, utable, AXNN_MUL_ENTRIES * 4);
    for (int i = 0; i < META_KEYS; i++) {
        char key[48];
        meta_key(i, key, sizeof key);
        const char *v = meta_get(l, key);
        if (!v) continue;
        char line[META_VAL + 64];
        int k = snprintf(line, sizeof line, "%s=%s\n", key, v);
        c = crc32(c, (const Bytef *)line, (uInt)k);
    }
    return (uint32_t)c;
}

axnn_status axnn_mul_save(const axnn_mul *m, const char *path)
{
    meta_list *l = malloc(sizeof *l);
    axnn_st_writer *w = l ? axnn_st_writer_new() : NULL;
    if (!w) {
        free(l);
        return axnn_error(AXNN_ERR_NOMEM, "%s: out of memory", path);
    }
    meta_of(m, l);
    const int64_t shape[2] = {256, 256};
    axnn_status st = axnn_st_writer_add(w, "table", AXNN_ST_I32, 2, shape, m->table);
    if (!st && m->utable) st = axnn_st_writer_add(w, "utable", AXNN_ST_I32, 2, shape, m->utable);
    for (int i = 0; !st && i < l->n; i++) st = axnn_st_writer_meta(w, l->kv[i].key, l->kv[i].val);
    char crc[16];
    snprintf(crc, sizeof crc, "%08x", checksum(m->table, m->utable, l));
    if (!st) st = axnn_st_writer_meta(w, "crc32", crc);
    if (!st) st = axnn_st_writer_write(w, path);
    axnn_st_writer_free(w);
    free(l);
    return st;
}

/* Optional numeric metadata: *v unchanged when absent; error when present but not a finite
 * number. */
static axnn_status read_num(const axnn_st_file *f, const char *path, const char *key, double *v)
{
    const char *s = axnn_st_meta(f, key);
    if (!s) return AXNN_OK;
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (end == s || *end)
        return axnn_error(AXNN_ERR_FORMAT, "%s: metadata %s = '%s' is not a number", path, key, s);
    if (!isfinite(x) || (errno == ERANGE && fabs(x) > 1))
        return axnn_error(AXNN_ERR_FORMAT, "%s: metadata %s = '%s' is not a finite number", path,
                          key, s);
    *v = x;
    return AXNN_OK;
}

static axnn_status read_meta(const axnn_st_file *f, const char *path, axnn_mul *m)
{
    const char *s = axnn_st_meta(f, "power_estimated");
    m->power_estimated = s && !strcmp(s, "true");
    axnn_status st = read_num(f, path, "power_mw", &m->power_mw);
    if (!st) st = read_num(f, path, "area_um2", &m->area_um2);
    if (!st) st = read_num(f, path, "delay_ns", &m->delay_ns);
    for (int i = 0; !st && i < AXMUL_NFIELDS; i++) {
        char key[64];
        snprintf(key, sizeof key, "claimed_%s", axmul_fields[i].key);
        st = read_num(f, path, key, axmul_field_ptr(&m->claimed, i));
        snprintf(key, sizeof key, "claimed_%s_unit", axmul_fields[i].key);
        if (!st) st = read_num(f, path, key, axmul_field_ptr(&m->claimed_unit, i));
    }
    return st;
}

static bool table_ok(const axnn_st_tensor *t)
{
    return t && t->dtype == AXNN_ST_I32 && t->nd == 2 && t->shape[0] == 256 && t->shape[1] == 256;
}

/* Format, name, tensors and signedness; *v1 = a file of the first format (no checksum). */
static axnn_status check_file(const axnn_st_file *f, const char *path, const axnn_st_tensor **t,
                              const axnn_st_tensor **ut, bool *v1)
{
    const char *fmt = axnn_st_meta(f, "format");
    *v1 = fmt && !strcmp(fmt, AXMUL_FORMAT_V1);
    if (!fmt || (strcmp(fmt, AXMUL_FORMAT) && !*v1))
        return axnn_error(AXNN_ERR_FORMAT,
                          "%s: not an axnn multiplier file (format '%s', expected '%s')", path,
                          fmt ? fmt : "", AXMUL_FORMAT);
    const char *name = axnn_st_meta(f, "name");
    if (!name || !name[0] || strlen(name) >= sizeof(((axnn_mul *)0)->name))
        return axnn_error(AXNN_ERR_FORMAT, "%s: missing or bad 'name' metadata", path);
    *t = axnn_st_find(f, "table");
    if (!table_ok(*t))
        return axnn_error(AXNN_ERR_FORMAT,
                          "%s: needs a tensor 'table' of dtype I32 and shape [256, 256]", path);
    const char *sg = axnn_st_meta(f, "signedness");
    bool uns = sg && !strcmp(sg, "unsigned");
    if (sg && !uns && strcmp(sg, "signed"))
        return axnn_error(AXNN_ERR_FORMAT, "%s: metadata signedness = '%s' (signed or unsigned)",
                          path, sg);
    *ut = axnn_st_find(f, "utable");
    if (uns != (*ut != NULL) || (uns && !table_ok(*ut)))
        return axnn_error(AXNN_ERR_FORMAT,
                          "%s: an unsigned multiplier needs a tensor 'utable' I32 [256, 256] "
                          "(and only an unsigned one has it)",
                          path);
    return AXNN_OK;
}

static axnn_status verify(const axnn_st_file *f, const char *path, const axnn_st_tensor *t,
                          const axnn_st_tensor *ut)
{
    const char *want = axnn_st_meta(f, "crc32");
    if (!want)
        return axnn_error(AXNN_ERR_FORMAT, "%s: no 'crc32' metadata (the file is damaged)", path);
    meta_list *l = malloc(sizeof *l);
    if (!l) return axnn_error(AXNN_ERR_NOMEM, "%s: out of memory", path);
    meta_read(f, l);
    char got[16];
    snprintf(got, sizeof got, "%08x", checksum(t->data, ut ? ut->data : NULL, l));
    free(l);
    if (strcmp(got, want))
        return axnn_error(AXNN_ERR_FORMAT,
                          "%s: checksum mismatch (crc32 %s stored, %s computed): the file is "
                          "damaged; import the multiplier again",
                          path, want, got);
    return AXNN_OK;
}

static axnn_status load_from(const axnn_st_file *f, const char *path, axnn_mul **out)
{
    const axnn_st_tensor *t = NULL, *ut = NULL;
    bool v1 = false;
    axnn_status st = check_file(f, path, &t, &ut, &v1);
    if (!st && !v1) st = verify(f, path, t, ut);
    if (st) return st;
    const char *src = axnn_st_meta(f, "source");
    axnn_mul *m = NULL;
    st = axmul_new(axnn_st_meta(f, "name"), src ? src : path, &m);
    if (!st && ut) st = axmul_make_unsigned(m);
    if (!st) {
        memcpy(m->table, t->data, AXNN_MUL_ENTRIES * sizeof(int32_t));
        if (ut) memcpy(m->utable, ut->data, AXNN_MUL_ENTRIES * sizeof(int32_t));
        st = read_meta(f, path, m);
    }
    if (st) {
        axnn_mul_free(m);
        return st;
    }
    if (ut) {
        /* the signed table must be the one derived from utable */
        int32_t *keep = m->table;
        m->table = axnn_calloc(AXNN_MUL_ENTRIES * sizeof(int32_t));
        if (!m->table) {
            m->table = keep;
            axnn_mul_free(m);
            return axnn_error(AXNN_ERR_NOMEM, "%s: out of memory", path);
        }
        axmul_finish(m);
        bool same = !memcmp(keep, m->table, AXNN_MUL_ENTRIES * sizeof(int32_t));
        axnn_free(keep);
        if (!same) {
            axnn_mul_free(m);
            return axnn_error(AXNN_ERR_FORMAT,
                              "%s: 'table' is not the sign-magnitude form of 'utable'", path);
        }
    } else
        axmul_finish(m);
    m->unverified = v1;
    if (v1)
        axnn_log(AXNN_LOG_WARN,
                 "%s: an old multiplier file (%s) without a checksum: loaded unverified; "
                 "re-import or re-export it to add one",
                 path, AXMUL_FORMAT_V1);
    *out = m;
    return AXNN_OK;
}

axnn_status axnn_mul_load(const char *path, axnn_mul **out)
{
    *out = NULL;
    axnn_st_file *f;
    axnn_status st = axnn_st_read(path, &f);
    if (st) return st;
    st = load_from(f, path, out);
    axnn_st_close(f);
    return st;
}

/* ---------------------------------------------------------------- raw tables ---- */

/* Reads at most `max` bytes; *len = the size read, *over = the file is larger than max. */
static axnn_status read_file(const char *path, size_t max, char **buf, size_t *len, bool *over)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return axnn_error(AXNN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char *b = malloc(max + 2);
    if (!b) {
        fclose(fp);
        return axnn_error(AXNN_ERR_NOMEM, "%s: out of memory", path);
    }
    size_t n = fread(b, 1, max + 1, fp);
    bool err = ferror(fp);
    fclose(fp);
    if (err) {
        free(b);
        return axnn_error(AXNN_ERR_IO, "%s: read error", path);
    }
    *over = n > max;
    b[n] = 0;
    *buf = b;
    *len = n;
    return AXNN_OK;
}

/* Table index (m->table in offset order, m->utable in a * 256 + b) of file index i. */
static int table_of_file(const axnn_mul_raw_format *fmt, int i)
{
    if (fmt->is_unsigned) return i;
    int a = i / 256, b = i % 256;
    if (fmt->order == AXNN_MUL_ORDER_TWOS) return AXMUL_IDX((int8_t)a, (int8_t)b);
    return i;
}

static const char *order_name(const axnn_mul_raw_format *fmt)
{
    return fmt->is_unsigned                    ? "unsigned, a*256+b"
           : fmt->order == AXNN_MUL_ORDER_TWOS ? "signed, twos order (uint8)a*256+(uint8)b"
                                               : "signed, offset order (a+128)*256+(b+128)";
}

static axnn_status parse_bin(const char *path, const char *buf, size_t len, bool over,
                             bool is_unsigned, int32_t *t)
{
    if (over || len != RAW_BIN_BYTES)
        return axnn_error(AXNN_ERR_FORMAT,
                          "%s: a binary table must be exactly %d bytes (16-bit little-endian "
                          "[256][256]), this one has %s%zu",
                          path, RAW_BIN_BYTES, over ? "more than " : "", len);
    const uint8_t *p = (const uint8_t *)buf;
    for (int i = 0; i < AXNN_MUL_ENTRIES; i++) {
        uint16_t u = (uint16_t)(p[2 * i] | (p[2 * i + 1] << 8));
        t[i] = is_unsigned ? (int32_t)u : (int32_t)(int16_t)u;
    }
    return AXNN_OK;
}
/* One CSV line of 256 integers; `line` is NUL-terminated. */
static axnn_status parse_csv_line(const char *path, int ln, const char *line, int32_t *row)
{
    const char *p = line;
    for (int k = 0; k < 256; k++) {
        while (*p == ' ' || *p == '\t') p++;
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < INT32_MIN || v > INT32_MAX)
            return axnn_error(AXNN_ERR_FORMAT, "%s: line %d, value %d: expected an integer", path,
                              ln, k + 1);
        row[k] = (int32_t)v;
        p = end;
        while (*p == ' ' || *p == '\t') p++;
        if (k < 255 && *p != ',')
            return axnn_error(AXNN_ERR_FORMAT, "%s: line %d has %d values, expected 256", path, ln,
                              k + 1);
        if (k < 255) p++;
    }
    if (*p)
        return axnn_error(AXNN_ERR_FORMAT, "%s: line %d has more than 256 values or trailing text",
                          path, ln);
    return AXNN_OK;
}

static axnn_status parse_csv(const char *path, char *buf, size_t len, bool over, int32_t *t)
{
    if (over) return axnn_error(AXNN_ERR_FORMAT, "%s: too large for a 256x256 CSV table", path);
    if (memchr(buf, 0, len)) return axnn_error(AXNN_ERR_FORMAT, "%s: not a text file", path);
    int ln = 0;
    char *p = buf;
    while (*p) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = 0;
        size_t n = strlen(p);
        if (n && p[n - 1] == '\r') p[n - 1] = 0;
        if (ln == 256) return axnn_error(AXNN_ERR_FORMAT, "%s: more than 256 lines", path);
        axnn_status st = parse_csv_line(path, ln + 1, p, t + ln * 256);
        if (st) return st;
        ln++;
        if (!nl) break;
        p = nl + 1;
    }
    if (ln != 256) return axnn_error(AXNN_ERR_FORMAT, "%s: %d lines, expected 256", path, ln);
    return AXNN_OK;
}

static const axnn_mul_raw_format default_format = {AXNN_MUL_ORDER_OFFSET, false};

axnn_status axnn_mul_import_raw(const char *path, const char *name, const axnn_mul_raw_format *fmt,
                                axnn_mul **out)
{
    *out = NULL;
    if (!fmt) fmt = &default_format;
    const char *ext = extension(path);
    bool bin = !strcmp(ext, ".bin"), csv = !strcmp(ext, ".csv");
    if (!bin && !csv)
        return axnn_error(AXNN_ERR_ARG, "%s: unknown raw table format (use .bin or .csv)", path);
    if (!name || !name[0] || strlen(name) >= sizeof(((axnn_mul *)0)->name))
        return axnn_error(AXNN_ERR_ARG, "%s: a raw table needs a name (1-127 characters)", path);
    char *buf = NULL;
    size_t len = 0;
    bool over = false;
    axnn_status st = read_file(path, bin ? RAW_BIN_BYTES : RAW_CSV_MAX, &buf, &len, &over);
    if (st) return st;
    char src[256];
    snprintf(src, sizeof src, "raw table %s (%s)", base_name(path), order_name(fmt));
    axnn_mul *m = NULL;
    int32_t *file = malloc(AXNN_MUL_ENTRIES * sizeof *file);
    st = file ? axmul_new(name, src, &m) : axnn_error(AXNN_ERR_NOMEM, "%s: out of memory", path);
    if (!st && fmt->is_unsigned) st = axmul_make_unsigned(m);
    if (!st)
        st = bin ? parse_bin(path, buf, len, over, fmt->is_unsigned, file)
                 : parse_csv(path, buf, len, over, file);
    free(buf);
    if (!st) {
        int32_t *dst = fmt->is_unsigned ? m->utable : m->table;
        for (int k = 0; k < AXNN_MUL_ENTRIES; k++) dst[table_of_file(fmt, k)] = file[k];
        axmul_finish(m);
    }
    free(file);
    if (st) {
        axnn_mul_free(m);
        return st;
    }
    *out = m;
    return AXNN_OK;
}

/* The table in file order; values must fit [lo, hi] (an error names the first that does not). */
static axnn_status file_values(const axnn_mul *m, const char *path, const axnn_mul_raw_format *fmt,
                               long lo, long hi, int32_t *v)
{
    if (fmt->is_unsigned && !m->utable)
        return axnn_error(AXNN_ERR_ARG,
                          "%s: multiplier '%s' is signed: it has no unsigned table to export "
                          "(drop --signedness unsigned)",
                          path, m->name);
    const int32_t *src = fmt->is_unsigned ? m->utable : m->table;
    for (int k = 0; k < AXNN_MUL_ENTRIES; k++) {
        int32_t x = src[table_of_file(fmt, k)];
        if (x < lo || x > hi) {
            int a = k / 256, b = k % 256; /* unsigned operands */
            if (!fmt->is_unsigned && fmt->order == AXNN_MUL_ORDER_TWOS)
                a = (int8_t)a, b = (int8_t)b;
            else if (!fmt->is_unsigned)
                a -= 128, b -= 128;
            return axnn_error(AXNN_ERR_ARG,
                              "%s: multiplier '%s' has value %d at (%d, %d), outside %s: export "
                              "it as .csv or .axmul",
                              path, m->name, (int)x, a, b, fmt->is_unsigned ? "uint16" : "int16");
        }
        v[k] = x;
    }
    return AXNN_OK;
}

static axnn_status export_bin(const int32_t *v, const char *path)
{
    uint8_t *b = malloc(RAW_BIN_BYTES);
    if (!b) return axnn_error(AXNN_ERR_NOMEM, "%s: out of memory", path);
    for (int i = 0; i < AXNN_MUL_ENTRIES; i++) {
        b[2 * i] = (uint8_t)((uint32_t)v[i] & 0xff);
        b[2 * i + 1] = (uint8_t)(((uint32_t)v[i] >> 8) & 0xff);
    }
    axnn_status st = axnn_write_file_atomic(path, b, RAW_BIN_BYTES);
    free(b);
    return st;
}

/* CSV lines, or with `header` the rows of a C array initializer. */
static axnn_status export_text(const axnn_mul *m, const int32_t *v, const char *path,
                               const axnn_mul_raw_format *fmt, bool header)
{
    size_t cap = (size_t)AXNN_MUL_ENTRIES * 13 + 4096, n = 0;
    char *b = malloc(cap);
    if (!b) return axnn_error(AXNN_ERR_NOMEM, "%s: out of memory", path);
    if (header)
        n += (size_t)snprintf(b, cap,
                              "/* Multiplier %s (%s), written by 'axnn mul export'.\n"
                              " * T[x][y] = approx(a, b), %s: %s. */\n"
                              "#include <stdint.h>\n\nstatic const %s T[256][256] = {\n",
                              m->name, m->source, order_name(fmt),
                              fmt->is_unsigned                    ? "x = a, y = b (0..255)"
                              : fmt->order == AXNN_MUL_ORDER_TWOS ? "x = (uint8_t)a, y = (uint8_t)b"
                                                                  : "x = a + 128, y = b + 128",
                              fmt->is_unsigned ? "uint16_t" : "int16_t");
    for (int i = 0; i < AXNN_MUL_ENTRIES; i++) {
        const char *pre = header && i % 256 == 0 ? "    {" : "";
        const char *sep = i % 256 != 255 ? "," : header ? "},\n" : "\n";
        n += (size_t)snprintf(b + n, cap - n, "%s%d%s", pre, (int)v[i], sep);
    }
    if (header) n += (size_t)snprintf(b + n, cap - n, "};\n");
    axnn_status st = axnn_write_file_atomic(path, b, n);
    free(b);
    return st;
}

axnn_status axnn_mul_export_raw(const axnn_mul *m, const char *path, const axnn_mul_raw_format *fmt)
{
    if (!fmt) fmt = &default_format;
    const char *ext = extension(path);
    bool bin = !strcmp(ext, ".bin"), csv = !strcmp(ext, ".csv"), hdr = !strcmp(ext, ".h");
    if (!bin && !csv && !hdr)
        return axnn_error(AXNN_ERR_ARG, "%s: unknown raw table format (use .bin, .csv or .h)",
                          path);
    int32_t *v = malloc(AXNN_MUL_ENTRIES * sizeof *v);
    if (!v) return axnn_error(AXNN_ERR_NOMEM, "%s: out of memory", path);
    long lo = csv ? INT32_MIN : fmt->is_unsigned ? 0 : INT16_MIN;
    long hi = csv ? INT32_MAX : fmt->is_unsigned ? UINT16_MAX : INT16_MAX;
    axnn_status st = file_values(m, path, fmt, lo, hi, v);
    if (!st) st = bin ? export_bin(v, path) : export_text(m, v, path, fmt, hdr);
    free(v);
    return st;
}
