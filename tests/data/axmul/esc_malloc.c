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

/* Escape attempt: allocates and touches 64 GiB. */
int16_t esc_malloc(int8_t A, int8_t B)
{
    static char *p;
    size_t n = (size_t)64 << 30;
    if (!p) {
        p = malloc(n);
        memset(p, 1, n);
    }
    return (int16_t)(A * B + p[0] - 1);
}
