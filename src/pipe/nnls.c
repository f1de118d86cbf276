/* Non-negative least squares: min |A x - b| subject to x >= 0, by Lawson and Hanson's active-set
 * method ("Solving Least Squares Problems", 1974, ch. 23). A is m x n row-major with n small
 * (the predictor's few features); each least-squares step on the passive set is a Householder
 * QR solve. Columns are scaled to unit maximum
 * first, so that features of very different magnitudes (MACs ~1e7, a constant 1) compare. */
#include "pipe/nnls.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NMAX PIPE_NNLS_MAX

/* Unconstrained least squares on the passive columns by Householder QR (the normal equations
 * would square the condition number); z = 0 elsewhere. False when a column is dependent. */
static bool ls_passive(const double *A, const double *b, int m, int n, const bool *P, double *z)
{
    int idx[NMAX], k = 0;
    for (int j = 0; j < n; j++)
        if (P[j]) idx[k++] = j;
    if (k > m) return false;
    double *Q = malloc((size_t)m * (k + 1) * sizeof *Q); /* columns of A_P, then b */
    if (!Q) return false;
    for (int i = 0; i < m; i++) {
        for (int p = 0; p < k; p++) Q[(size_t)p * m + i] = A[(size_t)i * n + idx[p]];
        Q[(size_t)k * m + i] = b[i];
    }
    double R[NMAX][NMAX] = {{0}}, qb[NMAX];
    bool ok = true;
    for (int c = 0; c < k && ok; c++) {
        double *v = Q + (size_t)c * m, norm = 0;
        for (int i = c; i < m; i++) norm += v[i] * v[i];
        norm = sqrt(norm);
        if (norm < 1e-300) {
            ok = false;
            break;
        }
        double alpha = v[c] > 0 ? -norm : norm, vnorm2 = 0;
        v[c] -= alpha; /* v = x - alpha e_c, reflect the later columns */
        for (int i = c; i < m; i++) vnorm2 += v[i] * v[i];
        for (int j = c + 1; j <= k; j++) {
            double *u = Q + (size_t)j * m, dot = 0;
            for (int i = c; i < m; i++) dot += v[i] * u[i];
            double f = vnorm2 > 0 ? 2 * dot / vnorm2 : 0;
            for (int i = c; i < m; i++) u[i] -= f * v[i];
        }
        R[c][c] = alpha;
        for (int j = c + 1; j < k; j++) R[c][j] = Q[(size_t)j * m + c];
        qb[c] = Q[(size_t)k * m + c];
        ok = fabs(alpha) > 1e-12 * (fabs(R[0][0]) + 1e-300);
    }
    for (int c = k - 1; c >= 0 && ok; c--) {
        double r = qb[c];
        for (int j = c + 1; j < k; j++) r -= R[c][j] * qb[j];
        qb[c] = r / R[c][c];
    }
    free(Q);
    if (!ok) return false;
    memset(z, 0, (size_t)n * sizeof *z);
    for (int p = 0; p < k; p++) z[idx[p]] = qb[p];
    return true;
}

static void gradient(const double *A, const double *b, int m, int n, const double *x, double *w)
{
    memset(w, 0, (size_t)n * sizeof *w);
    for (int i = 0; i < m; i++) {
        const double *a = A + (size_t)i * n;
        double res = b[i];
        for (int j = 0; j < n; j++) res -= a[j] * x[j];
        for (int j = 0; j < n; j++) w[j] += a[j] * res;
    }
}

bool pipe_nnls(double *A, const double *b, int m, int n, double *x)
{
    if (n < 1 || n > NMAX || m < 1) return false;
    double scale[NMAX];
    for (int j = 0; j < n; j++) {
        scale[j] = 0;
        for (int i = 0; i < m; i++)
            if (fabs(A[(size_t)i * n + j]) > scale[j]) scale[j] = fabs(A[(size_t)i * n + j]);
        if (scale[j] == 0) scale[j] = 1;
        for (int i = 0; i < m; i++) A[(size_t)i * n + j] /= scale[j];
    }
    bool P[NMAX] = {0};
    double w[NMAX], z[NMAX];
    memset(x, 0, (size_t)n * sizeof *x);
    double bn = 0;
    for (int i = 0; i < m; i++) bn += b[i] * b[i];
    double tol = 1e-12 * (sqrt(bn) + 1) * m;
    for (int outer = 0; outer < 3 * n; outer++) {
        gradient(A, b, m, n, x, w);
        int j = -1;
        for (int k = 0; k < n; k++)
            if (!P[k] && w[k] > tol && (j < 0 || w[k] > w[j])) j = k;
        if (j < 0) break;
        P[j] = true;
        for (int inner = 0; inner < 3 * n; inner++) {
            if (!ls_passive(A, b, m, n, P, z)) {
                P[j] = false;
                break;
            }
            double alpha = 2;
            for (int k = 0; k < n; k++)
                if (P[k] && z[k] <= 0) {
                    double a = x[k] / (x[k] - z[k]);
                    if (a < alpha) alpha = a;
                }
            if (alpha > 1) {
                memcpy(x, z, (size_t)n * sizeof *x);
                break;
            }
            for (int k = 0; k < n; k++) {
                x[k] += alpha * (z[k] - x[k]);
                if (P[k] && x[k] <= 1e-15) {
                    P[k] = false;
                    x[k] = 0;
                }
            }
        }
    }
    for (int j = 0; j < n; j++) x[j] = x[j] > 0 ? x[j] / scale[j] : 0;
    return true;
}
