/* The dispatcher's training targets and loss (docs/dispatch.md has the formulas).
 *
 * Labels: the index of the cheapest zoo model that classifies the sample correctly; when none
 * does, a documented choice (the most accurate model on the split by default: the best bet).
 *
 * Loss: a cross-entropy on the true class plus, for every other class j, the complement
 * log-loss -log(1 - p_j) scaled by the penalty P[t, j] / 100, all times the class weight of the
 * true class. With P = 0 and no weighting it is the plain cross-entropy. The penalty matrix is
 * asymmetric: the search may make sending a sample to a model cheaper than needed (below the
 * diagonal) dearer than sending it to a dearer one. All sums run in double; 1 - p_j is computed
 * as the sum of the other exponentials, so it never cancels to zero.
 */
#include "axnn/dispatch.h"

#include <math.h>
#include <stdlib.h>

void axnn_dispatch_labels(const uint8_t *correct, int64_t n, int m, const double *cost,
                          axnn_none_policy none, int32_t *labels)
{
    int64_t hits[AXNN_ZOO_MAX] = {0};
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < m; j++) hits[j] += correct[i * m + j] != 0;
    int fallback = 0;
    for (int j = 1; j < m; j++) {
        bool better;
        switch (none) {
        case AXNN_NONE_CHEAPEST:
            better = cost[j] < cost[fallback];
            break;
        case AXNN_NONE_DEAREST:
            better = cost[j] > cost[fallback];
            break;
        default:
            better =
                hits[j] > hits[fallback] || (hits[j] == hits[fallback] && cost[j] < cost[fallback]);
        }
        if (better) fallback = j;
    }
    for (int64_t i = 0; i < n; i++) {
        int best = -1;
        for (int j = 0; j < m; j++)
            if (correct[i * m + j] && (best < 0 || cost[j] < cost[best])) best = j;
        labels[i] = best >= 0 ? best : fallback;
    }
}

const char *axnn_weighting_name(axnn_weighting w)
{
    static const char *const names[] = {"none", "INS", "ISNS", "ENS"};
    return (unsigned)w < 4 ? names[w] : "?";
}

void axnn_class_weights(const int32_t *labels, int64_t n, int k, axnn_weighting w, double beta,
                        double *wc)
{
    int64_t cnt[AXNN_ZOO_MAX] = {0};
    for (int64_t i = 0; i < n; i++)
        if (labels[i] >= 0 && labels[i] < k) cnt[labels[i]]++;
    double sum = 0.0;
    int present = 0;
    for (int c = 0; c < k; c++) {
        double nc = (double)cnt[c];
        if (cnt[c] == 0) {
            wc[c] = 0.0;
            continue;
        }
        switch (w) {
        case AXNN_WEIGHT_INS:
            wc[c] = 1.0 / nc;
            break;
        case AXNN_WEIGHT_ISNS:
            wc[c] = 1.0 / sqrt(nc);
            break;
        case AXNN_WEIGHT_ENS:
            wc[c] = (1.0 - beta) / (1.0 - pow(beta, nc));
            break;
        default:
            wc[c] = 1.0;
        }
        sum += wc[c];
        present++;
    }
    for (int c = 0; c < k; c++) wc[c] = sum > 0 ? wc[c] * present / sum : 0.0;
}

/* Loss of one sample (row z of k logits, true class t); g (may be NULL) gets dL/dz scaled by
 * `scale`. */
static double sample_loss(const float *z, int t, int k, const double *P, double w, double scale,
                          float *g)
{
    double mx = z[0], e[AXNN_ZOO_MAX], s = 0.0;
    for (int j = 1; j < k; j++) mx = z[j] > mx ? z[j] : mx;
    for (int j = 0; j < k; j++) s += e[j] = exp((double)z[j] - mx);
    double loss = -(((double)z[t] - mx) - log(s)), odds[AXNN_ZOO_MAX], S = 0.0;
    for (int j = 0; j < k; j++) {
        double rest = 0.0; /* s - e[j], summed without cancellation */
        for (int l = 0; l < k; l++)
            if (l != j) rest += e[l];
        rest = rest > 1e-300 ? rest : 1e-300;
        odds[j] = e[j] / rest; /* p_j / (1 - p_j) */
        if (j == t) continue;
        double a = P[t * k + j] / 100.0;
        loss -= a * (log(rest) - log(s));
        S += a * odds[j];
    }
    if (g)
        for (int l = 0; l < k; l++) {
            double p = e[l] / s;
            double d = p - (l == t) - p * S + (l != t ? P[t * k + l] / 100.0 * odds[l] : 0.0);
            g[l] = (float)(w * scale * d);
        }
    return w * loss;
}

double axnn_penalty_loss(const float *z, const int32_t *t, int n, int k, const double *P,
                         const double *wc, float *dz)
{
    double sum = 0.0, scale = n > 0 ? 1.0 / n : 0.0;
    for (int i = 0; i < n; i++)
        sum += sample_loss(z + (size_t)i * k, t[i], k, P, wc ? wc[t[i]] : 1.0, scale,
                           dz ? dz + (size_t)i * k : NULL);
    return sum * scale;
}
