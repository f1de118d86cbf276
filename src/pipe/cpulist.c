/* CPU lists in the sysfs syntax: comma-separated CPUs and inclusive ranges, "0-3,8,10-11". */
#include "axnn/pipe.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads a decimal CPU number at *p; -1 when there is none or it is out of range. */
static long read_cpu(const char **p, int max)
{
    if (!isdigit((unsigned char)**p)) return -1;
    char *end;
    long v = strtol(*p, &end, 10);
    *p = end;
    return v < max ? v : -1;
}

axnn_status axnn_pipe_cpulist_parse(const char *s, bool *set, int max, const char *what)
{
    memset(set, 0, (size_t)max * sizeof *set);
    const char *p = s;
    while (*p == ' ') p++;
    if (*p == '\n' || !*p) return AXNN_OK; /* an empty list */
    for (;;) {
        long a = read_cpu(&p, max), b = a;
        if (a >= 0 && *p == '-') {
            p++;
            b = read_cpu(&p, max);
        }
        if (a < 0 || b < a)
            return axnn_error(AXNN_ERR_FORMAT, "%s: bad CPU list '%.40s' (CPUs 0-%d)", what, s,
                              max - 1);
        for (long c = a; c <= b; c++) set[c] = true;
        if (*p != ',') break;
        p++;
    }
    while (*p == ' ' || *p == '\n') p++;
    if (*p)
        return axnn_error(AXNN_ERR_FORMAT, "%s: bad CPU list '%.40s' (CPUs 0-%d)", what, s,
                          max - 1);
    return AXNN_OK;
}

char *axnn_pipe_cpulist_str(const int *cpus, int n, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = 0;
    for (int i = 0; i < n && at < len;) {
        int j = i;
        while (j + 1 < n && cpus[j + 1] == cpus[j] + 1) j++;
        int w = j > i ? snprintf(buf + at, len - at, "%s%d-%d", i ? "," : "", cpus[i], cpus[j])
                      : snprintf(buf + at, len - at, "%s%d", i ? "," : "", cpus[i]);
        if (w < 0) break;
        at += (size_t)w;
        i = j + 1;
    }
    return buf;
}
