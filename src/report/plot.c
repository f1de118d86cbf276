/* Plots through gnuplot: the data goes to a temporary file, a script to gnuplot's stdin, the
 * PNG to a temporary name renamed into place when gnuplot succeeds. */
#define _GNU_SOURCE
#include "axnn/report.h"
#include "report/labels.h"

#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int axnn_pareto_front(const double *x, const double *y, int n, int *idx)
{
    int k = 0;
    for (int i = 0; i < n; i++) {
        bool dominated = false;
        for (int j = 0; j < n && !dominated; j++)
            dominated = j != i && x[j] <= x[i] && y[j] >= y[i] && (x[j] < x[i] || y[j] > y[i]);
        if (!dominated) idx[k++] = i;
    }
    for (int a = 1; a < k; a++)
        for (int b = a; b > 0 && x[idx[b]] < x[idx[b - 1]]; b--) {
            int t = idx[b];
            idx[b] = idx[b - 1];
            idx[b - 1] = t;
        }
    return k;
}

static void quote(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        fputc(*s == '_' ? ' ' : *s, f);
    }
    fputc('"', f);
}

static axnn_status write_data(const axnn_plot *p, char *path, size_t n)
{
    snprintf(path, n, "/tmp/axnn-plot-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0) return axnn_error(AXNN_ERR_IO, "%s: cannot create a temporary file: %s", p->path, strerror(errno));
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        unlink(path);
        return axnn_error(AXNN_ERR_IO, "%s: %s", p->path, strerror(errno));
    }
    for (int s = 0; s < p->nseries; s++) {
        const axnn_series *se = &p->series[s];
        for (int i = 0; i < se->n; i++) {
            fprintf(f, "%.10g %.10g ", se->x[i], se->y[i]);
            quote(f, se->labels ? se->labels[i] : "");
            fputc('\n', f);
        }
        fputs("\n\n", f);
    }
    bool ok = !ferror(f);
    int e = errno;
    if (fclose(f)) ok = false, e = errno;
    if (!ok) {
        unlink(path);
        return axnn_error(AXNN_ERR_IO, "%s: cannot write the plot's data to %s: %s", p->path, path, strerror(e));
    }
    return AXNN_OK;
}

/* A PNG that gnuplot finished: the signature first, the IEND chunk last. */
static bool png_complete(const char *path)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'},
                               iend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82};
    unsigned char a[8], z[12];
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    bool ok = fread(a, 1, 8, f) == 8 && !memcmp(a, sig, 8) && !fseek(f, -12, SEEK_END) && fread(z, 1, 12, f) == 12 &&
              !memcmp(z, iend, 12);
    fclose(f);
    return ok;
}

static bool sync_file(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return false;
    bool ok = !fsync(fd);
    return !close(fd) && ok;
}

/* Figures with point labels get a fixed plot area (margins at these screen fractions of the
 * 1000x700 image) and explicit ranges, so that labels can be placed in pixels. */
#define PLOT_W 1000.0
#define PLOT_H 700.0
#define M_LEFT 0.08
#define M_RIGHT 0.74
#define M_BOTTOM 0.10
#define M_TOP 0.93

static bool has_labels(const axnn_plot *p)
{
    for (int s = 0; s < p->nseries; s++)
        if (p->series[s].labels && p->series[s].n > 0) return true;
    return false;
}

/* Axis ranges around all points, with room above them for labels. */
static plot_geom geometry(const axnn_plot *p)
{
    plot_geom g = {M_LEFT * PLOT_W, M_RIGHT * PLOT_W, (1 - M_TOP) * PLOT_H, (1 - M_BOTTOM) * PLOT_H,
                   INFINITY, -INFINITY, INFINITY, -INFINITY, p->logx};
    for (int s = 0; s < p->nseries; s++)
        for (int i = 0; i < p->series[s].n; i++) {
            double x = p->series[s].x[i], y = p->series[s].y[i];
            if (!isfinite(x) || !isfinite(y) || (p->logx && x <= 0)) continue;
            g.x0 = fmin(g.x0, x), g.x1 = fmax(g.x1, x), g.y0 = fmin(g.y0, y), g.y1 = fmax(g.y1, y);
        }
    if (g.x0 > g.x1) g.x0 = g.logx ? 1 : 0, g.x1 = g.logx ? 10 : 1, g.y0 = 0, g.y1 = 1;
    if (g.logx) {
        double a = log10(g.x0), b = log10(g.x1), pad = b > a ? 0.08 * (b - a) : 0.1;
        g.x0 = pow(10, a - pad), g.x1 = pow(10, b + pad * 2);
    } else {
        double pad = g.x1 > g.x0 ? 0.08 * (g.x1 - g.x0) : fmax(0.1 * fabs(g.x0), 0.5);
        g.x0 -= pad, g.x1 += 2 * pad; /* labels go right of their points first */
    }
    double pad = g.y1 > g.y0 ? 0.06 * (g.y1 - g.y0) : fmax(0.1 * fabs(g.y0), 0.5);
    g.y0 -= pad, g.y1 += 2 * pad;
    return g;
}

static void quote_raw(FILE *f, const char *s) /* for noenhanced text: only quotes and backslashes */
{
    fputc('"', f);
    for (; s && *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* `set label` and leader `set arrow` lines for every labelled point, placed without overlaps. */
static void write_labels(FILE *g, const axnn_plot *p)
{
    plot_geom geo = geometry(p);
    int n = 0;
    for (int s = 0; s < p->nseries; s++) n += p->series[s].n;
    plot_label *l = calloc((size_t)n + 1, sizeof *l);
    double *px = malloc(sizeof *px * ((size_t)n + 1)), *py = malloc(sizeof *py * ((size_t)n + 1));
    int nl = 0, np = 0;
    for (int s = 0; l && px && py && s < p->nseries; s++)
        for (int i = 0; i < p->series[s].n; i++) {
            const axnn_series *se = &p->series[s];
            px[np] = se->x[i], py[np++] = se->y[i];
            if (se->labels && se->labels[i] && se->labels[i][0])
                l[nl++] = (plot_label){.text = se->labels[i], .color = se->color, .x = se->x[i], .y = se->y[i]};
        }
    fprintf(g, "set lmargin at screen %g\nset rmargin at screen %g\nset bmargin at screen %g\nset tmargin at screen %g\n",
            M_LEFT, M_RIGHT, M_BOTTOM, M_TOP);
    fprintf(g, "set xrange [%.10g:%.10g]\nset yrange [%.10g:%.10g]\n", geo.x0, geo.x1, geo.y0, geo.y1);
    int m = l && px && py ? plot_place_labels(&geo, l, nl, px, py, np) : -1;
    for (int i = 0; i < m; i++) {
        fprintf(g, "set label ");
        quote_raw(g, l[i].text);
        fprintf(g, " at first %.10g, first %.10g left noenhanced font ',9' tc rgb '%s' front\n", l[i].lx, l[i].ly,
                l[i].merged || !l[i].color ? "#222222" : l[i].color);
        if (l[i].leader)
            fprintf(g, "set arrow from first %.10g, first %.10g to first %.10g, first %.10g nohead lw 0.7 lc rgb '#999999' back\n",
                    l[i].x, l[i].y, l[i].ex, l[i].ey);
    }
    free(l);
    free(px);
    free(py);
}

static void write_script(FILE *g, const axnn_plot *p, const char *data, const char *png)
{
    fprintf(g, "set terminal pngcairo size %g,%g font ',11'\n", PLOT_W, PLOT_H);
    fprintf(g, "set output '%s'", png); /* a file name: no enhanced-text escaping */
    fprintf(g, "\nset title ");
    quote(g, p->title);
    fprintf(g, "\nset xlabel ");
    quote(g, p->xlabel);
    fprintf(g, "\nset ylabel ");
    quote(g, p->ylabel);
    fprintf(g, "\nset grid\nset key outside right top\n");
    if (p->logx) fprintf(g, "set logscale x\n");
    if (p->nxtics > 0) {
        fprintf(g, "set xrange [-0.5:%g]\nset xtics rotate by -30 (", p->nxtics - 0.5);
        for (int i = 0; i < p->nxtics; i++) {
            fprintf(g, "%s", i ? ", " : "");
            quote(g, p->xtics[i]);
            fprintf(g, " %d", i);
        }
        fprintf(g, ")\n");
    }
    if (has_labels(p)) write_labels(g, p);
    fprintf(g, "plot ");
    for (int s = 0; s < p->nseries; s++) {
        const axnn_series *se = &p->series[s];
        fprintf(g, "%s'%s' index %d using 1:2 with %s pt %d ps 1.5", s ? ", " : "", data, s,
                se->lines ? "linespoints" : "points", 5 + 2 * (s % 4));
        if (se->color) fprintf(g, " lc rgb '%s'", se->color);
        fprintf(g, " title ");
        quote(g, se->title);
    }
    fprintf(g, "\n");
}

axnn_status axnn_plot_render(const axnn_plot *p)
{
    char data[64], png[4200];
    axnn_status st = write_data(p, data, sizeof data);
    if (st) return st;
    snprintf(png, sizeof png, "%s.tmp.XXXXXX.png", p->path); /* next to the target: rename stays atomic */
    int fd = mkstemps(png, 4);
    if (fd < 0) {
        unlink(data);
        return axnn_error(AXNN_ERR_IO, "%s: cannot create a temporary file: %s", p->path, strerror(errno));
    }
    (void)fchmod(fd, 0644); /* mkstemps makes it 0600; a figure is for everyone to read */
    close(fd);
    FILE *g = popen("gnuplot 2>/dev/null", "w");
    if (!g) {
        unlink(data);
        unlink(png);
        return axnn_error(AXNN_ERR_IO, "%s: cannot run gnuplot", p->path);
    }
    write_script(g, p, data, png);
    int rc = pclose(g);
    unlink(data);
    int code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    if (code == 127) {
        unlink(png);
        return axnn_error(AXNN_ERR_UNSUPPORTED, "%s: gnuplot is not installed (apt-get install gnuplot-nox)", p->path);
    }
    if (rc != 0) {
        unlink(png);
        return axnn_error(AXNN_ERR_IO, "%s: gnuplot failed (exit %d)", p->path, code);
    }
    if (!png_complete(png) || !sync_file(png)) {
        unlink(png);
        return axnn_error(AXNN_ERR_IO, "%s: gnuplot wrote an incomplete PNG (is the disk full?)", p->path);
    }
    if (rename(png, p->path)) {
        int e = errno;
        unlink(png);
        return axnn_error(AXNN_ERR_IO, "%s: %s", p->path, strerror(e));
    }
    return AXNN_OK;
}
