/* C test of the streaming runtime on the shipped model: load errors, model
 * info, push/poll, views, process, batched step with resets, callbacks,
 * carried state, overload, bad frames and closed handles. Built with
 * -Werror and run (also under ASan/UBSan/LSan) by scripts/c_tests.sh.
 * Usage: test_runtime MODEL.safetensors */
#include "check.h"

#include <math.h>
#include <stdlib.h>
#include <threads.h>

enum { W = 64, H = 64, FRAMES = 8 };

static slotrt_model_info info;

/* A synthetic clip from the library's generator (test split). */
static slotrt_synth_clip *make_clip(uint64_t index) {
    slotrt_synth_options o;
    slotrt_synth_options_init(&o);
    o.frames = FRAMES;
    o.split = SLOTRT_SPLIT_TEST;
    o.clip_index = index;
    slotrt_synth_clip *clip = NULL;
    CHECK(slotrt_synth_clip_generate(&o, &clip) == SLOTRT_STATUS_OK);
    return clip;
}

static void clip_frame(const slotrt_synth_clip *clip, uint32_t t, uint8_t *rgb, slotrt_frame *frame) {
    CHECK(slotrt_synth_clip_frame(clip, t, rgb, W * H * 3, NULL, 0) == SLOTRT_STATUS_OK);
    CHECK(slotrt_frame_init(frame, rgb, W, H, SLOTRT_PIXEL_FORMAT_RGB8) == SLOTRT_STATUS_OK);
    frame->tag = t;
    frame->timestamp_ns = 1000 * (int64_t)t;
}

/* Caller-owned buffers for one result. */
typedef struct {
    float *slots, *masks;
    uint8_t *active, *labels;
    uint32_t *ids;
    slotrt_result result;
} buffers;

/* The most mask pixels a session may serve: refined masks come at the
 * input size, which no decoder or attention grid of this model exceeds. */
static size_t max_mask_pixels(void) {
    return (size_t)info.input_height * info.input_width;
}

static void buffers_init(buffers *b, size_t labels) {
    size_t k = info.num_slots;
    b->slots = calloc(k * info.slot_dim, sizeof(float));
    b->masks = calloc(k * max_mask_pixels(), sizeof(float));
    b->active = calloc(k, 1);
    b->ids = calloc(k, sizeof(uint32_t));
    b->labels = labels ? calloc(labels, 1) : NULL;
    slotrt_result_init(&b->result);
    b->result.slots = b->slots;
    b->result.slots_capacity = k * info.slot_dim;
    b->result.masks = b->masks;
    b->result.masks_capacity = k * max_mask_pixels();
    b->result.active = b->active;
    b->result.active_capacity = k;
    b->result.slot_ids = b->ids;
    b->result.slot_ids_capacity = k;
    b->result.labels = b->labels;
    b->result.labels_capacity = labels;
}

static void buffers_free(buffers *b) {
    free(b->slots);
    free(b->masks);
    free(b->active);
    free(b->ids);
    free(b->labels);
}

/* Soft masks (of the size the result says) are a partition of unity at
 * every pixel. */
static int masks_sum_to_one(const float *masks, const slotrt_result_info *r) {
    size_t n = (size_t)r->mask_height * r->mask_width;
    for (size_t p = 0; p < n; p++) {
        float sum = 0;
        for (size_t k = 0; k < info.num_slots; k++) sum += masks[k * n + p];
        if (fabsf(sum - 1.0f) > 1e-4f) return 0;
    }
    return 1;
}

static void test_load_errors(const char *dir) {
    slotrt_model *m = NULL;
    CHECK_ERR(slotrt_model_load("/nonexistent/model.safetensors", NULL, &m), SLOTRT_STATUS_IO, "nonexistent");
    CHECK(m == NULL);
    char path[512];
    snprintf(path, sizeof path, "%s/garbage.safetensors", dir);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        fputs("this is not a safetensors file at all, but long enough to have a header", f);
        fclose(f);
    }
    CHECK_ERR(slotrt_model_load(path, NULL, &m), SLOTRT_STATUS_BAD_MODEL, "");
    CHECK(m == NULL);
    slotrt_model_options o;
    slotrt_model_options_init(&o);
    o.device_type = 7;
    CHECK_ERR(slotrt_model_load(path, &o, &m), SLOTRT_STATUS_UNKNOWN_ENUM, "device_type");
    o.device_type = SLOTRT_DEVICE_TYPE_CUDA;
    o.device_index = 99;
    CHECK_ERR(slotrt_model_load(path, &o, &m), SLOTRT_STATUS_DEVICE_UNAVAILABLE, "cuda:99");
    slotrt_model_options_init(&o);
    CHECK(o.precision == SLOTRT_PRECISION_FP32);
    o.precision = 9;
    CHECK_ERR(slotrt_model_load(path, &o, &m), SLOTRT_STATUS_UNKNOWN_ENUM, "precision");
    slotrt_model_options_init(&o);
    CHECK(o.layout == SLOTRT_LAYOUT_AUTO);
    o.layout = 5;
    CHECK_ERR(slotrt_model_load(path, &o, &m), SLOTRT_STATUS_UNKNOWN_ENUM, "layout");
    remove(path);
}

/* Precision and layout: fp16 needs CUDA; auto reports what it chose. */
static void test_precision(const char *model_path) {
    slotrt_model_options o;
    slotrt_model_options_init(&o);
    slotrt_model *m = NULL;
    o.precision = SLOTRT_PRECISION_FP16;
    CHECK_ERR(slotrt_model_load(model_path, &o, &m), SLOTRT_STATUS_UNSUPPORTED, "fp16");
    CHECK(m == NULL);
    o.precision = SLOTRT_PRECISION_AUTO;
    CHECK(slotrt_model_load(model_path, &o, &m) == SLOTRT_STATUS_OK);
    slotrt_model_info mi;
    mi.struct_size = sizeof mi;
    CHECK(slotrt_model_get_info(m, &mi) == SLOTRT_STATUS_OK);
    CHECK(mi.precision == SLOTRT_PRECISION_FP32 || mi.precision == SLOTRT_PRECISION_BF16);
    slotrt_model_free(m);
    o.precision = SLOTRT_PRECISION_BF16;
    CHECK(slotrt_model_load(model_path, &o, &m) == SLOTRT_STATUS_OK);
    CHECK(slotrt_model_get_info(m, &mi) == SLOTRT_STATUS_OK && mi.precision == SLOTRT_PRECISION_BF16);
    CHECK(mi.layout == SLOTRT_LAYOUT_NCHW || mi.layout == SLOTRT_LAYOUT_CHANNELS_LAST);
    slotrt_model_free(m);
    o.layout = SLOTRT_LAYOUT_CHANNELS_LAST;
    CHECK(slotrt_model_load(model_path, &o, &m) == SLOTRT_STATUS_OK);
    CHECK(slotrt_model_get_info(m, &mi) == SLOTRT_STATUS_OK && mi.layout == SLOTRT_LAYOUT_CHANNELS_LAST);
    slotrt_model_free(m);
}

/* A copy of the first `bytes` of the model: a truncated download. */
static void test_truncated_model(const char *model_path, const char *dir) {
    FILE *in = fopen(model_path, "rb");
    CHECK(in != NULL);
    if (!in) return;
    char path[512];
    snprintf(path, sizeof path, "%s/truncated.safetensors", dir);
    FILE *out = fopen(path, "wb");
    char buf[4096];
    size_t total = 0, n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0 && total < 200000) {
        fwrite(buf, 1, n, out);
        total += n;
    }
    fclose(in);
    fclose(out);
    slotrt_model *m = NULL;
    CHECK_ERR(slotrt_model_load(path, NULL, &m), SLOTRT_STATUS_BAD_MODEL, "");
    CHECK(m == NULL);
    remove(path);
}

static void test_push_poll_and_views(const slotrt_model *model) {
    slotrt_session_options o;
    slotrt_session_options_init(&o);
    o.deterministic = true;
    o.seed = 5;
    o.warmup = false;
    o.overflow = 9;
    slotrt_session *session = NULL;
    CHECK_ERR(slotrt_session_create(model, &o, &session), SLOTRT_STATUS_UNKNOWN_ENUM, "overflow");
    o.overflow = SLOTRT_OVERFLOW_BLOCK;
    o.max_batch = 0;
    CHECK_ERR(slotrt_session_create(model, &o, &session), SLOTRT_STATUS_INVALID_ARGUMENT, "max_batch");
    o.max_batch = 8;
    o.queue_depth = FRAMES;
    CHECK(slotrt_session_create(model, &o, &session) == SLOTRT_STATUS_OK);
    uint32_t mh = 0, mw = 0;
    CHECK(slotrt_session_get_mask_size(session, &mh, &mw) == SLOTRT_STATUS_OK);
    /* The shipped model refines its masks at the input size by default. */
    CHECK(o.mask_source == SLOTRT_MASK_SOURCE_MODEL && o.mask_refinement == SLOTRT_MASK_REFINEMENT_MODEL);
    CHECK(mh == info.input_height && mw == info.input_width);
    {
        /* Unrefined, the default mask source serves the masks the model
         * segments with, at their own size. */
        slotrt_session_options raw = o;
        raw.mask_refinement = 7;
        slotrt_session *s2 = NULL;
        CHECK_ERR(slotrt_session_create(model, &raw, &s2), SLOTRT_STATUS_UNKNOWN_ENUM, "mask_refinement");
        raw.mask_refinement = SLOTRT_MASK_REFINEMENT_OFF;
        CHECK(slotrt_session_create(model, &raw, &s2) == SLOTRT_STATUS_OK);
        uint32_t rh = 0, rw = 0;
        CHECK(slotrt_session_get_mask_size(s2, &rh, &rw) == SLOTRT_STATUS_OK);
        if (info.masks == SLOTRT_MASK_SOURCE_ATTENTION)
            CHECK(rh == info.attention_height && rw == info.attention_width);
        else
            CHECK(info.masks == SLOTRT_MASK_SOURCE_DECODER && rh == info.mask_height && rw == info.mask_width);
        slotrt_session_free(s2);
    }

    slotrt_stream *stream = NULL;
    CHECK(slotrt_stream_open(session, &stream) == SLOTRT_STATUS_OK);
    buffers b;
    buffers_init(&b, 0);
    CHECK_ERR(slotrt_stream_poll(stream, 0, &b.result), SLOTRT_STATUS_TIMEOUT, "no result");

    slotrt_synth_clip *clip = make_clip(1);
    uint8_t rgb[W * H * 3];
    slotrt_frame frame;
    for (uint32_t t = 0; t < FRAMES; t++) {
        clip_frame(clip, t, rgb, &frame);
        CHECK(slotrt_stream_push(stream, &frame) == SLOTRT_STATUS_OK);
    }
    /* Too small a buffer: an error, and the result stays queued. */
    b.result.slots_capacity = 3;
    CHECK_ERR(slotrt_stream_poll(stream, SLOTRT_WAIT_FOREVER, &b.result), SLOTRT_STATUS_BUFFER_TOO_SMALL, "slots");
    b.result.slots_capacity = info.num_slots * info.slot_dim;
    uint32_t first_ids[64];
    for (uint32_t t = 0; t < FRAMES / 2; t++) {
        CHECK(slotrt_stream_poll(stream, SLOTRT_WAIT_FOREVER, &b.result) == SLOTRT_STATUS_OK);
        CHECK(b.result.info.frame_index == t && b.result.info.tag == t);
        CHECK(b.result.info.timestamp_ns == 1000 * (int64_t)t);
        CHECK(b.result.info.starts_episode == (t == 0));
        CHECK(masks_sum_to_one(b.masks, &b.result.info));
        if (t == 0) memcpy(first_ids, b.ids, info.num_slots * sizeof(uint32_t));
        CHECK(memcmp(first_ids, b.ids, info.num_slots * sizeof(uint32_t)) == 0);
    }
    /* The rest through views. */
    slotrt_result_view view;
    view.struct_size = sizeof view;
    for (uint32_t t = FRAMES / 2; t < FRAMES; t++) {
        CHECK(slotrt_stream_poll_view(stream, SLOTRT_WAIT_FOREVER, &view) == SLOTRT_STATUS_OK);
        CHECK(view.info.frame_index == t);
        CHECK(view.labels == NULL);
        CHECK(masks_sum_to_one(view.masks, &view.info));
        CHECK(memcmp(first_ids, view.slot_ids, info.num_slots * sizeof(uint32_t)) == 0);
    }
    float state[64 * 256];
    CHECK(slotrt_stream_get_state(stream, state, info.num_slots * info.slot_dim) == SLOTRT_STATUS_OK);
    CHECK_ERR(slotrt_stream_get_state(stream, state, 1), SLOTRT_STATUS_BUFFER_TOO_SMALL, "out");

    slotrt_stream_stats ss;
    ss.struct_size = sizeof ss;
    CHECK(slotrt_stream_get_stats(stream, &ss) == SLOTRT_STATUS_OK);
    CHECK(ss.frames_in == FRAMES && ss.frames_out == FRAMES && ss.frames_dropped == 0 && ss.episodes == 1);
    slotrt_session_stats st;
    st.struct_size = sizeof st;
    CHECK(slotrt_session_get_stats(session, &st) == SLOTRT_STATUS_OK);
    CHECK(st.frames_out == FRAMES && st.total.samples == FRAMES && st.total.p99_us >= st.total.p50_us);

    /* Process on the same frames in a second, identical session: bit-identical. */
    slotrt_session *again = NULL;
    o.warmup = true;
    CHECK(slotrt_session_create(model, &o, &again) == SLOTRT_STATUS_OK);
    slotrt_stream *s2 = NULL;
    CHECK(slotrt_stream_open(again, &s2) == SLOTRT_STATUS_OK);
    buffers b2;
    buffers_init(&b2, 0);
    for (uint32_t t = 0; t < FRAMES; t++) {
        clip_frame(clip, t, rgb, &frame);
        CHECK(slotrt_stream_process(s2, &frame, &b2.result) == SLOTRT_STATUS_OK);
    }
    CHECK(memcmp(b2.slots, view.slots, info.num_slots * info.slot_dim * sizeof(float)) == 0);
    float state2[64 * 256];
    CHECK(slotrt_stream_get_state(s2, state2, info.num_slots * info.slot_dim) == SLOTRT_STATUS_OK);
    CHECK(memcmp(state, state2, info.num_slots * info.slot_dim * sizeof(float)) == 0);

    /* Set the state of a fresh stream: it continues like the original. */
    slotrt_stream *s3 = NULL;
    CHECK(slotrt_stream_open(again, &s3) == SLOTRT_STATUS_OK);
    CHECK_ERR(slotrt_stream_get_state(s3, state2, info.num_slots * info.slot_dim), SLOTRT_STATUS_INVALID_ARGUMENT,
              "no frame");
    CHECK_ERR(slotrt_stream_set_state(s3, state, 5), SLOTRT_STATUS_INVALID_ARGUMENT, "state");
    CHECK_ERR(slotrt_stream_seed_boxes(s3, state, 4 * info.num_slots), SLOTRT_STATUS_UNSUPPORTED, "boxes");
    clip_frame(clip, 0, rgb, &frame);
    CHECK(slotrt_stream_process(s3, &frame, &b.result) == SLOTRT_STATUS_OK);
    CHECK(slotrt_stream_set_state(s3, state, info.num_slots * info.slot_dim) == SLOTRT_STATUS_OK);
    clip_frame(clip, FRAMES - 1, rgb, &frame);
    CHECK(slotrt_stream_process(s3, &frame, &b.result) == SLOTRT_STATUS_OK);
    CHECK(slotrt_stream_process(s2, &frame, &b2.result) == SLOTRT_STATUS_OK);
    CHECK(memcmp(b.slots, b2.slots, info.num_slots * info.slot_dim * sizeof(float)) == 0);
    CHECK(!b.result.info.starts_episode);

    /* Reset: the next frame starts episode 1 with new ids. */
    CHECK(slotrt_stream_reset(s2) == SLOTRT_STATUS_OK);
    CHECK(slotrt_stream_process(s2, &frame, &b2.result) == SLOTRT_STATUS_OK);
    CHECK(b2.result.info.starts_episode && b2.result.info.episode == 1);
    CHECK(b2.ids[0] == info.num_slots);

    buffers_free(&b);
    buffers_free(&b2);
    slotrt_stream_free(s3);
    slotrt_stream_free(s2);
    slotrt_stream_free(stream);
    slotrt_session_free(again);
    slotrt_session_free(session);
    slotrt_synth_clip_free(clip);
}

static void test_step_with_resets(const slotrt_model *model) {
    enum { N = 3 };
    slotrt_session_options o;
    slotrt_session_options_init(&o);
    o.label_maps = true;
    o.warmup = false;
    slotrt_session *session = NULL;
    CHECK(slotrt_session_create(model, &o, &session) == SLOTRT_STATUS_OK);
    slotrt_synth_clip *clips[N];
    static uint8_t rgb[N][W * H * 3];
    slotrt_frame frames[N];
    buffers b[N];
    slotrt_result results[N];
    for (int i = 0; i < N; i++) {
        clips[i] = make_clip(10 + (uint64_t)i);
        buffers_init(&b[i], W * H);
    }
    uint32_t lane1_ids[64];
    for (uint32_t t = 0; t < FRAMES; t++) {
        uint8_t reset[N] = {t == 0, t == 0 || t == 4, t == 0};
        for (int i = 0; i < N; i++) {
            clip_frame(clips[i], t, rgb[i], &frames[i]);
            results[i] = b[i].result;
        }
        CHECK(slotrt_session_step(session, N, frames, reset, results) == SLOTRT_STATUS_OK);
        for (int i = 0; i < N; i++) {
            CHECK(results[i].info.starts_episode == (reset[i] != 0));
            CHECK(results[i].info.label_width == W && results[i].info.label_height == H);
            int labels_ok = 1;
            for (int p = 0; p < W * H; p++) labels_ok &= b[i].labels[p] < info.num_slots;
            CHECK(labels_ok);
        }
        if (t == 0) memcpy(lane1_ids, b[1].ids, sizeof lane1_ids[0] * info.num_slots);
        CHECK((memcmp(lane1_ids, b[1].ids, sizeof lane1_ids[0] * info.num_slots) == 0) == (t < 4));
        CHECK(results[1].info.episode == (t < 4 ? 0u : 1u));
    }
    /* Bad frame in the batch: nothing happens. */
    frames[2].format = 99;
    uint8_t none[N] = {0, 0, 0};
    CHECK_ERR(slotrt_session_step(session, N, frames, none, results), SLOTRT_STATUS_UNKNOWN_ENUM, "frames[2]");
    frames[2].format = SLOTRT_PIXEL_FORMAT_RGB8;
    results[0].labels_capacity = 10;
    CHECK_ERR(slotrt_session_step(session, N, frames, none, results), SLOTRT_STATUS_BUFFER_TOO_SMALL, "labels");
    CHECK_ERR(slotrt_session_step(session, 0, frames, none, results), SLOTRT_STATUS_INVALID_ARGUMENT, "`n`");
    CHECK_ERR(slotrt_session_step(session, N, NULL, none, results), SLOTRT_STATUS_NULL_ARGUMENT, "frames");
    for (int i = 0; i < N; i++) {
        buffers_free(&b[i]);
        slotrt_synth_clip_free(clips[i]);
    }
    slotrt_session_free(session);
}

typedef struct {
    mtx_t lock;
    int calls;
    uint64_t last_tag;
    int in_order;
} callback_log;

static void on_result(const slotrt_result_view *r, void *user_data) {
    callback_log *log = user_data;
    mtx_lock(&log->lock);
    if (log->calls > 0 && r->info.tag <= log->last_tag) log->in_order = 0;
    log->last_tag = r->info.tag;
    log->calls++;
    mtx_unlock(&log->lock);
    /* A slow consumer. */
    struct timespec pause = {0, 20 * 1000 * 1000};
    thrd_sleep(&pause, NULL);
}

static void test_callbacks_and_overload(const slotrt_model *model) {
    for (uint32_t policy = 0; policy < 2; policy++) {
        slotrt_session_options o;
        slotrt_session_options_init(&o);
        o.queue_depth = 2;
        o.overflow = policy;
        o.warmup = false;
        slotrt_session *session = NULL;
        CHECK(slotrt_session_create(model, &o, &session) == SLOTRT_STATUS_OK);
        slotrt_stream *stream = NULL;
        CHECK(slotrt_stream_open(session, &stream) == SLOTRT_STATUS_OK);
        callback_log log = {.calls = 0, .last_tag = 0, .in_order = 1};
        mtx_init(&log.lock, mtx_plain);
        CHECK(slotrt_stream_set_callback(stream, on_result, &log) == SLOTRT_STATUS_OK);
        slotrt_synth_clip *clip = make_clip(20);
        uint8_t rgb[W * H * 3];
        slotrt_frame frame;
        enum { PUSHES = 12 };
        for (uint32_t i = 0; i < PUSHES; i++) {
            clip_frame(clip, i % FRAMES, rgb, &frame);
            frame.tag = i;
            CHECK(slotrt_stream_push(stream, &frame) == SLOTRT_STATUS_OK);
        }
        slotrt_stream_stats ss;
        ss.struct_size = sizeof ss;
        do {
            struct timespec pause = {0, 10 * 1000 * 1000};
            thrd_sleep(&pause, NULL);
            CHECK(slotrt_stream_get_stats(stream, &ss) == SLOTRT_STATUS_OK);
        } while (ss.frames_out + ss.frames_dropped < PUSHES);
        /* After this returns the callback is not running: log may go. */
        CHECK(slotrt_stream_set_callback(stream, NULL, NULL) == SLOTRT_STATUS_OK);
        CHECK(log.calls == (int)ss.frames_out && log.in_order);
        if (policy == SLOTRT_OVERFLOW_KEEP_LATEST) {
            CHECK(ss.frames_dropped > 0 && log.last_tag == PUSHES - 1);
        } else {
            CHECK(ss.frames_dropped == 0 && log.calls == PUSHES);
        }
        mtx_destroy(&log.lock);
        slotrt_stream_free(stream);
        slotrt_session_free(session);
        slotrt_synth_clip_free(clip);
    }
}

static void test_bad_frames_and_closed_handles(const slotrt_model *model) {
    slotrt_session_options o;
    slotrt_session_options_init(&o);
    o.warmup = false;
    slotrt_session *session = NULL;
    CHECK(slotrt_session_create(model, &o, &session) == SLOTRT_STATUS_OK);
    slotrt_stream *stream = NULL;
    CHECK(slotrt_stream_open(session, &stream) == SLOTRT_STATUS_OK);
    static uint8_t rgb[W * H * 3];
    slotrt_frame f;
    CHECK_ERR(slotrt_frame_init(&f, rgb, W, H, 42), SLOTRT_STATUS_UNKNOWN_ENUM, "format");
    CHECK(slotrt_frame_init(&f, rgb, W, H, SLOTRT_PIXEL_FORMAT_RGB8) == SLOTRT_STATUS_OK);
    slotrt_frame bad = f;
    bad.data = NULL;
    CHECK_ERR(slotrt_stream_push(stream, &bad), SLOTRT_STATUS_NULL_ARGUMENT, "data");
    bad = f;
    bad.width = 0;
    CHECK_ERR(slotrt_stream_push(stream, &bad), SLOTRT_STATUS_INVALID_ARGUMENT, "width");
    bad = f;
    bad.height = 100000;
    CHECK_ERR(slotrt_stream_push(stream, &bad), SLOTRT_STATUS_INVALID_ARGUMENT, "height");
    bad = f;
    bad.stride = W * 3 - 1;
    CHECK_ERR(slotrt_stream_push(stream, &bad), SLOTRT_STATUS_INVALID_ARGUMENT, "stride");
    bad = f;
    bad.format = 6;
    CHECK_ERR(slotrt_stream_push(stream, &bad), SLOTRT_STATUS_UNKNOWN_ENUM, "pixel_format");
    bad = f;
    bad.struct_size = 3;
    CHECK_ERR(slotrt_stream_push(stream, &bad), SLOTRT_STATUS_STRUCT_SIZE, "struct_size");
    static float planes[3 * W * H];
    planes[17] = NAN;
    CHECK(slotrt_frame_init(&bad, planes, W, H, SLOTRT_PIXEL_FORMAT_F32_CHW) == SLOTRT_STATUS_OK);
    CHECK_ERR(slotrt_stream_push(stream, &bad), SLOTRT_STATUS_INVALID_ARGUMENT, "NaN");
    CHECK_ERR(slotrt_stream_push(NULL, &f), SLOTRT_STATUS_NULL_ARGUMENT, "stream");
    CHECK_ERR(slotrt_stream_push(stream, NULL), SLOTRT_STATUS_NULL_ARGUMENT, "frame");
    /* Nothing was queued by all that. */
    slotrt_stream_stats ss;
    ss.struct_size = sizeof ss;
    CHECK(slotrt_stream_get_stats(stream, &ss) == SLOTRT_STATUS_OK && ss.frames_in == 0);
    /* Other sizes and formats are fine: a 100x70 BGRA frame with padding. */
    static uint8_t bgra[70][100 * 4 + 16];
    slotrt_frame big;
    CHECK(slotrt_frame_init(&big, bgra, 100, 70, SLOTRT_PIXEL_FORMAT_BGRA8) == SLOTRT_STATUS_OK);
    big.stride = sizeof bgra[0];
    buffers b;
    buffers_init(&b, 0);
    CHECK(slotrt_stream_process(stream, &big, &b.result) == SLOTRT_STATUS_OK);
    CHECK(planes[0] == 0.0f && slotrt_frame_init(&big, planes, W, H, SLOTRT_PIXEL_FORMAT_F32_CHW) == 0);
    planes[17] = 0.5f;
    CHECK(slotrt_stream_process(stream, &big, &b.result) == SLOTRT_STATUS_OK);

    /* Closed stream; closed session; free in any order. */
    CHECK(slotrt_stream_close(stream) == SLOTRT_STATUS_OK);
    CHECK(slotrt_stream_close(stream) == SLOTRT_STATUS_OK);
    CHECK_ERR(slotrt_stream_push(stream, &f), SLOTRT_STATUS_CLOSED, "closed");
    CHECK_ERR(slotrt_stream_poll(stream, 0, &b.result), SLOTRT_STATUS_CLOSED, "closed");
    CHECK_ERR(slotrt_stream_reset(stream), SLOTRT_STATUS_CLOSED, "closed");
    slotrt_stream *other = NULL;
    CHECK(slotrt_stream_open(session, &other) == SLOTRT_STATUS_OK);
    slotrt_session_free(session);
    CHECK_ERR(slotrt_stream_push(other, &f), SLOTRT_STATUS_CLOSED, "session is closed");
    CHECK_ERR(slotrt_stream_process(other, &f, &b.result), SLOTRT_STATUS_CLOSED, "closed");
    slotrt_stream_free(other);
    slotrt_stream_free(stream);
    slotrt_stream_free(NULL);
    slotrt_session_free(NULL);
    slotrt_model_free(NULL);
    buffers_free(&b);
}

static void test_finetune(const slotrt_model *model, const char *dir) {
    slotrt_session_options o;
    slotrt_session_options_init(&o);
    o.warmup = false;
    slotrt_session *session = NULL;
    CHECK(slotrt_session_create(model, &o, &session) == SLOTRT_STATUS_OK);
    slotrt_finetune_stats st;
    st.struct_size = sizeof st;
    CHECK_ERR(slotrt_session_finetune_stats(session, &st), SLOTRT_STATUS_INVALID_ARGUMENT, "not enabled");
    slotrt_finetune_options f;
    CHECK(slotrt_finetune_options_init(&f) == SLOTRT_STATUS_OK);
    f.batch_clips = 2;
    f.clip_frames = 2;
    f.publish_every = 1;
    f.guided = 1.0f;
    f.train_parts = 1u << 9;
    CHECK_ERR(slotrt_session_finetune_enable(session, &f), SLOTRT_STATUS_UNKNOWN_ENUM, "train_parts");
    f.train_parts = (1u << SLOTRT_PART_GROUPING) | (1u << SLOTRT_PART_DECODER);
    f.lr = -1;
    CHECK_ERR(slotrt_session_finetune_enable(session, &f), SLOTRT_STATUS_INVALID_ARGUMENT, "lr");
    f.lr = 1e-4f;
    CHECK(f.ema_decay == 0.0f);
    CHECK(f.decay_steps == 0 && fabsf(f.min_lr_ratio - 0.1f) < 1e-6f);
    f.decay_steps = 100;
    f.min_lr_ratio = -0.5f;
    CHECK_ERR(slotrt_session_finetune_enable(session, &f), SLOTRT_STATUS_INVALID_ARGUMENT, "min_lr_ratio");
    f.min_lr_ratio = 0.1f;
    f.ema_decay = 1.0f;
    CHECK_ERR(slotrt_session_finetune_enable(session, &f), SLOTRT_STATUS_INVALID_ARGUMENT, "ema_decay");
    f.ema_decay = 0.9f; /* the served weights are a moving average */
    f.reconstruction = 0.0f;
    f.guided = 0.0f;
    CHECK_ERR(slotrt_session_finetune_enable(session, &f), SLOTRT_STATUS_INVALID_ARGUMENT, "at least one term");
    f.reconstruction = 1.0f;
    f.guided = 1.0f;
    CHECK(slotrt_session_finetune_enable(session, &f) == SLOTRT_STATUS_OK);
    CHECK_ERR(slotrt_session_finetune_enable(session, &f), SLOTRT_STATUS_INVALID_ARGUMENT, "already");

    slotrt_stream *stream = NULL;
    CHECK(slotrt_stream_open(session, &stream) == SLOTRT_STATUS_OK);
    slotrt_synth_clip *clip = make_clip(30);
    static uint8_t rgb[W * H * 3], ids[W * H];
    slotrt_frame frame;
    CHECK(slotrt_synth_clip_frame(clip, 0, rgb, sizeof rgb, ids, sizeof ids) == SLOTRT_STATUS_OK);
    CHECK(slotrt_frame_init(&frame, rgb, W, H, SLOTRT_PIXEL_FORMAT_RGB8) == SLOTRT_STATUS_OK);
    CHECK_ERR(slotrt_stream_push_with_masks(stream, &frame, ids, 7), SLOTRT_STATUS_INVALID_ARGUMENT, "ids");
    static uint8_t many[W * H];
    for (int i = 0; i < W * H; i++) many[i] = (uint8_t)(i % 9);
    /* More instances than slots are taken: the guided loss leaves the unmatched out. */
    CHECK(slotrt_stream_push_with_masks(stream, &frame, many, sizeof many) == SLOTRT_STATUS_OK);
    CHECK_ERR(slotrt_stream_push_with_masks(stream, &frame, NULL, 0), SLOTRT_STATUS_NULL_ARGUMENT, "ids");
    slotrt_result_view view;
    view.struct_size = sizeof view;
    for (int round = 0; round < 40; round++) {
        uint32_t t = (uint32_t)round % FRAMES;
        if (t == 0) CHECK(slotrt_stream_reset(stream) == SLOTRT_STATUS_OK);
        CHECK(slotrt_synth_clip_frame(clip, t, rgb, sizeof rgb, ids, sizeof ids) == SLOTRT_STATUS_OK);
        CHECK(slotrt_stream_push_with_masks(stream, &frame, ids, sizeof ids) == SLOTRT_STATUS_OK);
        CHECK(slotrt_stream_poll_view(stream, SLOTRT_WAIT_FOREVER, &view) == SLOTRT_STATUS_OK);
        CHECK(slotrt_session_finetune_stats(session, &st) == SLOTRT_STATUS_OK);
        if (st.steps >= 2) break;
        struct timespec pause = {0, 50 * 1000 * 1000};
        thrd_sleep(&pause, NULL);
    }
    CHECK(st.running && !st.failed && st.steps >= 1 && st.publishes >= 1 && st.terms[3] > 0);
    CHECK(slotrt_session_finetune_pause(session, true) == SLOTRT_STATUS_OK);
    CHECK(slotrt_session_finetune_pause(session, false) == SLOTRT_STATUS_OK);
    char path[512];
    snprintf(path, sizeof path, "%s/finetuned.safetensors", dir);
    CHECK(slotrt_session_save_model(session, path) == SLOTRT_STATUS_OK);
    slotrt_model *saved = NULL;
    CHECK(slotrt_model_load(path, NULL, &saved) == SLOTRT_STATUS_OK);
    slotrt_model_info si;
    si.struct_size = sizeof si;
    CHECK(slotrt_model_get_info(saved, &si) == SLOTRT_STATUS_OK && strstr(si.description, "fine-tuned") != NULL);
    slotrt_model_free(saved);
    remove(path);
    slotrt_finetune_stats last;
    last.struct_size = sizeof last;
    CHECK(slotrt_session_finetune_stop(session, &last) == SLOTRT_STATUS_OK);
    CHECK(!last.running && last.steps >= st.steps);
    CHECK_ERR(slotrt_session_finetune_stop(session, NULL), SLOTRT_STATUS_INVALID_ARGUMENT, "not enabled");
    CHECK(slotrt_session_finetune_revert(session) == SLOTRT_STATUS_OK);
    slotrt_synth_clip_free(clip);
    slotrt_stream_free(stream);
    slotrt_session_free(session);
}

int main(int argc, char **argv) {
    const char *model_path = argc > 1 ? argv[1] : "models/savi-small-64.safetensors";
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    test_load_errors(tmp);
    test_truncated_model(model_path, tmp);
    test_precision(model_path);
    slotrt_model *model = NULL;
    if (slotrt_model_load(model_path, NULL, &model) != SLOTRT_STATUS_OK) {
        fprintf(stderr, "cannot load %s: %s\n", model_path, slotrt_last_error_message());
        return 1;
    }
    info.struct_size = sizeof info;
    CHECK(slotrt_model_get_info(model, &info) == SLOTRT_STATUS_OK);
    CHECK(info.input_width == W && info.input_height == H && info.num_slots >= 2 && info.num_slots <= 64);
    CHECK(info.slot_dim <= 256 && info.description != NULL && strlen(info.description) > 0);
    CHECK(info.init == SLOTRT_INIT_KIND_GAUSSIAN && info.has_predictor);
    CHECK(info.precision == SLOTRT_PRECISION_FP32);
    slotrt_model_info small;
    small.struct_size = 8;
    CHECK_ERR(slotrt_model_get_info(model, &small), SLOTRT_STATUS_STRUCT_SIZE, "struct_size");
    slotrt_session *none = NULL;
    CHECK_ERR(slotrt_session_create(NULL, NULL, &none), SLOTRT_STATUS_NULL_ARGUMENT, "model");
    CHECK(none == NULL);

    test_push_poll_and_views(model);
    test_step_with_resets(model);
    test_callbacks_and_overload(model);
    /* Sessions keep the weights: free the model handle first. */
    slotrt_session_options o;
    slotrt_session_options_init(&o);
    o.warmup = false;
    slotrt_session *keeper = NULL;
    CHECK(slotrt_session_create(model, &o, &keeper) == SLOTRT_STATUS_OK);
    slotrt_model_free(model);
    slotrt_stream *s = NULL;
    CHECK(slotrt_stream_open(keeper, &s) == SLOTRT_STATUS_OK);
    static uint8_t rgb[W * H * 3];
    slotrt_frame f;
    slotrt_frame_init(&f, rgb, W, H, SLOTRT_PIXEL_FORMAT_GRAY8);
    buffers b;
    buffers_init(&b, 0);
    CHECK(slotrt_stream_process(s, &f, &b.result) == SLOTRT_STATUS_OK);
    buffers_free(&b);
    slotrt_stream_free(s);
    slotrt_session_free(keeper);

    /* test_bad_frames needs a model again. */
    CHECK(slotrt_model_load(model_path, NULL, &model) == SLOTRT_STATUS_OK);
    test_bad_frames_and_closed_handles(model);
    test_finetune(model, tmp);
    slotrt_model_free(model);
    /* Checks, not test cases: scripts/c_tests.sh counts this program as one case. */
    printf("c_runtime: %d checks ok, %d checks failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
