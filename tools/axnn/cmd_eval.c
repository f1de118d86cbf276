/* axnn eval: accuracy of a checkpoint (or a plain PyTorch export) on a test set. */
#include "model_args.h"
#include "quant_args.h"

#include <stdio.h>
#include <string.h>

int cli_eval(int argc, char **argv)
{
    cli_model_args m = {0};
    const char *data = NULL, *data_dir = NULL;
    int batch = 256, threads = axnn_default_threads();
    bool json = false, train_split = false;
    cli_quant_args qa;
    cli_quant_defaults(&qa);
    cli_flag flags[32];
    int nf = cli_model_flags(&m, flags);
    nf += cli_quant_flags(&qa, flags + nf, true);
    flags[nf++] = (cli_flag){"data", FLAG_STR, &data, "NAME", "dataset (default: the checkpoint's)"};
    flags[nf++] = (cli_flag){"data-dir", FLAG_STR, &data_dir, "DIR", "dataset folder"};
    flags[nf++] = (cli_flag){"train-split", FLAG_BOOL, &train_split, NULL, "evaluate on the training split"};
    flags[nf++] = (cli_flag){"batch", FLAG_INT, &batch, "N", "batch size (default 256)", 1, 65536};
    flags[nf++] = (cli_flag){"threads", FLAG_INT, &threads, "N", "threads (default: all cores)", 1, 1024};
    flags[nf++] = (cli_flag){"json", FLAG_BOOL, &json, NULL, "print the result as JSON"};
    const char *pos[1];
    int npos;
    int rc = cli_parse("eval", "CHECKPOINT [options]", argc, argv, flags, nf, pos, 1, &npos);
    if (rc) return rc < 0 ? 0 : rc;
    if (npos != 1) return cli_fail("eval: give one checkpoint file (see 'axnn eval --help')");

    axnn_graph *g;
    axnn_ckpt_meta meta;
    if ((rc = cli_open_model(pos[0], &m, &g, &meta))) return rc;
    if (!data) data = meta.dataset[0] ? meta.dataset : "fashion-mnist";
    axnn_dataset d = {0};
    axnn_status st = axnn_dataset_load(data, data_dir, train_split, &d);
    if (!st && !meta.have_norm) {
        axnn_dataset tr = {0};
        st = axnn_dataset_load(data, data_dir, true, &tr);
        if (!st) {
            axnn_dataset_channel_stats(&tr, meta.pre.mean, meta.pre.std);
            axnn_log(AXNN_LOG_INFO, "no --mean/--std given: using %s training-set statistics", data);
        }
        axnn_dataset_free(&tr);
    }
    if (!st && (d.h > meta.pre.out_h || d.w > meta.pre.out_w))
        st = axnn_error(AXNN_ERR_SHAPE, "%s images are %dx%d, larger than the model input %dx%d", data, d.h, d.w,
                        meta.pre.out_h, meta.pre.out_w);
    axnn_pool *pool = st ? NULL : axnn_pool_create(threads, NULL);
    axnn_progress *prog = axnn_progress_new(stderr, 10.0);
    axnn_eval_result res = {0};
    if (!st && cli_quant_wanted(&qa)) {
        axnn_dataset cal = {0};
        st = axnn_dataset_load(data, data_dir, true, &cal);
        if (!st) rc = cli_quantize(g, pool, &qa, qa.int8 ? NULL : qa.mul, &cal, &meta.pre);
        axnn_dataset_free(&cal);
        if (rc) st = AXNN_ERR_ARG;
    }
    if (!st) st = axnn_evaluate(g, pool, &d, &meta.pre, batch, prog, &res);
    if (rc) {
    } else if (st) {
        rc = cli_fail_status(st);
    } else if (json) {
        printf("{\"model\": \"%s\", \"dataset\": \"%s\", \"images\": %lld, \"accuracy\": %.6f, \"loss\": %.6f, "
               "\"seconds\": %.3f}\n",
               g->info.arch, data, (long long)res.n, res.accuracy, res.loss, res.seconds);
    } else {
        printf("%s on %s (%s%s%s): accuracy %.2f%% on %lld images, loss %.4f, %.0f img/s\n", g->info.arch,
               data, train_split ? "train" : "test", cli_quant_wanted(&qa) ? ", " : "",
               cli_quant_wanted(&qa) ? (qa.int8 ? "int8" : qa.mul) : "", 100.0 * res.accuracy, (long long)res.n,
               res.loss, res.seconds > 0 ? (double)res.n / res.seconds : 0.0);
    }
    axnn_progress_free(prog);
    axnn_pool_destroy(pool);
    axnn_dataset_free(&d);
    axnn_graph_free(g);
    return rc;
}
