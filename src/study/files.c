/* File helpers of the study: the output folder is checked (and created) before any work starts,
 * small files are read only when they are regular files of a sane size, and JSON strings are
 * quoted by cJSON. */
#include "study/study_internal.h"

#include "axnn/report.h"

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
    return axnn_mkdir_p(dir);
}

axnn_status study_check_out(const char *dir)
{
    return axnn_output_dir(dir);
}

axnn_status study_read_file(const char *path, size_t max, char **out)
{
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb))
        return errno == ENOENT ? AXNN_OK : axnn_error(AXNN_ERR_IO, "%s: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode)) return axnn_error(AXNN_ERR_IO, "%s: not a regular file", path);
    if ((uint64_t)sb.st_size > max)
        return axnn_error(AXNN_ERR_FORMAT, "%s: %lld bytes, too large for a study file", path,
                          (long long)sb.st_size);
    FILE *f = fopen(path, "rb");
    if (!f) return axnn_error(AXNN_ERR_IO, "%s: %s", path, strerror(errno));
    size_t n = (size_t)sb.st_size;
    char *b = malloc(n + 1);
    bool ok = b && fread(b, 1, n, f) == n;
    fclose(f);
    if (!ok) {
        free(b);
        return b ? axnn_error(AXNN_ERR_IO, "%s: read failed", path)
                 : axnn_error(AXNN_ERR_NOMEM, "%s: out of memory", path);
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
