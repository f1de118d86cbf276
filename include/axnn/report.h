/* axnn/report.h - plots (gnuplot) and small table helpers for reports. */
#ifndef AXNN_REPORT_H
#define AXNN_REPORT_H

#include "base.h"

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct axnn_series {
    const char *title;
    const double *x, *y;
    const char *const *labels; /* point labels, or NULL */
    int n;
    bool lines;                /* connect the points (e.g. a Pareto front) */
    const char *color;         /* "#rrggbb", or NULL for gnuplot's next color */
} axnn_series;

typedef struct axnn_plot {
    const char *path;   /* PNG file */
    const char *title, *xlabel, *ylabel;
    bool logx;
    const axnn_series *series;
    int nseries;
    const char *const *xtics; /* optional: names of x = 0, 1, ..., nxtics - 1 on the x axis */
    int nxtics;
} axnn_plot;

/* Renders the plot with gnuplot into a temporary file that is checked (a whole PNG), synced
 * and renamed over p->path; nothing is installed on any failure. AXNN_ERR_UNSUPPORTED when
 * gnuplot is not installed, AXNN_ERR_IO when it fails or the PNG is incomplete (a full disk),
 * each naming the output file. */
axnn_status axnn_plot_render(const axnn_plot *p);

/* Indices of the points on the upper-left Pareto front (minimize x, maximize y), sorted by x;
 * returns how many. */
int axnn_pareto_front(const double *x, const double *y, int n, int *idx);

/* mkdir -p, naming a part of the path that is a file. */
axnn_status axnn_mkdir_p(const char *dir);
/* Makes sure `dir` can take a command's outputs, before the command does any work: creates it
 * (and its parents) when missing; refuses a file, a path under a file, or a folder where a
 * file cannot be created (tried for real, so read-only mounts count too). */
axnn_status axnn_output_dir(const char *dir);
/* Refuses, before any work, output files (names: NULL-terminated, relative to dir) that exist
 * as something other than a regular file (a folder, a link, a device): they could not be
 * replaced at the end. */
axnn_status axnn_output_files(const char *dir, const char *const *names);

/* ---- JSON written with fprintf, kept valid: strings quoted by cJSON, non-finite numbers as
 * null and listed. A writer sets `array` and `row` to the record it writes; every number
 * that is NaN or infinite becomes null and its place ("rows[3].p_rel") is remembered. ---- */
#define AXNN_JSON_MAX_FLAGGED 16
typedef struct axnn_json_nonfinite {
    const char *array; /* NULL: top-level fields */
    int row;
    int count;         /* all of them; the first AXNN_JSON_MAX_FLAGGED are named */
    char names[AXNN_JSON_MAX_FLAGGED][64];
} axnn_json_nonfinite;

/* Writes s as a JSON string literal. */
void axnn_json_string(FILE *f, const char *s);
/* Writes v with the printf format fmt (e.g. "%.6f"), or null when v is not finite. */
void axnn_json_number(FILE *f, const char *fmt, double v, axnn_json_nonfinite *nf, const char *field);
/* When nf->count > 0: writes `, "nonfinite": [...]` (to close an object with) and logs one
 * warning naming the file. Writes nothing otherwise. */
void axnn_json_flag_nonfinite(FILE *f, const axnn_json_nonfinite *nf, const char *path);

#ifdef __cplusplus
}
#endif
#endif
