/* Non-negative least squares (src/pipe/nnls.c). */
#ifndef AXNN_PIPE_NNLS_H
#define AXNN_PIPE_NNLS_H

#include <stdbool.h>

#define PIPE_NNLS_MAX 12

/* min |A x - b|, x >= 0; A (m x n, row-major, n <= PIPE_NNLS_MAX) is scaled in place. False on
 * bad sizes. */
bool pipe_nnls(double *A, const double *b, int m, int n, double *x);

#endif
