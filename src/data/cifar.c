/* CIFAR-10 and CIFAR-100, binary versions.
 *
 * Both are flat files of fixed-size records with no header. A CIFAR-10 record is one label byte
 * (0..9) followed by 3072 pixel bytes: the 1024 red values of the 32x32 image row by row, then the
 * 1024 green, then the 1024 blue. That is already NCHW, so a record's pixels are copied as they
 * are. The training set is data_batch_1.bin .. data_batch_5.bin (10000 records each) and the test
 * set test_batch.bin. A CIFAR-100 record has two label bytes, coarse (0..19) then fine (0..99),
 * before the same 3072 pixels; the splits are train.bin and test.bin.
 *
 * Without a header, the only structural check is the size: each file must be a non-empty
 * multiple of the record size, and every label must be in range. The archives unpack into a
 * subfolder (cifar-10-batches-bin, cifar-100-binary), so either that folder or its parent is
 * accepted. Class names come from the text files shipped alongside (one name per line) when they
 * are present and hold the right number of names; they are optional.
 */
#include "axnn/data.h"
#include "axnn/io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CIFAR_PIXELS 3072
#define MAX_FILES 5

typedef struct cifar_spec {
    const char *subdir;           /* folder the archive unpacks into */
    const char *files[MAX_FILES]; /* NULL-terminated */
    int label_bytes;              /* 1 (CIFAR-10) or 2 (CIFAR-100) */
    int label_index;              /* which label byte to use */
    int num_classes;
    const char *names_file;
    const char *dataset_name;
} cifar_spec;

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0; /* a folder or device of that name is refused by name later */
}

/* Picks dir or dir/subdir, whichever holds the first file of the split. */
static axnn_status find_root(const char *dir, const cifar_spec *s, char *root, size_t cap)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, s->files[0]);
    if (file_exists(path)) {
        snprintf(root, cap, "%s", dir);
        return AXNN_OK;
    }
    snprintf(root, cap, "%s/%s", dir, s->subdir);
    snprintf(path, sizeof path, "%s/%s", root, s->files[0]);
    if (file_exists(path)) return AXNN_OK;
    return axnn_error(AXNN_ERR_IO, "%s not found in %s or %s/%s", s->files[0], dir, dir, s->subdir);
}

/* Number of records in one file, after checking its size. */
static axnn_status count_records(const char *path, long rec, int64_t *n)
{
    uint64_t size;
    axnn_status st = axnn_check_regular(path, &size);
    if (st) return st;
    if (size == 0 || size % (uint64_t)rec != 0)
        return axnn_error(AXNN_ERR_FORMAT,
                          "%s: size %llu is not a non-zero multiple of the %ld-byte record", path,
                          (unsigned long long)size, rec);
    *n = (int64_t)(size / (uint64_t)rec);
    return AXNN_OK;
}

/* Reads n records of `path` into images/labels of d starting at image `first`. */
static axnn_status read_file(const char *path, const cifar_spec *s, int64_t first, int64_t n,
                             axnn_dataset *d)
{
    long rec = s->label_bytes + CIFAR_PIXELS;
    FILE *f;
    uint64_t size;
    axnn_status st = axnn_fopen_regular(path, &f, &size);
    if (st) return st;
    if (size != (uint64_t)n * (uint64_t)rec) {
        fclose(f);
        return axnn_error(AXNN_ERR_IO, "%s: changed size while loading", path);
    }
    unsigned char buf[2 + CIFAR_PIXELS];
    for (int64_t i = 0; i < n && !st; i++) {
        if (fread(buf, 1, (size_t)rec, f) != (size_t)rec) {
            st = axnn_error(AXNN_ERR_IO, "%s: read failed at record %lld%s", path, (long long)i,
                            ferror(f) ? "" : " (file shrank)");
            break;
        }
        int label = buf[s->label_index];
        if (label >= s->num_classes)
            st = axnn_error(AXNN_ERR_FORMAT, "%s: record %lld has label %d (expected < %d)", path,
                            (long long)i, label, s->num_classes);
        d->labels[first + i] = label;
        memcpy(d->images + (first + i) * CIFAR_PIXELS, buf + s->label_bytes, CIFAR_PIXELS);
    }
    fclose(f);
    return st;
}

/* Reads non-empty lines (trimmed) of `path` as class names; leaves d untouched unless the file
 * holds exactly num_classes names. A missing or odd file is not an error. */
static void read_class_names(const char *path, axnn_dataset *d)
{
    FILE *f;
    if (axnn_fopen_regular(path, &f, NULL)) {
        axnn_clear_error(); /* the names are optional */
        return;
    }
    char **names = calloc((size_t)d->num_classes, sizeof *names);
    int count = 0;
    char line[512];
    while (names && fgets(line, sizeof line, f)) {
        size_t len = strcspn(line, "\r\n");
        while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t')) len--;
        line[len] = 0;
        if (len == 0) continue;
        if (count == d->num_classes || !(names[count] = strdup(line))) {
            count = -1;
            break;
        }
        count++;
    }
    fclose(f);
    if (names && count == d->num_classes) {
        d->class_names = names;
        return;
    }
    for (int i = 0; names && i < d->num_classes; i++) free(names[i]);
    free(names);
}

static axnn_status cifar_load(const char *dir, const cifar_spec *s, axnn_dataset *out)
{
    memset(out, 0, sizeof *out);
    char root[4096], path[4200];
    axnn_status st = find_root(dir, s, root, sizeof root);
    int64_t counts[MAX_FILES] = {0}, total = 0;
    for (int i = 0; !st && i < MAX_FILES && s->files[i]; i++) {
        snprintf(path, sizeof path, "%s/%s", root, s->files[i]);
        st = count_records(path, s->label_bytes + CIFAR_PIXELS, &counts[i]);
        total += counts[i];
    }
    if (!st) st = axnn_dataset_alloc(out, s->dataset_name, total, 3, 32, 32, s->num_classes);
    int64_t first = 0;
    for (int i = 0; !st && i < MAX_FILES && s->files[i]; i++) {
        snprintf(path, sizeof path, "%s/%s", root, s->files[i]);
        st = read_file(path, s, first, counts[i], out);
        first += counts[i];
    }
    if (st) {
        axnn_dataset_free(out);
        return st;
    }
    snprintf(path, sizeof path, "%s/%s", root, s->names_file);
    read_class_names(path, out);
    return AXNN_OK;
}

axnn_status axnn_cifar10_load(const char *dir, bool train, axnn_dataset *out)
{
    cifar_spec s = {"cifar-10-batches-bin", {"test_batch.bin"}, 1, 0, 10,
                    "batches.meta.txt",     "cifar10"};
    if (train) {
        const char *files[MAX_FILES] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                        "data_batch_4.bin", "data_batch_5.bin"};
        memcpy(s.files, files, sizeof files);
    }
    return cifar_load(dir, &s, out);
}

axnn_status axnn_cifar100_load(const char *dir, bool train, bool coarse, axnn_dataset *out)
{
    cifar_spec s = {"cifar-100-binary",
                    {train ? "train.bin" : "test.bin"},
                    2,
                    coarse ? 0 : 1,
                    coarse ? 20 : 100,
                    coarse ? "coarse_label_names.txt" : "fine_label_names.txt",
                    coarse ? "cifar100-coarse" : "cifar100"};
    return cifar_load(dir, &s, out);
}
