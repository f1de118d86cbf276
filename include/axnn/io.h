/* axnn/io.h - safetensors files, and checkpoints of graphs in that format.
 *
 * safetensors: 8-byte little-endian header length, a JSON header mapping tensor names to
 * {"dtype", "shape", "data_offsets": [begin, end]} (offsets into the byte buffer that follows),
 * plus an optional "__metadata__" object of string values. Readers check every field: JSON
 * syntax, dtype names, shapes against byte lengths, offsets inside the file, overlaps.
 * Writers write a temporary file in the same folder, fsync it and rename it over the target, so
 * a crash never leaves a half-written file.
 *
 * Integrity: every file axnn writes carries metadata "axnn_crc32", eight hex digits holding the
 * zlib CRC-32 of the whole file as it would read with those eight digits replaced by '0'. The
 * reader verifies it when present (any flipped byte, header or data, is reported as a corrupt
 * file), and requires it when metadata 'format' starts with "axnn-" (so damage to the key
 * itself cannot hide the rest); files from other writers (PyTorch exports) have none and load
 * as before.
 */
#ifndef AXNN_IO_H
#define AXNN_IO_H

#include "graph.h"

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum axnn_st_dtype {
    AXNN_ST_F32, AXNN_ST_F16, AXNN_ST_BF16, AXNN_ST_F64,
    AXNN_ST_I64, AXNN_ST_I32, AXNN_ST_I16, AXNN_ST_I8, AXNN_ST_U8, AXNN_ST_BOOL,
} axnn_st_dtype;
const char *axnn_st_dtype_name(axnn_st_dtype t);
size_t axnn_st_dtype_size(axnn_st_dtype t);

typedef struct axnn_st_tensor {
    char *name;
    axnn_st_dtype dtype;
    int nd;
    int64_t shape[8];
    const void *data; /* into the file's buffer; may be unaligned */
    size_t nbytes;
} axnn_st_tensor;

typedef struct axnn_st_file {
    char *path;
    axnn_st_tensor *tensors;
    int ntensors;
    char **meta_keys, **meta_vals;
    int nmeta;
    uint8_t *buf; /* whole file */
    size_t size;
} axnn_st_file;

/* Reads a regular file (a folder, device or FIFO is refused at once) and checks it. */
axnn_status axnn_st_read(const char *path, axnn_st_file **out);
/* Checks in one pass that every float tensor (F32, F16, BF16, F64) holds only finite values
 * (F64 also within float range) and that tensors named "*running_var" (BatchNorm running
 * variances) hold none below zero. The error names the file, the tensor and the first bad
 * element. axnn_graph_load_weights calls it. */
axnn_status axnn_st_check_finite(const axnn_st_file *f);
void axnn_st_close(axnn_st_file *f);
const axnn_st_tensor *axnn_st_find(const axnn_st_file *f, const char *name);
const char *axnn_st_meta(const axnn_st_file *f, const char *key); /* NULL when absent */
/* Copies tensor t into dst as float32 (converting F16/BF16/F64/integers/BOOL); dst holds
 * t->nbytes / axnn_st_dtype_size(t->dtype) elements. */
void axnn_st_to_f32(const axnn_st_tensor *t, float *dst);
/* Whether t is one of the integer dtypes I64, I32, I16, I8, U8 (not BOOL). */
bool axnn_st_is_integer(axnn_st_dtype t);
/* Copies tensor t into dst as int64 (integers widen exactly, floats truncate toward zero,
 * saturating at the int64 range; NaN becomes 0). */
void axnn_st_to_i64(const axnn_st_tensor *t, int64_t *dst);

typedef struct axnn_st_writer axnn_st_writer;
axnn_st_writer *axnn_st_writer_new(void);
void axnn_st_writer_free(axnn_st_writer *w);
/* `data` is not copied: it must stay valid until axnn_st_writer_write. */
axnn_status axnn_st_writer_add(axnn_st_writer *w, const char *name, axnn_st_dtype dt, int nd,
                               const int64_t *shape, const void *data);
axnn_status axnn_st_writer_meta(axnn_st_writer *w, const char *key, const char *value);
/* Writes the tensors sorted by name, packed, with the header space-padded to a multiple of 8
 * bytes and the metadata under "__metadata__"; atomically (see axnn_write_file_atomic). */
axnn_status axnn_st_writer_write(axnn_st_writer *w, const char *path);

/* ---- graphs <-> safetensors (tensor names are the values' names, PyTorch state_dict keys) ---- */
/* Checks f with axnn_st_check_finite, then copies every PARAM and BUFFER of g from f (converting dtypes to the value's dtype: F32, F16,
 * BF16 and F64 into float values, integer dtypes into integer values; anything else, e.g. BOOL
 * into a float, is AXNN_ERR_FORMAT). With `strict`, a tensor of g missing from f, or a tensor of
 * f that g lacks, is an error (AXNN_ERR_FORMAT); a shape mismatch is always an error
 * (AXNN_ERR_SHAPE). Everything is checked before anything is copied, so on error g is
 * unchanged. Errors name the file and the tensor. */
axnn_status axnn_graph_load_weights(axnn_graph *g, const axnn_st_file *f, bool strict);
/* Adds every PARAM and BUFFER of g to w (the writer keeps pointers into g). */
axnn_status axnn_graph_add_weights(axnn_st_writer *w, const axnn_graph *g);

/* ---- opening inputs, checking outputs (file.c) ---- */
/* Opens path for reading if it is a regular file: a folder, device, FIFO or socket is refused
 * without blocking ("<path>: is a FIFO, not a regular file"). Gives the descriptor (close it)
 * and the size. */
axnn_status axnn_open_regular(const char *path, int *fd, uint64_t *size);
/* The same as a stdio stream opened "rb". */
axnn_status axnn_fopen_regular(const char *path, FILE **fp, uint64_t *size);
/* Only checks (stat) that path is a regular file, and gives its size. */
axnn_status axnn_check_regular(const char *path, uint64_t *size);
/* Reads a whole regular file of at most `max` bytes into a malloc'ed buffer (NUL-terminated
 * one byte past len). */
axnn_status axnn_read_regular(const char *path, uint64_t max, uint8_t **buf, size_t *len);
/* Before work starts: whether folder dir exists or can be created and is writable (a file, a
 * path under a file, a read-only folder are errors). `what` names it in the message, e.g.
 * "--out". */
axnn_status axnn_check_out_dir(const char *dir, const char *what);
/* Whether a file can be written at path: if it exists it must be a regular file, and its
 * folder must pass axnn_check_out_dir. */
axnn_status axnn_check_out_file(const char *path, const char *what);

/* Atomically writes `len` bytes to path (temporary file, fsync, rename). */
axnn_status axnn_write_file_atomic(const char *path, const void *data, size_t len);
/* The same for the concatenation of nparts buffers (no copy into one buffer). */
axnn_status axnn_write_file_atomic_parts(const char *path, const void *const *parts,
                                         const size_t *lens, int nparts);

#ifdef __cplusplus
}
#endif
#endif
