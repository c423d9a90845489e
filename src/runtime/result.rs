//! Per-frame results, in buffers allocated once and reused.

/// Time a frame spent in each stage, in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StageLatency {
    /// From `push` until its batch started (0 for synchronous calls).
    pub queue_us: u64,
    /// The forward pass of the frame's batch.
    pub model_us: u64,
    /// From `push` (or the synchronous call) until the result was ready.
    pub total_us: u64,
}

/// Everything the runtime returns for one frame.
#[derive(Clone, Debug, Default)]
pub struct FrameResult {
    /// The frame's position in its stream (0, 1, ... over the stream's life).
    pub frame_index: u64,
    /// Episode number within the stream (incremented by each reset).
    pub episode: u64,
    /// Whether this frame started its episode (fresh slots).
    pub starts_episode: bool,
    pub timestamp_ns: i64,
    pub tag: u64,
    pub num_slots: usize,
    pub slot_dim: usize,
    pub mask_height: usize,
    pub mask_width: usize,
    /// Slots [K, D].
    pub slots: Vec<f32>,
    /// Soft masks [K, mask_height, mask_width]; they sum to 1 per pixel.
    pub masks: Vec<f32>,
    /// 1 where the slot holds an object, [K].
    pub active: Vec<u8>,
    /// Stable ids, [K]: slot k keeps its id while it follows its object;
    /// a new episode, or a slot that comes back active, gets a new one.
    pub slot_ids: Vec<u32>,
    /// Hard label map at the frame's own resolution (empty unless the
    /// session asks for label maps), [label_height, label_width].
    pub labels: Vec<u8>,
    pub label_height: usize,
    pub label_width: usize,
    pub latency: StageLatency,
}

impl FrameResult {
    /// A result sized for K slots of D dims and masks of h x w.
    pub fn with_shape(num_slots: usize, slot_dim: usize, mask_height: usize, mask_width: usize) -> Self {
        let mut r = FrameResult::default();
        r.reshape(num_slots, slot_dim, mask_height, mask_width);
        r
    }

    /// Resizes the buffers (a no-op, without allocation, when they fit).
    pub fn reshape(&mut self, num_slots: usize, slot_dim: usize, mask_height: usize, mask_width: usize) {
        self.num_slots = num_slots;
        self.slot_dim = slot_dim;
        self.mask_height = mask_height;
        self.mask_width = mask_width;
        self.slots.resize(num_slots * slot_dim, 0.0);
        self.masks.resize(num_slots * mask_height * mask_width, 0.0);
        self.active.resize(num_slots, 0);
        self.slot_ids.resize(num_slots, 0);
    }

    pub(crate) fn set_label_size(&mut self, size: Option<(usize, usize)>) {
        let (h, w) = size.unwrap_or((0, 0));
        self.label_height = h;
        self.label_width = w;
        self.labels.resize(h * w, 0);
    }
}
