/* axnn eval: accuracy of a checkpoint (or a plain PyTorch export) on a test set.
 *
 * Flags are checked against each other and against the checkpoint before any data is read:
 * quantization conflicts (cli_quant_check), model flags that disagree with what a checkpoint
 * fixes, and normalization values that are not finite. The --json line is built with cJSON, so
 * it is valid JSON: a non-finite number becomes null and is listed under "nonfinite". */
#include "model_args.h"
#include "quant_args.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parses "a,b,c" (1 to 4 finite numbers; positive ones for std) into v; returns the count, or
 * -1 after printing an error naming the flag. */
static int parse_norm(const char *flag, const char *s, bool positive, float *v)
{
    int n = 0;
    const char *p = s;
    for (;;) {
        char *end;
        double x = strtod(p, &end);
        if (end == p || n == 4 || (*end && *end != ','))
            return cli_fail("--%s: expected 1 to 4 comma-separated numbers, got '%s'", flag, s), -1;
        if (!isfinite(x) || fabs(x) > 1e30)
            return cli_fail("--%s: '%.*s' is not a finite number", flag, (int)(end - p), p), -1;
        if (positive && !(x > 0)) return cli_fail("--%s: %g must be positive", flag, x), -1;
        v[n++] = (float)x;
        if (!*end) return n;
        p = end + 1;
    }
}

static bool close_to(float a, float b)
{
    return fabsf(a - b) <= 1e-6f * fmaxf(1.0f, fmaxf(fabsf(a), fabsf(b)));
}

static int check_norm(const char *path, const char *flag, const char *text, const float *have, int c)
{
    float v[4];
    int n = parse_norm(flag, text, !strcmp(flag, "std"), v);
    if (n < 0) return 1;
    if (n != c) return cli_fail("--%s: %d values for a model of %d input channels", flag, n, c);
    for (int i = 0; i < n; i++)
        if (!close_to(v[i], have[i]))
            return cli_fail("--%s %s disagrees with %s, which fixes %s = %g for channel %d", flag, text, path,
                            flag, (double)have[i], i);
    return 0;
}

/* Model flags next to a checkpoint that fixes them must agree with it. */
static int check_model_flags(const char *path, const cli_model_args *m, const axnn_graph *g,
                             const axnn_ckpt_meta *meta)
{
    const axnn_model_info *in = &g->info;
    if (m->arch && strcmp(m->arch, in->arch))
        return cli_fail("--arch %s disagrees with %s, a %s", m->arch, path, in->arch);
    if (m->classes && m->classes != in->num_classes)
        return cli_fail("--classes %d disagrees with %s, which has %d classes", m->classes, path, in->num_classes);
    if (m->in_channels && m->in_channels != in->in_channels)
        return cli_fail("--in-channels %d disagrees with %s, which has %d", m->in_channels, path, in->in_channels);
    if (m->size && (m->size != in->height || m->size != in->width))
        return cli_fail("--size %d disagrees with %s, whose input is %dx%d", m->size, path, in->height, in->width);
    if (m->mean && check_norm(path, "mean", m->mean, meta->pre.mean, in->in_channels)) return 1;
    if (m->std && check_norm(path, "std", m->std, meta->pre.std, in->in_channels)) return 1;
    return 0;
}

/* One JSON line; a non-finite accuracy or loss is null and named in "nonfinite". */
static void print_json(const axnn_graph *g, const char *data, const axnn_eval_result *r)
{
    cJSON *o = cJSON_CreateObject(), *bad = cJSON_CreateArray();
    cJSON_AddStringToObject(o, "model", g->info.arch);
    cJSON_AddStringToObject(o, "dataset", data);
    cJSON_AddNumberToObject(o, "images", (double)r->n);
    const struct {
        const char *key;
        double v;
    } nums[] = {{"accuracy", r->accuracy}, {"loss", r->loss}, {"seconds", r->seconds}};
    for (int i = 0; i < 3; i++) {
        if (isfinite(nums[i].v)) {
            cJSON_AddNumberToObject(o, nums[i].key, nums[i].v);
        } else {
            cJSON_AddNullToObject(o, nums[i].key);
            cJSON_AddItemToArray(bad, cJSON_CreateString(nums[i].key));
        }
    }
    if (cJSON_GetArraySize(bad))
        cJSON_AddItemToObject(o, "nonfinite", bad);
    else
        cJSON_Delete(bad);
    char *s = cJSON_PrintUnformatted(o);
    if (s) printf("%s\n", s);
    free(s);
    cJSON_Delete(o);
}

int cli_eval(int argc, char **argv)
{
    cli_model_args m = {0};
    const char *data = NULL, *data_dir = NULL;
    int batch = 256, threads = axnn_default_threads();
    bool json = false, train_split = false;
    cli_quant_args qa;
    cli_quant_defaults(&qa);
    cli_flag flags[32];
    int nf = cli_model_flags(&m, flags);
    nf += cli_quant_flags(&qa, flags + nf, true);
    flags[nf++] = (cli_flag){"data", FLAG_STR, &data, "NAME", "dataset (default: the checkpoint's)"};
    flags[nf++] = (cli_flag){"data-dir", FLAG_STR, &data_dir, "DIR", "dataset folder"};
    flags[nf++] = (cli_flag){"train-split", FLAG_BOOL, &train_split, NULL, "evaluate on the training split"};
    flags[nf++] = (cli_flag){"batch", FLAG_INT, &batch, "N", "batch size (default 256)", 1, 65536};
    flags[nf++] = (cli_flag){"threads", FLAG_INT, &threads, "N", "threads (default: all cores)", 1, 1024};
    flags[nf++] = (cli_flag){"json", FLAG_BOOL, &json, NULL, "print the result as JSON"};
    const char *pos[1];
    int npos;
    int rc = cli_parse("eval", "CHECKPOINT [options]", argc, argv, flags, nf, pos, 1, &npos);
    if (rc) return rc < 0 ? 0 : rc;
    if (npos != 1) return cli_fail("eval: give one checkpoint file (see 'axnn eval --help')");
    if (cli_quant_check(&qa, true)) return 1;
    float tmp[4];
    if (m.mean && parse_norm("mean", m.mean, false, tmp) < 0) return 1;
    if (m.std && parse_norm("std", m.std, true, tmp) < 0) return 1;

    axnn_graph *g;
    axnn_ckpt_meta meta;
    if ((rc = cli_open_model(pos[0], &m, &g, &meta))) return rc;
    if (check_model_flags(pos[0], &m, g, &meta)) {
        axnn_graph_free(g);
        return 1;
    }
    if (!data) data = meta.dataset[0] ? meta.dataset : "fashion-mnist";
    axnn_dataset d = {0};
    axnn_status st = axnn_dataset_load(data, data_dir, train_split, &d);
    if (!st && !meta.have_norm) {
        axnn_dataset tr = {0};
        st = axnn_dataset_load(data, data_dir, true, &tr);
        if (!st) {
            axnn_dataset_channel_stats(&tr, meta.pre.mean, meta.pre.std);
            axnn_log(AXNN_LOG_INFO, "no --mean/--std given: using %s training-set statistics", data);
        }
        axnn_dataset_free(&tr);
    }
    if (!st && (d.h > meta.pre.out_h || d.w > meta.pre.out_w))
        st = axnn_error(AXNN_ERR_SHAPE, "%s images are %dx%d, larger than the model input %dx%d", data, d.h, d.w,
                        meta.pre.out_h, meta.pre.out_w);
    axnn_pool *pool = st ? NULL : axnn_pool_create(threads, NULL);
    axnn_progress *prog = axnn_progress_new(stderr, 10.0);
    axnn_eval_result res = {0};
    if (!st && cli_quant_wanted(&qa)) {
        axnn_dataset cal = {0};
        st = axnn_dataset_load(data, data_dir, true, &cal);
        if (!st) rc = cli_quantize(g, pool, &qa, qa.int8 ? NULL : qa.mul, &cal, &meta.pre);
        axnn_dataset_free(&cal);
        if (rc) st = AXNN_ERR_ARG;
    }
    if (!st) st = axnn_evaluate(g, pool, &d, &meta.pre, batch, prog, &res);
    if (rc) {
    } else if (st) {
        rc = cli_fail_status(st);
    } else if (json) {
        print_json(g, data, &res);
    } else {
        printf("%s on %s (%s%s%s): accuracy %.2f%% on %lld images, loss %.4f, %.0f img/s\n", g->info.arch,
               data, train_split ? "train" : "test", cli_quant_wanted(&qa) ? ", " : "",
               cli_quant_wanted(&qa) ? (qa.int8 ? "int8" : qa.mul) : "", 100.0 * res.accuracy, (long long)res.n,
               res.loss, res.seconds > 0 ? (double)res.n / res.seconds : 0.0);
    }
    axnn_progress_free(prog);
    axnn_pool_destroy(pool);
    axnn_dataset_free(&d);
    axnn_graph_free(g);
    return rc;
}
