/* AVX-512 transforms of Winograd F(2x2, 3x3) (see winograd.c).
 *
 * A group is 16 tiles, one per lane: R tile rows of 16/R tiles (R = 1, 2 or 4). Reading a 4x4
 * patch row for all 16 tiles takes 32 consecutive floats -- R row segments of 32/R floats,
 * loaded under masks that keep padding columns out -- and one two-source permute keeps the even
 * (or odd) ones: lane l gets column 2*tx + e - 1 of its tile. Writing a 2x2 tile row interleaves
 * the two output columns back the same way.
 */
#include "kernels/conv/winograd.h"

#include <immintrin.h>

typedef struct group_rows {
    int R, seg;          /* tile rows, floats per tile row segment (32 / R) */
    int64_t n[4], ty[4]; /* image and tile row of each tile row */
    int64_t col0;        /* first input column pair (2 * tx0) */
} group_rows;

static group_rows group_of(const axnn_conv_shape *s, int64_t t)
{
    const int64_t tw = s->w / 2, th = s->h / 2;
    group_rows g;
    g.R = tw >= 16 ? 1 : (int)(16 / tw);
    g.seg = 32 / g.R;
    const int64_t n = t / (th * tw), rem = t % (th * tw);
    g.col0 = 2 * (rem % tw);
    for (int k = 0; k < g.R; k++) {
        int64_t row = n * th + rem / tw + k;
        g.n[k] = row / th;
        g.ty[k] = row % th;
    }
    return g;
}

/* Mask of the seg lanes whose column off + lane lies in [0, w). */
static inline uint32_t col_mask(int64_t off, int seg, int64_t w)
{
    uint32_t m = 0;
    for (int l = 0; l < seg; l++)
        if (off + l >= 0 && off + l < w) m |= 1u << l;
    return m;
}

/* The 32 source floats of a group at column offset `off` of rows p[k]; R is a constant in
 * every caller, so each instance is straight-line code. Rows outside the image point at a
 * zero row. */
static inline __attribute__((always_inline)) void load_pair(const int R, const float *const *p,
                                                            int64_t off, uint32_t m, __m512 *a,
                                                            __m512 *b)
{
    if (R == 1) {
        *a = _mm512_maskz_loadu_ps((__mmask16)m, p[0] + off);
        *b = _mm512_maskz_loadu_ps((__mmask16)(m >> 16), p[0] + off + 16);
    } else if (R == 2) {
        *a = _mm512_maskz_loadu_ps((__mmask16)m, p[0] + off);
        *b = _mm512_maskz_loadu_ps((__mmask16)m, p[1] + off);
    } else {
        *a = _mm512_mask_loadu_ps(_mm512_maskz_loadu_ps((__mmask16)m, p[0] + off), (__mmask16)(m << 8),
                                  p[1] + off - 8);
        *b = _mm512_mask_loadu_ps(_mm512_maskz_loadu_ps((__mmask16)m, p[2] + off), (__mmask16)(m << 8),
                                  p[3] + off - 8);
    }
}

/* One channel of one group: the 16 transformed vectors into o[xi*cs]. The columns of each
 * patch row are transformed first (w_r = d_r B), then the rows (B^T w). */
static inline __attribute__((always_inline)) void input_channel(const int R, const float *const rows[4][4],
                                                                int64_t offl, int64_t offr, uint32_t ml,
                                                                uint32_t mr, float *o, int64_t cs)
{
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    __m512 w[4][4];
    for (int r = 0; r < 4; r++) {
        __m512 a, b;
        load_pair(R, rows[r], offl, ml, &a, &b);
        const __m512 d0 = _mm512_permutex2var_ps(a, even, b), d1 = _mm512_permutex2var_ps(a, odd, b);
        load_pair(R, rows[r], offr, mr, &a, &b);
        const __m512 d2 = _mm512_permutex2var_ps(a, even, b), d3 = _mm512_permutex2var_ps(a, odd, b);
        w[r][0] = _mm512_sub_ps(d0, d2);
        w[r][1] = _mm512_add_ps(d1, d2);
        w[r][2] = _mm512_sub_ps(d2, d1);
        w[r][3] = _mm512_sub_ps(d1, d3);
    }
    for (int j = 0; j < 4; j++) {
        _mm512_storeu_ps(o + (0 + j) * cs, _mm512_sub_ps(w[0][j], w[2][j]));
        _mm512_storeu_ps(o + (4 + j) * cs, _mm512_add_ps(w[1][j], w[2][j]));
        _mm512_storeu_ps(o + (8 + j) * cs, _mm512_sub_ps(w[2][j], w[1][j]));
        _mm512_storeu_ps(o + (12 + j) * cs, _mm512_sub_ps(w[1][j], w[3][j]));
    }
}

static const float zero_row[1024 + 64];

static inline __attribute__((always_inline)) void input_group(const int R, const axnn_conv_shape *s,
                                                              const float *x, int64_t x_img,
                                                              int64_t x_ch, const group_rows *g,
                                                              const group_rows *next, float *o)
{
    const int64_t W = s->w, offl = g->col0 - 1, offr = g->col0 + 1, cs = (int64_t)s->c * 48;
    const uint32_t ml = col_mask(offl, 32 / R, W), mr = col_mask(offr, 32 / R, W);
    const float *rows[4][4]; /* [patch row][tile row] at channel 0; zero_row outside */
    bool inside[4][4];
    for (int r = 0; r < 4; r++)
        for (int k = 0; k < R; k++) {
            int64_t iy = 2 * g->ty[k] - 1 + r;
            inside[r][k] = iy >= 0 && iy < s->h;
            rows[r][k] = inside[r][k] ? x + g->n[k] * x_img + iy * W : zero_row + 16;
        }
    /* rows of the next group (the next R tile rows, or the next 16 tiles of a wide row) */
    const float *pf[16];
    int npf = 0;
    const group_rows *ng = next;
    if (ng)
        for (int r = 0; r < 4; r++)
            for (int k = 0; k < R; k++) {
                int64_t iy = 2 * ng->ty[k] - 1 + r;
                if (iy >= 0 && iy < s->h && ng->n[k] < s->n)
                    pf[npf++] = x + ng->n[k] * x_img + iy * W + (ng->col0 > 0 ? ng->col0 - 1 : 0);
            }
    for (int64_t c = 0; c < s->c; c++) {
        const float *rc[4][4];
        for (int r = 0; r < 4; r++)
            for (int k = 0; k < R; k++) rc[r][k] = inside[r][k] ? rows[r][k] + c * x_ch : rows[r][k];
        for (int q = 0; q < npf; q++) /* the next group's rows of this channel */
            for (int64_t b = 0; b < 128; b += 64) __builtin_prefetch((const char *)(pf[q] + c * x_ch) + b, 0, 3);
        input_channel(R, rc, offl, offr, ml, mr, o + c * 48, cs);
    }
}

void axnn_wino_input_avx512(const axnn_conv_shape *s, const float *x, int64_t x_img, int64_t x_ch,
                            int64_t t0, int groups, float *v)
{
    const int64_t T = (int64_t)s->n * (s->h / 2) * (s->w / 2);
    for (int gi = 0; gi < groups; gi++) {
        group_rows g = group_of(s, t0 + 16 * gi), ng;
        const bool more = t0 + 16 * (gi + 1) < T;
        if (more) ng = group_of(s, t0 + 16 * (gi + 1));
        float *o = v + 16 * gi;
        if (g.R == 1)
            input_group(1, s, x, x_img, x_ch, &g, more ? &ng : NULL, o);
        else if (g.R == 2)
            input_group(2, s, x, x_img, x_ch, &g, more ? &ng : NULL, o);
        else
            input_group(4, s, x, x_img, x_ch, &g, more ? &ng : NULL, o);
    }
}

/* Half h (tiles 8h .. 8h+7) of an output row: 16 floats at p[0] (R = 1, 2), or 8 floats at
 * each of p[0] and p[1] (R = 4). */
static inline __attribute__((always_inline)) __m512 half_load(const int R, const float *p0,
                                                              const float *p1)
{
    if (R != 4) return _mm512_loadu_ps(p0);
    return _mm512_mask_loadu_ps(_mm512_maskz_loadu_ps(0x00ff, p0), 0xff00, p1 - 8);
}

static inline __attribute__((always_inline)) void half_store(const int R, float *p0, float *p1,
                                                             __m512 v)
{
    if (R != 4) {
        _mm512_storeu_ps(p0, v);
        return;
    }
    _mm512_mask_storeu_ps(p0, 0x00ff, v);
    _mm512_mask_storeu_ps(p1 - 8, 0xff00, v);
}

/* Where half h of output row dy of the group goes (offset from the channel's base). */
static void half_offsets(const group_rows *g, int64_t W, int64_t out_img, int dy, int h,
                         int64_t off[2])
{
    if (g->R == 1) {
        off[0] = g->n[0] * out_img + (2 * g->ty[0] + dy) * W + g->col0 + 16 * h;
        off[1] = off[0];
    } else if (g->R == 2) {
        off[0] = off[1] = g->n[h] * out_img + (2 * g->ty[h] + dy) * W;
    } else {
        for (int k = 0; k < 2; k++) off[k] = g->n[2 * h + k] * out_img + (2 * g->ty[2 * h + k] + dy) * W;
    }
}

/* One output channel of a group: A^T M A from the 16 vectors m[xi*48], then the epilogue. */
static inline __attribute__((always_inline)) void output_channel(
    const int R, const axnn_conv_epi *e, const float *m, int64_t r, const int64_t off[2][2][2])
{
    const __m512i ilo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    const __m512i ihi = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
    __m512 s0[4], s1[4];
    for (int c = 0; c < 4; c++) { /* A^T M */
        const __m512 m0 = _mm512_loadu_ps(m + c * 48), m1 = _mm512_loadu_ps(m + (4 + c) * 48);
        const __m512 m2 = _mm512_loadu_ps(m + (8 + c) * 48), m3 = _mm512_loadu_ps(m + (12 + c) * 48);
        s0[c] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
        s1[c] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
    }
    __m512 y[2][2]; /* (A^T M) A: y[dy][dx] */
    y[0][0] = _mm512_add_ps(_mm512_add_ps(s0[0], s0[1]), s0[2]);
    y[0][1] = _mm512_sub_ps(_mm512_sub_ps(s0[1], s0[2]), s0[3]);
    y[1][0] = _mm512_add_ps(_mm512_add_ps(s1[0], s1[1]), s1[2]);
    y[1][1] = _mm512_sub_ps(_mm512_sub_ps(s1[1], s1[2]), s1[3]);
    const __m512 sc = _mm512_set1_ps(e->scale ? e->scale[r] : 1.0f);
    const __m512 sh = _mm512_set1_ps(e->shift ? e->shift[r] : 0.0f);
    const int64_t ch = r * e->out_ch;
    for (int dy = 0; dy < 2; dy++)
        for (int h = 0; h < 2; h++) {
            __m512 t = _mm512_fmadd_ps(_mm512_permutex2var_ps(y[dy][0], h ? ihi : ilo, y[dy][1]), sc, sh);
            float *p0 = e->out + ch + off[dy][h][0], *p1 = e->out + ch + off[dy][h][1];
            if (e->res)
                t = _mm512_add_ps(t, half_load(R, e->res + ch + off[dy][h][0], e->res + ch + off[dy][h][1]));
            if (e->relu) t = _mm512_max_ps(t, _mm512_setzero_ps());
            if (e->accumulate) t = _mm512_add_ps(t, half_load(R, p0, p1));
            half_store(R, p0, p1, t);
        }
}

static inline __attribute__((always_inline)) void output_group(const int R, const axnn_conv_shape *s,
                                                               const axnn_conv_epi *e,
                                                               const group_rows *g, const float *mo,
                                                               int64_t mpad)
{
    int64_t off[2][2][2]; /* [dy][h][k] */
    for (int dy = 0; dy < 2; dy++)
        for (int h = 0; h < 2; h++) half_offsets(g, s->w, e->out_img, dy, h, off[dy][h]);
    const int64_t ahead = 4; /* channels: the residual and output lines come from memory */
    for (int64_t r = 0; r < s->m; r++) {
        if (r + ahead < s->m) {
            const int64_t ch = (r + ahead) * e->out_ch;
            for (int dy = 0; dy < 2; dy++)
                for (int h = 0; h < 2; h++)
                    for (int k = 0; k < (R == 4 ? 2 : 1); k++) {
                        __builtin_prefetch(e->out + ch + off[dy][h][k], 1, 3);
                        if (e->res) __builtin_prefetch(e->res + ch + off[dy][h][k], 0, 3);
                    }
        }
        output_channel(R, e, mo + r * 16 * 48, r, (const int64_t(*)[2][2])off);
    }
}

void axnn_wino_output_avx512(const axnn_conv_shape *s, const axnn_conv_epi *e, int64_t t0,
                             int groups, const float *mo, int64_t mpad)
{
    for (int gi = 0; gi < groups; gi++) {
        group_rows g = group_of(s, t0 + 16 * gi);
        const float *m = mo + 16 * gi; /* xi-th vector of channel r at m + (r*16 + xi)*48 */
        if (g.R == 1)
            output_group(1, s, e, &g, m, mpad);
        else if (g.R == 2)
            output_group(2, s, e, &g, m, mpad);
        else
            output_group(4, s, e, &g, m, mpad);
    }
}
