/* The dispatch report: every single model, the oracle, random dispatch at each front point's
 * cost, the confidence cascade (threshold swept), the plain cross-entropy dispatcher and the
 * searched front, all on the test split (the search saw only the validation split), plus the
 * hypervolume per generation and the share of inputs each model receives. report.md,
 * results.csv (one row per point), results.json and three gnuplot figures. */
#include "axnn/dispatch.h"
#include "axnn/io.h"
#include "axnn/report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NTHR 105
#define T AXNN_SPLIT_TEST
#define V AXNN_SPLIT_VAL

static double thresholds(int i) /* 0, 0.01 .. 0.99, 0.995, 0.999, 0.9995, 0.9999, 1.0 */
{
    if (i < 100) return 0.01 * i;
    static const double tail[] = {0.995, 0.999, 0.9995, 0.9999, 1.0};
    return tail[i - 100 < 5 ? i - 100 : 4];
}

typedef struct curve {
    double acc[NTHR], macs[NTHR];
} curve;

static void cascade_curve(const axnn_zoo *z, curve *c)
{
    for (int i = 0; i < NTHR; i++) axnn_cascade(z, T, thresholds(i), &c->acc[i], &c->macs[i]);
}

/* Best cascade accuracy reachable at mean cost <= macs, linearly interpolated on its upper
 * envelope (a mix of two thresholds reaches any cost in between). */
static double cascade_at(const curve *c, double macs)
{
    double best = -1.0;
    for (int i = 0; i < NTHR; i++) {
        if (c->macs[i] <= macs && c->acc[i] > best) best = c->acc[i];
        for (int j = 0; j < NTHR; j++) {
            if (!(c->macs[i] <= macs && c->macs[j] > macs)) continue;
            double q = (macs - c->macs[i]) / (c->macs[j] - c->macs[i]),
                   a = c->acc[i] + q * (c->acc[j] - c->acc[i]);
            if (a > best) best = a;
        }
    }
    return best;
}

static void summarize(const axnn_zoo *z, const axnn_search_result *r, const curve *cc,
                      axnn_dispatch_summary *s)
{
    memset(s, 0, sizeof *s);
    for (int j = 1; j < z->m; j++)
        if (z->models[j].accuracy[T] > z->models[s->best].accuracy[T]) s->best = j;
    s->best_acc = z->models[s->best].accuracy[T];
    s->best_macs = z->models[s->best].macs;
    s->hit = -1;
    s->max_margin = -1.0;
    for (int k = 0; k < r->nfront; k++) {
        const axnn_disp_point *p = &r->front[k];
        double ratio = p->macs[T] / s->best_macs;
        if (p->acc[T] >= s->best_acc && (s->min_ratio == 0 || ratio < s->min_ratio))
            s->min_ratio = ratio;
        if (ratio <= 0.64 && p->acc[T] > s->acc_at_064) s->acc_at_064 = p->acc[T];
        if (p->acc[T] >= s->best_acc && ratio <= 0.64 && (s->hit < 0 || ratio < s->hit_ratio)) {
            s->hit = k;
            s->hit_ratio = ratio;
        }
        double margin = p->acc[T] - cascade_at(cc, p->macs[T]);
        s->above_cascade += margin > 0;
        if (margin > s->max_margin) s->max_margin = margin;
    }
}

static void md_models(FILE *f, const axnn_zoo *z)
{
    fprintf(f, "## Zoo (%s; %lld dispatcher-training, %lld validation, %lld test images)\n\n",
            z->dataset, (long long)z->split[0].n, (long long)z->split[1].n,
            (long long)z->split[2].n);
    fprintf(f,
            "| model | MMACs | params | val top-1 %% | test top-1 %% |\n|---|---|---|---|---|\n");
    for (int j = 0; j < z->m; j++)
        fprintf(f, "| %s%s | %.2f | %lld | %.2f | %.2f |\n", z->models[j].name,
                j == z->ext ? " (extractor)" : "", z->models[j].macs / 1e6,
                (long long)z->models[j].params, 100 * z->models[j].accuracy[V],
                100 * z->models[j].accuracy[T]);
}

static void md_point(FILE *f, const axnn_zoo *z, const char *name, const axnn_disp_point *p)
{
    fprintf(f, "| %s | %s | %.2f | %.2f | %.2f | %.2f | %.2f |", name,
            axnn_weighting_name(p->genes.weighting), 100 * p->acc[V], p->macs[V] / 1e6,
            100 * p->acc[T], p->macs[T] / 1e6, 100 * axnn_random_at_cost(z, T, p->macs[T]));
    for (int j = 0; j < z->m; j++)
        fprintf(f, " %.1f |", 100.0 * (double)p->share[T][j] / (double)z->split[T].n);
    fprintf(f, "\n");
}

static void md_front(FILE *f, const axnn_zoo *z, const axnn_search_result *r)
{
    fprintf(f, "\n## Dispatchers (test split unless marked val)\n\n| point | weighting | val top-1 "
               "%% | val MMACs | "
               "top-1 %% | MMACs | random at same MMACs %% |");
    for (int j = 0; j < z->m; j++) fprintf(f, " %% to %s |", z->models[j].name);
    fprintf(f, "\n|---|---|---|---|---|---|---|");
    for (int j = 0; j < z->m; j++) fprintf(f, "---|");
    fprintf(f, "\n");
    md_point(f, z, "plain CE", &r->plain);
    for (int k = 0; k < r->nfront; k++) {
        char nm[32];
        snprintf(nm, sizeof nm, "front %d", k);
        md_point(f, z, nm, &r->front[k]);
    }
    double oa, om;
    axnn_oracle(z, T, &oa, &om);
    fprintf(f,
            "\nOracle (each sample to its cheapest correct model, no dispatcher): %.2f%% at %.2f "
            "MMACs. "
            "Dispatcher overhead per input: extractor %.2f MMACs + linear layer %.0f MACs.\n",
            100 * oa, om / 1e6, z->ext_macs / 1e6, r->disp_macs);
}

static void md_cascade(FILE *f, const curve *c)
{
    fprintf(f,
            "\n## Confidence cascade (test)\n\n| threshold | top-1 %% | MMACs |\n|---|---|---|\n");
    for (int i = 0; i < NTHR; i += i < 100 ? 5 : 1)
        fprintf(f, "| %.4g | %.2f | %.2f |\n", thresholds(i), 100 * c->acc[i], c->macs[i] / 1e6);
    fprintf(f, "\n(every threshold is in results.csv)\n");
}

static void md_summary(FILE *f, const axnn_zoo *z, const axnn_search_result *r,
                       const axnn_dispatch_summary *s)
{
    fprintf(f, "\n## Result\n\nBest single model on the test split: %s, %.2f%% at %.2f MMACs.\n\n",
            z->models[s->best].name, 100 * s->best_acc, s->best_macs / 1e6);
    if (s->hit >= 0)
        fprintf(f,
                "- **Met**: front %d reaches %.2f%% at %.2fx the best model's MACs (target: >= "
                "%.2f%% at <= 0.64x).\n",
                s->hit, 100 * r->front[s->hit].acc[T], s->hit_ratio, 100 * s->best_acc);
    else {
        fprintf(f,
                "- **Not met**: no front point reaches %.2f%% at <= 0.64x the best model's MACs.",
                100 * s->best_acc);
        if (s->min_ratio > 0)
            fprintf(f, " The cheapest front point at that accuracy needs %.2fx its MACs.",
                    s->min_ratio);
        else
            fprintf(f, " No front point reaches that accuracy.");
        if (s->acc_at_064 > 0)
            fprintf(f, " The best front accuracy at <= 0.64x is %.2f%% (%.2f points short).",
                    100 * s->acc_at_064, 100 * (s->best_acc - s->acc_at_064));
        fprintf(f, "\n");
    }
    fprintf(f,
            "- Front points above the confidence cascade at equal MACs: %d of %d (largest margin "
            "%+.2f points).\n",
            s->above_cascade, r->nfront, 100 * s->max_margin);
    fprintf(f,
            "\n## Search\n\n%d generations; hypervolume (validation error, MACs / %.2f MMACs; "
            "reference (1, 1.1)) "
            "per generation:",
            r->gens_done, r->ref_cost / 1.1 / 1e6);
    for (int g = 0; g < r->nhv; g++) fprintf(f, "%s%.4f", g ? ", " : " ", r->hv[g]);
    fprintf(f, "\n");
}

static void csv_row(FILE *c, const char *kind, const char *name, double ta, double tm, double va,
                    double vm, double thr)
{
    fprintf(c, "%s,%s,%.6f,%.1f,%.6f,%.1f,%.6g\n", kind, name, ta, tm, va, vm, thr);
}

static void write_csv(FILE *c, const axnn_zoo *z, const axnn_search_result *r, const curve *cc)
{
    fprintf(c, "kind,name,test_acc,test_macs,val_acc,val_macs,threshold\n");
    for (int j = 0; j < z->m; j++)
        csv_row(c, "model", z->models[j].name, z->models[j].accuracy[T], z->models[j].macs,
                z->models[j].accuracy[V], z->models[j].macs, 0);
    double oa, om, va, vm;
    axnn_oracle(z, T, &oa, &om);
    axnn_oracle(z, V, &va, &vm);
    csv_row(c, "oracle", "oracle", oa, om, va, vm, 0);
    csv_row(c, "plain_ce", "plain_ce", r->plain.acc[T], r->plain.macs[T], r->plain.acc[V],
            r->plain.macs[V], 0);
    for (int k = 0; k < r->nfront; k++) {
        char nm[32];
        snprintf(nm, sizeof nm, "front%d", k);
        const axnn_disp_point *p = &r->front[k];
        csv_row(c, "front", nm, p->acc[T], p->macs[T], p->acc[V], p->macs[V], 0);
        csv_row(c, "random", nm, axnn_random_at_cost(z, T, p->macs[T]), p->macs[T],
                axnn_random_at_cost(z, V, p->macs[V]), p->macs[V], 0);
    }
    for (int i = 0; i < NTHR; i++) {
        double a, m;
        axnn_cascade(z, V, thresholds(i), &a, &m);
        csv_row(c, "cascade", "cascade", cc->acc[i], cc->macs[i], a, m, thresholds(i));
    }
}

static void json_point(FILE *j, const axnn_zoo *z, const axnn_disp_point *p)
{
    fprintf(j,
            "{\"test_acc\": %.6f, \"test_macs\": %.1f, \"val_acc\": %.6f, \"val_macs\": %.1f, "
            "\"weighting\": \"%s\", "
            "\"beta\": %.6f, \"penalty\": [",
            p->acc[T], p->macs[T], p->acc[V], p->macs[V], axnn_weighting_name(p->genes.weighting),
            p->genes.beta);
    for (int a = 0; a < z->m * z->m; a++) fprintf(j, "%s%.4f", a ? ", " : "", p->genes.P[a]);
    fprintf(j, "], \"test_share\": [");
    for (int a = 0; a < z->m; a++) fprintf(j, "%s%lld", a ? ", " : "", (long long)p->share[T][a]);
    fprintf(j, "]}");
}

static void write_json(FILE *j, const axnn_zoo *z, const axnn_search_result *r,
                       const axnn_dispatch_summary *s)
{
    fprintf(j, "{\"dataset\": \"%s\", \"models\": [", z->dataset);
    for (int a = 0; a < z->m; a++)
        fprintf(j,
                "%s{\"name\": \"%s\", \"arch\": \"%s\", \"macs\": %.0f, \"params\": %lld, "
                "\"val_acc\": %.6f, "
                "\"test_acc\": %.6f}",
                a ? ", " : "", z->models[a].name, z->models[a].arch, z->models[a].macs,
                (long long)z->models[a].params, z->models[a].accuracy[V], z->models[a].accuracy[T]);
    fprintf(j,
            "], \"extractor\": \"%s\", \"extractor_macs\": %.0f, \"dispatcher_macs\": %.0f, "
            "\"plain_ce\": ",
            z->models[z->ext].name, z->ext_macs, r->disp_macs);
    json_point(j, z, &r->plain);
    fprintf(j, ", \"front\": [");
    for (int k = 0; k < r->nfront; k++) {
        fprintf(j, "%s", k ? ", " : "");
        json_point(j, z, &r->front[k]);
    }
    fprintf(j, "], \"hypervolume\": [");
    for (int g = 0; g < r->nhv; g++) fprintf(j, "%s%.6f", g ? ", " : "", r->hv[g]);
    fprintf(j,
            "], \"met_064\": %s, \"min_ratio_at_best_acc\": %.4f, \"front_above_cascade\": %d, "
            "\"max_margin_over_cascade\": %.6f}\n",
            s->hit >= 0 ? "true" : "false", s->min_ratio, s->above_cascade, s->max_margin);
}

static axnn_status plot_main(const axnn_zoo *z, const axnn_search_result *r, const curve *cc,
                             const char *path)
{
    double mx[AXNN_ZOO_MAX], my[AXNN_ZOO_MAX], ox, oy, px, py, cx[NTHR], cy[NTHR];
    const char *lab[AXNN_ZOO_MAX];
    for (int j = 0; j < z->m; j++)
        mx[j] = z->models[j].macs / 1e6, my[j] = 100 * z->models[j].accuracy[T],
        lab[j] = z->models[j].name;
    axnn_oracle(z, T, &oy, &ox);
    ox /= 1e6, oy *= 100;
    px = r->plain.macs[T] / 1e6, py = 100 * r->plain.acc[T];
    int nc = 0, idx[NTHR];
    double ax[NTHR], ay[NTHR];
    for (int i = 0; i < NTHR; i++) ax[i] = cc->macs[i], ay[i] = cc->acc[i];
    nc = axnn_pareto_front(ax, ay, NTHR, idx);
    for (int i = 0; i < nc; i++) cx[i] = ax[idx[i]] / 1e6, cy[i] = 100 * ay[idx[i]];
    double *fx = malloc((size_t)(r->nfront + 1) * sizeof *fx),
           *fy = malloc((size_t)(r->nfront + 1) * sizeof *fy);
    double *rx = malloc((size_t)(r->nfront + 1) * sizeof *rx),
           *ry = malloc((size_t)(r->nfront + 1) * sizeof *ry);
    if (!fx || !fy || !rx || !ry) {
        free(fx), free(fy), free(rx), free(ry);
        return axnn_error(AXNN_ERR_NOMEM, "out of memory");
    }
    for (int k = 0; k < r->nfront; k++) {
        fx[k] = r->front[k].macs[T] / 1e6, fy[k] = 100 * r->front[k].acc[T];
        rx[k] = fx[k], ry[k] = 100 * axnn_random_at_cost(z, T, r->front[k].macs[T]);
    }
    axnn_series s[6] = {
        {"single models", mx, my, lab, z->m, false, "#000000"},
        {"confidence cascade", cx, cy, NULL, nc, true, "#ff7f0e"},
        {"oracle", &ox, &oy, NULL, 1, false, "#2ca02c"},
        {"dispatcher, plain CE", &px, &py, NULL, 1, false, "#9467bd"},
        {"searched front (NSGA-II)", fx, fy, NULL, r->nfront, true, "#d62728"},
        {"random dispatch at same cost", rx, ry, NULL, r->nfront, true, "#7f7f7f"},
    };
    axnn_plot p = {path,
                   "PERTINENCE dispatch: test top-1 against mean MACs",
                   "mean MMACs per input",
                   "top-1 (%)",
                   false,
                   s,
                   r->nfront > 0 ? 6 : 4};
    axnn_status st = axnn_plot_render(&p);
    free(fx), free(fy), free(rx), free(ry);
    return st;
}

static axnn_status plot_hv(const axnn_search_result *r, const char *path)
{
    double *x = malloc((size_t)(r->nhv + 1) * sizeof *x);
    if (!x) return axnn_error(AXNN_ERR_NOMEM, "out of memory");
    for (int g = 0; g < r->nhv; g++) x[g] = g;
    axnn_series s = {"first front", x, r->hv, NULL, r->nhv, true, "#d62728"};
    axnn_plot p = {
        path, "hypervolume per generation (validation)", "generation", "hypervolume", false, &s, 1};
    axnn_status st = axnn_plot_render(&p);
    free(x);
    return st;
}

static axnn_status plot_shares(const axnn_zoo *z, const axnn_search_result *r, const char *path)
{
    int n = r->nfront;
    double *buf = malloc((size_t)(n + 1) * (size_t)(z->m + 1) * sizeof *buf);
    if (!buf) return axnn_error(AXNN_ERR_NOMEM, "out of memory");
    axnn_series s[AXNN_ZOO_MAX];
    double *x = buf;
    for (int k = 0; k < n; k++) x[k] = r->front[k].macs[T] / 1e6;
    for (int j = 0; j < z->m; j++) {
        double *y = buf + (size_t)(j + 1) * (n + 1);
        for (int k = 0; k < n; k++)
            y[k] = 100.0 * (double)r->front[k].share[T][j] / (double)z->split[T].n;
        s[j] = (axnn_series){z->models[j].name, x, y, NULL, n, true, NULL};
    }
    axnn_plot p = {path,
                   "share of test inputs per model along the front",
                   "mean MMACs per input",
                   "inputs (%)",
                   false,
                   s,
                   z->m};
    axnn_status st = axnn_plot_render(&p);
    free(buf);
    return st;
}

static axnn_status write_mem(const char *dir, const char *name, char *buf, size_t len)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    axnn_status st =
        buf ? axnn_write_file_atomic(path, buf, len) : axnn_error(AXNN_ERR_NOMEM, "out of memory");
    free(buf);
    return st;
}

axnn_status axnn_dispatch_report(const axnn_zoo *z, const axnn_search_result *r, const char *dir,
                                 const char *note, axnn_dispatch_summary *sum)
{
    curve cc;
    cascade_curve(z, &cc);
    summarize(z, r, &cc, sum);
    char *md = NULL, *csv = NULL, *js = NULL;
    size_t mdn = 0, csvn = 0, jsn = 0;
    FILE *f = open_memstream(&md, &mdn), *c = open_memstream(&csv, &csvn),
         *j = open_memstream(&js, &jsn);
    if (!f || !c || !j) {
        if (f) fclose(f);
        if (c) fclose(c);
        if (j) fclose(j);
        free(md), free(csv), free(js);
        return axnn_error(AXNN_ERR_NOMEM, "out of memory for the report");
    }
    fprintf(f, "# PERTINENCE dispatch on %s\n\n%s\n\n", z->dataset, note ? note : "");
    md_models(f, z);
    md_summary(f, z, r, sum);
    md_front(f, z, r);
    md_cascade(f, &cc);
    fprintf(f, "\n## Figures\n\n![accuracy against "
               "MACs](accuracy_vs_macs.png)\n\n![hypervolume](hypervolume.png)\n\n"
               "![shares](shares.png)\n\nData: `results.csv`, `results.json`, `zoo.safetensors`, "
               "`search.json`.\n");
    write_csv(c, z, r, &cc);
    write_json(j, z, r, sum);
    fclose(f), fclose(c), fclose(j);
    axnn_status st = write_mem(dir, "report.md", md, mdn);
    st = st ? (free(csv), st) : write_mem(dir, "results.csv", csv, csvn);
    st = st ? (free(js), st) : write_mem(dir, "results.json", js, jsn);
    if (st) return st;
    char path[4200];
    snprintf(path, sizeof path, "%s/accuracy_vs_macs.png", dir);
    axnn_status pst = plot_main(z, r, &cc, path);
    snprintf(path, sizeof path, "%s/hypervolume.png", dir);
    if (!pst) pst = plot_hv(r, path);
    snprintf(path, sizeof path, "%s/shares.png", dir);
    if (!pst && r->nfront > 0) pst = plot_shares(z, r, path);
    if (pst) axnn_log(AXNN_LOG_WARN, "no figures: %s", axnn_last_error());
    return AXNN_OK;
}
