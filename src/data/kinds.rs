//! The enumerated choices of the generator: object shapes, background styles
//! and motion models. Each has a stable lower-case name used by the CLI and
//! by serialized configs, so the two never disagree.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Declares a fieldless enum with `ALL`, `as_str`, `Display` and `FromStr`.
/// The serde names come from `rename_all = "snake_case"`; a test checks they
/// match `as_str`.
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $what:literal,
        { $( $(#[$vmeta:meta])* $variant:ident => $text:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The lower-case name used on the command line and in configs.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = Error;

            /// Parses a name case-insensitively; the error lists the valid names.
            fn from_str(s: &str) -> Result<Self> {
                let wanted = s.trim().to_ascii_lowercase();
                Self::ALL
                    .iter()
                    .copied()
                    .find(|kind| kind.as_str() == wanted)
                    .ok_or_else(|| {
                        Error::invalid(format!(
                            "unknown {} '{}'; valid names: {}",
                            $what,
                            s,
                            valid_names(Self::ALL)
                        ))
                    })
            }
        }
    };
}

named_enum!(
    /// Object outline. `Star` and `Cross` are left out of the default config
    /// so they can serve as unseen shapes in domain-shift experiments.
    ShapeKind, "shape",
    {
        Disc => "disc",
        Square => "square",
        Triangle => "triangle",
        /// A disc squashed along one axis (the object's `aspect`).
        Ellipse => "ellipse",
        Star => "star",
        Cross => "cross",
    }
);

named_enum!(
    /// Style of the clip's static background.
    BackgroundKind, "background",
    {
        /// One uniform colour.
        Plain => "plain",
        /// A linear blend between two colours in a random direction.
        Gradient => "gradient",
        /// A checker, stripe or smooth-noise pattern with random scale.
        Textured => "textured",
    }
);

named_enum!(
    /// How an object moves from frame to frame.
    MotionKind, "motion",
    {
        /// Never moves.
        Static => "static",
        /// Constant velocity, reflected at the frame borders so the object
        /// stays inside.
        Bounce => "bounce",
        /// Constant velocity from partly or fully outside the frame straight
        /// through it: the object enters and later leaves, never bouncing.
        Crossing => "crossing",
    }
);

/// Comma-separated names of `kinds`, for error messages.
pub fn valid_names<T: fmt::Display>(kinds: &[T]) -> String {
    kinds.iter().map(|k| k.to_string()).collect::<Vec<_>>().join(", ")
}

/// Parses a comma-separated list such as `"disc,square"` (CLI convenience).
/// Empty items are rejected, so a stray comma is reported, not ignored.
pub fn parse_list<T: FromStr<Err = Error>>(s: &str) -> Result<Vec<T>> {
    s.split(',')
        .map(|item| {
            if item.trim().is_empty() {
                Err(Error::invalid(format!("empty item in list '{s}'")))
            } else {
                item.parse()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for &k in ShapeKind::ALL {
            assert_eq!(k.as_str().parse::<ShapeKind>().unwrap(), k);
            assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{}\"", k.as_str()));
        }
        for &k in BackgroundKind::ALL {
            assert_eq!(k.as_str().parse::<BackgroundKind>().unwrap(), k);
            assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{}\"", k.as_str()));
        }
        for &k in MotionKind::ALL {
            assert_eq!(k.as_str().parse::<MotionKind>().unwrap(), k);
            assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{}\"", k.as_str()));
        }
        assert_eq!(ShapeKind::ALL.len(), 6);
        assert_eq!(" Disc ".parse::<ShapeKind>().unwrap(), ShapeKind::Disc);
    }

    #[test]
    fn unknown_name_lists_valid_ones() {
        let msg = "hexagon".parse::<ShapeKind>().unwrap_err().to_string();
        assert!(msg.contains("hexagon") && msg.contains("shape"), "{msg}");
        assert!(msg.contains("disc, square, triangle, ellipse, star, cross"), "{msg}");
        let msg = "wobble".parse::<MotionKind>().unwrap_err().to_string();
        assert!(msg.contains("static, bounce, crossing"), "{msg}");
    }

    #[test]
    fn parse_list_works_and_rejects_empty_items() {
        let v: Vec<ShapeKind> = parse_list("disc,star").unwrap();
        assert_eq!(v, vec![ShapeKind::Disc, ShapeKind::Star]);
        assert!(parse_list::<ShapeKind>("disc,,star").is_err());
        assert!(parse_list::<ShapeKind>("").is_err());
    }
}
