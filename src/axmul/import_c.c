/* EvoApproxLib C import: compile a multiplier's C file, tabulate it in a sandbox, read its header.
 *
 * EvoApproxLib publishes each approximate multiplier as a C file: a comment header of error
 * metrics and PDK45 figures ("// MAE% = 0.0064 %", ..., "// PDK45_PWR = 0.410 mW"), then one
 * function, int16_t NAME(int8_t A, int8_t B) for signed circuits or uint16_t NAME(uint8_t,
 * uint8_t) for unsigned ones (mul8u). To get its table we must run foreign code, so the work is
 * split in three steps, each of which can fail without harming the caller:
 *
 *  1. Parse. Function definitions and declarations are found in the comment-free token stream
 *     as `TYPE NAME ( PARAMS )` with TYPE an integer type; candidates are those named like the
 *     file's stem and those returning [u]int16_t with a first [u]int8_t parameter (not
 *     `static`: dlsym cannot see those). The stem's wins, else the first. Its signature must be
 *     exactly [u]int16_t NAME([const] T [A], [const] T [B]) with T int8_t for both or uint8_t
 *     for both, or uint64_t NAME([const] uint64_t, [const] uint64_t), the form of most of
 *     EvoApproxLib's mul8u files (an unsigned multiplier, operands 0..255 passed in the order
 *     of the parameters; the result must fit 16 bits); anything else (one operand, three, int,
 * float, mixed) is rejected in one line that quotes the signature. The header lines are read as
 * LABEL = NUMBER, and each number's printed precision is kept (claimed_unit) for
 * axnn_mul_check_claims.
 *  2. Compile. $CC (split on spaces; default "cc") -O1 -shared -fPIC -o DIR/circuit.so FILE,
 *     in a fresh mkdtemp directory, with the compiler's output captured to a log whose first
 *     "error" line goes into the message. The compiler runs in its own process group under a
 *     deadline, with TMPDIR set to that directory, so that its own temporary files go there too
 *     and a compiler killed on timeout or interruption leaves nothing elsewhere; the directory
 *     and everything in it is removed on every path. (The compiler is the user's own tool; only the
 * circuit is untrusted.)
 *  3. Tabulate in the sandbox of sandbox.c: a child that enters a seccomp filter before the
 *     object is loaded, so no code of the circuit (constructors included) runs outside it.
 *
 * Everything runs under the guard of sandbox.c, so SIGINT, SIGTERM or SIGHUP during an import
 * kill the children's process groups, remove the temporary directory, and then take effect.
 */
#define _GNU_SOURCE
#include "axmul_impl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SOURCE_MAX (64u << 20)

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static axnn_status read_source(const char *path, char **text)
{
    FILE *f = fopen(path, "rb");
    if (!f) return axnn_error(AXNN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char *b = malloc(SOURCE_MAX + 1);
    size_t n = b ? fread(b, 1, SOURCE_MAX + 1, f) : 0;
    bool err = ferror(f);
    fclose(f);
    if (!b) return axnn_error(AXNN_ERR_NOMEM, "%s: out of memory", path);
    if (err || n > SOURCE_MAX) {
        free(b);
        return axnn_error(AXNN_ERR_IO, "%s: %s", path, err ? "read error" : "file too large");
    }
    b[n] = 0;
    *text = b;
    return AXNN_OK;
}

/* ---------------------------------------------------------------- parsing ---- */

/* Replaces comments and string/char literals by spaces (in place, keeping offsets). */
static void blank_comments(char *s)
{
    for (char *p = s; *p; p++) {
        if (p[0] == '/' && p[1] == '/') {
            while (*p && *p != '\n') *p++ = ' ';
            if (!*p) return;
        } else if (p[0] == '/' && p[1] == '*') {
            *p++ = ' ';
            *p++ = ' ';
            while (*p && !(p[0] == '*' && p[1] == '/')) *p++ = ' ';
            if (!*p) return;
            p[0] = p[1] = ' ';
            p++;
        } else if (*p == '"' || *p == '\'') {
            char q = *p;
            for (p++; *p && *p != q; p++) {
                if (*p == '\\' && p[1]) *p++ = ' ';
                if (*p != '\n') *p = ' ';
            }
            if (!*p) return;
        }
    }
}

static bool is_id0(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static bool is_id(char c)
{
    return is_id0(c) || (c >= '0' && c <= '9');
}

/* Next token: an identifier or one other non-space character; false at the end. */
static bool next_token(const char **p, const char **tok, int *len)
{
    const char *s = *p;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\f' || *s == '\v') s++;
    if (!*s) return false;
    const char *e = s + 1;
    if (is_id0(*s))
        while (is_id(*e)) e++;
    *tok = s;
    *len = (int)(e - s);
    *p = e;
    return true;
}

static bool tok_is(const char *t, int n, const char *w)
{
    return (int)strlen(w) == n && !strncmp(t, w, n);
}

typedef struct token {
    const char *s;
    int n;
} token;

/* All tokens of comment-free code (malloc'ed; NULL when out of memory). */
static token *tokenize(const char *code, int *count)
{
    int n = 0, cap = 1024;
    token *t = malloc(cap * sizeof *t);
    const char *p = code, *s;
    int len;
    while (t && next_token(&p, &s, &len)) {
        if (n == cap) {
            token *nt = realloc(t, 2 * cap * sizeof *t);
            if (!nt) free(t);
            t = nt;
            cap *= 2;
        }
        if (t) t[n++] = (token){s, len};
    }
    *count = n;
    return t;
}

static bool tok_eq(const token *t, const char *w)
{
    return tok_is(t->s, t->n, w);
}

static bool is_int_type(const token *t)
{
    static const char *const types[] = {"int8_t",   "uint8_t", "int16_t",  "uint16_t", "int32_t",
                                        "uint32_t", "int64_t", "uint64_t", "int",      "unsigned",
                                        "signed",   "short",   "long",     "char",     "float",
                                        "double",   "void"};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (tok_eq(t, types[i])) return true;
    return false;
}

/* A function `TYPE NAME ( PARAMS )` found at some token. */
typedef struct candidate {
    int at, close; /* index of TYPE and of the closing parenthesis */
    bool named;    /* NAME is the file's stem */
} candidate;

/* Whether t[0..] starts `TYPE NAME (` with a balanced `)` at *close. */
static bool function_at(const token *t, int left, int *close)
{
    if (left < 4 || !is_int_type(&t[0]) || !is_id0(t[1].s[0]) || !tok_eq(&t[2], "(")) return false;
    int depth = 0;
    for (int k = 2; k < left; k++) {
        depth += tok_eq(&t[k], "(") - tok_eq(&t[k], ")");
        if (depth == 0) {
            *close = k;
            return true;
        }
    }
    return false;
}

/* One parameter t[lo..hi): `[const] T [NAME]`; *type = T's token. */
static bool param_ok(const token *t, int lo, int hi, const token **type)
{
    if (lo < hi && tok_eq(&t[lo], "const")) lo++;
    if (lo >= hi || hi - lo > 2) return false;
    *type = &t[lo];
    return hi - lo == 1 || (is_id0(t[lo + 1].s[0]) && !is_int_type(&t[lo + 1]));
}

/* Checks the full signature of the candidate at t[0], close at t[c]; fills f when valid. */
static bool signature_ok(const token *t, int c, axmul_cfunc *f)
{
    bool wide = tok_eq(&t[0], "uint64_t");
    bool out_u = wide || tok_eq(&t[0], "uint16_t");
    if (!out_u && !tok_eq(&t[0], "int16_t")) return false;
    int comma = -1;
    for (int k = 3; k < c; k++)
        if (tok_eq(&t[k], ",")) {
            if (comma >= 0) return false; /* three or more parameters */
            comma = k;
        }
    const token *ta, *tb;
    if (comma < 0 || !param_ok(t, 3, comma, &ta) || !param_ok(t, comma + 1, c, &tb)) return false;
    const char *want = wide ? "uint64_t" : tok_eq(ta, "uint8_t") ? "uint8_t" : "int8_t";
    if (!tok_is(ta->s, ta->n, want) || !tok_is(tb->s, tb->n, want)) return false;
    f->wide = wide;
    f->in_unsigned = strcmp(want, "int8_t") != 0;
    f->out_unsigned = out_u;
    return true;
}

/* The chosen candidate (stem's first, else the first) among the top-level functions. */
static bool choose_candidate(const token *t, int n, const char *stem, candidate *out)
{
    bool found = false;
    out->named = false;
    for (int i = 0; i < n; i++) {
        int c;
        if ((i > 0 && tok_eq(&t[i - 1], "static")) || !function_at(t + i, n - i, &c)) continue;
        c += i;
        bool named = tok_is(t[i + 1].s, t[i + 1].n, stem);
        int p = c > i + 4 && tok_eq(&t[i + 3], "const") ? i + 4 : i + 3;
        bool looks =
            c > p &&
            (tok_eq(&t[i], "int16_t") || tok_eq(&t[i], "uint16_t") || tok_eq(&t[i], "uint64_t")) &&
            (tok_eq(&t[p], "int8_t") || tok_eq(&t[p], "uint8_t") || tok_eq(&t[p], "uint64_t"));
        if (!named && !looks) continue;
        if (!found || (named && !out->named)) *out = (candidate){i, c, named};
        found = true;
        i = c;
    }
    return found;
}

/* Finds the multiplier function in comment-free code. AXNN_OK with *f filled; otherwise an
 * error naming the file (none found, or the chosen one has the wrong signature). */
static axnn_status find_function(const char *path, const char *code, const char *stem,
                                 axmul_cfunc *f)
{
    int n;
    token *t = tokenize(code, &n);
    if (!t) return axnn_error(AXNN_ERR_NOMEM, "%s: out of memory", path);
    candidate c = {0, 0, false};
    axnn_status st = AXNN_OK;
    if (!choose_candidate(t, n, stem, &c))
        st = axnn_error(AXNN_ERR_FORMAT,
                        "%s: no multiplier function found (expected 'int16_t NAME(int8_t A, "
                        "int8_t B)', 'uint16_t NAME(uint8_t A, uint8_t B)' or 'uint64_t "
                        "NAME(const uint64_t B, const uint64_t A)')",
                        path);
    else if (t[c.at + 1].n >= (int)sizeof f->name || !signature_ok(t + c.at, c.close - c.at, f)) {
        char sig[300] = "";
        size_t used = 0;
        for (int k = c.at; k <= c.close && used + 40 < sizeof sig; k++) {
            bool space = k > c.at && is_id0(t[k].s[0]) && !tok_eq(&t[k - 1], "(");
            used += (size_t)snprintf(sig + used, sizeof sig - used, "%s%.*s", space ? " " : "",
                                     t[k].n > 32 ? 32 : t[k].n, t[k].s);
        }
        st = axnn_error(AXNN_ERR_FORMAT,
                        "%s: no multiplier function: '%s' has the wrong arity or types "
                        "(expected 'int16_t NAME(int8_t A, int8_t B)', 'uint16_t "
                        "NAME(uint8_t A, uint8_t B)' or 'uint64_t NAME(const uint64_t B, const "
                        "uint64_t A)')",
                        path, sig);
    } else
        snprintf(f->name, sizeof f->name, "%.*s", t[c.at + 1].n, t[c.at + 1].s);
    free(t);
    return st;
}

/* One unit in the last digit of a number as printed: "4.2" -> 0.1, "34" -> 1, "1.5e2" -> 10. */
static double printed_unit(const char *s, const char *end)
{
    int dec = 0, exp10 = 0;
    const char *dot = NULL;
    for (const char *p = s; p < end; p++) {
        if (*p == '.')
            dot = p;
        else if (*p == 'e' || *p == 'E') {
            exp10 = atoi(p + 1);
            end = p;
            break;
        }
    }
    if (dot) dec = (int)(end - dot - 1);
    return pow(10.0, exp10 - dec);
}

/* "// LABEL = NUMBER [unit]" lines anywhere in the file; the first of each label counts. */
static void parse_header(const char *text, axnn_mul *m)
{
    for (const char *line = text; line && *line;
         line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        const char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (p[0] != '/' || p[1] != '/') continue;
        p += 2;
        while (*p == ' ' || *p == '\t') p++;
        const char *lab = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '=' && *p != '\n') p++;
        int ln = (int)(p - lab);
        while (*p == ' ' || *p == '\t') p++;
        if (*p != '=') continue;
        char *end;
        double v = strtod(p + 1, &end);
        if (end == p + 1) continue;
        const char *num = p + 1;
        while (*num == ' ' || *num == '\t') num++;
        if (tok_is(lab, ln, "PDK45_PWR") && m->power_mw < 0) m->power_mw = v;
        if (tok_is(lab, ln, "PDK45_AREA") && m->area_um2 < 0) m->area_um2 = v;
        if (tok_is(lab, ln, "PDK45_DELAY") && m->delay_ns < 0) m->delay_ns = v;
        for (int i = 0; i < AXMUL_NFIELDS; i++)
            if (tok_is(lab, ln, axmul_fields[i].label) && isnan(axmul_field_get(&m->claimed, i))) {
                *axmul_field_ptr(&m->claimed, i) = v;
                *axmul_field_ptr(&m->claimed_unit, i) = printed_unit(num, end);
            }
    }
}

/* ---------------------------------------------------------------- compiling ---- */

static void first_error_line(const char *log_path, char *buf, size_t n)
{
    buf[0] = 0;
    FILE *f = fopen(log_path, "r");
    if (!f) return;
    char line[1024], first[1024] = "";
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!first[0] && line[0]) snprintf(first, sizeof first, "%s", line);
        if (strstr(line, "error")) {
            snprintf(buf, n, "%s", line);
            break;
        }
    }
    fclose(f);
    if (!buf[0]) snprintf(buf, n, "%s", first);
}

/* Splits $CC into argv (at most 15 words) and appends the rest. */
static int compiler_argv(char *cc, char **argv, const char *so, const char *src)
{
    int n = 0;
    for (char *w = strtok(cc, " \t"); w && n < 15; w = strtok(NULL, " \t")) argv[n++] = w;
    if (!n) argv[n++] = "cc";
    const char *rest[] = {"-O1", "-shared", "-fPIC", "-o", so, src};
    for (size_t i = 0; i < sizeof rest / sizeof rest[0]; i++) argv[n++] = (char *)rest[i];
    argv[n] = NULL;
    return n;
}

/* Compiles path into so, the compiler's output into log; its own temporary files go to `dir`
 * (TMPDIR), so that a compiler killed on timeout or interruption leaves nothing elsewhere. */
static axnn_status compile(const char *path, const char *dir, const char *so, const char *log,
                           double limit)
{
    const char *env = getenv("CC");
    char cc[512];
    snprintf(cc, sizeof cc, "%s", env && env[0] ? env : "cc");
    char *argv[24];
    compiler_argv(cc, argv, so, path);
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return axnn_error(AXNN_ERR_IO, "%s: cannot create %s: %s", path, log, strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        setenv("TMPDIR", dir, 1);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(fd);
    if (pid < 0) return axnn_error(AXNN_ERR_IO, "%s: fork failed: %s", path, strerror(errno));
    bool killed = false;
    int status = axmul_reap(pid, axmul_now() + limit, &killed);
    if (axmul_guard_interrupted())
        return axnn_error(AXNN_ERR_IO, "%s: interrupted while compiling", path);
    if (killed)
        return axnn_error(AXNN_ERR_FORMAT, "%s: the C compiler '%s' did not finish within %.0f s",
                          path, argv[0], limit);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return AXNN_OK;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        return axnn_error(AXNN_ERR_UNSUPPORTED,
                          "%s: cannot run the C compiler '%s' (install one, e.g. build-essential, "
                          "or set $CC)",
                          path, argv[0]);
    char first[600];
    first_error_line(log, first, sizeof first);
    return axnn_error(AXNN_ERR_FORMAT, "%s: does not compile with '%s': %s", path, argv[0],
                      first[0] ? first : "(no compiler output)");
}

/* ---------------------------------------------------------------- import ---- */

static axnn_status make_tmpdir(const char *path, char *dir, size_t n)
{
    const char *t = getenv("TMPDIR");
    snprintf(dir, n, "%s/axnn-mul-XXXXXX", t && t[0] ? t : "/tmp");
    if (!mkdtemp(dir))
        return axnn_error(AXNN_ERR_IO, "%s: cannot create a temporary directory in %s: %s", path,
                          t && t[0] ? t : "/tmp", strerror(errno));
    return AXNN_OK;
}

/* EvoApproxLib's names say the signedness: mulNs_* signed, mulNu_* unsigned (some signed
 * circuits are written uint16_t f(uint8_t, uint8_t)). Other names: uint64_t operands mean
 * unsigned, uint8_t operands two's-complement bits of a signed multiplier. */
static bool auto_unsigned(const axmul_cfunc *f)
{
    const char *p = f->name;
    if (!strncmp(p, "mul", 3)) {
        p += 3;
        while (*p >= '0' && *p <= '9') p++;
        if (p > f->name + 3 && (*p == 'u' || *p == 's') && p[1] == '_') return *p == 'u';
    }
    return f->wide;
}

/* Removes dir and the files in it (the compiler's and ours; nothing makes subfolders). */
static void remove_flat_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[4400];
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    if (d) closedir(d);
    rmdir(dir);
}

/* Compiles and tabulates under the guard; the temporary directory is removed on every path. */
static axnn_status build_and_run(const char *path, const axmul_cfunc *f, double limit,
                                 uint16_t *bits)
{
    char dir[4096], so[4200], log[4200];
    axmul_guard_begin();
    axnn_status st = make_tmpdir(path, dir, sizeof dir);
    if (!st) {
        snprintf(so, sizeof so, "%s/circuit.so", dir);
        snprintf(log, sizeof log, "%s/cc.log", dir);
        st = compile(path, dir, so, log, fmax(120.0, limit));
        if (!st) st = axmul_sandbox_tabulate(path, so, f, limit, bits);
        remove_flat_dir(dir);
    }
    axmul_guard_end();
    return st;
}

/* Fills m's table (signed) or utable (unsigned) from the twos-order result bits. */
static axnn_status fill_table(axnn_mul *m, bool as_unsigned, const uint16_t *bits)
{
    if (as_unsigned) {
        axnn_status st = axmul_make_unsigned(m);
        if (st) return st;
        for (int i = 0; i < AXNN_MUL_ENTRIES; i++) m->utable[i] = bits[i];
    } else
        for (int x = 0; x < 256; x++)
            for (int y = 0; y < 256; y++)
                m->table[AXMUL_IDX((int8_t)x, (int8_t)y)] = (int16_t)bits[x * 256 + y];
    axmul_finish(m);
    return AXNN_OK;
}

static void file_stem(const char *path, char *stem, size_t n)
{
    snprintf(stem, n, "%s", base_name(path));
    size_t k = strlen(stem);
    if (k > 2 && !strcmp(stem + k - 2, ".c")) stem[k - 2] = 0;
}

axnn_status axnn_mul_import_c(const char *c_path, double timeout_s, axnn_mul_signedness signedness,
                              axnn_mul **out)
{
    *out = NULL;
    double limit = timeout_s > 0 ? timeout_s : 10.0;
    char *text = NULL;
    axnn_status st = read_source(c_path, &text);
    if (st) return st;
    char *code = strdup(text);
    axmul_cfunc f;
    char stem[256];
    file_stem(c_path, stem, sizeof stem);
    if (code) blank_comments(code);
    st = code ? find_function(c_path, code, stem, &f)
              : axnn_error(AXNN_ERR_NOMEM, "%s: out of memory", c_path);
    free(code);
    bool as_unsigned = signedness == AXNN_MUL_SIGNEDNESS_UNSIGNED ||
                       (signedness == AXNN_MUL_SIGNEDNESS_AUTO && !st && auto_unsigned(&f));
    char src[256];
    snprintf(src, sizeof src, "EvoApproxLib C file %s%s", base_name(c_path),
             as_unsigned            ? " (unsigned multiplier)"
             : !st && f.in_unsigned ? " (uint8_t operands read as two's-complement bits)"
                                    : "");
    axnn_mul *m = NULL;
    uint16_t *bits = NULL;
    if (!st) st = axmul_new(f.name, src, &m);
    if (!st) parse_header(text, m);
    free(text);
    if (!st && !(bits = malloc(AXNN_MUL_ENTRIES * sizeof *bits)))
        st = axnn_error(AXNN_ERR_NOMEM, "%s: out of memory", c_path);
    if (!st) st = build_and_run(c_path, &f, limit, bits);
    if (!st) st = fill_table(m, as_unsigned, bits);
    free(bits);
    if (st) {
        axnn_mul_free(m);
        return st;
    }
    *out = m;
    return AXNN_OK;
}
