/* Winograd F(2x2, 3x3) for eval-mode 3x3 convolutions with stride 1 and padding 1.
 *
 * Each 2x2 block of outputs ("tile") of a channel comes from a 4x4 patch d of the padded input
 * (rows 2ty-1 .. 2ty+2, columns 2tx-1 .. 2tx+2). With the transforms
 *     B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],  G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],
 *     A^T = [1 1 1 0; 0 1 -1 -1],
 * the tile is y = A^T [ sum_ci (G g G^T) .* (B^T d B) ] A: for each of the 16 positions xi of
 * the 4x4 transform domain, a GEMM Mo_xi (m x tiles) = U_xi (m x c) * V_xi (c x tiles), where
 * U = G g G^T are the transformed weights and V = B^T d B the transformed input. That is 16
 * multiplies per channel pair and tile against 36 for the direct convolution: 2.25 times fewer.
 * The transforms are additions, linear in c (input) and m (output), so they pay off once
 * c and m are 16 or more. Numerically it is a different summation of the same products (the
 * transforms use exact coefficients 1 and 1/2): errors stay a few ulps of the magnitudes.
 *
 * Work goes by blocks of 48 tiles (NR of the 8 x 48 micro-kernel), split over threads. Tiles
 * are numbered (image, tile row, tile column); a block is three groups of 16 tiles, one group
 * per zmm lane set. With tile rows of 4, 8 or 16 tiles a group is 4, 2 or 1 tile rows (or, for
 * wider images, 16 tiles of one row), which the AVX-512 transforms read with masked row loads
 * and one permute (winograd-avx512.c). Per block: the input transform writes V (16 x c x 48), 16
 * GEMMs with the indirect micro-kernel write Mo (16 x m x 48), and the output transform applies
 * the epilogue (folded BatchNorm, residual, ReLU) and writes the 2x2 tiles.
 *
 * AXNN_WINOGRAD=0 in the environment turns it off.
 */
#include "kernels/conv/winograd.h"

#include "axnn/base.h"

#include <stdlib.h>
#include <string.h>

#define TB 48 /* tiles per block */

static int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

/* AXNN_WINOGRAD=0 turns Winograd off (the direct convolution runs instead). */
static bool wino_enabled(void) { return axnn_settings_get()->winograd; }

bool axnn_conv_wino_ok(const axnn_f32_gemm_config *cfg, const axnn_conv_shape *s)
{
    if (!wino_enabled()) return false;
    const axnn_cpu *c = axnn_cpu_features();
    if (!(c->avx512f && c->avx512bw && c->avx512vl) || cfg->mr != 8 || cfg->nr != TB) return false;
    if (s->kh != 3 || s->kw != 3 || s->sh != 1 || s->sw != 1 || s->ph != 1 || s->pw != 1) return false;
    if (s->h % 2 || s->w % 2 || s->h < 8 || s->w > 1024) return false;
    const int tw = s->w / 2;
    if (!(tw == 4 || tw == 8 || tw % 16 == 0)) return false;
    /* the transforms pay off from 16 channels; V and Mo of a block stay in L2 */
    return s->c >= 16 && s->m >= 16 && s->c <= 128 && s->m <= 128;
}

int64_t axnn_conv_wino_w_floats(const axnn_f32_gemm_config *cfg, const axnn_conv_shape *s)
{
    return 16 * round_up(s->m, cfg->mr) * s->c;
}

/* U = G g G^T for output channel r, input channel ci, into the 16 panels. */
static void transform_weight(const float *g, float u[16])
{
    float t[4][3]; /* G g */
    for (int j = 0; j < 3; j++) {
        t[0][j] = g[j];
        t[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
        t[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
        t[3][j] = g[6 + j];
    }
    for (int i = 0; i < 4; i++) { /* (G g) G^T */
        u[4 * i + 0] = t[i][0];
        u[4 * i + 1] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
        u[4 * i + 2] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
        u[4 * i + 3] = t[i][2];
    }
}

/* Panel layout: uw[xi*mpad*c + mp*mr*c + ci*mr + i] = U_xi[mp*mr + i][ci] (0 past m). */
void axnn_conv_wino_pack_w(const axnn_f32_gemm_config *cfg, const axnn_conv_shape *s,
                           const float *w, float *uw, int ith, int nth)
{
    const int mr = cfg->mr;
    const int64_t mpad = round_up(s->m, mr), C = s->c;
    int64_t lo, hi;
    axnn_split(mpad / mr, ith, nth, &lo, &hi);
    float u[16][AXNN_F32_MAX_MR];
    for (int64_t mp = lo; mp < hi; mp++)
        for (int64_t ci = 0; ci < C; ci++) {
            for (int i = 0; i < mr; i++) {
                const int64_t r = mp * mr + i;
                float t[16] = {0};
                if (r < s->m) transform_weight(w + (r * C + ci) * 9, t);
                for (int xi = 0; xi < 16; xi++) u[xi][i] = t[xi];
            }
            for (int xi = 0; xi < 16; xi++)
                memcpy(uw + xi * mpad * C + mp * mr * C + ci * mr, u[xi], (size_t)mr * sizeof(float));
        }
}

typedef struct wino_ws {
    float *v, *mo;
    const float **vrows;
} wino_ws;

static wino_ws wino_carve(const axnn_conv_shape *s, int64_t mpad, float *ws)
{
    wino_ws w;
    w.v = ws;
    ws += 16 * (int64_t)s->c * TB + 16;
    w.mo = ws;
    ws += 16 * mpad * TB + 16;
    w.vrows = (const float **)ws;
    return w;
}

int64_t axnn_conv_wino_ws_floats(const axnn_f32_gemm_config *cfg, const axnn_conv_shape *s)
{
    const int64_t mpad = round_up(s->m, cfg->mr);
    return 16 * (int64_t)s->c * TB + 16 + 16 * mpad * TB + 16 + 2 * 16 * (int64_t)s->c + 64;
}

void axnn_conv_wino_fwd(const axnn_conv_fwd_args *a, float *ws, int ith, int nth)
{
    const axnn_f32_gemm_config *cfg = a->cfg;
    const axnn_conv_shape *s = &a->s;
    const int mr = cfg->mr;
    const int64_t mpad = round_up(s->m, mr), C = s->c;
    const int64_t T = (int64_t)s->n * (s->h / 2) * (s->w / 2), nblocks = (T + TB - 1) / TB;
    wino_ws w = wino_carve(s, mpad, ws);
    for (int xi = 0; xi < 16; xi++)
        for (int64_t c = 0; c < C; c++) w.vrows[xi * C + c] = w.v + (xi * C + c) * TB;
    int64_t b0, b1;
    axnn_split(nblocks, ith, nth, &b0, &b1);
    if (b1 > b0) memset(w.v, 0, (size_t)(16 * C * TB) * sizeof(float)); /* tail groups */
    for (int64_t b = b0; b < b1; b++) {
        const int64_t t0 = b * TB;
        const int groups = (int)((T - t0 < TB ? T - t0 : TB) / 16);
        axnn_wino_input_avx512(s, a->x, a->x_img, a->x_ch, t0, groups, w.v);
        for (int xi = 0; xi < 16; xi++)
            for (int64_t mp = 0; mp < mpad / mr; mp++)
                cfg->ind_ukernel(C, a->ap + xi * mpad * C + mp * mr * C, w.vrows + xi * C, 0,
                                 w.mo + (mp * mr * 16 + xi) * TB, 16 * TB, false);
        axnn_wino_output_avx512(s, &a->epi, t0, groups, w.mo, mpad);
    }
}
