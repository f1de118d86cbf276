/* libFuzzer target: saved training configurations (the JSON object stored as checkpoint
 * metadata 'train' and applied on --resume by cli_flags_apply_json). Flags of every type and
 * range are set from the input; when that succeeds, writing them back out and applying the
 * result to fresh flags must succeed and give the same JSON again (a round-trip property). */
#include "../../tools/axnn/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct vals {
    const char *s1, *s2;
    int i1, i2;
    float f1, f2;
    bool b1;
    uint64_t u1;
} vals;

static int make_flags(vals *v, cli_flag *f)
{
    memset(v, 0, sizeof *v);
    v->i1 = 15; /* defaults in range, as every CLI flag's are */
    v->f1 = 0.1f;
    int n = 0;
    f[n++] = (cli_flag){"arch", FLAG_STR, &v->s1, "NAME", ""};
    f[n++] = (cli_flag){"milestones", FLAG_STR, &v->s2, "E,E", ""};
    f[n++] = (cli_flag){"epochs", FLAG_INT, &v->i1, "N", "", 1, 1e6};
    f[n++] = (cli_flag){"patch", FLAG_INT, &v->i2, "P", ""};
    f[n++] = (cli_flag){"lr", FLAG_FLOAT, &v->f1, "X", "", 0, 100};
    f[n++] = (cli_flag){"clip", FLAG_FLOAT, &v->f2, "X", ""};
    f[n++] = (cli_flag){"hflip", FLAG_BOOL, &v->b1, NULL, ""};
    f[n++] = (cli_flag){"seed", FLAG_U64, &v->u1, "N", ""};
    return n;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    FILE *null = fopen("/dev/null", "w"); /* cli_fail's lines; sanitizer reports use fd 2 */
    if (null) stderr = null;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    char *json = malloc(len + 1);
    if (!json) return 0;
    memcpy(json, data, len);
    json[len] = 0;
    vals v, w;
    cli_flag f[8], g[8];
    int n = make_flags(&v, f);
    make_flags(&w, g);
    if (cli_flags_apply_json(f, n, json, NULL) == 0) {
        char *out = cli_flags_to_json(f, n, NULL);
        if (!out || cli_flags_apply_json(g, n, out, NULL) != 0) abort();
        char *again = cli_flags_to_json(g, n, NULL);
        if (!again || strcmp(out, again)) abort();
        free(out);
        free(again);
    }
    cli_flags_free_saved();
    free(json);
    return 0;
}
