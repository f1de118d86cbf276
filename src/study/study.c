/* The AxMoE characterization study.
 *
 * For one architecture and dataset, every topology (dense, hard, soft, cluster MoE) is run
 * under every multiplier twice: as quantized (int8 with the multiplier's table, calibrated in
 * float) and after approximation-aware retraining with that multiplier in the loop.
 *
 *   1. base: the dense model, trained from scratch (or loaded: base_path, or the cache);
 *   2. topologies: each MoE topology is built from the base (axnn_moe_build) and fine-tuned in
 *      float (hard and soft: the gates learn, with the load-balancing loss for hard; cluster:
 *      k-means on gateway features, then each copy on its cluster). Cached in models/;
 *   3. cells: per topology the graph is calibrated once (scales do not depend on the
 *      multiplier); per multiplier the float weights are reloaded, the multiplier attached, the
 *      model evaluated ("before"), retrained with gates and gateway frozen, evaluated again
 *      ("after"). Each half is written to cells/ atomically as soon as it exists, so a killed
 *      study resumes at the first missing half and never loses or redoes a finished one;
 *   4. the report (study/report.c) is rebuilt from the cell files.
 * Costs (M_eff, f_apx, P_norm) come from axnn_moe_cost_of with the routing counted on the test
 * images of each evaluation; M_base is the dense model's MAC count.
 * One progress bar covers everything still to do, in work units (study_progress).
 */
#include "study/study_internal.h"

#include "axnn/models.h"
#include "axnn/ops.h"
#include "axnn/report.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct study {
    const axnn_study_cfg *cfg;
    axnn_pool *pool;
    /* The plan the study runs its current graph with: one at a time, replaced by a training plan
     * when a graph that so far only ran in eval mode trains (keeping its dropout step), and
     * freed with the graph (study_plan, drop_plan). */
    axnn_plan *plan;
    const axnn_graph *plan_graph;
    axnn_dataset train, test, test_view;
    axnn_preproc pp;
    axnn_model_cfg mc;
    study_grid grid;
    bool touch[AXNN_STUDY_MAX_TOPOS]; /* the topology has cells of this shard */
    axnn_graph *base;
    double base_macs, p_exact, factor[AXNN_STUDY_MAX_TOPOS], float_acc[AXNN_STUDY_MAX_TOPOS];
    study_cell *cells, *extra;
    study_progress sp;
} study;

void axnn_study_defaults(axnn_study_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->arch = "resnet20";
    c->data = "fashion-mnist";
    c->out = "runs/study";
    c->topologies = "dense,hard,soft,cluster";
    c->muls = "exact,udm,trunc:6,mitchell,bam:2,6,drum:3,trunc:7,trunc:8";
    c->base_epochs = 2;
    c->base_images = 0;
    c->base_lr = 0.1f;
    c->moe_epochs = 1;
    c->moe_images = 12800;
    c->moe_lr = 0.02f;
    c->calib = 512;
    c->retrain_epochs = 1;
    c->retrain_images = 1280;
    c->eval_images = 1000;
    c->cluster_images = 5000;
    c->bn_images = 512;
    c->lr = 0.1f;
    c->wd = 5e-4f;
    c->momentum = 0.9f;
    c->batch = 128;
    c->grad = AXNN_GRAD_STE;
    c->calib_method = AXNN_CALIB_MAX;
    axnn_moe_cfg_defaults(&c->moe);
    c->threads = 0;
    c->seed = 1;
}

/* ---- small helpers ---- */

/* <out>/cells/<topology>/<multiplier>[.table|.ste].json */
static void cell_path(const study *s, int t, int m, char *out, size_t n)
{
    char rel[300];
    study_grid_cell_path(&s->grid, t, m, rel, sizeof rel);
    snprintf(out, n, "%s/%s", s->cfg->out, rel);
}

static study_cell *cell_of(study *s, int t, int m)
{
    return m < s->grid.nmuls ? &s->cells[t * s->grid.nmuls + m] : &s->extra[m - s->grid.nmuls];
}

static axnn_status parse_lists(study *s)
{
    const axnn_study_cfg *c = s->cfg;
    study_grid *g = &s->grid;
    axnn_status st = study_grid_parse(g, c->topologies, c->muls, c->table_grad_muls, c->grad);
    if (st) return st;
    for (int i = 0; i < g->nmuls + g->ntmuls; i++) { /* fail early, naming `axnn mul import` */
        axnn_mul *m;
        st = axnn_mul_get(study_grid_mul(g, i), &m);
        if (st) return st;
        if (i == 0 || s->p_exact <= 0) {
            axnn_mul *ex;
            if (!axnn_mul_get("exact", &ex)) s->p_exact = ex->power_mw;
            axnn_mul_free(ex);
        }
        axnn_mul_free(m);
    }
    return AXNN_OK;
}

/* The settings that change results, as one line; a resumed study must have the same. */
static void settings_line(const axnn_study_cfg *c, char *b, size_t n)
{
    const axnn_moe_cfg *m = &c->moe;
    char arch[300], data[300], base[8200], units[600], gateway[300];
    study_json_quote(arch, sizeof arch, c->arch);
    study_json_quote(data, sizeof data, c->data);
    study_json_quote(base, sizeof base, c->base_path ? c->base_path : "");
    study_json_quote(units, sizeof units, m->units ? m->units : "");
    study_json_quote(gateway, sizeof gateway, m->gateway ? m->gateway : "");
    snprintf(b, n,
             "{\"arch\": %s, \"data\": %s, \"size\": %d, \"base\": %s, \"base_epochs\": %d, "
             "\"base_images\": %d, \"base_lr\": %g, \"moe_epochs\": %d, \"moe_images\": %d, \"moe_lr\": %g, "
             "\"calib\": %d, \"calib_method\": \"%s\", \"retrain_epochs\": %d, \"retrain_images\": %d, "
             "\"eval_images\": %d, \"cluster_images\": %d, \"bn_images\": %d, \"lr\": %g, \"wd\": %g, \"momentum\": %g, \"batch\": %d, "
             "\"grad\": \"%s\", \"experts\": %d, \"units\": %s, \"width\": %g, \"aux_weight\": %g, "
             "\"gateway\": %s, \"seed\": %llu}\n",
             arch, data, c->size, base, c->base_epochs, c->base_images, c->base_lr, c->moe_epochs, c->moe_images,
             c->moe_lr, c->calib, axnn_calib_name(c->calib_method), c->retrain_epochs, c->retrain_images,
             c->eval_images, c->cluster_images, c->bn_images, c->lr, c->wd, c->momentum, c->batch,
             c->grad == AXNN_GRAD_TABLE ? "table" : "ste", m->experts, units, m->width, m->aux_weight, gateway,
             (unsigned long long)c->seed);
}

static axnn_status check_settings(const study *s)
{
    char want[16384], path[4200];
    settings_line(s->cfg, want, sizeof want);
    snprintf(path, sizeof path, "%s/study.json", s->cfg->out);
    char *have;
    axnn_status st = study_read_file(path, 1 << 20, &have);
    if (st) return st;
    if (!have) return axnn_write_file_atomic(path, want, strlen(want));
    bool same = !strcmp(have, want);
    free(have);
    if (!same)
        return axnn_error(AXNN_ERR_ARG,
                          "%s holds a study with other settings (see its study.json): use another --out, or the same "
                          "settings to resume it",
                          s->cfg->out);
    return AXNN_OK;
}

/* ---- data and models ---- */

/* The input size stored in the --base checkpoint, or 0. */
static int base_size(const axnn_study_cfg *c)
{
    axnn_st_file *f;
    axnn_ckpt_meta m;
    if (!c->base_path || axnn_st_read(c->base_path, &f)) {
        axnn_clear_error();
        return 0;
    }
    int size = axnn_checkpoint_read_meta(f, &m) ? 0 : m.model.height;
    axnn_st_close(f);
    axnn_clear_error();
    return size;
}

static axnn_status load_data(study *s)
{
    const axnn_study_cfg *c = s->cfg;
    axnn_status st = axnn_dataset_load(c->data, c->data_dir, true, &s->train);
    if (!st) st = axnn_dataset_load(c->data, c->data_dir, false, &s->test);
    if (st) return st;
    axnn_dataset_channel_stats(&s->train, s->pp.mean, s->pp.std);
    int size = c->size > 0 ? c->size : base_size(c);
    if (size <= 0) size = axnn_model_default_size(c->arch, s->train.h, s->train.w);
    if (size < s->train.h || size < s->train.w)
        return axnn_error(AXNN_ERR_ARG, "--size %d is smaller than the %dx%d images", size, s->train.h, s->train.w);
    s->pp.out_h = s->pp.out_w = size;
    s->test_view = s->test;
    if (c->eval_images > 0 && c->eval_images < s->test.n) s->test_view.n = c->eval_images;
    s->mc = (axnn_model_cfg){s->train.c, size, size, s->train.num_classes, 0.0f, c->seed};
    return AXNN_OK;
}

static axnn_status save_model(const study *s, const axnn_graph *g, const char *path)
{
    axnn_ckpt_meta m = {0};
    m.model = g->info;
    m.pre = s->pp;
    m.have_norm = true;
    m.seed = s->cfg->seed;
    snprintf(m.dataset, sizeof m.dataset, "%s", s->cfg->data);
    return axnn_checkpoint_save(path, g, &m, NULL);
}

static axnn_status load_into(axnn_graph *g, const char *path, bool *found)
{
    *found = false;
    struct stat sb;
    if (stat(path, &sb)) return AXNN_OK;
    axnn_st_file *f;
    axnn_status st = axnn_st_read(path, &f);
    if (st) return st;
    st = axnn_graph_load_weights(g, f, true);
    axnn_st_close(f);
    *found = !st;
    return st;
}

static study_train train_cfg(const study *s, int epochs, int images, float lr, double factor)
{
    const axnn_study_cfg *c = s->cfg;
    return (study_train){epochs, images, c->batch, lr, c->wd, c->momentum, c->seed, 2.0 * factor, 0};
}

static int64_t images_of(const axnn_dataset *d, int images) { return images > 0 && images < d->n ? images : d->n; }

static void drop_plan(study *s)
{
    axnn_plan_free(s->plan);
    s->plan = NULL;
    s->plan_graph = NULL;
}

/* The plan for graph g: the current one when it fits, else a new one (batch cfg->batch). */
static axnn_status study_plan(study *s, axnn_graph *g, bool training, axnn_plan **out)
{
    uint64_t step = 0;
    if (s->plan && s->plan_graph == g && (!training || axnn_plan_trainable(s->plan))) {
        *out = s->plan;
        return AXNN_OK;
    }
    if (s->plan && s->plan_graph == g) step = axnn_plan_step(s->plan);
    drop_plan(s);
    axnn_plan_cfg pc = {.batch = s->cfg->batch, .nthreads = axnn_pool_size(s->pool), .training = training};
    axnn_status st = axnn_plan_create(g, &pc, &s->plan);
    if (st) return st;
    axnn_plan_set_step(s->plan, step);
    s->plan_graph = g;
    *out = s->plan;
    return AXNN_OK;
}

static axnn_status finetune(study *s, axnn_graph *g, const study_train *t)
{
    axnn_plan *p;
    axnn_status st = study_plan(s, g, true, &p);
    return st ? st : study_finetune(p, s->pool, &s->train, &s->pp, t, &s->sp);
}

static axnn_status prepare_base(study *s)
{
    const axnn_study_cfg *c = s->cfg;
    axnn_status st = axnn_model_build(c->arch, &s->mc, &s->base);
    if (st) return st;
    s->base_macs = (double)axnn_graph_macs(s->base);
    char path[4200];
    snprintf(path, sizeof path, "%s/models/base.safetensors", c->out);
    bool found;
    st = load_into(s->base, c->base_path ? c->base_path : path, &found);
    if (st || found) return st;
    if (c->base_path) return axnn_error(AXNN_ERR_IO, "%s: no such file", c->base_path);
    snprintf(s->sp.status, sizeof s->sp.status, "training the dense base model");
    study_train t = train_cfg(s, c->base_epochs, c->base_images, c->base_lr, 1.0);
    st = finetune(s, s->base, &t);
    drop_plan(s);
    return st ? st : save_model(s, s->base, path);
}

static axnn_status build_topology(const study *s, int t, axnn_graph **g)
{
    if (s->grid.kinds[t] == AXNN_MOE_DENSE) return axnn_model_build(s->cfg->arch, &s->mc, g);
    axnn_moe_cfg mc = s->cfg->moe;
    mc.kind = s->grid.kinds[t];
    mc.seed = s->cfg->seed;
    return axnn_moe_build(s->base, &mc, g);
}

/* The topology's float model: cached, or made from the base by fine-tuning. */
static axnn_status prepare_topology(study *s, int t, axnn_graph *g)
{
    const axnn_study_cfg *c = s->cfg;
    char path[4200];
    snprintf(path, sizeof path, "%s/models/%s.safetensors", c->out, s->grid.topos[t]);
    bool found;
    axnn_status st = load_into(g, path, &found);
    if (st || found) return st;
    if (s->grid.kinds[t] == AXNN_MOE_DENSE) {
        char bp[4200];
        snprintf(bp, sizeof bp, "%s/models/base.safetensors", c->out);
        st = load_into(g, c->base_path ? c->base_path : bp, &found);
        return st ? st : save_model(s, g, path);
    }
    snprintf(s->sp.status, sizeof s->sp.status, "fine-tuning the %s topology", s->grid.topos[t]);
    axnn_progress_update(s->sp.p, s->sp.done, s->sp.status);
    if (s->grid.kinds[t] == AXNN_MOE_CLUSTER) {
        st = axnn_moe_cluster_fit(g, s->pool, &s->train, &s->pp, c->cluster_images, c->seed);
        study_progress_add(&s->sp, images_of(&s->train, c->cluster_images) / 4);
        if (st) return st;
    }
    if (s->grid.kinds[t] != AXNN_MOE_CLUSTER) {
        st = axnn_moe_init_gates(g, s->pool, &s->train, &s->pp, c->cluster_images, c->seed);
        study_progress_add(&s->sp, images_of(&s->train, c->cluster_images) / 2);
        if (st) return st;
    }
    study_train tr = train_cfg(s, c->moe_epochs, c->moe_images, c->moe_lr, s->factor[t]);
    st = finetune(s, g, &tr);
    return st ? st : save_model(s, g, path);
}

/* ---- cells ---- */

static axnn_status evaluate(study *s, axnn_graph *g, int t, double *acc)
{
    axnn_plan *p;
    axnn_status st = study_plan(s, g, false, &p);
    if (st) return st;
    axnn_moe_reset_stats(p);
    axnn_eval_result r;
    st = axnn_evaluate_plan(p, s->pool, &s->test_view, &s->pp, NULL, &r);
    if (st) return st;
    *acc = r.accuracy;
    study_progress_add(&s->sp, (int64_t)((double)s->test_view.n * s->factor[t]));
    return AXNN_OK;
}

static void cell_costs(const study *s, const axnn_graph *g, study_cell *c, bool after)
{
    axnn_moe_cost cost;
    const axnn_plan *plan = s->plan_graph == g ? s->plan : NULL; /* the routing of the last evaluation */
    axnn_moe_cost_of(g, plan, &cost);
    double p = axnn_moe_pnorm(cost.eff_macs, s->base_macs, cost.f_apx, c->p_mul, c->p_exact);
    c->static_macs = cost.static_macs;
    c->f_apx = cost.f_apx;
    if (after) {
        c->eff_after = cost.eff_macs;
        c->pnorm_after = c->p_mul > 0 ? p : -1;
    } else {
        c->eff_before = cost.eff_macs;
        c->pnorm_before = c->p_mul > 0 ? p : -1;
    }
    c->nunits = axnn_moe_units(g) < STUDY_MAX_UNITS ? axnn_moe_units(g) : STUDY_MAX_UNITS;
    for (int u = 0; u < c->nunits; u++) {
        snprintf(c->unit_names[u], sizeof c->unit_names[u], "%s", axnn_moe_unit_name(g, u));
        c->experts = plan ? axnn_moe_loads(plan, u, c->loads[u]) : 0;
    }
}

static axnn_status attach(study *s, axnn_graph *g, const char *mul, axnn_grad_mode grad)
{
    axnn_quant_cfg qc = {.mul = mul, .grad = grad};
    return axnn_quant_reattach(g, &qc);
}

static void cell_init(const study *s, study_cell *c, int t, const char *mul, axnn_grad_mode grad)
{
    memset(c, 0, sizeof *c);
    snprintf(c->topo, sizeof c->topo, "%s", s->grid.topos[t]);
    snprintf(c->mul, sizeof c->mul, "%s", mul);
    snprintf(c->grad, sizeof c->grad, "%s", grad == AXNN_GRAD_TABLE ? "table" : "ste");
    axnn_mul *m;
    if (!axnn_mul_get(mul, &m)) {
        c->p_mul = m->power_mw;
        c->p_est = m->power_estimated;
        axnn_mul_free(m);
    }
    c->p_exact = s->p_exact;
}

/* One cell: reload the float weights, attach the multiplier, evaluate, retrain, evaluate. */
static axnn_status run_cell(study *s, axnn_graph *g, int t, const axnn_st_file *w, const char *mul,
                           axnn_grad_mode grad, const char *path, study_cell *c)
{
    const axnn_study_cfg *cfg = s->cfg;
    axnn_status st = AXNN_OK;
    if (c->have_after) return AXNN_OK;
    const study_cell old = *c;
    const bool had_before = c->have_before;
    cell_init(s, c, t, mul, grad);
    snprintf(s->sp.status, sizeof s->sp.status, "%s x %s%s", s->grid.topos[t], mul, grad == cfg->grad ? "" : " (other gradient)");
    st = axnn_graph_load_weights(g, w, true);
    if (!st) st = attach(s, g, mul, grad);
    axnn_moe_freeze_gates(g, true);
    if (!st && had_before) { /* resumed: the "before" half is saved */
        *c = old;
        study_progress_add(&s->sp, (int64_t)((double)s->test_view.n * s->factor[t]));
    } else if (!st) {
        st = evaluate(s, g, t, &c->acc_before);
        c->have_before = !st;
        if (!st) cell_costs(s, g, c, false);
    }
    if (!st && !had_before) st = study_cell_save(path, c);
    double t0 = axnn_now();
    study_train tr = train_cfg(s, cfg->retrain_epochs, cfg->retrain_images, cfg->lr, s->factor[t]);
    tr.bn_images = cfg->bn_images;
    if (!st) st = finetune(s, g, &tr);
    c->retrain_seconds = axnn_now() - t0;
    if (!st) st = evaluate(s, g, t, &c->acc_after);
    if (!st) {
        c->have_after = true;
        cell_costs(s, g, c, true);
        st = study_cell_save(path, c);
    }
    axnn_moe_freeze_gates(g, false);
    return st;
}

static axnn_status float_accuracy(study *s, int t, axnn_graph *g)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/cells/%s/float.json", s->cfg->out, s->grid.topos[t]);
    study_cell c;
    axnn_status st = study_cell_load_warn(path, s->grid.topos[t], "float", "ste", &c);
    if (st) return st;
    if (c.have_before) {
        s->float_acc[t] = c.acc_before;
        return AXNN_OK;
    }
    cell_init(s, &c, t, "float", AXNN_GRAD_STE);
    st = evaluate(s, g, t, &c.acc_before);
    c.have_before = true;
    s->float_acc[t] = c.acc_before;
    cell_costs(s, g, &c, false);
    return st ? st : study_cell_save(path, &c);
}

/* Whether the cell (t, m) is this run's to do. */
static bool owns(const study *s, int t, int m)
{
    return study_shard_owns(&s->grid, s->cfg->shard_k, s->cfg->shard_n, study_grid_index(&s->grid, t, m));
}

static int cells_of(const study *s, int t) /* the topology's cells, comparison included */
{
    return s->grid.nmuls + (s->grid.kinds[t] == AXNN_MOE_DENSE ? s->grid.ntmuls : 0);
}

static axnn_status run_topology(study *s, int t)
{
    const axnn_study_cfg *c = s->cfg;
    if (!s->touch[t]) return AXNN_OK;
    axnn_graph *g = NULL;
    axnn_st_file *w = NULL;
    char path[4200];
    snprintf(path, sizeof path, "%s/models/%s.safetensors", c->out, s->grid.topos[t]);
    axnn_status st = build_topology(s, t, &g);
    if (!st) st = prepare_topology(s, t, g);
    if (!st) st = float_accuracy(s, t, g);
    if (!st) st = axnn_st_read(path, &w);
    bool calibrated = false;
    for (int m = 0; m < cells_of(s, t) && !st; m++) {
        study_cell *cell = cell_of(s, t, m);
        if (!owns(s, t, m) || cell->have_after) continue;
        if (!calibrated) {
            snprintf(s->sp.status, sizeof s->sp.status, "calibrating %s", s->grid.topos[t]);
            axnn_quant_cfg qc = {0};
            st = axnn_graph_load_weights(g, w, true);
            if (!st) st = axnn_quant_attach(g, &qc);
            if (!st) st = axnn_quant_calibrate(g, s->pool, &s->train, &s->pp, c->calib, c->calib_method, 99.99f);
            study_progress_add(&s->sp, (int64_t)(c->calib * s->factor[t]));
            calibrated = !st;
            if (st) break;
        }
        char cp[4400];
        cell_path(s, t, m, cp, sizeof cp);
        st = run_cell(s, g, t, w, study_grid_mul(&s->grid, m), study_grid_grad(&s->grid, m), cp, cell);
    }
    axnn_st_close(w);
    drop_plan(s);
    axnn_graph_free(g);
    return st;
}

/* ---- work estimate for the progress bar ---- */

static bool exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0;
}

/* Reads this run's finished cells (a bad file is redone, with a warning) and sizes the work. */
static axnn_status estimate(study *s)
{
    const axnn_study_cfg *c = s->cfg;
    const study_grid *gr = &s->grid;
    char p[4400];
    int64_t total = 0;
    snprintf(p, sizeof p, "%s/models/base.safetensors", c->out);
    if (!c->base_path && !exists(p)) total += (int64_t)(2.0 * c->base_epochs * images_of(&s->train, c->base_images));
    const double ev = (double)s->test_view.n,
                 rt = 2.0 * c->retrain_epochs * images_of(&s->train, c->retrain_images) + c->bn_images;
    for (int t = 0; t < gr->ntopos; t++) {
        for (int m = 0; m < cells_of(s, t); m++) s->touch[t] = s->touch[t] || owns(s, t, m);
        if (!s->touch[t]) continue;
        axnn_graph *g = NULL;
        axnn_status st = build_topology(s, t, &g);
        if (st) return st;
        axnn_moe_cost cost;
        axnn_moe_cost_of(g, NULL, &cost);
        axnn_graph_free(g);
        double f = s->factor[t] = cost.eff_macs / s->base_macs;
        snprintf(p, sizeof p, "%s/models/%s.safetensors", c->out, gr->topos[t]);
        if (!exists(p) && gr->kinds[t] != AXNN_MOE_DENSE)
            total += (int64_t)(f * 2.0 * c->moe_epochs * images_of(&s->train, c->moe_images)) +
                     images_of(&s->train, c->cluster_images) / 2;
        total += (int64_t)(f * (ev + c->calib));
        for (int m = 0; m < cells_of(s, t); m++) {
            if (!owns(s, t, m)) continue;
            const bool extra = m >= gr->nmuls;
            axnn_grad_mode grad = study_grid_grad(gr, m);
            study_cell *cell = cell_of(s, t, m);
            cell_path(s, t, m, p, sizeof p);
            st = study_cell_load_warn(p, gr->topos[t], study_grid_mul(gr, m), grad == AXNN_GRAD_TABLE ? "table" : "ste",
                                      cell);
            if (st) return st;
            if (!cell->have_after) total += (int64_t)(f * ((cell->have_before ? 0 : ev) + rt * (extra ? 3 : 1) + ev));
        }
    }
    s->sp.total = total;
    return AXNN_OK;
}

/* Removes temporary files that a killed run left behind (axnn_write_file_atomic's "*.tmp.*"). */
static void clean_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        if (!strstr(e->d_name, ".tmp.")) continue;
        char p[4400];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
}

/* Everything about the folder is checked before any work: it can be written, it holds this
 * shard (or the whole study) of this grid, and the same settings. */
static axnn_status prepare_dirs(study *s)
{
    char p[4200];
    const int cells = study_grid_ncells(&s->grid), k = s->cfg->shard_k, n = s->cfg->shard_n;
    if (n > cells) /* before the folder is made */
        return axnn_error(AXNN_ERR_ARG, "--shard %d/%d: the study has only %d cells, so at most %d shards", k, n, cells,
                          cells);
    static const char *const outputs[] = {"study.json", "shard.json", "report.md", "results.csv", "results.json",
                                          "accuracy_by_multiplier.png", "accuracy_vs_power.png", NULL};
    axnn_status st = study_check_out(s->cfg->out);
    if (!st) st = axnn_output_files(s->cfg->out, outputs);
    if (!st) st = study_shard_prepare(s->cfg->out, &s->grid, s->cfg->shard_k, s->cfg->shard_n);
    snprintf(p, sizeof p, "%s/models", s->cfg->out);
    if (!st) st = study_mkdir_p(p);
    clean_tmp(s->cfg->out);
    clean_tmp(p);
    for (int t = 0; t < s->grid.ntopos && !st; t++) {
        snprintf(p, sizeof p, "%s/cells/%s", s->cfg->out, s->grid.topos[t]);
        st = study_mkdir_p(p);
        clean_tmp(p);
    }
    return st ? st : check_settings(s);
}

static axnn_status report(study *s, double seconds)
{
    study_report r = {.cfg = s->cfg, .arch = s->base->info.arch, .data = s->cfg->data, .ntopos = s->grid.ntopos,
                      .nmuls = s->grid.nmuls, .base_macs = s->base_macs, .cells = s->cells, .extra = s->extra,
                      .nextra = s->grid.ntmuls, .seconds = seconds};
    memcpy(r.topos, s->grid.topos, sizeof r.topos);
    memcpy(r.muls, s->grid.muls, sizeof r.muls);
    memcpy(r.float_acc, s->float_acc, sizeof r.float_acc);
    return study_write_report(&r);
}

axnn_status axnn_study_run(const axnn_study_cfg *cfg, axnn_progress *prog)
{
    study s = {.cfg = cfg};
    s.sp.p = prog;
    double t0 = axnn_now();
    axnn_status st = parse_lists(&s);
    if (!st) st = prepare_dirs(&s);
    if (!st)
        axnn_log(AXNN_LOG_INFO, "study: %s on %s, topologies %s, multipliers %s, %d threads, folder %s", cfg->arch,
                 cfg->data, cfg->topologies, cfg->muls, cfg->threads, cfg->out);
    if (!st) st = load_data(&s);
    if (!st) {
        s.pool = axnn_pool_create(cfg->threads > 0 ? cfg->threads : axnn_default_threads(), NULL);
        s.cells = calloc((size_t)(s.grid.ntopos * s.grid.nmuls), sizeof *s.cells);
        s.extra = calloc((size_t)s.grid.ntmuls + 1, sizeof *s.extra);
        if (!s.pool || !s.cells || !s.extra) st = axnn_error(AXNN_ERR_NOMEM, "out of memory");
    }
    if (!st) st = axnn_model_build(cfg->arch, &s.mc, &s.base);
    if (!st) {
        s.base_macs = (double)axnn_graph_macs(s.base);
        st = estimate(&s);
        if (!st) st = study_shard_record(cfg->out, s.base->info.arch, s.base_macs, -1);
        axnn_graph_free(s.base);
        s.base = NULL;
    }
    if (!st) {
        axnn_progress_begin(prog, "study", s.sp.total, "u");
        st = prepare_base(&s);
    }
    for (int t = 0; t < s.grid.ntopos && !st; t++) st = run_topology(&s, t);
    if (!st) {
        snprintf(s.sp.status, sizeof s.sp.status, "done");
        axnn_progress_end(prog, "done");
        /* a shard records its time; the merge writes the report */
        st = cfg->shard_n > 0 ? study_shard_record(cfg->out, s.base->info.arch, s.base_macs, axnn_now() - t0)
                              : report(&s, axnn_now() - t0);
    }
    axnn_graph_free(s.base);
    axnn_pool_destroy(s.pool);
    free(s.cells);
    free(s.extra);
    axnn_dataset_free(&s.train);
    axnn_dataset_free(&s.test);
    return st;
}
