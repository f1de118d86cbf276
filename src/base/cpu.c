/* CPU feature detection, once. The OS must also have enabled the register state (XGETBV), or
 * the instructions fault even though CPUID lists them. AXNN_FORCE_REF=1 turns every SIMD path
 * off; AXNN_ISA=portable|avx2|avx512 caps the level (for tests and benchmarks; both read by
 * settings.c). */
#include "axnn/base.h"

#include <cpuid.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>

static axnn_cpu cpu;
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;

static uint64_t xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static void detect(axnn_cpu *c)
{
    memset(c, 0, sizeof *c);
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, cx, d;
    if (!__get_cpuid(1, &a, &b, &cx, &d)) return;
    bool osxsave = cx & (1u << 27);
    bool fma = cx & (1u << 12);
    if (!osxsave) return;
    uint64_t xcr0 = xgetbv0();
    bool ymm_ok = (xcr0 & 6) == 6;
    bool zmm_ok = (xcr0 & 0xe6) == 0xe6;
    if (!__get_cpuid_count(7, 0, &a, &b, &cx, &d)) return;
    c->fma = fma && ymm_ok;
    c->avx2 = ymm_ok && (b & (1u << 5));
    c->avx512f = zmm_ok && (b & (1u << 16));
    c->avx512bw = c->avx512f && (b & (1u << 30));
    c->avx512vl = c->avx512f && (b & (1u << 31));
    c->avx512vbmi = c->avx512f && (cx & (1u << 1));
    c->avx512vnni = c->avx512f && (cx & (1u << 11));
    if (__get_cpuid_count(7, 1, &a, &b, &cx, &d)) c->avxvnni = ymm_ok && (a & (1u << 4));
#endif
}

static void init_cpu(void)
{
    axnn_cpu c;
    detect(&c);
    const axnn_settings *s = axnn_settings_get();
    if (s->force_ref || s->isa_cap == 1) memset(&c, 0, sizeof c);
    if (s->isa_cap == 2) c.avx512f = c.avx512bw = c.avx512vl = c.avx512vbmi = c.avx512vnni = false;
    cpu = c;
}

/* Detected once (thread-safe); every kernel family's table is a function of these features. */
const axnn_cpu *axnn_cpu_features(void)
{
    pthread_once(&cpu_once, init_cpu);
    return &cpu;
}

const char *axnn_cpu_isa_name(void)
{
    const axnn_cpu *c = axnn_cpu_features();
    if (c->avx512f && c->avx512bw && c->avx512vl) return "avx512";
    if (c->avx2 && c->fma) return "avx2";
    return "portable";
}
