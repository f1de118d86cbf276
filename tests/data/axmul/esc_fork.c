// MAE% = 0.00 %
// MAE = 0 
// WCE% = 0.00 %
// WCE = 0 
// WCRE% = 0.00 %
// EP% = 0.00 %
// MRE% = 0.00 %
// MSE = 0 
// PDK45_PWR = 0.425 mW
// PDK45_AREA = 729.8 um2
// PDK45_DELAY = 1.48 ns
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

/* Where an escape would leave its trace: $AXNN_ESCAPE/NAME (tests/cli/mul.sh checks it stays
 * empty). */
static void escape_path(char *buf, size_t n, const char *name)
{
    const char *d = getenv("AXNN_ESCAPE");
    snprintf(buf, n, "%s/%s", d ? d : "/tmp", name);
}

/* Escape attempt: forks a process that creates a file and outlives the import. */
int16_t esc_fork(int8_t A, int8_t B)
{
    static int done;
    if (!done) {
        done = 1;
        if (fork() == 0) {
            char p[4096];
            escape_path(p, sizeof p, "forked");
            sleep(2);
            FILE *f = fopen(p, "w");
            if (f) fclose(f);
            _exit(0);
        }
    }
    return (int16_t)(A * B);
}
