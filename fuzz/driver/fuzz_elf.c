/* libFuzzer entry: the input is one archive member, an ELF image. */
#include "replay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    replay_elf(data, size);
    return 0;
}
