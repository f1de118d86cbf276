/* ONNX backend node tests on disk (Debian's libonnx-testdata): each case is a folder holding
 * model.onnx and test_data_set_0/, test_data_set_1/ ..., each set holding input_0.pb ... and
 * output_0.pb ... (serialized TensorProtos). This file lists the cases and reads their sets;
 * what runs them is the caller's (tests/test_onnx_node.c). */
#include "onnx/onnx-internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int count_sets(const char *dir)
{
    char p[4096];
    int n = 0;
    for (;; n++) {
        snprintf(p, sizeof p, "%s/test_data_set_%d", dir, n);
        struct stat st;
        if (stat(p, &st) || !S_ISDIR(st.st_mode)) return n;
    }
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const axnn_onnx_case *)a)->name, ((const axnn_onnx_case *)b)->name);
}

axnn_status axnn_onnx_list_cases(const char *root, axnn_onnx_case **cases, int *ncases)
{
    *cases = NULL;
    *ncases = 0;
    DIR *d = opendir(root);
    if (!d) return axnn_error(AXNN_ERR_IO, "%s: %s", root, strerror(errno));
    int cap = 0, n = 0;
    axnn_onnx_case *c = NULL;
    axnn_status s = AXNN_OK;
    struct dirent *e;
    char p[4096];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(p, sizeof p, "%s/%s/model.onnx", root, e->d_name);
        if (!is_file(p)) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            axnn_onnx_case *nc = realloc(c, (size_t)cap * sizeof *c);
            if (!nc) {
                s = axnn_error(AXNN_ERR_NOMEM, "%s: out of memory", root);
                break;
            }
            c = nc;
        }
        snprintf(p, sizeof p, "%s/%s", root, e->d_name);
        c[n].name = axnn_onnx_strdup(e->d_name);
        c[n].dir = axnn_onnx_strdup(p);
        c[n].nsets = count_sets(p);
        n++;
        if (!c[n - 1].name || !c[n - 1].dir) {
            s = axnn_error(AXNN_ERR_NOMEM, "%s: out of memory", root);
            break;
        }
    }
    closedir(d);
    if (s) {
        axnn_onnx_free_cases(c, n);
        return s;
    }
    if (n) qsort(c, (size_t)n, sizeof *c, by_name);
    *cases = c;
    *ncases = n;
    return AXNN_OK;
}

void axnn_onnx_free_cases(axnn_onnx_case *cases, int ncases)
{
    for (int k = 0; cases && k < ncases; k++) {
        free(cases[k].name);
        free(cases[k].dir);
    }
    free(cases);
}

/* Reads <dir>/<prefix>_0.pb, _1.pb ... until one is missing. */
static axnn_status read_series(const char *dir, const char *prefix, axnn_onnx_tensor **out, int *n)
{
    *out = NULL;
    *n = 0;
    char p[4096];
    int count = 0;
    for (;; count++) {
        snprintf(p, sizeof p, "%s/%s_%d.pb", dir, prefix, count);
        if (!is_file(p)) break;
    }
    axnn_onnx_tensor *t = calloc((size_t)count + 1, sizeof *t);
    if (!t) return axnn_error(AXNN_ERR_NOMEM, "%s: out of memory", dir);
    for (int k = 0; k < count; k++) {
        snprintf(p, sizeof p, "%s/%s_%d.pb", dir, prefix, k);
        axnn_status s = axnn_onnx_read_tensor(p, &t[k]);
        if (s) {
            axnn_onnx_free_tensors(t, k);
            return s;
        }
    }
    *out = t;
    *n = count;
    return AXNN_OK;
}

axnn_status axnn_onnx_read_case_set(const axnn_onnx_case *c, int set, axnn_onnx_tensor **in,
                                    int *nin, axnn_onnx_tensor **out, int *nout)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/test_data_set_%d", c->dir, set);
    axnn_status s = read_series(dir, "input", in, nin);
    if (s) return s;
    s = read_series(dir, "output", out, nout);
    if (s) {
        axnn_onnx_free_tensors(*in, *nin);
        *in = NULL;
        *nin = 0;
    }
    return s;
}
