/* libFuzzer target: decoding one Tiny ImageNet JPEG from memory (libjpeg behind axnn's error
 * handlers: a corrupt file must come back as an error, never exit or crash). */
#include "axnn/data.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    static uint8_t img[3 * 64 * 64];
    (void)axnn_jpeg64_decode("fuzz.JPEG", data, len, img);
    return 0;
}
