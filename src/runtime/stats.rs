//! Counters and latency percentiles for sessions and streams.

use super::result::{FrameResult, StageLatency};

/// Per-stream counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Frames accepted by push/process.
    pub frames_in: u64,
    /// Results produced.
    pub frames_out: u64,
    /// Frames dropped from a full queue (keep-latest policy).
    pub frames_dropped: u64,
    /// Results dropped because nobody polled them (keep-latest policy).
    pub results_dropped: u64,
    /// Frames waiting now.
    pub queue_depth: u64,
    /// Results waiting to be polled now.
    pub results_waiting: u64,
    /// Episodes started.
    pub episodes: u64,
}

/// Percentiles of one stage's latency over the recent window, in µs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LatencySummary {
    pub samples: u64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

/// Session-wide counters.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SessionStats {
    pub streams_open: u64,
    pub frames_in: u64,
    pub frames_out: u64,
    pub frames_dropped: u64,
    pub results_dropped: u64,
    /// Forward passes run (worker batches, process and step calls).
    pub batches: u64,
    pub mean_batch: f64,
    pub largest_batch: u64,
    pub queue: LatencySummary,
    pub model: LatencySummary,
    pub total: LatencySummary,
}

/// How many recent frames latency percentiles cover.
pub const LATENCY_WINDOW: usize = 4096;

/// A fixed ring of recent samples (allocated once).
#[derive(Debug)]
pub(crate) struct LatencyWindow {
    samples: Vec<u64>,
    next: usize,
    filled: bool,
}

impl LatencyWindow {
    pub fn new() -> Self {
        LatencyWindow { samples: vec![0; LATENCY_WINDOW], next: 0, filled: false }
    }

    pub fn record(&mut self, us: u64) {
        self.samples[self.next] = us;
        self.next = (self.next + 1) % LATENCY_WINDOW;
        self.filled |= self.next == 0;
    }

    pub fn summary(&self) -> LatencySummary {
        let n = if self.filled { LATENCY_WINDOW } else { self.next };
        if n == 0 {
            return LatencySummary::default();
        }
        let mut sorted = self.samples[..n].to_vec();
        sorted.sort_unstable();
        let at = |q: f64| sorted[((n as f64 * q).ceil() as usize).clamp(1, n) - 1];
        LatencySummary { samples: n as u64, p50_us: at(0.5), p90_us: at(0.9), p99_us: at(0.99), max_us: sorted[n - 1] }
    }
}

/// The session's running totals (kept under the session lock).
#[derive(Debug)]
pub(crate) struct SessionCounters {
    pub frames_in: u64,
    pub frames_out: u64,
    pub frames_dropped: u64,
    pub results_dropped: u64,
    pub batches: u64,
    pub batched_frames: u64,
    pub largest_batch: u64,
    pub queue: LatencyWindow,
    pub model: LatencyWindow,
    pub total: LatencyWindow,
}

impl SessionCounters {
    pub fn new() -> Self {
        SessionCounters {
            frames_in: 0,
            frames_out: 0,
            frames_dropped: 0,
            results_dropped: 0,
            batches: 0,
            batched_frames: 0,
            largest_batch: 0,
            queue: LatencyWindow::new(),
            model: LatencyWindow::new(),
            total: LatencyWindow::new(),
        }
    }

    pub fn record_batch(&mut self, size: usize) {
        self.batches += 1;
        self.batched_frames += size as u64;
        self.largest_batch = self.largest_batch.max(size as u64);
    }

    pub fn record_frame(&mut self, latency: &StageLatency) {
        self.frames_out += 1;
        self.queue.record(latency.queue_us);
        self.model.record(latency.model_us);
        self.total.record(latency.total_us);
    }

    pub fn snapshot(&self, streams_open: u64) -> SessionStats {
        SessionStats {
            streams_open,
            frames_in: self.frames_in,
            frames_out: self.frames_out,
            frames_dropped: self.frames_dropped,
            results_dropped: self.results_dropped,
            batches: self.batches,
            mean_batch: if self.batches > 0 { self.batched_frames as f64 / self.batches as f64 } else { 0.0 },
            largest_batch: self.largest_batch,
            queue: self.queue.summary(),
            model: self.model.summary(),
            total: self.total.summary(),
        }
    }
}

/// What a path knows about a frame it just stepped.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SteppedFrame {
    /// As pushed (or passed to `process` / `step`).
    pub timestamp_ns: i64,
    pub tag: u64,
    /// From push to the start of the forward pass (0 for synchronous calls).
    pub queue_us: u64,
    /// From push (or the call) to the result being ready.
    pub total_us: u64,
    /// True for synchronous calls (`process`, `step`): their frame is
    /// counted in here, a pushed frame was counted when it was pushed.
    pub counts_in: bool,
}

/// Books a stepped frame the same way on every path (worker, `process`,
/// `step`): the result gets the frame's timestamp, tag and latency, the
/// session counters count it, and so do the stream's stats when it came
/// from a stream (`stream`: its stats and its carry's episode count).
pub(crate) fn book_stepped_frame(
    frame: SteppedFrame,
    result: &mut FrameResult,
    counters: &mut SessionCounters,
    stream: Option<(&mut StreamStats, u64)>,
) {
    result.timestamp_ns = frame.timestamp_ns;
    result.tag = frame.tag;
    result.latency.queue_us = frame.queue_us;
    result.latency.total_us = frame.total_us;
    if frame.counts_in {
        counters.frames_in += 1;
    }
    counters.record_frame(&result.latency);
    if let Some((stats, episodes)) = stream {
        if frame.counts_in {
            stats.frames_in += 1;
        }
        stats.frames_out += 1;
        stats.episodes = episodes;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_cover_the_recent_window() {
        let mut w = LatencyWindow::new();
        assert_eq!(w.summary().samples, 0);
        for v in 1..=100 {
            w.record(v);
        }
        let s = w.summary();
        assert_eq!((s.samples, s.p50_us, s.p90_us, s.p99_us, s.max_us), (100, 50, 90, 99, 100));
        for _ in 0..LATENCY_WINDOW {
            w.record(7);
        }
        let s = w.summary();
        assert_eq!((s.samples as usize, s.p99_us, s.max_us), (LATENCY_WINDOW, 7, 7));
    }
}
