/* Model-related flags shared by the subcommands (see model_args.c). */
#ifndef AXNN_CLI_MODEL_ARGS_H
#define AXNN_CLI_MODEL_ARGS_H

#include "axnn/train.h"
#include "cli.h"

typedef struct cli_model_args {
    const char *arch;
    int classes, in_channels, size;
    const char *mean, *std;
    uint64_t seed;
} cli_model_args;

/* Adds the model flags to f (room for 6); returns how many. */
int cli_model_flags(cli_model_args *a, cli_flag *f);
/* Builds a fresh model from the flags. Returns 0 or an exit code after printing the error. */
int cli_build_model(const cli_model_args *a, axnn_graph **g);
/* Opens a checkpoint or plain export. meta->have_norm says whether normalization is known. */
int cli_open_model(const char *path, cli_model_args *a, axnn_graph **g, axnn_ckpt_meta *meta);

#endif
