/* Flag parsing for the subcommands. Every value is checked: an unknown flag, a missing value, a
 * number that does not parse or is out of range each give a one-line error naming the flag. */
#include "cli.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("axnn: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

int cli_fail_status(axnn_status s)
{
    const char *m = axnn_last_error();
    return cli_fail("%s", m[0] ? m : axnn_status_str(s));
}

static void print_help(const char *cmd, const char *synopsis, const cli_flag *flags, int n)
{
    printf("usage: axnn %s %s\n\noptions:\n", cmd, synopsis ? synopsis : "[options]");
    for (int i = 0; i < n; i++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", flags[i].name, flags[i].type == FLAG_BOOL ? "" : " ",
                 flags[i].type == FLAG_BOOL ? "" : (flags[i].meta ? flags[i].meta : "X"));
        printf("  %-26s %s\n", left, flags[i].help);
    }
    printf("  %-26s %s\n", "--help", "show this help");
}

static int set_value(cli_flag *f, const char *v)
{
    char *end = NULL;
    errno = 0;
    switch (f->type) {
    case FLAG_STR:
        *(const char **)f->dst = v;
        return 0;
    case FLAG_BOOL:
        if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes")) *(bool *)f->dst = true;
        else if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no")) *(bool *)f->dst = false;
        else return cli_fail("--%s: expected true or false, got '%s'", f->name, v) + 1;
        return 0;
    case FLAG_INT: {
        long x = strtol(v, &end, 10);
        if (errno || end == v || *end || x < -2147483647L || x > 2147483647L)
            return cli_fail("--%s: '%s' is not an integer", f->name, v) + 1;
        if (f->min < f->max && (x < f->min || x > f->max))
            return cli_fail("--%s: %ld is out of range [%g, %g]", f->name, x, f->min, f->max) + 1;
        *(int *)f->dst = (int)x;
        return 0;
    }
    case FLAG_U64: {
        if (v[0] == '-') return cli_fail("--%s: '%s' is not a non-negative integer", f->name, v) + 1;
        unsigned long long x = strtoull(v, &end, 10);
        if (errno || end == v || *end) return cli_fail("--%s: '%s' is not a non-negative integer", f->name, v) + 1;
        *(uint64_t *)f->dst = x;
        return 0;
    }
    case FLAG_FLOAT: {
        double x = strtod(v, &end);
        if (errno || end == v || *end || !isfinite(x))
            return cli_fail("--%s: '%s' is not a number", f->name, v) + 1;
        if (f->min < f->max && (x < f->min || x > f->max))
            return cli_fail("--%s: %g is out of range [%g, %g]", f->name, x, f->min, f->max) + 1;
        if (fabs(x) > FLT_MAX) /* would become an infinity as a float */
            return cli_fail("--%s: %g is beyond the float range", f->name, x) + 1;
        *(float *)f->dst = (float)x;
        return 0;
    }
    }
    return 2;
}

int cli_parse(const char *cmd, const char *synopsis, int argc, char **argv, cli_flag *flags,
              int nflags, const char **pos, int max_pos, int *npos)
{
    *npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            print_help(cmd, synopsis, flags, nflags);
            return -1;
        }
        if (strncmp(a, "--", 2) != 0 || a[2] == 0) {
            if (*npos >= max_pos) {
                cli_fail("%s: unexpected argument '%s'", cmd, a);
                return 2;
            }
            pos[(*npos)++] = a;
            continue;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        cli_flag *f = NULL;
        for (int k = 0; k < nflags; k++)
            if (strlen(flags[k].name) == len && !strncmp(flags[k].name, name, len)) f = &flags[k];
        if (!f) {
            cli_fail("%s: unknown option '--%.*s' (see 'axnn %s --help')", cmd, (int)len, name, cmd);
            return 2;
        }
        const char *v = eq ? eq + 1 : NULL;
        if (!v && f->type == FLAG_BOOL) {
            *(bool *)f->dst = true;
            f->seen = true;
            continue;
        }
        if (!v) {
            if (i + 1 >= argc) {
                cli_fail("%s: option '--%s' needs a value", cmd, f->name);
                return 2;
            }
            v = argv[++i];
        }
        if (set_value(f, v)) return 2;
        f->seen = true;
    }
    return 0;
}

bool cli_flag_seen(const cli_flag *flags, int nflags, const char *name)
{
    for (int i = 0; i < nflags; i++)
        if (!strcmp(flags[i].name, name)) return flags[i].seen;
    return false;
}

/* Value of a flag as text (for saving a configuration). */
static void flag_text(const cli_flag *f, char *buf, size_t n)
{
    switch (f->type) {
    case FLAG_STR: snprintf(buf, n, "%s", *(const char **)f->dst ? *(const char **)f->dst : ""); break;
    case FLAG_INT: snprintf(buf, n, "%d", *(int *)f->dst); break;
    case FLAG_FLOAT: snprintf(buf, n, "%.9g", *(float *)f->dst); break;
    case FLAG_BOOL: snprintf(buf, n, "%s", *(bool *)f->dst ? "true" : "false"); break;
    case FLAG_U64: snprintf(buf, n, "%llu", (unsigned long long)*(uint64_t *)f->dst); break;
    }
}

static bool listed(const char *name, const char *const *list)
{
    for (int k = 0; list && list[k]; k++)
        if (!strcmp(list[k], name)) return true;
    return false;
}

char *cli_flags_to_json(const cli_flag *flags, int n, const char *const *skip)
{
    cJSON *o = cJSON_CreateObject();
    char buf[1024];
    for (int i = 0; i < n; i++) {
        if (listed(flags[i].name, skip)) continue;
        flag_text(&flags[i], buf, sizeof buf);
        cJSON_AddStringToObject(o, flags[i].name, buf);
    }
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* Strings taken from a saved configuration live until exit (flags point at them). */
static char **kept;
static int nkept;

static void free_kept(void)
{
    for (int i = 0; i < nkept; i++) free(kept[i]);
    free(kept);
    kept = NULL;
    nkept = 0;
}

void cli_flags_free_saved(void)
{
    free_kept();
}

static void keep_string(char *s)
{
    static bool registered;
    char **k = realloc(kept, (size_t)(nkept + 1) * sizeof *k);
    if (!k) return;
    if (!registered) atexit(free_kept);
    registered = true;
    kept = k;
    kept[nkept++] = s;
}

int cli_flags_apply_json(cli_flag *flags, int n, const char *json, const char *const *keep)
{
    cJSON *o = cJSON_Parse(json);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return cli_fail("saved training configuration (checkpoint metadata 'train') is not a JSON object");
    }
    for (int i = 0; i < n; i++) {
        bool skip = flags[i].seen || listed(flags[i].name, keep);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, flags[i].name);
        if (skip || !cJSON_IsString(v)) continue;
        /* string flags must outlive the JSON object */
        char *copy = strdup(v->valuestring);
        if (!copy || set_value(&flags[i], copy)) {
            if (!copy) cli_fail("out of memory reading the saved training configuration");
            free(copy);
            cJSON_Delete(o);
            return 1;
        }
        if (flags[i].type != FLAG_STR)
            free(copy);
        else
            keep_string(copy);
    }
    cJSON_Delete(o);
    return 0;
}
