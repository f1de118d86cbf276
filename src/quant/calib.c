/* Calibration of activation scales.
 *
 * The graph runs in float on the first n images while every quantized node records statistics
 * of its input: first the largest magnitude (pass 1), then, for the percentile and MSE methods,
 * a histogram of magnitudes over [0, amax] with AXNN_QHIST bins (pass 2). The scale is then
 *   max:         amax / 127
 *   percentile:  the p-th percentile of |x| / 127
 *   mse:         c / 127 for the clipping value c (a bin edge) that minimizes the expected
 *                squared error of quantizing the histogram, rounding and clipping included.
 */
#include "quant/qstate.h"

#include "kernels/quant/quantize.h"

#include <math.h>
#include <string.h>

void axnn_qnode_observe(axnn_qnode *q, const float *x, int64_t n)
{
    if (q->calib == 1) {
        double m = axnn_absmax(x, n);
        if (m > q->amax) q->amax = m;
        q->count += (uint64_t)n;
    } else if (q->calib == 2 && q->amax > 0) {
        const double k = AXNN_QHIST / q->amax;
        for (int64_t i = 0; i < n; i++) {
            int64_t b = (int64_t)(fabs(x[i]) * k);
            q->hist[b < AXNN_QHIST ? b : AXNN_QHIST - 1]++;
        }
    }
}

static double percentile_value(const axnn_qnode *q, double pct)
{
    uint64_t total = 0;
    for (int b = 0; b < AXNN_QHIST; b++) total += q->hist[b];
    double target = pct / 100.0 * (double)total, run = 0;
    for (int b = 0; b < AXNN_QHIST; b++) {
        run += (double)q->hist[b];
        if (run >= target) return (b + 1) * q->amax / AXNN_QHIST;
    }
    return q->amax;
}

/* Expected squared quantization error of the histogram with clipping value c. */
static double quant_error(const axnn_qnode *q, double c)
{
    const double s = c / 127.0, w = q->amax / AXNN_QHIST;
    double err = 0.0;
    for (int b = 0; b < AXNN_QHIST; b++) {
        if (!q->hist[b]) continue;
        double x = (b + 0.5) * w, r = rint(x / s);
        if (r > 127) r = 127;
        double e = x - r * s;
        err += (double)q->hist[b] * e * e;
    }
    return err;
}

static double mse_value(const axnn_qnode *q)
{
    double best = q->amax, best_err = quant_error(q, q->amax);
    for (int b = AXNN_QHIST / 16; b < AXNN_QHIST; b += 8) {
        double c = (b + 1) * q->amax / AXNN_QHIST, e = quant_error(q, c);
        if (e < best_err) {
            best_err = e;
            best = c;
        }
    }
    return best;
}

static void set_pass(axnn_graph *g, int pass)
{
    for (int k = 0; k < g->nnodes; k++) {
        axnn_qnode *q = axnn_qnode_of(&g->nodes[k]);
        if (!q) continue;
        q->calib = pass;
        if (pass == 1) {
            q->amax = 0;
            q->count = 0;
        }
        if (pass == 2) memset(q->hist, 0, sizeof q->hist);
    }
}

static axnn_status check_args(const axnn_graph *g, int n, axnn_calib_method method, float percentile)
{
    if (!axnn_quant_state_of(g)) return axnn_error(AXNN_ERR_ARG, "graph is not quantized");
    if (n < 1) return axnn_error(AXNN_ERR_ARG, "calibration needs at least 1 image (got %d)", n);
    if (method == AXNN_CALIB_PERCENTILE && !(percentile > 0.0f && percentile <= 100.0f))
        return axnn_error(AXNN_ERR_ARG, "percentile must be in (0, 100] (got %g)", percentile);
    return AXNN_OK;
}

/* Ends calibration: every quantized node's scale from its statistics (unless st failed). */
static void finish(axnn_graph *g, axnn_status st, axnn_calib_method method, float percentile)
{
    for (int k = 0; k < g->nnodes; k++) {
        axnn_qnode *q = axnn_qnode_of(&g->nodes[k]);
        if (!q) continue;
        q->calib = 0;
        if (st) continue;
        double c = method == AXNN_CALIB_MAX ? q->amax
                   : method == AXNN_CALIB_PERCENTILE ? percentile_value(q, percentile)
                                                     : mse_value(q);
        q->in_scale = c > 0 ? (float)(c / 127.0) : 1.0f;
    }
}

static int passes(axnn_calib_method method) { return method == AXNN_CALIB_MAX ? 1 : 2; }

axnn_status axnn_quant_calibrate(axnn_graph *g, axnn_pool *pool, const axnn_dataset *d,
                                 const axnn_preproc *pp, int n, axnn_calib_method method,
                                 float percentile)
{
    axnn_status st = check_args(g, n, method, percentile);
    if (st) return st;
    axnn_dataset view = *d;
    if (view.n > n) view.n = n;
    const int batch = 128;
    axnn_eval_result r;
    for (int pass = 1; pass <= passes(method) && !st; pass++) {
        set_pass(g, pass);
        st = axnn_evaluate(g, pool, &view, pp, batch, NULL, &r);
    }
    finish(g, st, method, percentile);
    return st;
}

axnn_status axnn_quant_calibrate_data(axnn_graph *g, axnn_pool *pool, const float *x, int n,
                                      axnn_calib_method method, float percentile)
{
    axnn_status st = check_args(g, n, method, percentile);
    if (st) return st;
    if (g->input < 0) return axnn_error(AXNN_ERR_ARG, "graph has no image input");
    const int batch = n < 128 ? n : 128;
    const int64_t img = axnn_shape_numel(&g->vals[g->input].shape);
    axnn_plan *p = axnn_plan_new(g, batch, axnn_pool_size(pool), false);
    if (!p) return AXNN_ERR_NOMEM;
    for (int pass = 1; pass <= passes(method) && !st; pass++) {
        set_pass(g, pass);
        for (int i = 0; i < n && !st; i += batch)
            st = axnn_plan_forward(p, pool, x + (int64_t)i * img, NULL, n - i < batch ? n - i : batch);
    }
    axnn_plan_free(p);
    finish(g, st, method, percentile);
    return st;
}
