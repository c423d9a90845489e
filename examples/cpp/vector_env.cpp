// vector_env: slots as observations for a vectorised environment, in C++.
//
// Four environments (synthetic clips from the library's generator standing
// in for simulator instances) are stepped together: one Session::step call
// per environment step, with per-environment resets when an episode ends,
// as a gymnasium-style vector env does. Prints each env's slot ids (they
// stay fixed within an episode and change at a reset) and how much of the
// frame each slot covers; then shows errors arriving as exceptions.
//
//   vector_env [MODEL.safetensors] [STEPS]
#include "slotrt.hpp"

#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

struct Env {
    slotrt_synth_clip *clip = nullptr;
    uint32_t t = 0, length = 0;
    std::vector<uint8_t> rgb;
};

void start_episode(Env &env, std::size_t index, uint64_t episode) {
    slotrt_synth_clip_free(env.clip);
    slotrt_synth_options options;
    slotrt_synth_options_init(&options);
    options.split = SLOTRT_SPLIT_TEST;
    options.frames = 5 + uint32_t((index + episode) % 4);  // episodes of different lengths
    options.clip_index = 1000 * index + episode;
    if (slotrt_synth_clip_generate(&options, &env.clip) != SLOTRT_STATUS_OK) {
        throw slotrt::Error(slotrt_last_error_status(), slotrt_last_error_message());
    }
    env.t = 0;
    env.length = options.frames;
    env.rgb.resize(std::size_t(options.width) * options.height * 3);
}

}  // namespace

int main(int argc, char **argv) {
    const char *model_path = argc > 1 ? argv[1] : "models/savi-small-64.safetensors";
    const int steps = argc > 2 ? std::atoi(argv[2]) : 16;
    try {
        slotrt::Model model = slotrt::Model::load(model_path);
        const slotrt_model_info &info = model.info();
        std::printf("%u slots x %u dims per env and step\n", info.num_slots, info.slot_dim);

        slotrt_session_options options;
        slotrt_session_options_init(&options);
        options.label_maps = true;
        slotrt::Session session(model, &options);

        constexpr std::size_t kEnvs = 4;
        std::vector<Env> envs(kEnvs);
        std::vector<slotrt::Result> results;
        for (std::size_t i = 0; i < kEnvs; i++) {
            start_episode(envs[i], i, 0);
            results.push_back(session.make_result(64 * 64));
        }
        std::vector<slotrt_frame> frames(kEnvs);
        std::vector<uint8_t> resets(kEnvs, 1);  // the first observation starts every episode
        std::vector<uint64_t> episodes(kEnvs, 0);
        for (int step = 0; step < steps; step++) {
            for (std::size_t i = 0; i < kEnvs; i++) {
                Env &env = envs[i];
                slotrt_synth_clip_frame(env.clip, env.t, env.rgb.data(), env.rgb.size(), nullptr, 0);
                frames[i] = slotrt::frame_rgb8(env.rgb.data(), 64, 64);
            }
            session.step(frames, resets, results);
            std::printf("step %2d", step);
            for (std::size_t i = 0; i < kEnvs; i++) {
                const slotrt::Result &r = results[i];
                std::vector<unsigned> area(r.num_slots(), 0);
                for (uint8_t label : r.labels()) area[label]++;
                unsigned biggest = 0;
                for (unsigned k = 1; k < r.num_slots(); k++) biggest = area[k] > area[biggest] ? k : biggest;
                std::printf(" | env %zu ep %llu%s ids %u..%u bg=#%u", i, (unsigned long long)r.info().episode,
                            r.info().starts_episode ? "*" : " ", r.slot_ids()[0], r.slot_ids()[r.num_slots() - 1],
                            r.slot_ids()[biggest]);
            }
            std::printf("\n");
            // Advance the environments; an ended episode resets (autoreset).
            for (std::size_t i = 0; i < kEnvs; i++) {
                Env &env = envs[i];
                resets[i] = 0;
                if (++env.t == env.length) {
                    start_episode(env, i, ++episodes[i]);
                    resets[i] = 1;
                }
            }
        }
        slotrt_session_stats stats = session.stats();
        std::printf("%llu frames in %llu forward passes, p50 %.1f ms per step\n",
                    (unsigned long long)stats.frames_out, (unsigned long long)stats.batches,
                    stats.total.p50_us / 1000.0);

        // Errors are exceptions with the C status.
        slotrt::Stream camera = session.open_stream();
        slotrt::Result result = session.make_result(64 * 64);
        try {
            camera.process(slotrt::frame_rgb8(envs[0].rgb.data(), 64, 64, /*stride=*/10), result);
        } catch (const slotrt::Error &e) {
            std::printf("as expected: %s (status %d)\n", e.what(), int(e.status()));
        }
        camera.process(slotrt::frame_rgb8(envs[0].rgb.data(), 64, 64), result);
        std::printf("camera frame %llu: %zu slot values, first %.3f\n", (unsigned long long)result.info().frame_index,
                    result.slots().size(), result.slot(0)[0]);
        for (Env &env : envs) slotrt_synth_clip_free(env.clip);
    } catch (const slotrt::Error &e) {
        std::fprintf(stderr, "slotrt error: %s\n", e.what());
        return 1;
    }
    return 0;
}
