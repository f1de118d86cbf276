/* axnn/base.h - status codes, errors, random numbers, thread pool, CPU features, timing.
 *
 * Every public call that can fail returns an axnn_status. On failure it also leaves a one-line,
 * human-readable message (naming the file, flag or tensor involved) that axnn_last_error()
 * returns; the message belongs to the calling thread. Only the CLI prints and exits.
 */
#ifndef AXNN_BASE_H
#define AXNN_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum axnn_status {
    AXNN_OK = 0,
    AXNN_ERR_IO,          /* file missing, unreadable, write failed */
    AXNN_ERR_FORMAT,      /* file contents do not follow their format */
    AXNN_ERR_SHAPE,       /* tensor shapes do not fit together */
    AXNN_ERR_ARG,         /* bad argument or flag value */
    AXNN_ERR_NOMEM,       /* allocation failed */
    AXNN_ERR_UNSUPPORTED, /* valid request that axnn does not implement */
    AXNN_ERR_INTERNAL,
} axnn_status;

const char *axnn_status_str(axnn_status s);

/* Records the calling thread's error message (printf format) and returns `s`. */
axnn_status axnn_error(axnn_status s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The calling thread's last error message ("" when none). */
const char *axnn_last_error(void);
void axnn_clear_error(void);

/* ---- logging: plain lines on stderr, with a level filter (AXNN_LOG=debug|info|warn|quiet) ---- */
typedef enum { AXNN_LOG_DEBUG, AXNN_LOG_INFO, AXNN_LOG_WARN, AXNN_LOG_QUIET } axnn_log_level;
void axnn_log_set_level(axnn_log_level lvl);
void axnn_log(axnn_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- random numbers: xoshiro256** seeded by splitmix64; one generator per use, never global ---- */
typedef struct axnn_rng {
    uint64_t s[4];
} axnn_rng;
void axnn_rng_seed(axnn_rng *r, uint64_t seed);
uint64_t axnn_rng_u64(axnn_rng *r);
uint32_t axnn_rng_below(axnn_rng *r, uint32_t n); /* uniform in [0, n) */
float axnn_rng_uniform(axnn_rng *r);              /* uniform in [0, 1) */
float axnn_rng_normal(axnn_rng *r);               /* standard normal (Box-Muller) */

/* ---- CPU features, read once at start-up ---- */
typedef struct axnn_cpu {
    bool avx2, fma, avx512f, avx512bw, avx512vl, avx512vbmi, avx512vnni, avxvnni;
} axnn_cpu;
/* Features of this CPU, masked by AXNN_FORCE_REF=1 (all off) and AXNN_ISA=portable|avx2|avx512. */
const axnn_cpu *axnn_cpu_features(void);
const char *axnn_cpu_isa_name(void); /* "avx512", "avx2" or "portable" */

/* The environment overrides (src/base/settings.c lists them), read once. */
typedef struct axnn_settings {
    bool force_ref;  /* AXNN_FORCE_REF */
    int isa_cap;     /* AXNN_ISA: 0 none, 1 portable, 2 avx2 */
    bool profile;    /* AXNN_PROFILE */
    bool no_fuse;    /* AXNN_NO_FUSE */
    int micro_batch; /* AXNN_MICRO_BATCH, -1 unset */
    bool winograd;   /* AXNN_WINOGRAD (default on) */
    int conv_path;   /* AXNN_CONV_PATH: 0 auto, 1 direct, 2 packed */
} axnn_settings;
const axnn_settings *axnn_settings_get(void);

/* ---- thread pool: the only source of parallelism ----
 * axnn_pool_run calls fn(arg, ith, nth) once for each ith in [0, nth) and returns when all are
 * done; ith 0 runs on the calling thread. Work is split by (ith, nth), as in ggml. */
typedef struct axnn_pool axnn_pool;
typedef void (*axnn_task_fn)(void *arg, int ith, int nth);
/* `cpus` (may be NULL) pins thread i to cpus[i]. */
axnn_pool *axnn_pool_create(int nthreads, const int *cpus);
void axnn_pool_destroy(axnn_pool *p);
int axnn_pool_size(const axnn_pool *p);
void axnn_pool_run(axnn_pool *p, axnn_task_fn fn, void *arg);
/* Splits [0, n) into nth contiguous parts; part ith is [*lo, *hi). */
void axnn_split(int64_t n, int ith, int nth, int64_t *lo, int64_t *hi);
int axnn_default_threads(void); /* online CPUs */

/* ---- progress: a bar with ETA and throughput on a terminal, plain lines in a log ---- */
typedef struct axnn_progress axnn_progress;
/* out: where to draw (NULL = nothing is shown). A terminal gets a redrawn bar; anything else
 * gets a plain line at most every `log_every` seconds and at the end. */
axnn_progress *axnn_progress_new(FILE *out, double log_every);
void axnn_progress_free(axnn_progress *p);
void axnn_progress_begin(axnn_progress *p, const char *label, int64_t total, const char *unit);
/* done units so far; extra: a short status ("loss 0.43") or NULL. */
void axnn_progress_update(axnn_progress *p, int64_t done, const char *extra);
void axnn_progress_end(axnn_progress *p, const char *summary);

/* ---- time ---- */
double axnn_now(void); /* monotonic seconds */

/* ---- aligned memory (64-byte) ---- */
void *axnn_alloc(size_t bytes);  /* NULL on failure; contents undefined */
void *axnn_calloc(size_t bytes); /* zeroed */
void axnn_free(void *p);

#ifdef __cplusplus
}
#endif
#endif
