//! The production clock.

use billing_core::ports::clock::Clock;
use chrono::{DateTime, Utc};

/// The machine's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
