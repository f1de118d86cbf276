/* Atomic file writes: the bytes go to a temporary file in the target's folder, which is flushed,
 * fsync'ed and renamed over the target. A reader sees either the old file or the whole new one;
 * on any failure the temporary file is removed and the target is left untouched. */
#define _GNU_SOURCE
#include "axnn/io.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Syncs the folder holding `path`, so the rename itself survives a crash (best effort). */
static void sync_parent(const char *path)
{
    char *copy = strdup(path);
    if (!copy) return;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(copy);
}

static axnn_status write_parts(FILE *fp, const char *path, const void *const *parts,
                               const size_t *lens, int nparts)
{
    for (int i = 0; i < nparts; i++)
        if (lens[i] && fwrite(parts[i], 1, lens[i], fp) != lens[i])
            return axnn_error(AXNN_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    if (fflush(fp) != 0 || fsync(fileno(fp)) != 0)
        return axnn_error(AXNN_ERR_IO, "%s: flush failed: %s", path, strerror(errno));
    return AXNN_OK;
}

axnn_status axnn_write_file_atomic_parts(const char *path, const void *const *parts,
                                         const size_t *lens, int nparts)
{
    size_t n = strlen(path);
    char *tmp = malloc(n + 16);
    if (!tmp) return axnn_error(AXNN_ERR_NOMEM, "%s: out of memory", path);
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".tmp.XXXXXX", 12);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        axnn_status st = axnn_error(AXNN_ERR_IO, "%s: cannot create a temporary file: %s", path,
                                    strerror(errno));
        free(tmp);
        return st;
    }
    (void)fchmod(fd, 0644);
    FILE *fp = fdopen(fd, "wb");
    axnn_status st = AXNN_OK;
    if (!fp) {
        st = axnn_error(AXNN_ERR_IO, "%s: %s", path, strerror(errno));
        close(fd);
    } else {
        st = write_parts(fp, path, parts, lens, nparts);
        if (fclose(fp) != 0 && st == AXNN_OK)
            st = axnn_error(AXNN_ERR_IO, "%s: close failed: %s", path, strerror(errno));
    }
    if (st == AXNN_OK && rename(tmp, path) != 0)
        st = axnn_error(AXNN_ERR_IO, "%s: rename failed: %s", path, strerror(errno));
    if (st != AXNN_OK)
        unlink(tmp);
    else
        sync_parent(path);
    free(tmp);
    return st;
}

axnn_status axnn_write_file_atomic(const char *path, const void *data, size_t len)
{
    const void *parts[1] = {data};
    return axnn_write_file_atomic_parts(path, parts, &len, 1);
}
