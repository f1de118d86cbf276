/* Point labels that do not overlap, for the gnuplot figures (report/plot.c).
 *
 * gnuplot's "with labels" puts every label at a fixed offset from its point, so the labels of
 * points that sit close together (the same multiplier under four topologies, a Pareto front
 * climbing steeply) print over each other. Here the figure's geometry is fixed instead: the
 * plot area has margins at known screen fractions and explicit axis ranges, so a data point's
 * pixel position is known, and each label's box (its text at an estimated 7 px per character,
 * 14 px high) can be placed greedily:
 *
 *   1. labels with the same text whose points lie within a few pixels merge into one;
 *   2. in order of x, each label tries positions around its point on growing rings (right,
 *      above, below, left, diagonals) and takes the first whose box stays inside the plot area
 *      and overlaps no placed label and no data point; if none fits, the least-overlapping one;
 *   3. a label placed away from the first ring gets a thin leader line to its point.
 *
 * Greedy placement is not optimal (the general problem is NP-hard) but for a few dozen labels
 * with this many candidates it finds a free spot whenever the plot has room. */
#include "report/labels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CHAR_W 7.0
#define LABEL_H 14.0
#define POINT_R 6.0
#define MERGE_PX 6.0

typedef struct box {
    double x0, y0, x1, y1; /* pixels, y down */
} box;

static double overlap(box a, box b)
{
    double w = fmin(a.x1, b.x1) - fmax(a.x0, b.x0), h = fmin(a.y1, b.y1) - fmax(a.y0, b.y0);
    return w > 0 && h > 0 ? w * h : 0;
}

static double to_px_x(const plot_geom *g, double x)
{
    double a = g->logx ? log10(x) : x, lo = g->logx ? log10(g->x0) : g->x0,
           hi = g->logx ? log10(g->x1) : g->x1;
    return g->left + (a - lo) / (hi - lo) * (g->right - g->left);
}

static double to_px_y(const plot_geom *g, double y)
{
    return g->top + (g->y1 - y) / (g->y1 - g->y0) * (g->bottom - g->top);
}

static double from_px_x(const plot_geom *g, double px)
{
    double lo = g->logx ? log10(g->x0) : g->x0, hi = g->logx ? log10(g->x1) : g->x1;
    double a = lo + (px - g->left) / (g->right - g->left) * (hi - lo);
    return g->logx ? pow(10, a) : a;
}

static double from_px_y(const plot_geom *g, double py)
{
    return g->y1 - (py - g->top) / (g->bottom - g->top) * (g->y1 - g->y0);
}

/* The box of a label whose text starts at (px, py) (left-aligned, vertically centered). */
static box label_box(double px, double py, double w)
{
    return (box){px - 1, py - LABEL_H / 2, px + w + 1, py + LABEL_H / 2};
}

/* Cost of a box: overlap with placed labels and points, and anything outside the plot area. */
static double cost(const plot_geom *g, box b, const box *placed, int nplaced, const double *ppx,
                   const double *ppy, int npts)
{
    double c = 0;
    box area = {g->left, g->top, g->right, g->bottom};
    c += (b.x1 - b.x0) * (b.y1 - b.y0) - overlap(b, area);
    for (int i = 0; i < nplaced; i++) c += overlap(b, placed[i]);
    for (int i = 0; i < npts; i++)
        c += overlap(b,
                     (box){ppx[i] - POINT_R, ppy[i] - POINT_R, ppx[i] + POINT_R, ppy[i] + POINT_R});
    return c;
}

static int by_x(const void *a, const void *b)
{
    const plot_label *x = a, *y = b;
    return (x->x > y->x) - (x->x < y->x);
}

int plot_place_labels(const plot_geom *g, plot_label *l, int n, const double *px, const double *py,
                      int npts)
{
    /* 1. merge: same text, nearly the same spot */
    int m = 0;
    for (int i = 0; i < n; i++) {
        bool dup = false;
        for (int j = 0; j < m && !dup; j++)
            dup = !strcmp(l[j].text, l[i].text) &&
                  fabs(to_px_x(g, l[j].x) - to_px_x(g, l[i].x)) < MERGE_PX &&
                  fabs(to_px_y(g, l[j].y) - to_px_y(g, l[i].y)) < MERGE_PX;
        if (dup) {
            for (int j = 0; j < m; j++)
                if (!strcmp(l[j].text, l[i].text)) l[j].merged = true;
            continue;
        }
        l[m++] = l[i];
    }
    qsort(l, (size_t)m, sizeof *l, by_x);
    double *ppx = malloc(sizeof *ppx * (size_t)(npts + 1)),
           *ppy = malloc(sizeof *ppy * (size_t)(npts + 1));
    box *placed = malloc(sizeof *placed * (size_t)(m + 1));
    if (!ppx || !ppy || !placed) {
        free(ppx);
        free(ppy);
        free(placed);
        return -1;
    }
    for (int i = 0; i < npts; i++) {
        ppx[i] = to_px_x(g, px[i]);
        ppy[i] = to_px_y(g, py[i]);
    }
    static const double rings[] = {9, 20, 34, 50, 70};
    /* directions: unit offsets of the box's anchor; dx < 0 puts the text left of the point */
    static const double dirs[][2] = {{1, -0.7}, {1, 0},     {1, 0.7}, {0, -1},
                                     {0, 1},    {-1, -0.7}, {-1, 0},  {-1, 0.7}};
    for (int i = 0; i < m; i++) {
        const double x = to_px_x(g, l[i].x), y = to_px_y(g, l[i].y),
                     w = CHAR_W * (double)strlen(l[i].text);
        double best = INFINITY, bx = x + rings[0], by = y;
        int bring = 0;
        for (int r = 0; r < (int)(sizeof rings / sizeof *rings) && best > 0; r++)
            for (int d = 0; d < (int)(sizeof dirs / sizeof *dirs) && best > 0; d++) {
                double ax = dirs[d][0] > 0   ? x + rings[r]
                            : dirs[d][0] < 0 ? x - rings[r] - w
                                             : x - w / 2;
                double ay = y + dirs[d][1] * (rings[r] + (dirs[d][0] == 0 ? LABEL_H / 2 : 0));
                double c = cost(g, label_box(ax, ay, w), placed, i, ppx, ppy, npts);
                if (c < best) {
                    best = c;
                    bx = ax;
                    by = ay;
                    bring = r;
                }
            }
        placed[i] = label_box(bx, by, w);
        l[i].lx = from_px_x(g, bx);
        l[i].ly = from_px_y(g, by);
        l[i].leader = bring > 0;
        /* the leader ends at the box's nearest edge, left or right */
        l[i].ex = from_px_x(g, bx > x ? bx : bx + w);
        l[i].ey = l[i].ly;
    }
    free(ppx);
    free(ppy);
    free(placed);
    return m;
}
