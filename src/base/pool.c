/* The thread pool: the only source of parallelism in axnn.
 *
 * A pool of n threads runs one task at a time: axnn_pool_run(fn, arg) calls fn(arg, ith, n) for
 * every ith, with ith 0 on the calling thread, and returns when all have finished. Workers wait
 * for a new generation number: they spin briefly (tasks of a forward pass arrive back to back)
 * and then sleep on a condition variable, so an idle pool costs no CPU. Work is split by the
 * callee from (ith, nth), so a given thread count always gives the same partition and results
 * are deterministic.
 */
#define _GNU_SOURCE
#include "axnn/base.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

/* Waiters spin this many pauses (~30 us) before they sleep. Long spins cost little on an idle
 * machine but a lot on one shared with other jobs, where the spinning thread holds the CPU
 * that the thread it waits for needs (20000 pauses made inference 2.8 times slower there). */
#define SPIN_PAUSES 2000

struct axnn_pool {
    int n;
    pthread_t *threads;
    struct worker_arg *args;
    axnn_task_fn fn;
    void *arg;
    uint64_t gen;     /* atomic */
    int pending;      /* atomic: workers still running the current task */
    int stop;         /* atomic */
    int sleepers;     /* under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv_start, cv_done;
};

struct worker_arg {
    axnn_pool *p;
    int ith;
    int cpu;
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void pin_to(int cpu)
{
    if (cpu < 0) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

/* Step i of a busy wait: a pause; false when the waiter should sleep instead. */
static bool backoff(int i)
{
    if (i >= SPIN_PAUSES) return false;
    cpu_relax();
    return true;
}

static uint64_t wait_generation(axnn_pool *p, uint64_t seen)
{
    for (int i = 0;; i++) {
        uint64_t g = __atomic_load_n(&p->gen, __ATOMIC_ACQUIRE);
        if (g != seen || __atomic_load_n(&p->stop, __ATOMIC_ACQUIRE)) return g;
        if (!backoff(i)) break;
    }
    pthread_mutex_lock(&p->mu);
    while (__atomic_load_n(&p->gen, __ATOMIC_ACQUIRE) == seen &&
           !__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE)) {
        p->sleepers++;
        pthread_cond_wait(&p->cv_start, &p->mu);
        p->sleepers--;
    }
    pthread_mutex_unlock(&p->mu);
    return __atomic_load_n(&p->gen, __ATOMIC_ACQUIRE);
}

static void *worker_main(void *v)
{
    struct worker_arg *wa = v;
    axnn_pool *p = wa->p;
    pin_to(wa->cpu);
    uint64_t seen = 0;
    for (;;) {
        seen = wait_generation(p, seen);
        if (__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE)) break;
        p->fn(p->arg, wa->ith, p->n);
        if (__atomic_sub_fetch(&p->pending, 1, __ATOMIC_ACQ_REL) == 0) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_broadcast(&p->cv_done);
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}

axnn_pool *axnn_pool_create(int nthreads, const int *cpus)
{
    if (nthreads < 1) nthreads = 1;
    axnn_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n = nthreads;
    p->threads = calloc((size_t)nthreads, sizeof *p->threads);
    p->args = calloc((size_t)nthreads, sizeof *p->args);
    if (!p->threads || !p->args) {
        free(p->threads);
        free(p->args);
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv_start, NULL);
    pthread_cond_init(&p->cv_done, NULL);
    for (int i = 1; i < nthreads; i++) {
        p->args[i] = (struct worker_arg){p, i, cpus ? cpus[i] : -1};
        if (pthread_create(&p->threads[i], NULL, worker_main, &p->args[i])) {
            p->n = i; /* run with the threads we got */
            break;
        }
    }
    return p;
}

void axnn_pool_destroy(axnn_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    __atomic_store_n(&p->stop, 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&p->cv_start);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv_start);
    pthread_cond_destroy(&p->cv_done);
    free(p->threads);
    free(p->args);
    free(p);
}

int axnn_pool_size(const axnn_pool *p) { return p ? p->n : 1; }

void axnn_pool_run(axnn_pool *p, axnn_task_fn fn, void *arg)
{
    if (!p || p->n == 1) {
        fn(arg, 0, 1);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    __atomic_store_n(&p->pending, p->n - 1, __ATOMIC_RELEASE);
    __atomic_add_fetch(&p->gen, 1, __ATOMIC_ACQ_REL);
    pthread_mutex_lock(&p->mu);
    if (p->sleepers) pthread_cond_broadcast(&p->cv_start);
    pthread_mutex_unlock(&p->mu);

    fn(arg, 0, p->n);

    for (int i = 0;; i++) {
        if (__atomic_load_n(&p->pending, __ATOMIC_ACQUIRE) == 0) return;
        if (!backoff(i)) break;
    }
    pthread_mutex_lock(&p->mu);
    while (__atomic_load_n(&p->pending, __ATOMIC_ACQUIRE) != 0) pthread_cond_wait(&p->cv_done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

void axnn_split(int64_t n, int ith, int nth, int64_t *lo, int64_t *hi)
{
    int64_t q = n / nth, r = n % nth;
    *lo = ith * q + (ith < r ? ith : r);
    *hi = *lo + q + (ith < r ? 1 : 0);
}

int axnn_default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}
