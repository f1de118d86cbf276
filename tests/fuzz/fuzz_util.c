/* See fuzz_util.h. */
#define _GNU_SOURCE
#include "fuzz_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[512];
static char paths[8][1024];

static void remove_dir(void)
{
    char cmd[600];
    if (!dir[0]) return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) fprintf(stderr, "fuzz: could not remove %s\n", dir);
}

const char *fuzz_dir(void)
{
    if (dir[0]) return dir;
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/axnn-fuzz-%d", t && *t ? t : "/tmp", (int)getpid());
    if (mkdir(dir, 0700) && errno != EEXIST) {
        perror(dir);
        abort();
    }
    atexit(remove_dir);
    return dir;
}

const char *fuzz_mkdir(int slot, const char *name)
{
    char *p = paths[slot];
    snprintf(p, sizeof paths[slot], "%s/%s", fuzz_dir(), name);
    for (char *s = p + strlen(dir) + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            mkdir(p, 0700);
            *s = '/';
        }
    if (mkdir(p, 0700) && errno != EEXIST) {
        perror(p);
        abort();
    }
    return p;
}

const char *fuzz_write(int slot, const char *name, const void *data, size_t len)
{
    char *p = paths[slot];
    snprintf(p, sizeof paths[slot], "%s/%s", fuzz_dir(), name);
    FILE *f = fopen(p, "wb");
    if (!f || (len && fwrite(data, 1, len, f) != len) || fclose(f)) {
        perror(p);
        abort();
    }
    return p;
}

void fuzz_split(const uint8_t *data, size_t len, const char *sep, size_t *head_len,
                const uint8_t **rest, size_t *rest_len)
{
    size_t k = strlen(sep);
    const uint8_t *hit = k <= len ? memmem(data, len, sep, k) : NULL;
    if (!hit) {
        *head_len = len;
        *rest = NULL;
        *rest_len = 0;
        return;
    }
    *head_len = (size_t)(hit - data);
    *rest = hit + k;
    *rest_len = len - *head_len - k;
}
