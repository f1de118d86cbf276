/* k-means with k-means++ seeding (Arthur and Vassilvitskii 2007) and Lloyd iterations.
 *
 * Seeding: the first centroid is a uniformly drawn point; each next one is drawn with
 * probability proportional to its squared distance to the nearest centroid chosen so far.
 * Lloyd: assign every point to its nearest centroid (lowest index on ties), move each centroid
 * to the mean of its points (an empty cluster takes the point farthest from its centroid), and
 * stop when no assignment changes. Sums are in double; the result depends only on the data
 * and the seed.
 */
#include "axnn/moe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double dist2(const float *a, const float *b, int d)
{
    double s = 0.0;
    for (int j = 0; j < d; j++) {
        double t = (double)a[j] - b[j];
        s += t * t;
    }
    return s;
}

int axnn_kmeans_nearest(const float *c, int k, int d, const float *p)
{
    int best = 0;
    double bd = dist2(c, p, d);
    for (int i = 1; i < k; i++) {
        double di = dist2(c + (int64_t)i * d, p, d);
        if (di < bd) {
            bd = di;
            best = i;
        }
    }
    return best;
}

static void seed_pp(const float *x, int64_t n, int d, int k, axnn_rng *r, float *c, double *dmin)
{
    int64_t first = (int64_t)(axnn_rng_uniform(r) * (double)n);
    memcpy(c, x + (first < n ? first : n - 1) * d, (size_t)d * sizeof(float));
    for (int64_t i = 0; i < n; i++) dmin[i] = dist2(x + i * d, c, d);
    for (int j = 1; j < k; j++) {
        double total = 0.0;
        for (int64_t i = 0; i < n; i++) total += dmin[i];
        double t = axnn_rng_uniform(r) * total, run = 0.0;
        int64_t pick = n - 1;
        for (int64_t i = 0; i < n; i++) {
            run += dmin[i];
            if (run > t && dmin[i] > 0) {
                pick = i;
                break;
            }
        }
        memcpy(c + (int64_t)j * d, x + pick * d, (size_t)d * sizeof(float));
        for (int64_t i = 0; i < n; i++) {
            double di = dist2(x + i * d, c + (int64_t)j * d, d);
            if (di < dmin[i]) dmin[i] = di;
        }
    }
}

/* Moves centroids to their means; an empty cluster takes the worst-fitted point. */
static void update(const float *x, int64_t n, int d, int k, const int *as, float *c, double *sum, int64_t *cnt)
{
    memset(sum, 0, (size_t)k * (size_t)d * sizeof(double));
    memset(cnt, 0, (size_t)k * sizeof(int64_t));
    for (int64_t i = 0; i < n; i++) {
        cnt[as[i]]++;
        for (int j = 0; j < d; j++) sum[(int64_t)as[i] * d + j] += x[i * d + j];
    }
    for (int q = 0; q < k; q++) {
        if (cnt[q] == 0) {
            int64_t worst = 0;
            double wd = -1.0;
            for (int64_t i = 0; i < n; i++) {
                double di = dist2(x + i * d, c + (int64_t)as[i] * d, d);
                if (di > wd) {
                    wd = di;
                    worst = i;
                }
            }
            memcpy(c + (int64_t)q * d, x + worst * d, (size_t)d * sizeof(float));
            continue;
        }
        for (int j = 0; j < d; j++) c[(int64_t)q * d + j] = (float)(sum[(int64_t)q * d + j] / (double)cnt[q]);
    }
}

axnn_status axnn_kmeans(const float *x, int64_t n, int d, int k, int max_iter, uint64_t seed, float *centroids,
                        int *assign, double *inertia)
{
    if (k < 1 || n < k || d < 1) return axnn_error(AXNN_ERR_ARG, "k-means: %lld points cannot make %d clusters", (long long)n, k);
    double *dmin = malloc((size_t)n * sizeof *dmin), *sum = malloc((size_t)k * (size_t)d * sizeof *sum);
    int64_t *cnt = malloc((size_t)k * sizeof *cnt);
    int *as = malloc((size_t)n * sizeof *as);
    if (!dmin || !sum || !cnt || !as) {
        free(dmin), free(sum), free(cnt), free(as);
        return axnn_error(AXNN_ERR_NOMEM, "out of memory");
    }
    axnn_rng r;
    axnn_rng_seed(&r, seed);
    seed_pp(x, n, d, k, &r, centroids, dmin);
    for (int64_t i = 0; i < n; i++) as[i] = -1;
    for (int it = 0; it < max_iter; it++) {
        bool changed = false;
        for (int64_t i = 0; i < n; i++) {
            int q = axnn_kmeans_nearest(centroids, k, d, x + i * d);
            changed = changed || q != as[i];
            as[i] = q;
        }
        if (!changed) break;
        update(x, n, d, k, as, centroids, sum, cnt);
    }
    double in = 0.0;
    for (int64_t i = 0; i < n; i++) {
        as[i] = axnn_kmeans_nearest(centroids, k, d, x + i * d);
        in += dist2(x + i * d, centroids + (int64_t)as[i] * d, d);
    }
    if (inertia) *inertia = in;
    if (assign) memcpy(assign, as, (size_t)n * sizeof *as);
    free(dmin), free(sum), free(cnt), free(as);
    return AXNN_OK;
}
