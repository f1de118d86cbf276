/* Multiplier files: .axmul (safetensors) and raw tables (.bin int16 LE, .csv).
 *
 * An .axmul file is a safetensors file with one tensor, "table" I32 [256, 256] (row a + 128,
 * column b + 128), and string metadata: format = "axnn-multiplier-1", name, source, power_mw,
 * power_estimated ("true"/"false"), area_um2, delay_ns (-1 = unknown), and for each claimed
 * metric claimed_<key> plus claimed_<key>_unit (keys as in axmul_fields: mae_pct, mae, ...).
 * Metrics are not stored: they are recomputed from the table on load, so a file can never
 * carry metrics that disagree with its own table. Raw tables carry nothing but the values and
 * are validated strictly: a .bin must be exactly 65536 int16 values, a .csv exactly 256 lines
 * of 256 integers.
 */
#include "axmul_impl.h"
#include "axnn/io.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AXMUL_FORMAT "axnn-multiplier-1"
#define RAW_BIN_BYTES (AXNN_MUL_ENTRIES * 2)
#define RAW_CSV_MAX (16u << 20)

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

static axnn_status meta_num(axnn_st_writer *w, const char *key, double v)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.17g", v);
    return axnn_st_writer_meta(w, key, buf);
}

static axnn_status add_meta(axnn_st_writer *w, const axnn_mul *m)
{
    axnn_status st = axnn_st_writer_meta(w, "format", AXMUL_FORMAT);
    if (!st) st = axnn_st_writer_meta(w, "name", m->name);
    if (!st) st = axnn_st_writer_meta(w, "source", m->source);
    if (!st) st = meta_num(w, "power_mw", m->power_mw);
    if (!st) st = axnn_st_writer_meta(w, "power_estimated", m->power_estimated ? "true" : "false");
    if (!st) st = meta_num(w, "area_um2", m->area_um2);
    if (!st) st = meta_num(w, "delay_ns", m->delay_ns);
    for (int i = 0; !st && i < AXMUL_NFIELDS; i++) {
        double c = axmul_field_get(&m->claimed, i), u = axmul_field_get(&m->claimed_unit, i);
        if (isnan(c)) continue;
        char key[64];
        snprintf(key, sizeof key, "claimed_%s", axmul_fields[i].key);
        st = meta_num(w, key, c);
        snprintf(key, sizeof key, "claimed_%s_unit", axmul_fields[i].key);
        if (!st && !isnan(u)) st = meta_num(w, key, u);
    }
    return st;
}

axnn_status axnn_mul_save(const axnn_mul *m, const char *path)
{
    axnn_st_writer *w = axnn_st_writer_new();
    if (!w) return axnn_error(AXNN_ERR_NOMEM, "%s: out of memory", path);
    const int64_t shape[2] = {256, 256};
    axnn_status st = axnn_st_writer_add(w, "table", AXNN_ST_I32, 2, shape, m->table);
    if (!st) st = add_meta(w, m);
    if (!st) st = axnn_st_writer_write(w, path);
    axnn_st_writer_free(w);
    return st;
}

/* Optional numeric metadata: *v unchanged when absent; error when present but not a number. */
static axnn_status read_num(const axnn_st_file *f, const char *path, const char *key, double *v)
{
    const char *s = axnn_st_meta(f, key);
    if (!s) return AXNN_OK;
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (errno || end == s || *end)
        return axnn_error(AXNN_ERR_FORMAT, "%s: metadata %s = '%s' is not a number", path, key, s);
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

static axnn_status check_file(const axnn_st_file *f, const char *path, const axnn_st_tensor **t)
{
    const char *fmt = axnn_st_meta(f, "format");
    if (!fmt || strcmp(fmt, AXMUL_FORMAT))
        return axnn_error(AXNN_ERR_FORMAT,
                          "%s: not an axnn multiplier file (format '%s', expected '%s')", path,
                          fmt ? fmt : "", AXMUL_FORMAT);
    const char *name = axnn_st_meta(f, "name");
    if (!name || !name[0] || strlen(name) >= sizeof(((axnn_mul *)0)->name))
        return axnn_error(AXNN_ERR_FORMAT, "%s: missing or bad 'name' metadata", path);
    *t = axnn_st_find(f, "table");
    if (!*t || (*t)->dtype != AXNN_ST_I32 || (*t)->nd != 2 || (*t)->shape[0] != 256 ||
        (*t)->shape[1] != 256)
        return axnn_error(AXNN_ERR_FORMAT,
                          "%s: needs a tensor 'table' of dtype I32 and shape [256, 256]", path);
    return AXNN_OK;
}

axnn_status axnn_mul_load(const char *path, axnn_mul **out)
{
    *out = NULL;
    axnn_st_file *f;
    axnn_status st = axnn_st_read(path, &f);
    if (st) return st;
    const axnn_st_tensor *t = NULL;
    axnn_mul *m = NULL;
    st = check_file(f, path, &t);
    if (!st) {
        const char *src = axnn_st_meta(f, "source");
        st = axmul_new(axnn_st_meta(f, "name"), src ? src : path, &m);
    }
    if (!st) {
        memcpy(m->table, t->data, AXNN_MUL_ENTRIES * sizeof(int32_t));
        st = read_meta(f, path, m);
    }
    axnn_st_close(f);
    if (st) {
        axnn_mul_free(m);
        return st;
    }
    axnn_mul_compute_metrics(m->table, &m->metrics);
    *out = m;
    return AXNN_OK;
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

static axnn_status parse_bin(const char *path, const char *buf, size_t len, bool over, int32_t *t)
{
    if (over || len != RAW_BIN_BYTES)
        return axnn_error(AXNN_ERR_FORMAT,
                          "%s: a binary table must be exactly %d bytes (int16 little-endian "
                          "[256][256]), this one has %s%zu",
                          path, RAW_BIN_BYTES, over ? "more than " : "", len);
    const uint8_t *p = (const uint8_t *)buf;
    for (int i = 0; i < AXNN_MUL_ENTRIES; i++)
        t[i] = (int16_t)(uint16_t)(p[2 * i] | (p[2 * i + 1] << 8));
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

axnn_status axnn_mul_import_raw(const char *path, const char *name, axnn_mul **out)
{
    *out = NULL;
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
    snprintf(src, sizeof src, "raw table %s", base_name(path));
    axnn_mul *m;
    st = axmul_new(name, src, &m);
    if (!st)
        st = bin ? parse_bin(path, buf, len, over, m->table)
                 : parse_csv(path, buf, len, over, m->table);
    free(buf);
    if (st) {
        axnn_mul_free(m);
        return st;
    }
    axnn_mul_compute_metrics(m->table, &m->metrics);
    *out = m;
    return AXNN_OK;
}

static axnn_status export_bin(const axnn_mul *m, const char *path)
{
    uint8_t *b = malloc(RAW_BIN_BYTES);
    if (!b) return axnn_error(AXNN_ERR_NOMEM, "%s: out of memory", path);
    for (int i = 0; i < AXNN_MUL_ENTRIES; i++) {
        int32_t v = m->table[i];
        if (v < INT16_MIN || v > INT16_MAX) {
            free(b);
            return axnn_error(AXNN_ERR_ARG,
                              "%s: multiplier '%s' has value %d at (%d, %d), outside "
                              "int16: export it as .csv or .axmul",
                              path, m->name, (int)v, i / 256 - 128, i % 256 - 128);
        }
        b[2 * i] = (uint8_t)(v & 0xff);
        b[2 * i + 1] = (uint8_t)(((uint32_t)v >> 8) & 0xff);
    }
    axnn_status st = axnn_write_file_atomic(path, b, RAW_BIN_BYTES);
    free(b);
    return st;
}

static axnn_status export_csv(const axnn_mul *m, const char *path)
{
    size_t cap = (size_t)AXNN_MUL_ENTRIES * 12 + 16, n = 0;
    char *b = malloc(cap);
    if (!b) return axnn_error(AXNN_ERR_NOMEM, "%s: out of memory", path);
    for (int i = 0; i < AXNN_MUL_ENTRIES; i++)
        n +=
            (size_t)snprintf(b + n, cap - n, "%d%c", (int)m->table[i], i % 256 == 255 ? '\n' : ',');
    axnn_status st = axnn_write_file_atomic(path, b, n);
    free(b);
    return st;
}

axnn_status axnn_mul_export_raw(const axnn_mul *m, const char *path)
{
    const char *ext = extension(path);
    if (!strcmp(ext, ".bin")) return export_bin(m, path);
    if (!strcmp(ext, ".csv")) return export_csv(m, path);
    return axnn_error(AXNN_ERR_ARG, "%s: unknown raw table format (use .bin or .csv)", path);
}
