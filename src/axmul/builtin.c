/* Built-in multiplier families, each a signed 8-bit (two's complement) multiplier built from
 * its published definition. Operands are a (activation) and b (weight), bits a_i, b_j.
 *
 * Array multipliers (exact, trunc:K, bam:H,V). A signed product is the sum of 64 partial
 * products w_ij a_i b_j 2^(i+j) with w_ij = -1 when exactly one of i, j is 7 (the sign bits
 * carry weight -2^7) and +1 otherwise. A Baugh-Wooley array realises the negative cells as
 * inverted bits plus a correction constant. "Dropping a partial product" removes its signed
 * weight: the cell goes, and for an inverted cell the correction constant is re-derived (a
 * designer precomputes that constant anyway). So 0 * x = 0 for every array multiplier here, and
 * for K <= 7 (where only plain AND cells are dropped) trunc:K equals the plain Baugh-Wooley
 * array with the K lowest columns removed, e.g. EvoApproxLib's mul8s_1KV9 is exactly trunc:3.
 * The sum never leaves the int16 range, so the 16-bit hardware output equals it.
 *   trunc:K  drops every cell with i + j < K (K = 0..15; trunc:15 is the zero multiplier).
 *   bam:H,V  Mahdiani et al. 2010, "Bio-inspired imprecise computational blocks...": the
 *            broken-array multiplier omits the carry-save cells of the H lowest rows and of the
 *            V lowest columns. Convention here: row j holds the partial products of the weight
 *            bit b_j (the rows of a b-by-a array), so cell (i, j) is dropped when j < H or
 *            i + j < V (H = 0..8, V = 0..15; bam:0,V = trunc:V).
 * Sign-magnitude multipliers (drum:K, mitchell, udm) multiply the magnitudes |a|, |b| (0..128)
 * with the approximate unsigned core and give the product the sign of a*b:
 *   drum:K   Hashemi, Bahar, Reda 2015, "DRUM: A Dynamic Range Unbiased Multiplier": a
 *            magnitude x >= 2^K keeps its K bits from the leading one at position t, the lowest
 *            kept bit (position t-K+1) is set to 1 to unbias the truncation, and the K x K
 *            product is shifted back: x' = ((x >> s) | 1) << s with s = t - K + 1; x < 2^K is
 *            used as is. K = 3..8 (K < 3 would let 128' * 128' overflow 16 bits; drum:8 is exact
 *            on 8-bit magnitudes).
 *   mitchell Mitchell 1962: x = 2^k1 (1 + f1), y = 2^k2 (1 + f2); log2 x ~ k1 + f1; the
 *            product is 2^(k1+k2) (1 + f1 + f2) when f1 + f2 < 1, else 2^(k1+k2+1) (f1 + f2).
 *            With 7-bit fractions the fixed-point arithmetic is exact, so the result is an
 *            integer: 2^(k1+k2) + s or 2 s with s = (x - 2^k1) 2^k2 + (y - 2^k2) 2^k1.
 *   udm      Kulkarni, Gupta, Ercegovac 2011, "Trading accuracy for power with an
 *            underdesigned multiplier architecture": 2x2-bit blocks that give 3 * 3 = 7 (the
 *            only wrong entry, saving the block's fourth output bit), combined exactly over the
 *            4 x 4 two-bit digits of the 8-bit magnitudes.
 *
 * Power estimates (power_estimated = true; area and delay unknown). Reference: EvoApproxLib's
 * exact signed 8x8 multiplier in PDK45, 0.425 mW (its area 729.8 um2 and delay 1.48 ns are
 * given for "exact" only, labelled as that reference). First-order cell-count model: power is
 * proportional to the partial-product cells kept, 0.425 mW * cells / 64:
 *   trunc, bam: kept cells; drum:K: K*K core cells plus 24 cell-equivalents for the two
 *   leading-one detectors/selectors and the output shifter; mitchell: 40 cell-equivalents
 *   (two leading-one detectors and encoders, an adder, a decoder/shifter; no partial products);
 *   udm: 0.8 * exact (the 2x2 blocks, about half of the design, lose 3 of their 8 gates, after
 *   Kulkarni et al.'s block-level savings). These are rough guides for ranking, not figures to
 *   quote.
 */
#include "axmul_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXACT_PWR 0.425
#define EXACT_AREA 729.8
#define EXACT_DELAY 1.48

static const char *const families[] = {
    "exact      the exact product (power/area/delay: EvoApproxLib's exact mul8s, PDK45, "
    "reference)",
    "trunc:K    Baugh-Wooley array, partial products of the K lowest columns dropped, K = 0..15",
    "bam:H,V    broken array (Mahdiani 2010): rows b_0..b_H-1 and columns 0..V-1 omitted, "
    "H = 0..8, V = 0..15",
    "drum:K     DRUM (Hashemi 2015): magnitudes keep K bits from the leading one, lowest kept "
    "bit set, K = 3..8",
    "mitchell   Mitchell's logarithmic multiplier (1962) on magnitudes",
    "udm        Kulkarni's underdesigned multiplier (2011): 2x2 blocks with 3*3 = 7, on "
    "magnitudes",
    NULL,
};

const char *const *axnn_mul_families(void)
{
    return families;
}

/* ---------------------------------------------------------------- arrays ---- */

/* keep[i]: bit j set when cell (i, j) = a_i b_j is kept. */
static int array_product(int a, int b, const uint8_t keep[8])
{
    unsigned ua = (uint8_t)a, ub = (uint8_t)b;
    int s = 0;
    for (int i = 0; i < 8; i++) {
        if (!((ua >> i) & 1)) continue;
        for (int j = 0; j < 8; j++) {
            if (!((keep[i] >> j) & 1) || !((ub >> j) & 1)) continue;
            int w = (i == 7) != (j == 7) ? -1 : 1;
            s += w * (1 << (i + j));
        }
    }
    return s;
}

static int count_cells(const uint8_t keep[8])
{
    int n = 0;
    for (int i = 0; i < 8; i++) n += __builtin_popcount(keep[i]);
    return n;
}

static void fill_array(axnn_mul *m, int h, int v)
{
    uint8_t keep[8];
    for (int i = 0; i < 8; i++) {
        keep[i] = 0;
        for (int j = 0; j < 8; j++)
            if (j >= h && i + j >= v) keep[i] |= (uint8_t)(1u << j);
    }
    for (int a = -128; a < 128; a++)
        for (int b = -128; b < 128; b++) m->table[AXMUL_IDX(a, b)] = array_product(a, b, keep);
    m->power_mw = EXACT_PWR * count_cells(keep) / 64.0;
}

/* ---------------------------------------------------------------- sign-magnitude ---- */

static int top_bit(int x)
{
    return 31 - __builtin_clz((unsigned)x);
}

static int drum_operand(int x, int k)
{
    if (x < (1 << k)) return x;
    int s = top_bit(x) - k + 1;
    return ((x >> s) | 1) << s;
}

static int mitchell_mag(int x, int y)
{
    if (!x || !y) return 0;
    int k1 = top_bit(x), k2 = top_bit(y);
    int s = ((x - (1 << k1)) << k2) + ((y - (1 << k2)) << k1);
    return s < (1 << (k1 + k2)) ? (1 << (k1 + k2)) + s : 2 * s;
}

static int udm_mag(int x, int y)
{
    int s = 0;
    for (int p = 0; p < 4; p++)
        for (int q = 0; q < 4; q++) {
            int dx = (x >> (2 * p)) & 3, dy = (y >> (2 * q)) & 3;
            s += (dx == 3 && dy == 3 ? 7 : dx * dy) << (2 * (p + q));
        }
    return s;
}

typedef int (*mag_fn)(int x, int y, int k);

static int drum_mag(int x, int y, int k)
{
    return drum_operand(x, k) * drum_operand(y, k);
}
static int mitchell_fn(int x, int y, int k)
{
    return mitchell_mag(x, y);
}
static int udm_fn(int x, int y, int k)
{
    return udm_mag(x, y);
}

static void fill_sign_magnitude(axnn_mul *m, mag_fn f, int k)
{
    for (int a = -128; a < 128; a++)
        for (int b = -128; b < 128; b++) {
            int p = f(abs(a), abs(b), k);
            m->table[AXMUL_IDX(a, b)] = (a < 0) != (b < 0) ? -p : p;
        }
}

/* ---------------------------------------------------------------- names ---- */

/* Parses a decimal integer in [lo, hi] from s up to `stop` (a character or 0). */
static bool parse_param(const char **s, char stop, int lo, int hi, int *v)
{
    const char *p = *s;
    long x = 0;
    if (*p < '0' || *p > '9') return false;
    while (*p >= '0' && *p <= '9' && x <= 1000) x = x * 10 + (*p++ - '0');
    if (*p != stop || x < lo || x > hi) return false;
    *v = (int)x;
    *s = stop ? p + 1 : p;
    return true;
}

static const char *const prefixes[] = {"trunc:", "bam:", "drum:", NULL};

bool axmul_is_builtin_name(const char *name)
{
    if (!strcmp(name, "exact") || !strcmp(name, "mitchell") || !strcmp(name, "udm")) return true;
    for (int i = 0; prefixes[i]; i++)
        if (!strncmp(name, prefixes[i], strlen(prefixes[i]))) return true;
    return strchr(name, ':') != NULL;
}

static axnn_status make(const char *name, const char *what, axnn_mul **out)
{
    char src[256];
    snprintf(src, sizeof src, "built-in %s", what);
    axnn_status st = axmul_new(name, src, out);
    if (!st) (*out)->power_estimated = true;
    return st;
}

static axnn_status finish(axnn_mul *m, axnn_mul **out)
{
    axnn_mul_compute_metrics(m->table, &m->metrics);
    *out = m;
    return AXNN_OK;
}

static axnn_status build_array(const char *name, int h, int v, axnn_mul **out)
{
    axnn_mul *m;
    axnn_status st = make(name, name, &m);
    if (st) return st;
    fill_array(m, h, v);
    if (h == 0 && v == 0) {
        snprintf(m->source, sizeof m->source,
                 "built-in %s (power/area/delay: EvoApproxLib's exact signed 8x8 multiplier, "
                 "PDK45, for reference)",
                 name);
        m->area_um2 = EXACT_AREA;
        m->delay_ns = EXACT_DELAY;
    }
    return finish(m, out);
}

static axnn_status build_sm(const char *name, mag_fn f, int k, double cells, axnn_mul **out)
{
    axnn_mul *m;
    axnn_status st = make(name, name, &m);
    if (st) return st;
    fill_sign_magnitude(m, f, k);
    m->power_mw = EXACT_PWR * cells / 64.0;
    return finish(m, out);
}

static axnn_status bad_param(const char *name, const char *form)
{
    return axnn_error(AXNN_ERR_ARG, "bad built-in multiplier '%s': expected %s", name, form);
}

axnn_status axmul_builtin(const char *name, axnn_mul **out)
{
    *out = NULL;
    int k, h;
    const char *p = name;
    if (!strcmp(name, "exact")) return build_array(name, 0, 0, out);
    if (!strcmp(name, "mitchell")) return build_sm(name, mitchell_fn, 0, 40.0, out);
    if (!strcmp(name, "udm")) return build_sm(name, udm_fn, 0, 0.8 * 64.0, out);
    if (!strncmp(name, "trunc:", 6)) {
        p += 6;
        if (!parse_param(&p, 0, 0, 15, &k)) return bad_param(name, "trunc:K with K = 0..15");
        return build_array(name, 0, k, out);
    }
    if (!strncmp(name, "bam:", 4)) {
        p += 4;
        if (!parse_param(&p, ',', 0, 8, &h) || !parse_param(&p, 0, 0, 15, &k))
            return bad_param(name, "bam:H,V with H = 0..8 and V = 0..15");
        return build_array(name, h, k, out);
    }
    if (!strncmp(name, "drum:", 5)) {
        p += 5;
        if (!parse_param(&p, 0, 3, 8, &k)) return bad_param(name, "drum:K with K = 3..8");
        return build_sm(name, drum_mag, k, k * k + 24.0, out);
    }
    if (strchr(name, ':'))
        return axnn_error(AXNN_ERR_ARG,
                          "unknown multiplier family in '%s' (families: trunc:K, bam:H,V, drum:K; "
                          "see 'axnn mul list')",
                          name);
    return AXNN_ERR_UNSUPPORTED;
}
