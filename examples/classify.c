/* classify MODEL IMAGES LABELS [MULTIPLIER]: top-1 accuracy of an axnn model on an uncompressed
 * IDX image/label pair (MNIST layout), in float or int8 with MULTIPLIER ("exact", "mitchell",
 * ...; calibrated on the first 64 images). Uses only the public API: <axnn/axnn.h>. */
#include <axnn/axnn.h>

#include <stdio.h>
#include <stdlib.h>

static unsigned char *read_idx(const char *path, int dims, int *n, int *h, int *w)
{
    FILE *f = fopen(path, "rb");
    unsigned char hd[16];
    if (!f || fread(hd, 1, 4 + 4 * dims, f) != (size_t)(4 + 4 * dims)) return NULL;
    *n = hd[4] << 24 | hd[5] << 16 | hd[6] << 8 | hd[7];
    *h = dims > 1 ? hd[11] : 1, *w = dims > 1 ? hd[15] : 1;
    unsigned char *d = malloc((size_t)*n * *h * *w);
    if (d && fread(d, 1, (size_t)*n * *h * *w, f) != (size_t)*n * *h * *w) free(d), d = NULL;
    fclose(f);
    return d;
}

int main(int argc, char **argv)
{
    int n, h, w, nl, one;
    axnn_model *m;
    if (argc < 4) return fprintf(stderr, "usage: classify MODEL IMAGES LABELS [MULTIPLIER]\n"), 2;
    unsigned char *px = read_idx(argv[2], 3, &n, &h, &w), *lab = read_idx(argv[3], 1, &nl, &one, &one);
    if (!px || !lab || nl != n) return fprintf(stderr, "%s: cannot read the IDX pair\n", argv[2]), 1;
    if (axnn_model_open(argv[1], NULL, &m)) return fprintf(stderr, "%s\n", axnn_last_error()), 1;
    size_t per = axnn_model_input_floats(m);
    float *x = malloc((size_t)n * per * sizeof(float));
    int *pred = malloc((size_t)n * sizeof(int)), right = 0;
    for (int i = 0; i < n; i++) axnn_model_preprocess(m, px + (size_t)i * h * w, h, w, AXNN_LAYOUT_CHW, x + i * per);
    if (argc > 4 && (axnn_model_set_multiplier(m, argv[4], NULL) || axnn_model_calibrate(m, x, n < 64 ? n : 64)))
        return fprintf(stderr, "%s\n", axnn_last_error()), 1;
    if (axnn_model_classify(m, x, n, pred)) return fprintf(stderr, "%s\n", axnn_last_error()), 1;
    for (int i = 0; i < n; i++) right += pred[i] == lab[i];
    printf("accuracy %d/%d\n", right, n);
    axnn_model_close(m);
    free(px), free(lab), free(x), free(pred);
    return 0;
}
