//! Sessions, streams, the cross-stream batcher, frame conversion, slot
//! identity and weight publication. Uses `model` and `train`. Filled in by
//! the streaming-runtime work.
