/* Shared pieces of the axnn CLI: flag parsing with generated --help, and error reporting. */
#ifndef AXNN_CLI_H
#define AXNN_CLI_H

#include "axnn/axnn.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct cli_command {
    const char *name, *help;
    int (*run)(int argc, char **argv);
} cli_command;

typedef enum { FLAG_STR, FLAG_INT, FLAG_FLOAT, FLAG_BOOL, FLAG_U64 } cli_flag_type;

typedef struct cli_flag {
    const char *name; /* without the dashes */
    cli_flag_type type;
    void *dst;        /* const char **, int *, float *, bool *, uint64_t * */
    const char *meta; /* value placeholder in --help */
    const char *help;
    double min, max;  /* accepted range for numbers when min < max */
    bool seen;
} cli_flag;

/* Parses argv[1..]: flags as --name value or --name=value; other arguments are positional (at
 * most max_pos). Returns 0 to go on, -1 after printing --help (exit 0), or 2 after printing an
 * error (exit 2). */
int cli_parse(const char *cmd, const char *synopsis, int argc, char **argv, cli_flag *flags,
              int nflags, const char **pos, int max_pos, int *npos);
bool cli_flag_seen(const cli_flag *flags, int nflags, const char *name);

/* The flags not named in skip (NULL-terminated) as a JSON object of strings; free() it. */
char *cli_flags_to_json(const cli_flag *flags, int n, const char *const *skip);
/* Sets every flag not given on the command line (and not named in keep, NULL-terminated) from
 * a JSON object written by cli_flags_to_json. Returns 0, or 1 after printing an error. */
int cli_flags_apply_json(cli_flag *flags, int n, const char *json, const char *const *keep);
/* Frees the strings that string flags set from saved configurations point at (for callers that
 * apply many configurations, e.g. the fuzz target; those flags must not be read afterwards). */
void cli_flags_free_saved(void);

/* Prints "axnn: error: <message>" and returns the exit code 1. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "axnn: error: <axnn_last_error()>" and returns 1. */
int cli_fail_status(axnn_status s);

int cli_train(int argc, char **argv);
int cli_eval(int argc, char **argv);
int cli_info(int argc, char **argv);
int cli_mul(int argc, char **argv);
int cli_sweep(int argc, char **argv);
int cli_study(int argc, char **argv);
int cli_dispatch(int argc, char **argv);

#endif
