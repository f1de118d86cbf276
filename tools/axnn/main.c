/* axnn command-line tool: dispatches to one file per subcommand. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

int cli_pipe(int argc, char **argv); /* cmd_pipe.c */

static const cli_command commands[] = {
    {"train", "train a model", cli_train},
    {"eval", "evaluate a checkpoint on a test set", cli_eval},
    {"info", "per-layer table of shapes, parameters and MACs", cli_info},
    {"mul", "approximate multipliers: list, show, import, export", cli_mul},
    {"sweep", "accuracy of a model under each of several multipliers, with a report", cli_sweep},
    {"dispatch", "PERTINENCE: zoo, NSGA-II-searched dispatcher, report (docs/dispatch.md)", cli_dispatch},
    {"study", "AxMoE study: MoE topologies x multipliers, before and after retraining", cli_study},
    {"pipe", "Pipe-it: core topology, per-layer predictor, pipeline/stream search", cli_pipe},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: axnn <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n'axnn <command> --help' shows a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "axnn: error: unknown command '%s' (try 'axnn --help')\n", argv[1]);
    return 2;
}
