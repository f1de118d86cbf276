/* File helpers of the study: the output folder is checked (and created) before any work starts,
 * small files are read only when they are regular files of a sane size, and JSON strings are
 * quoted by cJSON. */
#include "study/study_internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

axnn_status study_mkdir_p(const char *dir)
{
    char b[4096];
    if (snprintf(b, sizeof b, "%s", dir) >= (int)sizeof b) return axnn_error(AXNN_ERR_ARG, "%.64s...: path too long", dir);
    for (char *p = b + 1;; p++) {
        bool end = !*p;
        if (*p == '/' || end) {
            *p = 0;
            struct stat sb;
            if (!stat(b, &sb) && !S_ISDIR(sb.st_mode))
                return axnn_error(AXNN_ERR_IO, "%s: cannot be a folder: %s is a file", dir, b);
            if (mkdir(b, 0777) && errno != EEXIST)
                return axnn_error(AXNN_ERR_IO, "%s: cannot create folder %s: %s", dir, b, strerror(errno));
            if (end) break;
            *p = '/';
        }
    }
    return AXNN_OK;
}

axnn_status study_check_out(const char *dir)
{
    if (!dir || !*dir) return axnn_error(AXNN_ERR_ARG, "--out: empty folder name");
    axnn_status st = study_mkdir_p(dir);
    if (st) return st;
    /* a real write, not access(): it also answers for read-only mounts and for root */
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/.write-check.tmp.XXXXXX", dir);
    int fd = mkstemp(probe);
    if (fd < 0) return axnn_error(AXNN_ERR_IO, "%s: the output folder is not writable: %s", dir, strerror(errno));
    bool ok = write(fd, "x", 1) == 1;
    int e = errno;
    ok = !close(fd) && ok;
    unlink(probe);
    if (!ok) return axnn_error(AXNN_ERR_IO, "%s: cannot write in the output folder: %s", dir, strerror(e));
    return AXNN_OK;
}

axnn_status study_read_file(const char *path, size_t max, char **out)
{
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb)) return errno == ENOENT ? AXNN_OK : axnn_error(AXNN_ERR_IO, "%s: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode)) return axnn_error(AXNN_ERR_IO, "%s: not a regular file", path);
    if ((uint64_t)sb.st_size > max)
        return axnn_error(AXNN_ERR_FORMAT, "%s: %lld bytes, too large for a study file", path, (long long)sb.st_size);
    FILE *f = fopen(path, "rb");
    if (!f) return axnn_error(AXNN_ERR_IO, "%s: %s", path, strerror(errno));
    size_t n = (size_t)sb.st_size;
    char *b = malloc(n + 1);
    bool ok = b && fread(b, 1, n, f) == n;
    fclose(f);
    if (!ok) {
        free(b);
        return b ? axnn_error(AXNN_ERR_IO, "%s: read failed", path) : axnn_error(AXNN_ERR_NOMEM, "%s: out of memory", path);
    }
    b[n] = 0;
    *out = b;
    return AXNN_OK;
}

void study_json_quote(char *dst, size_t n, const char *s)
{
    cJSON *o = cJSON_CreateString(s ? s : "");
    char *q = o ? cJSON_PrintUnformatted(o) : NULL;
    snprintf(dst, n, "%s", q ? q : "\"\"");
    free(q);
    cJSON_Delete(o);
}
