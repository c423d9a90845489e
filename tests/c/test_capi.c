/* C ABI test: version, errors and misuse (NULL everywhere it can be passed,
 * wrong struct sizes, unknown enum values), built with
 * -std=c11 -Wall -Wextra -Werror -pedantic against include/slotrt.h and run
 * against both the shared and the static library by scripts/test.sh. */
#include "slotrt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>

#include "check.h"

static void test_version(void) {
    char expected[64];
    snprintf(expected, sizeof expected, "%d.%d.%d", SLOTRT_VERSION_MAJOR,
             SLOTRT_VERSION_MINOR, SLOTRT_VERSION_PATCH);
    CHECK(strcmp(slotrt_version(), expected) == 0);
    CHECK(slotrt_abi_version() == SLOTRT_ABI_VERSION);
    CHECK(slotrt_check_abi(SLOTRT_ABI_VERSION) == SLOTRT_STATUS_OK);
    CHECK(strcmp(slotrt_last_error_message(), "") == 0);
    CHECK_ERR(slotrt_check_abi(SLOTRT_ABI_VERSION + 1), SLOTRT_STATUS_ABI_MISMATCH, "ABI");
}

static void test_status_names(void) {
    CHECK(strcmp(slotrt_status_name(SLOTRT_STATUS_OK), "SLOTRT_STATUS_OK") == 0);
    CHECK(strcmp(slotrt_status_name(SLOTRT_STATUS_TIMEOUT), "SLOTRT_STATUS_TIMEOUT") == 0);
    CHECK(strcmp(slotrt_status_name(SLOTRT_STATUS_INTERNAL), "SLOTRT_STATUS_INTERNAL") == 0);
    CHECK(strcmp(slotrt_status_name(-5), "SLOTRT_STATUS_UNKNOWN") == 0);
    CHECK(strcmp(slotrt_status_name(9999), "SLOTRT_STATUS_UNKNOWN") == 0);
    /* Stable numbers: part of the ABI. */
    CHECK(SLOTRT_STATUS_OK == 0 && SLOTRT_STATUS_NULL_ARGUMENT == 1 && SLOTRT_STATUS_PANIC == 15);
}

static void test_devices(void) {
    bool available = slotrt_cuda_available();
    uint32_t count = slotrt_cuda_device_count();
    CHECK(available == (count > 0));
    if (available) CHECK(slotrt_built_with_cuda());
}

static void test_null_arguments(void) {
    slotrt_synth_options options;
    slotrt_synth_clip *clip = NULL;
    slotrt_synth_clip_info info;
    slotrt_clip_scores scores;
    int32_t labels[3] = {0, 1, 1};
    double value = -7.0;
    uint8_t rgb[16];

    CHECK_ERR(slotrt_synth_options_init(NULL), SLOTRT_STATUS_NULL_ARGUMENT, "`options`");
    CHECK(slotrt_synth_options_init(&options) == SLOTRT_STATUS_OK);
    CHECK_ERR(slotrt_synth_clip_generate(NULL, &clip), SLOTRT_STATUS_NULL_ARGUMENT, "`options`");
    CHECK_ERR(slotrt_synth_clip_generate(&options, NULL), SLOTRT_STATUS_NULL_ARGUMENT, "`out_clip`");
    CHECK(clip == NULL);
    info.struct_size = sizeof info;
    CHECK_ERR(slotrt_synth_clip_get_info(NULL, &info), SLOTRT_STATUS_NULL_ARGUMENT, "`clip`");
    CHECK_ERR(slotrt_synth_clip_frame(NULL, 0, rgb, sizeof rgb, NULL, 0), SLOTRT_STATUS_NULL_ARGUMENT, "`clip`");
    slotrt_synth_clip_free(NULL); /* a no-op */

    CHECK_ERR(slotrt_ari(NULL, labels, 3, &value), SLOTRT_STATUS_NULL_ARGUMENT, "`true_labels`");
    CHECK_ERR(slotrt_ari(labels, NULL, 3, &value), SLOTRT_STATUS_NULL_ARGUMENT, "`pred_labels`");
    CHECK_ERR(slotrt_ari(labels, labels, 3, NULL), SLOTRT_STATUS_NULL_ARGUMENT, "`out_ari`");
    CHECK_ERR(slotrt_fg_ari(NULL, labels, 3, &value), SLOTRT_STATUS_NULL_ARGUMENT, "`true_labels`");
    CHECK(value == -7.0); /* outputs untouched on error */
    /* Zero points: NULL arrays are fine. */
    CHECK(slotrt_ari(NULL, NULL, 0, &value) == SLOTRT_STATUS_OK && value == 1.0);

    scores.struct_size = sizeof scores;
    CHECK_ERR(slotrt_score_clip(NULL, labels, 1, 1, 3, &scores), SLOTRT_STATUS_NULL_ARGUMENT, "`true_ids`");
    CHECK_ERR(slotrt_score_clip(labels, NULL, 1, 1, 3, &scores), SLOTRT_STATUS_NULL_ARGUMENT, "`pred_ids`");
    CHECK_ERR(slotrt_score_clip(labels, labels, 1, 1, 3, NULL), SLOTRT_STATUS_NULL_ARGUMENT, "`out`");
}

static void test_struct_sizes_and_enums(void) {
    slotrt_synth_options options;
    slotrt_synth_clip *clip = (slotrt_synth_clip *)&options; /* sentinel */
    slotrt_clip_scores scores;
    int32_t labels[2] = {0, 1};

    CHECK(slotrt_synth_options_init(&options) == SLOTRT_STATUS_OK);
    CHECK(options.struct_size == sizeof options);
    options.struct_size = 0;
    CHECK_ERR(slotrt_synth_clip_generate(&options, &clip), SLOTRT_STATUS_STRUCT_SIZE, "struct_size");
    options.struct_size = sizeof options + 8;
    CHECK_ERR(slotrt_synth_clip_generate(&options, &clip), SLOTRT_STATUS_STRUCT_SIZE, "newer header");
    options.struct_size = sizeof options;

    options.split = 7;
    CHECK_ERR(slotrt_synth_clip_generate(&options, &clip), SLOTRT_STATUS_UNKNOWN_ENUM, "split");
    options.split = SLOTRT_SPLIT_TEST;
    options.shapes = 1u << 20;
    CHECK_ERR(slotrt_synth_clip_generate(&options, &clip), SLOTRT_STATUS_UNKNOWN_ENUM, "shapes");
    options.shapes = 1u << SLOTRT_SHAPE_DISC;
    options.motions = 0;
    CHECK_ERR(slotrt_synth_clip_generate(&options, &clip), SLOTRT_STATUS_INVALID_ARGUMENT, "motions");
    options.motions = 1u << SLOTRT_MOTION_BOUNCE;
    options.width = 0;
    CHECK_ERR(slotrt_synth_clip_generate(&options, &clip), SLOTRT_STATUS_INVALID_ARGUMENT, "width");
    options.width = 64;
    options.max_objects = 1000;
    CHECK_ERR(slotrt_synth_clip_generate(&options, &clip), SLOTRT_STATUS_INVALID_ARGUMENT, "max_objects");
    CHECK(clip == (slotrt_synth_clip *)&options); /* untouched on every error */

    scores.struct_size = 3;
    CHECK_ERR(slotrt_score_clip(labels, labels, 1, 1, 2, &scores), SLOTRT_STATUS_STRUCT_SIZE, "out->struct_size");
    scores.struct_size = sizeof scores;
    CHECK_ERR(slotrt_score_clip(labels, labels, 0, 1, 2, &scores), SLOTRT_STATUS_INVALID_ARGUMENT, "frames");
}

static void test_clip_roundtrip(void) {
    slotrt_synth_options options;
    slotrt_synth_clip *a = NULL, *b = NULL;
    slotrt_synth_clip_info info;
    slotrt_clip_scores scores;

    CHECK(slotrt_synth_options_init(&options) == SLOTRT_STATUS_OK);
    options.width = 48;
    options.height = 32;
    options.frames = 6;
    options.split = SLOTRT_SPLIT_VALIDATION;
    options.clip_index = 3;
    CHECK(slotrt_synth_clip_generate(&options, &a) == SLOTRT_STATUS_OK && a != NULL);
    CHECK(slotrt_synth_clip_generate(&options, &b) == SLOTRT_STATUS_OK && b != NULL);
    if (!a || !b) return;

    info.struct_size = sizeof info;
    CHECK(slotrt_synth_clip_get_info(a, &info) == SLOTRT_STATUS_OK);
    CHECK(info.width == 48 && info.height == 32 && info.frames == 6);
    CHECK(info.num_objects >= options.min_objects && info.num_objects <= options.max_objects);

    size_t pixels = (size_t)info.width * info.height;
    uint8_t *rgb_a = malloc(pixels * 3), *rgb_b = malloc(pixels * 3);
    uint8_t *ids = malloc(pixels), *ids_b = malloc(pixels);
    int32_t *true_ids = malloc(sizeof(int32_t) * pixels * info.frames);
    int32_t *pred_ids = malloc(sizeof(int32_t) * pixels * info.frames);
    for (uint32_t t = 0; t < info.frames; t++) {
        CHECK(slotrt_synth_clip_frame(a, t, rgb_a, pixels * 3, ids, pixels) == SLOTRT_STATUS_OK);
        CHECK(slotrt_synth_clip_frame(b, t, rgb_b, pixels * 3, ids_b, pixels) == SLOTRT_STATUS_OK);
        CHECK(memcmp(rgb_a, rgb_b, pixels * 3) == 0 && memcmp(ids, ids_b, pixels) == 0);
        for (size_t i = 0; i < pixels; i++) {
            if (ids[i] > info.num_objects) { CHECK(ids[i] <= info.num_objects); break; }
            true_ids[t * pixels + i] = ids[i];
            /* A perfect prediction under renamed labels. */
            pred_ids[t * pixels + i] = 100 - (int32_t)ids[i];
        }
    }
    /* Skipping a buffer with NULL; a short buffer is refused, untouched. */
    CHECK(slotrt_synth_clip_frame(a, 0, NULL, 0, ids, pixels) == SLOTRT_STATUS_OK);
    memset(rgb_a, 0xAB, 4);
    CHECK_ERR(slotrt_synth_clip_frame(a, 0, rgb_a, pixels * 3 - 1, ids, pixels), SLOTRT_STATUS_BUFFER_TOO_SMALL, "`rgb`");
    CHECK(rgb_a[0] == 0xAB && rgb_a[3] == 0xAB);
    CHECK_ERR(slotrt_synth_clip_frame(a, info.frames, rgb_a, pixels * 3, NULL, 0), SLOTRT_STATUS_INVALID_ARGUMENT, "out of range");

    scores.struct_size = sizeof scores;
    CHECK(slotrt_score_clip(true_ids, pred_ids, info.frames, info.height, info.width, &scores) == SLOTRT_STATUS_OK);
    CHECK(scores.ari == 1.0 && scores.video_mbo == 1.0);
    if (scores.frames_with_objects > 0) {
        CHECK(scores.fg_ari == 1.0 && scores.miou == 1.0 && scores.video_fg_ari == 1.0);
    }
    /* Everything predicted as one segment: chance-level ARI. */
    for (size_t i = 0; i < pixels * info.frames; i++) pred_ids[i] = 0;
    CHECK(slotrt_score_clip(true_ids, pred_ids, info.frames, info.height, info.width, &scores) == SLOTRT_STATUS_OK);
    CHECK(fabs(scores.ari) < 1e-12);

    free(rgb_a); free(rgb_b); free(ids); free(ids_b); free(true_ids); free(pred_ids);
    slotrt_synth_clip_free(a);
    slotrt_synth_clip_free(b);
}

static int other_thread(void *arg) {
    (void)arg;
    /* Fresh thread: no error yet; its own error does not leak back. */
    int ok = strcmp(slotrt_last_error_message(), "") == 0;
    slotrt_synth_options_init(NULL);
    return ok && slotrt_last_error_status() == SLOTRT_STATUS_NULL_ARGUMENT;
}

static void test_last_error_is_thread_local(void) {
    thrd_t thread;
    int result = 0;
    CHECK(slotrt_check_abi(0) == SLOTRT_STATUS_ABI_MISMATCH);
    const char *message = slotrt_last_error_message();
    CHECK(thrd_create(&thread, other_thread, NULL) == thrd_success);
    CHECK(thrd_join(thread, &result) == thrd_success);
    CHECK(result == 1);
    CHECK(slotrt_last_error_status() == SLOTRT_STATUS_ABI_MISMATCH);
    CHECK(strstr(message, "ABI") != NULL);
}

int main(void) {
    test_version();
    test_status_names();
    test_devices();
    test_null_arguments();
    test_struct_sizes_and_enums();
    test_clip_roundtrip();
    test_last_error_is_thread_local();
    /* Checks, not test cases: scripts/c_tests.sh counts this program as one case. */
    printf("c_api: %d checks ok, %d checks failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
