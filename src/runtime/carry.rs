//! What a stream carries from frame to frame: the next frame's initial
//! slots, the episode counter, and stable slot ids.

use super::model::InitKind;
use crate::error::{Error, Result};

/// How the next frame's slots start.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum FrameInit {
    /// Continue the episode from the carried slots.
    Continue,
    /// Continue the episode from these slots [K * D] (set_state).
    ContinueFrom(Vec<f32>),
    /// Start a new episode.
    Start(EpisodeSeed),
}

/// Where a new episode's first slots come from.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum EpisodeSeed {
    /// The model's own initialiser (seeded noise or learned queries).
    Default,
    /// Boxes [K * 4] for a conditional model.
    Boxes(Vec<f32>),
    /// Given slots [K * D].
    Slots(Vec<f32>),
}

impl FrameInit {
    pub fn starts_episode(&self) -> bool {
        matches!(self, FrameInit::Start(_))
    }

    /// The instruction for the frame after a dropped one: a dropped
    /// frame's reset or seed must not be lost with its pixels.
    pub fn absorb_dropped(self, dropped: FrameInit) -> FrameInit {
        match (dropped, self) {
            (dropped, FrameInit::Continue) => dropped,
            (FrameInit::Start(_), FrameInit::ContinueFrom(slots)) => FrameInit::Start(EpisodeSeed::Slots(slots)),
            (_, own) => own,
        }
    }
}

/// splitmix64: a full-period mixer, so nearby inputs give unrelated seeds.
pub fn mix_seed(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The seed of a stream's episode noise (Gaussian init): a function of the
/// session seed, the stream's key (its open order, or `STEP_LANE_KEY + i`
/// for lane i of `Session::step`) and the episode number, so deterministic
/// sessions reproduce, and no two streams share noise.
pub fn episode_seed(session_seed: u64, stream_key: u64, episode: u64) -> u64 {
    mix_seed(mix_seed(session_seed ^ mix_seed(stream_key)).wrapping_add(episode))
}

/// Stream keys of `Session::step`'s lanes start here.
pub const STEP_LANE_KEY: u64 = 1 << 48;

/// The carried state of one stream (touched only by whoever steps it).
#[derive(Debug)]
pub(crate) struct Carry {
    pub stream_key: u64,
    /// Next frame's initial slots [K * D], once an episode has started.
    pub next_init: Vec<f32>,
    pub started: bool,
    /// Episodes started so far; the current one is `episodes - 1`.
    pub episodes: u64,
    pub frames: u64,
    pub slot_ids: Vec<u32>,
    pub active: Vec<u8>,
    next_id: u32,
}

impl Carry {
    pub fn new(stream_key: u64, num_slots: usize, slot_dim: usize) -> Self {
        Carry {
            stream_key,
            next_init: vec![0.0; num_slots * slot_dim],
            started: false,
            episodes: 0,
            frames: 0,
            slot_ids: vec![0; num_slots],
            active: vec![0; num_slots],
            next_id: 0,
        }
    }

    /// The episode number the next frame belongs to, if it starts one.
    pub fn next_episode(&self) -> u64 {
        self.episodes
    }

    /// Books a frame's outcome: new ids for a new episode and for slots
    /// that come back active (they now hold a different object).
    pub fn record_frame(&mut self, started_episode: bool, active: &[u8]) {
        if started_episode {
            self.episodes += 1;
            for id in self.slot_ids.iter_mut() {
                *id = self.next_id;
                self.next_id = self.next_id.wrapping_add(1);
            }
        } else {
            for (k, (&now, was)) in active.iter().zip(&self.active).enumerate() {
                if now != 0 && *was == 0 {
                    self.slot_ids[k] = self.next_id;
                    self.next_id = self.next_id.wrapping_add(1);
                }
            }
        }
        self.active.copy_from_slice(active);
        self.started = true;
        self.frames += 1;
    }
}

/// Checks a caller-supplied array of slots or boxes.
pub(crate) fn check_values(values: &[f32], expected: usize, what: &str) -> Result<()> {
    if values.len() != expected {
        return Err(Error::invalid(format!("{what} has {} values, the model needs {expected}", values.len())));
    }
    if values.iter().any(|v| !v.is_finite()) {
        return Err(Error::invalid(format!("{what} contains NaN or infinite values")));
    }
    Ok(())
}

/// A conditional model cannot start an episode without boxes or slots.
pub(crate) fn check_episode_seed(next: &FrameInit, init: InitKind) -> Result<()> {
    if init == InitKind::Conditional && *next == FrameInit::Start(EpisodeSeed::Default) {
        return Err(Error::invalid(
            "this conditional model needs first-frame boxes: call seed_boxes (or seed_slots) before the episode's first frame",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_within_an_episode_and_fresh_after() {
        let mut c = Carry::new(0, 3, 2);
        c.record_frame(true, &[1, 1, 1]);
        assert_eq!(c.slot_ids, [0, 1, 2]);
        c.record_frame(false, &[1, 0, 1]);
        assert_eq!(c.slot_ids, [0, 1, 2]);
        c.record_frame(false, &[1, 1, 1]);
        assert_eq!(c.slot_ids, [0, 3, 2], "a slot that comes back holds a new object");
        c.record_frame(true, &[1, 1, 1]);
        assert_eq!(c.slot_ids, [4, 5, 6]);
        assert_eq!((c.episodes, c.frames), (2, 4));
    }

    #[test]
    fn a_dropped_frames_reset_is_kept() {
        let start = FrameInit::Start(EpisodeSeed::Default);
        assert_eq!(FrameInit::Continue.absorb_dropped(start.clone()), start);
        let from = FrameInit::ContinueFrom(vec![1.0]);
        assert_eq!(from.absorb_dropped(start), FrameInit::Start(EpisodeSeed::Slots(vec![1.0])));
        assert_eq!(FrameInit::Continue.absorb_dropped(FrameInit::Continue), FrameInit::Continue);
    }

    #[test]
    fn episode_seeds_differ_between_streams_and_episodes() {
        let a = episode_seed(1, 0, 0);
        assert_eq!(a, episode_seed(1, 0, 0));
        assert_ne!(a, episode_seed(1, 1, 0));
        assert_ne!(a, episode_seed(1, 0, 1));
        assert_ne!(a, episode_seed(2, 0, 0));
    }
}
