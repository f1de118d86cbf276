/* Internals of the ONNX reader shared by its files (src/onnx): tensor conversion from the
 * protobuf-c structs, the op table, topological sorting, and shape folding. */
#ifndef AXNN_ONNX_INTERNAL_H
#define AXNN_ONNX_INTERNAL_H

#include "axnn/onnx.h"

#include <onnx/onnx.pb-c.h>

/* Converts t into out (owned copies). `dir` is the folder for external data (NULL: external
 * data is an error); `what` names the file for messages. */
axnn_status axnn_onnx_convert_tensor(const Onnx__TensorProto *t, const char *dir, const char *what,
                                     axnn_onnx_tensor *out);
/* Checks a shape and returns its element count in *numel; `ctx` names the tensor. */
axnn_status axnn_onnx_check_dims(const int64_t *dims, size_t nd, const char *what, const char *ctx,
                                 int64_t *numel);
/* Reads a whole file into a new buffer. */
axnn_status axnn_onnx_slurp(const char *path, uint8_t **buf, size_t *len);
char *axnn_onnx_strdup(const char *s);
void axnn_onnx_node_clear(axnn_onnx_node *n);

/* A string -> int map (open addressing; keys are borrowed, never removed). */
typedef struct axnn_onnx_smap {
    const char **keys;
    int *vals;
    size_t cap;
} axnn_onnx_smap;
bool axnn_onnx_smap_init(axnn_onnx_smap *m, size_t n); /* room for n keys */
void axnn_onnx_smap_free(axnn_onnx_smap *m);
int axnn_onnx_smap_get(const axnn_onnx_smap *m, const char *key); /* -1 when absent */
void axnn_onnx_smap_put(axnn_onnx_smap *m, const char *key, int v);

/* Checks node's op and attributes against the table of ops axnn supports. */
axnn_status axnn_onnx_check_node(const axnn_onnx_model *m, const axnn_onnx_node *n);
/* Orders m->nodes topologically; cycles, undefined inputs and unproduced outputs are errors. */
axnn_status axnn_onnx_toposort(axnn_onnx_model *m);

#endif
