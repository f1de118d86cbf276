/* axnn/axmul.h - 8-bit approximate multipliers: tables, metadata, error metrics, sources.
 *
 * A multiplier is a total function int8 x int8 -> int32, stored as a 256 x 256 table
 * T[(a + 128) * 256 + (b + 128)] = approx(a, b). By convention `a` is the activation operand
 * and `b` the weight operand (the table need not be symmetric).
 *
 * Names resolve in this order:
 *   "exact";
 *   built-in parametric families: "trunc:K" (K low columns of the Baugh-Wooley partial-product
 *   array dropped), "bam:H,V" (broken-array multiplier: H rows / V columns broken), "drum:K"
 *   (dynamic-range unbiased multiplier keeping K bits), "mitchell" (logarithmic), and the other
 *   families listed by axnn_mul_families();
 *   a file NAME.axmul in the user multiplier directory ($AXNN_MUL_PATH, default
 *   $XDG_DATA_HOME/axnn/multipliers or ~/.local/share/axnn/multipliers), written by
 *   `axnn mul import`;
 *   a path to a .axmul file.
 */
#ifndef AXNN_AXMUL_H
#define AXNN_AXMUL_H

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AXNN_MUL_ENTRIES 65536

/* EvoApproxLib's error metrics, over all 65,536 operand pairs, e = approx - exact. */
typedef struct axnn_mul_metrics {
    double mae, mae_pct;   /* mean |e|; as % of 2^16 */
    double wce, wce_pct;   /* max |e|; as % of 2^16 */
    double wcre_pct;       /* max |e| / max(1, |exact|), in % */
    double mre_pct;        /* mean |e| / max(1, |exact|), in % */
    double ep_pct;         /* % of pairs with e != 0 */
    double mse;            /* mean e^2 */
    double bias;           /* mean e */
    double std;            /* standard deviation of e */
} axnn_mul_metrics;

typedef struct axnn_mul {
    char name[128];
    char source[256];   /* "exact", "built-in trunc:4", "EvoApproxLib C file mul8s_1KV9.c", ... */
    double power_mw, area_um2, delay_ns; /* PDK45 figures, < 0 when unknown */
    bool power_estimated; /* power_mw is an estimate (built-in families), not a synthesis figure */
    axnn_mul_metrics metrics;       /* computed from the table */
    axnn_mul_metrics claimed;       /* from the source file's header (NaN when absent) */
    int32_t *table;     /* AXNN_MUL_ENTRIES */
} axnn_mul;

static inline int32_t axnn_mul_at(const axnn_mul *m, int a, int b)
{
    return m->table[(a + 128) * 256 + (b + 128)];
}

/* Resolves a name (see above). */
axnn_status axnn_mul_get(const char *name, axnn_mul **out);
void axnn_mul_free(axnn_mul *m);
/* Builds a multiplier from a table (copied); computes its metrics. */
axnn_status axnn_mul_from_table(const char *name, const char *source, const int32_t *table,
                                axnn_mul **out);
void axnn_mul_compute_metrics(const int32_t *table, axnn_mul_metrics *out);
bool axnn_mul_is_exact(const axnn_mul *m);

/* The user multiplier directory (created on demand by import). */
const char *axnn_mul_dir(void);
/* Names of the built-in multipliers and of the imported ones (NULL-terminated; free with
 * axnn_mul_names_free). */
char **axnn_mul_list(void);
void axnn_mul_names_free(char **names);
/* Built-in family descriptions, e.g. "trunc:K  truncated Baugh-Wooley array, K = 1..14". */
const char *const *axnn_mul_families(void);

/* .axmul files (a safetensors file: tensor "table" I32 [256, 256] plus metadata). */
axnn_status axnn_mul_save(const axnn_mul *m, const char *path);
axnn_status axnn_mul_load(const char *path, axnn_mul **out);

/* EvoApproxLib C import: compiles `c_path` with the system C compiler into a temporary shared
 * object, finds the multiplier function (int16_t f(int8_t, int8_t) or uint16_t f(uint8_t,
 * uint8_t), the latter read as two's-complement bits), tabulates all pairs in a child process
 * under a time limit, and reads the metrics and PDK45 figures from the header comment. */
axnn_status axnn_mul_import_c(const char *c_path, double timeout_s, axnn_mul **out);
/* Raw tables: binary little-endian int16 [256][256] in the same indexing, or CSV (256 lines of
 * 256 integers). */
axnn_status axnn_mul_import_raw(const char *path, const char *name, axnn_mul **out);
axnn_status axnn_mul_export_raw(const axnn_mul *m, const char *path); /* by extension: .bin/.csv */

/* ---- decomposition: E(a, b) = T(a, b) - a*b as an exact sum of separable integer terms ----
 * E(a, b) = sum_i f_i(a) * g_i(b) for all 65,536 pairs, with integer-valued f_i, g_i. */
#define AXNN_MUL_MAX_RANK 8
typedef struct axnn_mul_decomp {
    int rank;                      /* 0 for the exact multiplier */
    int16_t f[AXNN_MUL_MAX_RANK][256]; /* f_i(a), index a + 128 */
    int16_t g[AXNN_MUL_MAX_RANK][256]; /* g_i(b), index b + 128 */
    int f_min[AXNN_MUL_MAX_RANK], f_max[AXNN_MUL_MAX_RANK]; /* value ranges */
    int g_min[AXNN_MUL_MAX_RANK], g_max[AXNN_MUL_MAX_RANK];
} axnn_mul_decomp;

/* Finds an exact integer decomposition of rank <= max_rank, verified over all pairs;
 * AXNN_ERR_UNSUPPORTED when none is found. */
axnn_status axnn_mul_decompose(const axnn_mul *m, int max_rank, axnn_mul_decomp *out);
/* True when the decomposition reproduces the table exactly for all pairs. */
bool axnn_mul_decomp_verify(const axnn_mul *m, const axnn_mul_decomp *d);

#ifdef __cplusplus
}
#endif
#endif
