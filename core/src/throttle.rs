//! A trailing write throttle: at most one write per gap, the latest value
//! wins, and the last value offered is always written in the end.
//!
//! The background uses it for the agent's position on a site: held arrow
//! keys or a long drag report a place many times a second, and each report
//! would otherwise be an IndexedDB write. The shell writes what
//! [`Trailing::offer`] returns now, sets one timer when it is told to wait,
//! and writes what [`Trailing::fire`] hands back when the timer goes off.
//!
//! ```
//! use paperclip_core::throttle::{Offer, Trailing};
//! let mut t = Trailing::new(500.0);
//! assert_eq!(t.offer(0.0, 1), Offer::Now(1));
//! assert_eq!(t.offer(100.0, 2), Offer::Later { at_ms: 500.0, schedule: true });
//! assert_eq!(t.offer(200.0, 3), Offer::Later { at_ms: 500.0, schedule: false });
//! assert_eq!(t.fire(500.0), Some(3)); // 2 was never written: 3 replaced it
//! assert_eq!(t.fire(600.0), None);
//! ```

/// What to do with an offered value.
#[derive(Debug, Clone, PartialEq)]
pub enum Offer<T> {
    /// Write this now.
    Now(T),
    /// Held until `at_ms`; `schedule` when no timer is set for it yet
    /// (call [`Trailing::fire`] then).
    Later {
        /// When the held value may be written.
        at_ms: f64,
        /// Set a timer (the first value held since the last write).
        schedule: bool,
    },
}

/// At most one write per `gap_ms`; see the module docs.
#[derive(Debug, Clone)]
pub struct Trailing<T> {
    gap_ms: f64,
    last_write_ms: Option<f64>,
    pending: Option<T>,
}

impl<T> Trailing<T> {
    /// A throttle that lets one write through per `gap_ms`.
    pub fn new(gap_ms: f64) -> Self {
        Trailing {
            gap_ms,
            last_write_ms: None,
            pending: None,
        }
    }

    /// `value` is the latest at `now_ms`: write it now, or hold it (it
    /// replaces any value held before).
    pub fn offer(&mut self, now_ms: f64, value: T) -> Offer<T> {
        match self.last_write_ms {
            // A clock that went backwards counts as a gap passed.
            Some(last) if now_ms >= last && now_ms - last < self.gap_ms => {
                let schedule = self.pending.replace(value).is_none();
                Offer::Later {
                    at_ms: last + self.gap_ms,
                    schedule,
                }
            }
            _ => {
                self.last_write_ms = Some(now_ms);
                self.pending = None;
                Offer::Now(value)
            }
        }
    }

    /// The timer set after [`Offer::Later`] went off at `now_ms`: the held
    /// value to write, if any.
    pub fn fire(&mut self, now_ms: f64) -> Option<T> {
        let value = self.pending.take()?;
        self.last_write_ms = Some(now_ms);
        Some(value)
    }

    /// Nothing held and the gap since the last write passed: forgetting
    /// this throttle now changes nothing.
    pub fn is_idle(&self, now_ms: f64) -> bool {
        self.pending.is_none()
            && self
                .last_write_ms
                .is_none_or(|last| now_ms < last || now_ms - last >= self.gap_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Offers `steps` (gaps between offers, ms) to a throttle whose timer
    /// fires when asked, and returns the writes as (time, value).
    fn run(gap: f64, steps: &[u16]) -> Vec<(f64, usize)> {
        let mut t = Trailing::new(gap);
        let mut timer: Option<f64> = None;
        let mut writes = Vec::new();
        let mut now = 0.0;
        for (value, step) in steps.iter().enumerate() {
            let next = now + f64::from(*step);
            // The timer goes off before the next offer when it is due.
            if let Some(at) = timer.filter(|at| *at <= next) {
                if let Some(v) = t.fire(at) {
                    writes.push((at, v));
                }
                timer = None;
            }
            now = next;
            match t.offer(now, value) {
                Offer::Now(v) => writes.push((now, v)),
                Offer::Later { at_ms, schedule } => {
                    assert!(at_ms > now && at_ms <= now + gap);
                    if schedule {
                        assert!(timer.is_none(), "one timer at a time");
                        timer = Some(at_ms);
                    } else {
                        assert!(timer.is_some(), "a held value always has a timer");
                    }
                }
            }
        }
        if let Some(at) = timer {
            if let Some(v) = t.fire(at) {
                writes.push((at, v));
            }
        }
        writes
    }

    #[test]
    fn ten_thousand_reports_are_a_handful_of_writes() {
        let writes = run(500.0, &[0; 10_000]);
        // All at time 0: the first now, the last one at 500 ms.
        assert_eq!(writes, vec![(0.0, 0), (500.0, 9_999)]);
        let steps = vec![1u16; 10_000]; // 10 s of a report per ms
        let writes = run(500.0, &steps);
        assert!(writes.len() <= 21, "{}", writes.len());
        assert_eq!(writes.last().unwrap().1, 9_999);
    }

    #[test]
    fn idle_once_nothing_is_held_and_the_gap_passed() {
        let mut t = Trailing::new(500.0);
        assert!(t.is_idle(0.0));
        assert_eq!(t.offer(0.0, 1), Offer::Now(1));
        assert!(!t.is_idle(100.0));
        assert!(matches!(t.offer(100.0, 2), Offer::Later { .. }));
        assert!(!t.is_idle(600.0), "a held value");
        assert_eq!(t.fire(500.0), Some(2));
        assert!(!t.is_idle(900.0));
        assert!(t.is_idle(1_000.0));
    }

    #[test]
    fn a_clock_that_goes_back_writes_at_once() {
        let mut t = Trailing::new(500.0);
        assert_eq!(t.offer(1_000.0, 1), Offer::Now(1));
        assert_eq!(t.offer(10.0, 2), Offer::Now(2));
    }

    proptest! {
        /// Writes are at least a gap apart, the last value offered is the
        /// last written, and nothing is written that was not offered last
        /// at its time.
        #[test]
        fn bounded_writes_and_the_last_value_wins(
            steps in proptest::collection::vec(0u16..1_500, 1..400),
            gap in 1u16..1_000,
        ) {
            let gap = f64::from(gap);
            let writes = run(gap, &steps);
            for pair in writes.windows(2) {
                prop_assert!(pair[1].0 - pair[0].0 >= gap, "{pair:?}");
                prop_assert!(pair[1].1 > pair[0].1);
            }
            prop_assert_eq!(writes.last().map(|w| w.1), Some(steps.len() - 1));
            let span: f64 = steps.iter().map(|s| f64::from(*s)).sum();
            prop_assert!(writes.len() as f64 <= 2.0 + span / gap);
        }
    }
}
