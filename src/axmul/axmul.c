/* Multiplier objects, name resolution and the user multiplier directory.
 *
 * A name is looked up in a fixed order (documented in axnn/axmul.h): built-ins first (they are
 * computed, never stored), then NAME.axmul in the multiplier directory, then a path to a .axmul
 * file. Stored names are restricted to a portable character set and may not shadow a built-in,
 * so the order never makes an imported multiplier unreachable.
 */
#define _GNU_SOURCE
#include "axmul_impl.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

axnn_status axmul_new(const char *name, const char *source, axnn_mul **out)
{
    *out = NULL;
    axnn_mul *m = calloc(1, sizeof *m);
    int32_t *t = m ? axnn_calloc(AXNN_MUL_ENTRIES * sizeof *t) : NULL;
    if (!t) {
        free(m);
        return axnn_error(AXNN_ERR_NOMEM, "out of memory for multiplier '%s'", name);
    }
    snprintf(m->name, sizeof m->name, "%s", name);
    snprintf(m->source, sizeof m->source, "%s", source);
    m->power_mw = m->area_um2 = m->delay_ns = -1.0;
    axmul_metrics_nan(&m->claimed);
    axmul_metrics_nan(&m->claimed_unit);
    m->table = t;
    *out = m;
    return AXNN_OK;
}

void axnn_mul_free(axnn_mul *m)
{
    if (!m) return;
    axnn_free(m->table);
    axnn_free(m->utable);
    free(m);
}

axnn_status axmul_make_unsigned(axnn_mul *m)
{
    if (!m->utable) m->utable = axnn_calloc(AXNN_MUL_ENTRIES * sizeof *m->utable);
    return m->utable ? AXNN_OK
                     : axnn_error(AXNN_ERR_NOMEM, "out of memory for multiplier '%s'", m->name);
}

void axmul_finish(axnn_mul *m)
{
    if (!m->utable) {
        axnn_mul_compute_metrics(m->table, &m->metrics);
        return;
    }
    for (int a = -128; a < 128; a++)
        for (int b = -128; b < 128; b++) {
            int64_t p = m->utable[abs(a) * 256 + abs(b)];
            m->table[AXMUL_IDX(a, b)] = (int32_t)((a < 0) != (b < 0) ? -p : p);
        }
    axnn_mul_compute_metrics_unsigned(m->utable, &m->metrics);
}

axnn_status axnn_mul_from_unsigned(const char *name, const char *source, const int32_t *utable,
                                   axnn_mul **out)
{
    axnn_status st = axmul_new(name, source, out);
    if (!st) st = axmul_make_unsigned(*out);
    if (st) {
        axnn_mul_free(*out);
        *out = NULL;
        return st;
    }
    memcpy((*out)->utable, utable, AXNN_MUL_ENTRIES * sizeof *utable);
    axmul_finish(*out);
    return AXNN_OK;
}

axnn_status axnn_mul_from_table(const char *name, const char *source, const int32_t *table,
                                axnn_mul **out)
{
    axnn_status st = axmul_new(name, source, out);
    if (st) return st;
    memcpy((*out)->table, table, AXNN_MUL_ENTRIES * sizeof *table);
    axnn_mul_compute_metrics((*out)->table, &(*out)->metrics);
    return AXNN_OK;
}

bool axnn_mul_is_exact(const axnn_mul *m)
{
    for (int a = -128; a < 128; a++)
        for (int b = -128; b < 128; b++)
            if (m->table[AXMUL_IDX(a, b)] != a * b) return false;
    return true;
}

/* ---------------------------------------------------------------- directory ---- */

const char *axnn_mul_dir(void)
{
    static char buf[4096];
    const char *p = getenv("AXNN_MUL_PATH"), *x = getenv("XDG_DATA_HOME"), *h = getenv("HOME");
    if (p && p[0])
        snprintf(buf, sizeof buf, "%s", p);
    else if (x && x[0])
        snprintf(buf, sizeof buf, "%s/axnn/multipliers", x);
    else
        snprintf(buf, sizeof buf, "%s/.local/share/axnn/multipliers", h && h[0] ? h : ".");
    return buf;
}

bool axmul_store_path(const char *name, char *buf, size_t n)
{
    return (size_t)snprintf(buf, n, "%s/%s.axmul", axnn_mul_dir(), name) < n;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

bool axnn_mul_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 100 || name[0] == '.' || ends_with(name, ".axmul")) return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '+' || c == '-';
        if (!ok) return false;
    }
    return !axmul_is_builtin_name(name);
}

/* mkdir -p */
static axnn_status make_dirs(const char *dir)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
        return axnn_error(AXNN_ERR_IO, "multiplier directory path too long: %s", dir);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != 0) continue;
        char c = *p;
        *p = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return axnn_error(AXNN_ERR_IO, "cannot create multiplier directory %s: %s", buf,
                              strerror(errno));
        *p = c;
        if (!c) break;
    }
    return AXNN_OK;
}

axnn_status axnn_mul_store(const axnn_mul *m, char *path, size_t path_size)
{
    if (!axnn_mul_name_ok(m->name))
        return axnn_error(AXNN_ERR_ARG,
                          "cannot store multiplier '%s': names are 1-100 characters of "
                          "[A-Za-z0-9_.+-], not a built-in name",
                          m->name);
    char p[4200];
    if (!axmul_store_path(m->name, p, sizeof p))
        return axnn_error(AXNN_ERR_IO, "multiplier directory path too long: %s", axnn_mul_dir());
    axnn_status st = make_dirs(axnn_mul_dir());
    if (!st) st = axnn_mul_save(m, p);
    if (!st && path) snprintf(path, path_size, "%s", p);
    return st;
}

/* ---------------------------------------------------------------- lookup ---- */

static bool file_exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

bool axnn_mul_stored(const char *name, char *path, size_t path_size)
{
    char p[4200];
    if (!axnn_mul_name_ok(name) || !axmul_store_path(name, p, sizeof p) || !file_exists(p))
        return false;
    if (path) snprintf(path, path_size, "%s", p);
    return true;
}

static axnn_status unknown_name(const char *name)
{
    if (ends_with(name, ".c"))
        return axnn_error(AXNN_ERR_ARG,
                          "'%s' is a C file, not a multiplier: import it first with 'axnn mul "
                          "import %s'",
                          name, name);
    return axnn_error(AXNN_ERR_ARG,
                      "unknown multiplier '%s': import its EvoApproxLib C file with 'axnn mul "
                      "import %s.c' (or see 'axnn mul list' for built-ins and imported ones)",
                      name, name);
}

axnn_status axnn_mul_get(const char *name, axnn_mul **out)
{
    *out = NULL;
    if (!name || !name[0]) return axnn_error(AXNN_ERR_ARG, "empty multiplier name");
    axnn_status st = axmul_builtin(name, out);
    if (st != AXNN_ERR_UNSUPPORTED) return st;
    char p[4200];
    if (axnn_mul_name_ok(name) && axmul_store_path(name, p, sizeof p) && file_exists(p))
        return axnn_mul_load(p, out);
    if (ends_with(name, ".c")) return unknown_name(name);
    if (strchr(name, '/') || ends_with(name, ".axmul")) {
        if (!file_exists(name)) return axnn_error(AXNN_ERR_IO, "%s: no such multiplier file", name);
        return axnn_mul_load(name, out);
    }
    return unknown_name(name);
}

/* ---------------------------------------------------------------- listing ---- */

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends strdup(s) to the NULL-terminated list *v (capacity *cap). */
static bool push(char ***v, int *n, int *cap, const char *s, size_t len)
{
    if (*n + 2 > *cap) {
        int c = *cap ? *cap * 2 : 16;
        char **nv = realloc(*v, c * sizeof *nv);
        if (!nv) return false;
        *v = nv;
        *cap = c;
    }
    char *d = strndup(s, len);
    if (!d) return false;
    (*v)[(*n)++] = d;
    (*v)[*n] = NULL;
    return true;
}

static bool list_dir(char ***v, int *n, int *cap)
{
    DIR *d = opendir(axnn_mul_dir());
    if (!d) return true;
    int first = *n;
    bool ok = true;
    struct dirent *e;
    while (ok && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len <= 6 || !ends_with(e->d_name, ".axmul")) continue;
        char nm[256];
        snprintf(nm, sizeof nm, "%.*s", (int)(len - 6), e->d_name);
        if (axnn_mul_name_ok(nm)) ok = push(v, n, cap, nm, strlen(nm));
    }
    closedir(d);
    qsort(*v + first, *n - first, sizeof **v, str_cmp);
    return ok;
}

char **axnn_mul_list(void)
{
    static const char *fixed[] = {"exact", "mitchell", "udm"};
    char **v = NULL;
    int n = 0, cap = 0;
    bool ok = true;
    for (size_t i = 0; ok && i < sizeof fixed / sizeof fixed[0]; i++)
        ok = push(&v, &n, &cap, fixed[i], strlen(fixed[i]));
    if (ok) ok = list_dir(&v, &n, &cap);
    if (!ok) {
        axnn_mul_names_free(v);
        return NULL;
    }
    return v;
}

void axnn_mul_names_free(char **names)
{
    if (!names) return;
    for (char **p = names; *p; p++) free(*p);
    free(names);
}
