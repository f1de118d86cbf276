/* The CPU topology, read from sysfs under a root folder (so that tests read fake trees).
 *
 * Files read, all relative to ROOT/devices/system/cpu unless said otherwise:
 *   online, offline (or possible minus online)       which CPUs run
 *   cpuN/cpu_capacity                                ARM's relative capacity (big.LITTLE)
 *   cpuN/regs/identification/midr_el1                ARM core part number (A53, A73, ...)
 *   ROOT/devices/cpu_core/cpus, ROOT/devices/cpu_atom/cpus   Intel hybrid P and E cores
 *   cpuN/topology/{physical_package_id,cluster_id,thread_siblings_list}
 *   cpuN/cache/indexI/{level,type,shared_cpu_list}   shared L2 and L3
 *   cpuN/cpufreq/cpuinfo_max_freq                    maximum frequency (kHz)
 * Only `online` is required; a missing file leaves its field unknown.
 *
 * Core type: CPUs are identical when they agree on the hybrid class (P/E), the ARM part, the
 * capacity and the maximum frequency. Groups: identical CPUs of one package that share their
 * last-level cache (the highest cache level present; the package when no cache is listed), so
 * a big.LITTLE SoC gives one group per cluster and an Intel hybrid part one group of P cores and
 * one of E cores.
 */
#include "axnn/pipe.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAXC AXNN_PIPE_MAX_CPUS

/* Reads ROOT/<path> (printf format) into buf; false when it does not exist or is unreadable. */
static bool read_text(const char *root, char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static bool read_text(const char *root, char *buf, size_t len, const char *fmt, ...)
{
    char rel[512], path[1100];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rel, sizeof rel, fmt, ap);
    va_end(ap);
    snprintf(path, sizeof path, "%s/%s", root, rel);
    FILE *f = fopen(path, "r");
    if (!f) return false;
    size_t n = fread(buf, 1, len - 1, f);
    fclose(f);
    buf[n] = 0;
    return true;
}

static long read_long(const char *root, long dflt, const char *fmt, int cpu)
{
    char buf[64];
    if (!read_text(root, buf, sizeof buf, fmt, cpu)) return dflt;
    char *end;
    long v = strtol(buf, &end, 0);
    return end == buf ? dflt : v;
}

/* Lowest CPU of the list in the file, -1 when absent or empty. */
static int list_first(const char *root, const char *rel)
{
    char buf[4096];
    if (!read_text(root, buf, sizeof buf, "%s", rel)) return -1;
    bool set[MAXC];
    if (axnn_pipe_cpulist_parse(buf, set, MAXC, rel) != AXNN_OK) return -1;
    for (int c = 0; c < MAXC; c++)
        if (set[c]) return c;
    return -1;
}

static const struct {
    int part;
    const char *name;
} arm_parts[] = {
    {0xd03, "A53"},  {0xd04, "A35"}, {0xd05, "A55"},  {0xd07, "A57"},
    {0xd08, "A72"},  {0xd09, "A73"}, {0xd0a, "A75"},  {0xd0b, "A76"},
    {0xd0d, "A77"},  {0xd41, "A78"}, {0xd44, "X1"},   {0xd46, "A510"},
    {0xd47, "A710"}, {0xd48, "X2"},  {0xd4d, "A715"}, {0xd4e, "X3"},
};

/* The class name of a CPU: "P-core"/"E-core" (hybrid), the ARM part, or "" when unknown. */
static void cpu_class(const char *root, int cpu, const bool *pcore, const bool *ecore, char *name,
                      size_t len)
{
    name[0] = 0;
    if (pcore[cpu] || ecore[cpu]) {
        snprintf(name, len, "%s", pcore[cpu] ? "P-core" : "E-core");
        return;
    }
    char buf[64];
    if (!read_text(root, buf, sizeof buf, "devices/system/cpu/cpu%d/regs/identification/midr_el1",
                   cpu))
        return;
    unsigned long long midr = strtoull(buf, NULL, 0);
    int part = (int)((midr >> 4) & 0xfff);
    for (size_t i = 0; i < sizeof arm_parts / sizeof arm_parts[0]; i++)
        if (arm_parts[i].part == part) {
            snprintf(name, len, "%s", arm_parts[i].name);
            return;
        }
    snprintf(name, len, "arm-%03x", part);
}

/* Index of the type (class, capacity, frequency), adding it when new; -1 when full. */
static int type_of(axnn_pipe_topo *t, const char *cls, int capacity, int64_t khz)
{
    char name[32];
    snprintf(name, sizeof name, "%s", cls[0] ? cls : "core");
    for (int i = 0; i < t->ntypes; i++) {
        const axnn_pipe_type *y = &t->types[i];
        if (!strncmp(y->name, name, strlen(name)) && y->capacity == capacity && y->max_khz == khz)
            return i;
    }
    if (t->ntypes == AXNN_PIPE_MAX_TYPES) return -1;
    axnn_pipe_type *y = &t->types[t->ntypes];
    snprintf(y->name, sizeof y->name, "%s", name);
    for (int i = 0; i < t->ntypes; i++) /* same class, other capacity or clock */
        if (!strcmp(t->types[i].name, name)) {
            snprintf(y->name, sizeof y->name, "%.20s-%d", name, t->ntypes);
            break;
        }
    y->capacity = capacity;
    y->max_khz = khz;
    y->speed = 1;
    return t->ntypes++;
}

/* The highest cache level listed for cpu, and the first CPU sharing it per level. */
static void read_caches(const char *root, axnn_pipe_cpu *c)
{
    c->l2 = c->l3 = -1;
    for (int i = 0; i < 16; i++) {
        char type[32];
        if (!read_text(root, type, sizeof type, "devices/system/cpu/cpu%d/cache/index%d/type",
                       c->id, i))
            type[0] = 0; /* absent: a fake tree that lists only L2 / L3 */
        if (!strncmp(type, "Instruction", 11)) continue;
        char buf[16];
        if (!read_text(root, buf, sizeof buf, "devices/system/cpu/cpu%d/cache/index%d/level", c->id,
                       i))
            continue;
        int lv = atoi(buf);
        char rel[128];
        snprintf(rel, sizeof rel, "devices/system/cpu/cpu%d/cache/index%d/shared_cpu_list", c->id,
                 i);
        int first = list_first(root, rel);
        if (lv == 2) c->l2 = first;
        if (lv == 3) c->l3 = first;
    }
}

static axnn_status read_cpu(axnn_pipe_topo *t, const char *root, int cpu, const bool *pcore,
                            const bool *ecore)
{
    axnn_pipe_cpu *c = &t->cpus[t->ncpus];
    c->id = cpu;
    c->package =
        (int)read_long(root, -1, "devices/system/cpu/cpu%d/topology/physical_package_id", cpu);
    c->cluster = (int)read_long(root, -1, "devices/system/cpu/cpu%d/topology/cluster_id", cpu);
    char rel[128];
    snprintf(rel, sizeof rel, "devices/system/cpu/cpu%d/topology/thread_siblings_list", cpu);
    c->smt_first = list_first(root, rel);
    if (c->smt_first < 0) c->smt_first = cpu;
    if (c->smt_first != cpu) t->smt = true;
    c->capacity = (int)read_long(root, 0, "devices/system/cpu/cpu%d/cpu_capacity", cpu);
    c->max_khz = read_long(root, 0, "devices/system/cpu/cpu%d/cpufreq/cpuinfo_max_freq", cpu);
    read_caches(root, c);
    char cls[32];
    cpu_class(root, cpu, pcore, ecore, cls, sizeof cls);
    c->type = type_of(t, cls, c->capacity, c->max_khz);
    if (c->type < 0)
        return axnn_error(AXNN_ERR_UNSUPPORTED, "%s: more than %d core types", root,
                          AXNN_PIPE_MAX_TYPES);
    t->ncpus++;
    return AXNN_OK;
}

/* Groups: (type, package, last-level cache domain). */
static axnn_status make_groups(axnn_pipe_topo *t)
{
    bool any_l3 = false, any_l2 = false;
    for (int i = 0; i < t->ncpus; i++) {
        any_l3 |= t->cpus[i].l3 >= 0;
        any_l2 |= t->cpus[i].l2 >= 0;
    }
    const char *shares = any_l3 ? "L3" : any_l2 ? "L2" : "package";
    int key[AXNN_PIPE_MAX_GROUPS][3];
    t->ngroups = 0;
    for (int i = 0; i < t->ncpus; i++) {
        axnn_pipe_cpu *c = &t->cpus[i];
        int k[3] = {c->type, c->package, any_l3 ? c->l3 : any_l2 ? c->l2 : -1};
        int g = 0;
        while (g < t->ngroups && memcmp(key[g], k, sizeof k)) g++;
        if (g == t->ngroups) {
            if (g == AXNN_PIPE_MAX_GROUPS)
                return axnn_error(AXNN_ERR_UNSUPPORTED, "%s: more than %d core groups", t->root,
                                  AXNN_PIPE_MAX_GROUPS);
            memcpy(key[g], k, sizeof k);
            t->groups[g].type = c->type;
            t->groups[g].n = 0;
            snprintf(t->groups[g].shares, sizeof t->groups[g].shares, "%s", shares);
            t->ngroups++;
        }
        t->groups[g].cpus[t->groups[g].n++] = c->id;
        c->group = g;
    }
    return AXNN_OK;
}

static void read_hybrid(const char *root, bool *pcore, bool *ecore, bool *hybrid)
{
    char buf[4096];
    memset(pcore, 0, MAXC * sizeof *pcore);
    memset(ecore, 0, MAXC * sizeof *ecore);
    *hybrid = false;
    if (read_text(root, buf, sizeof buf, "devices/cpu_core/cpus") &&
        axnn_pipe_cpulist_parse(buf, pcore, MAXC, "devices/cpu_core/cpus") == AXNN_OK)
        *hybrid = true;
    if (read_text(root, buf, sizeof buf, "devices/cpu_atom/cpus") &&
        axnn_pipe_cpulist_parse(buf, ecore, MAXC, "devices/cpu_atom/cpus") != AXNN_OK)
        memset(ecore, 0, MAXC * sizeof *ecore);
}

/* Online and offline CPU sets. */
static axnn_status read_sets(const char *root, bool *online, bool *offline)
{
    char buf[4096], path[600];
    snprintf(path, sizeof path, "%s/devices/system/cpu/online", root);
    if (!read_text(root, buf, sizeof buf, "devices/system/cpu/online"))
        return axnn_error(AXNN_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    axnn_status s = axnn_pipe_cpulist_parse(buf, online, MAXC, path);
    if (s) return s;
    memset(offline, 0, MAXC * sizeof *offline);
    bool possible[MAXC];
    if (read_text(root, buf, sizeof buf, "devices/system/cpu/offline")) {
        if (axnn_pipe_cpulist_parse(buf, offline, MAXC, "offline"))
            memset(offline, 0, MAXC * sizeof *offline);
    } else if (read_text(root, buf, sizeof buf, "devices/system/cpu/possible") &&
               axnn_pipe_cpulist_parse(buf, possible, MAXC, "possible") == AXNN_OK) {
        for (int c = 0; c < MAXC; c++) offline[c] = possible[c] && !online[c];
    }
    for (int c = 0; c < MAXC; c++)
        if (online[c]) offline[c] = false;
    return AXNN_OK;
}

axnn_status axnn_pipe_topo_read(const char *root, axnn_pipe_topo **out)
{
    *out = NULL;
    axnn_pipe_topo *t = calloc(1, sizeof *t);
    bool *sets = malloc(4 * MAXC * sizeof *sets);
    if (!t || !sets) {
        free(t);
        free(sets);
        return axnn_error(AXNN_ERR_NOMEM, "topology: out of memory");
    }
    bool *online = sets, *offline = sets + MAXC, *pcore = sets + 2 * MAXC, *ecore = sets + 3 * MAXC;
    snprintf(t->root, sizeof t->root, "%s", root);
    axnn_status s = read_sets(root, online, offline);
    if (!s) read_hybrid(root, pcore, ecore, &t->hybrid);
    for (int c = 0; c < MAXC && !s; c++) {
        if (offline[c]) t->offline[t->noffline++] = c;
        if (online[c]) s = read_cpu(t, root, c, pcore, ecore);
    }
    if (!s && t->ncpus == 0) s = axnn_error(AXNN_ERR_FORMAT, "%s: no online CPUs", root);
    if (!s) s = make_groups(t);
    free(sets);
    if (s) {
        free(t);
        return s;
    }
    *out = t;
    return AXNN_OK;
}
