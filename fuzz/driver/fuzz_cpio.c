/* libFuzzer entry: the input is the CPIO archive the loader carries. */
#include "replay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    replay_archive(data, size);
    return 0;
}
