/* axnn/axmul.h - 8-bit approximate multipliers: tables, metadata, error metrics, sources.
 *
 * A multiplier is a total function int8 x int8 -> int32, stored as a 256 x 256 table
 * T[(a + 128) * 256 + (b + 128)] = approx(a, b). By convention `a` is the activation operand
 * and `b` the weight operand (the table need not be symmetric).
 *
 * Names resolve in this order (axnn_mul_get):
 *   1. "exact";
 *   2. the built-in families, signed 8-bit (two's complement) multipliers implemented from their
 *      published definitions (src/axmul/builtin.c states each convention exactly):
 *        "trunc:K"   Baugh-Wooley array with every partial product of the K lowest columns
 *                    dropped, K = 0..15 (trunc:0 = exact); a dropped partial product removes
 *                    its signed weight, so 0 * x = 0 (identical to the plain array for K <= 7);
 *        "bam:H,V"   broken-array multiplier (Mahdiani et al. 2010): the partial products of
 *                    the H lowest rows (row j = the bits b_j of the weight operand b, H = 0..8)
 *                    and of the V lowest columns (V = 0..15) are omitted;
 *        "drum:K"    DRUM (Hashemi et al. 2015), sign-magnitude, K = 3..8 bits kept;
 *        "mitchell"  Mitchell's logarithmic multiplier on magnitudes;
 *        "udm"       Kulkarni et al.'s underdesigned multiplier (2x2 blocks with 3*3 = 7) on
 *                    magnitudes;
 *      axnn_mul_families() lists them with one-line descriptions;
 *   3. a file NAME.axmul in the user multiplier directory (axnn_mul_dir(): $AXNN_MUL_PATH,
 *      else $XDG_DATA_HOME/axnn/multipliers, else $HOME/.local/share/axnn/multipliers),
 *      written by `axnn mul import` / axnn_mul_store;
 *   4. a path to a .axmul file (a name containing '/' or ending in ".axmul"; not ".c").
 * Anything else is AXNN_ERR_ARG, with a message saying how to import it.
 *
 * Built-ins have no synthesis figures. Their power_mw is a documented estimate (power_estimated
 * = true): a cell-count model relative to EvoApproxLib's exact signed 8x8 multiplier in PDK45
 * (0.425 mW, 729.8 um2, 1.48 ns; those three figures are given for "exact", labelled as that
 * reference in its source string). See builtin.c for each family's model.
 *
 * Errors follow base.h: a status plus a one-line message naming the file or multiplier.
 * Functions are thread-safe except axnn_mul_dir (static buffer).
 */
#ifndef AXNN_AXMUL_H
#define AXNN_AXMUL_H

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AXNN_MUL_ENTRIES 65536

/* EvoApproxLib's error metrics (src/axmul/metrics.c), e = approx - exact: over all 65,536
 * operand pairs, except WCRE and MRE, which are over the pairs whose exact product is non-zero.
 * Operands are int8 for signed multipliers and uint8 for unsigned ones. */
typedef struct axnn_mul_metrics {
    double mae, mae_pct; /* mean |e|; as % of 2^16 */
    double wce, wce_pct; /* max |e|; as % of 2^16 */
    double wcre_pct;     /* max |e| / |exact| over exact != 0, in % */
    double mre_pct;      /* mean |e| / |exact| over exact != 0, in % */
    double ep_pct;       /* % of pairs with e != 0 */
    double mse;          /* mean e^2 */
    double bias;         /* mean e (not in EvoApproxLib's headers) */
    double std;          /* standard deviation of e (population; not in the headers) */
} axnn_mul_metrics;

typedef struct axnn_mul {
    char name[128];
    char source[256]; /* "exact", "built-in trunc:4", "EvoApproxLib C file mul8s_1KV9.c", ... */
    double power_mw, area_um2, delay_ns; /* PDK45 figures, < 0 when unknown */
    bool power_estimated; /* power_mw is an estimate (built-in families), not a synthesis figure */
    axnn_mul_metrics metrics; /* computed from the table */
    axnn_mul_metrics claimed; /* from the source file's header (NaN when absent) */
    /* One unit in the last printed digit of each claimed value ("4.2" -> 0.1, "34" -> 1), NaN
     * when absent: the precision at which a claim is checked (axnn_mul_check_claims). */
    axnn_mul_metrics claimed_unit;
    int32_t *table; /* AXNN_MUL_ENTRIES, signed operands: what inference uses */
    /* Unsigned multipliers (uint8 x uint8 -> uint16, e.g. EvoApproxLib's mul8u): utable[a * 256
     * + b] for a, b = 0..255, NULL for signed ones. `table` is then derived by sign-magnitude,
     * T(a, b) = sgn(a) sgn(b) U(|a|, |b|), and `metrics` are those of utable (unsigned operands,
     * as the EvoApproxLib header states them). */
    int32_t *utable;
    /* Loaded from a .axmul file without a checksum (written before axnn-multiplier-2). */
    bool unverified;
} axnn_mul;

static inline int32_t axnn_mul_at(const axnn_mul *m, int a, int b)
{
    return m->table[(a + 128) * 256 + (b + 128)];
}

/* Resolves a name (see above). */
axnn_status axnn_mul_get(const char *name, axnn_mul **out);
void axnn_mul_free(axnn_mul *m);
/* Builds a multiplier from a table (copied); computes its metrics. Power, area and delay are
 * unknown (-1) and claims absent (NaN) until the caller sets them. */
axnn_status axnn_mul_from_table(const char *name, const char *source, const int32_t *table,
                                axnn_mul **out);
void axnn_mul_compute_metrics(const int32_t *table, axnn_mul_metrics *out);
/* The same metrics for an unsigned table utable[a * 256 + b], a, b = 0..255. */
void axnn_mul_compute_metrics_unsigned(const int32_t *utable, axnn_mul_metrics *out);
/* Builds an unsigned multiplier from utable (copied): derives the signed table, computes the
 * metrics of utable. */
axnn_status axnn_mul_from_unsigned(const char *name, const char *source, const int32_t *utable,
                                   axnn_mul **out);
bool axnn_mul_is_exact(const axnn_mul *m);

/* Compares each claimed metric with the computed one at the claim's printed precision: with u
 * one unit of the claim's last printed digit, they agree when computed - claimed lies in
 * [-u/2, u), so a header that truncates ("MAE% = 0.0064" for 0.00648) or rounds ("MAE = 4.2"
 * for 4.25, "MRE% = 0.90" for 0.8954) agrees, and "WCE = 17" accepts 17 but not 16 or 18. Returns
 * the number of disagreeing metrics; *ncompared (may be NULL) gets the number of claims compared.
 * msg (may be NULL) gets "" or "MAE: header 3.1, computed 4.25; ...". */
int axnn_mul_check_claims(const axnn_mul *m, int *ncompared, char *msg, size_t msg_size);

/* The user multiplier directory (created on demand by import); a static buffer. */
const char *axnn_mul_dir(void);
/* Names of the fixed built-in multipliers ("exact", "mitchell", "udm") followed by the imported
 * ones (NAME of each NAME.axmul in axnn_mul_dir(), sorted); NULL-terminated, free with
 * axnn_mul_names_free. NULL when out of memory. */
char **axnn_mul_list(void);
void axnn_mul_names_free(char **names);
/* Built-in family descriptions, e.g. "trunc:K  truncated Baugh-Wooley array, K = 0..15";
 * NULL-terminated. */
const char *const *axnn_mul_families(void);
/* Whether `name` is acceptable for a stored multiplier: 1..100 characters of [A-Za-z0-9_.+-],
 * not starting with '.', not ending in ".axmul", and not a built-in name. */
bool axnn_mul_name_ok(const char *name);

/* .axmul files: a safetensors file with tensor "table" I32 [256, 256] (offset order), for
 * unsigned multipliers also "utable" I32 [256, 256] (a * 256 + b), and string metadata: format
 * "axnn-multiplier-2", name, source, signedness ("signed"/"unsigned"), power_mw,
 * power_estimated ("true"/"false"), area_um2, delay_ns, per claimed metric claimed_<key> and
 * claimed_<key>_unit, and crc32: zlib's CRC-32 (8 hex digits) of the tensor data followed by
 * "key=value\n" for every other metadata key in sorted order. Load verifies the checksum (a
 * mismatch is AXNN_ERR_FORMAT naming the file), rejects non-finite numbers, and recomputes the
 * metrics. Files of format "axnn-multiplier-1" (no checksum) still load, with `unverified` set
 * and a warning logged. */
axnn_status axnn_mul_save(const axnn_mul *m, const char *path);
axnn_status axnn_mul_load(const char *path, axnn_mul **out);
/* Saves m as <axnn_mul_dir()>/<m->name>.axmul (creating the directory; the name must pass
 * axnn_mul_name_ok); `path` (may be NULL) gets the file written. Replaces an existing file:
 * callers that must not, check axnn_mul_stored first. */
axnn_status axnn_mul_store(const axnn_mul *m, char *path, size_t path_size);
/* Whether a multiplier NAME.axmul exists in axnn_mul_dir(); `path` (may be NULL) gets its path. */
bool axnn_mul_stored(const char *name, char *path, size_t path_size);

/* EvoApproxLib C import: compiles `c_path` with the system C compiler ($CC, else "cc") into a
 * temporary shared object and tabulates it in a sandboxed child process (src/axmul/sandbox.c:
 * seccomp filter entered before the object is loaded, rlimits, own process group, deadline of
 * timeout_s seconds, 10 when timeout_s <= 0). The function must be int16_t f(int8_t, int8_t) or
 * uint16_t f(uint8_t, uint8_t) (const allowed; exactly two operands); when several are
 * defined, the one named like the file's stem, else the first. `signedness` says how to read
 * it: AXNN_MUL_SIGNEDNESS_AUTO (EvoApproxLib's naming: mulNu_* unsigned, mulNs_* signed;
 * other names: uint64_t operands unsigned, int8_t signed, uint8_t operands two's-complement
 * bits of a signed multiplier, as some mul8s files are written), _SIGNED or _UNSIGNED.
 * uint64_t NAME(const uint64_t, const uint64_t), the form of most mul8u files, is accepted too. A
 * circuit that does not compile, crashes, hangs, calls a forbidden system call (files, processes,
 * signals) or exceeds its memory gives a one-line error naming the file; the temporary folder is
 * removed on every path, also when the caller gets SIGINT, SIGTERM or SIGHUP meanwhile (the
 * handlers are replaced during the call, then the signal is re-raised with the caller's
 * disposition). The name is the function's; the header comment's metrics go to
 * `claimed`/`claimed_unit` and its PDK45 figures to power/area/delay. */
typedef enum {
    AXNN_MUL_SIGNEDNESS_AUTO,
    AXNN_MUL_SIGNEDNESS_SIGNED,
    AXNN_MUL_SIGNEDNESS_UNSIGNED
} axnn_mul_signedness;
axnn_status axnn_mul_import_c(const char *c_path, double timeout_s, axnn_mul_signedness signedness,
                              axnn_mul **out);

/* Raw tables. Formats by extension: .bin (little-endian 16-bit values, exactly 131072 bytes:
 * int16 for signed tables, uint16 for unsigned ones), .csv (256 lines of 256 comma-separated
 * integers, one line per a) and, for export only, .h (a C header: `static const int16_t
 * T[256][256]`, uint16_t for unsigned, indexed as the order says). Signed tables come in two
 * orders: AXNN_MUL_ORDER_OFFSET, index (a + 128) * 256 + (b + 128) (axnn's own; row a = -128
 * first), or AXNN_MUL_ORDER_TWOS, index (uint8_t)a * 256 + (uint8_t)b (EvoApproxLib-style dumps;
 * row a = 0 first, a = -1 last). Unsigned tables have one order, a * 256 + b. Export of a
 * value that does not fit the 16-bit type fails (use .csv or .axmul); export as unsigned needs
 * an unsigned multiplier. */
typedef enum { AXNN_MUL_ORDER_OFFSET, AXNN_MUL_ORDER_TWOS } axnn_mul_order;
typedef struct axnn_mul_raw_format {
    axnn_mul_order order; /* signed tables only */
    bool is_unsigned;
} axnn_mul_raw_format; /* {0} = signed, offset order: the default */
axnn_status axnn_mul_import_raw(const char *path, const char *name, const axnn_mul_raw_format *fmt,
                                axnn_mul **out);
axnn_status axnn_mul_export_raw(const axnn_mul *m, const char *path,
                                const axnn_mul_raw_format *fmt);

/* ---- decomposition: E(a, b) = T(a, b) - a*b as an exact sum of separable integer terms ----
 * E(a, b) = sum_i f_i(a) * g_i(b) for all 65,536 pairs, with integer-valued f_i, g_i.
 * Among the candidates found (bits of a, bits of b, and integer bases of E's row and column
 * lattices; see src/axmul/decomp.c) one whose f_i and g_i all fit int8 wins, then the lowest
 * rank, then the smallest value ranges. For trunc:K (K <= 7) that is rank K with f_i(a) = bit i
 * of a (two's complement) and g_i(b) in [-(2^K - 2^i), 0]. */
#define AXNN_MUL_MAX_RANK 16
typedef struct axnn_mul_decomp {
    int rank;                                               /* 0 for the exact multiplier */
    int16_t f[AXNN_MUL_MAX_RANK][256];                      /* f_i(a), index a + 128 */
    int16_t g[AXNN_MUL_MAX_RANK][256];                      /* g_i(b), index b + 128 */
    int f_min[AXNN_MUL_MAX_RANK], f_max[AXNN_MUL_MAX_RANK]; /* value ranges */
    int g_min[AXNN_MUL_MAX_RANK], g_max[AXNN_MUL_MAX_RANK];
    char method[32]; /* "bits of a", "bits of b", "row lattice", "column lattice" */
} axnn_mul_decomp;

/* Finds an exact integer decomposition of rank <= max_rank (1..AXNN_MUL_MAX_RANK), verified
 * over all pairs; AXNN_ERR_UNSUPPORTED (message giving the rank) when none is found. */
axnn_status axnn_mul_decompose(const axnn_mul *m, int max_rank, axnn_mul_decomp *out);
/* True when the decomposition reproduces the table exactly for all pairs. */
bool axnn_mul_decomp_verify(const axnn_mul *m, const axnn_mul_decomp *d);
/* Rank of the error matrix E over the rationals (computed modulo two large primes; the larger
 * result, a lower bound that equals the rank except with negligible probability). */
int axnn_mul_error_rank(const axnn_mul *m);

#ifdef __cplusplus
}
#endif
#endif
