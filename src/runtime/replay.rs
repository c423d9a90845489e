//! The fine-tuner's memory of recent frames: converted model inputs (and
//! instance masks, where the caller gave them), per stream, bounded, with
//! recent-biased sampling of short clips of consecutive frames.

use std::collections::{BTreeMap, VecDeque};

use rand::Rng;

/// One stepped frame as the model saw it.
#[derive(Debug)]
pub(crate) struct ReplayFrame {
    pub episode: u64,
    pub index: u64,
    /// Global insertion order (eviction takes the oldest).
    seq: u64,
    /// Normalised input [3, H, W].
    pub input: Vec<f32>,
    /// Instance ids [H, W] at the model's input size, if given.
    pub guide: Option<Vec<u8>>,
}

#[derive(Debug, Default)]
pub(crate) struct Replay {
    streams: BTreeMap<u64, VecDeque<ReplayFrame>>,
    len: usize,
    capacity: usize,
    next_seq: u64,
    spare: Vec<ReplayFrame>,
    /// Frames ever added.
    pub added: u64,
}

impl Replay {
    pub fn new(capacity: usize) -> Self {
        Replay { capacity: capacity.max(1), ..Replay::default() }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Adds a frame, evicting the oldest frame of any stream when full.
    /// Buffers of evicted frames are reused: no allocation once warm.
    pub fn add(&mut self, stream: u64, episode: u64, index: u64, input: &[f32], guide: Option<&[u8]>) {
        if self.len >= self.capacity {
            let oldest = self.streams.iter().filter_map(|(k, q)| q.front().map(|f| (f.seq, *k))).min();
            if let Some((_, key)) = oldest {
                let queue = self.streams.get_mut(&key).expect("listed");
                let frame = queue.pop_front().expect("non-empty");
                if queue.is_empty() {
                    self.streams.remove(&key);
                }
                self.spare.push(frame);
                self.len -= 1;
            }
        }
        let mut frame =
            self.spare.pop().unwrap_or(ReplayFrame { episode: 0, index: 0, seq: 0, input: Vec::new(), guide: None });
        frame.episode = episode;
        frame.index = index;
        frame.seq = self.next_seq;
        self.next_seq += 1;
        frame.input.clear();
        frame.input.extend_from_slice(input);
        match (guide, &mut frame.guide) {
            (Some(g), Some(buf)) => {
                buf.clear();
                buf.extend_from_slice(g);
            }
            (Some(g), slot) => *slot = Some(g.to_vec()),
            (None, slot) => *slot = None,
        }
        self.streams.entry(stream).or_default().push_back(frame);
        self.len += 1;
        self.added += 1;
    }

    /// `count` clips of `frames` consecutive frames of one stream and
    /// episode each; a clip starts in the newest quarter of its stream's
    /// frames with probability `recent`. None until enough frames exist.
    pub fn sample<'a, R: Rng>(
        &'a self,
        rng: &mut R,
        count: usize,
        frames: usize,
        recent: f64,
    ) -> Option<Vec<Vec<&'a ReplayFrame>>> {
        let candidates: Vec<&VecDeque<ReplayFrame>> = self.streams.values().filter(|q| q.len() >= frames).collect();
        if candidates.is_empty() {
            return None;
        }
        let total: usize = candidates.iter().map(|q| q.len()).sum();
        let mut clips = Vec::with_capacity(count);
        let mut attempts = 0;
        while clips.len() < count && attempts < 20 * count {
            attempts += 1;
            // A stream in proportion to its frames.
            let mut pick = rng.random_range(0..total);
            let queue = candidates
                .iter()
                .find(|q| {
                    if pick < q.len() {
                        true
                    } else {
                        pick -= q.len();
                        false
                    }
                })
                .expect("pick < total");
            let starts = queue.len() - frames + 1;
            let start = if rng.random_bool(recent.clamp(0.0, 1.0)) {
                let recent_from = starts - starts.div_ceil(4);
                rng.random_range(recent_from..starts)
            } else {
                rng.random_range(0..starts)
            };
            let clip: Vec<&ReplayFrame> = queue.range(start..start + frames).collect();
            let consecutive = clip.windows(2).all(|w| w[1].episode == w[0].episode && w[1].index == w[0].index + 1);
            if consecutive {
                clips.push(clip);
            }
        }
        (clips.len() == count).then_some(clips)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn bounded_oldest_first_and_clips_are_consecutive() {
        let mut r = Replay::new(10);
        for i in 0..8u64 {
            r.add(1, 0, i, &[i as f32], None);
            r.add(2, i / 4, i, &[100.0 + i as f32], Some(&[1, 2]));
        }
        assert_eq!((r.len(), r.added), (10, 16));
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        for _ in 0..50 {
            let clips = r.sample(&mut rng, 3, 3, 0.5).unwrap();
            for clip in clips {
                assert!(clip.windows(2).all(|w| w[1].index == w[0].index + 1 && w[1].episode == w[0].episode));
            }
        }
        assert!(r.sample(&mut rng, 1, 9, 0.5).is_none(), "no stream holds 9 frames");
    }
}
