//! The local clock that `POST /_local/clock` moves.

use std::sync::RwLock;

use billing_core::ports::clock::Clock;
use chrono::{DateTime, Duration, Utc};

/// A clock that runs at real speed from an instant it can be moved to.
#[derive(Debug, Default)]
pub struct LocalClock {
    offset: RwLock<Duration>,
}

impl LocalClock {
    /// Moves the clock so that it reads `now` at this instant.
    pub fn set(&self, now: DateTime<Utc>) {
        let mut offset = self
            .offset
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *offset = now - Utc::now();
    }
}

impl Clock for LocalClock {
    fn now(&self) -> DateTime<Utc> {
        let offset = *self
            .offset
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Utc::now() + offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_moved_clock_reads_the_instant_it_was_moved_to_and_keeps_running() {
        let clock = LocalClock::default();
        let target = DateTime::parse_from_rfc3339("2030-01-03T03:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        clock.set(target);
        let read = clock.now();
        assert!(
            read >= target && read - target < Duration::seconds(5),
            "{read}"
        );
    }
}
