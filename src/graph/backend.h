/* The backend seam: where a plan's memory lives and who runs a node.
 *
 * A plan asks its backend for every arena it lays out and hands every node to it to run. The
 * CPU backend (backend_cpu.c) is plain host memory and the op's own forward/backward on the
 * pool the caller passes in. A GPU backend (a later issue) implements the same table: memory on
 * the device, copies between host and device for a plan's inputs and outputs, `supports` to say
 * which ops it has kernels for (a planner can then split the graph at unsupported nodes, as a
 * cut, and run those parts on the CPU), and `compute` to run a node where its tensors live.
 * The shape follows ggml's ggml_backend_i. */
#ifndef AXNN_GRAPH_BACKEND_H
#define AXNN_GRAPH_BACKEND_H

#include "graph/op.h"

typedef enum axnn_copy_dir { AXNN_COPY_TO_DEVICE, AXNN_COPY_TO_HOST } axnn_copy_dir;

typedef struct axnn_backend {
    const char *name;
    void *(*alloc)(size_t bytes); /* NULL on failure; 64-byte aligned */
    void (*free)(void *ptr);
    void (*copy)(void *dst, const void *src, size_t bytes, axnn_copy_dir dir);
    bool (*supports)(const axnn_node *nd);
    void (*forward)(axnn_exec *e, axnn_node *nd);
    void (*backward)(axnn_exec *e, axnn_node *nd);
} axnn_backend;

const axnn_backend *axnn_backend_cpu(void);

#endif
