//! Wall-clock time as the API speaks it: unix milliseconds.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering::Relaxed};
use std::time::{SystemTime, UNIX_EPOCH};

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The time the rate limiter and the credit refills read. The system clock, except in tests,
/// which set it through the library (`ServeConfig::clock`): no request, flag or setting reaches
/// it, so a client cannot move keyward's time (Unkey's `X-Test-Time` header has no equivalent).
#[derive(Clone, Default)]
pub struct Clock(Option<Arc<AtomicI64>>);

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock(None)
    }

    /// A clock standing at `now_ms` until set or advanced.
    pub fn manual(now_ms: i64) -> Clock {
        Clock(Some(Arc::new(AtomicI64::new(now_ms))))
    }

    pub fn now(&self) -> i64 {
        match &self.0 {
            None => now_ms(),
            Some(at) => at.load(Relaxed),
        }
    }

    /// Moves a manual clock to `now_ms` (the system clock cannot be set: a no-op).
    pub fn set(&self, now_ms: i64) {
        if let Some(at) = &self.0 {
            at.store(now_ms, Relaxed);
        }
    }

    /// Moves a manual clock forward by `ms`.
    pub fn advance(&self, ms: i64) {
        if let Some(at) = &self.0 {
            at.fetch_add(ms, Relaxed);
        }
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            None => f.write_str("Clock::system"),
            Some(at) => write!(f, "Clock::manual({})", at.load(Relaxed)),
        }
    }
}
