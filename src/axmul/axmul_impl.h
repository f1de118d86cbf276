/* Shared pieces of src/axmul (not public). */
#ifndef AXNN_AXMUL_IMPL_H
#define AXNN_AXMUL_IMPL_H

#include "axnn/axmul.h"

#include <stddef.h>

/* Index of (a, b) in a table. */
#define AXMUL_IDX(a, b) (((a) + 128) * 256 + ((b) + 128))

/* A multiplier with a zeroed table, unknown figures (-1) and absent claims (NaN); metrics are
 * left zero for the caller to compute. */
axnn_status axmul_new(const char *name, const char *source, axnn_mul **out);

/* The eight claimable metrics: the header label in EvoApproxLib files ("MAE%"), the metadata
 * key in .axmul files ("mae_pct") and the field's offset in axnn_mul_metrics. */
typedef struct axmul_field {
    const char *label, *key;
    size_t off;
} axmul_field;
#define AXMUL_NFIELDS 8
extern const axmul_field axmul_fields[AXMUL_NFIELDS];
static inline double *axmul_field_ptr(axnn_mul_metrics *m, int i)
{
    return (double *)((char *)m + axmul_fields[i].off);
}
static inline double axmul_field_get(const axnn_mul_metrics *m, int i)
{
    return *(const double *)((const char *)m + axmul_fields[i].off);
}
void axmul_metrics_nan(axnn_mul_metrics *m);
/* Metrics of a table in its natural order: offset order with int8 operands, or unsigned
 * operands a * 256 + b. */
void axmul_metrics_of(const int32_t *table, bool is_unsigned, axnn_mul_metrics *out);
/* Gives m an unsigned table (zeroed); AXNN_ERR_NOMEM on failure. */
axnn_status axmul_make_unsigned(axnn_mul *m);
/* Finishes a multiplier whose table (signed) or utable (unsigned) is filled: derives the signed
 * table of an unsigned multiplier and computes the metrics. */
void axmul_finish(axnn_mul *m);

/* Built-ins. Returns AXNN_OK and *out when `name` is a built-in; AXNN_ERR_ARG with a message
 * when it names a family with a bad parameter ("trunc:99"); and AXNN_ERR_UNSUPPORTED, without
 * touching the error message, when it is no built-in name at all. */
axnn_status axmul_builtin(const char *name, axnn_mul **out);
/* Whether `name` is or looks like a built-in ("exact", "udm", anything with a family prefix). */
bool axmul_is_builtin_name(const char *name);

/* "<dir>/<name>.axmul" into buf; false when it does not fit. */
bool axmul_store_path(const char *name, char *buf, size_t n);

/* ---- EvoApproxLib C import (import_c.c) and its sandbox (sandbox.c) ---- */
#include <sys/types.h>

/* The multiplier function of a C file: its name and operand/result types. */
typedef struct axmul_cfunc {
    char name[128];
    bool in_unsigned, out_unsigned;
    bool wide; /* uint64_t f(uint64_t, uint64_t): EvoApproxLib's other mul8u form */
} axmul_cfunc;

/* Memory a tabulation may allocate beyond the address space it inherits. */
#define AXMUL_SANDBOX_MEM (256 << 20)

/* Tabulates f of the compiled object `so` in a sandboxed child (see sandbox.c): bits[x * 256 +
 * y] = the 16 result bits of f(bits x, bits y) (twos order). `path` names the circuit in
 * messages. */
axnn_status axmul_sandbox_tabulate(const char *path, const char *so, const axmul_cfunc *f,
                                   double limit, uint16_t *bits);

/* While a guard is active, SIGINT, SIGTERM and SIGHUP only set a flag (axmul_guard_interrupted
 * returns the signal, 0 if none); axmul_guard_end restores the previous handlers and re-raises
 * the signal if one came. */
void axmul_guard_begin(void);
int axmul_guard_interrupted(void);
void axmul_guard_end(void);

double axmul_now(void); /* monotonic seconds */
/* SIGKILL to pid's process group and to pid. */
void axmul_kill_group(pid_t pid);
/* Reaps pid, killing its group once `deadline` passes or a guarded signal comes (unless
 * *killed already; *killed says whether it was); kills what is left of the group before
 * reaping. Returns the wait status, -1 on error. */
int axmul_reap(pid_t pid, double deadline, bool *killed);

#endif
