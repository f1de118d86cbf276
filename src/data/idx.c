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
 * file with trailing bytes is an error), and the image and label files must agree on n. Before
 * allocating, the announced size is checked against the file size (for a gzip file, against
 * the most that deflate's ratio lets it hold). Only regular files are read (see io.h), and a
 * zlib failure is reported as corrupt gzip data, not as a short IDX file.
 */
#include "axnn/data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "axnn/io.h"

#define IDX_MAGIC_IMAGES 0x00000803u
#define IDX_MAGIC_LABELS 0x00000801u
#define IDX_MAX_DIM 100000000u /* any single size above this is a corrupt header */
#define GZ_CHUNK (1u << 30)

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* An open IDX file: its stream, and what the file size allows before anything is allocated. */
typedef struct idx_file {
    gzFile gz;
    const char *path;
    bool gzipped;
    uint64_t file_size;
} idx_file;

/* deflate compresses at most about 1032:1, so a gzip file of S bytes inflates to at most
 * 1032 * S (+ a little for the smallest streams). */
#define GZ_MAX_RATIO 1032u

static uint64_t max_payload(const idx_file *f)
{
    return f->gzipped ? f->file_size * GZ_MAX_RATIO + 1024 : f->file_size;
}

/* zlib's message without the "<fd:N>: " that gzdopen streams put in front. */
static const char *gz_msg(gzFile gz)
{
    int code;
    const char *m = gzerror(gz, &code);
    if (!m || !*m) return "read error";
    const char *c = m[0] == '<' ? strstr(m, ">: ") : NULL;
    return c ? c + 3 : m;
}

/* Reads exactly len bytes. A short read is `what` truncated; a zlib error is reported as
 * corrupt gzip data with zlib's own message. */
static axnn_status read_exact(idx_file *f, void *buf, size_t len, const char *what)
{
    unsigned char *p = buf;
    size_t want = len;
    while (len > 0) {
        unsigned part = len > GZ_CHUNK ? GZ_CHUNK : (unsigned)len;
        int got = gzread(f->gz, p, part);
        int code = Z_OK;
        if (got <= 0) gzerror(f->gz, &code);
        if (f->gzipped && code == Z_BUF_ERROR) /* the compressed stream itself ends early */
            return axnn_error(AXNN_ERR_FORMAT, "%s: truncated gzip stream (%s)", f->path,
                              gz_msg(f->gz));
        if (got < 0 || (got == 0 && code != Z_OK))
            return axnn_error(AXNN_ERR_FORMAT, "%s: corrupt gzip data (%s)", f->path,
                              gz_msg(f->gz));
        if (got == 0) {
            return axnn_error(AXNN_ERR_FORMAT, "%s: truncated IDX %s (%zu of %zu bytes)", f->path,
                              what, want - len, want);
        }
        p += got;
        len -= (size_t)got;
    }
    return AXNN_OK;
}

static axnn_status at_end(idx_file *f, size_t len)
{
    unsigned char extra;
    int got = gzread(f->gz, &extra, 1);
    if (got < 0)
        return axnn_error(AXNN_ERR_FORMAT, "%s: corrupt gzip data (%s)", f->path, gz_msg(f->gz));
    if (got > 0)
        return axnn_error(AXNN_ERR_FORMAT, "%s: trailing bytes after %zu data bytes", f->path, len);
    return AXNN_OK;
}

/* Opens `path` (a regular file only) and reads its header: magic and `ndims` sizes into dims.
 * A raw file's size must equal header + product of dims; a gzip file's must be able to hold it. */
static axnn_status idx_open(const char *path, uint32_t magic, int ndims, uint32_t *dims,
                            idx_file *f)
{
    int fd;
    memset(f, 0, sizeof *f);
    f->path = path;
    axnn_status st = axnn_open_regular(path, &fd, &f->file_size);
    if (st) return st;
    unsigned char sig[2] = {0, 0};
    f->gzipped = pread(fd, sig, 2, 0) == 2 && sig[0] == 0x1f && sig[1] == 0x8b;
    if (!(f->gz = gzdopen(fd, "rb"))) {
        close(fd);
        return axnn_error(AXNN_ERR_NOMEM, "%s: cannot open (out of memory)", path);
    }
    unsigned char hdr[16];
    const size_t hlen = 4 + 4 * (size_t)ndims;
    st = read_exact(f, hdr, hlen, "header");
    if (!st && be32(hdr) != magic)
        st = axnn_error(AXNN_ERR_FORMAT, "%s: bad IDX magic 0x%08x (expected 0x%08x)", path,
                        be32(hdr), magic);
    uint64_t total = 1;
    for (int i = 0; !st && i < ndims; i++) {
        dims[i] = be32(hdr + 4 + 4 * i);
        if (dims[i] == 0 || dims[i] > IDX_MAX_DIM)
            st = axnn_error(AXNN_ERR_FORMAT, "%s: bad IDX size %u in dimension %d", path, dims[i],
                            i);
        else if (__builtin_mul_overflow(total, dims[i], &total))
            total = UINT64_MAX;
    }
    if (!st && (total > UINT64_MAX - hlen || total + hlen > max_payload(f))) {
        if (f->gzipped)
            st = axnn_error(AXNN_ERR_FORMAT,
                            "%s: header announces %llu data bytes, more than a gzip file of %llu "
                            "bytes can hold",
                            path, (unsigned long long)total, (unsigned long long)f->file_size);
        else
            st = axnn_error(AXNN_ERR_FORMAT,
                            "%s: header announces %llu data bytes, the file holds %llu after the "
                            "%zu-byte header (truncated?)",
                            path, (unsigned long long)total,
                            (unsigned long long)(f->file_size - hlen), hlen);
    }
    if (st) {
        gzclose(f->gz);
        f->gz = NULL;
    }
    return st;
}

/* Reads the data part (len bytes) into buf and checks that nothing follows. */
static axnn_status idx_body(idx_file *f, void *buf, size_t len)
{
    axnn_status st = read_exact(f, buf, len, "data");
    return st ? st : at_end(f, len);
}

static axnn_status read_images(const char *path, axnn_dataset *out)
{
    uint32_t dims[3];
    idx_file f;
    axnn_status st = idx_open(path, IDX_MAGIC_IMAGES, 3, dims, &f);
    if (st) return st;
    if ((uint64_t)dims[1] * dims[2] > (1u << 24)) {
        gzclose(f.gz);
        return axnn_error(AXNN_ERR_FORMAT, "%s: image size %ux%u too large", path, dims[1],
                          dims[2]);
    }
    st = axnn_dataset_alloc(out, "", dims[0], 1, (int)dims[1], (int)dims[2], 0);
    if (!st) st = idx_body(&f, out->images, (size_t)dims[0] * dims[1] * dims[2]);
    gzclose(f.gz);
    return st;
}

/* Reads the labels into d->labels (d->n of them) and sets num_classes = max + 1. */
static axnn_status read_labels(const char *path, axnn_dataset *d)
{
    uint32_t n;
    idx_file f;
    axnn_status st = idx_open(path, IDX_MAGIC_LABELS, 1, &n, &f);
    if (st) return st;
    uint8_t *raw = NULL;
    if (n != d->n)
        st = axnn_error(AXNN_ERR_FORMAT, "%s: %u labels but the image file holds %lld images", path,
                        n, (long long)d->n);
    else if (!(raw = malloc(n)))
        st = axnn_error(AXNN_ERR_NOMEM, "out of memory reading %s", path);
    else
        st = idx_body(&f, raw, n);
    gzclose(f.gz);
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
        struct stat st;
        if (stat(path, &st) == 0) return true; /* a folder of that name fails later, by name */
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
