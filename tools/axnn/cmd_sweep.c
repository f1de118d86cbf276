/* axnn sweep: accuracy of one model under each of several multipliers (plus float and exact
 * int8 references), written as Markdown, CSV and JSON, and plotted against the relative power
 * of the network's multiplications.
 *
 * Relative power: with f_apx the fraction of MACs done on the approximate multiplier,
 *   P_rel = f_apx * P_mul / P_exact + (1 - f_apx).
 * P_mul and P_exact are PDK45 figures for imported EvoApproxLib circuits and documented
 * estimates for the built-in families (marked "est." in the report). */
#include "model_args.h"
#include "quant_args.h"

#include "axnn/report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sweep_row {
    char name[128];
    double acc, mae_pct, wce_pct, ep_pct, power, prel, fapx;
    bool power_est, power_known;
    char kernel[64];
} sweep_row;

typedef struct sweep_ctx {
    axnn_graph *g;
    axnn_pool *pool;
    const axnn_dataset *test;
    const axnn_preproc *pp;
    int batch;
    double p_exact;
} sweep_ctx;

/* The kernel of the quantized layer with the most MACs (on the multiplier when approx), read
 * after a forward pass: automatic choices are made at the first one. */
static void main_kernel(const axnn_graph *g, bool approx, char *out, size_t size)
{
    int64_t most = -1;
    snprintf(out, size, "-");
    for (int k = 0; k < g->nnodes; k++) {
        axnn_qnode_info qi; /* qi.kernel lives in a buffer that the next call reuses */
        if (axnn_quant_node_info(g, k, &qi) && (!approx || qi.mode == AXNN_NUM_TABLE) && qi.macs > most) {
            most = qi.macs;
            snprintf(out, size, "%s", qi.kernel);
        }
    }
}

static int run_one(sweep_ctx *c, const cli_quant_args *qa, const char *mul, sweep_row *r)
{
    axnn_quant_cfg cfg;
    axnn_calib_method m;
    int rc = cli_quant_cfg(qa, mul, &cfg, &m);
    if (rc) return rc;
    axnn_status st = axnn_quant_reattach(c->g, &cfg);
    axnn_mul *mm = NULL;
    if (!st) st = axnn_mul_get(mul, &mm);
    axnn_eval_result ev;
    if (!st) st = axnn_evaluate(c->g, c->pool, c->test, c->pp, c->batch, NULL, &ev);
    if (st) {
        axnn_mul_free(mm);
        return cli_fail_status(st);
    }
    int64_t am, tm;
    axnn_quant_mac_split(c->g, &am, &tm);
    snprintf(r->name, sizeof r->name, "%s", mul);
    main_kernel(c->g, !axnn_mul_is_exact(mm), r->kernel, sizeof r->kernel);
    r->acc = ev.accuracy;
    r->mae_pct = mm->metrics.mae_pct;
    r->wce_pct = mm->metrics.wce_pct;
    r->ep_pct = mm->metrics.ep_pct;
    r->power = mm->power_mw;
    r->power_known = mm->power_mw > 0 && c->p_exact > 0;
    r->power_est = mm->power_estimated;
    r->fapx = tm ? (double)am / (double)tm : 0.0;
    r->prel = r->power_known ? r->fapx * mm->power_mw / c->p_exact + (1.0 - r->fapx) : -1;
    axnn_mul_free(mm);
    char prel[32];
    snprintf(prel, sizeof prel, r->power_known ? "%.3f%s" : "unknown", r->prel, r->power_est ? " (est.)" : "");
    axnn_log(AXNN_LOG_INFO, "%-24s accuracy %.2f%%  MAE%% %.4f  P_rel %s", r->name, 100 * r->acc, r->mae_pct, prel);
    return 0;
}

static void json_row(FILE *j, const sweep_row *r, axnn_json_nonfinite *nf)
{
    fprintf(j, "{\"multiplier\": ");
    axnn_json_string(j, r->name);
    fprintf(j, ", \"accuracy\": ");
    axnn_json_number(j, "%.6f", r->acc, nf, "accuracy");
    fprintf(j, ", \"mae_pct\": ");
    axnn_json_number(j, "%.6f", r->mae_pct, nf, "mae_pct");
    fprintf(j, ", \"wce_pct\": ");
    axnn_json_number(j, "%.6f", r->wce_pct, nf, "wce_pct");
    fprintf(j, ", \"ep_pct\": ");
    axnn_json_number(j, "%.4f", r->ep_pct, nf, "ep_pct");
    fprintf(j, ", \"power_mw\": ");
    axnn_json_number(j, "%.4f", r->power, nf, "power_mw");
    fprintf(j, ", \"power_estimated\": %s, \"f_apx\": ", r->power_est ? "true" : "false");
    axnn_json_number(j, "%.6f", r->fapx, nf, "f_apx");
    fprintf(j, ", \"p_rel\": ");
    axnn_json_number(j, "%.6f", r->prel, nf, "p_rel");
    fprintf(j, ", \"kernel\": ");
    axnn_json_string(j, r->kernel);
    fprintf(j, "}");
}

/* sweep.md (also printed), sweep.csv and sweep.json, each written atomically; 1 on failure. */
static int write_tables(const char *dir, const sweep_row *rows, int n, double acc_f32, double acc_int8,
                        const char *arch, const char *data)
{
    char path[4200];
    char *md = NULL, *csv = NULL, *js = NULL;
    size_t mdn, csvn, jsn;
    FILE *f = open_memstream(&md, &mdn), *c = open_memstream(&csv, &csvn), *j = open_memstream(&js, &jsn);
    if (!f || !c || !j) {
        if (f) fclose(f);
        if (c) fclose(c);
        if (j) fclose(j);
        free(md);
        free(csv);
        free(js);
        return cli_fail("%s: out of memory", dir);
    }
    axnn_json_nonfinite nf = {0};
    fprintf(f, "# Multiplier sweep: %s on %s\n\nfloat32: %.2f%%, exact int8: %.2f%%\n\n", arch, data, 100 * acc_f32,
            100 * acc_int8);
    fprintf(f, "| multiplier | accuracy %% | drop vs int8 | MAE %% | WCE %% | EP %% | power mW | f_apx | P_rel | kernel (largest layer) |\n");
    fprintf(f, "|---|---|---|---|---|---|---|---|---|---|\n");
    fprintf(c, "multiplier,accuracy,mae_pct,wce_pct,ep_pct,power_mw,power_estimated,f_apx,p_rel,kernel\n");
    fprintf(j, "{\"arch\": ");
    axnn_json_string(j, arch);
    fprintf(j, ", \"dataset\": ");
    axnn_json_string(j, data);
    fprintf(j, ", \"float32_accuracy\": ");
    axnn_json_number(j, "%.6f", acc_f32, &nf, "float32_accuracy");
    fprintf(j, ", \"int8_accuracy\": ");
    axnn_json_number(j, "%.6f", acc_int8, &nf, "int8_accuracy");
    fprintf(j, ", \"rows\": [");
    nf.array = "rows";
    for (int i = 0; i < n; i++) {
        const sweep_row *r = &rows[i];
        fprintf(f, "| %s | %.2f | %+.2f | %.4f | %.4f | %.2f | %s%.3f | %.3f | %.3f | %s |\n", r->name, 100 * r->acc,
                100 * (r->acc - acc_int8), r->mae_pct, r->wce_pct, r->ep_pct, r->power_est ? "est. " : "", r->power,
                r->fapx, r->prel, r->kernel);
        fprintf(c, "%s,%.6f,%.6f,%.6f,%.4f,%.4f,%d,%.6f,%.6f,%s\n", r->name, r->acc, r->mae_pct, r->wce_pct, r->ep_pct,
                r->power, r->power_est, r->fapx, r->prel, r->kernel);
        nf.row = i;
        fprintf(j, "%s", i ? ", " : "");
        json_row(j, r, &nf);
    }
    fprintf(f, "\nP_rel = f_apx * P_mul / P_exact + (1 - f_apx): power of the multiplications relative to exact; "
               "\"est.\" marks estimated power (built-in families, see `axnn mul show`).\n");
    fprintf(j, "]");
    snprintf(path, sizeof path, "%s/sweep.json", dir);
    axnn_json_flag_nonfinite(j, &nf, path);
    fprintf(j, "}\n");
    bool ok = !fclose(f) & !fclose(c) & !fclose(j) && md && csv && js;
    axnn_status st = ok ? AXNN_OK : axnn_error(AXNN_ERR_NOMEM, "%s: out of memory", dir);
    snprintf(path, sizeof path, "%s/sweep.md", dir);
    if (!st) st = axnn_write_file_atomic(path, md, mdn);
    snprintf(path, sizeof path, "%s/sweep.csv", dir);
    if (!st) st = axnn_write_file_atomic(path, csv, csvn);
    snprintf(path, sizeof path, "%s/sweep.json", dir);
    if (!st) st = axnn_write_file_atomic(path, js, jsn);
    if (!st) fputs(md, stdout);
    free(md);
    free(csv);
    free(js);
    return st ? cli_fail_status(st) : 0;
}

static int plot(const char *dir, const sweep_row *rows, int n, const char *arch)
{
    double x[256], y[256];
    const char *labels[256];
    bool use_power = true;
    for (int i = 0; i < n; i++) use_power = use_power && rows[i].power_known;
    for (int i = 0; i < n && i < 256; i++) {
        x[i] = use_power ? rows[i].prel : rows[i].mae_pct;
        y[i] = 100 * rows[i].acc;
        labels[i] = rows[i].name;
    }
    char path[4200], title[256];
    snprintf(path, sizeof path, "%s/sweep.png", dir);
    snprintf(title, sizeof title, "%s: accuracy against %s", arch,
             use_power ? "relative power of the multiplications" : "mean absolute error of the multiplier");
    int front[256];
    int nf = axnn_pareto_front(x, y, n < 256 ? n : 256, front);
    double fx[256], fy[256];
    for (int i = 0; i < nf; i++) {
        fx[i] = x[front[i]];
        fy[i] = y[front[i]];
    }
    axnn_series s[2] = {{"multipliers", x, y, labels, n, false}, {"Pareto front", fx, fy, NULL, nf, true}};
    axnn_plot p = {path, title, use_power ? "P_rel (exact = 1)" : "MAE %", "top-1 accuracy %", false, s, 2};
    axnn_status st = axnn_plot_render(&p);
    return st ? cli_fail_status(st) : 0;
}

int cli_sweep(int argc, char **argv)
{
    cli_model_args m = {0};
    cli_quant_args qa;
    cli_quant_defaults(&qa);
    const char *data = NULL, *data_dir = NULL, *muls = NULL, *out = NULL;
    int batch = 256, threads = axnn_default_threads();
    cli_flag flags[32];
    int nf = cli_model_flags(&m, flags);
    nf += cli_quant_flags(&qa, flags + nf, false);
    flags[nf++] = (cli_flag){"mul", FLAG_STR, &muls, "A,B,...", "multipliers to compare (required)"};
    flags[nf++] = (cli_flag){"data", FLAG_STR, &data, "NAME", "dataset (default: the checkpoint's)"};
    flags[nf++] = (cli_flag){"data-dir", FLAG_STR, &data_dir, "DIR", "dataset folder"};
    flags[nf++] = (cli_flag){"out", FLAG_STR, &out, "DIR", "output folder (default runs/sweep-<arch>)"};
    flags[nf++] = (cli_flag){"batch", FLAG_INT, &batch, "N", "batch size (default 256)", 1, 65536};
    flags[nf++] = (cli_flag){"threads", FLAG_INT, &threads, "N", "threads (default: all cores)", 1, 1024};
    const char *pos[1];
    int npos;
    int rc = cli_parse("sweep", "CHECKPOINT --mul A,B,... [options]", argc, argv, flags, nf, pos, 1, &npos);
    if (rc) return rc < 0 ? 0 : rc;
    if (npos != 1) return cli_fail("sweep: give one checkpoint file (see 'axnn sweep --help')");
    if (!muls || !*muls) return cli_fail("sweep: --mul A,B,... is required");
    char names[64][128];
    int nm = cli_split_muls(muls, names, 64);
    if (nm < 0) return 1;
    for (int i = 0; i < nm; i++)
        for (int k = 0; k < i; k++)
            if (!strcmp(names[i], names[k])) return cli_fail("--mul: '%s' is given twice", names[i]);
    for (int i = 0; i < nm; i++) { /* fail early on an unknown multiplier */
        axnn_mul *mm;
        axnn_status st = axnn_mul_get(names[i], &mm);
        if (st) return cli_fail_status(st);
        axnn_mul_free(mm);
    }

    axnn_graph *g;
    axnn_ckpt_meta meta;
    if ((rc = cli_open_model(pos[0], &m, &g, &meta))) return rc;
    if (!data) data = meta.dataset[0] ? meta.dataset : "fashion-mnist";
    char outbuf[512];
    if (!out) {
        snprintf(outbuf, sizeof outbuf, "runs/sweep-%s", g->info.arch);
        out = outbuf;
    }
    static const char *const outputs[] = {"sweep.md", "sweep.csv", "sweep.json", "sweep.png", NULL};
    axnn_status st = axnn_output_dir(out); /* before any work */
    if (!st) st = axnn_output_files(out, outputs);
    if (st) {
        axnn_graph_free(g);
        return cli_fail_status(st);
    }
    axnn_dataset te = {0}, tr = {0};
    st = axnn_dataset_load(data, data_dir, false, &te);
    if (!st) st = axnn_dataset_load(data, data_dir, true, &tr);
    if (!st && !meta.have_norm) axnn_dataset_channel_stats(&tr, meta.pre.mean, meta.pre.std);
    axnn_pool *pool = axnn_pool_create(threads, NULL);
    sweep_row rows[64];
    double acc_f32 = 0, acc_int8 = 0;
    axnn_eval_result ev;
    if (!st) st = axnn_evaluate(g, pool, &te, &meta.pre, batch, NULL, &ev);
    acc_f32 = ev.accuracy;
    if (!st && (rc = cli_quantize(g, pool, &qa, NULL, &tr, &meta.pre))) st = AXNN_ERR_ARG;
    if (!st) st = axnn_evaluate(g, pool, &te, &meta.pre, batch, NULL, &ev);
    acc_int8 = ev.accuracy;
    axnn_mul *ex = NULL;
    sweep_ctx c = {g, pool, &te, &meta.pre, batch, 0};
    if (!st && !axnn_mul_get("exact", &ex)) c.p_exact = ex->power_mw;
    axnn_mul_free(ex);
    if (!st) axnn_log(AXNN_LOG_INFO, "float32 %.2f%%, exact int8 %.2f%%", 100 * acc_f32, 100 * acc_int8);
    axnn_progress *prog = axnn_progress_new(stderr, 10.0);
    axnn_progress_begin(prog, "sweep", nm, "mul");
    for (int i = 0; i < nm && !st && !rc; i++) {
        rc = run_one(&c, &qa, names[i], &rows[i]);
        axnn_progress_update(prog, i + 1, names[i]);
    }
    axnn_progress_end(prog, NULL);
    if (st && !rc) rc = cli_fail_status(st);
    if (!rc) {
        rc = write_tables(out, rows, nm, acc_f32, acc_int8, g->info.arch, data);
        if (!rc) rc = plot(out, rows, nm, g->info.arch);
        if (!rc) printf("\nwrote %s/sweep.md, sweep.csv, sweep.json, sweep.png\n", out);
    }
    axnn_progress_free(prog);
    axnn_pool_destroy(pool);
    axnn_dataset_free(&te);
    axnn_dataset_free(&tr);
    axnn_graph_free(g);
    return rc;
}
