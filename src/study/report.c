/* The study's report: report.md (accuracy before and after retraining, P_norm, loads, the
 * gradient comparison), results.csv, results.json, and two gnuplot figures. Everything is
 * rebuilt from the cells, so a resumed study writes the same report. */
#include "study/study_internal.h"

#include "axnn/report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const study_cell *cell(const study_report *r, int t, int m) { return &r->cells[t * r->nmuls + m]; }

static const char *const colors[AXNN_STUDY_MAX_TOPOS] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd"};

static void md_settings(FILE *f, const study_report *r)
{
    const axnn_study_cfg *c = r->cfg;
    fprintf(f, "# AxMoE study: %s on %s\n\n", r->arch, r->data);
    fprintf(f, "Topologies: %d experts per MoE unit (units: %s; expert width %g), cluster gateway %s. "
               "Base model: %s. MoE fine-tuning: %d epoch(s) of %d images, lr %g. Calibration: %d images (%s). "
               "Retraining per cell: %d epoch(s) of %d images, SGD lr %g, momentum %g, weight decay %g, batch %d, "
               "%s gradient. Accuracy on %d test images. ",
            c->moe.experts, c->moe.units ? c->moe.units : "default (the last block)", c->moe.width,
            c->moe.gateway ? c->moe.gateway : "default", c->base_path ? c->base_path : "trained here",
            c->moe_epochs, c->moe_images, c->moe_lr, c->calib, axnn_calib_name(c->calib_method), c->retrain_epochs,
            c->retrain_images, c->lr, c->momentum, c->wd, c->batch,
            c->grad == AXNN_GRAD_TABLE ? "table-derived" : "straight-through", c->eval_images);
    if (r->nshards > 0)
        fprintf(f, "Wall time: %.0f s, summed over %d shards (merged with `axnn study --merge`).\n\n", r->seconds,
                r->nshards);
    else
        fprintf(f, "Wall time of this run: %.0f s.\n\n", r->seconds);
}

static void md_header(FILE *f, const study_report *r, const char *first, const char *per_topo)
{
    fprintf(f, "| %s |", first);
    for (int t = 0; t < r->ntopos; t++) fprintf(f, " %s%s |", r->topos[t], per_topo);
    fprintf(f, "\n|---|");
    for (int t = 0; t < r->ntopos; t++) fprintf(f, "---|");
    fprintf(f, "\n");
}

static void md_accuracy(FILE *f, const study_report *r)
{
    fprintf(f, "## Accuracy before retraining (top-1 %%)\n\n");
    md_header(f, r, "multiplier", "");
    fprintf(f, "| float32 |");
    for (int t = 0; t < r->ntopos; t++) fprintf(f, " %.2f |", 100 * r->float_acc[t]);
    fprintf(f, "\n");
    for (int m = 0; m < r->nmuls; m++) {
        fprintf(f, "| %s |", r->muls[m]);
        for (int t = 0; t < r->ntopos; t++)
            cell(r, t, m)->have_before ? fprintf(f, " %.2f |", 100 * cell(r, t, m)->acc_before) : fprintf(f, " - |");
        fprintf(f, "\n");
    }
    fprintf(f, "\n## Accuracy after approximation-aware retraining (top-1 %%, change in brackets)\n\n");
    md_header(f, r, "multiplier", "");
    for (int m = 0; m < r->nmuls; m++) {
        fprintf(f, "| %s |", r->muls[m]);
        for (int t = 0; t < r->ntopos; t++) {
            const study_cell *c = cell(r, t, m);
            if (c->have_after)
                fprintf(f, " %.2f (%+.2f) |", 100 * c->acc_after, 100 * (c->acc_after - c->acc_before));
            else
                fprintf(f, " - |");
        }
        fprintf(f, "\n");
    }
}

static void md_power(FILE *f, const study_report *r)
{
    fprintf(f, "\n## Normalized power P_norm (relative to dense with the exact multiplier)\n\n"
               "P_norm = (M_eff / M_base) x (f_apx x P_mul / P_exact + (1 - f_apx)); M_base = %.0f MACs per image "
               "(dense). Routing is counted on the test images after retraining.\n\n",
            r->base_macs);
    fprintf(f, "| multiplier | P_mul / P_exact |");
    for (int t = 0; t < r->ntopos; t++) fprintf(f, " %s |", r->topos[t]);
    fprintf(f, "\n|---|---|");
    for (int t = 0; t < r->ntopos; t++) fprintf(f, "---|");
    fprintf(f, "\n");
    for (int m = 0; m < r->nmuls; m++) {
        const study_cell *c0 = cell(r, 0, m);
        if (c0->p_mul > 0 && c0->p_exact > 0)
            fprintf(f, "| %s | %s%.3f |", r->muls[m], c0->p_est ? "est. " : "", c0->p_mul / c0->p_exact);
        else
            fprintf(f, "| %s | unknown |", r->muls[m]);
        for (int t = 0; t < r->ntopos; t++) {
            const study_cell *c = cell(r, t, m);
            c->have_after && c->pnorm_after > 0 ? fprintf(f, " %.3f |", c->pnorm_after) : fprintf(f, " - |");
        }
        fprintf(f, "\n");
    }
    fprintf(f, "| M_eff / M_base | |");
    for (int t = 0; t < r->ntopos; t++) {
        const study_cell *c = cell(r, t, r->nmuls - 1);
        c->have_after ? fprintf(f, " %.3f |", c->eff_after / r->base_macs) : fprintf(f, " - |");
    }
    fprintf(f, "\n| static MACs / M_base | |");
    for (int t = 0; t < r->ntopos; t++) fprintf(f, " %.3f |", cell(r, t, r->nmuls - 1)->static_macs / r->base_macs);
    fprintf(f, "\n| f_apx | |");
    for (int t = 0; t < r->ntopos; t++) fprintf(f, " %.4f |", cell(r, t, r->nmuls - 1)->f_apx);
    fprintf(f, "\n\n\"est.\" marks estimated multiplier power (built-in families: a cell-count model relative to "
               "EvoApproxLib's exact mul8s in PDK45; see `axnn mul list`), not synthesis figures.\n");
}

static void md_loads(FILE *f, const study_report *r)
{
    fprintf(f, "\n## Per-expert loads (share of test images, or tokens for ViT MLPs, routed to each expert, after retraining)\n\n"
               "| topology | multiplier | router | loads |\n|---|---|---|---|\n");
    for (int t = 0; t < r->ntopos; t++)
        for (int m = 0; m < r->nmuls; m++) {
            const study_cell *c = cell(r, t, m);
            for (int u = 0; u < c->nunits && c->have_after; u++) {
                fprintf(f, "| %s | %s | %s |", r->topos[t], c->mul, c->unit_names[u]);
                for (int e = 0; e < c->experts; e++) fprintf(f, " %.3f", c->loads[u][e]);
                fprintf(f, " |\n");
            }
        }
}

static const study_cell *find(const study_report *r, const char *topo, const char *mul)
{
    for (int t = 0; t < r->ntopos; t++)
        for (int m = 0; m < r->nmuls; m++)
            if (!strcmp(r->topos[t], topo) && !strcmp(r->muls[m], mul)) return cell(r, t, m);
    return NULL;
}

static void md_grad(FILE *f, const study_report *r)
{
    if (r->nextra < 1) return;
    fprintf(f, "\n## Straight-through vs table-derived gradient (dense, same retraining budget)\n\n"
               "| multiplier | before | after, straight-through | after, table gradient |\n|---|---|---|---|\n");
    for (int i = 0; i < r->nextra; i++) {
        const study_cell *x = &r->extra[i], *main = find(r, "dense", x->mul);
        if (!x->have_after) continue;
        bool table = !strcmp(x->grad, "table");
        double ste = table ? (main && main->have_after ? main->acc_after : -1) : x->acc_after;
        double tab = table ? x->acc_after : (main && main->have_after ? main->acc_after : -1);
        fprintf(f, "| %s | %.2f | %s%.2f | %.2f |\n", x->mul, 100 * x->acc_before, ste < 0 ? "n/a " : "", 100 * ste,
                100 * tab);
    }
}

static void write_json_cell(FILE *js, const study_cell *c, axnn_json_nonfinite *nf)
{
    fprintf(js, "{\"topology\": ");
    axnn_json_string(js, c->topo);
    fprintf(js, ", \"multiplier\": ");
    axnn_json_string(js, c->mul);
    fprintf(js, ", \"gradient\": ");
    axnn_json_string(js, c->grad);
    fprintf(js, ", \"accuracy_before\": ");
    axnn_json_number(js, "%.6f", c->acc_before, nf, "accuracy_before");
    fprintf(js, ", \"accuracy_after\": ");
    axnn_json_number(js, "%.6f", c->have_after ? c->acc_after : -1.0, nf, "accuracy_after");
    fprintf(js, ", \"p_mul_mw\": ");
    axnn_json_number(js, "%.4f", c->p_mul, nf, "p_mul_mw");
    fprintf(js, ", \"power_estimated\": %s, \"f_apx\": ", c->p_est ? "true" : "false");
    axnn_json_number(js, "%.6f", c->f_apx, nf, "f_apx");
    fprintf(js, ", \"static_macs\": ");
    axnn_json_number(js, "%.0f", c->static_macs, nf, "static_macs");
    fprintf(js, ", \"eff_macs\": ");
    axnn_json_number(js, "%.0f", c->eff_after, nf, "eff_macs");
    fprintf(js, ", \"p_norm\": ");
    axnn_json_number(js, "%.6f", c->pnorm_after, nf, "p_norm");
    fprintf(js, ", \"loads\": [");
    for (int u = 0; u < c->nunits; u++) {
        fprintf(js, "%s{\"router\": ", u ? ", " : "");
        axnn_json_string(js, c->unit_names[u]);
        fprintf(js, ", \"share\": [");
        for (int e = 0; e < c->experts; e++) {
            fprintf(js, "%s", e ? ", " : "");
            axnn_json_number(js, "%.4f", c->loads[u][e], nf, "loads");
        }
        fprintf(js, "]}");
    }
    fprintf(js, "]}");
}

/* results.csv and results.json: every cell with a "before" half, in the grid's order. */
static void write_csv_json(const study_report *r, FILE *csv, FILE *js, const char *json_path)
{
    axnn_json_nonfinite nf = {0};
    fprintf(csv, "topology,multiplier,gradient,accuracy_before,accuracy_after,p_mul_mw,power_estimated,f_apx,"
                 "static_macs,eff_macs,p_norm,retrain_seconds\n");
    fprintf(js, "{\"arch\": ");
    axnn_json_string(js, r->arch);
    fprintf(js, ", \"dataset\": ");
    axnn_json_string(js, r->data);
    fprintf(js, ", \"base_macs\": ");
    axnn_json_number(js, "%.0f", r->base_macs, &nf, "base_macs");
    fprintf(js, ", \"seconds\": ");
    axnn_json_number(js, "%.1f", r->seconds, &nf, "seconds");
    fprintf(js, ", \"float_accuracy\": {");
    for (int t = 0; t < r->ntopos; t++) {
        fprintf(js, "%s\"%s\": ", t ? ", " : "", r->topos[t]);
        axnn_json_number(js, "%.6f", r->float_acc[t], &nf, "float_accuracy");
    }
    fprintf(js, "}, \"cells\": [");
    nf.array = "cells";
    int n = 0;
    for (int i = 0; i < r->ntopos * r->nmuls + r->nextra; i++) {
        const study_cell *c = i < r->ntopos * r->nmuls ? &r->cells[i] : &r->extra[i - r->ntopos * r->nmuls];
        if (!c->have_before) continue;
        fprintf(csv, "%s,\"%s\",%s,%.6f,%.6f,%.4f,%d,%.6f,%.0f,%.0f,%.6f,%.1f\n", c->topo, c->mul, c->grad, c->acc_before,
                c->have_after ? c->acc_after : -1.0, c->p_mul, c->p_est, c->f_apx, c->static_macs, c->eff_after,
                c->pnorm_after, c->retrain_seconds);
        nf.row = n;
        fprintf(js, "%s", n++ ? ", " : "");
        write_json_cell(js, c, &nf);
    }
    fprintf(js, "]");
    axnn_json_flag_nonfinite(js, &nf, json_path);
    fprintf(js, "}\n");
}

static axnn_status plot_by_mul(const study_report *r, const char *path)
{
    static double x[AXNN_STUDY_MAX_TOPOS * 2][AXNN_STUDY_MAX_MULS], y[AXNN_STUDY_MAX_TOPOS * 2][AXNN_STUDY_MAX_MULS];
    char titles[AXNN_STUDY_MAX_TOPOS * 2][64];
    const char *tics[AXNN_STUDY_MAX_MULS];
    axnn_series s[AXNN_STUDY_MAX_TOPOS * 2];
    int ns = 0;
    static char named[AXNN_STUDY_MAX_MULS][160]; /* "trunc:7 (0.56)": the axis runs by power */
    for (int m = 0; m < r->nmuls; m++) {
        const study_cell *c0 = NULL;
        for (int t = 0; t < r->ntopos && !c0; t++)
            if (cell(r, t, m)->p_mul > 0 && cell(r, t, m)->p_exact > 0) c0 = cell(r, t, m);
        if (c0)
            snprintf(named[m], sizeof named[m], "%s (%.2f)", r->muls[m], c0->p_mul / c0->p_exact);
        else
            snprintf(named[m], sizeof named[m], "%s", r->muls[m]);
        tics[m] = named[m];
    }
    for (int t = 0; t < r->ntopos; t++)
        for (int after = 1; after >= 0; after--) {
            int n = 0;
            for (int m = 0; m < r->nmuls; m++) {
                const study_cell *c = cell(r, t, m);
                if (!(after ? c->have_after : c->have_before)) continue;
                x[ns][n] = m;
                y[ns][n++] = 100 * (after ? c->acc_after : c->acc_before);
            }
            snprintf(titles[ns], sizeof titles[ns], "%s, %s retraining", r->topos[t], after ? "after" : "before");
            s[ns] = (axnn_series){titles[ns], x[ns], y[ns], NULL, n, after, colors[t]};
            ns++;
        }
    char title[256];
    snprintf(title, sizeof title, "%s on %s: accuracy by multiplier (lines: after retraining)", r->arch, r->data);
    axnn_plot p = {path, title, "multiplier (P_mul / P_exact), by power", "top-1 accuracy %", false, s, ns, tics, r->nmuls};
    return axnn_plot_render(&p);
}

static axnn_status plot_vs_power(const study_report *r, const char *path)
{
    static double x[AXNN_STUDY_MAX_TOPOS * 2][AXNN_STUDY_MAX_MULS], y[AXNN_STUDY_MAX_TOPOS * 2][AXNN_STUDY_MAX_MULS];
    static const char *lab[AXNN_STUDY_MAX_TOPOS][AXNN_STUDY_MAX_MULS];
    char titles[AXNN_STUDY_MAX_TOPOS * 2][64];
    axnn_series s[AXNN_STUDY_MAX_TOPOS * 2];
    int ns = 0;
    for (int t = 0; t < r->ntopos; t++) {
        int n = 0, idx[AXNN_STUDY_MAX_MULS];
        double px[AXNN_STUDY_MAX_MULS], py[AXNN_STUDY_MAX_MULS];
        const char *pl[AXNN_STUDY_MAX_MULS];
        for (int m = 0; m < r->nmuls; m++) {
            const study_cell *c = cell(r, t, m);
            if (!c->have_after || c->pnorm_after <= 0) continue;
            px[n] = c->pnorm_after;
            py[n] = 100 * c->acc_after;
            pl[n++] = c->mul;
        }
        if (n == 0) continue;
        memcpy(x[ns], px, sizeof px);
        memcpy(y[ns], py, sizeof py);
        snprintf(titles[ns], sizeof titles[ns], "%s", r->topos[t]);
        s[ns] = (axnn_series){titles[ns], x[ns], y[ns], NULL, n, false, colors[t]};
        ns++;
        int k = axnn_pareto_front(px, py, n, idx);
        for (int i = 0; i < k; i++) {
            x[ns][i] = px[idx[i]];
            y[ns][i] = py[idx[i]];
            lab[t][i] = pl[idx[i]];
        }
        snprintf(titles[ns], sizeof titles[ns], "%s Pareto front", r->topos[t]);
        s[ns] = (axnn_series){titles[ns], x[ns], y[ns], lab[t], k, true, colors[t]};
        ns++;
    }
    if (ns == 0) return AXNN_OK;
    char title[256];
    snprintf(title, sizeof title, "%s on %s: accuracy after retraining against normalized power", r->arch, r->data);
    axnn_plot p = {path, title, "P_norm (dense with the exact multiplier = 1)", "top-1 accuracy %", false, s, ns};
    return axnn_plot_render(&p);
}

static axnn_status write_mem(const char *dir, const char *name, const char *buf, size_t len)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return axnn_write_file_atomic(path, buf, len);
}

/* Power of multiplier m (mW): from its cells, else from the multiplier itself; -1 if unknown. */
static double power_of(const study_report *r, int m)
{
    for (int t = 0; t < r->ntopos; t++)
        if (cell(r, t, m)->p_mul > 0) return cell(r, t, m)->p_mul;
    axnn_mul *mm;
    double p = -1;
    if (!axnn_mul_get(r->muls[m], &mm)) {
        p = mm->power_mw > 0 ? mm->power_mw : -1;
        axnn_mul_free(mm);
    }
    axnn_clear_error();
    return p;
}

/* The report with its multipliers sorted by power, highest first (exact on top, the x axis
 * from exact to the cheapest), unknown power last, ties in --mul order; `cells` is allocated. */
static axnn_status sorted_by_power(const study_report *r, study_report *s, study_cell **cells)
{
    double p[AXNN_STUDY_MAX_MULS];
    int ord[AXNN_STUDY_MAX_MULS];
    for (int m = 0; m < r->nmuls; m++) {
        p[m] = power_of(r, m);
        ord[m] = m;
    }
    for (int a = 1; a < r->nmuls; a++) /* insertion sort: stable */
        for (int b = a; b > 0 && p[ord[b]] > p[ord[b - 1]]; b--) {
            int t = ord[b];
            ord[b] = ord[b - 1];
            ord[b - 1] = t;
        }
    *s = *r;
    *cells = malloc(sizeof **cells * (size_t)(r->ntopos * r->nmuls) + 1);
    if (!*cells) return axnn_error(AXNN_ERR_NOMEM, "out of memory");
    for (int m = 0; m < r->nmuls; m++) {
        snprintf(s->muls[m], sizeof s->muls[m], "%s", r->muls[ord[m]]);
        for (int t = 0; t < r->ntopos; t++) (*cells)[t * r->nmuls + m] = *cell(r, t, ord[m]);
    }
    s->cells = *cells;
    return AXNN_OK;
}

/* The tables first (each written atomically), then the figures. A missing gnuplot costs only the
 * figures (a warning); any other failure, a full disk included, is an error, and no file is ever
 * installed half-written. */
static axnn_status write_report(const study_report *grid_order, const study_report *r)
{
    const char *dir = r->cfg->out;
    char *md = NULL, *csv = NULL, *js = NULL;
    size_t mdn = 0, csvn = 0, jsn = 0;
    FILE *f = open_memstream(&md, &mdn), *c = open_memstream(&csv, &csvn), *j = open_memstream(&js, &jsn);
    bool ok = f && c && j;
    if (ok) {
        md_settings(f, r);
        md_accuracy(f, r);
        md_power(f, r);
        md_loads(f, r);
        md_grad(f, r);
        fprintf(f, "\n## Figures\n\n![accuracy by multiplier](accuracy_by_multiplier.png)\n\n"
                   "![accuracy against P_norm](accuracy_vs_power.png)\n\n"
                   "Data: `results.csv`, `results.json`; one file per cell under `cells/`.\n");
        char jpath[4200];
        snprintf(jpath, sizeof jpath, "%s/results.json", dir);
        write_csv_json(grid_order, c, j, jpath);
    }
    if (f && fclose(f)) ok = false;
    if (c && fclose(c)) ok = false;
    if (j && fclose(j)) ok = false;
    axnn_status st = ok ? AXNN_OK : axnn_error(AXNN_ERR_NOMEM, "%s: out of memory for the report", dir);
    if (!st) st = write_mem(dir, "report.md", md, mdn);
    if (!st) st = write_mem(dir, "results.csv", csv, csvn);
    if (!st) st = write_mem(dir, "results.json", js, jsn);
    free(md);
    free(csv);
    free(js);
    if (st) return st;
    char path[4200];
    snprintf(path, sizeof path, "%s/accuracy_by_multiplier.png", dir);
    st = plot_by_mul(r, path);
    snprintf(path, sizeof path, "%s/accuracy_vs_power.png", dir);
    if (!st) st = plot_vs_power(r, path);
    if (st == AXNN_ERR_UNSUPPORTED) {
        axnn_log(AXNN_LOG_WARN, "no figures: %s", axnn_last_error());
        axnn_clear_error();
        return AXNN_OK;
    }
    return st;
}

axnn_status study_write_report(const study_report *grid_order)
{
    study_report sorted; /* for report.md and the figures; the data files keep the --mul order */
    study_cell *cells;
    axnn_status st = sorted_by_power(grid_order, &sorted, &cells);
    if (st) return st;
    st = write_report(grid_order, &sorted);
    free(cells);
    return st;
}
