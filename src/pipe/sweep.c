/* The calibration sweep: synthetic layers that span the descriptors of CNN and ViT layers
 * (channels 3-512, maps 2x2-32x32, kernels 1/3 and the patch embedding's k = stride, both
 * strides, fused BN / residual / ReLU epilogues, linear layers on vectors and on token rows,
 * pools, element-wise nodes, LayerNorm and attention over 17-65 tokens). No network's layer list
 * is copied in: the shapes are a grid, and networks are predicted from their descriptors only.
 * The quick sweep takes every few points of the same grid (for tests and --quick). */
#include "axnn/pipe.h"

#include <pthread.h>
#include <string.h>

#define MAX_SWEEP 512

static axnn_pipe_synth full[MAX_SWEEP], quick[MAX_SWEEP];
static int nfull, nquick;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void add(axnn_pipe_synth s)
{
    if (nfull < MAX_SWEEP) full[nfull++] = s;
}

static void convs(void)
{
    static const int chans[] = {3, 16, 32, 64, 128, 256, 512}, sizes[] = {32, 16, 8, 4, 2};
    for (int ci = 0; ci < 7; ci++)
        for (int si = 0; si < 5; si++) {
            int c = chans[ci], hw = sizes[si];
            if (c * hw * hw > 64 * 32 * 32 || (c >= 256 && hw > 8) || (c == 3 && hw < 32)) continue;
            for (int k = 1; k <= 3; k += 2)
                for (int st = 1; st <= 2; st++) {
                    if (st == 2 && hw < 4) continue;
                    int cout = c == 3 ? 16 : st == 2 ? 2 * c : c;
                    if (cout > 512) cout = 512;
                    bool res = st == 1 && cout == c && (ci + si) % 2 == 0;
                    add((axnn_pipe_synth){"conv", 4, c, hw, hw, cout, k, st, k / 2, true, res, true,
                                          0});
                    if (k == 3 && st == 1 && c >= 16 && c <= 128 && cout == c)
                        add((axnn_pipe_synth){"conv", 4, c, hw, hw, 2 * c > 128 ? c / 2 : 2 * c, 3,
                                              1, 1, true, false, true, 0});
                }
        }
    /* patch embeddings: kernel = stride */
    add((axnn_pipe_synth){"conv", 4, 1, 28, 28, 128, 4, 4, 0, false, false, false, 0});
    add((axnn_pipe_synth){"conv", 4, 3, 32, 32, 192, 4, 4, 0, false, false, false, 0});
    add((axnn_pipe_synth){"conv", 4, 3, 32, 32, 64, 8, 8, 0, false, false, false, 0});
}

static void vectors(void)
{
    static const int ins[] = {64, 128, 256, 512, 1024}, outs[] = {10, 100, 256, 512};
    for (int i = 0; i < 5; i++)
        for (int o = 0; o < 4; o++)
            add((axnn_pipe_synth){"linear", 2, ins[i], 1, 1, outs[o], 0, 0, 0, 0, 0, 0, 0});
    static const int c2[] = {64, 256, 512, 1024};
    for (int i = 0; i < 4; i++) {
        add((axnn_pipe_synth){"relu", 2, c2[i], 1, 1, 0, 0, 0, 0, 0, 0, 0, 0});
        add((axnn_pipe_synth){"dropout", 2, c2[i], 1, 1, 0, 0, 0, 0, 0, 0, 0, 0});
    }
}

static void maps(void)
{
    static const int chans[] = {16, 64, 128, 256, 512}, sizes[] = {32, 16, 8, 4, 2};
    for (int ci = 0; ci < 5; ci++)
        for (int si = 0; si < 5; si++) {
            int c = chans[ci], hw = sizes[si];
            if (c * hw * hw > 128 * 32 * 32) continue;
            if (hw >= 2) add((axnn_pipe_synth){"maxpool", 4, c, hw, hw, 0, 2, 2, 0, 0, 0, 0, 0});
            if (hw <= 8) add((axnn_pipe_synth){"gap", 4, c, hw, hw, 0, 0, 0, 0, 0, 0, 0, 0});
            add((axnn_pipe_synth){"relu", 4, c, hw, hw, 0, 0, 0, 0, 0, 0, 0, 0});
            add((axnn_pipe_synth){"add", 4, c, hw, hw, 0, 0, 0, 0, 0, 0, 0, 0});
            add((axnn_pipe_synth){"flatten", 4, c, hw, hw, 0, 0, 0, 0, 0, 0, 0, 0});
        }
}

static void tokens(void)
{
    static const int dims[] = {64, 128, 192, 384}, toks[] = {17, 50, 65};
    for (int di = 0; di < 4; di++)
        for (int ti = 0; ti < 3; ti++) {
            int d = dims[di], t = toks[ti];
            add((axnn_pipe_synth){"linear", 3, d, t, 1, 3 * d, 0, 0, 0, 0, 0, 0, 0});
            add((axnn_pipe_synth){"linear", 3, d, t, 1, d, 0, 0, 0, 0, 0, 0, 0});
            add((axnn_pipe_synth){"linear", 3, 2 * d, t, 1, d, 0, 0, 0, 0, 0, 0, 0});
            add((axnn_pipe_synth){"layernorm", 3, d, t, 1, 0, 0, 0, 0, 0, 0, 0, 0});
            add((axnn_pipe_synth){"gelu", 3, 2 * d, t, 1, 0, 0, 0, 0, 0, 0, 0, 0});
            add((axnn_pipe_synth){"add", 3, d, t, 1, 0, 0, 0, 0, 0, 0, 0, 0});
            add((axnn_pipe_synth){"attention", 3, 3 * d, t, 1, 0, 0, 0, 0, 0, 0, 0,
                                  d / 32 > 1 ? d / 32 : 2});
            add((axnn_pipe_synth){"cls_pool", 3, d, t, 1, 0, 0, 0, 0, 0, 0, 0, 0});
            add((axnn_pipe_synth){"pos_embed", 3, d, t, 1, 0, 0, 0, 0, 0, 0, 0, 0});
            add((axnn_pipe_synth){"cls_token", 3, d, t - 1, 1, 0, 0, 0, 0, 0, 0, 0, 0});
            add((axnn_pipe_synth){"tokens", 4, d, 8, t / 8, 0, 0, 0, 0, 0, 0, 0, 0});
        }
}

static void build(void)
{
    convs();
    vectors();
    maps();
    tokens();
    /* quick: every fourth layer of each op, at least two per op */
    for (int i = 0; i < nfull; i++) {
        int seen = 0;
        for (int j = 0; j < i; j++) seen += !strcmp(full[j].op, full[i].op);
        if (seen < 2 || seen % 4 == 0) quick[nquick++] = full[i];
    }
}

const axnn_pipe_synth *axnn_pipe_sweep(bool q, int *n)
{
    pthread_once(&once, build);
    *n = q ? nquick : nfull;
    return q ? quick : full;
}
