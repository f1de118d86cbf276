/* Error metrics of a multiplier table, and their comparison with a file's claimed values.
 *
 * Definitions follow EvoApproxLib. Over all 65,536 operand pairs, with x = exact product and
 * e = approx - x:
 *   MAE  = mean |e|              MAE% = MAE / 2^16 * 100
 *   WCE  = max |e|               WCE% = WCE / 2^16 * 100
 *   EP%  = % of pairs with e != 0
 *   MSE  = mean e^2
 * and over the pairs whose exact product is non-zero only (65,025 of them for int8 x int8,
 * 65,025 for uint8 x uint8):
 *   MRE% = mean (|e| / |x|) * 100       WCRE% = max (|e| / |x|) * 100
 * The last two were checked against the header values of all 99 mul8s/mul8u C files of
 * EvoApproxLib (master and v2022 branches): averaging |e| / max(1, |x|) over all pairs instead
 * misses 73 of the 99 MRE% headers (e.g. mul8s_1L2J: 4.378 against 4.41; the definition here
 * gives 4.412), and taking WCRE over all pairs misses 6 WCRE% headers of unsigned circuits.
 * We add bias = mean e and the (population) standard deviation of e.
 *
 * No integer can overflow, whatever the table holds: |e| <= 2^31 + 2^14, so sums of e and |e|
 * fit int64 (2^16 terms), e^2 < 2^63 fits uint64 and its sum is kept in unsigned __int128, and
 * n^2 var = n sum e^2 - (sum e)^2 < 2^96 fits __int128. These sums are exact, so MAE, MSE, bias
 * and std do not depend on summation order.
 *
 * Headers print their values with few digits, some truncated ("MAE% = 0.0064" for 0.00648),
 * some rounded ("MAE = 4.2" for 4.25, "MRE% = 0.90" for 0.9024). With u one unit of the last
 * printed digit, truncation gives computed - claimed in [0, u) and rounding in [-u/2, u/2], so a
 * claim agrees when computed - claimed lies in [-u/2, u) (with a relative slack of 1e-6 for the
 * decimal/binary conversion): "WCE = 17" accepts 17 but neither 16 nor 18. One more case is
 * accepted for MAE% and WCE%: a percentage that is its own header's absolute claim divided by
 * 655.36, at the percentage's precision, when that absolute claim agrees. EvoApproxLib derived
 * some percentages from the rounded absolute value: mul8s_1KVA (master) and mul8s_1KV8
 * (v2022) print "MAE = 1.2" and "MAE% = 0.0018" (= 1.2 / 655.36) for an MAE of 1.25
 * (0.0019%). With that rule all 99 files agree on all 8 metrics.
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

/* |e| / |x| over the pairs with x != 0; `x` is the exact product. */
static void relative_error(int64_t ae, int64_t x, double *sum, double *max, int64_t *count)
{
    if (x == 0) return;
    double r = (double)ae / (double)(x < 0 ? -x : x);
    *sum += r;
    if (r > *max) *max = r;
    (*count)++;
}

void axmul_metrics_of(const int32_t *table, bool is_unsigned, axnn_mul_metrics *out)
{
    const double n = AXNN_MUL_ENTRIES;
    int64_t se = 0, sae = 0, ep = 0, wce = 0, nrel = 0;
    unsigned __int128 sse = 0;
    double sre = 0.0, wcre = 0.0;
    for (int i = 0; i < 256; i++)
        for (int j = 0; j < 256; j++) {
            int a = is_unsigned ? i : i - 128, b = is_unsigned ? j : j - 128;
            int64_t x = (int64_t)a * b, e = (int64_t)table[i * 256 + j] - x;
            int64_t ae = e < 0 ? -e : e;
            se += e;
            sae += ae;
            sse += (uint64_t)ae * (uint64_t)ae;
            ep += e != 0;
            if (ae > wce) wce = ae;
            relative_error(ae, x, &sre, &wcre, &nrel);
        }
    out->mae = (double)sae / n;
    out->mae_pct = out->mae / n * 100.0;
    out->wce = (double)wce;
    out->wce_pct = (double)wce / n * 100.0;
    out->wcre_pct = wcre * 100.0;
    out->mre_pct = sre / (double)nrel * 100.0;
    out->ep_pct = (double)ep / n * 100.0;
    out->mse = (double)sse / n;
    out->bias = (double)se / n;
    __int128 var_n2 = (__int128)AXNN_MUL_ENTRIES * (__int128)sse - (__int128)se * se;
    out->std = sqrt((double)var_n2) / n;
}

void axnn_mul_compute_metrics(const int32_t *table, axnn_mul_metrics *out)
{
    axmul_metrics_of(table, false, out);
}

/* Whether `v` agrees with the claim `c` printed with unit `u` (NaN: compare exactly). */
static bool claim_agrees(double c, double u, double v)
{
    double d = v - c;
    if (isnan(u)) return fabs(d) <= 1e-9 * fmax(1.0, fabs(c));
    return d >= -0.5 * u * (1 + 1e-6) && d < u * (1 - 1e-6);
}

static int field_index(const char *key)
{
    for (int i = 0; i < AXMUL_NFIELDS; i++)
        if (!strcmp(axmul_fields[i].key, key)) return i;
    return -1;
}

/* MAE% or WCE% that is its header's own (agreeing) absolute claim / 655.36 (see above). */
static bool derived_pct_agrees(const axnn_mul *m, int i)
{
    const char *abs_key = !strcmp(axmul_fields[i].key, "mae_pct")   ? "mae"
                          : !strcmp(axmul_fields[i].key, "wce_pct") ? "wce"
                                                                    : NULL;
    int k = abs_key ? field_index(abs_key) : -1;
    if (k < 0) return false;
    double c = axmul_field_get(&m->claimed, k), u = axmul_field_get(&m->claimed_unit, k);
    if (isnan(c) || !claim_agrees(c, u, axmul_field_get(&m->metrics, k))) return false;
    return claim_agrees(axmul_field_get(&m->claimed, i), axmul_field_get(&m->claimed_unit, i),
                        c / AXNN_MUL_ENTRIES * 100.0);
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
        if (claim_agrees(c, u, v) || derived_pct_agrees(m, i)) continue;
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

void axnn_mul_compute_metrics_unsigned(const int32_t *utable, axnn_mul_metrics *out)
{
    axmul_metrics_of(utable, true, out);
}
