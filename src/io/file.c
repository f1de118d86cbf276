/* Opening input files safely, and checking output paths before work starts.
 *
 * Readers must only ever read regular files: a folder opens fine with fopen() and then fails
 * with a misleading "truncated" message, /dev/zero never ends, and a FIFO blocks in open()
 * until a writer appears. So every reader opens with O_NONBLOCK (which makes open() of a FIFO
 * return at once), checks with fstat() on the descriptor it got (no race between check and
 * use) that it is a regular file, then clears O_NONBLOCK. The file's size comes with it, so
 * callers can check header counts against it before allocating anything.
 *
 * Output checks answer, before an epoch or a sweep runs, whether a folder can be created or
 * written and whether a file can be created in its folder.
 */
#define _GNU_SOURCE
#include "axnn/io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *kind_of(mode_t m)
{
    if (S_ISDIR(m)) return "a folder";
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISSOCK(m)) return "a socket";
    return "not a regular file";
}

axnn_status axnn_open_regular(const char *path, int *fd_out, uint64_t *size)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return axnn_error(AXNN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return axnn_error(AXNN_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return axnn_error(AXNN_ERR_IO, "%s: is %s, not a regular file", path, kind_of(st.st_mode));
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    *fd_out = fd;
    if (size) *size = (uint64_t)st.st_size;
    return AXNN_OK;
}

axnn_status axnn_fopen_regular(const char *path, FILE **fp, uint64_t *size)
{
    int fd;
    axnn_status st = axnn_open_regular(path, &fd, size);
    if (st) return st;
    *fp = fdopen(fd, "rb");
    if (!*fp) {
        int e = errno;
        close(fd);
        return axnn_error(AXNN_ERR_IO, "%s: cannot open: %s", path, strerror(e));
    }
    return AXNN_OK;
}

axnn_status axnn_check_regular(const char *path, uint64_t *size)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return axnn_error(AXNN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return axnn_error(AXNN_ERR_IO, "%s: is %s, not a regular file", path, kind_of(st.st_mode));
    if (size) *size = (uint64_t)st.st_size;
    return AXNN_OK;
}

axnn_status axnn_read_regular(const char *path, uint64_t max, uint8_t **buf, size_t *len)
{
    FILE *fp;
    uint64_t size;
    axnn_status st = axnn_fopen_regular(path, &fp, &size);
    if (st) return st;
    if (size > max || size > SIZE_MAX - 1) {
        fclose(fp);
        return axnn_error(AXNN_ERR_FORMAT, "%s: file of %llu bytes is larger than the %llu allowed",
                          path, (unsigned long long)size, (unsigned long long)max);
    }
    uint8_t *b = malloc((size_t)size + 1);
    if (!b) {
        fclose(fp);
        return axnn_error(AXNN_ERR_NOMEM, "%s: out of memory reading %llu bytes", path,
                          (unsigned long long)size);
    }
    size_t got = fread(b, 1, (size_t)size, fp);
    bool err = ferror(fp) != 0;
    fclose(fp);
    if (got != size) {
        free(b);
        return axnn_error(AXNN_ERR_IO, "%s: %s after %zu of %llu bytes", path,
                          err ? "read failed" : "file shrank while reading", got,
                          (unsigned long long)size);
    }
    b[size] = 0; /* text readers may treat the buffer as a string */
    *buf = b;
    *len = (size_t)size;
    return AXNN_OK;
}

/* Whether the folder `dir` (which exists) accepts new files; `whole` is the path asked about. */
static axnn_status check_dir_writable(const char *dir, const char *whole, const char *what)
{
    struct stat st;
    bool self = !strcmp(dir, whole);
    char where[4200] = "";
    if (!self) snprintf(where, sizeof where, " (in %s)", dir);
    if (stat(dir, &st) != 0)
        return axnn_error(AXNN_ERR_IO, "%s %s: %s%s", what, whole, strerror(errno), where);
    if (!S_ISDIR(st.st_mode))
        return axnn_error(AXNN_ERR_IO, "%s %s: %s is %s, not a folder", what, whole,
                          self ? "it" : dir, S_ISREG(st.st_mode) ? "a file" : kind_of(st.st_mode));
    /* access() says yes to root everywhere: a real file tells (read-only mounts, sysfs, ...) */
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/.axnn-probe-XXXXXX", dir);
    int fd = access(dir, W_OK | X_OK) == 0 ? mkstemp(probe) : -1;
    if (fd < 0)
        return axnn_error(AXNN_ERR_IO, "%s %s: folder %s is not writable: %s", what, whole, dir,
                          strerror(errno));
    close(fd);
    unlink(probe);
    return AXNN_OK;
}

/* Walks up from dir to its deepest existing ancestor, which must be a writable folder. */
static axnn_status check_dir_for(const char *dir, const char *whole, const char *what)
{
    char buf[4096];
    if (!dir || !*dir) return axnn_error(AXNN_ERR_ARG, "%s: empty path", what);
    if (strlen(dir) >= sizeof buf) return axnn_error(AXNN_ERR_ARG, "%s: path too long", what);
    snprintf(buf, sizeof buf, "%s", dir);
    /* The deepest existing ancestor decides: it must be a writable folder. */
    for (;;) {
        struct stat st;
        if (stat(buf, &st) == 0) return check_dir_writable(buf, whole, what);
        if (errno != ENOENT && errno != ENOTDIR) /* ENOTDIR: a prefix is a file, found below */
            return axnn_error(AXNN_ERR_IO, "%s %s: %s", what, whole, strerror(errno));
        char *slash = strrchr(buf, '/');
        while (slash && slash > buf && slash[1] == 0) { /* trailing slashes */
            *slash = 0;
            slash = strrchr(buf, '/');
        }
        if (!slash) return check_dir_writable(".", whole, what);
        if (slash == buf) return check_dir_writable("/", whole, what);
        *slash = 0;
    }
}

axnn_status axnn_check_out_dir(const char *dir, const char *what)
{
    return check_dir_for(dir, dir, what);
}

axnn_status axnn_check_out_file(const char *path, const char *what)
{
    if (!path || !*path) return axnn_error(AXNN_ERR_ARG, "%s: empty path", what);
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return axnn_error(AXNN_ERR_IO, "%s %s: is %s, not a regular file", what, path,
                          kind_of(st.st_mode));
    char buf[4096];
    if (strlen(path) >= sizeof buf) return axnn_error(AXNN_ERR_ARG, "%s: path too long", what);
    snprintf(buf, sizeof buf, "%s", path);
    char *slash = strrchr(buf, '/');
    if (slash && slash[1] == 0)
        return axnn_error(AXNN_ERR_ARG, "%s %s: names a folder, not a file", what, path);
    if (!slash) return check_dir_writable(".", path, what);
    if (slash == buf) return check_dir_writable("/", path, what);
    *slash = 0;
    return check_dir_for(buf, path, what);
}
