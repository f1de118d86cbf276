/* The sandbox that tabulates a compiled circuit, and the guard that cleans up on SIGINT/SIGTERM.
 *
 * Importing an EvoApproxLib C file means running foreign code: the circuit's function, but
 * also whatever the object runs when it is loaded (constructors, IFUNC resolvers, the init
 * sections). The rule here is that nothing of the object runs before the seccomp filter is in
 * force, so the order in the child process is fixed:
 *
 *   fork -> setpgid(0, 0) (own process group) -> default signal dispositions, nothing blocked
 *   -> stdin/stdout/stderr on /dev/null, the table pipe on fd 3, the report pipe on fd 4, every
 *   other descriptor closed -> rlimits -> SIGSYS handler -> seccomp filter 1 -> dlopen (the
 *   object's load-time code runs here, under filter 1) -> dlsym -> seccomp filter 2 -> call the
 *   function on all 65,536 operand pairs -> write the table to fd 3 -> _exit(0).
 *
 * Filter 1 (libseccomp, default action SCMP_ACT_TRAP) allows only what the loader and a pure
 * function need, plus what a sanitizer runtime inherited from a sanitizer build of axnn needs:
 * read/pread64; write to fds 1 to 4 only (1 and 2 are /dev/null); close; fstat, newfstatat,
 * statx, lseek; memory management (mmap, mprotect, munmap, mremap, brk, madvise); futex; time
 * and sleeping; getrandom; getpid, gettid, getppid; rt_sigprocmask, rt_sigreturn, sigaltstack;
 * getrlimit and prlimit64 without a new limit; exit/exit_group; seccomp and
 * prctl(PR_SET_NO_NEW_PRIVS), which can only add restrictions; and open/openat without
 * O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND or O_TMPFILE, because the loader must open the
 * object. Everything else traps: no file creation, writing, renaming or deleting; no fork,
 * clone, vfork, execve or execveat; no kill, tkill, tgkill or rt_sigqueueinfo (no signal to
 * any process, not even to itself); no sockets, ptrace, ioctl, other prctl, setrlimit; no
 * rt_sigaction (so the SIGSYS handler cannot be replaced). Filter 2 then removes open and
 * openat, so the function itself cannot even read files; only load-time code could, and
 * whatever it reads can only end up in the table. Filters cannot be removed, and both are
 * installed with no_new_privs.
 *
 * A trapped call raises SIGSYS; the handler writes the system call number to fd 4 and exits
 * with CHILD_SECCOMP, and the parent names the call (seccomp_syscall_resolve_num_arch). If the
 * circuit blocks SIGSYS first, the kernel kills the child with SIGSYS instead: also reported.
 * The rlimits are CPU time (the deadline plus one second; SIGXCPU), address space (the size at
 * fork plus AXMUL_SANDBOX_MEM, so that a child of a sanitizer build, which maps terabytes of
 * shadow, still works; a huge malloc returns NULL), file size 0, no core files, at most 16
 * descriptors and no new processes (RLIMIT_NPROC 0: a second lock on fork). The parent reads
 * the pipe against a wall-clock deadline and kills the whole process group with SIGKILL on
 * timeout, on any error and on interruption; the child is always reaped.
 *
 * The guard (axmul_guard_*) replaces the SIGINT, SIGTERM and SIGHUP handlers while an import
 * runs. A signal only sets a flag; the loops that wait on children poll it, kill the children's
 * groups and return AXNN_ERR_IO ("interrupted"), the caller removes its temporary folder, and
 * axmul_guard_end restores the caller's handlers and re-raises the signal. So an interrupted
 * import leaves neither processes nor files behind and still ends as the caller's handler (or
 * the default action) says. A signal the caller ignores stays ignored. The handlers are
 * process-wide: imports are not meant to run on several threads at once.
 */
#define _GNU_SOURCE
#include "axmul_impl.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TABLE_BYTES (AXNN_MUL_ENTRIES * 2)
#define CHILD_LOAD_FAILED 3
#define CHILD_NO_SYMBOL 4
#define CHILD_SECCOMP 5
#define CHILD_SETUP_FAILED 6
#define CHILD_RANGE 7
#define FD_TABLE 3
#define FD_REPORT 4

/* ---------------------------------------------------------------- guard ---- */

static volatile sig_atomic_t g_signal;
static const int guard_sigs[] = {SIGINT, SIGTERM, SIGHUP};
#define NGUARD (int)(sizeof guard_sigs / sizeof guard_sigs[0])
static struct sigaction g_old[NGUARD];

static void on_signal(int sig)
{
    g_signal = sig;
}

void axmul_guard_begin(void)
{
    g_signal = 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < NGUARD; i++) {
        sigaction(guard_sigs[i], NULL, &g_old[i]);
        if (g_old[i].sa_handler != SIG_IGN) sigaction(guard_sigs[i], &sa, NULL); /* keep ignores */
    }
}

int axmul_guard_interrupted(void)
{
    return g_signal;
}

void axmul_guard_end(void)
{
    int sig = g_signal;
    for (int i = 0; i < NGUARD; i++) sigaction(guard_sigs[i], &g_old[i], NULL);
    g_signal = 0;
    if (sig) raise(sig);
}

/* ---------------------------------------------------------------- waiting ---- */

double axmul_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

void axmul_kill_group(pid_t pid)
{
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL); /* before the child's setpgid */
}

int axmul_reap(pid_t pid, double deadline, bool *killed)
{
    int status = 0;
    for (;;) {
        siginfo_t si;
        si.si_pid = 0;
        int r = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT);
        if (r == 0 && si.si_pid == pid) {
            /* Exited but not reaped: the zombie still holds the group id, so killing the group
             * cannot hit an unrelated process; then reap. */
            kill(-pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
            return status;
        }
        if (r < 0 && errno != EINTR) return -1;
        if ((axmul_now() >= deadline || g_signal) && !*killed) {
            axmul_kill_group(pid);
            *killed = true;
        }
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* Reads up to cap bytes from fd until EOF, the deadline or a guarded signal; returns the count. */
static size_t read_until(int fd, char *buf, size_t cap, double deadline)
{
    size_t n = 0;
    for (;;) {
        double left = deadline - axmul_now();
        if (left <= 0 || g_signal) return n;
        struct pollfd pfd = {fd, POLLIN, 0};
        int r = poll(&pfd, 1, (int)fmin(left * 1000 + 1, 50));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return n;
        if (r == 0) continue;
        char scratch[4096];
        bool room = n < cap;
        ssize_t k = read(fd, room ? buf + n : scratch, room ? cap - n : sizeof scratch);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return n;
        if (room) n += (size_t)k;
    }
}

/* ---------------------------------------------------------------- child ---- */

typedef int16_t (*fn_ss)(int8_t, int8_t);
typedef int16_t (*fn_us)(uint8_t, uint8_t);
typedef uint16_t (*fn_su)(int8_t, int8_t);
typedef uint16_t (*fn_uu)(uint8_t, uint8_t);
typedef uint64_t (*fn_ww)(uint64_t, uint64_t);

/* The 16 result bits of f(bits x, bits y). */
static uint16_t call_circuit(void *sym, const axmul_cfunc *f, uint8_t x, uint8_t y)
{
    if (f->wide) {
        fn_ww p;
        memcpy(&p, &sym, sizeof p);
        uint64_t r = p(x, y);
        if (r > UINT16_MAX) _exit(CHILD_RANGE);
        return (uint16_t)r;
    }
    if (!f->in_unsigned && !f->out_unsigned) {
        fn_ss p;
        memcpy(&p, &sym, sizeof p);
        return (uint16_t)p((int8_t)x, (int8_t)y);
    }
    if (f->in_unsigned && !f->out_unsigned) {
        fn_us p;
        memcpy(&p, &sym, sizeof p);
        return (uint16_t)p(x, y);
    }
    if (!f->in_unsigned) {
        fn_su p;
        memcpy(&p, &sym, sizeof p);
        return p((int8_t)x, (int8_t)y);
    }
    fn_uu p;
    memcpy(&p, &sym, sizeof p);
    return p(x, y);
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

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
    int nr = si->si_syscall;
    write_all(FD_REPORT, &nr, sizeof nr);
    _exit(CHILD_SECCOMP);
}

/* Descriptors: /dev/null on 0-2, the pipes on FD_TABLE and FD_REPORT, nothing else. */
static bool child_fds(int wfd, int rfd)
{
    /* copies above both first, so that neither dup2 below overwrites the other pipe */
    int w = fcntl(wfd, F_DUPFD, 64), r = fcntl(rfd, F_DUPFD, 64);
    if (w < 0 || r < 0 || dup2(w, FD_TABLE) < 0 || dup2(r, FD_REPORT) < 0) return false;
    int nul = open("/dev/null", O_RDWR);
    if (nul < 0 || dup2(nul, 0) < 0 || dup2(nul, 1) < 0 || dup2(nul, 2) < 0) return false;
    return close_range(FD_REPORT + 1, ~0U, 0) == 0;
}

static void child_signals(void)
{
    for (int s = 1; s < NSIG; s++)
        if (s != SIGKILL && s != SIGSTOP) signal(s, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSYS, &sa, NULL);
}

static bool child_limits(double limit, rlim_t as_bytes)
{
    rlim_t secs = (rlim_t)ceil(limit) + 1;
    struct rlimit cpu = {secs, secs}, zero = {0, 0}, as = {as_bytes, as_bytes}, fds = {16, 16};
    return setrlimit(RLIMIT_CPU, &cpu) == 0 && setrlimit(RLIMIT_CORE, &zero) == 0 &&
           setrlimit(RLIMIT_FSIZE, &zero) == 0 && setrlimit(RLIMIT_NOFILE, &fds) == 0 &&
           setrlimit(RLIMIT_AS, &as) == 0 && setrlimit(RLIMIT_NPROC, &zero) == 0;
}

#define ALLOW(ctx, name) seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(name), 0)

/* Filter 1: see the essay above. */
static bool load_filter1(void)
{
    scmp_filter_ctx c = seccomp_init(SCMP_ACT_TRAP);
    if (!c) return false;
    static const int plain[] = {
        SCMP_SYS(read),          SCMP_SYS(pread64),
        SCMP_SYS(close),         SCMP_SYS(fstat),
        SCMP_SYS(newfstatat),    SCMP_SYS(statx),
        SCMP_SYS(lseek),         SCMP_SYS(mmap),
        SCMP_SYS(mprotect),      SCMP_SYS(munmap),
        SCMP_SYS(mremap),        SCMP_SYS(brk),
        SCMP_SYS(madvise),       SCMP_SYS(futex),
        SCMP_SYS(clock_gettime), SCMP_SYS(clock_getres),
        SCMP_SYS(gettimeofday),  SCMP_SYS(time),
        SCMP_SYS(nanosleep),     SCMP_SYS(clock_nanosleep),
        SCMP_SYS(sched_yield),   SCMP_SYS(getrandom),
        SCMP_SYS(getpid),        SCMP_SYS(gettid),
        SCMP_SYS(getppid),       SCMP_SYS(rt_sigprocmask),
        SCMP_SYS(rt_sigreturn),  SCMP_SYS(exit),
        SCMP_SYS(exit_group),    SCMP_SYS(seccomp),
        SCMP_SYS(sigaltstack),   SCMP_SYS(getrlimit),
    };
    int rc = 0;
    for (size_t i = 0; !rc && i < sizeof plain / sizeof plain[0]; i++)
        rc = seccomp_rule_add(c, SCMP_ACT_ALLOW, plain[i], 0);
    /* seccomp(2) and prctl(PR_SET_NO_NEW_PRIVS) can only add restrictions: filter 2 needs them */
    if (!rc)
        rc = seccomp_rule_add(c, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
                              SCMP_A0(SCMP_CMP_EQ, PR_SET_NO_NEW_PRIVS));
    /* fds 1 and 2 are /dev/null (a sanitizer runtime writes its reports there) */
    const int wfds[] = {1, 2, FD_TABLE, FD_REPORT};
    for (int i = 0; !rc && i < 4; i++)
        rc = seccomp_rule_add(c, SCMP_ACT_ALLOW, SCMP_SYS(write), 1, SCMP_A0(SCMP_CMP_EQ, wfds[i]));
    /* reading rlimits (prlimit64 without a new limit) */
    if (!rc)
        rc = seccomp_rule_add(c, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 1, SCMP_A2(SCMP_CMP_EQ, 0));
    const scmp_datum_t wr = O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_TMPFILE;
    if (!rc)
        rc = seccomp_rule_add(c, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
                              SCMP_A2(SCMP_CMP_MASKED_EQ, wr, 0));
    if (!rc)
        rc = seccomp_rule_add(c, SCMP_ACT_ALLOW, SCMP_SYS(open), 1,
                              SCMP_A1(SCMP_CMP_MASKED_EQ, wr, 0));
    if (!rc) rc = seccomp_load(c);
    seccomp_release(c);
    return rc == 0;
}

/* Filter 2: no more opening, once the object is loaded. */
static bool load_filter2(void)
{
    scmp_filter_ctx c = seccomp_init(SCMP_ACT_ALLOW);
    if (!c) return false;
    int rc = seccomp_rule_add(c, SCMP_ACT_TRAP, SCMP_SYS(openat), 0);
    if (!rc) rc = seccomp_rule_add(c, SCMP_ACT_TRAP, SCMP_SYS(open), 0);
    if (!rc) rc = seccomp_rule_add(c, SCMP_ACT_TRAP, SCMP_SYS(openat2), 0);
    if (!rc) rc = seccomp_load(c);
    seccomp_release(c);
    return rc == 0;
}

/* The child: never returns. The table goes out in twos order, (uint8)a * 256 + (uint8)b. */
static void child_run(int wfd, int rfd, const char *so, const axmul_cfunc *f, double limit,
                      rlim_t as_bytes)
{
    static uint16_t out[AXNN_MUL_ENTRIES];
    child_signals();
    if (!child_fds(wfd, rfd) || !child_limits(limit, as_bytes)) _exit(CHILD_SETUP_FAILED);
    alarm((unsigned)ceil(limit) + 2);
    if (!load_filter1()) _exit(CHILD_SETUP_FAILED);
    void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        write_all(FD_TABLE, e, strlen(e));
        _exit(CHILD_LOAD_FAILED);
    }
    void *sym = dlsym(h, f->name);
    if (!sym) _exit(CHILD_NO_SYMBOL);
    if (!load_filter2()) _exit(CHILD_SETUP_FAILED);
    for (int x = 0; x < 256; x++)
        for (int y = 0; y < 256; y++) out[x * 256 + y] = call_circuit(sym, f, x, y);
    write_all(FD_TABLE, out, sizeof out);
    _exit(0);
}

/* ---------------------------------------------------------------- parent ---- */

/* Current address-space size (the child's RLIMIT_AS is this plus AXMUL_SANDBOX_MEM). */
static rlim_t address_space(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    if (f) {
        if (fscanf(f, "%lu", &pages) != 1) pages = 0;
        fclose(f);
    }
    return (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE);
}

static axnn_status child_error(const char *path, const axmul_cfunc *f, int status, bool killed,
                               double limit, const char *got, size_t n, int syscall_nr)
{
    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (g_signal)
        return axnn_error(AXNN_ERR_IO, "%s: interrupted by signal %d (%s) while tabulating %s()",
                          path, (int)g_signal, strsignal(g_signal), f->name);
    if (killed || sig == SIGXCPU || sig == SIGALRM)
        return axnn_error(
            AXNN_ERR_FORMAT,
            "%s: %s() did not finish within %g s (does it loop forever? see --timeout)", path,
            f->name, limit);
    if (code == CHILD_SECCOMP || sig == SIGSYS) {
        char *name =
            syscall_nr >= 0 ? seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, syscall_nr) : NULL;
        axnn_status st = axnn_error(
            AXNN_ERR_FORMAT,
            "%s: %s() was stopped: it made a forbidden system call (%s); an imported circuit "
            "may only compute its table (no files, processes or signals)",
            path, f->name, name ? name : "unknown");
        free(name);
        return st;
    }
    if (sig)
        return axnn_error(AXNN_ERR_FORMAT,
                          "%s: %s() crashed with signal %d (%s) while being tabulated (memory "
                          "is limited to %d MiB)",
                          path, f->name, sig, strsignal(sig), AXMUL_SANDBOX_MEM >> 20);
    if (code == CHILD_LOAD_FAILED)
        return axnn_error(AXNN_ERR_FORMAT, "%s: cannot load the compiled circuit: %.*s", path,
                          (int)(n > 300 ? 300 : n), got);
    if (code == CHILD_NO_SYMBOL)
        return axnn_error(AXNN_ERR_FORMAT, "%s: %s() is not exported by the compiled circuit", path,
                          f->name);
    if (code == CHILD_SETUP_FAILED)
        return axnn_error(AXNN_ERR_IO, "%s: cannot set up the sandbox (seccomp or rlimits)", path);
    if (code == CHILD_RANGE)
        return axnn_error(AXNN_ERR_FORMAT, "%s: %s() returned a product above 65535", path,
                          f->name);
    if (code != 0)
        return axnn_error(AXNN_ERR_FORMAT,
                          "%s: %s() ended the tabulation process with exit status %d", path,
                          f->name, code);
    return axnn_error(AXNN_ERR_FORMAT, "%s: the tabulation returned %zu of %d bytes", path, n,
                      TABLE_BYTES);
}

static int read_report(int fd)
{
    int nr = -1;
    fcntl(fd, F_SETFL, O_NONBLOCK);
    if (read(fd, &nr, sizeof nr) != (ssize_t)sizeof nr) nr = -1;
    return nr;
}

axnn_status axmul_sandbox_tabulate(const char *path, const char *so, const axmul_cfunc *f,
                                   double limit, uint16_t *bits)
{
    int tp[2], rp[2];
    if (pipe2(tp, O_CLOEXEC) != 0)
        return axnn_error(AXNN_ERR_IO, "%s: pipe failed: %s", path, strerror(errno));
    if (pipe2(rp, O_CLOEXEC) != 0) {
        close(tp[0]);
        close(tp[1]);
        return axnn_error(AXNN_ERR_IO, "%s: pipe failed: %s", path, strerror(errno));
    }
    char *buf = malloc(TABLE_BYTES);
    rlim_t as = address_space() + AXMUL_SANDBOX_MEM;
    fflush(NULL);
    pid_t pid = buf ? fork() : -1;
    if (pid == 0) {
        setpgid(0, 0);
        child_run(tp[1], rp[1], so, f, limit, as);
    }
    close(tp[1]);
    close(rp[1]);
    if (pid < 0) {
        close(tp[0]);
        close(rp[0]);
        free(buf);
        return buf ? axnn_error(AXNN_ERR_IO, "%s: fork failed: %s", path, strerror(errno))
                   : axnn_error(AXNN_ERR_NOMEM, "%s: out of memory", path);
    }
    setpgid(pid, pid); /* also from this side, so that the group exists before any kill */
    double deadline = axmul_now() + limit;
    size_t n = read_until(tp[0], buf, TABLE_BYTES, deadline);
    /* Without a full table by the deadline (or on a signal): kill before closing the pipe, so
     * that a slow child is reported as too slow, not as dying of SIGPIPE. */
    bool killed = n < TABLE_BYTES && (axmul_now() >= deadline || g_signal);
    if (killed) axmul_kill_group(pid);
    close(tp[0]);
    int status = axmul_reap(pid, deadline, &killed); /* kills what is left of the group */
    int nr = read_report(rp[0]);
    close(rp[0]);
    axnn_status st = AXNN_OK;
    if (killed || g_signal || !WIFEXITED(status) || WEXITSTATUS(status) != 0 || n != TABLE_BYTES)
        st = child_error(path, f, status, killed, limit, buf, n, nr);
    else
        memcpy(bits, buf, TABLE_BYTES);
    free(buf);
    return st;
}
