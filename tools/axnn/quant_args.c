/* Quantization flags shared by the subcommands that run approximate models. */
#include "quant_args.h"

#include <fnmatch.h>
#include <string.h>

void cli_quant_defaults(cli_quant_args *q)
{
    memset(q, 0, sizeof *q);
    q->method = "max";
    q->kernel = "auto";
    q->calib = 512;
    q->percentile = 99.99f;
}

int cli_quant_flags(cli_quant_args *q, cli_flag *f, bool with_mul)
{
    int n = 0;
    if (with_mul) {
        f[n++] = (cli_flag){"mul", FLAG_STR, &q->mul, "NAME", "approximate multiplier for every conv and linear layer ('axnn mul list')"};
        f[n++] = (cli_flag){"int8", FLAG_BOOL, &q->int8, NULL, "run exact int8 (no multiplier table)"};
    }
    f[n++] = (cli_flag){"mul-layers", FLAG_STR, &q->layers, "L,L", "only these layers use the multiplier (names, '*' globs)"};
    f[n++] = (cli_flag){"exact-layers", FLAG_STR, &q->exact_layers, "L,L", "these layers stay exact int8"};
    f[n++] = (cli_flag){"keep-first-last", FLAG_BOOL, &q->keep_first_last, NULL, "the first conv and last linear layer stay exact int8"};
    f[n++] = (cli_flag){"quant-attention", FLAG_BOOL, &q->attention, NULL, "ViT: also run the attention products Q*K^T and A*V in int8 / with the multiplier (layer names blocks.N.attn)"};
    f[n++] = (cli_flag){"calib", FLAG_INT, &q->calib, "N", "calibration images from the training split (default 512)", 1, 1e7};
    f[n++] = (cli_flag){"calib-method", FLAG_STR, &q->method, "M", "max, percentile or mse (default max)"};
    f[n++] = (cli_flag){"percentile", FLAG_FLOAT, &q->percentile, "P", "percentile for --calib-method percentile (default 99.99)", 1e-6, 100};
    f[n++] = (cli_flag){"kernel", FLAG_STR, &q->kernel, "K", "auto, ref, lut or decomp (default auto: the fastest correct one)"};
    return n;
}

int cli_split_muls(const char *list, char (*names)[128], int max)
{
    int n = 0;
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 0) return cli_fail("--mul: empty name in '%s'", list), -1;
        bool cont = *p >= '0' && *p <= '9';
        if (cont && n > 0) {
            size_t cur = strlen(names[n - 1]);
            if (cur + 1 + len >= 128) return cli_fail("--mul: name too long in '%s'", list), -1;
            snprintf(names[n - 1] + cur, 128 - cur, ",%.*s", (int)len, p);
        } else {
            if (n == max) return cli_fail("--mul: more than %d multipliers", max), -1;
            if (len >= 128) return cli_fail("--mul: name too long in '%s'", list), -1;
            snprintf(names[n++], 128, "%.*s", (int)len, p);
        }
        p = e ? e + 1 : p + len;
    }
    return n;
}

bool cli_quant_wanted(const cli_quant_args *q) { return q->mul || q->int8; }

/* Whether a comma-separated list holds at least one non-empty name. */
static bool has_name(const char *list)
{
    for (const char *p = list; p && *p; p++)
        if (*p != ',' && *p != ' ') return true;
    return false;
}

static bool is_glob(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '*' || s[i] == '?' || s[i] == '[') return true;
    return false;
}

/* Whether some entry (name or glob) of list matches the name s[0, n). */
static bool list_matches(const char *list, const char *s, size_t n)
{
    char name[256], buf[1024];
    if (n >= sizeof name || strlen(list) >= sizeof buf) return false;
    snprintf(name, sizeof name, "%.*s", (int)n, s);
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        if (!fnmatch(tok, name, 0)) return true;
    return false;
}

/* A layer named (not by a glob) in --mul-layers that --exact-layers also selects. */
static int both_lists(const char *layers, const char *exact)
{
    if (!layers || !exact) return 0;
    for (const char *p = layers; *p;) {
        size_t n = strcspn(p, ",");
        if (n && !is_glob(p, n) && list_matches(exact, p, n))
            return cli_fail("--mul-layers and --exact-layers both select layer '%.*s'", (int)n, p);
        p += n;
        if (*p == ',') p++;
    }
    return 0;
}

int cli_quant_check(const cli_quant_args *q, bool with_mul)
{
    if (with_mul && q->int8 && q->mul)
        return cli_fail("--int8 and --mul %s conflict: --int8 runs exact int8 without a multiplier; give one", q->mul);
    const char *sel = q->layers ? "--mul-layers" : q->exact_layers ? "--exact-layers" : q->keep_first_last ? "--keep-first-last" : NULL;
    if (with_mul && sel && !q->mul)
        return cli_fail("%s has no effect without --mul%s", sel, q->int8 ? " (--int8 keeps every layer exact)" : "");
    if (q->layers && !has_name(q->layers))
        return cli_fail("--mul-layers '%s' selects no layer, so --mul %s would approximate nothing", q->layers,
                        q->mul ? q->mul : "");
    if (q->exact_layers && !has_name(q->exact_layers))
        return cli_fail("--exact-layers '%s' names no layer", q->exact_layers);
    return both_lists(q->layers, q->exact_layers);
}

int cli_quant_cfg(const cli_quant_args *q, const char *mul, axnn_quant_cfg *cfg, axnn_calib_method *m)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->mul = mul;
    cfg->layers = q->layers;
    cfg->exact_layers = q->exact_layers;
    cfg->keep_first_last = q->keep_first_last;
    cfg->count_attention = q->attention;
    if (!strcmp(q->kernel, "auto")) cfg->kernel = AXNN_QK_AUTO;
    else if (!strcmp(q->kernel, "ref")) cfg->kernel = AXNN_QK_REF;
    else if (!strcmp(q->kernel, "lut")) cfg->kernel = AXNN_QK_LUT;
    else if (!strcmp(q->kernel, "decomp")) cfg->kernel = AXNN_QK_DECOMP;
    else return cli_fail("--kernel: expected auto, ref, lut or decomp, got '%s'", q->kernel);
    bool ok;
    *m = axnn_calib_parse(q->method, &ok);
    if (!ok) return cli_fail("--calib-method: expected max, percentile or mse, got '%s'", q->method);
    return 0;
}

int cli_quantize(axnn_graph *g, axnn_pool *pool, const cli_quant_args *q, const char *mul,
                 const axnn_dataset *calib_set, const axnn_preproc *pp)
{
    axnn_quant_cfg cfg;
    axnn_calib_method m;
    int rc = cli_quant_cfg(q, mul, &cfg, &m);
    if (rc) return rc;
    axnn_status st = axnn_quant_attach(g, &cfg);
    if (st) { /* the library names the layer lists by what they are; the CLI by their flags */
        const char *e = axnn_last_error();
        if (!strncmp(e, "approximated layers: ", 21)) return cli_fail("--mul-layers: %s", e + 21);
        if (!strncmp(e, "exact layers: ", 14)) return cli_fail("--exact-layers: %s", e + 14);
        return cli_fail_status(st);
    }
    st = axnn_quant_calibrate(g, pool, calib_set, pp, q->calib, m, q->percentile);
    if (st && strstr(axnn_last_error(), "calibration needs at least")) return cli_fail("--calib: %s", axnn_last_error());
    return st ? cli_fail_status(st) : 0;
}
