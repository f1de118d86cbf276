/* axnn mul: list, inspect, import and export approximate multipliers.
 *
 *   axnn mul list
 *   axnn mul show NAME [--plot FILE.png] [--max-rank N]
 *   axnn mul import FILE.c... [--timeout S] [--name NAME] [--signedness S] [--force]
 *   axnn mul import --raw FILE.bin|FILE.csv --name NAME [--order O] [--signedness S] [--force]
 *   axnn mul export NAME FILE.bin|FILE.csv|FILE.h|FILE.axmul [--order O] [--signedness S]
 *
 * Imports are stored as NAME.axmul in the multiplier directory ($AXNN_MUL_PATH, see
 * axnn/axmul.h), where every other command finds them by name; replacing one needs --force,
 * which prints the old and the new metrics. Table orders and signedness are described in
 * docs/multipliers.md and `axnn mul --help`. The error heat map of `show --plot` is drawn by
 * gnuplot from a temporary data file; the library does the rest.
 */
#define _GNU_SOURCE
#include "cli.h"
#include "axnn/axmul.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: axnn mul <subcommand> [options]\n\n"
            "subcommands:\n"
            "  list                               built-in families and imported multipliers\n"
            "  show NAME [--plot FILE.png]        metadata, error metrics, decomposition\n"
            "  import FILE.c... [--timeout S]     import EvoApproxLib C files (sandboxed)\n"
            "  import --raw FILE --name NAME      import a raw table (.bin or .csv)\n"
            "  export NAME FILE                   write a table as .bin, .csv, .h or .axmul\n"
            "\nraw tables (import --raw, export):\n"
            "  .bin  65536 little-endian 16-bit values (int16; uint16 with --signedness unsigned)\n"
            "  .csv  256 lines of 256 comma-separated integers, one line per operand a\n"
            "  .h    (export only) C header: static const int16_t T[256][256] (uint16_t unsigned)\n"
            "  --order offset  index (a+128)*256 + (b+128), rows a = -128..127 (the default)\n"
            "  --order twos    index (uint8)a*256 + (uint8)b, rows a = 0..127, -128..-1\n"
            "                  (EvoApproxLib-style dumps)\n"
            "  --signedness unsigned  an unsigned multiplier U(a, b), a, b = 0..255, index\n"
            "                  a*256 + b; axnn uses it on int8 operands by sign-magnitude,\n"
            "                  T(a, b) = sgn(a) sgn(b) U(|a|, |b|). For C files the default\n"
            "                  comes from the name (mul8u_* unsigned, mul8s_* signed), else\n"
            "                  from the signature (uint64_t operands unsigned).\n"
            "  a = activation operand, b = weight operand; T(a, b) = approx(a * b)\n"
            "\nmultiplier directory: %s (set AXNN_MUL_PATH to change it)\n"
            "details: docs/multipliers.md\n",
            axnn_mul_dir());
}

/* ---------------------------------------------------------------- printing ---- */

static void print_figure(const char *label, double v, const char *unit, bool estimated)
{
    if (v < 0)
        printf("%-10s unknown\n", label);
    else
        printf("%-10s %.3f %s%s\n", label, v, unit,
               estimated ? " (estimate, see 'axnn mul list')" : "");
}

static void print_metrics(const axnn_mul *m)
{
    static const struct {
        const char *label;
        size_t off;
    } rows[] = {
        {"MAE", offsetof(axnn_mul_metrics, mae)},
        {"MAE%", offsetof(axnn_mul_metrics, mae_pct)},
        {"WCE", offsetof(axnn_mul_metrics, wce)},
        {"WCE%", offsetof(axnn_mul_metrics, wce_pct)},
        {"WCRE%", offsetof(axnn_mul_metrics, wcre_pct)},
        {"MRE%", offsetof(axnn_mul_metrics, mre_pct)},
        {"EP%", offsetof(axnn_mul_metrics, ep_pct)},
        {"MSE", offsetof(axnn_mul_metrics, mse)},
        {"bias", offsetof(axnn_mul_metrics, bias)},
        {"std", offsetof(axnn_mul_metrics, std)},
    };
    printf("%-10s %-16s %s\n", "metric", "computed", "header");
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        double v = *(const double *)((const char *)&m->metrics + rows[i].off);
        double c = *(const double *)((const char *)&m->claimed + rows[i].off);
        char claim[32] = "";
        if (!isnan(c)) snprintf(claim, sizeof claim, "%.10g", c);
        printf("  %-8s %-16.6g %s\n", rows[i].label, v, claim);
    }
}

static void print_claims(const axnn_mul *m, const char *indent)
{
    char msg[1024];
    int n, bad = axnn_mul_check_claims(m, &n, msg, sizeof msg);
    if (n == 0)
        printf("%sheader: no claimed metrics\n", indent);
    else if (bad == 0)
        printf("%sheader: all %d claimed metrics match at their printed precision\n", indent, n);
    else
        printf("%sheader: WARNING: %d of %d claimed metrics disagree: %s\n", indent, bad, n, msg);
}

static void print_summary(const axnn_mul *m, const char *indent)
{
    const axnn_mul_metrics *x = &m->metrics;
    printf("%sMAE %.6g (%.4g%%)  WCE %.0f (%.4g%%)  WCRE %.4g%%  EP %.4g%%  MRE %.4g%%  MSE %.6g  "
           "bias %.4g  std %.4g\n",
           indent, x->mae, x->mae_pct, x->wce, x->wce_pct, x->wcre_pct, x->ep_pct, x->mre_pct,
           x->mse, x->bias, x->std);
}

static void print_decomp(const axnn_mul *m, int max_rank)
{
    axnn_mul_decomp *d = malloc(sizeof *d);
    if (!d) return;
    axnn_status st = axnn_mul_decompose(m, max_rank, d);
    if (st) {
        printf("decomposition: none (%s)\n", axnn_last_error());
        axnn_clear_error();
    } else {
        printf("decomposition: E(a,b) = T(a,b) - a*b = sum of %d terms f_i(a) g_i(b) (%s)\n",
               d->rank, d->method);
        for (int i = 0; i < d->rank; i++)
            printf("  term %-2d f in [%d, %d]  g in [%d, %d]\n", i, d->f_min[i], d->f_max[i],
                   d->g_min[i], d->g_max[i]);
    }
    free(d);
}

/* ---------------------------------------------------------------- plot ---- */

/* gnuplot single-quoted string: ' is written as ''. */
static void put_quoted(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'') fputc('\'', f);
        fputc(*s, f);
    }
    fputc('\'', f);
}

static bool write_plot_files(const axnn_mul *m, const char *dir, const char *png)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/e.dat", dir);
    FILE *f = fopen(path, "w");
    if (!f) return false;
    int emax = 1;
    for (int a = -128; a < 128; a++) {
        for (int b = -128; b < 128; b++) {
            int e = axnn_mul_at(m, a, b) - a * b;
            emax = abs(e) > emax ? abs(e) : emax;
            fprintf(f, "%d%c", e, b == 127 ? '\n' : ' ');
        }
    }
    bool ok = !ferror(f);
    ok &= fclose(f) == 0;
    snprintf(path, sizeof path, "%s/plot.gp", dir);
    if (!ok || !(f = fopen(path, "w"))) return false;
    fprintf(f, "set terminal png size 900,800\nset output ");
    put_quoted(f, png);
    fprintf(f, "\nset title ");
    char title[200];
    snprintf(title, sizeof title, "%s: error T(a,b) - a*b (MAE %.4g, WCE %.0f)", m->name,
             m->metrics.mae, m->metrics.wce);
    put_quoted(f, title);
    fprintf(f,
            "\nset xlabel 'b (weight)'\nset ylabel 'a (activation)'\n"
            "set xrange [-128.5:127.5]\nset yrange [-128.5:127.5]\nset size ratio -1\n"
            "set palette defined (-1 '#2166ac', 0 '#f7f7f7', 1 '#b2182b')\n"
            "set cbrange [%d:%d]\nplot ",
            -emax, emax);
    snprintf(path, sizeof path, "%s/e.dat", dir);
    put_quoted(f, path);
    fprintf(f, " matrix using ($1-128):($2-128):3 with image notitle\n");
    ok = !ferror(f);
    ok &= fclose(f) == 0;
    return ok;
}

/* gnuplot reports '"script" line 2: cannot open file; ...' after echoing the line: keep the
 * message of the first such line, else the first non-empty line. */
static void gnuplot_message(const char *log, char *buf, size_t n)
{
    char line[512];
    buf[0] = 0;
    FILE *f = fopen(log, "r");
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        const char *at = strstr(line, " line "), *colon = at ? strstr(at, ": ") : NULL;
        if (colon) {
            snprintf(buf, n, "%s", colon + 2);
            break;
        }
        if (!buf[0] && line[strspn(line, " \t^")]) snprintf(buf, n, "%s", line);
    }
    fclose(f);
}

static int run_gnuplot(const char *dir, const char *png)
{
    char script[4200], log[4200];
    snprintf(script, sizeof script, "%s/plot.gp", dir);
    snprintf(log, sizeof log, "%s/gnuplot.log", dir);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen(log, "w", stderr) || !freopen("/dev/null", "w", stdout)) _exit(126);
        execlp("gnuplot", "gnuplot", script, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid) return cli_fail("%s: cannot run gnuplot", png);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        return cli_fail(
            "%s: gnuplot is not installed (install it, e.g. 'apt-get install gnuplot-nox', to "
            "use --plot)",
            png);
    char first[512];
    gnuplot_message(log, first, sizeof first);
    struct stat sb;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || stat(png, &sb) != 0 || sb.st_size == 0)
        return cli_fail("%s: gnuplot failed%s%s", png, first[0] ? ": " : "", first);
    return 0;
}

static void remove_tmp(const char *dir)
{
    static const char *const files[] = {"e.dat", "plot.gp", "gnuplot.log"};
    char p[4200];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
}

static int plot(const axnn_mul *m, const char *png)
{
    const char *t = getenv("TMPDIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/axnn-plot-XXXXXX", t && t[0] ? t : "/tmp");
    if (!mkdtemp(dir))
        return cli_fail("%s: cannot create a temporary directory: %s", png, strerror(errno));
    int rc = write_plot_files(m, dir, png)
                 ? run_gnuplot(dir, png)
                 : cli_fail("%s: cannot write gnuplot's input in %s", png, dir);
    remove_tmp(dir);
    if (!rc) printf("plot: wrote %s\n", png);
    return rc;
}

/* ---------------------------------------------------------------- subcommands ---- */

static int cmd_list(int argc, char **argv)
{
    const char *pos[1];
    int npos;
    int rc = cli_parse("mul list", "", argc, argv, NULL, 0, pos, 0, &npos);
    if (rc) return rc < 0 ? 0 : rc;
    printf("built-in families:\n");
    for (const char *const *f = axnn_mul_families(); *f; f++) printf("  %s\n", *f);
    printf("imported (%s):\n", axnn_mul_dir());
    char **names = axnn_mul_list();
    if (!names) return cli_fail("mul list: out of memory");
    int n = 0;
    for (char **p = names; *p; p++) {
        axnn_mul *m;
        if (!strcmp(*p, "exact") || !strcmp(*p, "mitchell") || !strcmp(*p, "udm")) continue;
        n++;
        if (axnn_mul_get(*p, &m)) {
            printf("  %-24s (unreadable: %s)\n", *p, axnn_last_error());
            continue;
        }
        char pw[32] = "power ?";
        if (m->power_mw >= 0) snprintf(pw, sizeof pw, "%.3f mW", m->power_mw);
        printf("  %-24s MAE %-10.4g WCE %-8.0f EP %6.2f%%  %s  %s\n", *p, m->metrics.mae,
               m->metrics.wce, m->metrics.ep_pct, pw, m->source);
        axnn_mul_free(m);
    }
    if (!n) printf("  (none: add some with 'axnn mul import FILE.c')\n");
    axnn_mul_names_free(names);
    return 0;
}

static int cmd_show(int argc, char **argv)
{
    const char *png = NULL;
    int max_rank = AXNN_MUL_MAX_RANK;
    cli_flag flags[] = {
        {"plot", FLAG_STR, &png, "FILE.png",
         "write a heat map of the error T(a,b) - a*b (gnuplot)"},
        {"max-rank", FLAG_INT, &max_rank, "N", "most terms in the decomposition (default 16)", 1,
         AXNN_MUL_MAX_RANK},
    };
    const char *pos[1];
    int npos;
    int rc = cli_parse("mul show", "NAME [--plot FILE.png]", argc, argv, flags, 2, pos, 1, &npos);
    if (rc) return rc < 0 ? 0 : rc;
    if (npos != 1) return cli_fail("mul show: give one multiplier name (see 'axnn mul list')");
    axnn_mul *m;
    axnn_status st = axnn_mul_get(pos[0], &m);
    if (st) return cli_fail_status(st);
    printf("%-10s %s\n%-10s %s\n", "name", m->name, "source", m->source);
    printf("%-10s %s\n", "operands",
           m->utable ? "unsigned 8x8 (metrics on uint8 operands; int8 use by sign-magnitude)"
                     : "signed 8x8");
    print_figure("power", m->power_mw, "mW", m->power_estimated);
    print_figure("area", m->area_um2, "um2", false);
    print_figure("delay", m->delay_ns, "ns", false);
    print_metrics(m);
    print_claims(m, "");
    printf("error rank: %d\n", axnn_mul_error_rank(m));
    print_decomp(m, max_rank);
    rc = png ? plot(m, png) : 0;
    axnn_mul_free(m);
    return rc;
}

/* Parses --order and --signedness for raw tables; returns 0 or the exit code of an error. */
static int raw_format(const char *order, const char *sign, axnn_mul_raw_format *fmt)
{
    *fmt = (axnn_mul_raw_format){AXNN_MUL_ORDER_OFFSET, false};
    if (sign && strcmp(sign, "signed") && strcmp(sign, "unsigned"))
        return cli_fail("--signedness: '%s' is neither signed nor unsigned", sign);
    fmt->is_unsigned = sign && !strcmp(sign, "unsigned");
    if (order && strcmp(order, "offset") && strcmp(order, "twos"))
        return cli_fail("--order: '%s' is neither offset nor twos", order);
    if (order && fmt->is_unsigned)
        return cli_fail("--order applies to signed tables: an unsigned table has one order, "
                        "a*256 + b (drop --order or --signedness unsigned)");
    if (order && !strcmp(order, "twos")) fmt->order = AXNN_MUL_ORDER_TWOS;
    return 0;
}

/* Refuses to replace a stored multiplier without --force; with it, prints the old metrics. */
static int check_replace(const axnn_mul *m, bool force)
{
    char path[4300];
    if (!axnn_mul_stored(m->name, path, sizeof path)) return 0;
    if (!force)
        return cli_fail("mul import: '%s' is already imported (%s); use --force to replace it, "
                        "or --name to import it under another name",
                        m->name, path);
    axnn_mul *old;
    if (axnn_mul_load(path, &old)) {
        printf("replacing %s (%s, unreadable: %s)\n", m->name, path, axnn_last_error());
        axnn_clear_error();
        return 0;
    }
    printf("replacing %s (was: %s)\n", m->name, old->source);
    print_summary(old, "  old: ");
    print_summary(m, "  new: ");
    axnn_mul_free(old);
    return 0;
}

static int store_and_report(axnn_mul *m, const char *from, bool force)
{
    int rc = check_replace(m, force);
    if (rc) return rc;
    char path[4300];
    axnn_status st = axnn_mul_store(m, path, sizeof path);
    if (st) return cli_fail_status(st);
    printf("imported %s from %s -> %s\n", m->name, from, path);
    print_summary(m, "  ");
    if (m->power_mw >= 0 || m->area_um2 >= 0 || m->delay_ns >= 0)
        printf("  power %.3f mW  area %.1f um2  delay %.2f ns\n", m->power_mw, m->area_um2,
               m->delay_ns);
    print_claims(m, "  ");
    return 0;
}

static int import_raw(const char *file, const char *name, const axnn_mul_raw_format *fmt,
                      bool force)
{
    if (!name) return cli_fail("mul import: --raw %s needs --name NAME", file);
    if (!axnn_mul_name_ok(name))
        return cli_fail(
            "mul import: bad name '%s' (1-100 characters of [A-Za-z0-9_.+-], not a built-in)",
            name);
    axnn_mul *m;
    axnn_status st = axnn_mul_import_raw(file, name, fmt, &m);
    if (st) return cli_fail_status(st);
    int rc = store_and_report(m, file, force);
    axnn_mul_free(m);
    return rc;
}

static int import_one(const char *file, const char *name, float timeout, axnn_mul_signedness sg,
                      bool force)
{
    axnn_mul *m;
    axnn_status st = axnn_mul_import_c(file, timeout, sg, &m);
    if (st) return cli_fail_status(st);
    if (name) snprintf(m->name, sizeof m->name, "%s", name);
    int rc = store_and_report(m, file, force);
    axnn_mul_free(m);
    return rc;
}

static int import_c_files(const char **files, int n, const char *name, float timeout,
                          const char *sign, bool force)
{
    if (n == 0)
        return cli_fail(
            "mul import: give one or more EvoApproxLib C files (see 'axnn mul --help')");
    if (name && n > 1) return cli_fail("mul import: --name needs exactly one file");
    if (name && !axnn_mul_name_ok(name))
        return cli_fail(
            "mul import: bad name '%s' (1-100 characters of [A-Za-z0-9_.+-], not a built-in)",
            name);
    axnn_mul_signedness sg = AXNN_MUL_SIGNEDNESS_AUTO;
    if (sign && !strcmp(sign, "signed"))
        sg = AXNN_MUL_SIGNEDNESS_SIGNED;
    else if (sign && !strcmp(sign, "unsigned"))
        sg = AXNN_MUL_SIGNEDNESS_UNSIGNED;
    else if (sign)
        return cli_fail("--signedness: '%s' is neither signed nor unsigned", sign);
    int failed = 0;
    for (int i = 0; i < n; i++) failed += import_one(files[i], name, timeout, sg, force) != 0;
    return failed ? 1 : 0;
}

static int cmd_import(int argc, char **argv)
{
    const char *raw = NULL, *name = NULL, *order = NULL, *sign = NULL;
    float timeout = 10.0f;
    bool force = false;
    cli_flag flags[] = {
        {"timeout", FLAG_FLOAT, &timeout, "S",
         "seconds allowed to tabulate each circuit (default 10)", 0.1, 3600},
        {"raw", FLAG_STR, &raw, "FILE", "import a raw table (.bin or .csv; see 'axnn mul --help')"},
        {"name", FLAG_STR, &name, "NAME",
         "name to store it under (default: the C function's name)"},
        {"order", FLAG_STR, &order, "offset|twos", "order of a raw signed table (default offset)"},
        {"signedness", FLAG_STR, &sign, "signed|unsigned",
         "raw: the table's (default signed); C: the circuit's (default from its name)"},
        {"force", FLAG_BOOL, &force, NULL, "replace a multiplier of the same name"},
    };
    const char *pos[256];
    int npos;
    int rc = cli_parse("mul import", "FILE.c... [--timeout S] | --raw FILE --name NAME", argc, argv,
                       flags, 6, pos, 256, &npos);
    if (rc) return rc < 0 ? 0 : rc;
    if (!raw) {
        if (order) return cli_fail("mul import: --order applies to --raw tables only");
        return import_c_files(pos, npos, name, timeout, sign, force);
    }
    if (npos) return cli_fail("mul import: give either C files or --raw FILE, not both");
    axnn_mul_raw_format fmt;
    rc = raw_format(order, sign, &fmt);
    return rc ? rc : import_raw(raw, name, &fmt, force);
}

static int cmd_export(int argc, char **argv)
{
    const char *order = NULL, *sign = NULL;
    cli_flag flags[] = {
        {"order", FLAG_STR, &order, "offset|twos",
         "order of a signed .bin/.csv/.h table (default offset)"},
        {"signedness", FLAG_STR, &sign, "signed|unsigned",
         "unsigned: write an unsigned multiplier's own table (default signed)"},
    };
    const char *pos[2];
    int npos;
    int rc = cli_parse("mul export", "NAME FILE.bin|FILE.csv|FILE.h|FILE.axmul", argc, argv, flags,
                       2, pos, 2, &npos);
    if (rc) return rc < 0 ? 0 : rc;
    if (npos != 2) return cli_fail("mul export: give a multiplier name and an output file");
    const char *ext = strrchr(pos[1], '.');
    if (!ext ||
        (strcmp(ext, ".bin") && strcmp(ext, ".csv") && strcmp(ext, ".h") && strcmp(ext, ".axmul")))
        return cli_fail("%s: unknown output format (use .bin, .csv, .h or .axmul)", pos[1]);
    bool axmul = !strcmp(ext, ".axmul");
    if (axmul && (order || sign))
        return cli_fail("%s: --order and --signedness apply to .bin, .csv and .h tables", pos[1]);
    axnn_mul_raw_format fmt;
    if ((rc = raw_format(order, sign, &fmt))) return rc;
    axnn_mul *m;
    axnn_status st = axnn_mul_get(pos[0], &m);
    if (!st) st = axmul ? axnn_mul_save(m, pos[1]) : axnn_mul_export_raw(m, pos[1], &fmt);
    if (!st) printf("wrote %s (%s)\n", pos[1], m->name);
    axnn_mul_free(m);
    return st ? cli_fail_status(st) : 0;
}

int cli_mul(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } subs[] = {
        {"list", cmd_list}, {"show", cmd_show}, {"import", cmd_import}, {"export", cmd_export}};
    if (argc < 2)
        return cli_fail(
                   "mul: give a subcommand: list, show, import or export (see 'axnn mul --help')") +
               1;
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (!strcmp(argv[1], subs[i].name)) return subs[i].run(argc - 1, argv + 1);
    return cli_fail("mul: unknown subcommand '%s' (list, show, import, export)", argv[1]) + 1;
}
