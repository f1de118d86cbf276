/* IDX files: MNIST and Fashion-MNIST.
 *
 * An IDX file is a big-endian header followed by raw data. The header starts with a 4-byte magic
 * number: two zero bytes, a type byte (0x08 = unsigned byte) and the number of dimensions. Then
 * come one 32-bit big-endian size per dimension, and the data in row-major order. MNIST images
 * are magic 0x00000803 (n, rows, cols) and labels 0x00000801 (n). The files are usually shipped
 * gzip-compressed; zlib's gzread passes an uncompressed file through unchanged, so one code path
 * reads both.
 *
 * We trust nothing in the header: the magic and dimension count must match, every size must be
 * positive and reasonable, the data must be exactly as long as announced (a truncated file or a
 * file with trailing bytes is an error), and the image and label files must agree on n.
 */
#include "axnn/data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define IDX_MAGIC_IMAGES 0x00000803u
#define IDX_MAGIC_LABELS 0x00000801u
#define IDX_MAX_DIM 100000000u /* any single size above this is a corrupt header */
#define GZ_CHUNK (1u << 30)

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reads exactly len bytes; false on a short read or a gzip error. */
static bool gz_read_exact(gzFile f, void *buf, size_t len)
{
    unsigned char *p = buf;
    while (len > 0) {
        unsigned part = len > GZ_CHUNK ? GZ_CHUNK : (unsigned)len;
        int got = gzread(f, p, part);
        if (got <= 0) return false;
        p += got;
        len -= (size_t)got;
    }
    return true;
}

static bool gz_at_end(gzFile f)
{
    unsigned char extra;
    return gzread(f, &extra, 1) == 0;
}

/* Opens `path` and reads its header: magic and `ndims` sizes into dims. */
static axnn_status idx_open(const char *path, uint32_t magic, int ndims, uint32_t *dims,
                            gzFile *out)
{
    gzFile f = gzopen(path, "rb");
    if (!f) return axnn_error(AXNN_ERR_IO, "cannot open %s", path);
    unsigned char hdr[16];
    if (!gz_read_exact(f, hdr, 4 + 4 * (size_t)ndims)) {
        gzclose(f);
        return axnn_error(AXNN_ERR_FORMAT, "%s: truncated IDX header", path);
    }
    if (be32(hdr) != magic) {
        gzclose(f);
        return axnn_error(AXNN_ERR_FORMAT, "%s: bad IDX magic 0x%08x (expected 0x%08x)", path,
                          be32(hdr), magic);
    }
    for (int i = 0; i < ndims; i++) {
        dims[i] = be32(hdr + 4 + 4 * i);
        if (dims[i] == 0 || dims[i] > IDX_MAX_DIM) {
            gzclose(f);
            return axnn_error(AXNN_ERR_FORMAT, "%s: bad IDX size %u in dimension %d", path, dims[i],
                              i);
        }
    }
    *out = f;
    return AXNN_OK;
}

/* Reads the data part (len bytes) into buf and checks that nothing follows. */
static axnn_status idx_body(gzFile f, const char *path, void *buf, size_t len)
{
    if (!gz_read_exact(f, buf, len))
        return axnn_error(AXNN_ERR_FORMAT, "%s: truncated IDX file (expected %zu data bytes)", path,
                          len);
    if (!gz_at_end(f))
        return axnn_error(AXNN_ERR_FORMAT, "%s: trailing bytes after %zu data bytes", path, len);
    return AXNN_OK;
}

static axnn_status read_images(const char *path, axnn_dataset *out)
{
    uint32_t dims[3];
    gzFile f;
    axnn_status st = idx_open(path, IDX_MAGIC_IMAGES, 3, dims, &f);
    if (st) return st;
    if ((uint64_t)dims[1] * dims[2] > (1u << 24)) {
        gzclose(f);
        return axnn_error(AXNN_ERR_FORMAT, "%s: image size %ux%u too large", path, dims[1],
                          dims[2]);
    }
    st = axnn_dataset_alloc(out, "", dims[0], 1, (int)dims[1], (int)dims[2], 0);
    if (!st) st = idx_body(f, path, out->images, (size_t)dims[0] * dims[1] * dims[2]);
    gzclose(f);
    return st;
}

/* Reads the labels into d->labels (d->n of them) and sets num_classes = max + 1. */
static axnn_status read_labels(const char *path, axnn_dataset *d)
{
    uint32_t n;
    gzFile f;
    axnn_status st = idx_open(path, IDX_MAGIC_LABELS, 1, &n, &f);
    if (st) return st;
    uint8_t *raw = NULL;
    if (n != d->n)
        st = axnn_error(AXNN_ERR_FORMAT, "%s: %u labels but the image file holds %lld images", path,
                        n, (long long)d->n);
    else if (!(raw = malloc(n)))
        st = axnn_error(AXNN_ERR_NOMEM, "out of memory reading %s", path);
    else
        st = idx_body(f, path, raw, n);
    gzclose(f);
    int maxl = 0;
    for (uint32_t i = 0; !st && i < n; i++) {
        d->labels[i] = raw[i];
        if (raw[i] > maxl) maxl = raw[i];
    }
    d->num_classes = maxl + 1;
    free(raw);
    return st;
}

axnn_status axnn_idx_load(const char *images_path, const char *labels_path, axnn_dataset *out)
{
    memset(out, 0, sizeof *out);
    axnn_status st = read_images(images_path, out);
    if (!st) st = read_labels(labels_path, out);
    if (st) axnn_dataset_free(out);
    return st;
}

/* Finds dir/base or dir/base.gz; false when neither exists. */
static bool find_idx(const char *dir, const char *base, char *path, size_t cap)
{
    const char *suffix[] = {"", ".gz"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, cap, "%s/%s%s", dir, base, suffix[i]);
        FILE *f = fopen(path, "rb");
        if (f) {
            fclose(f);
            return true;
        }
    }
    return false;
}

axnn_status axnn_mnist_dir_load(const char *dir, bool train, axnn_dataset *out)
{
    memset(out, 0, sizeof *out);
    const char *prefix = train ? "train" : "t10k";
    char base[64], img[4096], lab[4096];
    snprintf(base, sizeof base, "%s-images-idx3-ubyte", prefix);
    if (!find_idx(dir, base, img, sizeof img))
        return axnn_error(AXNN_ERR_IO, "%s/%s[.gz] not found", dir, base);
    snprintf(base, sizeof base, "%s-labels-idx1-ubyte", prefix);
    if (!find_idx(dir, base, lab, sizeof lab))
        return axnn_error(AXNN_ERR_IO, "%s/%s[.gz] not found", dir, base);
    axnn_status st = axnn_idx_load(img, lab, out);
    if (st) return st;
    if (out->num_classes > 10) {
        axnn_dataset_free(out);
        return axnn_error(AXNN_ERR_FORMAT, "%s: label above 9 in an MNIST-style file", lab);
    }
    out->num_classes = 10;
    snprintf(out->name, sizeof out->name, "mnist");
    return AXNN_OK;
}
