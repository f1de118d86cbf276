/* The per-layer time predictor.
 *
 * Form. For each core configuration c (core type x threads) and layer kind k, the time per
 * image is a non-negative combination of nine features of the descriptor:
 *
 *   t = a0 / batch                       per-call cost: dispatch to the pool, barriers
 *     + a1 * MACs (direct)               compute at the GEMM engine's rate
 *     + a2 * MACs (Winograd-shaped)      3x3 stride-1 convs that the engine runs as F(2x2, 3x3)
 *     + a3 * MACs lost to the tile       padding of the 8 x 48 register tile (few channels or
 *                                        pixels, as in 2x2 maps or the first conv)
 *     + a4 * input bytes + a5 * output bytes    activation traffic (split, because a pool
 *                                        reads 4x or h*w x what it writes)
 *     + a6 * min(weights, L2) / batch    weights read (and packed) once per call, while they
 *     + a7 * max(weights - L2, 0) / batch   fit in a core's L2 and beyond it (PIPE_L2_BYTES)
 *     + a8 * MACs of convs with a fused residual   (that epilogue reads a second tensor)
 *
 * Why this form: a layer's time is its compute plus the memory traffic that the compute does not
 * hide, plus a fixed cost per call; a sum of terms is the additive roofline (at batch 1 on small
 * layers the two overlap poorly, so the max of the classic roofline fits worse). The weight term
 * has a knee because at batch 1 the 512-channel 3x3 convs (9.4 MB of weights) run at the speed
 * of streaming their weights, far slower per byte than weights that stay in L2. It is linear in
 * the coefficients, so a non-negative least-squares fit (src/pipe/nnls.c) is exact and cannot
 * produce negative rates. Each row is divided by the measured time, so the fit minimizes the
 * squared *relative* error, the quantity the MAPE reports. Separate coefficients per
 * configuration capture how each kind scales with threads (the per-call cost grows, the rates
 * do not divide perfectly), and per kind because a pooling layer's bytes are not a GEMM's.
 * Kinds without enough samples borrow ELTWISE's coefficients (memory-bound is the safe guess).
 */
#include "axnn/pipe.h"
#include "pipe/nnls.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[AXNN_PK_COUNT] = {"conv",        "dwconv",  "linear", "pool",
                                                      "global_pool", "eltwise", "gelu",   "norm",
                                                      "attention",   "other"};

/* The knee of the weight term: a core's L2 (512 KiB on this project's x86 hosts and on big
 * ARM cores; a descriptor-only constant so that one model file means one thing). */
#define PIPE_L2_BYTES (512.0 * 1024)

const char *axnn_pipe_kind_name(axnn_pipe_kind k)
{
    return k >= 0 && k < AXNN_PK_COUNT ? kind_names[k] : "?";
}

axnn_status axnn_pipe_kind_parse(const char *name, axnn_pipe_kind *k)
{
    for (int i = 0; i < AXNN_PK_COUNT; i++)
        if (!strcmp(name, kind_names[i])) {
            *k = (axnn_pipe_kind)i;
            return AXNN_OK;
        }
    return axnn_error(AXNN_ERR_ARG, "unknown layer kind '%s'", name);
}

/* The engine's Winograd rule (kernels/conv/winograd.c), from the shape alone. */
static bool winograd_shaped(const axnn_pipe_desc *d)
{
    if (d->kind != AXNN_PK_CONV || d->kh != 3 || d->kw != 3 || d->stride != 1) return false;
    if (d->in_h % 2 || d->in_w % 2 || d->in_h < 8) return false;
    int tw = d->in_w / 2;
    if (!(tw == 4 || tw == 8 || tw % 16 == 0)) return false;
    return d->in_c >= 16 && d->out_c >= 16 && d->in_c <= 128 && d->out_c <= 128;
}

static double round_up(double x, double m)
{
    return ceil(x / m) * m;
}

/* MACs the 8 x 48 tile wastes: rows are output channels, columns output pixels of the batch. */
static double tile_waste(const axnn_pipe_desc *d)
{
    if (d->kind != AXNN_PK_CONV && d->kind != AXNN_PK_LINEAR) return 0;
    double rows = d->out_c, cols = (double)d->out_h * d->out_w * (d->batch > 0 ? d->batch : 1);
    if (rows <= 0 || cols <= 0) return 0;
    return d->macs * (round_up(rows, 8) * round_up(cols, 48) / (rows * cols) - 1);
}

void axnn_pipe_features(const axnn_pipe_desc *d, double f[AXNN_PIPE_NFEAT])
{
    double b = d->batch > 0 ? d->batch : 1, macs = (double)d->macs;
    bool wino = winograd_shaped(d);
    double w = (double)d->w_bytes;
    f[0] = 1 / b;
    f[1] = wino ? 0 : macs;
    f[2] = wino ? macs : 0;
    f[3] = tile_waste(d);
    f[4] = (double)d->in_bytes;
    f[5] = (double)d->out_bytes;
    f[6] = (w < PIPE_L2_BYTES ? w : PIPE_L2_BYTES) / b;
    f[7] = (w > PIPE_L2_BYTES ? w - PIPE_L2_BYTES : 0) / b;
    f[8] = d->kind == AXNN_PK_CONV && d->residual ? macs : 0;
}

int axnn_pipe_model_conf(const axnn_pipe_model *m, int type, int threads)
{
    for (int c = 0; c < m->nconf; c++)
        if (m->conf[c].type == type && m->conf[c].threads == threads) return c;
    return -1;
}

static double eval_coef(const double *a, const axnn_pipe_desc *d)
{
    double f[AXNN_PIPE_NFEAT], t = 0;
    axnn_pipe_features(d, f);
    for (int j = 0; j < AXNN_PIPE_NFEAT; j++) t += a[j] * f[j];
    return t;
}

double axnn_pipe_predict(const axnn_pipe_model *m, int c, const axnn_pipe_desc *d)
{
    if (c < 0 || c >= m->nconf) return NAN;
    int k = d->kind;
    if (!m->fitted[c][k]) k = AXNN_PK_ELTWISE;
    if (!m->fitted[c][k]) return NAN;
    return eval_coef(m->coef[c][k], d);
}

/* Fits configuration c, kind k; false when there are too few samples. */
static bool fit_one(const axnn_pipe_profile *p, int c, int k, double *coef, double *mape)
{
    int m = 0;
    for (int i = 0; i < p->nsamples; i++)
        m += p->samples[i].d.kind == (axnn_pipe_kind)k && p->samples[i].t[c] > 0 &&
             isfinite(p->samples[i].t[c]);
    if (m < 2) return false;
    double *A = malloc((size_t)m * AXNN_PIPE_NFEAT * sizeof *A), *b = malloc((size_t)m * sizeof *b);
    bool ok = A && b;
    for (int i = 0, r = 0; ok && i < p->nsamples; i++) {
        const axnn_pipe_sample *s = &p->samples[i];
        if (s->d.kind != (axnn_pipe_kind)k || !(s->t[c] > 0) || !isfinite(s->t[c])) continue;
        axnn_pipe_features(&s->d, A + (size_t)r * AXNN_PIPE_NFEAT);
        for (int j = 0; j < AXNN_PIPE_NFEAT; j++) A[(size_t)r * AXNN_PIPE_NFEAT + j] /= s->t[c];
        b[r++] = 1;
    }
    ok = ok && pipe_nnls(A, b, m, AXNN_PIPE_NFEAT, coef);
    double err = 0;
    for (int i = 0; ok && i < p->nsamples; i++) {
        const axnn_pipe_sample *s = &p->samples[i];
        if (s->d.kind != (axnn_pipe_kind)k || !(s->t[c] > 0) || !isfinite(s->t[c])) continue;
        err += fabs(eval_coef(coef, &s->d) - s->t[c]) / s->t[c];
    }
    *mape = 100 * err / m;
    free(A);
    free(b);
    return ok;
}

axnn_status axnn_pipe_fit(const axnn_pipe_profile *p, axnn_pipe_model *m)
{
    memset(m, 0, sizeof *m);
    snprintf(m->machine, sizeof m->machine, "%s", p->machine);
    m->nconf = p->nconf;
    memcpy(m->conf, p->conf, sizeof m->conf);
    m->ntypes = p->ntypes;
    memcpy(m->type_name, p->type_name, sizeof m->type_name);
    int fitted = 0;
    for (int c = 0; c < p->nconf; c++)
        for (int k = 0; k < AXNN_PK_COUNT; k++) {
            m->fitted[c][k] = fit_one(p, c, k, m->coef[c][k], &m->fit_mape[c][k]);
            fitted += m->fitted[c][k];
        }
    if (!fitted) return axnn_error(AXNN_ERR_ARG, "fit: no layer kind has two timed samples");
    return AXNN_OK;
}

double axnn_pipe_mape(const axnn_pipe_model *m, const axnn_pipe_profile *p, int c, int stage_len)
{
    if (stage_len < 1) stage_len = 1;
    double err = 0;
    int n = 0;
    for (int i = 0; i + stage_len <= p->nsamples; i += stage_len) {
        double meas = 0, pred = 0;
        bool ok = true;
        for (int j = i; j < i + stage_len; j++) {
            const axnn_pipe_sample *s = &p->samples[j];
            double y = axnn_pipe_predict(m, c, &s->d);
            ok &= isfinite(s->t[c]) && isfinite(y);
            meas += s->t[c];
            pred += y;
        }
        if (!ok || !(meas > 0)) continue;
        err += fabs(pred - meas) / meas;
        n++;
    }
    return n ? 100 * err / n : NAN;
}

axnn_pipe_err axnn_pipe_error(const axnn_pipe_model *m, const axnn_pipe_profile *p, int c,
                              int stage_len, double min_share)
{
    axnn_pipe_err e = {NAN, NAN, NAN, 0, 0};
    if (stage_len < 1) stage_len = 1;
    double total = 0, abs_err = 0, sum = 0, sum_major = 0;
    for (int i = 0; i < p->nsamples; i++)
        if (isfinite(p->samples[i].t[c])) total += p->samples[i].t[c];
    for (int i = 0; i + stage_len <= p->nsamples; i += stage_len) {
        double meas = 0, pred = 0;
        bool ok = true;
        for (int j = i; j < i + stage_len; j++) {
            double y = axnn_pipe_predict(m, c, &p->samples[j].d);
            ok &= isfinite(p->samples[j].t[c]) && isfinite(y);
            meas += p->samples[j].t[c];
            pred += y;
        }
        if (!ok || !(meas > 0)) continue;
        double r = fabs(pred - meas) / meas;
        sum += r;
        e.n++;
        abs_err += fabs(pred - meas);
        if (meas >= min_share * total) {
            sum_major += r;
            e.n_major++;
        }
    }
    if (e.n) e.mape = 100 * sum / e.n;
    if (e.n_major) e.mape_major = 100 * sum_major / e.n_major;
    if (total > 0) e.wape = 100 * abs_err / total;
    return e;
}
