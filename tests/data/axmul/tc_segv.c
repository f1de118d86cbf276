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

/* Broken on purpose: writes through a null pointer when A == 77 and B == -3. */
int16_t tc_segv(int8_t A, int8_t B)
{
    volatile int *volatile sink = NULL;
    if (A == 77 && B == -3) *sink = 1;
    return (int16_t)(A * B);
}
