/* Progress display for long jobs. On a terminal: one line redrawn in place with a bar, the
 * count, throughput, elapsed time and ETA, plus the caller's status text. Anywhere else (a log
 * file, a pipe): a plain line at most every `log_every` seconds, and one at the end, so logs
 * stay readable. */
#include "axnn/base.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct axnn_progress {
    FILE *out;
    bool tty;
    double log_every, t0, last;
    int64_t total;
    char label[96], unit[24];
};

axnn_progress *axnn_progress_new(FILE *out, double log_every)
{
    axnn_progress *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->out = out;
    p->tty = out && isatty(fileno(out));
    p->log_every = log_every > 0 ? log_every : 10.0;
    return p;
}

void axnn_progress_free(axnn_progress *p) { free(p); }

void axnn_progress_begin(axnn_progress *p, const char *label, int64_t total, const char *unit)
{
    if (!p) return;
    snprintf(p->label, sizeof p->label, "%s", label ? label : "");
    snprintf(p->unit, sizeof p->unit, "%s", unit ? unit : "it");
    p->total = total;
    p->t0 = p->last = axnn_now();
}

static void fmt_time(double s, char *buf, size_t n)
{
    if (!(s >= 0) || s > 1e7) {
        snprintf(buf, n, "--:--");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else
        snprintf(buf, n, "%02ld:%02ld", t / 60, t % 60);
}

static void draw(axnn_progress *p, int64_t done, const char *extra, bool final)
{
    double now = axnn_now(), el = now - p->t0;
    double rate = el > 0 ? (double)done / el : 0.0;
    double eta = rate > 0 && p->total > 0 ? (double)(p->total - done) / rate : -1;
    char e1[32], e2[32];
    fmt_time(el, e1, sizeof e1);
    fmt_time(eta, e2, sizeof e2);
    double frac = p->total > 0 ? (double)done / (double)p->total : 0.0;
    if (frac > 1) frac = 1;
    /* slow units (a model per minute) read better as seconds per unit */
    char speed[48];
    if (rate >= 1.0 || rate == 0.0)
        snprintf(speed, sizeof speed, "%.1f %s/s", rate, p->unit);
    else
        snprintf(speed, sizeof speed, "%.1f s/%s", 1.0 / rate, p->unit);
    if (p->tty) {
        char bar[32];
        int w = 24, fill = (int)(frac * w);
        for (int i = 0; i < w; i++) bar[i] = i < fill ? '#' : '.';
        bar[w] = 0;
        fprintf(p->out, "\r\033[K%s [%s] %3.0f%% %lld/%lld %s %s<%s %s", p->label, bar, 100 * frac,
                (long long)done, (long long)p->total, speed, e1, e2, extra ? extra : "");
        if (final) fputc('\n', p->out);
    } else {
        fprintf(p->out, "%s %3.0f%% %lld/%lld %s elapsed %s eta %s %s\n", p->label, 100 * frac,
                (long long)done, (long long)p->total, speed, e1, e2, extra ? extra : "");
    }
    fflush(p->out);
}

void axnn_progress_update(axnn_progress *p, int64_t done, const char *extra)
{
    if (!p || !p->out) return;
    double now = axnn_now();
    double every = p->tty ? 0.1 : p->log_every;
    if (now - p->last < every) return;
    p->last = now;
    draw(p, done, extra, false);
}

void axnn_progress_end(axnn_progress *p, const char *summary)
{
    if (!p || !p->out) return;
    if (p->tty) {
        draw(p, p->total, summary, true);
    } else {
        double el = axnn_now() - p->t0;
        char e1[32];
        fmt_time(el, e1, sizeof e1);
        fprintf(p->out, "%s done in %s %s\n", p->label, e1, summary ? summary : "");
        fflush(p->out);
    }
}
