//! Dataset splits and their disjoint seed ranges.
//!
//! Every clip is a pure function of `(config, split, index)`. The RNG seed is
//! `split_base + index` with bases `0` (train), `1 << 40` (validation) and
//! `2 << 40` (test), and `index < 1 << 40`, so no two clips of different
//! splits ever share a seed and the splits stay disjoint however many clips
//! each one uses.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Number of clip indices per split; also the distance between split bases.
pub const CLIPS_PER_SPLIT: u64 = 1 << 40;

/// A dataset split. Each split owns its own range of RNG seeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    Train,
    #[serde(alias = "val")]
    Validation,
    Test,
}

impl Split {
    /// Every split, in seed-range order.
    pub const ALL: &'static [Split] = &[Split::Train, Split::Validation, Split::Test];

    /// Short name: `train`, `val` or `test`.
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Validation => "val",
            Split::Test => "test",
        }
    }

    /// First seed of this split's range.
    pub fn seed_base(self) -> u64 {
        let ordinal = match self {
            Split::Train => 0,
            Split::Validation => 1,
            Split::Test => 2,
        };
        ordinal * CLIPS_PER_SPLIT
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Split {
    type Err = Error;

    /// Accepts `train`, `val` or `validation`, and `test` (case-insensitive).
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "train" => Ok(Split::Train),
            "val" | "validation" => Ok(Split::Validation),
            "test" => Ok(Split::Test),
            _ => Err(Error::invalid(format!("unknown split '{s}'; valid names: train, val (or validation), test"))),
        }
    }
}

/// The RNG seed of clip `index` of `split`: `split.seed_base() + index`.
/// Fails if `index >= 2^40`, which would run into the next split's range.
pub fn clip_seed(split: Split, index: u64) -> Result<u64> {
    if index >= CLIPS_PER_SPLIT {
        return Err(Error::invalid(format!("clip index {index} is out of range: each split holds at most 2^40 clips")));
    }
    Ok(split.seed_base() + index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names() {
        assert_eq!("train".parse::<Split>().unwrap(), Split::Train);
        assert_eq!("val".parse::<Split>().unwrap(), Split::Validation);
        assert_eq!("Validation".parse::<Split>().unwrap(), Split::Validation);
        assert_eq!("test".parse::<Split>().unwrap(), Split::Test);
        let msg = "dev".parse::<Split>().unwrap_err().to_string();
        assert!(msg.contains("dev") && msg.contains("train, val"), "{msg}");
        for &s in Split::ALL {
            assert_eq!(s.as_str().parse::<Split>().unwrap(), s);
        }
        assert_eq!(serde_json::from_str::<Split>("\"val\"").unwrap(), Split::Validation);
    }

    #[test]
    fn seed_ranges_do_not_overlap() {
        let last = CLIPS_PER_SPLIT - 1;
        assert_eq!(clip_seed(Split::Train, 0).unwrap(), 0);
        assert!(clip_seed(Split::Train, last).unwrap() < clip_seed(Split::Validation, 0).unwrap());
        assert!(clip_seed(Split::Validation, last).unwrap() < clip_seed(Split::Test, 0).unwrap());
        assert_eq!(clip_seed(Split::Test, last).unwrap(), 3 * CLIPS_PER_SPLIT - 1);
        for &s in Split::ALL {
            let msg = clip_seed(s, CLIPS_PER_SPLIT).unwrap_err().to_string();
            assert!(msg.contains("index"), "{msg}");
        }
    }
}
