/* System accuracy and cost of a routing, and the baselines that need no training: the oracle,
 * the confidence cascade and random dispatch at a given cost. Costs are MACs per input.
 *
 * A dispatched input always pays for the extractor (its model without the final linear layer)
 * and the dispatcher's linear layer, then for the routed model; when that is the extractor's
 * own network, its features are already computed and only its last layer remains. */
#include "axnn/dispatch.h"

#include <string.h>

double axnn_dispatcher_macs(const axnn_zoo *z)
{
    return (double)z->d * z->m;
}

double axnn_dispatch_cost(const axnn_zoo *z, double disp_macs, int route)
{
    double base = (z->ext >= 0 ? z->ext_macs : 0.0) + disp_macs;
    if (route == z->ext) return base + z->models[route].macs - z->ext_macs;
    return base + z->models[route].macs;
}

void axnn_dispatch_eval(const axnn_zoo *z, int s, const int32_t *route, double disp_macs,
                        double *acc, double *mean_macs, int64_t *share)
{
    const axnn_zoo_split *p = &z->split[s];
    int64_t cnt[AXNN_ZOO_MAX] = {0}, hits = 0;
    for (int64_t i = 0; i < p->n; i++) {
        cnt[route[i]]++;
        hits += p->correct[i * z->m + route[i]];
    }
    double cost = 0.0;
    for (int j = 0; j < z->m; j++) cost += (double)cnt[j] * axnn_dispatch_cost(z, disp_macs, j);
    *acc = p->n ? (double)hits / (double)p->n : 0.0;
    *mean_macs = p->n ? cost / (double)p->n : 0.0;
    if (share) memcpy(share, cnt, (size_t)z->m * sizeof *share);
}

void axnn_oracle(const axnn_zoo *z, int s, double *acc, double *mean_macs)
{
    const axnn_zoo_split *p = &z->split[s];
    int cheapest = 0;
    for (int j = 1; j < z->m; j++)
        if (z->models[j].macs < z->models[cheapest].macs) cheapest = j;
    int64_t hits = 0;
    double cost = 0.0;
    for (int64_t i = 0; i < p->n; i++) {
        int best = -1;
        for (int j = 0; j < z->m; j++)
            if (p->correct[i * z->m + j] && (best < 0 || z->models[j].macs < z->models[best].macs))
                best = j;
        hits += best >= 0;
        cost += z->models[best >= 0 ? best : cheapest].macs;
    }
    *acc = p->n ? (double)hits / (double)p->n : 0.0;
    *mean_macs = p->n ? cost / (double)p->n : 0.0;
}

/* Model indices by MACs, cheapest first. */
static void by_cost(const axnn_zoo *z, int *ord)
{
    for (int j = 0; j < z->m; j++) ord[j] = j;
    for (int a = 1; a < z->m; a++) {
        int v = ord[a], b = a - 1;
        while (b >= 0 && z->models[ord[b]].macs > z->models[v].macs) {
            ord[b + 1] = ord[b];
            b--;
        }
        ord[b + 1] = v;
    }
}

void axnn_cascade(const axnn_zoo *z, int s, double thr, double *acc, double *mean_macs)
{
    const axnn_zoo_split *p = &z->split[s];
    int ord[AXNN_ZOO_MAX];
    by_cost(z, ord);
    int64_t hits = 0;
    double cost = 0.0;
    for (int64_t i = 0; i < p->n; i++)
        for (int a = 0; a < z->m; a++) {
            int j = ord[a];
            cost += z->models[j].macs;
            if (p->conf[i * z->m + j] >= thr || a == z->m - 1) {
                hits += p->correct[i * z->m + j];
                break;
            }
        }
    *acc = p->n ? (double)hits / (double)p->n : 0.0;
    *mean_macs = p->n ? cost / (double)p->n : 0.0;
}

double axnn_random_at_cost(const axnn_zoo *z, int s, double cost)
{
    int ord[AXNN_ZOO_MAX];
    by_cost(z, ord);
    const axnn_zoo_model *lo = &z->models[ord[0]], *hi = &z->models[ord[z->m - 1]];
    if (cost <= lo->macs) return lo->accuracy[s];
    if (cost >= hi->macs) return hi->accuracy[s];
    for (int a = 0; a + 1 < z->m; a++) {
        const axnn_zoo_model *x = &z->models[ord[a]], *y = &z->models[ord[a + 1]];
        if (cost > y->macs) continue;
        double q = y->macs > x->macs ? (y->macs - cost) / (y->macs - x->macs) : 1.0;
        return q * x->accuracy[s] + (1.0 - q) * y->accuracy[s];
    }
    return hi->accuracy[s];
}
