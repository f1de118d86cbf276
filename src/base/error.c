/* Status strings and the per-thread error message. */
#include "axnn/base.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char last_error[1024];

const char *axnn_status_str(axnn_status s)
{
    switch (s) {
    case AXNN_OK: return "ok";
    case AXNN_ERR_IO: return "i/o error";
    case AXNN_ERR_FORMAT: return "bad format";
    case AXNN_ERR_SHAPE: return "shape mismatch";
    case AXNN_ERR_ARG: return "bad argument";
    case AXNN_ERR_NOMEM: return "out of memory";
    case AXNN_ERR_UNSUPPORTED: return "unsupported";
    case AXNN_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

axnn_status axnn_error(axnn_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return s;
}

const char *axnn_last_error(void) { return last_error; }
void axnn_clear_error(void) { last_error[0] = 0; }
