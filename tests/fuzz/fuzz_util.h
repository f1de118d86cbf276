/* Helpers shared by the libFuzzer targets: the readers under test take paths, so each input is
 * written to files in a private scratch folder ($TMPDIR or /tmp, axnn-fuzz-<pid>), which is
 * removed at exit. Inputs that hold several files are cut at a separator line. */
#ifndef AXNN_FUZZ_UTIL_H
#define AXNN_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* The scratch folder (created on first use). */
const char *fuzz_dir(void);
/* Writes len bytes to <fuzz_dir>/<name> (replacing it) and returns that path (static buffer
 * per call slot: slot 0..7). Aborts on a write error: the harness itself must not fail. */
const char *fuzz_write(int slot, const char *name, const void *data, size_t len);
/* Makes the folder <fuzz_dir>/<name> (and parents). */
const char *fuzz_mkdir(int slot, const char *name);
/* Splits data at the first occurrence of sep; the part after it goes to *rest (NULL when sep is
 * absent, in which case *head_len is len). */
void fuzz_split(const uint8_t *data, size_t len, const char *sep, size_t *head_len,
                const uint8_t **rest, size_t *rest_len);

#endif
