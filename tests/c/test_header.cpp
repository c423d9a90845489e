// The header must also compile as C++ (-std=c++17 -Wall -Wextra -Werror
// -pedantic) and link: extern "C" linkage, no C-only constructs.
#include "slotrt.h"

#include <cstdio>
#include <cstring>
#include <vector>

int main() {
    if (slotrt_check_abi(SLOTRT_ABI_VERSION) != SLOTRT_STATUS_OK) {
        std::fprintf(stderr, "ABI mismatch: %s\n", slotrt_last_error_message());
        return 1;
    }
    slotrt_synth_options options;
    slotrt_synth_clip *clip = nullptr;
    int failed = 0;
    failed += slotrt_synth_options_init(&options) != SLOTRT_STATUS_OK;
    options.frames = 2;
    failed += slotrt_synth_clip_generate(&options, &clip) != SLOTRT_STATUS_OK;
    std::vector<uint8_t> rgb(options.width * options.height * 3);
    failed += slotrt_synth_clip_frame(clip, 1, rgb.data(), rgb.size(), nullptr, 0) != SLOTRT_STATUS_OK;
    slotrt_synth_clip_free(clip);
    std::printf("cpp_header: %d checks ok, %d checks failed\n", 3 - failed, failed);
    return failed == 0 ? 0 : 1;
}
