/* EvoApproxLib C import: compile a multiplier's C file, tabulate it safely, read its header.
 *
 * EvoApproxLib publishes each approximate multiplier as a C file: a comment header of error
 * metrics and PDK45 figures ("// MAE% = 0.0064 %", ..., "// PDK45_PWR = 0.410 mW"), then one
 * function, int16_t NAME(int8_t A, int8_t B) for signed circuits or uint16_t NAME(uint8_t,
 * uint8_t) for the ones that take and return raw bits. To get its table we must run foreign
 * code, so the work is split in three steps, each of which can fail without harming the caller:
 *
 *  1. Parse. The function is found by scanning the comment-free token stream for
 *     `[u]int16_t NAME ( [const] [u]int8_t` (not preceded by `static`, which dlsym cannot see);
 *     the one named like the file's stem wins, else the first. The header lines are read as
 *     LABEL = NUMBER, and each number's printed precision is kept (claimed_unit) so that
 *     axnn_mul_check_claims can compare at that precision.
 *  2. Compile. $CC (split on spaces; default "cc") -O1 -shared -fPIC -o DIR/circuit.so FILE,
 *     in a fresh mkdtemp directory, with the compiler's output captured to a log whose first
 *     "error" line goes into the message. The compiler runs under a deadline too.
 *  3. Tabulate in a forked child. The child resets the fatal-signal handlers to their defaults
 *     (a sanitizer runtime in the parent would otherwise catch a crash and print a report),
 *     silences stdio, sets RLIMIT_CPU, RLIMIT_CORE = 0 and an alarm, dlopens the object,
 *     calls the function on all 65,536 pairs, writes the int16 results to a pipe and _exits
 *     (no atexit handlers, no leak check, no double-flushed stdio). The parent reads the pipe
 *     with poll() against a wall-clock deadline, kills the child (and its process group) with
 *     SIGKILL when it passes, and reaps it. A crash, a hang, a short read or a non-zero exit
 *     each become one line naming the file.
 *
 * The object is loaded only in the child: the parent never maps foreign code, so it does not
 * matter whether it was built with sanitizers. Besides dlopen/dlsym and the circuit itself,
 * the child calls only async-signal-safe functions, so fork() from a multi-threaded caller is
 * acceptable; should dlopen deadlock on a loader lock another thread held at fork time, the
 * deadline still ends the child.
 * The temporary directory is always removed.
 */
#define _GNU_SOURCE
#include "axmul_impl.h"

#include <dlfcn.h>
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
#define TABLE_BYTES (AXNN_MUL_ENTRIES * 2)
#define CHILD_LOAD_FAILED 3
#define CHILD_NO_SYMBOL 4

typedef struct cfunc {
    char name[128];
    bool in_unsigned, out_unsigned;
} cfunc;

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

/* Matches `[u]int16_t NAME ( [const] [u]int8_t` at t[0] (t holds at least `left` tokens). */
static bool match_signature(const token *t, int left, cfunc *f)
{
    if (left < 4) return false;
    bool out_u = tok_eq(&t[0], "uint16_t");
    if (!out_u && !tok_eq(&t[0], "int16_t")) return false;
    if (!is_id0(t[1].s[0]) || t[1].n >= (int)sizeof f->name || !tok_eq(&t[2], "(")) return false;
    int k = tok_eq(&t[3], "const") && left > 4 ? 4 : 3;
    bool in_u = tok_eq(&t[k], "uint8_t");
    if (!in_u && !tok_eq(&t[k], "int8_t")) return false;
    snprintf(f->name, sizeof f->name, "%.*s", t[1].n, t[1].s);
    f->in_unsigned = in_u;
    f->out_unsigned = out_u;
    return true;
}

/* Finds the multiplier function in comment-free code (not `static`: dlsym cannot see those);
 * prefers the one named `stem`, else the first. */
static bool find_function(const char *code, const char *stem, cfunc *out)
{
    int n;
    token *t = tokenize(code, &n);
    bool found = false;
    for (int i = 0; t && i < n; i++) {
        cfunc f;
        if ((i > 0 && tok_eq(&t[i - 1], "static")) || !match_signature(t + i, n - i, &f)) continue;
        if (!found || (strcmp(out->name, stem) && !strcmp(f.name, stem))) *out = f;
        found = true;
    }
    free(t);
    return found;
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

/* ---------------------------------------------------------------- processes ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Kills a child and its process group (the child calls setpgid(0, 0) first thing, so its own
 * children, e.g. cc1 under the compiler driver, go too; the second kill covers the moment
 * before setpgid). */
static void kill_child(pid_t pid)
{
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
}

/* Reaps pid, killing it once `deadline` (monotonic seconds) passes unless *killed already;
 * *killed says whether it was killed. */
static int reap(pid_t pid, double deadline, bool *killed)
{
    int status = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) return status;
        if (r < 0 && errno != EINTR) return -1;
        if (now_s() >= deadline && !*killed) {
            kill_child(pid);
            *killed = true;
        }
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

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

static axnn_status compile(const char *path, const char *so, const char *log, double limit)
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
        execvp(argv[0], argv);
        _exit(127);
    }
    close(fd);
    if (pid < 0) return axnn_error(AXNN_ERR_IO, "%s: fork failed: %s", path, strerror(errno));
    bool killed = false;
    int status = reap(pid, now_s() + limit, &killed);
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

typedef int16_t (*fn_ss)(int8_t, int8_t);
typedef int16_t (*fn_us)(uint8_t, uint8_t);
typedef uint16_t (*fn_su)(int8_t, int8_t);
typedef uint16_t (*fn_uu)(uint8_t, uint8_t);

static int16_t call_circuit(void *sym, const cfunc *f, int a, int b)
{
    if (!f->in_unsigned && !f->out_unsigned) {
        fn_ss p;
        memcpy(&p, &sym, sizeof p);
        return p((int8_t)a, (int8_t)b);
    }
    if (f->in_unsigned && !f->out_unsigned) {
        fn_us p;
        memcpy(&p, &sym, sizeof p);
        return p((uint8_t)a, (uint8_t)b);
    }
    if (!f->in_unsigned) {
        fn_su p;
        memcpy(&p, &sym, sizeof p);
        return (int16_t)p((int8_t)a, (int8_t)b);
    }
    fn_uu p;
    memcpy(&p, &sym, sizeof p);
    return (int16_t)p((uint8_t)a, (uint8_t)b);
}

static void write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return;
        p += k;
        n -= (size_t)k;
    }
}

/* The child: never returns. */
static void child_tabulate(int wfd, const char *so, const cfunc *f, double limit)
{
    static int16_t out[AXNN_MUL_ENTRIES];
    const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGALRM, SIGXCPU, SIGPIPE};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) signal(sigs[i], SIG_DFL);
    int nul = open("/dev/null", O_RDWR);
    if (nul >= 0) {
        dup2(nul, 0);
        dup2(nul, 1);
        dup2(nul, 2);
    }
    rlim_t secs = (rlim_t)ceil(limit) + 1;
    struct rlimit rl = {secs, secs + 1}, nocore = {0, 0};
    setrlimit(RLIMIT_CPU, &rl);
    setrlimit(RLIMIT_CORE, &nocore); /* a crash should not leave a core file behind */
    alarm((unsigned)secs + 1);
    void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        write_all(wfd, e, strlen(e));
        _exit(CHILD_LOAD_FAILED);
    }
    void *sym = dlsym(h, f->name);
    if (!sym) _exit(CHILD_NO_SYMBOL);
    for (int a = -128; a < 128; a++)
        for (int b = -128; b < 128; b++) out[AXMUL_IDX(a, b)] = call_circuit(sym, f, a, b);
    write_all(wfd, out, sizeof out);
    _exit(0);
}

/* Reads up to cap bytes from fd until EOF or the deadline; returns the count. */
static size_t read_until(int fd, char *buf, size_t cap, double deadline)
{
    size_t n = 0;
    for (;;) {
        double left = deadline - now_s();
        if (left <= 0) return n;
        struct pollfd pfd = {fd, POLLIN, 0};
        int r = poll(&pfd, 1, (int)(left * 1000) + 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return n;
        char scratch[4096];
        bool room = n < cap;
        ssize_t k = read(fd, room ? buf + n : scratch, room ? cap - n : sizeof scratch);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return n;
        if (room) n += (size_t)k;
    }
}

static axnn_status child_error(const char *path, const cfunc *f, int status, bool killed,
                               double limit, const char *got, size_t n)
{
    if (killed ||
        (WIFSIGNALED(status) && (WTERMSIG(status) == SIGXCPU || WTERMSIG(status) == SIGALRM)))
        return axnn_error(
            AXNN_ERR_FORMAT,
            "%s: %s() did not finish within %g s (does it loop forever? see --timeout)", path,
            f->name, limit);
    if (WIFSIGNALED(status))
        return axnn_error(AXNN_ERR_FORMAT,
                          "%s: %s() crashed with signal %d (%s) while being tabulated", path,
                          f->name, WTERMSIG(status), strsignal(WTERMSIG(status)));
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (code == CHILD_LOAD_FAILED)
        return axnn_error(AXNN_ERR_FORMAT, "%s: cannot load the compiled circuit: %.*s", path,
                          (int)(n > 300 ? 300 : n), got);
    if (code == CHILD_NO_SYMBOL)
        return axnn_error(AXNN_ERR_FORMAT, "%s: %s() is not exported by the compiled circuit", path,
                          f->name);
    if (code != 0)
        return axnn_error(AXNN_ERR_FORMAT,
                          "%s: %s() ended the tabulation process with exit status %d", path,
                          f->name, code);
    return axnn_error(AXNN_ERR_FORMAT, "%s: the tabulation returned %zu of %d bytes", path, n,
                      TABLE_BYTES);
}

static axnn_status tabulate(const char *path, const char *so, const cfunc *f, double limit,
                            int32_t *table)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return axnn_error(AXNN_ERR_IO, "%s: pipe failed: %s", path, strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        close(fds[0]);
        child_tabulate(fds[1], so, f, limit);
    }
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        return axnn_error(AXNN_ERR_IO, "%s: fork failed: %s", path, strerror(errno));
    }
    char *buf = malloc(TABLE_BYTES);
    double deadline = now_s() + limit;
    size_t n = buf ? read_until(fds[0], buf, TABLE_BYTES, deadline) : 0;
    /* Past the deadline without a full table: kill before closing the pipe, so that a slow
     * child is reported as too slow, not as dying of SIGPIPE. */
    bool killed = n < TABLE_BYTES && now_s() >= deadline;
    if (killed) kill_child(pid);
    close(fds[0]);
    int status = reap(pid, deadline, &killed);
    axnn_status st = AXNN_OK;
    if (!buf)
        st = axnn_error(AXNN_ERR_NOMEM, "%s: out of memory", path);
    else if (killed || !WIFEXITED(status) || WEXITSTATUS(status) != 0 || n != TABLE_BYTES)
        st = child_error(path, f, status, killed, limit, buf, n);
    else
        for (int i = 0; i < AXNN_MUL_ENTRIES; i++) {
            int16_t v;
            memcpy(&v, buf + 2 * i, 2);
            table[i] = v;
        }
    free(buf);
    return st;
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

static axnn_status build_and_run(const char *path, const cfunc *f, double limit, int32_t *table)
{
    char dir[4096], so[4200], log[4200];
    axnn_status st = make_tmpdir(path, dir, sizeof dir);
    if (st) return st;
    snprintf(so, sizeof so, "%s/circuit.so", dir);
    snprintf(log, sizeof log, "%s/cc.log", dir);
    st = compile(path, so, log, fmax(120.0, limit));
    if (!st) st = tabulate(path, so, f, limit, table);
    unlink(so);
    unlink(log);
    rmdir(dir);
    return st;
}

static void file_stem(const char *path, char *stem, size_t n)
{
    snprintf(stem, n, "%s", base_name(path));
    size_t k = strlen(stem);
    if (k > 2 && !strcmp(stem + k - 2, ".c")) stem[k - 2] = 0;
}

axnn_status axnn_mul_import_c(const char *c_path, double timeout_s, axnn_mul **out)
{
    *out = NULL;
    double limit = timeout_s > 0 ? timeout_s : 10.0;
    char *text = NULL;
    axnn_status st = read_source(c_path, &text);
    if (st) return st;
    char *code = strdup(text);
    cfunc f;
    char stem[256];
    file_stem(c_path, stem, sizeof stem);
    if (code) blank_comments(code);
    bool found = code && find_function(code, stem, &f);
    free(code);
    axnn_mul *m = NULL;
    if (!found)
        st = axnn_error(AXNN_ERR_FORMAT,
                        "%s: no multiplier function found (expected 'int16_t NAME(int8_t A, int8_t "
                        "B)' or 'uint16_t NAME(uint8_t A, uint8_t B)')",
                        c_path);
    char src[256];
    snprintf(src, sizeof src, "EvoApproxLib C file %s%s", base_name(c_path),
             found && f.in_unsigned ? " (uint8_t operands read as two's-complement bits)" : "");
    if (!st) st = axmul_new(f.name, src, &m);
    if (!st) parse_header(text, m);
    free(text);
    if (!st) st = build_and_run(c_path, &f, limit, m->table);
    if (st) {
        axnn_mul_free(m);
        return st;
    }
    axnn_mul_compute_metrics(m->table, &m->metrics);
    *out = m;
    return AXNN_OK;
}
