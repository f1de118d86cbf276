/* The convolution engine (interface in conv.h).
 *
 * A convolution over a batch is one GEMM, y (m, columns) = W (m, K) * B (K, columns), where a
 * column is an output pixel of some image and row k = (ci, ky, kx) of B holds the input pixel
 * that tap (ky, kx) of channel ci sees from that output pixel. Doing this per image, as a
 * textbook im2col does, wastes most of an 8 x 48 register tile when an image has 4 or 16 output
 * pixels; here the columns of all images form one long dimension.
 *
 * The padded channel-major layout. The input batch is first copied into "xs" (see conv.h):
 * channel by channel, the images stacked vertically, each row followed by pw zeros and each
 * image by ph zero rows, which are at the same time the padding of the next row or image. With
 * pitch = w + pw and rows = h + ph, the input pixel that tap (ky, kx) of output pixel (i, oy, ox)
 * reads sits at
 *     ci*plane + (i*rows + oy*sh)*pitch + ox*sw  +  ky*pitch + kx
 * (padding included, no bounds test): a column offset plus a row offset. The copy costs one
 * pass over the input, against kh*kw passes for an im2col matrix.
 *
 * Two ways to feed B to the micro-kernel:
 *   direct  (stride 1, little waste) Columns are numbered like xs itself, j = (i*rows + oy)*pitch
 *           + ox, so that row k of B is xs read from the fixed offset ci*plane + ky*pitch + kx:
 *           the indirect micro-kernel reads the NR columns of each row in place, and nothing is
 *           packed. Columns with ox >= ow or oy >= oh are junk, computed and dropped; they cost
 *           (h+ph)(w+pw)/(oh*ow) - 1 of the work, 6% for 32x32 images and 13% for 16x16.
 *   packed  (strides, or small images where the junk would be costly) Only valid columns are
 *           numbered, j = i*oh*ow + oy*ow + ox; for each tile of NR columns and block of rows,
 *           B is gathered from xs into a KC x NR panel (one gather per row, no bounds tests),
 *           which all MR-row panels of W then use. Small images come with many channels, so
 *           the gather is amortized over a tall W.
 * The weights are packed once per call into MR-wide panels (K x MR each), shared by threads.
 *
 * Work split. Tiles of NR columns are split into nth contiguous ranges. A thread walks its
 * tiles in blocks of nct; for each block it runs over the K dimension in blocks of kc rows
 * (kc chosen so that a tile of B stays in L1), over the tiles, and over all MR-row panels of W,
 * accumulating into a block of C (m x nct*NR) in its workspace. After the last K block the
 * epilogue moves each finished MR x NR tile to the output: it maps tile columns to output
 * pixels by runs (consecutive columns that land on consecutive pixels), and applies per-channel
 * scale and shift (bias, or an eval-mode BatchNorm folded in), a residual add, ReLU, or an
 * accumulation (input gradients). Each output element is computed by one thread with the same
 * summation order whatever the thread count.
 *
 * The input gradient of a stride-1 convolution is itself a forward convolution: dy, padded by
 * kh-1-ph, convolved with the weights rotated by 180 degrees and with in/out channels swapped
 * (axnn_conv_dx_shape, axnn_conv_pack_w_flip). Strided convolutions use the GEMM + col2im path
 * in ops/conv2d.c.
 *
 * The weight gradient dW[r][k] = sum over columns of dy[r][col] * B[k][col] reduces over
 * pixels, which are contiguous in both dy and xs. The direct path therefore uses the dot
 * micro-kernel on rows read in place: rows of dy in the padded layout of the input-gradient
 * convolution (whose junk columns are padding, i.e. zero) against rows of xs at the offsets of
 * the taps. The packed path gathers panels of dy^T and B^T (columns by rows) and uses the
 * packed micro-kernel. Each thread sums over its own range of columns into a private partial
 * gradient, and the caller adds the partials in thread order.
 */
#include "kernels/conv/conv.h"

#include "axnn/base.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define KC_DIRECT 256 /* rows of B per block when read in place (rows overlap, L1 holds them) */
#define KC_PACKED 192 /* rows of a packed KC x NR panel: 36 KB with NR = 48 */
#define C_BLOCK_FLOATS 65536 /* C block of a thread while K is split into blocks */
#define DW_CHUNK_PACKED 128  /* columns per packed weight-gradient step */
#define LOCAL_FLOATS 24576    /* direct forward: a local block of input rows, 96 KB */
#define DW_LOCAL_FLOATS 131072 /* direct weight gradient: local rows of x and dy, 512 KB */

static int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }
static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t conv_K(const axnn_conv_shape *s) { return (int64_t)s->c * s->kh * s->kw; }

/* ---- layouts ---- */

axnn_conv_layout axnn_conv_layout_make(int n, int c, int h, int w, int ph, int pw, int kh)
{
    axnn_conv_layout l = {n, c, h, w, ph, pw, w + pw, h + ph, 0};
    /* The images, the closing padding rows, and slack for reads past the last column: a tile
     * of up to MAX_NR columns shifted by up to kh rows and a row's width. */
    int64_t floats = ((int64_t)n * l.rows + ph + kh + 4) * l.pitch + 2 * AXNN_F32_MAX_NR;
    l.plane = round_up(floats, 16);
    return l;
}

void axnn_conv_to_xs(const axnn_conv_layout *l, const float *x, int64_t x_img, int64_t x_ch,
                     float *xs, int ith, int nth)
{
    int64_t lo, hi;
    axnn_split(l->c, ith, nth, &lo, &hi);
    const int64_t total_rows = (int64_t)l->n * l->rows;
    for (int64_t c = lo; c < hi; c++) {
        float *pl = xs + c * l->plane;
        for (int64_t r = 0; r < total_rows; r++) {
            float *row = pl + r * l->pitch;
            int64_t i = r / l->rows, y = r % l->rows - l->ph;
            if (y < 0) {
                memset(row, 0, (size_t)l->pitch * sizeof(float));
                continue;
            }
            memset(row, 0, (size_t)l->pw * sizeof(float));
            memcpy(row + l->pw, x + i * x_img + c * x_ch + y * l->w, (size_t)l->w * sizeof(float));
        }
        memset(pl + total_rows * l->pitch, 0, (size_t)(l->plane - total_rows * l->pitch) * sizeof(float));
    }
}

/* AXNN_CONV_PATH=direct|packed forces a path where both apply (for measurements). */
static int forced_path(void) { return axnn_settings_get()->conv_path; }

bool axnn_conv_direct(const axnn_conv_shape *s)
{
    if (s->sh != 1 || s->sw != 1 || s->kh < s->ph + 1 || s->kw < s->pw + 1) return false;
    if (forced_path()) return forced_path() == 1;
    double waste = (double)(s->h + s->ph) * (s->w + s->pw) / ((double)s->oh * s->ow);
    /* Packing costs about a gather per element of B, shared by the m/MR panels of W. */
    return waste <= 1.15 || (waste <= 1.3 && s->m <= 64);
}

bool axnn_conv_dx_ok(const axnn_conv_shape *s)
{
    return s->sh == 1 && s->sw == 1 && s->ph <= s->kh - 1 && s->pw <= s->kw - 1;
}

axnn_conv_shape axnn_conv_dx_shape(const axnn_conv_shape *s)
{
    return (axnn_conv_shape){s->n, s->m, s->oh, s->ow, s->c, s->kh, s->kw, 1, 1,
                             s->kh - 1 - s->ph, s->kw - 1 - s->pw, s->h, s->w};
}

axnn_conv_layout axnn_conv_dx_layout(const axnn_conv_shape *s)
{
    return axnn_conv_layout_make(s->n, s->m, s->oh, s->ow, s->kh - 1 - s->ph, s->kw - 1 - s->pw,
                                 s->kh);
}

/* ---- weights ---- */

int64_t axnn_conv_packed_w_floats(const axnn_f32_gemm_config *cfg, int m, int64_t K)
{
    return round_up(m, cfg->mr) * K;
}

/* Panel mp of ap holds rows [mp*mr, mp*mr + mr) of W: element (r, k) at k*mr + r - mp*mr. */
void axnn_conv_pack_w(const axnn_f32_gemm_config *cfg, int m, int64_t K, const float *w,
                      float *ap, int ith, int nth)
{
    const axnn_conv_isa *isa = axnn_conv_isa_get();
    const int mr = cfg->mr;
    int64_t lo, hi;
    axnn_split((m + mr - 1) / mr, ith, nth, &lo, &hi);
    for (int64_t mp = lo; mp < hi; mp++)
        isa->pack_panel(ap + mp * mr * K, mr, w + mp * mr * K, K, (int)min64(mr, m - mp * mr), K);
}

/* Weights of the input-gradient convolution: rows are input channels ci, columns
 * k' = (co, ky, kx), value W[co][ci][kh-1-ky][kw-1-kx]. */
void axnn_conv_pack_w_flip(const axnn_f32_gemm_config *cfg, const axnn_conv_shape *s,
                           const float *w, float *ap, int ith, int nth)
{
    const int mr = cfg->mr, taps = s->kh * s->kw;
    const int64_t K = (int64_t)s->m * taps;
    int64_t lo, hi;
    axnn_split((s->c + mr - 1) / mr, ith, nth, &lo, &hi);
    for (int64_t mp = lo; mp < hi; mp++) {
        float *dst = ap + mp * mr * K;
        for (int i = 0; i < mr; i++) {
            int64_t ci = mp * mr + i;
            for (int64_t co = 0; co < s->m; co++) {
                const float *src = w + (co * s->c + ci) * taps;
                for (int t = 0; t < taps; t++)
                    dst[(co * taps + t) * mr + i] = ci < s->c ? src[taps - 1 - t] : 0.0f;
            }
        }
    }
}

/* ---- local blocks of the padded layout (direct path) ---- */

/* Rows [r0, r1) of the padded layout `l` (all its channels) into buf, channel ci at
 * buf + ci*lplane, row r at (r - r0)*pitch: the same numbers as in a whole-batch xs, made for
 * the rows one block of tiles reads. x is the batch, element (i, ci, y, x) at x[i*x_img +
 * ci*x_ch + y*w + x]. Rows past the last image are zero. */
static void build_rows(const axnn_conv_isa *isa, const axnn_conv_layout *l, const float *x,
                       int64_t x_img, int64_t x_ch, int64_t r0, int64_t r1, float *buf,
                       int64_t lplane)
{
    for (int64_t c = 0; c < l->c; c++) {
        float *pl = buf + c * lplane;
        for (int64_t r = r0; r < r1;) {
            int64_t i = r / l->rows, y = r % l->rows - l->ph;
            if (i >= l->n || y < 0) {
                memset(pl + (r - r0) * l->pitch, 0, (size_t)l->pitch * sizeof(float));
                r++;
                continue;
            }
            int64_t cnt = min64(r1 - r, l->h - y);
            isa->pad_rows(pl + (r - r0) * l->pitch, l->pitch, l->pw,
                          x + i * x_img + c * x_ch + y * l->w, l->w, cnt);
            r += cnt;
        }
    }
}

/* A prefetch cursor over the input rows [r0, r1) of every channel of a layout: the rows the
 * next block will copy, as spans of consecutive floats (the data rows of one image). The
 * block's compute advances it a few lines at a time, so that the prefetches trickle out
 * instead of overflowing the miss queues (which drop them). */
typedef struct pf_cursor {
    const float *x;
    int64_t x_ch, c, nc;
    int64_t span_off[16], span_len[16]; /* floats, from channel 0 */
    int nspans, s;
    int64_t pos; /* floats into span s */
} pf_cursor;

static pf_cursor pf_make(const axnn_conv_layout *l, const float *x, int64_t x_img, int64_t x_ch,
                         int64_t r0, int64_t r1)
{
    pf_cursor p = {x, x_ch, 0, l->c, {0}, {0}, 0, 0, 0};
    for (int64_t r = r0; r < r1 && p.nspans < 16;) { /* runs of data rows of one image */
        int64_t i = r / l->rows, y = r % l->rows - l->ph;
        if (i >= l->n || y < 0) {
            r++;
            continue;
        }
        int64_t cnt = r1 - r < l->h - y ? r1 - r : l->h - y;
        p.span_off[p.nspans] = i * x_img + y * l->w;
        p.span_len[p.nspans++] = cnt * l->w;
        r += cnt;
    }
    if (!p.nspans) p.c = p.nc;
    return p;
}

/* Cache lines left to prefetch. */
static int64_t pf_rows(const pf_cursor *p)
{
    int64_t f = 0;
    for (int q = 0; q < p->nspans; q++) f += p->span_len[q];
    return (p->nc - p->c) * ((f + 15) / 16);
}

/* Prefetches (to L2) the next `lines` cache lines of the cursor. */
static void pf_step(pf_cursor *p, int64_t lines)
{
    for (; lines > 0 && p->c < p->nc; lines--) {
        __builtin_prefetch(p->x + p->c * p->x_ch + p->span_off[p->s] + p->pos, 0, 2);
        p->pos += 16;
        if (p->pos >= p->span_len[p->s]) {
            p->pos = 0;
            if (++p->s == p->nspans) {
                p->s = 0;
                p->c++;
            }
        }
    }
}

/* The padded rows [*r0, *r1) that columns [j0, j1) read through taps up to (kh-1, kw-1). */
static void block_rows(const axnn_conv_layout *l, int kh, int kw, int64_t j0, int64_t j1,
                       int64_t *r0, int64_t *r1)
{
    *r0 = j0 / l->pitch;
    *r1 = (j1 - 1 + (int64_t)(kh - 1) * l->pitch + kw - 1) / l->pitch + 1;
}

/* ---- forward ---- */

typedef struct fwd_plan {
    bool direct;
    int64_t K, J, T; /* rows of B, columns, tiles */
    int64_t kc, nkb, nct, mpad;
    int64_t nbt, lplane; /* direct: tiles per local block, floats per channel of the block */
    axnn_conv_layout l;  /* direct: the padded layout the columns are numbered in */
} fwd_plan;

static fwd_plan fwd_plan_of(const axnn_f32_gemm_config *cfg, const axnn_conv_shape *s)
{
    fwd_plan p;
    p.direct = axnn_conv_direct(s);
    p.K = conv_K(s);
    p.l = axnn_conv_layout_make(s->n, s->c, s->h, s->w, s->ph, s->pw, s->kh);
    if (p.direct)
        p.J = ((int64_t)(s->n - 1) * p.l.rows + s->oh - 1) * p.l.pitch + s->ow;
    else
        p.J = (int64_t)s->n * s->oh * s->ow;
    p.T = (p.J + cfg->nr - 1) / cfg->nr;
    int64_t kc_max = p.direct ? KC_DIRECT : KC_PACKED;
    p.nkb = (p.K + kc_max - 1) / kc_max;
    p.kc = (p.K + p.nkb - 1) / p.nkb;
    p.mpad = round_up(s->m, cfg->mr);
    p.nct = 1;
    if (p.nkb > 1) {
        p.nct = C_BLOCK_FLOATS / (p.mpad * cfg->nr);
        p.nct = p.nct < 1 ? 1 : p.nct > 16 ? 16 : p.nct;
    }
    p.nbt = p.lplane = 0;
    if (p.direct) {
        int64_t rows = LOCAL_FLOATS / ((int64_t)s->c * p.l.pitch) - s->kh - 3;
        p.nbt = rows * p.l.pitch / cfg->nr;
        p.nbt = p.nbt < 1 ? 1 : p.nbt > 128 ? 128 : p.nbt;
        int64_t rmax = p.nbt * cfg->nr / p.l.pitch + s->kh + 3 + (s->kw + p.l.pitch - 1) / p.l.pitch;
        p.lplane = round_up(rmax * p.l.pitch, 16) + 16;
    }
    return p;
}

bool axnn_conv_dw_needs_xs(const axnn_conv_shape *s) { return !axnn_conv_direct(s); }

/* Per-thread workspace, in floats: C block, B panel, row pointer tables, output runs, source
 * runs, and (direct path) the local block. */
int64_t axnn_conv_fwd_ws_floats(const axnn_f32_gemm_config *cfg, const axnn_conv_shape *s)
{
    fwd_plan p = fwd_plan_of(cfg, s);
    int64_t f = round_up(p.mpad * p.nct * cfg->nr, 16) + 16;
    f += KC_PACKED * (int64_t)cfg->nr + 16;
    f += 2 * (p.K + KC_PACKED) + 16;
    f += 4 * AXNN_F32_MAX_NR + 16;
    f += 2 * 5 * AXNN_F32_MAX_NR + 16;
    f += (int64_t)s->c * p.lplane + 16;
    return f;
}

/* Source runs of a packed tile's columns [j0, j1) (output pixels, split at row ends). */
static int packed_src_runs(const axnn_conv_shape *s, int64_t j0, int64_t j1, axnn_conv_srun *runs)
{
    const int64_t P = (int64_t)s->oh * s->ow;
    int n = 0;
    for (int64_t j = j0; j < j1;) {
        int64_t i = j / P, q = j % P, oy = q / s->ow, ox = q % s->ow, len = min64(s->ow - ox, j1 - j);
        runs[n++] = (axnn_conv_srun){(int32_t)(j - j0), (int32_t)len, (int32_t)i, (int32_t)oy, (int32_t)ox};
        j += len;
    }
    return n;
}

/* Prefetches the input lines a packed tile will read for rows [k0, k0 + kc) of B: per
 * channel, each run's input rows (those of tap ky = 0 .. kh-1). */
static void prefetch_packed(const axnn_conv_shape *s, const float *x, int64_t x_img, int64_t x_ch,
                            int64_t k0, int64_t kc, const axnn_conv_srun *runs, int nruns)
{
    const int64_t taps = (int64_t)s->kh * s->kw;
    for (int64_t c = k0 / taps; c <= (k0 + kc - 1) / taps; c++)
        for (int q = 0; q < nruns; q++) {
            const axnn_conv_srun *r = &runs[q];
            for (int ky = 0; ky < s->kh; ky++) {
                int64_t iy = (int64_t)r->oy * s->sh - s->ph + ky;
                if (iy < 0 || iy >= s->h) continue;
                int64_t ix = (int64_t)r->ox * s->sw - s->pw;
                const float *p = x + r->n * x_img + c * x_ch + iy * s->w + (ix > 0 ? ix : 0);
                __builtin_prefetch(p, 0, 3);
                __builtin_prefetch(p + (int64_t)r->len * s->sw, 0, 3);
            }
        }
}

/* Offset in xs (from the channel plane) of tap (0, 0) for each valid column of a packed tile;
 * returns the number of valid columns. */
static int packed_cols(const axnn_conv_shape *s, const axnn_conv_layout *xl, int64_t j0,
                       int64_t j1, int32_t *cofs)
{
    const int64_t P = (int64_t)s->oh * s->ow;
    int n = 0;
    for (int64_t j = j0; j < j1; j++, n++) {
        int64_t i = j / P, p = j % P, oy = p / s->ow, ox = p % s->ow;
        int64_t off = (i * xl->rows + oy * s->sh) * xl->pitch + ox * s->sw;
        assert(off <= INT32_MAX);
        cofs[n] = (int32_t)off;
    }
    return n;
}

/* Runs of the tile's columns [j0, j1) onto output pixels; returns their number. */
static int tile_runs(const axnn_conv_shape *s, const fwd_plan *p, int64_t out_img, int64_t j0,
                     int64_t j1, axnn_conv_run *runs)
{
    int n = 0;
    if (!p->direct) {
        const int64_t P = (int64_t)s->oh * s->ow;
        for (int64_t j = j0; j < j1;) {
            int64_t i = j / P, q = j % P, len = min64(P - q, j1 - j);
            runs[n++] = (axnn_conv_run){(int32_t)(j - j0), (int32_t)len, i * out_img + q};
            j += len;
        }
        return n;
    }
    const int64_t pitch = p->l.pitch, rows = p->l.rows;
    for (int64_t j = j0; j < j1;) {
        int64_t r = j / pitch, ox = j % pitch, i = r / rows, oy = r % rows;
        if (oy >= s->oh) {
            j = (i + 1) * rows * pitch;
        } else if (ox >= s->ow) {
            j = (r + 1) * pitch;
        } else {
            int64_t len = min64(s->ow - ox, j1 - j);
            runs[n++] = (axnn_conv_run){(int32_t)(j - j0), (int32_t)len,
                                        i * out_img + oy * s->ow + ox};
            j += len;
        }
    }
    return n;
}

typedef struct fwd_ws {
    float *c, *tile, *local;
    const float **bptr, **tptr;
    axnn_conv_run *runs;
    axnn_conv_srun *sruns, *pruns; /* source runs of this tile and of the next (prefetch) */
} fwd_ws;

static fwd_ws fwd_ws_carve(const axnn_f32_gemm_config *cfg, const fwd_plan *p, float *ws)
{
    fwd_ws w;
    w.c = ws;
    ws += round_up(p->mpad * p->nct * cfg->nr, 16) + 16;
    w.tile = ws;
    ws += KC_PACKED * (int64_t)cfg->nr + 16;
    w.bptr = (const float **)ws;
    w.tptr = w.bptr + p->K;
    ws += 2 * (p->K + KC_PACKED) + 16;
    w.runs = (axnn_conv_run *)ws;
    ws += 4 * AXNN_F32_MAX_NR + 16;
    w.sruns = (axnn_conv_srun *)ws;
    w.pruns = w.sruns + AXNN_F32_MAX_NR;
    ws += 2 * 5 * AXNN_F32_MAX_NR + 16;
    w.local = ws;
    return w;
}

/* Row k = (ci, ky, kx) of B starts at base + ci*plane + ky*pitch + kx. */
static void row_table(const axnn_conv_shape *s, const float *base, int64_t plane, int64_t pitch,
                      const float **t)
{
    int64_t k = 0;
    for (int c = 0; c < s->c; c++)
        for (int ky = 0; ky < s->kh; ky++)
            for (int kx = 0; kx < s->kw; kx++) t[k++] = base + c * plane + ky * pitch + kx;
}

/* Prefetches the output (and residual) lines that the epilogue of rows [r0, r0 + nrows) of a
 * tile will touch, before the micro-kernel runs: they come from memory (one stream per
 * channel, which the hardware prefetchers do not follow) and the kernel hides the latency. */
static void prefetch_epilogue(const axnn_conv_epi *e, int r0, int nrows,
                              const axnn_conv_run *runs, int nruns)
{
    for (int r = r0; r < r0 + nrows; r++)
        for (int q = 0; q < nruns; q++) {
            const int64_t o = runs[q].dst + r * e->out_ch;
            for (int64_t i = 0; i < runs[q].len + 15; i += 16) {
                __builtin_prefetch(e->out + o + i, 1, 3);
                if (e->res) __builtin_prefetch(e->res + o + i, 0, 3);
            }
        }
}

/* Tiles [tb0, tb1) of the GEMM. Direct path: B rows are brows (the row table of the local
 * block) read at column j0 - coff. Packed path: B is gathered from brows for each tile. */
static void fwd_tiles(const axnn_conv_fwd_args *a, const fwd_plan *p, fwd_ws *w, int64_t tb0,
                      int64_t tb1, int64_t coff, pf_cursor *pf)
{
    const int64_t pf_per_tile = pf ? (pf_rows(pf) + (tb1 - tb0) - 1) / (tb1 - tb0) : 0;
    const axnn_f32_gemm_config *cfg = a->cfg;
    const axnn_conv_isa *isa = axnn_conv_isa_get();
    const axnn_conv_shape *s = &a->s;
    const int mr = cfg->mr, nr = cfg->nr;
    const int64_t ldct = p->nct * nr, npanels = p->mpad / mr;
    for (int64_t tb = tb0; tb < tb1; tb += p->nct) {
        int64_t ntl = min64(p->nct, tb1 - tb);
        for (int64_t kb = 0; kb < p->nkb; kb++) {
            const int64_t k0 = kb * p->kc, kc = min64(p->kc, p->K - k0);
            const bool last = kb == p->nkb - 1;
            for (int64_t tt = 0; tt < ntl; tt++) {
                const int64_t j0 = (tb + tt) * nr, j1 = min64(j0 + nr, p->J);
                const float *const *brows = w->tptr;
                int64_t boff = 0;
                if (p->direct) {
                    brows = w->bptr + k0;
                    boff = j0 - coff;
                } else {
                    int nsr = packed_src_runs(s, j0, j1, w->sruns);
                    isa->pack_x(w->tile, nr, s, a->x, a->x_img, a->x_ch, k0, kc, w->sruns, nsr);
                    if (j1 < p->J) { /* the next tile, same rows of B */
                        int npr = packed_src_runs(s, j1, min64(j1 + nr, p->J), w->pruns);
                        prefetch_packed(s, a->x, a->x_img, a->x_ch, k0, kc, w->pruns, npr);
                    }
                }
                int nruns = last ? tile_runs(s, p, a->epi.out_img, j0, j1, w->runs) : 0;
                if (pf && kb == 0) pf_step(pf, pf_per_tile);
                for (int64_t mp = 0; mp < npanels; mp++) {
                    float *ct = w->c + mp * mr * ldct + tt * nr;
                    const int rows = (int)min64(mr, s->m - mp * mr);
                    if (last) prefetch_epilogue(&a->epi, (int)(mp * mr), rows, w->runs, nruns);
                    cfg->ind_ukernel(kc, a->ap + mp * mr * p->K + k0 * mr, brows, boff, ct, ldct,
                                     kb > 0);
                    if (last) isa->epilogue(&a->epi, ct, ldct, (int)(mp * mr), rows, w->runs, nruns);
                }
            }
        }
    }
}

void axnn_conv_fwd(const axnn_conv_fwd_args *a, float *ws, int ith, int nth)
{
    const axnn_conv_isa *isa = axnn_conv_isa_get();
    const axnn_conv_shape *s = &a->s;
    const fwd_plan p = fwd_plan_of(a->cfg, s);
    const int nr = a->cfg->nr;
    fwd_ws w = fwd_ws_carve(a->cfg, &p, ws);
    int64_t t0, t1;
    axnn_split(p.T, ith, nth, &t0, &t1);
    if (!p.direct) {
        for (int64_t q = 0; q < p.kc; q++) w.tptr[q] = w.tile + q * nr;
        fwd_tiles(a, &p, &w, t0, t1, 0, NULL);
        return;
    }
    row_table(s, w.local, p.lplane, p.l.pitch, w.bptr);
    for (int64_t tb = t0; tb < t1; tb += p.nbt) {
        const int64_t tb1 = min64(t1, tb + p.nbt);
        int64_t r0, r1;
        block_rows(&p.l, s->kh, s->kw, tb * nr, tb1 * nr, &r0, &r1);
        build_rows(isa, &p.l, a->x, a->x_img, a->x_ch, r0, r1, w.local, p.lplane);
        int64_t n0 = 0, n1 = 0;
        if (tb1 < t1) block_rows(&p.l, s->kh, s->kw, tb1 * nr, min64(t1, tb1 + p.nbt) * nr, &n0, &n1);
        pf_cursor pf = pf_make(&p.l, a->x, a->x_img, a->x_ch, r1 > n0 ? r1 : n0, n1);
        fwd_tiles(a, &p, &w, tb, tb1, r0 * p.l.pitch, &pf);
    }
}

/* ---- weight gradient ---- */

int64_t axnn_conv_dw_ldp(const axnn_f32_gemm_config *cfg, const axnn_conv_shape *s)
{
    return round_up(conv_K(s), axnn_conv_direct(s) ? cfg->dnr : cfg->nr);
}

static int64_t dw_rows(const axnn_f32_gemm_config *cfg, const axnn_conv_shape *s)
{
    return round_up(s->m, axnn_conv_direct(s) ? cfg->dmr : cfg->mr);
}

int64_t axnn_conv_dw_part_floats(const axnn_f32_gemm_config *cfg, const axnn_conv_shape *s)
{
    return dw_rows(cfg, s) * axnn_conv_dw_ldp(cfg, s);
}

/* Direct path: columns per block (a multiple of 16) and floats per channel of a local block;
 * the rows of x and dy that one block reads should fit L2. */
static void dw_block(const axnn_conv_shape *s, const axnn_conv_layout *l, int64_t *jb,
                     int64_t *lplane)
{
    int64_t rows = DW_LOCAL_FLOATS / ((int64_t)(s->c + s->m) * l->pitch) - s->kh - 3;
    int64_t cols = rows * l->pitch;
    cols = cols < 256 ? 256 : cols > 4096 ? 4096 : cols;
    *jb = cols / 16 * 16;
    *lplane = round_up((*jb / l->pitch + s->kh + 3 + (s->kw + l->pitch - 1) / l->pitch) * l->pitch, 16) + 16;
}

int64_t axnn_conv_dw_ws_floats(const axnn_f32_gemm_config *cfg, const axnn_conv_shape *s)
{
    const int64_t ldp = axnn_conv_dw_ldp(cfg, s), rows = dw_rows(cfg, s);
    if (axnn_conv_direct(s)) {
        axnn_conv_layout l = axnn_conv_layout_make(s->n, s->c, s->h, s->w, s->ph, s->pw, s->kh);
        int64_t jb, lplane;
        dw_block(s, &l, &jb, &lplane);
        return 2 * (ldp + rows) + 16 + (int64_t)(s->c + s->m) * lplane + 16;
    }
    return ldp + rows + 2 * DW_CHUNK_PACKED + rows * DW_CHUNK_PACKED +
           DW_CHUNK_PACKED * (int64_t)cfg->nr + 64;
}

/* Direct path: for each block of columns, the rows of x (layout of the forward convolution)
 * and of dy (layout of the input-gradient convolution: same pitch and rows, its padding rows
 * and columns are zero where the forward has junk columns) are copied into local planes, and
 * the dot kernel sums dy row r against x row k over the block's columns. */
static void dw_direct(const axnn_conv_dw_args *a, float *part, float *ws, int ith, int nth)
{
    const axnn_f32_gemm_config *cfg = a->cfg;
    const axnn_conv_isa *isa = axnn_conv_isa_get();
    const axnn_conv_shape *s = &a->s;
    const int64_t K = conv_K(s), ldp = axnn_conv_dw_ldp(cfg, s), rows = dw_rows(cfg, s);
    const fwd_plan p = fwd_plan_of(cfg, s);
    const axnn_conv_layout yl = axnn_conv_dx_layout(s);
    const int64_t pyh = s->kh - 1 - s->ph, pyw = s->kw - 1 - s->pw;
    int64_t jb, lplane;
    dw_block(s, &p.l, &jb, &lplane);
    const float **brows = (const float **)ws, **arows = brows + ldp;
    float *lx = ws + 2 * (ldp + rows) + 16, *ly = lx + (int64_t)s->c * lplane;
    row_table(s, lx, lplane, p.l.pitch, brows);
    for (int64_t k = K; k < ldp; k++) brows[k] = brows[0];
    for (int64_t r = 0; r < rows; r++) arows[r] = ly + (r < s->m ? r : 0) * lplane + pyw;

    int64_t lo, hi;
    axnn_split((p.J + 15) / 16, ith, nth, &lo, &hi);
    lo *= 16;
    hi = min64(hi * 16, p.J);
    memset(part, 0, (size_t)(rows * ldp) * sizeof(float));
    for (int64_t j = lo; j < hi; j += jb) {
        const int64_t len = min64(jb, hi - j);
        int64_t r0, r1, y0, y1, n0 = 0, n1 = 0;
        block_rows(&p.l, s->kh, s->kw, j, j + len, &r0, &r1);
        build_rows(isa, &p.l, a->x, a->x_img, a->x_ch, r0, r1, lx, lplane);
        y0 = r0 + pyh;
        y1 = (j + len - 1 + pyh * p.l.pitch + pyw) / p.l.pitch + 1;
        build_rows(isa, &yl, a->dy, a->dy_img, a->dy_ch, y0, y1, ly, lplane);
        if (j + len < hi) block_rows(&p.l, s->kh, s->kw, j + len, min64(hi, j + len + jb), &n0, &n1);
        pf_cursor px = pf_make(&p.l, a->x, a->x_img, a->x_ch, r1 > n0 ? r1 : n0, n1);
        pf_cursor py = pf_make(&yl, a->dy, a->dy_img, a->dy_ch, y1 > n0 + pyh ? y1 : n0 + pyh,
                               n1 > 0 ? n1 + pyh : 0);
        const int64_t steps = ldp / cfg->dnr;
        const int64_t px_step = (pf_rows(&px) + steps - 1) / steps, py_step = (pf_rows(&py) + steps - 1) / steps;
        for (int64_t kt = 0; kt < ldp; kt += cfg->dnr) {
            pf_step(&px, px_step);
            pf_step(&py, py_step);
            for (int64_t mt = 0; mt < rows; mt += cfg->dmr)
                cfg->dot_ukernel(len, arows + mt, brows + kt, j - r0 * p.l.pitch,
                                 part + mt * ldp + kt, ldp, true);
        }
    }
}

static void dw_packed(const axnn_conv_dw_args *a, float *part, float *ws, int ith, int nth)
{
    const axnn_f32_gemm_config *cfg = a->cfg;
    const axnn_conv_isa *isa = axnn_conv_isa_get();
    const axnn_conv_shape *s = &a->s;
    const int mr = cfg->mr, nr = cfg->nr;
    const int64_t K = conv_K(s), ldp = axnn_conv_dw_ldp(cfg, s), rows = dw_rows(cfg, s);
    const int64_t P = (int64_t)s->oh * s->ow, JC = DW_CHUNK_PACKED;
    int32_t *kofs = (int32_t *)ws, *chofs = kofs + ldp, *cofs = chofs + rows, *dofs = cofs + JC;
    float *apack = ws + ldp + rows + 2 * JC + 16;
    float *btile = apack + rows * JC + 16;
    int64_t k = 0;
    for (int c = 0; c < s->c; c++)
        for (int ky = 0; ky < s->kh; ky++)
            for (int kx = 0; kx < s->kw; kx++)
                kofs[k++] = (int32_t)(c * a->xl.plane + ky * a->xl.pitch + kx);
    for (int64_t r = 0; r < rows; r++) chofs[r] = (int32_t)(r * a->dy_ch);

    int64_t lo, hi;
    axnn_split((int64_t)s->n * P, ith, nth, &lo, &hi);
    memset(part, 0, (size_t)(rows * ldp) * sizeof(float));
    for (int64_t j0 = lo; j0 < hi; j0 += JC) {
        const int len = (int)min64(JC, hi - j0);
        packed_cols(s, &a->xl, j0, j0 + len, cofs);
        for (int q = 0; q < len; q++) {
            int64_t j = j0 + q;
            dofs[q] = (int32_t)(j / P * a->dy_img + j % P);
        }
        for (int64_t mp = 0; mp < rows / mr; mp++)
            isa->pack_rows(apack + mp * mr * len, mr, a->dy, dofs, len, chofs + mp * mr,
                           (int)min64(mr, s->m - mp * mr));
        for (int64_t kt = 0; kt < ldp; kt += nr) {
            isa->pack_rows(btile, nr, a->xs, cofs, len, kofs + kt, (int)min64(nr, K - kt));
            for (int64_t mp = 0; mp < rows / mr; mp++)
                cfg->ukernel(len, apack + mp * mr * len, btile, part + mp * mr * ldp + kt, ldp, true);
        }
    }
}

void axnn_conv_dw(const axnn_conv_dw_args *a, float *part, float *ws, int ith, int nth)
{
    if (axnn_conv_direct(&a->s))
        dw_direct(a, part, ws, ith, nth);
    else
        dw_packed(a, part, ws, ith, nth);
}

/* ---- portable helpers ---- */

static void epilogue_portable(const axnn_conv_epi *e, const float *ct, int64_t ldct, int r0,
                              int nrows, const axnn_conv_run *runs, int nruns)
{
    for (int r = 0; r < nrows; r++) {
        const int64_t ch = r0 + r;
        const float sc = e->scale ? e->scale[ch] : 1.0f, sh = e->shift ? e->shift[ch] : 0.0f;
        const float *src = ct + r * ldct;
        for (int q = 0; q < nruns; q++) {
            const axnn_conv_run *u = &runs[q];
            float *o = e->out + u->dst + ch * e->out_ch;
            const float *rs = e->res ? e->res + u->dst + ch * e->out_ch : NULL;
            for (int i = 0; i < u->len; i++) {
                float t = src[u->col + i] * sc + sh;
                if (rs) t += rs[i];
                if (e->relu) t = t > 0.0f ? t : 0.0f;
                o[i] = e->accumulate ? o[i] + t : t;
            }
        }
    }
}

static void pack_rows_portable(float *dst, int nr, const float *base, const int32_t *cofs,
                               int ncols, const int32_t *kofs, int nk)
{
    for (int j = 0; j < ncols; j++) {
        float *d = dst + (int64_t)j * nr;
        const float *src = base + cofs[j];
        for (int q = 0; q < nk; q++) d[q] = src[kofs[q]];
        for (int q = nk; q < nr; q++) d[q] = 0.0f;
    }
}

static void pack_x_portable(float *dst, int nr, const axnn_conv_shape *s, const float *x,
                            int64_t x_img, int64_t x_ch, int64_t k0, int64_t kc,
                            const axnn_conv_srun *runs, int nruns)
{
    const int64_t taps = (int64_t)s->kh * s->kw;
    for (int64_t p = 0; p < kc; p++) {
        const int64_t k = k0 + p, c = k / taps, ky = k % taps / s->kw, kx = k % s->kw;
        float *d = dst + p * nr;
        for (int j = 0; j < nr; j++) d[j] = 0.0f;
        for (int q = 0; q < nruns; q++) {
            const axnn_conv_srun *r = &runs[q];
            const int64_t iy = (int64_t)r->oy * s->sh - s->ph + ky;
            if (iy < 0 || iy >= s->h) continue;
            const float *src = x + r->n * x_img + c * x_ch + iy * s->w;
            for (int l = 0; l < r->len; l++) {
                int64_t ix = (int64_t)(r->ox + l) * s->sw - s->pw + kx;
                if (ix >= 0 && ix < s->w) d[r->col + l] = src[ix];
            }
        }
    }
}

static void pack_panel_portable(float *dst, int mr, const float *w, int64_t ldw, int rows,
                                int64_t K)
{
    for (int64_t k = 0; k < K; k++) {
        float *d = dst + k * mr;
        for (int i = 0; i < rows; i++) d[i] = w[i * ldw + k];
        for (int i = rows; i < mr; i++) d[i] = 0.0f;
    }
}

static void pad_rows_portable(float *dst, int64_t pitch, int pw, const float *src, int64_t w,
                              int64_t nrows)
{
    for (int64_t r = 0; r < nrows; r++) {
        float *d = dst + r * pitch;
        for (int q = 0; q < pw; q++) d[q] = 0.0f;
        memcpy(d + pw, src + r * w, (size_t)w * sizeof(float));
    }
}

const axnn_conv_isa axnn_conv_isa_portable = {epilogue_portable, pack_x_portable,
                                              pack_rows_portable, pack_panel_portable,
                                              pad_rows_portable};

const axnn_conv_isa *axnn_conv_isa_get(void)
{
    const axnn_cpu *c = axnn_cpu_features();
    if (c->avx512f && c->avx512bw && c->avx512vl) return &axnn_conv_isa_avx512;
    return &axnn_conv_isa_portable;
}
