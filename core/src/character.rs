//! What the character does, as a pure function of the chat: the
//! [`Animation`] for the current state, and which idle variation plays next
//! (weighted random, as the classic agents chose theirs; the random number
//! is an argument).
//!
//! ```
//! use paperclip_core::character::{animation, pick_idle, Animation, IdleVariant, View};
//! let idle = View { ready: true, ..View::default() };
//! assert_eq!(animation(&idle, IdleVariant::Bob), Animation::Idle(IdleVariant::Bob));
//! assert_eq!(animation(&View { waiting: true, ..idle }, IdleVariant::Bob), Animation::Thinking);
//! assert_eq!(pick_idle(0.0), IdleVariant::Bob);
//! ```

use crate::resilience::fallback::Degradation;

/// A quiet moment's animation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdleVariant {
    /// A gentle float.
    Bob,
    /// A blink.
    Blink,
    /// Looking around.
    LookAround,
    /// A stretch.
    Stretch,
    /// Tapping, waiting.
    Tap,
}

/// The idle variations and their weights (the bob is the resting state).
pub const IDLE_WEIGHTS: [(IdleVariant, u32); 5] = [
    (IdleVariant::Bob, 50),
    (IdleVariant::Blink, 20),
    (IdleVariant::LookAround, 15),
    (IdleVariant::Stretch, 10),
    (IdleVariant::Tap, 5),
];

/// How long an idle variation plays before the next is picked.
pub const IDLE_MS: u32 = 6_000;
/// How long the greeting plays when the agent appears.
pub const GREETING_MS: u32 = 1_600;
/// How long the goodbye plays before the agent is removed.
pub const GOODBYE_MS: u32 = 500;

/// The idle variation for random `r` in `[0, 1)` (others are clamped).
pub fn pick_idle(r: f64) -> IdleVariant {
    let total: u32 = IDLE_WEIGHTS.iter().map(|(_, w)| w).sum();
    let r = if r.is_nan() {
        0.0
    } else {
        r.clamp(0.0, 1.0 - f64::EPSILON)
    };
    let mut target = (r * f64::from(total)) as u32;
    for (variant, weight) in IDLE_WEIGHTS {
        if target < weight {
            return variant;
        }
        target -= weight;
    }
    IdleVariant::Bob
}

/// An animation of the character.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Animation {
    /// Waving hello when the agent appears.
    Greeting,
    /// Nothing to do.
    Idle(IdleVariant),
    /// Waiting for the provider.
    Thinking,
    /// An answer streams.
    Speaking,
    /// Something failed, or every provider is down (answers come from the
    /// cache or the page).
    Alert,
    /// A provider failed and another one answers instead.
    Hesitation,
    /// Waving goodbye before the agent closes.
    Goodbye,
    /// Looking and pointing toward something highlighted on the page.
    Pointing(Direction),
}

/// Where the character looks and points, on screen (8 directions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Up.
    Up,
    /// Up and right.
    UpRight,
    /// Right.
    Right,
    /// Down and right.
    DownRight,
    /// Down.
    Down,
    /// Down and left.
    DownLeft,
    /// Left.
    Left,
    /// Up and left.
    UpLeft,
}

/// Closer than this (CSS px), a target is "here": no direction.
pub const POINT_MIN_DISTANCE: f64 = 24.0;
/// How long the character points after something is highlighted.
pub const POINT_MS: u32 = 2_500;

impl Direction {
    /// The direction of a target `dx`, `dy` CSS px away (y grows down),
    /// `None` when it is nearer than [`POINT_MIN_DISTANCE`] or not a number.
    pub fn toward(dx: f64, dy: f64) -> Option<Direction> {
        let distance = dx.hypot(dy);
        if distance.is_nan() || distance < POINT_MIN_DISTANCE {
            return None;
        }
        // Angle clockwise from up, in eighths of a turn.
        let turns = dx.atan2(-dy) / std::f64::consts::TAU;
        let eighth = ((turns * 8.0).round() as i64).rem_euclid(8);
        Some(
            [
                Direction::Up,
                Direction::UpRight,
                Direction::Right,
                Direction::DownRight,
                Direction::Down,
                Direction::DownLeft,
                Direction::Left,
                Direction::UpLeft,
            ][eighth as usize],
        )
    }

    /// The CSS class of the direction.
    pub fn class(self) -> &'static str {
        match self {
            Direction::Up => "point-up",
            Direction::UpRight => "point-up-right",
            Direction::Right => "point-right",
            Direction::DownRight => "point-down-right",
            Direction::Down => "point-down",
            Direction::DownLeft => "point-down-left",
            Direction::Left => "point-left",
            Direction::UpLeft => "point-up-left",
        }
    }
}

impl Animation {
    /// The CSS class the drawing gets.
    pub fn class(self) -> &'static str {
        match self {
            Self::Greeting => "greeting",
            Self::Idle(IdleVariant::Bob) => "idle",
            Self::Idle(IdleVariant::Blink) => "idle blink",
            Self::Idle(IdleVariant::LookAround) => "idle look",
            Self::Idle(IdleVariant::Stretch) => "idle stretch",
            Self::Idle(IdleVariant::Tap) => "idle tap",
            Self::Thinking => "thinking",
            Self::Speaking => "speaking",
            Self::Alert => "alert",
            Self::Hesitation => "hesitation",
            Self::Goodbye => "goodbye",
            Self::Pointing(d) => match d {
                Direction::Up => "pointing point-up",
                Direction::UpRight => "pointing point-up-right",
                Direction::Right => "pointing point-right",
                Direction::DownRight => "pointing point-down-right",
                Direction::Down => "pointing point-down",
                Direction::DownLeft => "pointing point-down-left",
                Direction::Left => "pointing point-left",
                Direction::UpLeft => "pointing point-up-left",
            },
        }
    }

    /// A short name for assistive technology and tests.
    pub fn name(self) -> &'static str {
        match self {
            Self::Greeting => "greeting",
            Self::Idle(_) => "idle",
            Self::Thinking => "thinking",
            Self::Speaking => "speaking",
            Self::Alert => "alert",
            Self::Hesitation => "hesitating",
            Self::Goodbye => "goodbye",
            Self::Pointing(_) => "pointing",
        }
    }
}

/// What the animation depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct View {
    /// The chat is connected.
    pub ready: bool,
    /// The agent just appeared (the greeting has not finished).
    pub greeting: bool,
    /// The agent is closing.
    pub closing: bool,
    /// Waiting for an answer to start.
    pub waiting: bool,
    /// An answer streams.
    pub streaming: bool,
    /// An error is shown.
    pub error: bool,
    /// Where the latest answer came from.
    pub level: Degradation,
    /// Something was just highlighted on the page, in this direction.
    pub pointing: Option<Direction>,
}

/// The animation for `view`, with `idle` as the current idle variation.
pub fn animation(view: &View, idle: IdleVariant) -> Animation {
    if view.closing {
        Animation::Goodbye
    } else if view.error {
        Animation::Alert
    } else if view.waiting {
        Animation::Thinking
    } else if view.streaming {
        match view.level {
            Degradation::Fallback => Animation::Hesitation,
            _ => Animation::Speaking,
        }
    } else if view.greeting || !view.ready {
        Animation::Greeting
    } else if let Some(direction) = view.pointing {
        Animation::Pointing(direction)
    } else {
        match view.level {
            Degradation::Cached | Degradation::Offline => Animation::Alert,
            Degradation::Fallback => Animation::Hesitation,
            Degradation::Normal => Animation::Idle(idle),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn directions() {
        assert_eq!(Direction::toward(0.0, -100.0), Some(Direction::Up));
        assert_eq!(Direction::toward(100.0, -100.0), Some(Direction::UpRight));
        assert_eq!(Direction::toward(100.0, 10.0), Some(Direction::Right));
        assert_eq!(Direction::toward(80.0, 90.0), Some(Direction::DownRight));
        assert_eq!(Direction::toward(-5.0, 300.0), Some(Direction::Down));
        assert_eq!(Direction::toward(-100.0, 100.0), Some(Direction::DownLeft));
        assert_eq!(Direction::toward(-400.0, 0.0), Some(Direction::Left));
        assert_eq!(Direction::toward(-100.0, -120.0), Some(Direction::UpLeft));
        assert_eq!(Direction::toward(3.0, 4.0), None);
        assert_eq!(Direction::toward(f64::NAN, 4.0), None);
    }

    #[test]
    fn pointing_waits_for_busier_states() {
        let view = View {
            ready: true,
            pointing: Some(Direction::Left),
            ..View::default()
        };
        let idle = IdleVariant::Bob;
        assert_eq!(animation(&view, idle), Animation::Pointing(Direction::Left));
        assert_eq!(
            animation(
                &View {
                    waiting: true,
                    ..view
                },
                idle
            ),
            Animation::Thinking
        );
        assert_eq!(
            animation(
                &View {
                    streaming: true,
                    ..view
                },
                idle
            ),
            Animation::Speaking
        );
        assert_eq!(
            animation(
                &View {
                    greeting: true,
                    ..view
                },
                idle
            ),
            Animation::Greeting
        );
        assert_eq!(
            Animation::Pointing(Direction::Left).class(),
            "pointing point-left"
        );
    }

    #[test]
    fn priorities() {
        let base = View {
            ready: true,
            ..View::default()
        };
        let idle = IdleVariant::Blink;
        assert_eq!(animation(&base, idle), Animation::Idle(idle));
        assert_eq!(
            animation(
                &View {
                    greeting: true,
                    ..base
                },
                idle
            ),
            Animation::Greeting
        );
        assert_eq!(
            animation(
                &View {
                    streaming: true,
                    ..base
                },
                idle
            ),
            Animation::Speaking
        );
        let fallback = View {
            streaming: true,
            level: Degradation::Fallback,
            ..base
        };
        assert_eq!(animation(&fallback, idle), Animation::Hesitation);
        let down = View {
            level: Degradation::Offline,
            ..base
        };
        assert_eq!(animation(&down, idle), Animation::Alert);
        assert_eq!(
            animation(
                &View {
                    error: true,
                    waiting: true,
                    ..base
                },
                idle
            ),
            Animation::Alert
        );
        assert_eq!(
            animation(
                &View {
                    closing: true,
                    error: true,
                    ..base
                },
                idle
            ),
            Animation::Goodbye
        );
    }

    #[test]
    fn weights_decide_the_idle_variation() {
        assert_eq!(pick_idle(0.0), IdleVariant::Bob);
        assert_eq!(pick_idle(0.49), IdleVariant::Bob);
        assert_eq!(pick_idle(0.5), IdleVariant::Blink);
        assert_eq!(pick_idle(0.999), IdleVariant::Tap);
        assert_eq!(pick_idle(f64::NAN), IdleVariant::Bob);
        assert_eq!(pick_idle(7.0), IdleVariant::Tap);
    }

    proptest! {
        /// Over many draws each variation shows up at its weight's share.
        #[test]
        fn frequencies_follow_the_weights(seed in 0u64..1000) {
            let mut counts = std::collections::HashMap::new();
            let n = 20_000;
            let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            for _ in 0..n {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let r = (x >> 11) as f64 / (1u64 << 53) as f64;
                *counts.entry(pick_idle(r)).or_insert(0u32) += 1;
            }
            for (variant, weight) in IDLE_WEIGHTS {
                let share = f64::from(counts.get(&variant).copied().unwrap_or(0)) / f64::from(n);
                prop_assert!((share - f64::from(weight) / 100.0).abs() < 0.02, "{variant:?} {share}");
            }
        }
    }
}
