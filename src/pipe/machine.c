/* A string naming this machine's CPUs, stored in profiles and models so that a file measured
 * elsewhere can be recognized (and warned about). */
#include "axnn/pipe.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The first "model name" (x86) or "CPU part" (ARM) line of /proc/cpuinfo. */
static void cpu_model(char *buf, size_t len)
{
    snprintf(buf, len, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) && strncmp(line, "CPU part", 8)) continue;
        const char *v = strchr(line, ':');
        if (!v) continue;
        v++;
        while (*v == ' ' || *v == '\t') v++;
        snprintf(buf, len, "%s", v);
        buf[strcspn(buf, "\n")] = 0;
        break;
    }
    fclose(f);
}

void axnn_pipe_machine_id(char *buf, size_t len)
{
    char model[200];
    cpu_model(model, sizeof model);
    snprintf(buf, len, "%s; %ld CPUs; %s", model, sysconf(_SC_NPROCESSORS_ONLN),
             axnn_cpu_isa_name());
}
