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

/* Built-ins. Returns AXNN_OK and *out when `name` is a built-in; AXNN_ERR_ARG with a message
 * when it names a family with a bad parameter ("trunc:99"); and AXNN_ERR_UNSUPPORTED, without
 * touching the error message, when it is no built-in name at all. */
axnn_status axmul_builtin(const char *name, axnn_mul **out);
/* Whether `name` is or looks like a built-in ("exact", "udm", anything with a family prefix). */
bool axmul_is_builtin_name(const char *name);

/* "<dir>/<name>.axmul" into buf; false when it does not fit. */
bool axmul_store_path(const char *name, char *buf, size_t n);

#endif
