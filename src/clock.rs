//! The service's clock for what happens on a schedule: reminders, deadline
//! countdowns, escalations and summaries.
//!
//! It reads the wall clock once, at start, and counts on from there with
//! tokio's monotonic clock. A test can therefore run a schedule of days on
//! paused time (`tokio::time::pause`, `tokio::time::advance`), or move one
//! running app's clock forward with [`Clock::advance`] while its database
//! and HTTP work on real time. Nothing else in the process is affected: the
//! outbox, leases and tokens keep the wall clock.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// The clock of scheduled work, in Unix milliseconds.
#[derive(Debug)]
pub struct Clock {
    /// The wall clock when the clock was made, Unix milliseconds.
    started_at_ms: i64,
    /// tokio's clock at the same moment.
    started: Instant,
    /// How far [`Clock::advance`] moved it ahead of the wall clock.
    ahead_ms: AtomicI64,
}

impl Clock {
    /// A clock that reads the wall clock now and follows tokio's from there.
    pub fn system() -> Self {
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Self::starting_at(wall)
    }

    /// A clock that reads `at_ms` now (tests that want a fixed calendar).
    pub fn starting_at(at_ms: i64) -> Self {
        Self {
            started_at_ms: at_ms,
            started: Instant::now(),
            ahead_ms: AtomicI64::new(0),
        }
    }

    /// Now, Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        let elapsed = i64::try_from(self.started.elapsed().as_millis()).unwrap_or(i64::MAX);
        self.started_at_ms
            .saturating_add(elapsed)
            .saturating_add(self.ahead_ms.load(Ordering::Relaxed))
    }

    /// Now, Unix seconds (Stripe's unit).
    pub fn now_secs(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    /// Moves this clock forward by `by`, as if that much time had passed
    /// (tests and `stripe-chatops demo` replay days in seconds).
    pub fn advance(&self, by: Duration) {
        let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.ahead_ms.fetch_add(by, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On paused time, the clock follows tokio's: three days pass in no time.
    #[tokio::test(start_paused = true)]
    async fn follows_tokios_clock_on_paused_time() {
        let clock = Clock::starting_at(1_000_000);
        assert_eq!(clock.now_ms(), 1_000_000);
        tokio::time::advance(Duration::from_secs(3 * 86_400)).await;
        assert_eq!(clock.now_ms(), 1_000_000 + 3 * 86_400_000);
        tokio::time::sleep(Duration::from_secs(4 * 3_600)).await;
        assert_eq!(clock.now_secs(), 1_000 + 3 * 86_400 + 4 * 3_600);
    }

    #[test]
    fn advance_moves_only_this_clock() {
        let a = Clock::starting_at(0);
        let b = Clock::starting_at(0);
        a.advance(Duration::from_secs(7_200));
        assert!(a.now_ms() >= 7_200_000);
        assert!(b.now_ms() < 7_200_000);
    }
}
