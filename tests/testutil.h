/* Shared helpers for the test suites. */
#ifndef AXNN_TESTUTIL_H
#define AXNN_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "axnn/axnn.h"

/* Path of a committed golden file: $AXNN_TEST_DATA/name. */
const char *tu_data_path(const char *name);
/* A fresh temporary directory (removed by tu_rmtree). */
char *tu_tmpdir(void);
void tu_rmtree(const char *dir);
void tu_write_file(const char *path, const void *data, size_t len);
/* Max relative error |a-b| / max(|b|, floor) over n values. */
double tu_max_rel_err(const float *a, const float *b, int64_t n, double floor);
void tu_fill_uniform(float *x, int64_t n, float lo, float hi, axnn_rng *r);

#endif
