/* Plots through gnuplot: the data goes to a temporary file, a script to gnuplot's stdin, the
 * PNG to a temporary name renamed into place when gnuplot succeeds. */
#define _GNU_SOURCE
#include "axnn/report.h"

#include <errno.h>
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

static void write_script(FILE *g, const axnn_plot *p, const char *data, const char *png)
{
    fprintf(g, "set terminal pngcairo size 1000,700 font ',11'\n");
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
    fprintf(g, "plot ");
    for (int s = 0; s < p->nseries; s++) {
        const axnn_series *se = &p->series[s];
        fprintf(g, "%s'%s' index %d using 1:2 with %s pt %d ps 1.5", s ? ", " : "", data, s,
                se->lines ? "linespoints" : "points", 5 + 2 * (s % 4));
        if (se->color) fprintf(g, " lc rgb '%s'", se->color);
        fprintf(g, " title ");
        quote(g, se->title);
        if (se->labels)
            fprintf(g, ", '%s' index %d using 1:2:3 with labels offset 0.8,0.8 font ',9' notitle", data, s);
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
