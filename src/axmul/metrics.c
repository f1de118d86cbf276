/* Error metrics of a multiplier table, and their comparison with a file's claimed values.
 *
 * Definitions follow EvoApproxLib, over all 65,536 operand pairs with e = approx - exact:
 * MAE = mean |e|, MAE% = MAE / 2^16 * 100, WCE = max |e|, WCE% = WCE / 2^16 * 100,
 * WCRE% = max |e| / max(1, |exact|) * 100, MRE% = mean |e| / max(1, |exact|) * 100,
 * EP% = % of pairs with e != 0, MSE = mean e^2; we add bias = mean e and the (population)
 * standard deviation of e. Sums of e and e^2 are exact integers, so MAE, MSE, bias and std do
 * not depend on summation order.
 *
 * Headers print their values with few digits, some truncated ("MAE% = 0.0064" for 0.00648),
 * some rounded ("MAE = 4.2" for 4.25, "MRE% = 0.90" for 0.8954). With u one unit of the last
 * printed digit, truncation gives computed - claimed in [0, u) and rounding in [-u/2, u/2], so a
 * claim agrees when computed - claimed lies in [-u/2, u) (with a relative slack of 1e-6 for the
 * decimal/binary conversion): "WCE = 17" accepts 17 but neither 16 nor 18.
 */
#include "axmul_impl.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const axmul_field axmul_fields[AXMUL_NFIELDS] = {
    {"MAE%", "mae_pct", offsetof(axnn_mul_metrics, mae_pct)},
    {"MAE", "mae", offsetof(axnn_mul_metrics, mae)},
    {"WCE%", "wce_pct", offsetof(axnn_mul_metrics, wce_pct)},
    {"WCE", "wce", offsetof(axnn_mul_metrics, wce)},
    {"WCRE%", "wcre_pct", offsetof(axnn_mul_metrics, wcre_pct)},
    {"EP%", "ep_pct", offsetof(axnn_mul_metrics, ep_pct)},
    {"MRE%", "mre_pct", offsetof(axnn_mul_metrics, mre_pct)},
    {"MSE", "mse", offsetof(axnn_mul_metrics, mse)},
};

void axmul_metrics_nan(axnn_mul_metrics *m)
{
    m->mae = m->mae_pct = m->wce = m->wce_pct = m->wcre_pct = NAN;
    m->mre_pct = m->ep_pct = m->mse = m->bias = m->std = NAN;
}

void axnn_mul_compute_metrics(const int32_t *table, axnn_mul_metrics *out)
{
    const double n = AXNN_MUL_ENTRIES;
    int64_t se = 0, sae = 0, sse = 0, ep = 0, wce = 0;
    double sre = 0.0, wcre = 0.0;
    for (int a = -128; a < 128; a++)
        for (int b = -128; b < 128; b++) {
            int64_t x = a * b, e = (int64_t)table[AXMUL_IDX(a, b)] - x;
            int64_t ae = e < 0 ? -e : e;
            se += e;
            sae += ae;
            sse += e * e;
            ep += e != 0;
            if (ae > wce) wce = ae;
            double r = (double)ae / (double)(x == 0 ? 1 : (x < 0 ? -x : x));
            sre += r;
            if (r > wcre) wcre = r;
        }
    out->mae = (double)sae / n;
    out->mae_pct = out->mae / n * 100.0;
    out->wce = (double)wce;
    out->wce_pct = (double)wce / n * 100.0;
    out->wcre_pct = wcre * 100.0;
    out->mre_pct = sre / n * 100.0;
    out->ep_pct = (double)ep / n * 100.0;
    out->mse = (double)sse / n;
    out->bias = (double)se / n;
    __int128 var_n2 = (__int128)AXNN_MUL_ENTRIES * sse - (__int128)se * se; /* n^2 var */
    out->std = sqrt((double)var_n2) / n;
}

int axnn_mul_check_claims(const axnn_mul *m, int *ncompared, char *msg, size_t msg_size)
{
    int bad = 0, cmp = 0;
    size_t used = 0;
    if (msg && msg_size) msg[0] = 0;
    for (int i = 0; i < AXMUL_NFIELDS; i++) {
        double c = axmul_field_get(&m->claimed, i), v = axmul_field_get(&m->metrics, i);
        double u = axmul_field_get(&m->claimed_unit, i);
        if (isnan(c)) continue;
        cmp++;
        double d = v - c;
        if (isnan(u) ? fabs(d) <= 1e-9 * fmax(1.0, fabs(c))
                     : d >= -0.5 * u * (1 + 1e-6) && d < u * (1 - 1e-6))
            continue;
        bad++;
        if (msg && used < msg_size) {
            int k = snprintf(msg + used, msg_size - used, "%s%s: header %.10g, computed %.6g",
                             used ? "; " : "", axmul_fields[i].label, c, v);
            if (k > 0) used += (size_t)k;
        }
    }
    if (ncompared) *ncompared = cmp;
    return bad;
}
