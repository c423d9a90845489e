//! The streaming runtime: sessions, streams, the cross-stream batcher,
//! frame conversion, carried slots and stable slot ids.
//!
//! ```text
//! Stream::push(frame) --convert once--> per-stream queue --> worker thread:
//!   batch one ready frame from each of up to max_batch streams -> model step
//!   (first frames and continuing frames as separate passes) -> per stream:
//!   carried slots, ids, result -> Stream::poll / callback
//! Stream::process(frame)        one frame on the caller's thread
//! Session::step(frames, resets) N lanes at once on the caller's thread (RL)
//! ```
//!
//! A `RuntimeModel` is immutable and shared (`Arc`) by any number of
//! sessions; a `Session` owns its streams' queues and one worker thread.

pub mod carry;
mod engine;
pub mod finetune;
mod finetune_options;
mod finetune_thread;
mod finetune_weights;
pub mod frame;
mod lanes;
pub mod model;
pub mod options;
mod replay;
pub mod result;
mod serving;
mod session;
mod shared;
pub mod stats;
mod stream;
mod stream_episodes;
mod worker;

pub use carry::{episode_seed, STEP_LANE_KEY};
pub use finetune::{FinetuneOptions, FinetuneStats, TrainParts};
pub use frame::{Frame, PixelFormat};
pub use model::{InitKind, ModelInfo, ModelOptions, RuntimeModel};
pub use options::{MaskRefinement, MaskSource, OverflowPolicy, SessionOptions};
pub use result::{FrameResult, StageLatency};
pub use session::Session;
pub use shared::ResultCallback;
pub use stats::{LatencySummary, SessionStats, StreamStats};
pub use stream::Stream;
