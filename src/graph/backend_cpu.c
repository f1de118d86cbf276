/* The CPU backend (see backend.h): host memory, the op's own functions, the caller's pool. */
#include "graph/backend.h"

#include <string.h>

static void cpu_copy(void *dst, const void *src, size_t bytes, axnn_copy_dir dir)
{
    (void)dir;
    memcpy(dst, src, bytes);
}

static bool cpu_supports(const axnn_node *nd) { return nd->op->forward != NULL; }

static void cpu_forward(axnn_exec *e, axnn_node *nd) { nd->op->forward(e, nd); }

static void cpu_backward(axnn_exec *e, axnn_node *nd)
{
    nd->op->backward(e, nd);
    if (nd->ext_ops && nd->ext_ops->backward) nd->ext_ops->backward(e, nd);
}

static const axnn_backend cpu = {
    .name = "cpu",
    .alloc = axnn_alloc,
    .free = axnn_free,
    .copy = cpu_copy,
    .supports = cpu_supports,
    .forward = cpu_forward,
    .backward = cpu_backward,
};

const axnn_backend *axnn_backend_cpu(void) { return &cpu; }
