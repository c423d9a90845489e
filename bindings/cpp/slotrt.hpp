// slotrt.hpp: header-only C++17 RAII wrapper over the slotrt C API.
//
// Handles are move-only (std::unique_ptr with the matching *_free); every
// failing call throws slotrt::Error carrying the C status and message;
// buffers are exposed as slotrt::span views. Only include/slotrt.h is used,
// so this works with the shared or the static library alike.
//
//   slotrt::Model model = slotrt::Model::load("models/savi-small-64.safetensors");
//   slotrt::Session session(model);
//   slotrt::Stream camera = session.open_stream();
//   slotrt::Result result = session.make_result();
//   camera.process(slotrt::frame_rgb8(pixels, 640, 480), result);
//   float first = result.slot(0)[0];
//
// Thread safety is that of the C types (see slotrt.h): a Model may be used
// from any thread, Session and Stream calls may come from any thread, a
// Result is one caller's buffers (do not share one between threads).
#ifndef SLOTRT_HPP
#define SLOTRT_HPP

#include "slotrt.h"

#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace slotrt {

// A failed call: the C status and the library's message.
class Error : public std::runtime_error {
  public:
    Error(slotrt_status status, const std::string &message) : std::runtime_error(message), status_(status) {}
    slotrt_status status() const noexcept { return status_; }

  private:
    slotrt_status status_;
};

namespace detail {
// The library's message already names the failing function.
inline void check(slotrt_status status, const char *call) {
    if (status != SLOTRT_STATUS_OK) {
        const char *message = slotrt_last_error_message();
        throw Error(status, std::string(slotrt_status_name(status)) + ": " + (*message ? message : call));
    }
}
struct ModelFree {
    void operator()(slotrt_model *m) const noexcept { slotrt_model_free(m); }
};
struct SessionFree {
    void operator()(slotrt_session *s) const noexcept { slotrt_session_free(s); }
};
struct StreamFree {
    void operator()(slotrt_stream *s) const noexcept { slotrt_stream_free(s); }
};
}  // namespace detail

// A non-owning view of contiguous elements (std::span for C++17).
template <class T>
class span {
  public:
    constexpr span() noexcept = default;
    constexpr span(T *data, std::size_t size) noexcept : data_(data), size_(size) {}
    template <class C>
    constexpr span(C &container) noexcept : data_(container.data()), size_(container.size()) {}
    constexpr T *data() const noexcept { return data_; }
    constexpr std::size_t size() const noexcept { return size_; }
    constexpr bool empty() const noexcept { return size_ == 0; }
    constexpr T &operator[](std::size_t i) const noexcept { return data_[i]; }
    constexpr T *begin() const noexcept { return data_; }
    constexpr T *end() const noexcept { return data_ + size_; }
    constexpr span subspan(std::size_t offset, std::size_t count) const noexcept {
        return span(data_ + offset, count);
    }

  private:
    T *data_ = nullptr;
    std::size_t size_ = 0;
};

// Describes caller memory as a frame (tightly packed unless `stride` given).
inline slotrt_frame make_frame(const void *data, uint32_t width, uint32_t height, slotrt_pixel_format format,
                               std::size_t stride = 0) {
    slotrt_frame frame;
    detail::check(slotrt_frame_init(&frame, data, width, height, static_cast<uint32_t>(format)),
                  "slotrt_frame_init");
    if (stride != 0) frame.stride = stride;
    return frame;
}

inline slotrt_frame frame_rgb8(const uint8_t *rgb, uint32_t width, uint32_t height, std::size_t stride = 0) {
    return make_frame(rgb, width, height, SLOTRT_PIXEL_FORMAT_RGB8, stride);
}

// An immutable loaded model, shareable between sessions and threads.
class Model {
  public:
    static Model load(const std::string &path, const slotrt_model_options *options = nullptr) {
        slotrt_model *raw = nullptr;
        detail::check(slotrt_model_load(path.c_str(), options, &raw), "slotrt_model_load");
        return Model(raw);
    }
    const slotrt_model_info &info() const noexcept { return info_; }
    const slotrt_model *get() const noexcept { return handle_.get(); }

  private:
    explicit Model(slotrt_model *raw) : handle_(raw) {
        info_.struct_size = sizeof info_;
        detail::check(slotrt_model_get_info(raw, &info_), "slotrt_model_get_info");
    }
    std::unique_ptr<slotrt_model, detail::ModelFree> handle_;
    slotrt_model_info info_{};
};

// Buffers for one frame's result, allocated once and reused frame after frame.
class Result {
  public:
    Result(uint32_t num_slots, uint32_t slot_dim, uint32_t mask_height, uint32_t mask_width,
           std::size_t max_label_pixels)
        : num_slots_(num_slots),
          slot_dim_(slot_dim),
          mask_pixels_(std::size_t(mask_height) * mask_width),
          slots_(std::size_t(num_slots) * slot_dim),
          masks_(num_slots * mask_pixels_),
          active_(num_slots),
          ids_(num_slots),
          labels_(max_label_pixels) {
        detail::check(slotrt_result_init(&c_), "slotrt_result_init");
    }

    // The C struct, pointing at this object's buffers (for the C API).
    slotrt_result *c() noexcept {
        c_.slots = slots_.data();
        c_.slots_capacity = slots_.size();
        c_.masks = masks_.data();
        c_.masks_capacity = masks_.size();
        c_.active = active_.data();
        c_.active_capacity = active_.size();
        c_.slot_ids = ids_.data();
        c_.slot_ids_capacity = ids_.size();
        c_.labels = labels_.empty() ? nullptr : labels_.data();
        c_.labels_capacity = labels_.size();
        return &c_;
    }

    const slotrt_result_info &info() const noexcept { return c_.info; }
    uint32_t num_slots() const noexcept { return num_slots_; }
    span<const float> slots() const noexcept { return span<const float>(slots_.data(), slots_.size()); }
    span<const float> slot(uint32_t k) const noexcept { return slots().subspan(std::size_t(k) * slot_dim_, slot_dim_); }
    span<const float> masks() const noexcept { return span<const float>(masks_.data(), masks_.size()); }
    span<const float> mask(uint32_t k) const noexcept { return masks().subspan(k * mask_pixels_, mask_pixels_); }
    span<const uint8_t> active() const noexcept { return span<const uint8_t>(active_.data(), active_.size()); }
    span<const uint32_t> slot_ids() const noexcept { return span<const uint32_t>(ids_.data(), ids_.size()); }
    // Empty unless the session makes label maps.
    span<const uint8_t> labels() const noexcept {
        return span<const uint8_t>(labels_.data(), std::size_t(c_.info.label_height) * c_.info.label_width);
    }

  private:
    uint32_t num_slots_, slot_dim_;
    std::size_t mask_pixels_;
    std::vector<float> slots_, masks_;
    std::vector<uint8_t> active_;
    std::vector<uint32_t> ids_;
    std::vector<uint8_t> labels_;
    slotrt_result c_{};
};

// One camera or environment. Move-only; closing is implicit on destruction.
class Stream {
  public:
    void push(const slotrt_frame &frame) { detail::check(slotrt_stream_push(get(), &frame), "slotrt_stream_push"); }

    // Waits up to timeout_ms for the next result; false on timeout.
    bool poll(Result &result, uint32_t timeout_ms = SLOTRT_WAIT_FOREVER) {
        slotrt_status status = slotrt_stream_poll(get(), timeout_ms, result.c());
        if (status == SLOTRT_STATUS_TIMEOUT) return false;
        detail::check(status, "slotrt_stream_poll");
        return true;
    }

    // Steps one frame on this thread (the stream must have nothing queued).
    void process(const slotrt_frame &frame, Result &result) {
        detail::check(slotrt_stream_process(get(), &frame, result.c()), "slotrt_stream_process");
    }

    void reset() { detail::check(slotrt_stream_reset(get()), "slotrt_stream_reset"); }

    std::vector<float> state() const {
        std::vector<float> out(state_size_);
        detail::check(slotrt_stream_get_state(get(), out.data(), out.size()), "slotrt_stream_get_state");
        return out;
    }

    void set_state(span<const float> slots) {
        detail::check(slotrt_stream_set_state(get(), slots.data(), slots.size()), "slotrt_stream_set_state");
    }

    slotrt_stream_stats stats() const {
        slotrt_stream_stats s{};
        s.struct_size = sizeof s;
        detail::check(slotrt_stream_get_stats(get(), &s), "slotrt_stream_get_stats");
        return s;
    }

    void close() { detail::check(slotrt_stream_close(get()), "slotrt_stream_close"); }
    slotrt_stream *get() const noexcept { return handle_.get(); }

  private:
    friend class Session;
    Stream(slotrt_stream *raw, std::size_t state_size) : handle_(raw), state_size_(state_size) {}
    std::unique_ptr<slotrt_stream, detail::StreamFree> handle_;
    std::size_t state_size_;
};

// A model's streams and their batching worker. Move-only.
class Session {
  public:
    explicit Session(const Model &model, const slotrt_session_options *options = nullptr) : info_(model.info()) {
        slotrt_session *raw = nullptr;
        detail::check(slotrt_session_create(model.get(), options, &raw), "slotrt_session_create");
        handle_.reset(raw);
        detail::check(slotrt_session_get_mask_size(raw, &mask_height_, &mask_width_), "slotrt_session_get_mask_size");
        label_maps_ = options != nullptr && options->label_maps;
    }

    Stream open_stream() {
        slotrt_stream *raw = nullptr;
        detail::check(slotrt_stream_open(get(), &raw), "slotrt_stream_open");
        return Stream(raw, std::size_t(info_.num_slots) * info_.slot_dim);
    }

    // Result buffers sized for this session; label maps (if on) for frames
    // of up to max_frame_pixels pixels.
    Result make_result(std::size_t max_frame_pixels = 0) const {
        return Result(info_.num_slots, info_.slot_dim, mask_height_, mask_width_,
                      label_maps_ ? max_frame_pixels : 0);
    }

    // One call per vectorised-env step: frame i -> lane i; resets[i] != 0
    // starts lane i's episode fresh (gymnasium autoreset).
    void step(span<const slotrt_frame> frames, span<const uint8_t> resets, std::vector<Result> &results) {
        if (frames.size() != resets.size() || frames.size() != results.size()) {
            throw Error(SLOTRT_STATUS_INVALID_ARGUMENT, "step: frames, resets and results differ in length");
        }
        c_results_.clear();
        for (Result &r : results) c_results_.push_back(*r.c());
        slotrt_status status = slotrt_session_step(get(), frames.size(), frames.data(), resets.data(), c_results_.data());
        detail::check(status, "slotrt_session_step");
        for (std::size_t i = 0; i < results.size(); i++) *results[i].c() = c_results_[i];
    }

    slotrt_session_stats stats() const {
        slotrt_session_stats s{};
        s.struct_size = sizeof s;
        detail::check(slotrt_session_get_stats(get(), &s), "slotrt_session_get_stats");
        return s;
    }

    const slotrt_model_info &model_info() const noexcept { return info_; }
    uint32_t mask_height() const noexcept { return mask_height_; }
    uint32_t mask_width() const noexcept { return mask_width_; }
    slotrt_session *get() const noexcept { return handle_.get(); }

  private:
    std::unique_ptr<slotrt_session, detail::SessionFree> handle_;
    slotrt_model_info info_;
    uint32_t mask_height_ = 0, mask_width_ = 0;
    bool label_maps_ = false;
    std::vector<slotrt_result> c_results_;
};

}  // namespace slotrt

#endif  // SLOTRT_HPP
