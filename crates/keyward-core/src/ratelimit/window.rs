//! Unkey's sliding window, as arithmetic on two counts.
//!
//! Windows of `duration` ms are aligned to the unix epoch: the window of `now` is
//! `now / duration`. A limit counts the cost admitted in the current window plus the cost admitted
//! in the previous one, weighted by the fraction of the previous window that still lies inside
//! the sliding window `(now - duration, now]`, rounded down:
//!
//! ```text
//! effective = current + floor(previous × (1 − elapsed / duration))
//! ```
//!
//! where `elapsed` is how far `now` is into the current window. A call of cost `c` is admitted
//! when `effective + c ≤ limit`. The weight is computed in `f64` exactly as Unkey computes it
//! (`internal/services/ratelimit`), so `remaining` agrees with Unkey's to the unit, including
//! where a decimal fraction is not exact in binary (`1 − 0.9` is a little below `0.1`).

/// The window `now` falls in.
pub fn sequence(now: i64, duration: i64) -> i64 {
    now.div_euclid(duration)
}

/// When the window of `now` ends (unix ms): Unkey's `reset`.
pub fn reset(now: i64, duration: i64) -> i64 {
    (sequence(now, duration) + 1).saturating_mul(duration)
}

/// The part of `previous` that still counts at `now`.
pub fn weighted_previous(previous: i64, now: i64, duration: i64) -> i64 {
    let elapsed = now - sequence(now, duration) * duration;
    let elapsed = elapsed as f64 / duration as f64;
    (previous as f64 * (1.0 - elapsed)) as i64
}

/// The effective count at `now` of a limit whose current window holds `current` and whose
/// previous window holds `previous`.
pub fn effective(current: i64, previous: i64, now: i64, duration: i64) -> i64 {
    current.saturating_add(weighted_previous(previous, now, duration))
}

/// The counts of an identifier's two windows: all a counter keeps (24 bytes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Windows {
    /// The window `current` counts.
    pub sequence: i64,
    pub current: i64,
    /// The count of window `sequence - 1`.
    pub previous: i64,
}

impl Windows {
    /// Moves the counts forward to window `sequence` (a counter is only ever asked about the
    /// present, and the present only moves forward; an earlier `sequence` — a clock stepped
    /// back — leaves the counts as they are).
    pub fn roll_to(&mut self, sequence: i64) {
        if sequence == self.sequence {
            return;
        }
        if sequence == self.sequence + 1 {
            self.previous = self.current;
        } else if sequence > self.sequence {
            self.previous = 0;
        } else {
            return;
        }
        self.current = 0;
        self.sequence = sequence;
    }

    /// Whether both windows are over at `now`, so the counts weigh nothing any more.
    pub fn idle_at(&self, now: i64, duration: i64) -> bool {
        sequence(now, duration) >= self.sequence + 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_aligned_to_the_epoch() {
        assert_eq!(sequence(0, 1000), 0);
        assert_eq!(sequence(999, 1000), 0);
        assert_eq!(sequence(1000, 1000), 1);
        assert_eq!(reset(1500, 1000), 2000);
        assert_eq!(reset(2000, 1000), 3000);
    }

    #[test]
    fn the_previous_window_weighs_what_is_left_of_it_rounded_down() {
        // 10 in the previous window, a quarter into the current one: 7.5 → 7.
        assert_eq!(weighted_previous(10, 10_250, 1000), 7);
        assert_eq!(effective(3, 10, 10_250, 1000), 10);
        // At the start of a window the previous one counts whole.
        assert_eq!(weighted_previous(10, 10_000, 1000), 10);
        // Unkey's float: 1 − 0.9 is 0.09999999999999998, so 10 × it rounds down to 0.
        assert_eq!(weighted_previous(10, 10_900, 1000), 0);
        assert_eq!(weighted_previous(10, 10_999, 1000), 0);
    }

    #[test]
    fn rolling_forward_keeps_one_window_or_none() {
        let mut w = Windows {
            sequence: 5,
            current: 4,
            previous: 9,
        };
        w.roll_to(5);
        assert_eq!((w.current, w.previous), (4, 9));
        w.roll_to(6);
        assert_eq!((w.sequence, w.current, w.previous), (6, 0, 4));
        w.current = 2;
        w.roll_to(9);
        assert_eq!((w.sequence, w.current, w.previous), (9, 0, 0));
        w.current = 1;
        w.roll_to(3);
        assert_eq!((w.sequence, w.current), (9, 1), "never backwards");
        assert!(!w.idle_at(10_999, 1000));
        assert!(w.idle_at(11_000, 1000));
    }
}
