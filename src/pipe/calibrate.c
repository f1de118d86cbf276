/* Calibration and network profiles: times synthetic layers (the sweep) or a network's layers on
 * every core configuration of a topology, through src/pipe/bench_run.c. A configuration is
 * (core type, k threads) for k = 1 .. the largest group of that type, run on the first k CPUs
 * of the first group of that type. */
#include "axnn/pipe.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

axnn_status axnn_pipe_confs(const axnn_pipe_topo *t, int max_threads, axnn_pipe_conf *conf,
                            int *nconf)
{
    *nconf = 0;
    for (int y = 0; y < t->ntypes; y++) {
        int most = 0;
        for (int g = 0; g < t->ngroups; g++)
            if (t->groups[g].type == y && t->groups[g].n > most) most = t->groups[g].n;
        if (max_threads > 0 && most > max_threads) most = max_threads;
        if (most > AXNN_PIPE_MAX_THREADS) most = AXNN_PIPE_MAX_THREADS;
        for (int k = 1; k <= most; k++) conf[(*nconf)++] = (axnn_pipe_conf){y, k};
    }
    return *nconf ? AXNN_OK : axnn_error(AXNN_ERR_ARG, "topology: no core group");
}

/* The CPUs configuration c runs on. */
static const int *conf_cpus(const axnn_pipe_topo *t, axnn_pipe_conf c)
{
    for (int g = 0; g < t->ngroups; g++)
        if (t->groups[g].type == c.type && t->groups[g].n >= c.threads) return t->groups[g].cpus;
    return NULL;
}

static void profile_header(const axnn_pipe_topo *t, int max_threads, axnn_pipe_profile *p)
{
    memset(p, 0, sizeof *p);
    axnn_pipe_machine_id(p->machine, sizeof p->machine);
    p->ntypes = t->ntypes;
    for (int y = 0; y < t->ntypes; y++) snprintf(p->type_name[y], 32, "%s", t->types[y].name);
    axnn_pipe_confs(t, max_threads, p->conf, &p->nconf);
}

/* Times layer i of `layers` on every configuration into sample s. */
static axnn_status time_layer(const axnn_pipe_topo *t, const axnn_pipe_profile *p,
                              const axnn_pipe_synth *l, const axnn_pipe_bench_opts *o,
                              axnn_pipe_sample *s)
{
    for (int c = 0; c < p->nconf; c++) {
        s->t[c] = NAN;
        if (!l->op) continue;
        const int *cpus = conf_cpus(t, p->conf[c]);
        axnn_pipe_desc d;
        axnn_status st = axnn_pipe_bench_synth(l, cpus, p->conf[c].threads, o, &d, &s->t[c]);
        if (st) return st;
        if (s->d.batch == 0) s->d = d; /* synthetic: the descriptor of the built graph */
    }
    return AXNN_OK;
}

axnn_status axnn_pipe_calibrate(const axnn_pipe_topo *t, bool quick, int max_threads,
                                const axnn_pipe_bench_opts *o, axnn_progress *prog,
                                axnn_pipe_profile *p)
{
    profile_header(t, max_threads, p);
    int n;
    const axnn_pipe_synth *sw = axnn_pipe_sweep(quick, &n);
    p->samples = calloc((size_t)n, sizeof *p->samples);
    if (!p->samples) return axnn_error(AXNN_ERR_NOMEM, "calibrate: out of memory");
    axnn_progress_begin(prog, quick ? "calibrate (quick)" : "calibrate", n, "layers");
    for (int i = 0; i < n; i++) {
        axnn_pipe_sample *s = &p->samples[i];
        snprintf(s->name, sizeof s->name, "%s %dx%dx%d k%d s%d -> %d", sw[i].op, sw[i].c, sw[i].h,
                 sw[i].w, sw[i].k, sw[i].stride, sw[i].cout);
        axnn_status st = time_layer(t, p, &sw[i], o, s);
        if (st) {
            axnn_pipe_profile_free(p);
            return st;
        }
        p->nsamples = i + 1;
        axnn_progress_update(prog, i + 1, NULL);
    }
    axnn_progress_end(prog, NULL);
    return AXNN_OK;
}

axnn_status axnn_pipe_profile_network(const axnn_pipe_topo *t, const char *arch, int channels,
                                      int size, int max_threads, const axnn_pipe_bench_opts *o,
                                      axnn_pipe_profile *p)
{
    profile_header(t, max_threads, p);
    snprintf(p->network, sizeof p->network, "%s", arch);
    axnn_pipe_synth *layers;
    axnn_pipe_desc *descs;
    char(*names)[64];
    bool *cut;
    int n;
    axnn_status s = axnn_pipe_model_layers(arch, channels, size, &layers, &descs, &names, &cut, &n);
    if (s) return s;
    p->samples = calloc((size_t)n, sizeof *p->samples);
    if (!p->samples) s = axnn_error(AXNN_ERR_NOMEM, "profile: out of memory");
    for (int i = 0; !s && i < n; i++) {
        axnn_pipe_sample *x = &p->samples[i];
        snprintf(x->name, sizeof x->name, "%s", names[i]);
        x->d = descs[i];
        axnn_pipe_bench_opts one = *o;
        x->d.batch = one.batch;
        s = time_layer(t, p, &layers[i], &one, x);
        p->nsamples = i + 1;
    }
    if (!s) {
        p->cut = cut;
        cut = NULL;
    }
    free(layers);
    free(descs);
    free(names);
    free(cut);
    if (s) axnn_pipe_profile_free(p);
    return s;
}
