/* Output folders, checked before any work starts: created with their parents when missing;
 * a file in the way, or a folder that cannot be written, is an error naming it. */
#include "axnn/report.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

axnn_status axnn_mkdir_p(const char *dir)
{
    char b[4096];
    if (snprintf(b, sizeof b, "%s", dir) >= (int)sizeof b)
        return axnn_error(AXNN_ERR_ARG, "%.64s...: path too long", dir);
    for (char *p = b + 1;; p++) {
        bool end = !*p;
        if (*p == '/' || end) {
            *p = 0;
            struct stat sb;
            if (!stat(b, &sb) && !S_ISDIR(sb.st_mode))
                return end ? axnn_error(AXNN_ERR_IO, "%s: is a file, not a folder", dir)
                           : axnn_error(AXNN_ERR_IO, "%s: cannot be a folder: %s is a file", dir,
                                        b);
            if (mkdir(b, 0777) && errno != EEXIST)
                return axnn_error(AXNN_ERR_IO, "%s: cannot create folder %s: %s", dir, b,
                                  strerror(errno));
            if (end) break;
            *p = '/';
        }
    }
    return AXNN_OK;
}

axnn_status axnn_output_dir(const char *dir)
{
    if (!dir || !*dir) return axnn_error(AXNN_ERR_ARG, "--out: empty folder name");
    axnn_status st = axnn_mkdir_p(dir);
    if (st) return st;
    /* a real write, not access(): it also answers for read-only mounts and for root */
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/.write-check.tmp.XXXXXX", dir);
    int fd = mkstemp(probe);
    if (fd < 0)
        return axnn_error(AXNN_ERR_IO, "%s: the output folder is not writable: %s", dir,
                          strerror(errno));
    bool ok = write(fd, "x", 1) == 1;
    int e = errno;
    ok = !close(fd) && ok;
    unlink(probe);
    if (!ok)
        return axnn_error(AXNN_ERR_IO, "%s: cannot write in the output folder: %s", dir,
                          strerror(e));
    return AXNN_OK;
}

axnn_status axnn_output_files(const char *dir, const char *const *names)
{
    for (int i = 0; names[i]; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        struct stat sb;
        if (!lstat(path, &sb) && !S_ISREG(sb.st_mode))
            return axnn_error(AXNN_ERR_IO, "%s: exists and is not a regular file, so it cannot be replaced", path);
    }
    return AXNN_OK;
}
