/* int8 convolution from the quad layout with AVX-512 VNNI (see s8-conv.h for the layouts).
 *
 * Per tile of NR = 32 output columns:
 *   describe  for each half (16 columns): where its B dwords come from -- up to MAXRUN runs,
 *             one per output row the half touches, of consecutive dwords (stride 1: a masked
 *             load each) or every other dword (stride 2: two masked loads and a permute), or
 *             per-lane gather offsets -- and where its outputs go (one masked store per image);
 *   panel     Q quads x 32 dwords: for quad (t, c4, ky, kx) the runs are loaded at the tap's
 *             offset in the plane (masked loads merge the runs into one vector) -- skipped when
 *             each half is one whole stride-1 run: the micro-kernel then loads B in place;
 *   tiles     for each group of MR = 8 output channels, the 8 x 32 int32 sums (16 zmm) from
 *             vpdpbusd with the group's broadcast weight dwords, started at minus the
 *             correction, through the float epilogue and stored. K longer than QCHUNK quads
 *             runs in chunks (panel by panel), the groups' partial sums kept in the workspace.
 */
#include "kernels/s8-gemm/s8-conv.h"
#include "kernels/s8-gemm/s8-conv-avx512.h"
#include "kernels/s8-gemm/vnni-tile.h"

#include <assert.h>
#include <immintrin.h>
#include <string.h>

#define MR 8
#define NR 32
#define MAXRUN 4
#define QCHUNK 160 /* quads per K chunk: a 20 KiB panel */

/* ---- quantization into the quad layout ---- */

void axnn_s8_conv_quantize_avx512(const axnn_s8_conv_geom *g, const float *x, float inv_scale,
                                  const int8_t (*fmap)[256], int q0, int q1, uint8_t *dst)
{
    const axnn_s8_xlayout l = axnn_s8_xlayout_make(g);
    const int64_t hw = (int64_t)g->h * g->w, row = (int64_t)l.wp * 4;
    const __m512 s = _mm512_set1_ps(inv_scale);
    const __m512i flip = _mm512_set1_epi32((int)0x80808080u);
    const uint32_t pad = 0x80808080u;
    /* A row's last, partial vector is stored whole (masked stores are slow on some CPUs) when
     * its 16 dwords stay inside the plane: the excess lands on this row's right padding and
     * the next row, which are written afterwards (rows top to bottom, bottom padding last). */
    const int64_t wr = (g->w + 15) / 16 * 16;
    const bool spill = (int64_t)(g->ph + g->h - 1) * l.wp + g->pw + wr <= (int64_t)l.hp * l.wp;
    for (int q = q0; q < q1; q++) {
        uint8_t *p = dst + q * l.plane;
        const int nc = g->c - 4 * q < 4 ? g->c - 4 * q : 4;
        const float *xc = x + (int64_t)4 * q * hw;
        axnn_fill_bytes(p, g->ph * row, pad);
        for (int y = 0; y < g->h; y++) {
            uint8_t *r = p + (int64_t)(g->ph + y) * row;
            const float *xr = xc + (int64_t)y * g->w;
            for (int x0 = 0; x0 < g->w; x0 += 16) {
                __mmask16 m = g->w - x0 >= 16 ? 0xffff : (__mmask16)((1u << (g->w - x0)) - 1);
                __m512i d = axnn_quant16(xr + x0, m, s);
                if (nc > 1) d = _mm512_or_si512(d, _mm512_slli_epi32(axnn_quant16(xr + hw + x0, m, s), 8));
                if (nc > 2) d = _mm512_or_si512(d, _mm512_slli_epi32(axnn_quant16(xr + 2 * hw + x0, m, s), 16));
                if (nc > 3) d = _mm512_or_si512(d, _mm512_slli_epi32(axnn_quant16(xr + 3 * hw + x0, m, s), 24));
                d = _mm512_xor_si512(d, flip);
                if (m == 0xffff || spill)
                    _mm512_storeu_si512(r + (int64_t)(g->pw + x0) * 4, d);
                else
                    _mm512_mask_storeu_epi32(r + (int64_t)(g->pw + x0) * 4, m, d);
            }
            for (int j = 0; j < g->pw; j++) { /* left and right padding: a few dwords */
                memcpy(r + 4 * j, &pad, 4);
                memcpy(r + (int64_t)(g->pw + g->w + j) * 4, &pad, 4);
            }
        }
        axnn_fill_bytes(p + (int64_t)(g->ph + g->h) * row, g->ph * row, pad);
    }
    axnn_s8_conv_map_terms(g, fmap, q0, q1, dst);
}

/* ---- one tile of 32 columns ---- */

typedef struct half {
    int nrun;                 /* -1: gather */
    int stride;               /* of the runs: 1 or 2 dwords */
    __mmask16 rmask[MAXRUN];  /* lanes of each run */
    int64_t roff[MAXRUN];     /* byte offset from x of the run's source, minus 4 * stride * its first lane */
    __mmask16 lmask[MAXRUN][2]; /* stride 2: dwords of the two 64-byte loads at roff that the run uses */
    int64_t gbase;            /* gather: byte offset from x of lane offsets' origin */
    __mmask16 gmask;
    int32_t goff[16];
    int nout;
    __mmask16 omask[16];      /* lanes of each output segment (one image) */
    int64_t ooff[16];         /* element offset i*out_img + p of the segment, minus its first lane */
} half;

static inline __mmask16 lanes16(int a, int b) { return (__mmask16)(((1u << b) - 1) & ~((1u << a) - 1)); }

/* Column n is output pixel (i, oy, ox) with n = (i * oh + oy) * ow + ox. A half is walked one
 * output row at a time (one division per tile, none per column). */
static void describe(const axnn_s8_conv_args *a, const axnn_s8_xlayout *l, int64_t n0, int64_t N, half hd[2])
{
    const axnn_s8_conv_geom *g = &a->g;
    const int64_t P = (int64_t)g->oh * g->ow;
    int64_t i = n0 / P, oy = n0 % P / g->ow, ox = n0 % g->ow, n = n0;
    for (int h = 0; h < 2; h++) {
        half *d = &hd[h];
        d->nrun = d->nout = 0;
        d->stride = g->sw;
        d->gmask = 0;
        bool gather = g->sw > 2;
        int64_t pi = -1;
        const int64_t start = n, gbase = i * l->img + (oy * g->sh * l->wp + ox * g->sw) * 4;
        const int64_t si = i, soy = oy, sox = ox;
        for (int j = 0; j < 16 && n < N;) {
            int64_t len = g->ow - ox;
            if (len > 16 - j) len = 16 - j;
            if (len > N - n) len = N - n;
            const __mmask16 m = lanes16(j, j + (int)len);
            const int64_t src = i * l->img + (oy * g->sh * l->wp + ox * g->sw) * 4;
            if (i != pi) {
                d->omask[d->nout] = 0;
                d->ooff[d->nout++] = i * a->out_img + oy * g->ow + ox - j;
                pi = i;
            }
            d->omask[d->nout - 1] |= m;
            d->gmask |= m;
            if (!gather && d->nrun == MAXRUN) gather = true;
            if (!gather) {
                d->rmask[d->nrun] = m;
                d->lmask[d->nrun][0] = d->lmask[d->nrun][1] = 0;
                if (g->sw == 2) /* lane k uses dword 2k of the 32 at roff */
                    for (int k = j; k < j + len; k++) d->lmask[d->nrun][k >= 8] |= (__mmask16)(1u << (2 * k % 16));
                d->roff[d->nrun++] = src - 4 * g->sw * j;
            }
            j += (int)len;
            n += len;
            ox += len;
            if (ox == g->ow) {
                ox = 0;
                if (++oy == g->oh) {
                    oy = 0;
                    i++;
                }
            }
        }
        if (!gather) continue;
        /* per-lane offsets from the half's first column (columns only move forward) */
        d->nrun = -1;
        d->gbase = gbase;
        int64_t ci = si, cy = soy, cx = sox;
        for (int j = 0; j < (int)(n - start); j++) {
            const int64_t src = ci * l->img + (cy * g->sh * l->wp + cx * g->sw) * 4;
            assert(src - gbase < INT32_MAX);
            d->goff[j] = (int32_t)(src - gbase);
            if (++cx == g->ow) {
                cx = 0;
                if (++cy == g->oh) {
                    cy = 0;
                    ci++;
                }
            }
        }
    }
}

static inline __m512i load_half(const uint8_t *base, const half *d, __m512i goff)
{
    if (d->nrun < 0) return _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), d->gmask, goff, base + d->gbase, 1);
    if (d->nrun == 1 && d->rmask[0] == 0xffff && d->stride == 1) return _mm512_loadu_si512(base + d->roff[0]);
    __m512i v = _mm512_setzero_si512();
    if (d->stride == 1) {
        for (int r = 0; r < d->nrun; r++) v = _mm512_mask_loadu_epi32(v, d->rmask[r], base + d->roff[r]);
        return v;
    }
    /* stride 2: lane j of a run takes dword 2j of the 32 dwords at roff */
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    for (int r = 0; r < d->nrun; r++) {
        const __m512i lo = _mm512_maskz_loadu_epi32(d->lmask[r][0], base + d->roff[r]);
        const __m512i hi = _mm512_maskz_loadu_epi32(d->lmask[r][1], base + d->roff[r] + 64);
        v = _mm512_mask_mov_epi32(v, d->rmask[r], _mm512_permutex2var_epi32(lo, even, hi));
    }
    return v;
}

/* bp[q - q0][32] dwords for quads q in [q0, q1), quad q's taps at x + kofs[q]. */
static void build_panel(const axnn_s8_conv_args *a, const half hd[2], const int32_t *kofs, int64_t q0, int64_t q1,
                        uint8_t *bp)
{
    const __m512i g0 = hd[0].nrun < 0 ? _mm512_loadu_si512(hd[0].goff) : _mm512_setzero_si512();
    const __m512i g1 = hd[1].nrun < 0 ? _mm512_loadu_si512(hd[1].goff) : _mm512_setzero_si512();
    for (int64_t q = q0; q < q1; q++) {
        const uint8_t *base = a->x + kofs[q];
        _mm512_storeu_si512(bp, load_half(base, &hd[0], g0));
        _mm512_storeu_si512(bp + 64, load_half(base, &hd[1], g1));
        bp += NR * 4;
    }
}

/* Stores one row's 16 values of half d: out[r*out_ch + column's offset] (+)= epilogue. */
static inline void store_half(const axnn_s8_conv_args *a, const half *d, int64_t rofs, __m512 f)
{
    const __m512 zero = _mm512_setzero_ps();
    if (d->nout == 1 && d->omask[0] == 0xffff) { /* the common case, without masks */
        const int64_t off = rofs + d->ooff[0];
        __m512 v = f;
        if (a->res) v = _mm512_add_ps(v, _mm512_loadu_ps(a->res + off));
        if (a->relu) v = _mm512_max_ps(v, zero);
        if (a->accumulate) v = _mm512_add_ps(_mm512_loadu_ps(a->out + off), v);
        _mm512_storeu_ps(a->out + off, v);
        return;
    }
    for (int s = 0; s < d->nout; s++) {
        const __mmask16 m = d->omask[s];
        const int64_t off = rofs + d->ooff[s];
        __m512 v = f;
        if (a->res) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, a->res + off));
        if (a->relu) v = _mm512_max_ps(v, zero);
        if (a->accumulate) v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, a->out + off), v);
        _mm512_mask_storeu_ps(a->out + off, m, v);
    }
}

/* Rows [r0, r0 + rows) (rows <= MR) of a tile's finished sums, through the epilogue into the
 * output. */
static void tile_out(const axnn_s8_conv_args *a, __m512i acc[MR][2], int64_t r0, int rows, const half hd[2])
{
    for (int i = 0; i < rows; i++) {
        const int64_t r = r0 + i;
        const __m512 sc = _mm512_set1_ps(a->scale[r]), sh = _mm512_set1_ps(a->shift[r]);
        for (int h = 0; h < 2; h++) {
            __m512 f = _mm512_cvtepi32_ps(acc[i][h]);
            f = _mm512_add_ps(_mm512_mul_ps(f, sc), sh);
            store_half(a, &hd[h], r * a->out_ch, f);
        }
    }
}

void axnn_s8_conv_cols_avx512vnni(const axnn_s8_conv_args *a, void *ws, int64_t c0, int64_t c1)
{
    const axnn_s8_conv_geom *g = &a->g;
    const axnn_s8_xlayout l = axnn_s8_xlayout_make(g);
    const int64_t Q = (int64_t)l.terms * l.c4 * g->kh * g->kw, groups = (g->m + MR - 1) / MR;
    /* K in chunks whose panel stays in L1 (long decompositions); the group's sums wait in
     * memory between chunks */
    const int64_t nch = (Q + QCHUNK - 1) / QCHUNK, qc = (Q + nch - 1) / nch;
    __m512i *part = (__m512i *)(((uintptr_t)ws + 63) & ~(uintptr_t)63);
    uint8_t *bp = (uint8_t *)(part + groups * MR * 2);
    int32_t *kofs = (int32_t *)(bp + qc * NR * 4);
    const int32_t *ap = a->w, *corr = ap + groups * MR * Q;
    for (int tc = 0, q = 0; tc < l.terms * l.c4; tc++)
        for (int ky = 0; ky < g->kh; ky++)
            for (int kx = 0; kx < g->kw; kx++) kofs[q++] = (int32_t)(tc * l.plane + ((int64_t)ky * l.wp + kx) * 4);
    half hd[2];
    for (int64_t n0 = c0; n0 < c1; n0 += NR) {
        describe(a, &l, n0, c1, hd);
        /* tiles whose halves are each one whole stride-1 run read B in place; others pack it */
        const bool direct = hd[0].nrun == 1 && hd[1].nrun == 1 && hd[0].stride == 1 && hd[0].rmask[0] == 0xffff &&
                            hd[1].rmask[0] == 0xffff;
        for (int64_t q0 = 0; q0 < Q; q0 += qc) {
            const int64_t q1 = Q - q0 < qc ? Q : q0 + qc;
            if (!direct) build_panel(a, hd, kofs, q0, q1, bp);
            for (int64_t gi = 0; gi < groups; gi++) {
                /* one chunk: the sums in a local array (registers); several: in the workspace */
                __m512i local[MR][2];
                __m512i(*acc)[2] = nch == 1 ? local : (__m512i(*)[2])(part + gi * MR * 2);
                if (q0 == 0) /* start at -correction: the sums wrap as after a subtraction */
                    for (int i = 0; i < MR; i++)
                        acc[i][0] = acc[i][1] = _mm512_set1_epi32((int32_t)(0u - (uint32_t)corr[gi * MR + i]));
                const int32_t *apg = ap + (gi * Q + q0) * MR;
                if (direct)
                    axnn_vnni_tile(q1 - q0, apg, a->x + hd[0].roff[0], a->x + hd[1].roff[0], kofs + q0, 0, acc);
                else
                    axnn_vnni_tile(q1 - q0, apg, bp, bp + 64, NULL, NR * 4, acc);
                if (q1 < Q) continue;
                if (nch > 1) memcpy(local, acc, sizeof local);
                tile_out(a, local, gi * MR, g->m - gi * MR < MR ? (int)(g->m - gi * MR) : MR, hd);
            }
        }
    }
}

void axnn_s8_conv_avx512vnni(const axnn_s8_conv_args *a, void *ws, int ith, int nth)
{
    const int64_t N = (int64_t)a->n * a->g.oh * a->g.ow, tiles = (N + NR - 1) / NR;
    const int64_t lo = tiles * ith / nth, hi = tiles * (ith + 1) / nth;
    axnn_s8_conv_cols_avx512vnni(a, ws, lo * NR, hi * NR < N ? hi * NR : N);
}
