/* Tiny ImageNet-200.
 *
 * The archive unpacks into a folder tiny-imagenet-200/ holding:
 *   wnids.txt                       one WordNet id per line (n01443537 ...): the 200 classes;
 *                                   their order here defines the label numbers
 *   train/<wnid>/images/<f>.JPEG    500 training images per class (plus a boxes file we ignore)
 *   val/images/<f>.JPEG             10000 validation images
 *   val/val_annotations.txt         one line per val image, tab separated:
 *                                   file, wnid, then a bounding box we ignore
 *   test/images/<f>.JPEG            unlabelled, not read
 * Every image is a 64x64 JPEG, almost all RGB, a few grayscale; grayscale ones are expanded to
 * three equal channels so the dataset is uniformly 3x64x64. A JPEG of any other size is an error.
 *
 * Directory listings come in no defined order, so the file names of each class (and of the val
 * split) are sorted to make the dataset the same on every machine.
 *
 * JPEG decoding uses libjpeg(-turbo). Its default error handler prints and calls exit(), which a
 * library must never do, so we install handlers that longjmp back to the decoder with the message
 * and stay silent on warnings. A truncated file ("Premature end of JPEG file") is only a warning
 * to libjpeg, which would hand back gray pixels; we treat it as an error. Other warnings (a few
 * stray bytes between markers, common in real photo collections) are tolerated.
 */
#include "axnn/data.h"
#include "axnn/io.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <jpeglib.h>
#include <jerror.h>

#define TIN_SIZE 64
#define TIN_PIXELS (3 * TIN_SIZE * TIN_SIZE)

typedef struct entry {
    char *name; /* file name, the sort key */
    char *path;
    int label;
} entry;

typedef struct entry_list {
    entry *v;
    int64_t n, cap;
} entry_list;

typedef struct string_list {
    char **v;
    int n, cap;
} string_list;

/* ---- small containers ---- */

static void strings_free(string_list *s)
{
    for (int i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

static bool strings_push(string_list *s, const char *str)
{
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 64;
        char **v = realloc(s->v, (size_t)cap * sizeof *v);
        if (!v) return false;
        s->v = v;
        s->cap = cap;
    }
    if (!(s->v[s->n] = strdup(str))) return false;
    s->n++;
    return true;
}

static void entries_free(entry_list *l)
{
    for (int64_t i = 0; i < l->n; i++) {
        free(l->v[i].name);
        free(l->v[i].path);
    }
    free(l->v);
    memset(l, 0, sizeof *l);
}

static axnn_status entries_push(entry_list *l, const char *folder, const char *name, int label)
{
    if (l->n == l->cap) {
        int64_t cap = l->cap ? 2 * l->cap : 1024;
        entry *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) return axnn_error(AXNN_ERR_NOMEM, "out of memory listing %s", folder);
        l->v = v;
        l->cap = cap;
    }
    size_t len = strlen(folder) + strlen(name) + 2;
    entry *e = &l->v[l->n];
    e->name = strdup(name);
    e->path = malloc(len);
    e->label = label;
    if (!e->name || !e->path) {
        free(e->name);
        free(e->path);
        return axnn_error(AXNN_ERR_NOMEM, "out of memory listing %s", folder);
    }
    snprintf(e->path, len, "%s/%s", folder, name);
    l->n++;
    return AXNN_OK;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const entry *)a)->name, ((const entry *)b)->name);
}

static int cmp_string(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- text files ---- */

/* Cuts trailing newline and blanks in place; returns the length. */
static size_t trim(char *s)
{
    size_t len = strcspn(s, "\r\n");
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t')) len--;
    s[len] = 0;
    return len;
}

/* Class ids become folder names (train/<wnid>/images): no '/', no "..", nothing odd. */
static bool valid_wnid(const char *s)
{
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-'))
            return false;
    return true;
}

static axnn_status read_wnids(const char *dir, string_list *wnids)
{
    char path[4096], line[256];
    snprintf(path, sizeof path, "%s/wnids.txt", dir);
    FILE *f;
    axnn_status st = axnn_fopen_regular(path, &f, NULL);
    if (st) return st;
    for (long lineno = 1; !st && fgets(line, sizeof line, f); lineno++) {
        if (!strchr(line, '\n') && !feof(f))
            st = axnn_error(AXNN_ERR_FORMAT, "%s:%ld: line longer than %zu bytes", path, lineno,
                            sizeof line - 2);
        else if (trim(line) > 0 && !valid_wnid(line))
            st = axnn_error(AXNN_ERR_FORMAT, "%s:%ld: '%.40s' is not a class id (letters, digits, "
                            "'_', '-')", path, lineno, line);
        else if (line[0] && !strings_push(wnids, line))
            st = axnn_error(AXNN_ERR_NOMEM, "out of memory reading %s", path);
    }
    fclose(f);
    if (!st && wnids->n == 0) st = axnn_error(AXNN_ERR_FORMAT, "%s: no class ids", path);
    return st;
}

static int find_wnid(const string_list *wnids, const char *id)
{
    for (int i = 0; i < wnids->n; i++)
        if (!strcmp(wnids->v[i], id)) return i;
    return -1;
}

/* ---- listing the splits ---- */

static bool is_jpeg_name(const char *name)
{
    size_t len = strlen(name);
    return name[0] != '.' && len > 5 && !strcasecmp(name + len - 5, ".jpeg");
}

/* Appends the sorted JPEGs of one class folder. */
static axnn_status list_class(const char *folder, int label, entry_list *out)
{
    DIR *d = opendir(folder);
    if (!d) return axnn_error(AXNN_ERR_IO, "cannot open folder %s", folder);
    int64_t first = out->n;
    axnn_status st = AXNN_OK;
    struct dirent *de;
    while (!st && (de = readdir(d)))
        if (is_jpeg_name(de->d_name)) st = entries_push(out, folder, de->d_name, label);
    closedir(d);
    if (!st && out->n == first) st = axnn_error(AXNN_ERR_FORMAT, "%s: no JPEG images", folder);
    if (!st) qsort(out->v + first, (size_t)(out->n - first), sizeof *out->v, cmp_entry);
    return st;
}

static axnn_status list_train(const char *dir, const string_list *wnids, entry_list *out)
{
    char folder[4096];
    axnn_status st = AXNN_OK;
    for (int i = 0; !st && i < wnids->n; i++) {
        snprintf(folder, sizeof folder, "%s/train/%s/images", dir, wnids->v[i]);
        st = list_class(folder, i, out);
    }
    return st;
}

/* Parses one val_annotations.txt line ("file<TAB>wnid<TAB>..."). */
static axnn_status parse_val_line(char *line, const char *path, long lineno, const char *folder,
                                  const string_list *wnids, entry_list *out)
{
    char *tab1 = strchr(line, '\t');
    char *tab2 = tab1 ? strchr(tab1 + 1, '\t') : NULL;
    if (!tab1) return axnn_error(AXNN_ERR_FORMAT, "%s:%ld: expected file<TAB>wnid", path, lineno);
    *tab1 = 0;
    if (tab2) *tab2 = 0;
    if (!line[0] || strchr(line, '/') || !strcmp(line, ".") || !strcmp(line, ".."))
        return axnn_error(AXNN_ERR_FORMAT, "%s:%ld: '%.40s' is not a file name in val/images", path,
                          lineno, line);
    int label = find_wnid(wnids, tab1 + 1);
    if (label < 0)
        return axnn_error(AXNN_ERR_FORMAT, "%s:%ld: class %s is not in wnids.txt", path, lineno,
                          tab1 + 1);
    return entries_push(out, folder, line, label);
}

static axnn_status list_val(const char *dir, const string_list *wnids, entry_list *out)
{
    char path[4096], folder[4096], line[1024];
    snprintf(path, sizeof path, "%s/val/val_annotations.txt", dir);
    snprintf(folder, sizeof folder, "%s/val/images", dir);
    FILE *f;
    axnn_status st = axnn_fopen_regular(path, &f, NULL);
    if (st) return st;
    for (long lineno = 1; !st && fgets(line, sizeof line, f); lineno++) {
        if (!strchr(line, '\n') && !feof(f))
            st = axnn_error(AXNN_ERR_FORMAT, "%s:%ld: line longer than %zu bytes", path, lineno,
                            sizeof line - 2);
        else if (trim(line) > 0)
            st = parse_val_line(line, path, lineno, folder, wnids, out);
    }
    fclose(f);
    if (!st && out->n == 0) st = axnn_error(AXNN_ERR_FORMAT, "%s: no images listed", path);
    if (!st) qsort(out->v, (size_t)out->n, sizeof *out->v, cmp_entry);
    return st;
}

/* ---- JPEG decoding ---- */

typedef struct jpeg_err {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
} jpeg_err;

static void on_jpeg_error(j_common_ptr cinfo)
{
    longjmp(((jpeg_err *)cinfo->err)->jump, 1);
}

static void on_jpeg_message(j_common_ptr cinfo, int level)
{
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) on_jpeg_error(cinfo);
    if (level < 0) cinfo->err->num_warnings++;
}

static void on_jpeg_output(j_common_ptr cinfo)
{
    (void)cinfo;
}

/* Tiny ImageNet JPEGs are a few kB; anything beyond this is not one of them. */
#define TIN_MAX_JPEG (16u << 20)

static axnn_status read_whole(const char *path, unsigned char **buf, size_t *len)
{
    return axnn_read_regular(path, TIN_MAX_JPEG, buf, len);
}

/* Scanline y of a decoded image (gray or RGB, 64 wide) into the three planes of dst. */
static void store_row(const unsigned char *row, int comps, int y, uint8_t *dst)
{
    for (int c = 0; c < 3; c++) {
        uint8_t *plane = dst + c * TIN_SIZE * TIN_SIZE + y * TIN_SIZE;
        for (int x = 0; x < TIN_SIZE; x++) plane[x] = row[x * comps + (comps == 3 ? c : 0)];
    }
}

/* Runs the decompressor on the prepared cinfo; errors longjmp out of here. */
static axnn_status decode_rows(struct jpeg_decompress_struct *cinfo, const char *path, uint8_t *dst)
{
    jpeg_read_header(cinfo, TRUE);
    cinfo->out_color_space = cinfo->num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(cinfo);
    int comps = cinfo->output_components;
    if (cinfo->output_width != TIN_SIZE || cinfo->output_height != TIN_SIZE ||
        (comps != 1 && comps != 3))
        return axnn_error(AXNN_ERR_FORMAT, "%s: image is %ux%u with %d channels (expected 64x64)",
                          path, cinfo->output_width, cinfo->output_height, comps);
    unsigned char row[TIN_SIZE * 3];
    while (cinfo->output_scanline < cinfo->output_height) {
        JSAMPROW rows[1] = {row};
        int y = (int)cinfo->output_scanline;
        if (jpeg_read_scanlines(cinfo, rows, 1) != 1)
            return axnn_error(AXNN_ERR_FORMAT, "%s: JPEG decoding stopped early", path);
        store_row(row, comps, y, dst);
    }
    jpeg_finish_decompress(cinfo);
    return AXNN_OK;
}

/* Decodes the in-memory JPEG buf (read from path) into dst; libjpeg errors land at setjmp. */
static axnn_status decode_mem(const char *path, unsigned char *buf, size_t len, uint8_t *dst)
{
    struct jpeg_decompress_struct cinfo;
    jpeg_err err;
    cinfo.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = on_jpeg_error;
    err.mgr.emit_message = on_jpeg_message;
    err.mgr.output_message = on_jpeg_output;
    if (setjmp(err.jump)) {
        char msg[JMSG_LENGTH_MAX];
        err.mgr.format_message((j_common_ptr)&cinfo, msg);
        jpeg_destroy_decompress(&cinfo);
        return axnn_error(AXNN_ERR_FORMAT, "%s: corrupt JPEG (%s)", path, msg);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, buf, (unsigned long)len);
    axnn_status st = decode_rows(&cinfo, path, dst);
    jpeg_destroy_decompress(&cinfo);
    return st;
}

axnn_status axnn_jpeg64_decode(const char *name, const void *buf, size_t len, uint8_t *dst)
{
    if (!len) return axnn_error(AXNN_ERR_FORMAT, "%s: empty file, not a JPEG", name);
    return decode_mem(name, (unsigned char *)buf, len, dst);
}

/* Decodes the 64x64 JPEG at path into dst (3 planes of 64x64). */
static axnn_status decode_jpeg(const char *path, uint8_t *dst)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    axnn_status st = read_whole(path, &buf, &len);
    if (st) return st;
    st = decode_mem(path, buf, len, dst);
    free(buf);
    return st;
}

/* ---- the loader ---- */

static axnn_status decode_all(const entry_list *l, axnn_dataset *d)
{
    for (int64_t i = 0; i < l->n; i++) {
        axnn_status st = decode_jpeg(l->v[i].path, d->images + i * TIN_PIXELS);
        if (st) return st;
        d->labels[i] = l->v[i].label;
    }
    return AXNN_OK;
}

static axnn_status check_unique(const string_list *wnids, const char *dir)
{
    char **sorted = malloc((size_t)wnids->n * sizeof *sorted);
    if (!sorted) return axnn_error(AXNN_ERR_NOMEM, "out of memory");
    memcpy(sorted, wnids->v, (size_t)wnids->n * sizeof *sorted);
    qsort(sorted, (size_t)wnids->n, sizeof *sorted, cmp_string);
    axnn_status st = AXNN_OK;
    for (int i = 1; !st && i < wnids->n; i++)
        if (!strcmp(sorted[i - 1], sorted[i]))
            st = axnn_error(AXNN_ERR_FORMAT, "%s/wnids.txt: class %s listed twice", dir, sorted[i]);
    free(sorted);
    return st;
}

axnn_status axnn_tinyimagenet_load(const char *dir, bool train, axnn_dataset *out)
{
    memset(out, 0, sizeof *out);
    string_list wnids = {0};
    entry_list files = {0};
    axnn_status st = read_wnids(dir, &wnids);
    if (!st) st = check_unique(&wnids, dir);
    if (!st) st = train ? list_train(dir, &wnids, &files) : list_val(dir, &wnids, &files);
    if (!st) st = axnn_dataset_alloc(out, "tinyimagenet", files.n, 3, TIN_SIZE, TIN_SIZE, wnids.n);
    if (!st) st = decode_all(&files, out);
    entries_free(&files);
    if (st) {
        axnn_dataset_free(out);
        strings_free(&wnids);
        return st;
    }
    out->class_names = wnids.v; /* the dataset takes the wnid strings */
    return AXNN_OK;
}
