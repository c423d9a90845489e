/* stream_demo: four simulated cameras streamed through one slotrt session.
 *
 * A tiny simulator in C (coloured discs and squares bouncing in a 64x64
 * box) stands in for a game engine or robot simulator. Each of its four
 * environments feeds one slotrt stream; the session's worker batches the
 * four streams' frames into one forward pass. For every frame the demo
 * prints where each slot's mask lies, and it writes one GIF per stream
 * with the slots overlaid on the frames.
 *
 *   stream_demo [MODEL.safetensors] [OUT_DIR] [FRAMES]
 *
 * Defaults: models/savi-small-64.safetensors, out/stream_demo, 24. */
#include "slotrt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { SIZE = 64, STREAMS = 4, MAX_OBJECTS = 4, MAX_SLOTS = 32 };

/* ---- the "simulator" ---------------------------------------------------- */

typedef struct {
    float x, y, vx, vy, radius;
    int square;
    uint8_t colour[3];
} body;

typedef struct {
    body bodies[MAX_OBJECTS];
    int count;
    uint8_t background[3];
    uint32_t rng;
} world;

static float uniform(uint32_t *state) {
    *state = *state * 1664525u + 1013904223u;
    return (float)(*state >> 8) / (float)(1u << 24);
}

static void world_init(world *w, uint32_t seed) {
    w->rng = seed * 2654435761u + 1;
    w->count = 2 + (int)(uniform(&w->rng) * 3); /* 2..4 objects */
    uint8_t grey = (uint8_t)(30 + uniform(&w->rng) * 60);
    w->background[0] = w->background[1] = w->background[2] = grey;
    for (int i = 0; i < w->count; i++) {
        body *b = &w->bodies[i];
        b->radius = 6 + uniform(&w->rng) * 5;
        b->x = b->radius + uniform(&w->rng) * (SIZE - 2 * b->radius);
        b->y = b->radius + uniform(&w->rng) * (SIZE - 2 * b->radius);
        b->vx = (uniform(&w->rng) - 0.5f) * 4;
        b->vy = (uniform(&w->rng) - 0.5f) * 4;
        b->square = uniform(&w->rng) < 0.5f;
        for (int c = 0; c < 3; c++) b->colour[c] = (uint8_t)(120 + uniform(&w->rng) * 135);
        b->colour[i % 3] = 255; /* saturated, distinct hues */
        b->colour[(i + 1) % 3] /= 3;
    }
}

static void world_step(world *w) {
    for (int i = 0; i < w->count; i++) {
        body *b = &w->bodies[i];
        b->x += b->vx;
        b->y += b->vy;
        if (b->x < b->radius || b->x > SIZE - b->radius) b->vx = -b->vx;
        if (b->y < b->radius || b->y > SIZE - b->radius) b->vy = -b->vy;
    }
}

static void world_render(const world *w, uint8_t *rgb) {
    for (int y = 0; y < SIZE; y++) {
        for (int x = 0; x < SIZE; x++) {
            const uint8_t *c = w->background;
            for (int i = 0; i < w->count; i++) { /* later bodies on top */
                const body *b = &w->bodies[i];
                float dx = x + 0.5f - b->x, dy = y + 0.5f - b->y;
                int inside = b->square ? (dx * dx < b->radius * b->radius && dy * dy < b->radius * b->radius)
                                       : (dx * dx + dy * dy < b->radius * b->radius);
                if (inside) c = b->colour;
            }
            memcpy(rgb + 3 * (y * SIZE + x), c, 3);
        }
    }
}

/* ---- slotrt -------------------------------------------------------------- */

#define TRY(call)                                                                                  \
    do {                                                                                           \
        slotrt_status s_ = (call);                                                                 \
        if (s_ != SLOTRT_STATUS_OK) {                                                              \
            fprintf(stderr, "%s failed: %s: %s\n", #call, slotrt_status_name(s_),                  \
                    slotrt_last_error_message());                                                  \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* mkdir -p: create `path` and its parents (existing ones are fine). */
static void make_dirs(const char *path) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, 0755);
            *p = '/';
        }
    }
    mkdir(buf, 0755);
}

/* One line per frame: each slot's share of the frame and its centre. */
static void print_slots(int stream, const slotrt_result_view *r, uint32_t num_slots) {
    uint32_t area[MAX_SLOTS] = {0};
    float cx[MAX_SLOTS] = {0}, cy[MAX_SLOTS] = {0};
    uint32_t w = r->info.label_width, h = r->info.label_height;
    for (uint32_t y = 0; y < h; y++) {
        for (uint32_t x = 0; x < w; x++) {
            uint8_t k = r->labels[y * w + x];
            area[k]++;
            cx[k] += x;
            cy[k] += y;
        }
    }
    printf("stream %d frame %2llu  %5.1f ms (queue %4.1f, model %4.1f)  slots:", stream,
           (unsigned long long)r->info.frame_index, r->info.total_us / 1000.0, r->info.queue_us / 1000.0,
           r->info.model_us / 1000.0);
    for (uint32_t k = 0; k < num_slots; k++) {
        if (area[k] == 0) {
            printf("  #%u -", (unsigned)r->slot_ids[k]);
        } else {
            printf("  #%u %2.0f%%@(%2.0f,%2.0f)", (unsigned)r->slot_ids[k], 100.0 * area[k] / (w * h),
                   cx[k] / area[k], cy[k] / area[k]);
        }
    }
    printf("\n");
}

int main(int argc, char **argv) {
    const char *model_path = argc > 1 ? argv[1] : "models/savi-small-64.safetensors";
    const char *out_dir = argc > 2 ? argv[2] : "out/stream_demo";
    int frames = argc > 3 ? atoi(argv[3]) : 24;
    if (frames < 1) frames = 1;
    TRY(slotrt_check_abi(SLOTRT_ABI_VERSION));

    slotrt_model *model = NULL;
    TRY(slotrt_model_load(model_path, NULL, &model));
    slotrt_model_info info;
    info.struct_size = sizeof info;
    TRY(slotrt_model_get_info(model, &info));
    printf("model %s: %u slots of %u dims, input %ux%u\n  %s\n", model_path, info.num_slots, info.slot_dim,
           info.input_width, info.input_height, info.description);
    if (info.num_slots > MAX_SLOTS) {
        fprintf(stderr, "this demo shows at most %d slots\n", MAX_SLOTS);
        return 1;
    }

    slotrt_session_options options;
    TRY(slotrt_session_options_init(&options));
    options.max_batch = STREAMS;  /* one forward pass for all four cameras */
    options.max_wait_us = 5000;   /* wait up to 5 ms for the other streams */
    options.label_maps = true;    /* argmax slot per pixel, for the summaries */
    options.overflow = SLOTRT_OVERFLOW_BLOCK;
    slotrt_session *session = NULL;
    TRY(slotrt_session_create(model, &options, &session));
    slotrt_model_free(model); /* the session keeps the weights */

    world worlds[STREAMS];
    slotrt_stream *streams[STREAMS];
    slotrt_overlay_gif *gifs[STREAMS];
    static uint8_t rgb[STREAMS][SIZE * SIZE * 3];
    for (int s = 0; s < STREAMS; s++) {
        world_init(&worlds[s], 100 + (uint32_t)s);
        TRY(slotrt_stream_open(session, &streams[s]));
        TRY(slotrt_overlay_gif_create(SIZE, SIZE, &gifs[s]));
    }

    for (int t = 0; t < frames; t++) {
        /* Every environment renders and pushes its frame... */
        for (int s = 0; s < STREAMS; s++) {
            world_render(&worlds[s], rgb[s]);
            slotrt_frame frame;
            TRY(slotrt_frame_init(&frame, rgb[s], SIZE, SIZE, SLOTRT_PIXEL_FORMAT_RGB8));
            frame.tag = (uint64_t)t;
            TRY(slotrt_stream_push(streams[s], &frame));
            world_step(&worlds[s]);
        }
        /* ...and reads its result back (views: no copy). */
        for (int s = 0; s < STREAMS; s++) {
            slotrt_result_view r;
            r.struct_size = sizeof r;
            TRY(slotrt_stream_poll_view(streams[s], SLOTRT_WAIT_FOREVER, &r));
            print_slots(s, &r, info.num_slots);
            TRY(slotrt_overlay_gif_add(gifs[s], rgb[s], sizeof rgb[s], r.labels,
                                       (size_t)r.info.label_width * r.info.label_height));
        }
    }

    make_dirs(out_dir);
    for (int s = 0; s < STREAMS; s++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/stream%d.gif", out_dir, s);
        TRY(slotrt_overlay_gif_save(gifs[s], path));
        printf("wrote %s (frame | slot overlay)\n", path);
        slotrt_overlay_gif_free(gifs[s]);
        slotrt_stream_free(streams[s]);
    }
    slotrt_session_stats stats;
    stats.struct_size = sizeof stats;
    TRY(slotrt_session_get_stats(session, &stats));
    printf("%llu frames in %llu forward passes (mean batch %.2f); latency p50 %.1f ms, p99 %.1f ms\n",
           (unsigned long long)stats.frames_out, (unsigned long long)stats.batches, stats.mean_batch,
           stats.total.p50_us / 1000.0, stats.total.p99_us / 1000.0);
    slotrt_session_free(session);
    return 0;
}
