/* Label placement for the figures (report/labels.c has the essay). Internal to src/report. */
#ifndef AXNN_REPORT_LABELS_H
#define AXNN_REPORT_LABELS_H

#include <stdbool.h>

/* The plot area in pixels (y down) and the axis ranges it shows. */
typedef struct plot_geom {
    double left, right, top, bottom;
    double x0, x1, y0, y1;
    bool logx;
} plot_geom;

typedef struct plot_label {
    const char *text, *color;
    double x, y;   /* the point, data coordinates */
    double lx, ly; /* out: the text's left-center anchor, data coordinates */
    double ex, ey; /* out: where a leader line meets the text */
    bool leader;   /* out: the text sits away from its point: draw a line */
    bool merged;   /* out: one label now stands for several points with this text */
} plot_label;

/* Merges duplicates and places the labels (in place: returns how many remain, -1 when out of
 * memory), avoiding each other and the npts data points (px, py). */
int plot_place_labels(const plot_geom *g, plot_label *l, int n, const double *px, const double *py,
                      int npts);

#endif
