/* The body of the SIMD activation kernels, written once over a small vector vocabulary that
 * act-avx2.c and act-avx512.c define before including this file (V, W, the V* operations and
 * NAME). Not a header of its own: it defines the kernel table `ACT_TABLE`. See act.h. */

/* exp(x) for x clamped to [-87.3, 88.7]: 2^n exp(r), n = round(x log2 e), r = x - n ln 2 (ln 2
 * in two parts), exp(r) by its degree-7 Taylor polynomial (|r| <= 0.347: error < 6e-9). */
static inline V vexp(V x)
{
    x = VMIN(VSET1(88.7f), VMAX(VSET1(-87.3f), x));
    V n = VROUND(VMUL(x, VSET1(1.44269504f)));
    V r = VSUB(VSUB(x, VMUL(n, VSET1(0.693145752f))), VMUL(n, VSET1(1.42860677e-6f)));
    V p = VSET1(1.0f / 5040.0f);
    p = VADD(VMUL(p, r), VSET1(1.0f / 720.0f));
    p = VADD(VMUL(p, r), VSET1(1.0f / 120.0f));
    p = VADD(VMUL(p, r), VSET1(1.0f / 24.0f));
    p = VADD(VMUL(p, r), VSET1(1.0f / 6.0f));
    p = VADD(VMUL(p, r), VSET1(0.5f));
    p = VADD(VMUL(p, r), VSET1(1.0f));
    p = VADD(VMUL(p, r), VSET1(1.0f));
    return VSCALE2N(p, n);
}

static inline V vsigmoid(V x)
{
    return VDIV(VSET1(1.0f), VADD(VSET1(1.0f), vexp(VSUB(VSET1(0.0f), x))));
}

/* tanh: odd Taylor series to x^15 for |x| < 0.5, (1 - e) / (1 + e) with e = exp(-2|x|) above,
 * the sign put back. */
static inline V vtanh(V x)
{
    V a = VABS(x), z = VMUL(a, a);
    static const float c[7] = {
        -929569.0f / 638512875.0f, 21844.0f / 6081075.0f, -1382.0f / 155925.0f, 62.0f / 2835.0f,
        -17.0f / 315.0f,           2.0f / 15.0f,          -1.0f / 3.0f};
    V p = VSET1(c[0]);
    for (int k = 1; k < 7; k++) p = VADD(VMUL(p, z), VSET1(c[k]));
    V small = VADD(a, VMUL(VMUL(p, z), a));
    V e = vexp(VMUL(VSET1(-2.0f), a));
    V big = VDIV(VSUB(VSET1(1.0f), e), VADD(VSET1(1.0f), e));
    return VCOPYSIGN(VSELECT_LT(a, VSET1(0.5f), small, big), x);
}

static inline V apply(const axnn_act *p, V x)
{
    switch (p->kind) {
    case AXNN_ACT_HARDSIGMOID:
        return VMAX(VSET1(0.0f), VMIN(VSET1(1.0f), VADD(VMUL(VSET1(p->alpha), x), VSET1(p->beta))));
    case AXNN_ACT_HARDSWISH:
        return VMUL(x, VMAX(VSET1(0.0f),
                            VMIN(VSET1(1.0f), VADD(VMUL(VSET1(1.0f / 6.0f), x), VSET1(0.5f)))));
    case AXNN_ACT_CLIP:
        return VMIN(VSET1(p->hi), VMAX(VSET1(p->lo), x));
    case AXNN_ACT_LEAKYRELU:
        return VSELECT_GE0(x, x, VMUL(VSET1(p->alpha), x));
    case AXNN_ACT_SIGMOID:
        return vsigmoid(x);
    default:
        return vtanh(x);
    }
}

static void act_fwd(const axnn_act *p, const float *x, float *y, int64_t n)
{
    int64_t i = 0;
    for (; i + W <= n; i += W) VSTORE(y + i, apply(p, VLOAD(x + i)));
    if (i < n) VSTOREN(y + i, n - i, apply(p, VLOADN(x + i, n - i)));
}

const axnn_act_kernels ACT_TABLE = {NAME, act_fwd, axnn_act_bwd_ref};
