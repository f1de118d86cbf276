/* axnn/onnx.h - reading ONNX models (opsets 11-17) into a plain, validated C representation.
 *
 * axnn_onnx_load parses a .onnx file (protobuf, with the onnx.proto of Debian's libonnx-dev,
 * decoded by protobuf-c) and checks it before anything else sees it:
 *   - every tensor is converted: floating types (float, double, float16, bfloat16) to float,
 *     integer and bool types to int64; from raw_data, the typed fields, or an external-data file
 *     (location relative to the model's folder, never absolute or with "..", offset/length
 *     inside the file); its data must cover its shape exactly;
 *   - dimensions are bounded (AXNN_ONNX_MAX_DIM per dimension, AXNN_ONNX_MAX_NUMEL per tensor);
 *   - nodes are put in topological order; a cycle, an input that nothing defines, or a graph
 *     output that no node produces is an error;
 *   - opset imports: the default domain's version must be in [11, 17];
 *   - unless AXNN_ONNX_ANY_OP is given, every node's op must be one that axnn knows, and every
 *     attribute one that it supports (name and value): the error names node, op and attribute.
 * Errors are one line ("model.onnx: node 'conv1' (Conv): unsupported attribute 'foo'").
 *
 * Graph inputs that are also initializers are dropped from `inputs` (they are parameters).
 * A dimension that the file leaves symbolic (dim_param, e.g. a dynamic batch) reads as -1.
 * axnn_onnx_fix_inputs then fixes those dimensions and folds the shape subgraphs that
 * exporters emit (Shape, Gather, Unsqueeze, Concat, Constant, Cast, Squeeze, Slice, Reshape
 * and integer arithmetic on constants) into initializers, so that Reshape and the like see
 * constant shapes; it infers the shapes of all values of the op set on the way.
 */
#ifndef AXNN_ONNX_H
#define AXNN_ONNX_H

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AXNN_ONNX_MAX_DIMS 8
#define AXNN_ONNX_MAX_DIM ((int64_t)1 << 31)
#define AXNN_ONNX_MAX_NUMEL ((int64_t)1 << 32)

/* ONNX TensorProto.DataType codes (the subset that axnn converts). */
enum {
    AXNN_ONNX_FLOAT = 1,
    AXNN_ONNX_UINT8 = 2,
    AXNN_ONNX_INT8 = 3,
    AXNN_ONNX_UINT16 = 4,
    AXNN_ONNX_INT16 = 5,
    AXNN_ONNX_INT32 = 6,
    AXNN_ONNX_INT64 = 7,
    AXNN_ONNX_STRING = 8,
    AXNN_ONNX_BOOL = 9,
    AXNN_ONNX_FLOAT16 = 10,
    AXNN_ONNX_DOUBLE = 11,
    AXNN_ONNX_UINT32 = 12,
    AXNN_ONNX_UINT64 = 13,
    AXNN_ONNX_BFLOAT16 = 16,
};
/* True for the types stored as float (f), false for those stored as int64 (i). */
bool axnn_onnx_is_float_type(int32_t elem_type);
const char *axnn_onnx_type_name(int32_t elem_type);

/* A tensor: exactly one of f (float types) and i (integer and bool types) is set when
 * numel > 0. A rank-0 tensor (a scalar) has nd = 0 and numel = 1. */
typedef struct axnn_onnx_tensor {
    char *name;
    int32_t elem_type;
    int nd;
    int64_t dims[AXNN_ONNX_MAX_DIMS];
    int64_t numel;
    float *f;
    int64_t *i;
} axnn_onnx_tensor;

typedef enum axnn_onnx_attr_type {
    AXNN_ONNX_ATTR_FLOAT = 1,
    AXNN_ONNX_ATTR_INT = 2,
    AXNN_ONNX_ATTR_STRING = 3,
    AXNN_ONNX_ATTR_TENSOR = 4,
    AXNN_ONNX_ATTR_GRAPH = 5,
    AXNN_ONNX_ATTR_FLOATS = 6,
    AXNN_ONNX_ATTR_INTS = 7,
    AXNN_ONNX_ATTR_STRINGS = 8,
} axnn_onnx_attr_type;

/* An attribute; the fields of its type are set (n counts floats, ints or strings). Graph
 * attributes (If, Loop) are kept by type only. */
typedef struct axnn_onnx_attr {
    char *name;
    axnn_onnx_attr_type type;
    float f;
    int64_t i;
    char *s;
    int n;
    float *floats;
    int64_t *ints;
    char **strings;
    axnn_onnx_tensor *t;
} axnn_onnx_attr;

/* A node. Inputs may be "" (an omitted optional input). */
typedef struct axnn_onnx_node {
    char *name; /* the file's name, or "<op_type>_<index>" when it has none */
    char *op_type;
    char *domain; /* "" is the default domain */
    int ninputs, noutputs, nattrs;
    char **inputs, **outputs;
    axnn_onnx_attr *attrs;
} axnn_onnx_node;

/* A graph input or output: element type and shape; dims[k] = -1 where the file gives a
 * symbolic or no size (then dim_param[k] holds its name, or NULL); nd = -1 for unknown rank. */
typedef struct axnn_onnx_value_info {
    char *name;
    int32_t elem_type;
    int nd;
    int64_t dims[AXNN_ONNX_MAX_DIMS];
    char *dim_param[AXNN_ONNX_MAX_DIMS];
} axnn_onnx_value_info;

typedef struct axnn_onnx_model {
    char *path;
    int64_t ir_version;
    int64_t opset; /* of the default domain */
    char *producer;
    int nnodes, ninits, ninputs, noutputs;
    axnn_onnx_node *nodes; /* topological order */
    axnn_onnx_tensor *inits;
    axnn_onnx_value_info *inputs, *outputs;
    /* Filled by axnn_onnx_fix_inputs: the shape of every value it could infer. */
    int nshapes;
    axnn_onnx_value_info *shapes;
} axnn_onnx_model;

enum {
    AXNN_ONNX_ANY_OP = 1,    /* accept ops and attributes that axnn does not support */
    AXNN_ONNX_ANY_OPSET = 2, /* accept any opset (or none) of the default domain; ONNX's node
                              * tests record the opset where their op last changed (often < 11) */
};

/* Reads and validates path (see above). *out is NULL on failure. */
axnn_status axnn_onnx_load(const char *path, unsigned flags, axnn_onnx_model **out);
/* The same from memory; `dir` is the folder for external data (NULL: none allowed) and `what`
 * names the buffer in messages. */
axnn_status axnn_onnx_load_mem(const void *buf, size_t len, const char *dir, const char *what,
                               unsigned flags, axnn_onnx_model **out);
void axnn_onnx_free(axnn_onnx_model *m);

/* Fixes every dynamic (-1) dimension of the graph inputs to `batch` when it is the first
 * dimension (an error otherwise), infers shapes and folds the shape subgraphs into
 * initializers (the folded nodes are removed). */
axnn_status axnn_onnx_fix_inputs(axnn_onnx_model *m, int64_t batch);

const axnn_onnx_tensor *axnn_onnx_find_init(const axnn_onnx_model *m, const char *name);
const axnn_onnx_attr *axnn_onnx_find_attr(const axnn_onnx_node *n, const char *name);
/* The inferred shape of value `name` after axnn_onnx_fix_inputs (NULL when unknown). */
const axnn_onnx_value_info *axnn_onnx_find_shape(const axnn_onnx_model *m, const char *name);
/* Whether axnn knows op_type (default domain). */
bool axnn_onnx_op_known(const char *op_type);

/* Reads a serialized TensorProto (the input_N.pb / output_N.pb files of ONNX's test data).
 * On success the caller frees it with axnn_onnx_tensor_clear. */
axnn_status axnn_onnx_read_tensor(const char *path, axnn_onnx_tensor *out);
void axnn_onnx_tensor_clear(axnn_onnx_tensor *t);

/* ---- ONNX backend node tests: folders holding model.onnx and test_data_set_N/ ---- */
typedef struct axnn_onnx_case {
    char *name; /* folder name, e.g. "test_conv_with_strides_padding" */
    char *dir;  /* full path */
    int nsets;  /* test_data_set_* folders */
} axnn_onnx_case;

/* Lists the case folders directly under root, sorted by name. */
axnn_status axnn_onnx_list_cases(const char *root, axnn_onnx_case **cases, int *ncases);
void axnn_onnx_free_cases(axnn_onnx_case *cases, int ncases);
/* Reads the tensors of data set `set` of a case: inputs input_0.pb ... and outputs
 * output_0.pb ... in order. Free with axnn_onnx_free_tensors. */
axnn_status axnn_onnx_read_case_set(const axnn_onnx_case *c, int set, axnn_onnx_tensor **in,
                                    int *nin, axnn_onnx_tensor **out, int *nout);
void axnn_onnx_free_tensors(axnn_onnx_tensor *t, int n);

#ifdef __cplusplus
}
#endif
#endif
