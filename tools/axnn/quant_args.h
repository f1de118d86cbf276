/* Quantization flags shared by eval, sweep and study (see quant_args.c). */
#ifndef AXNN_CLI_QUANT_ARGS_H
#define AXNN_CLI_QUANT_ARGS_H

#include "axnn/quant.h"
#include "cli.h"

typedef struct cli_quant_args {
    const char *mul, *layers, *exact_layers, *method, *kernel;
    bool int8, keep_first_last, attention;
    int calib;
    float percentile;
} cli_quant_args;

void cli_quant_defaults(cli_quant_args *q);
/* Splits a comma-separated multiplier list into names. A piece that starts with a digit belongs
 * to the name before it, so "exact,bam:2,4,trunc:3" is exact | bam:2,4 | trunc:3. Returns the
 * count (at most max), or -1 after printing an error. */
int cli_split_muls(const char *list, char (*names)[128], int max);
/* Adds the flags (room for 10; with_mul = false leaves --mul out); returns how many. */
int cli_quant_flags(cli_quant_args *q, cli_flag *f, bool with_mul);
bool cli_quant_wanted(const cli_quant_args *q);
/* Rejects conflicting or useless flags, naming both: --int8 with --mul; with with_mul, a layer
 * selection (--mul-layers, --exact-layers, --keep-first-last) without --mul; an empty
 * --mul-layers or --exact-layers; a layer named in --mul-layers that --exact-layers selects too.
 * Unknown layer names are found by axnn_quant_attach. Returns 0 or 1 after printing. */
int cli_quant_check(const cli_quant_args *q, bool with_mul);
/* Fills cfg (mul from q->mul or the override); returns 0 or an exit code. */
int cli_quant_cfg(const cli_quant_args *q, const char *mul, axnn_quant_cfg *cfg, axnn_calib_method *m);
/* Attaches and calibrates on the first q->calib images of `calib_set`; returns 0 or exit code. */
int cli_quantize(axnn_graph *g, axnn_pool *pool, const cli_quant_args *q, const char *mul,
                 const axnn_dataset *calib_set, const axnn_preproc *pp);

#endif
