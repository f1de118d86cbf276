/* Plain log lines on stderr, filtered by level (AXNN_LOG environment variable). */
#include "axnn/base.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int log_level = -1;

void axnn_log_set_level(axnn_log_level lvl) { log_level = (int)lvl; }

static int current_level(void)
{
    if (log_level < 0) {
        const char *e = getenv("AXNN_LOG");
        log_level = AXNN_LOG_INFO;
        if (e && !strcmp(e, "debug")) log_level = AXNN_LOG_DEBUG;
        if (e && !strcmp(e, "warn")) log_level = AXNN_LOG_WARN;
        if (e && !strcmp(e, "quiet")) log_level = AXNN_LOG_QUIET;
    }
    return log_level;
}

void axnn_log(axnn_log_level lvl, const char *fmt, ...)
{
    if ((int)lvl < current_level()) return;
    va_list ap;
    va_start(ap, fmt);
    if (lvl == AXNN_LOG_WARN) fputs("warning: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}
