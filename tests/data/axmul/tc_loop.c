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

/* Broken on purpose: never returns for A == 5 and B == 5 (volatile, so the loop stays). */
int16_t tc_loop(int8_t A, int8_t B)
{
    volatile int spin = 1;
    while (A == 5 && B == 5 && spin) {
    }
    return (int16_t)(A * B);
}
