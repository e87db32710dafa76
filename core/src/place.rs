//! Where the agent sits on a page: [`Place`], its distance from the
//! viewport's right and bottom edges, remembered per site.
//!
//! Offsets from the bottom-right corner (where the agent first appears)
//! keep it in the same corner when the window is resized; the content
//! script clamps it into the viewport when it applies it.
//!
//! ```
//! use paperclip_core::place::Place;
//! let p = Place::default().moved(-30, 10);
//! assert_eq!(p, Place { right: 46, bottom: 6 });
//! assert_eq!(Place::default().nudged("ArrowUp"), Some(Place { right: 16, bottom: 40 }));
//! assert!(Place { right: -5, bottom: 0 }.validate().is_err());
//! ```

use serde::{Deserialize, Serialize};

/// The agent's distance from the viewport's edges, CSS px.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// From the right edge.
    pub right: i32,
    /// From the bottom edge.
    pub bottom: i32,
}

/// Where the agent appears until it is moved.
pub const DEFAULT_MARGIN: i32 = 16;
/// Largest offset accepted (larger screens clamp on apply).
pub const MAX_OFFSET: i32 = 16_384;
/// One arrow-key step, CSS px.
pub const KEY_STEP: i32 = 24;

impl Default for Place {
    fn default() -> Self {
        Place {
            right: DEFAULT_MARGIN,
            bottom: DEFAULT_MARGIN,
        }
    }
}

/// Why a [`Place`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("agent position {right},{bottom} is outside 0..={MAX_OFFSET}")]
pub struct InvalidPlace {
    /// The refused offset from the right.
    pub right: i32,
    /// The refused offset from the bottom.
    pub bottom: i32,
}

impl Place {
    /// Moved by a pointer drag of `dx`, `dy` CSS px (y grows down), at
    /// least 0 from each edge.
    pub fn moved(self, dx: i32, dy: i32) -> Place {
        Place {
            right: self.right.saturating_sub(dx).clamp(0, MAX_OFFSET),
            bottom: self.bottom.saturating_sub(dy).clamp(0, MAX_OFFSET),
        }
    }

    /// Moved by the key `key` (`ArrowUp`/`Down`/`Left`/`Right` a step,
    /// `Home` back to the default), or `None` for other keys.
    pub fn nudged(self, key: &str) -> Option<Place> {
        let (dx, dy) = match key {
            "ArrowUp" => (0, -KEY_STEP),
            "ArrowDown" => (0, KEY_STEP),
            "ArrowLeft" => (-KEY_STEP, 0),
            "ArrowRight" => (KEY_STEP, 0),
            "Home" => return Some(Place::default()),
            _ => return None,
        };
        Some(self.moved(dx, dy))
    }

    /// The place if both offsets are in `0..=MAX_OFFSET`.
    pub fn validate(self) -> Result<Place, InvalidPlace> {
        let ok = |v: i32| (0..=MAX_OFFSET).contains(&v);
        if ok(self.right) && ok(self.bottom) {
            Ok(self)
        } else {
            Err(InvalidPlace {
                right: self.right,
                bottom: self.bottom,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn moves_and_nudges_stay_valid(
            start in (0..=MAX_OFFSET, 0..=MAX_OFFSET),
            moves in proptest::collection::vec((any::<i32>(), any::<i32>()), 0..20),
            keys in proptest::collection::vec(
                prop_oneof![Just("ArrowUp"), Just("ArrowDown"), Just("ArrowLeft"), Just("ArrowRight"), Just("Home"), Just("x")],
                0..20,
            ),
        ) {
            let mut p = Place { right: start.0, bottom: start.1 };
            for (dx, dy) in moves {
                p = p.moved(dx, dy);
                prop_assert!(p.validate().is_ok());
            }
            for k in keys {
                p = p.nudged(k).unwrap_or(p);
                prop_assert!(p.validate().is_ok());
            }
        }
    }

    #[test]
    fn a_drag_to_the_right_comes_closer_to_the_right_edge() {
        assert_eq!(Place::default().moved(10, 0).right, 6);
        assert_eq!(
            Place::default().moved(100, 100),
            Place {
                right: 0,
                bottom: 0
            }
        );
        assert_eq!(Place::default().nudged("Home"), Some(Place::default()));
        assert_eq!(Place::default().nudged("a"), None);
    }
}
