/* Dataset readers and the batch loader.
 *
 * Every format is exercised on small files written here at test time (IDX raw and gzip, CIFAR-10
 * and CIFAR-100 binaries, a Tiny ImageNet tree of JPEGs written with libjpeg), so the tests need
 * no download. Bad inputs must fail with a message naming the file or folder. The loader is
 * checked against a plain reference of pad / crop / flip / normalize built in this file, for
 * determinism, coverage of every image once per epoch and drop_last. When the Debian package
 * dataset-fashion-mnist is installed, the real Fashion-MNIST is read too.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>
#include <jpeglib.h>

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

/* ---- file writers ---- */

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void write_maybe_gz(const char *path, const void *data, size_t len, bool gz)
{
    if (!gz) {
        tu_write_file(path, data, len);
        return;
    }
    gzFile f = gzopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(gzwrite(f, data, (unsigned)len), (int)len);
    assert_int_equal(gzclose(f), Z_OK);
}

/* An IDX file with the given magic and sizes, and `len` data bytes (which may disagree). */
static void write_idx(const char *path, uint32_t magic, const uint32_t *dims, int ndims,
                      const uint8_t *data, size_t len, bool gz)
{
    size_t hdr = 4 + 4 * (size_t)ndims;
    unsigned char *buf = malloc(hdr + len);
    put_be32(buf, magic);
    for (int i = 0; i < ndims; i++) put_be32(buf + 4 + 4 * i, dims[i]);
    memcpy(buf + hdr, data, len);
    write_maybe_gz(path, buf, hdr + len, gz);
    free(buf);
}

static void fill_bytes(uint8_t *p, size_t n, uint64_t seed)
{
    axnn_rng r;
    axnn_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)axnn_rng_u64(&r);
}

static char *join(const char *a, const char *b)
{
    size_t len = strlen(a) + strlen(b) + 2;
    char *s = malloc(len);
    snprintf(s, len, "%s/%s", a, b);
    return s;
}

static void mkdir_p(const char *dir, const char *sub)
{
    char *p = join(dir, sub);
    for (char *q = p + strlen(dir) + 1; *q; q++) {
        if (*q != '/') continue;
        *q = 0;
        mkdir(p, 0755);
        *q = '/';
    }
    mkdir(p, 0755);
    free(p);
}

static void write_text(const char *dir, const char *name, const char *text)
{
    char *p = join(dir, name);
    tu_write_file(p, text, strlen(text));
    free(p);
}

static void expect_error(axnn_status st, const char *needle)
{
    assert_int_not_equal(st, AXNN_OK);
    if (!strstr(axnn_last_error(), needle))
        fail_msg("error '%s' lacks '%s'", axnn_last_error(), needle);
}

/* ---- IDX ---- */

enum { IDX_N = 7, IDX_H = 5, IDX_W = 4 };

typedef struct idx_fixture {
    uint8_t images[IDX_N * IDX_H * IDX_W];
    uint8_t labels[IDX_N];
} idx_fixture;

static void make_idx(idx_fixture *f, uint64_t seed)
{
    fill_bytes(f->images, sizeof f->images, seed);
    for (int i = 0; i < IDX_N; i++) f->labels[i] = (uint8_t)((i * 3 + seed) % 10);
}

static void write_idx_pair(const char *dir, const char *prefix, const idx_fixture *f, bool gz)
{
    char name[256];
    uint32_t dims[3] = {IDX_N, IDX_H, IDX_W}, n = IDX_N;
    snprintf(name, sizeof name, "%s-images-idx3-ubyte%s", prefix, gz ? ".gz" : "");
    char *p = join(dir, name);
    write_idx(p, 0x803, dims, 3, f->images, sizeof f->images, gz);
    free(p);
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte%s", prefix, gz ? ".gz" : "");
    p = join(dir, name);
    write_idx(p, 0x801, &n, 1, f->labels, sizeof f->labels, gz);
    free(p);
}

static void check_idx(const axnn_dataset *d, const idx_fixture *f)
{
    assert_int_equal(d->n, IDX_N);
    assert_int_equal(d->c, 1);
    assert_int_equal(d->h, IDX_H);
    assert_int_equal(d->w, IDX_W);
    assert_memory_equal(d->images, f->images, sizeof f->images);
    for (int i = 0; i < IDX_N; i++) assert_int_equal(d->labels[i], f->labels[i]);
}

static void test_idx_read(void **state)
{
    char *dir = tu_tmpdir();
    idx_fixture train, test;
    make_idx(&train, 1);
    make_idx(&test, 2);
    write_idx_pair(dir, "train", &train, true);
    write_idx_pair(dir, "t10k", &test, false);
    axnn_dataset d;
    assert_int_equal(axnn_mnist_dir_load(dir, true, &d), AXNN_OK);
    check_idx(&d, &train);
    assert_int_equal(d.num_classes, 10);
    axnn_dataset_free(&d);
    assert_int_equal(axnn_dataset_load("mnist", dir, false, &d), AXNN_OK);
    check_idx(&d, &test);
    assert_string_equal(d.name, "mnist");
    axnn_dataset_free(&d);
    axnn_dataset_free(&d); /* a second free is harmless */

    char *img = join(dir, "t10k-images-idx3-ubyte"), *lab = join(dir, "t10k-labels-idx1-ubyte");
    assert_int_equal(axnn_idx_load(img, lab, &d), AXNN_OK);
    int maxl = 0;
    for (int i = 0; i < IDX_N; i++) maxl = test.labels[i] > maxl ? test.labels[i] : maxl;
    assert_int_equal(d.num_classes, maxl + 1);
    axnn_dataset_free(&d);
    free(img);
    free(lab);
    tu_rmtree(dir);
    free(dir);
}

static void test_idx_errors(void **state)
{
    char *dir = tu_tmpdir();
    idx_fixture f;
    make_idx(&f, 3);
    uint32_t dims[3] = {IDX_N, IDX_H, IDX_W}, n = IDX_N, n_bad = IDX_N - 1;
    char *img = join(dir, "img"), *img_gz = join(dir, "img.gz"), *lab = join(dir, "lab");
    char *lab_bad = join(dir, "lab_bad"), *missing = join(dir, "nothing-here");
    axnn_dataset d;
    write_idx(lab, 0x801, &n, 1, f.labels, IDX_N, false);
    write_idx(lab_bad, 0x801, &n_bad, 1, f.labels, IDX_N - 1, false);

    write_idx(img, 0x803, dims, 3, f.images, sizeof f.images - 1, false); /* truncated */
    expect_error(axnn_idx_load(img, lab, &d), img);
    expect_error(axnn_idx_load(img, lab, &d), "truncated");
    write_idx(img_gz, 0x803, dims, 3, f.images, sizeof f.images - 5, true); /* truncated, gz */
    expect_error(axnn_idx_load(img_gz, lab, &d), img_gz);
    write_idx(img, 0x803, dims, 3, f.images, sizeof f.images, false); /* trailing byte */
    {
        FILE *fp = fopen(img, "ab");
        fputc(0, fp);
        fclose(fp);
    }
    expect_error(axnn_idx_load(img, lab, &d), img);
    write_idx(img, 0x801, dims, 3, f.images, sizeof f.images, false); /* wrong magic */
    expect_error(axnn_idx_load(img, lab, &d), "magic");
    expect_error(axnn_idx_load(img, lab, &d), img);
    write_idx(img, 0x803, dims, 3, f.images, sizeof f.images, false);
    expect_error(axnn_idx_load(img, img, &d), img);         /* images file given as labels */
    expect_error(axnn_idx_load(img, lab_bad, &d), lab_bad); /* count mismatch */
    expect_error(axnn_idx_load(img, missing, &d), missing);
    expect_error(axnn_idx_load(missing, lab, &d), missing);
    assert_null(d.images);
    expect_error(axnn_mnist_dir_load(dir, true, &d), "train-images-idx3-ubyte");

    f.labels[2] = 10; /* out of range for MNIST */
    write_idx_pair(dir, "train", &f, true);
    expect_error(axnn_mnist_dir_load(dir, true, &d), "train-labels-idx1-ubyte.gz");
    free(img);
    free(img_gz);
    free(lab);
    free(lab_bad);
    free(missing);
    tu_rmtree(dir);
    free(dir);
}

/* Headers are checked against the file before allocating; gzip damage is named as such; only
 * regular files are read (a FIFO must not block). */
static void test_idx_sizes_and_files(void **state)
{
    char *dir = tu_tmpdir();
    idx_fixture f;
    make_idx(&f, 5);
    uint32_t dims[3] = {IDX_N, IDX_H, IDX_W}, huge[3] = {99999999, IDX_H, IDX_W}, n = IDX_N;
    char *img = join(dir, "img"), *gz = join(dir, "img.gz"), *lab = join(dir, "lab");
    char *fifo = join(dir, "fifo");
    axnn_dataset d;
    write_idx(lab, 0x801, &n, 1, f.labels, IDX_N, false);
    write_idx(img, 0x803, huge, 3, f.images, sizeof f.images, false);
    expect_error(axnn_idx_load(img, lab, &d), "header announces");
    write_idx(gz, 0x803, huge, 3, f.images, sizeof f.images, true);
    expect_error(axnn_idx_load(gz, lab, &d), "more than a gzip file of");
    /* a byte of the deflate stream changed: zlib's check fails, and the message says so */
    write_idx(gz, 0x803, dims, 3, f.images, sizeof f.images, true);
    FILE *fp = fopen(gz, "r+b");
    assert_non_null(fp);
    fseek(fp, -6, SEEK_END); /* inside the CRC-32 trailer */
    fputc(0x5a, fp);
    fclose(fp);
    expect_error(axnn_idx_load(gz, lab, &d), "corrupt gzip data");
    expect_error(axnn_idx_load(dir, lab, &d), "is a folder");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    expect_error(axnn_idx_load(fifo, lab, &d), "is a FIFO");
    expect_error(axnn_idx_load("/dev/zero", lab, &d), "is a character device");
    write_idx(img, 0x803, dims, 3, f.images, sizeof f.images, false);
    assert_int_equal(axnn_idx_load(img, lab, &d), AXNN_OK); /* the fixture itself is fine */
    axnn_dataset_free(&d);
    free(img);
    free(gz);
    free(lab);
    free(fifo);
    tu_rmtree(dir);
    free(dir);
}

/* ---- CIFAR ---- */

enum { REC = 3072 };

/* Writes n records of a CIFAR file; label bytes come from label_of(i), pixels from the seed. */
static void write_cifar(const char *dir, const char *name, int n, int label_bytes, int first,
                        int classes)
{
    size_t rec = (size_t)label_bytes + REC;
    uint8_t *buf = malloc(rec * (size_t)n);
    for (int i = 0; i < n; i++) {
        uint8_t *r = buf + rec * (size_t)i;
        int g = first + i;
        r[0] = (uint8_t)(label_bytes == 1 ? g % classes : g % 20);
        if (label_bytes == 2) r[1] = (uint8_t)(g * 7 % classes);
        fill_bytes(r + label_bytes, REC, 1000 + (uint64_t)g);
    }
    char *p = join(dir, name);
    tu_write_file(p, buf, rec * (size_t)n);
    free(p);
    free(buf);
}

static void check_cifar_image(const axnn_dataset *d, int64_t i, int g)
{
    uint8_t want[REC];
    fill_bytes(want, REC, 1000 + (uint64_t)g);
    assert_memory_equal(d->images + i * REC, want, REC);
}

static void test_cifar10(void **state)
{
    char *dir = tu_tmpdir();
    mkdir_p(dir, "cifar-10-batches-bin");
    char *sub = join(dir, "cifar-10-batches-bin");
    const int counts[5] = {3, 2, 1, 1, 2};
    int first = 0;
    for (int b = 0; b < 5; b++) {
        char name[64];
        snprintf(name, sizeof name, "data_batch_%d.bin", b + 1);
        write_cifar(sub, name, counts[b], 1, first, 10);
        first += counts[b];
    }
    write_cifar(sub, "test_batch.bin", 4, 1, 100, 10);
    write_text(sub, "batches.meta.txt",
               "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n");
    axnn_dataset d;
    assert_int_equal(axnn_cifar10_load(dir, true, &d), AXNN_OK); /* parent folder */
    assert_int_equal(d.n, 9);
    assert_int_equal(d.c * d.h * d.w, REC);
    assert_int_equal(d.num_classes, 10);
    for (int i = 0; i < 9; i++) {
        assert_int_equal(d.labels[i], i % 10);
        check_cifar_image(&d, i, i);
    }
    assert_non_null(d.class_names);
    assert_string_equal(d.class_names[9], "truck");
    axnn_dataset_free(&d);
    assert_int_equal(axnn_dataset_load("cifar10", sub, false, &d), AXNN_OK); /* the folder */
    assert_int_equal(d.n, 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(d.labels[i], (100 + i) % 10);
        check_cifar_image(&d, i, 100 + i);
    }
    assert_string_equal(d.name, "cifar10");
    axnn_dataset_free(&d);
    free(sub);
    tu_rmtree(dir);
    free(dir);
}

static void test_cifar100(void **state)
{
    char *dir = tu_tmpdir();
    write_cifar(dir, "train.bin", 6, 2, 0, 100);
    write_cifar(dir, "test.bin", 3, 2, 50, 100);
    char coarse_names[1024] = "";
    for (int i = 0; i < 20; i++) {
        char line[32];
        snprintf(line, sizeof line, "coarse_%d\n", i);
        strcat(coarse_names, line);
    }
    write_text(dir, "coarse_label_names.txt", coarse_names);
    write_text(dir, "fine_label_names.txt", "too\nfew\n"); /* ignored: wrong count */
    axnn_dataset d;
    assert_int_equal(axnn_cifar100_load(dir, true, false, &d), AXNN_OK);
    assert_int_equal(d.n, 6);
    assert_int_equal(d.num_classes, 100);
    assert_null(d.class_names);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(d.labels[i], i * 7 % 100);
        check_cifar_image(&d, i, i);
    }
    axnn_dataset_free(&d);
    assert_int_equal(axnn_dataset_load("cifar100-coarse", dir, false, &d), AXNN_OK);
    assert_int_equal(d.n, 3);
    assert_int_equal(d.num_classes, 20);
    assert_string_equal(d.name, "cifar100-coarse");
    assert_string_equal(d.class_names[19], "coarse_19");
    for (int i = 0; i < 3; i++) {
        assert_int_equal(d.labels[i], (50 + i) % 20);
        check_cifar_image(&d, i, 50 + i);
    }
    axnn_dataset_free(&d);
    tu_rmtree(dir);
    free(dir);
}

static void test_cifar_errors(void **state)
{
    char *dir = tu_tmpdir();
    axnn_dataset d;
    expect_error(axnn_cifar10_load(dir, false, &d), "test_batch.bin");
    write_cifar(dir, "test_batch.bin", 2, 1, 0, 10);
    char *p = join(dir, "test_batch.bin");
    FILE *fp = fopen(p, "ab");
    fputs("xyz", fp); /* no longer a multiple of 3073 */
    fclose(fp);
    expect_error(axnn_cifar10_load(dir, false, &d), p);
    tu_write_file(p, "", 0); /* empty */
    expect_error(axnn_cifar10_load(dir, false, &d), p);
    write_cifar(dir, "test_batch.bin", 12, 1, 0, 12); /* label 10 and 11 */
    expect_error(axnn_cifar10_load(dir, false, &d), p);
    assert_null(d.images);
    write_cifar(dir, "data_batch_1.bin", 2, 1, 0, 10); /* batch 2..5 missing */
    expect_error(axnn_cifar10_load(dir, true, &d), "data_batch_2.bin");
    free(p);
    p = join(dir, "test.bin");
    tu_write_file(p, "abc", 3);
    expect_error(axnn_cifar100_load(dir, false, false, &d), p);
    free(p);
    p = join(dir, "missing");
    expect_error(axnn_dataset_load("cifar10", p, true, &d), p);
    expect_error(axnn_dataset_load("cifar10", p, true, &d), "cifar.html");
    expect_error(axnn_dataset_load("cifar100", p, true, &d), "cifar-100-binary");
    free(p);
    tu_rmtree(dir);
    free(dir);
}

/* ---- Tiny ImageNet ---- */

/* A smooth test picture (JPEG keeps it well) of size s x s, 3 planes; class and index shift it. */
static void tin_picture(uint8_t *rgb, int s, int cls, int idx)
{
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < s; y++)
            for (int x = 0; x < s; x++)
                rgb[(c * s + y) * s + x] = (uint8_t)(20 + 50 * c + x + y / 2 + 5 * cls + 3 * idx);
}

static void write_jpeg(const char *path, const uint8_t *planes, int s, bool gray)
{
    tu_write_jpeg(path, planes, s, s, gray ? 1 : 3, 95);
}

/* Decodes a test JPEG on its own (64x64) into 3 planes, expanding gray. */
static void decode_ref(const char *path, uint8_t *planes)
{
    struct jpeg_decompress_struct ci;
    struct jpeg_error_mgr jerr;
    ci.err = jpeg_std_error(&jerr);
    jpeg_create_decompress(&ci);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    jpeg_stdio_src(&ci, f);
    jpeg_read_header(&ci, TRUE);
    jpeg_start_decompress(&ci);
    int comps = ci.output_components;
    unsigned char row[64 * 3];
    while (ci.output_scanline < ci.output_height) {
        int y = (int)ci.output_scanline;
        JSAMPROW rows[1] = {row};
        jpeg_read_scanlines(&ci, rows, 1);
        for (int c = 0; c < 3; c++)
            for (int x = 0; x < 64; x++)
                planes[(c * 64 + y) * 64 + x] = row[x * comps + (comps == 1 ? 0 : c)];
    }
    jpeg_finish_decompress(&ci);
    jpeg_destroy_decompress(&ci);
    fclose(f);
}

static const char *const tin_wnids[3] = {"n0300", "n0100", "n0200"};

/* Class k holds images named img_<2-k>.JPEG .. so directory order differs from sorted order. */
static void make_tin_tree(const char *dir)
{
    uint8_t pic[3 * 64 * 64];
    write_text(dir, "wnids.txt", "n0300\nn0100\nn0200\n");
    for (int k = 0; k < 3; k++) {
        char sub[128], name[256];
        snprintf(sub, sizeof sub, "train/%s/images", tin_wnids[k]);
        mkdir_p(dir, sub);
        for (int i = 2; i >= 0; i--) {
            snprintf(name, sizeof name, "%s/%s/%s_%d.JPEG", dir, sub, tin_wnids[k], i);
            tin_picture(pic, 64, k, i);
            write_jpeg(name, pic, 64, k == 1 && i == 1);
        }
        snprintf(name, sizeof name, "train/%s/%s_boxes.txt", tin_wnids[k], tin_wnids[k]);
        write_text(dir, name, "ignored\n");
    }
    mkdir_p(dir, "val/images");
    write_text(dir, "val/val_annotations.txt",
               "val_2.JPEG\tn0200\t0\t0\t10\t10\nval_0.JPEG\tn0300\t1\t2\t3\t4\n"
               "val_1.JPEG\tn0100\t5\t6\t7\t8\n");
    for (int i = 0; i < 3; i++) {
        char name[256];
        snprintf(name, sizeof name, "%s/val/images/val_%d.JPEG", dir, i);
        tin_picture(pic, 64, 5, i);
        write_jpeg(name, pic, 64, i == 2);
    }
}

static void check_tin_image(const axnn_dataset *d, int64_t i, const char *path, int cls, int idx,
                            bool gray)
{
    uint8_t ref[3 * 64 * 64], src[3 * 64 * 64];
    decode_ref(path, ref);
    assert_memory_equal(d->images + i * 3 * 64 * 64, ref, sizeof ref);
    tin_picture(src, 64, cls, idx);
    int maxdiff = 0;
    for (int p = 0; p < 3 * 64 * 64; p++) {
        int want = gray ? src[p % (64 * 64)] : src[p]; /* gray JPEGs were written from plane 0 */
        int diff = abs((int)d->images[i * 3 * 64 * 64 + p] - want);
        maxdiff = diff > maxdiff ? diff : maxdiff;
    }
    assert_in_range(maxdiff, 0, 4);
}

static void test_tinyimagenet(void **state)
{
    char *dir = tu_tmpdir();
    make_tin_tree(dir);
    axnn_dataset d;
    assert_int_equal(axnn_tinyimagenet_load(dir, true, &d), AXNN_OK);
    assert_int_equal(d.n, 9);
    assert_int_equal(d.c, 3);
    assert_int_equal(d.h, 64);
    assert_int_equal(d.num_classes, 3);
    assert_string_equal(d.class_names[0], "n0300");
    assert_string_equal(d.class_names[2], "n0200");
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < 3; i++) {
            char path[512];
            snprintf(path, sizeof path, "%s/train/%s/images/%s_%d.JPEG", dir, tin_wnids[k],
                     tin_wnids[k], i);
            assert_int_equal(d.labels[3 * k + i], k);
            check_tin_image(&d, 3 * k + i, path, k, i, k == 1 && i == 1);
        }
    axnn_dataset_free(&d);
    assert_int_equal(axnn_dataset_load("tinyimagenet", dir, false, &d), AXNN_OK);
    assert_int_equal(d.n, 3);
    const int val_label[3] = {0, 1, 2}; /* val_0: n0300, val_1: n0100, val_2: n0200 */
    for (int i = 0; i < 3; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/val/images/val_%d.JPEG", dir, i);
        assert_int_equal(d.labels[i], val_label[i]);
        check_tin_image(&d, i, path, 5, i, i == 2);
    }
    axnn_dataset_free(&d);
    tu_rmtree(dir);
    free(dir);
}

static void test_tinyimagenet_errors(void **state)
{
    char *dir = tu_tmpdir();
    axnn_dataset d;
    expect_error(axnn_tinyimagenet_load(dir, true, &d), "wnids.txt");
    make_tin_tree(dir);
    char path[512];
    uint8_t pic[3 * 32 * 32];

    snprintf(path, sizeof path, "%s/train/n0100/images/n0100_1.JPEG", dir);
    tu_write_file(path, "this is not a jpeg", 18);
    expect_error(axnn_tinyimagenet_load(dir, true, &d), path);
    assert_null(d.images);
    FILE *f = fopen(path, "wb"); /* truncated: half of a valid JPEG */
    fclose(f);
    expect_error(axnn_tinyimagenet_load(dir, true, &d), path);
    char full[512];
    snprintf(full, sizeof full, "%s/train/n0100/images/n0100_0.JPEG", dir);
    f = fopen(full, "rb");
    uint8_t buf[65536];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    tu_write_file(path, buf, len / 2);
    expect_error(axnn_tinyimagenet_load(dir, true, &d), path);
    tin_picture(pic, 32, 0, 0); /* valid JPEG of the wrong size */
    write_jpeg(path, pic, 32, false);
    expect_error(axnn_tinyimagenet_load(dir, true, &d), path);
    expect_error(axnn_tinyimagenet_load(dir, true, &d), "32x32");

    write_text(dir, "val/val_annotations.txt", "val_0.JPEG\tn9999\t0\t0\t1\t1\n");
    expect_error(axnn_tinyimagenet_load(dir, false, &d), "n9999");
    expect_error(axnn_tinyimagenet_load(dir, false, &d), "val_annotations.txt");
    write_text(dir, "wnids.txt", "n0300\nn0100\nn0200\nn0400\n");
    expect_error(axnn_tinyimagenet_load(dir, true, &d), "train/n0400/images");
    snprintf(path, sizeof path, "%s/missing", dir);
    expect_error(axnn_dataset_load("tinyimagenet", path, true, &d), path);
    expect_error(axnn_dataset_load("tinyimagenet", path, true, &d), "tiny-imagenet-200.zip");
    tu_rmtree(dir);
    free(dir);
}

/* ---- by name, statistics ---- */

static void test_names_and_stats(void **state)
{
    axnn_dataset d;
    expect_error(axnn_dataset_load("imagenet-21k", NULL, true, &d), "imagenet-21k");
    expect_error(axnn_dataset_load("imagenet-21k", NULL, true, &d), "cifar100-coarse");
    assert_string_equal(axnn_dataset_default_dir("fashion-mnist"), FASHION_DIR);
    assert_string_equal(axnn_dataset_default_dir("cifar10"), "./data/cifar-10-batches-bin");
    assert_string_equal(axnn_dataset_default_dir("tinyimagenet"), "./data/tiny-imagenet-200");
    assert_null(axnn_dataset_default_dir("nope"));
    int count = 0;
    for (const char *const *n = axnn_dataset_names(); *n; n++, count++)
        assert_non_null(axnn_dataset_default_dir(*n));
    assert_int_equal(count, 6);

    /* 2 images, 2 channels of 2 pixels: channel 0 = {0, 255, 255, 0}, channel 1 all 51. */
    assert_int_equal(axnn_dataset_alloc(&d, "t", 2, 2, 1, 2, 2), AXNN_OK);
    const uint8_t px[8] = {0, 255, 51, 51, 255, 0, 51, 51};
    memcpy(d.images, px, sizeof px);
    float mean[2], std[2];
    axnn_dataset_channel_stats(&d, mean, std);
    assert_float_equal(mean[0], 0.5f, 1e-6);
    assert_float_equal(std[0], 0.5f, 1e-6);
    assert_float_equal(mean[1], 0.2f, 1e-6);
    assert_float_equal(std[1], 0.0f, 1e-6);
    axnn_dataset_free(&d);
}

/* ---- loader ---- */

/* n images of c x h x w; pixel values from the seed, label i of image i. */
static void make_toy(axnn_dataset *d, int64_t n, int c, int h, int w)
{
    assert_int_equal(axnn_dataset_alloc(d, "toy", n, c, h, w, (int)n), AXNN_OK);
    fill_bytes(d->images, (size_t)(n * c * h * w), 77);
    for (int64_t i = 0; i < n; i++) d->labels[i] = (int32_t)i;
}

/* Reference transform: build the padded canvas, crop at (dy, dx), flip, normalize. */
static void ref_transform(const axnn_dataset *d, int64_t k, const axnn_loader_cfg *cfg, int dy,
                          int dx, bool flip, float *out)
{
    int oh = cfg->out_h, ow = cfg->out_w, p = cfg->crop_pad;
    int ch = oh + 2 * p, cw = ow + 2 * p;
    float *canvas = calloc((size_t)ch * cw, sizeof *canvas);
    for (int c = 0; c < d->c; c++) {
        memset(canvas, 0, (size_t)ch * cw * sizeof *canvas);
        const uint8_t *img = d->images + (k * d->c + c) * d->h * d->w;
        for (int y = 0; y < d->h; y++)
            for (int x = 0; x < d->w; x++)
                canvas[(p + (oh - d->h) / 2 + y) * cw + p + (ow - d->w) / 2 + x] =
                    img[y * d->w + x] / 255.0f;
        float sd = cfg->std[c] > 0 ? cfg->std[c] : 1.0f;
        for (int y = 0; y < oh; y++)
            for (int x = 0; x < ow; x++) {
                float v = canvas[(dy + y) * cw + dx + (flip ? ow - 1 - x : x)];
                out[(c * oh + y) * ow + x] = (v - cfg->mean[c]) / sd;
            }
    }
    free(canvas);
}

/* Which (dy, dx, flip) produced out from image k; -1 if none. */
static int match_candidate(const axnn_dataset *d, int64_t k, const axnn_loader_cfg *cfg,
                           const float *out)
{
    int p = cfg->crop_pad, size = d->c * cfg->out_h * cfg->out_w;
    float *ref = malloc((size_t)size * sizeof *ref);
    int found = -1;
    for (int cand = 0; cand < (2 * p + 1) * (2 * p + 1) * 2 && found < 0; cand++) {
        int dy = cand / 2 / (2 * p + 1), dx = cand / 2 % (2 * p + 1);
        bool flip = cand % 2;
        if (flip && !cfg->hflip) continue;
        ref_transform(d, k, cfg, dy, dx, flip, ref);
        if (!memcmp(ref, out, (size_t)size * sizeof *ref)) found = cand;
    }
    free(ref);
    return found;
}

static void test_loader_hand_example(void **state)
{
    /* 1 channel, 2x2 image [[10, 20], [30, 40]] on a 4x4 canvas, mean 0.5, std 0.25. */
    axnn_dataset d;
    assert_int_equal(axnn_dataset_alloc(&d, "hand", 1, 1, 2, 2, 1), AXNN_OK);
    const uint8_t px[4] = {10, 20, 30, 40};
    memcpy(d.images, px, 4);
    axnn_loader_cfg cfg = {.batch = 1, .out_h = 4, .out_w = 4, .mean = {0.5f}, .std = {0.25f}};
    axnn_loader *l;
    assert_int_equal(axnn_loader_create(&d, &cfg, &l), AXNN_OK);
    const float *x;
    const int32_t *y;
    int n;
    assert_false(axnn_loader_next(l, &x, &y, &n)); /* no epoch started */
    axnn_loader_start_epoch(l, 0);
    assert_true(axnn_loader_next(l, &x, &y, &n));
    assert_int_equal(n, 1);
    float bg = (0.0f - 0.5f) / 0.25f;
    for (int i = 0; i < 16; i++) {
        int r = i / 4, c = i % 4;
        float want = bg;
        if (r >= 1 && r <= 2 && c >= 1 && c <= 2)
            want = (px[(r - 1) * 2 + c - 1] / 255.0f - 0.5f) / 0.25f;
        assert_float_equal(x[i], want, 1e-6);
    }
    assert_false(axnn_loader_next(l, &x, &y, &n));
    axnn_loader_destroy(l);

    /* crop_pad 1 and flip: every output is one of the 18 candidates, and several occur. */
    cfg.crop_pad = 1;
    cfg.hflip = true;
    assert_int_equal(axnn_loader_create(&d, &cfg, &l), AXNN_OK);
    bool seen[18] = {false};
    int distinct = 0;
    for (int e = 0; e < 60; e++) {
        axnn_loader_start_epoch(l, e);
        assert_true(axnn_loader_next(l, &x, &y, &n));
        int cand = match_candidate(&d, 0, &cfg, x);
        assert_true(cand >= 0);
        if (!seen[cand]) distinct++;
        seen[cand] = true;
    }
    assert_true(distinct >= 8);
    axnn_loader_destroy(l);
    axnn_dataset_free(&d);
}

static void test_loader_pad_28_to_32(void **state)
{
    axnn_dataset d;
    make_toy(&d, 3, 1, 28, 28);
    axnn_loader_cfg cfg = {.batch = 3, .out_h = 32, .out_w = 32};
    axnn_loader *l;
    assert_int_equal(axnn_loader_create(&d, &cfg, &l), AXNN_OK);
    axnn_loader_start_epoch(l, 0);
    const float *x;
    const int32_t *y;
    int n;
    assert_true(axnn_loader_next(l, &x, &y, &n));
    assert_int_equal(n, 3);
    for (int i = 0; i < 3; i++)
        for (int r = 0; r < 32; r++)
            for (int c = 0; c < 32; c++) {
                bool in = r >= 2 && r < 30 && c >= 2 && c < 30;
                float want = in ? d.images[i * 784 + (r - 2) * 28 + c - 2] / 255.0f : 0.0f;
                assert_float_equal(x[i * 1024 + r * 32 + c], want, 0);
            }
    axnn_loader_destroy(l);
    axnn_dataset_free(&d);
}

/* Runs one epoch, copying all batches; returns the number of batches. */
static int run_epoch(axnn_loader *l, int epoch, float *xs, int32_t *ys, int *sizes, int per)
{
    axnn_loader_start_epoch(l, epoch);
    const float *x;
    const int32_t *y;
    int n, b = 0, total = 0;
    while (axnn_loader_next(l, &x, &y, &n)) {
        memcpy(xs + (size_t)total * per, x, (size_t)n * per * sizeof *x);
        memcpy(ys + total, y, (size_t)n * sizeof *y);
        total += n;
        sizes[b++] = n;
    }
    return b;
}

enum { TOY_N = 37, TOY_PER = 3 * 6 * 6 };

static void test_loader_determinism(void **state)
{
    axnn_dataset d;
    make_toy(&d, TOY_N, 3, 4, 4);
    axnn_loader_cfg cfg = {.batch = 8,
                           .shuffle = true,
                           .seed = 42,
                           .out_h = 6,
                           .out_w = 6,
                           .crop_pad = 2,
                           .hflip = true,
                           .mean = {0.1f, 0.2f, 0.3f},
                           .std = {0.5f, 0.6f, 0.7f}};
    axnn_loader *a, *b;
    assert_int_equal(axnn_loader_create(&d, &cfg, &a), AXNN_OK);
    assert_int_equal(axnn_loader_create(&d, &cfg, &b), AXNN_OK);
    assert_int_equal(axnn_loader_batches(a), 5);
    static float xa[2][TOY_N * TOY_PER], xb[TOY_N * TOY_PER];
    int32_t ya[2][TOY_N], yb[TOY_N];
    int sa[8], sb[8];
    for (int e = 0; e < 2; e++) {
        assert_int_equal(run_epoch(a, e, xa[e], ya[e], sa, TOY_PER), 5);
        assert_int_equal(run_epoch(b, e, xb, yb, sb, TOY_PER), 5);
        assert_memory_equal(xa[e], xb, sizeof xb);
        assert_memory_equal(ya[e], yb, sizeof yb);
        assert_int_equal(sa[4], 5);
        int hits[TOY_N] = {0};
        for (int i = 0; i < TOY_N; i++) hits[ya[e][i]]++;
        for (int i = 0; i < TOY_N; i++) assert_int_equal(hits[i], 1);
        for (int i = 0; i < TOY_N; i++) /* each output is a valid augmentation of its image */
            assert_true(match_candidate(&d, ya[e][i], &cfg, xa[e] + i * TOY_PER) >= 0);
    }
    assert_memory_not_equal(ya[0], ya[1], sizeof ya[0]); /* shuffled differently per epoch */

    /* Restarting an epoch in its middle gives the same batches again. */
    const float *x;
    const int32_t *y;
    int n;
    axnn_loader_start_epoch(b, 1);
    assert_true(axnn_loader_next(b, &x, &y, &n));
    assert_true(axnn_loader_next(b, &x, &y, &n));
    assert_int_equal(run_epoch(b, 1, xb, yb, sb, TOY_PER), 5);
    assert_memory_equal(xa[1], xb, sizeof xb);
    /* Destroy in the middle of an epoch (the thread may be filling the next batch). */
    axnn_loader_start_epoch(b, 2);
    assert_true(axnn_loader_next(b, &x, &y, &n));
    axnn_loader_destroy(b);
    axnn_loader_destroy(a);
    axnn_dataset_free(&d);
}

static void test_loader_sequential_drop_last(void **state)
{
    axnn_dataset d;
    make_toy(&d, TOY_N, 1, 2, 2);
    axnn_loader_cfg cfg = {.batch = 8};
    axnn_loader *l;
    static float xs[TOY_N * 4];
    int32_t ys[TOY_N];
    int sizes[8];
    assert_int_equal(axnn_loader_create(&d, &cfg, &l), AXNN_OK);
    assert_int_equal(axnn_loader_batches(l), 5);
    assert_int_equal(run_epoch(l, 3, xs, ys, sizes, 4), 5);
    for (int i = 0; i < TOY_N; i++) {
        assert_int_equal(ys[i], i);
        for (int p = 0; p < 4; p++)
            assert_float_equal(xs[i * 4 + p], d.images[i * 4 + p] / 255.0f, 0);
    }
    assert_int_equal(sizes[0], 8);
    assert_int_equal(sizes[4], 5);
    axnn_loader_destroy(l);

    cfg.drop_last = true;
    cfg.shuffle = true;
    assert_int_equal(axnn_loader_create(&d, &cfg, &l), AXNN_OK);
    assert_int_equal(axnn_loader_batches(l), 4);
    assert_int_equal(run_epoch(l, 0, xs, ys, sizes, 4), 4);
    int hits[TOY_N] = {0};
    for (int b = 0; b < 4; b++) assert_int_equal(sizes[b], 8);
    for (int i = 0; i < 32; i++) hits[ys[i]]++;
    for (int i = 0; i < TOY_N; i++) assert_in_range(hits[i], 0, 1);
    axnn_loader_destroy(l);

    cfg.batch = 64; /* larger than the dataset: no batch at all */
    assert_int_equal(axnn_loader_create(&d, &cfg, &l), AXNN_OK);
    assert_int_equal(axnn_loader_batches(l), 0);
    assert_int_equal(run_epoch(l, 0, xs, ys, sizes, 4), 0);
    axnn_loader_destroy(l);

    cfg.batch = 0;
    expect_error(axnn_loader_create(&d, &cfg, &l), "batch");
    cfg.batch = 4;
    cfg.out_h = 1;
    cfg.out_w = 1;
    expect_error(axnn_loader_create(&d, &cfg, &l), "smaller");
    assert_null(l);
    axnn_dataset_free(&d);
}

/* ---- the real Fashion-MNIST, when installed ---- */

static void test_fashion_mnist_real(void **state)
{
    struct stat st;
    if (stat(FASHION_DIR, &st) != 0) skip();
    for (int train = 1; train >= 0; train--) {
        axnn_dataset d;
        assert_int_equal(axnn_dataset_load("fashion-mnist", NULL, train, &d), AXNN_OK);
        assert_int_equal(d.n, train ? 60000 : 10000);
        assert_int_equal(d.c, 1);
        assert_int_equal(d.h, 28);
        assert_int_equal(d.w, 28);
        assert_int_equal(d.num_classes, 10);
        assert_string_equal(d.class_names[9], "Ankle boot");
        int64_t hist[10] = {0};
        for (int64_t i = 0; i < d.n; i++) hist[d.labels[i]]++;
        for (int k = 0; k < 10; k++) assert_int_equal(hist[k], d.n / 10);
        float mean, std;
        axnn_dataset_channel_stats(&d, &mean, &std);
        if (train) { /* the commonly quoted values 0.2860 / 0.3530 */
            assert_float_equal(mean, 0.2860f, 1e-3);
            assert_float_equal(std, 0.3530f, 1e-3);
        }
        axnn_dataset_free(&d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idx_read),
        cmocka_unit_test(test_idx_errors),
        cmocka_unit_test(test_idx_sizes_and_files),
        cmocka_unit_test(test_cifar10),
        cmocka_unit_test(test_cifar100),
        cmocka_unit_test(test_cifar_errors),
        cmocka_unit_test(test_tinyimagenet),
        cmocka_unit_test(test_tinyimagenet_errors),
        cmocka_unit_test(test_names_and_stats),
        cmocka_unit_test(test_loader_hand_example),
        cmocka_unit_test(test_loader_pad_28_to_32),
        cmocka_unit_test(test_loader_determinism),
        cmocka_unit_test(test_loader_sequential_drop_last),
        cmocka_unit_test(test_fashion_mnist_real),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
