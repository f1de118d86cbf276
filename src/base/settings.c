/* The environment overrides of the engine, read in one place, once (thread-safe), at the first
 * call that needs one. They are for measurements, tests and debugging; a normal run sets none.
 *
 *   AXNN_FORCE_REF=1        every kernel family runs its scalar reference (cpu.c masks the ISA)
 *   AXNN_ISA=portable|avx2|avx512   caps the instruction set
 *   AXNN_PROFILE=1          per-node times of every forward / backward (graph/exec.c)
 *   AXNN_NO_FUSE=1          eval-mode chains unfused (graph/fuse.c)
 *   AXNN_MICRO_BATCH=N      inference micro-batch (0: whole batches; graph/plan.c)
 *   AXNN_WINOGRAD=0         no Winograd convolution (kernels/conv/winograd.c)
 *   AXNN_CONV_PATH=direct|packed    forces a convolution path (kernels/conv/conv.c)
 */
#include "axnn/base.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static axnn_settings settings;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static bool flag_on(const char *name)
{
    const char *s = getenv(name);
    return s && s[0] && strcmp(s, "0");
}

static void read_env(void)
{
    axnn_settings *s = &settings;
    s->force_ref = flag_on("AXNN_FORCE_REF");
    const char *isa = getenv("AXNN_ISA");
    s->isa_cap = !isa ? 0 : !strcmp(isa, "portable") ? 1 : !strcmp(isa, "avx2") ? 2 : 0;
    s->profile = flag_on("AXNN_PROFILE");
    s->no_fuse = flag_on("AXNN_NO_FUSE");
    const char *mb = getenv("AXNN_MICRO_BATCH");
    s->micro_batch = mb ? atoi(mb) : -1;
    const char *w = getenv("AXNN_WINOGRAD");
    s->winograd = !(w && !strcmp(w, "0"));
    const char *cp = getenv("AXNN_CONV_PATH");
    s->conv_path = cp && !strcmp(cp, "direct") ? 1 : cp && !strcmp(cp, "packed") ? 2 : 0;
}

const axnn_settings *axnn_settings_get(void)
{
    pthread_once(&once, read_env);
    return &settings;
}
