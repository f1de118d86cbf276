/* axnn/report.h - plots (gnuplot) and small table helpers for reports. */
#ifndef AXNN_REPORT_H
#define AXNN_REPORT_H

#include "base.h"

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

/* Renders the plot with gnuplot (written to a temporary file, then renamed). Errors when
 * gnuplot is missing or fails, naming the output file. */
axnn_status axnn_plot_render(const axnn_plot *p);

/* Indices of the points on the upper-left Pareto front (minimize x, maximize y), sorted by x;
 * returns how many. */
int axnn_pareto_front(const double *x, const double *y, int n, int *idx);

#ifdef __cplusplus
}
#endif
#endif
