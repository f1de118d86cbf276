/* bench_axmul: throughput of approximate-multiplier execution.
 *
 * Part 1, layers: one conv2d node of ResNet-20's shapes at batch 128 (16->16 3x3 at 32x32,
 * 32->32 at 16x16, 64->64 at 8x8), run as a whole layer (quantize, im2col, GEMM, dequantize)
 * with each kernel:
 *   ref      one table lookup per product, scalar (what AdaPT / TransAxx do per product)
 *   lut      the SIMD table kernel
 *   decomp   exact GEMM on operands augmented with the error's separable terms
 *   int8     exact int8
 *   fp32     the float engine
 * and prints GMAC/s (best of --iters runs, taken in turns across the kernels, each after an
 * untimed run; the reference runs once) and the ratios lut/ref, decomp/int8, int8/fp32.
 * Part 2, network: ResNet-20 evaluation images/s at batch 128 (3x32x32, random weights and
 * inputs, calibrated on random data) in fp32, exact int8 and with approximate multipliers.
 *
 *   bench_axmul [--threads N] [--iters K] [--lut-mul NAME] [--decomp-mul NAME]
 * Defaults: 1 thread for part 1 (per-core kernel speed), 2 for part 2; trunc:4 for the table
 * kernel; udm (rank 1) and trunc:3 (rank 3) for the decomposition.
 */
#include "axnn/axnn.h"
#include "axnn/quant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int iters = 5;

static double time_forward(axnn_plan *p, axnn_pool *pool, const float *x, int n)
{
    axnn_plan_forward(p, pool, x, NULL, n); /* warm up */
    double best = 1e30;
    for (int i = 0; i < iters; i++) {
        double t0 = axnn_now();
        axnn_plan_forward(p, pool, x, NULL, n);
        double dt = axnn_now() - t0;
        best = dt < best ? dt : best;
    }
    return best;
}

typedef struct layer {
    int c, hw;
} layer;

static axnn_graph *conv_graph(int c, int hw, int batch, int threads, axnn_plan **p)
{
    axnn_graph *g = axnn_graph_new();
    int x = axnn_input(g, c, hw, hw);
    int y = axnn_conv2d(g, "conv", x, c, 3, 1, 1, false);
    g->logits = y;
    g->info.in_channels = c;
    axnn_rng r;
    axnn_rng_seed(&r, 1);
    axnn_init_kaiming_normal_fan_out(&g->vals[axnn_graph_find_value(g, "conv.weight")], &r);
    *p = axnn_plan_new(g, batch, threads, false);
    return g;
}

/* Attaches the numeric mode; the input scales are set by hand (the speed does not depend on
 * them): 4 / 127, inputs are roughly standard normal. */
static int quantize(axnn_graph *g, const char *mul, axnn_qkernel k)
{
    axnn_quant_cfg cfg = {.mul = mul, .kernel = k};
    axnn_status st = axnn_quant_attach(g, &cfg);
    for (int n = 0; n < g->nnodes && !st; n++)
        if (g->nodes[n].ext) st = axnn_quant_set_input_scale(g, n, 4.0f / 127.0f);
    if (st) fprintf(stderr, "bench_axmul: %s\n", axnn_last_error());
    return st;
}

int main(int argc, char **argv)
{
    int threads1 = 1, threads2 = 2;
    const char *lut_mul = "trunc:4", *dec_muls[2] = {"udm", "trunc:3"};
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads")) threads1 = threads2 = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--iters")) iters = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--lut-mul")) lut_mul = argv[i + 1];
        else if (!strcmp(argv[i], "--decomp-mul")) dec_muls[0] = argv[i + 1];
        else {
            fprintf(stderr, "usage: bench_axmul [--threads N] [--iters K] [--lut-mul M] [--decomp-mul M]\n");
            return 2;
        }
    }
    const int batch = 128;
    const layer layers[] = {{16, 32}, {32, 16}, {64, 8}};
    axnn_pool *pool = axnn_pool_create(threads1, NULL);
    printf("Part 1: one conv layer (3x3, pad 1), batch %d, %d thread(s), GMAC/s\n\n", batch, threads1);
    printf("| layer | ref (%s) | lut (%s) | decomp (%s) | decomp (%s) | int8 | fp32 | lut/ref | decomp/int8 | int8/fp32 |\n",
           lut_mul, lut_mul, dec_muls[0], dec_muls[1]);
    printf("|---|---|---|---|---|---|---|---|---|---|\n");
    for (size_t l = 0; l < sizeof layers / sizeof layers[0]; l++) {
        const int c = layers[l].c, hw = layers[l].hw;
        axnn_rng r;
        axnn_rng_seed(&r, 2);
        float *x = malloc((size_t)batch * c * hw * hw * sizeof(float));
        for (int64_t i = 0; i < (int64_t)batch * c * hw * hw; i++) x[i] = axnn_rng_normal(&r);
        double macs = (double)batch * c * c * 9 * hw * hw;
        const char *muls[5] = {lut_mul, lut_mul, dec_muls[0], dec_muls[1], NULL};
        axnn_qkernel ks[5] = {AXNN_QK_REF, AXNN_QK_LUT, AXNN_QK_DECOMP, AXNN_QK_DECOMP, AXNN_QK_AUTO};
        double gm[6], best[6];
        axnn_graph *gs[6];
        axnn_plan *ps[6];
        for (int v = 0; v < 6; v++) {
            gs[v] = conv_graph(c, hw, batch, threads1, &ps[v]);
            if (!ps[v]) {
                fprintf(stderr, "bench_axmul: %s\n", axnn_last_error());
                return 1;
            }
            if (v < 5 && quantize(gs[v], muls[v], ks[v])) return 1;
            axnn_plan_forward(ps[v], pool, x, NULL, batch); /* warm up (and automatic choices) */
            best[v] = 1e30;
        }
        /* the reference once; the others in turns (each turn an untimed run, so that its data
         * is in the caches as in a run of one kernel, then a timed one), so that the ratios
         * compare runs made under the same conditions on a noisy machine */
        for (int it = 0; it < iters; it++)
            for (int v = it ? 1 : 0; v < 6; v++) {
                if (it) axnn_plan_forward(ps[v], pool, x, NULL, batch);
                double t0 = axnn_now();
                axnn_plan_forward(ps[v], pool, x, NULL, batch);
                double dt = axnn_now() - t0;
                best[v] = dt < best[v] ? dt : best[v];
            }
        for (int v = 0; v < 6; v++) {
            gm[v] = macs / best[v] / 1e9;
            axnn_plan_free(ps[v]);
            axnn_graph_free(gs[v]);
        }
        printf("| %d->%d %dx%d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.1fx | %.2f | %.2f |\n", c, c, hw, hw, gm[0],
               gm[1], gm[2], gm[3], gm[4], gm[5], gm[1] / gm[0], gm[2] / gm[4], gm[4] / gm[5]);
        free(x);
    }
    axnn_pool_destroy(pool);

    printf("\nPart 2: ResNet-20 evaluation, batch %d, 3x32x32, %d thread(s), images/s\n\n", batch, threads2);
    pool = axnn_pool_create(threads2, NULL);
    axnn_rng r;
    axnn_rng_seed(&r, 3);
    float *x = malloc((size_t)batch * 3072 * sizeof(float));
    for (int64_t i = 0; i < (int64_t)batch * 3072; i++) x[i] = axnn_rng_normal(&r);
    const char *net_muls[] = {"fp32", "int8", lut_mul, dec_muls[0], "mitchell"};
    double fp = 0, i8 = 0;
    printf("| mode | kernel of the largest layer | images/s | vs fp32 | vs int8 |\n|---|---|---|---|---|\n");
    for (size_t v = 0; v < sizeof net_muls / sizeof net_muls[0]; v++) {
        axnn_model_cfg mc = {3, 32, 32, 10, 0, 1};
        axnn_graph *g;
        axnn_model_build("resnet20", &mc, &g);
        axnn_plan *p = axnn_plan_new(g, batch, threads2, false);
        if (!p) {
            fprintf(stderr, "bench_axmul: %s\n", axnn_last_error());
            return 1;
        }
        if (v > 0 && quantize(g, v == 1 ? NULL : net_muls[v], AXNN_QK_AUTO)) return 1;
        double ips = batch / time_forward(p, pool, x, batch);
        /* the kernel of the quantized layer with the most MACs, after the first forward has
         * chosen the automatic ones */
        char kernel[128] = "fp32";
        int64_t most = -1;
        axnn_qnode_info qi;
        for (int k = 0; k < g->nnodes; k++)
            if (axnn_quant_node_info(g, k, &qi) && qi.macs > most) {
                most = qi.macs;
                snprintf(kernel, sizeof kernel, "%s", qi.kernel);
            }
        if (v == 0) fp = ips;
        if (v == 1) i8 = ips;
        printf("| %s | %s | %.0f | %.2f | %.2f |\n", net_muls[v], kernel, ips, ips / fp, i8 > 0 ? ips / i8 : 0.0);
        axnn_plan_free(p);
        axnn_graph_free(g);
    }
    free(x);
    axnn_pool_destroy(pool);
    return 0;
}
