/* From per-layer times on the host's configurations to the time table of a search problem on
 * some topology, real or simulated.
 *
 * Real topology: a core type of the topology takes the host's times of the type of the same
 * name; thread counts the host did not measure are unavailable.
 *
 * Simulated topology (axnn_pipe_topo_simulate): every core type is the host's (first) core type
 * run at `speed` times its speed, so t(type, k) = t_host(k) / speed. Thread counts beyond the
 * host's largest measured K are extrapolated with Amdahl's law fitted to t(1) and t(K): serial
 * share s = (t(K)/t(1) - 1/K) / (1 - 1/K), clipped to [0, 1], and t(k) = t(1) (s + (1-s)/k).
 * Nothing of this is a measurement of the simulated part: the cache sizes, memory bandwidth and
 * interconnect of the simulated SoC are not modelled, only its per-core speed ratios.
 */
#include "axnn/pipe.h"

#include <math.h>
#include <string.h>

/* Host times of layer l for type ht at k threads: measured, extrapolated (simulated) or inf. */
static double host_time(const axnn_pipe_conf *hc, int hn, const double *th, int l, int ht, int k,
                        bool extrapolate)
{
    double t1 = INFINITY, tk = INFINITY;
    int K = 0;
    for (int c = 0; c < hn; c++) {
        if (hc[c].type != ht) continue;
        double v = th[(size_t)l * hn + c];
        if (!isfinite(v)) continue;
        if (hc[c].threads == k) return v;
        if (hc[c].threads == 1) t1 = v;
        if (hc[c].threads > K) K = hc[c].threads, tk = v;
    }
    if (!extrapolate || K < 2 || !isfinite(t1) || k < K) return INFINITY;
    double s = (tk / t1 - 1.0 / K) / (1 - 1.0 / K);
    s = s < 0 ? 0 : s > 1 ? 1 : s;
    return t1 * (s + (1 - s) / k);
}

axnn_status axnn_pipe_problem_build(axnn_pipe_problem *p, const axnn_pipe_topo *t,
                                    const char (*host_types)[32], int host_ntypes,
                                    const axnn_pipe_conf *hc, int hn, const double *th, int L,
                                    double *time)
{
    int maxk = 1;
    for (int g = 0; g < t->ngroups; g++)
        if (t->groups[g].n > maxk) maxk = t->groups[g].n;
    if (maxk > AXNN_PIPE_MAX_THREADS) maxk = AXNN_PIPE_MAX_THREADS;
    int map[AXNN_PIPE_MAX_TYPES];
    for (int y = 0; y < t->ntypes; y++) {
        map[y] = t->simulated ? 0 : -1;
        for (int h = 0; !t->simulated && h < host_ntypes; h++)
            if (!strcmp(host_types[h], t->types[y].name)) map[y] = h;
        if (map[y] < 0)
            return axnn_error(AXNN_ERR_ARG,
                              "the times have no core type '%s' (measured on: %s); "
                              "give --simulate or --speeds to scale the host's times",
                              t->types[y].name, host_types[0]);
    }
    for (int l = 0; l < L; l++)
        for (int y = 0; y < t->ntypes; y++)
            for (int k = 1; k <= maxk; k++) {
                double v = host_time(hc, hn, th, l, map[y], k, t->simulated);
                time[((size_t)l * t->ntypes + y) * maxk + k - 1] =
                    t->simulated ? v / t->types[y].speed : v;
            }
    memset(p, 0, sizeof *p);
    p->nlayers = L;
    p->ntypes = t->ntypes;
    p->maxthreads = maxk;
    p->time = time;
    p->ngroups = t->ngroups;
    for (int g = 0; g < t->ngroups; g++) {
        p->group_type[g] = t->groups[g].type;
        p->group_size[g] = t->groups[g].n;
    }
    return AXNN_OK;
}
