//! [`RateLimit`]: how many requests per second a gateway may send to Stripe, and the
//! limiter that holds every request of a gateway (and of its clones) to it.

use std::num::NonZeroU32;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// One second, widened by 2.5 %: requests are spaced `1.025 s / rate` apart rather than
/// `1 s / rate`. The limiter decides when a request leaves; it reaches Stripe a little later,
/// by a delay that varies (a new connection, scheduling on a busy host). With exact spacing,
/// one late request followed a second later by a prompt one would put `rate + 1` into a
/// one-second window at Stripe's end. The margin absorbs up to 25 ms of such variation over a
/// second and costs 2.5 % of the rate.
const WIDENED_SECOND_NANOS: u64 = 1_025_000_000;

/// A request rate for one gateway: at most this many requests start in any one-second
/// window, evenly spaced (no bursts), retries included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    per_second: NonZeroU32,
}

/// Why a total rate cannot be shared out (see [`RateLimit::share`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateLimitError {
    /// A total of 0 requests per second would stop every charge.
    #[error("the Stripe request rate must be at least 1 per second")]
    ZeroRate,
    /// Nothing to share the rate among.
    #[error("the Stripe request rate must be shared by at least 1 invocation")]
    NoInvocations,
    /// Each invocation would get less than one request per second.
    #[error(
        "{total} Stripe requests/s cannot be shared by {invocations} concurrent invocations \
         (less than 1 each): lower the concurrency or raise the rate"
    )]
    TooManyInvocations {
        /// The total rate asked for.
        total: u32,
        /// The number of invocations it was to be shared by.
        invocations: u32,
    },
}

impl RateLimit {
    /// At most `requests` per second.
    pub const fn per_second(requests: NonZeroU32) -> Self {
        Self {
            per_second: requests,
        }
    }

    /// The part of `total_per_second` each of `invocations` concurrent invocations may use, so
    /// that together they never exceed it: the division rounded down (never up, which could
    /// exceed the total). Refuses a total of 0, 0 invocations, and a share below 1 per second.
    pub fn share(total_per_second: u32, invocations: u32) -> Result<Self, RateLimitError> {
        if total_per_second == 0 {
            return Err(RateLimitError::ZeroRate);
        }
        if invocations == 0 {
            return Err(RateLimitError::NoInvocations);
        }
        NonZeroU32::new(total_per_second / invocations)
            .map(Self::per_second)
            .ok_or(RateLimitError::TooManyInvocations {
                total: total_per_second,
                invocations,
            })
    }

    /// The number of requests per second allowed.
    pub const fn requests_per_second(self) -> NonZeroU32 {
        self.per_second
    }

    /// The time between the starts of two requests.
    pub fn spacing(self) -> Duration {
        Duration::from_nanos(WIDENED_SECOND_NANOS / u64::from(self.per_second.get()))
    }

    /// The least time between two requests as they actually start, late wake-ups included:
    /// `1 s / rate`, so no second ever holds more than the rate.
    fn least_gap(self) -> Duration {
        Duration::from_secs(1) / self.per_second.get()
    }
}

/// Lets callers go one at a time, `spacing` apart, in the order they asked, to every holder
/// of the same limiter (it sits behind an `Arc` in the gateway, so clones share it).
///
/// Only the caller at the head of the queue knows its start time, and the next one is set from
/// when it actually went. Handing out start times in advance would let the callers whose
/// times passed while the process was stalled (a busy host, a throttled Lambda) all go at once
/// when it resumes: a burst of several requests in a few milliseconds.
#[derive(Debug)]
pub(crate) struct Limiter {
    spacing: Duration,
    least_gap: Duration,
    /// The earliest start of the next caller; `None` before the first. Held by the caller at
    /// the head of the queue while it waits: tokio's mutex is fair, so this is the queue.
    next: Mutex<Option<Instant>>,
}

impl Limiter {
    pub(crate) fn new(limit: RateLimit) -> Self {
        Self {
            spacing: limit.spacing(),
            least_gap: limit.least_gap(),
            next: Mutex::new(None),
        }
    }

    /// Waits for this caller's turn. A caller that gives up while waiting takes no turn.
    pub(crate) async fn acquire(&self) {
        let mut next = self.next.lock().await;
        let turn = next.map_or_else(Instant::now, |next| next.max(Instant::now()));
        tokio::time::sleep_until(turn).await;
        // Woken on time (or within the timer's millisecond), the schedule holds and the rate
        // stays `spacing`; woken late, the next caller waits at least `least_gap` from now.
        let went = Instant::now();
        *next = Some((turn + self.spacing).max(went + self.least_gap));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn limit(per_second: u32) -> RateLimit {
        RateLimit::per_second(NonZeroU32::new(per_second).unwrap())
    }

    #[test]
    fn twenty_per_second_are_spaced_fifty_one_and_a_quarter_milliseconds_apart() {
        assert_eq!(limit(20).spacing(), Duration::from_micros(51_250));
        assert_eq!(limit(1).spacing(), Duration::from_millis(1_025));
    }

    #[test]
    fn a_total_rate_is_shared_rounding_down() {
        assert_eq!(RateLimit::share(80, 8), Ok(limit(10)));
        assert_eq!(RateLimit::share(80, 3), Ok(limit(26)));
        assert_eq!(RateLimit::share(80, 80), Ok(limit(1)));
        assert_eq!(RateLimit::share(80, 1), Ok(limit(80)));
    }

    #[test]
    fn sharing_refuses_zero_and_a_share_below_one_per_second() {
        assert_eq!(RateLimit::share(0, 4), Err(RateLimitError::ZeroRate));
        assert_eq!(RateLimit::share(80, 0), Err(RateLimitError::NoInvocations));
        assert_eq!(
            RateLimit::share(80, 81),
            Err(RateLimitError::TooManyInvocations {
                total: 80,
                invocations: 81
            })
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_request_goes_at_once_and_the_next_ones_one_spacing_apart() {
        // 25/s: 41 ms, a whole number of the timer's milliseconds.
        let limiter = Limiter::new(limit(25));
        let start = Instant::now();

        let mut starts = Vec::new();
        for _ in 0..4 {
            limiter.acquire().await;
            starts.push(Instant::now() - start);
        }

        assert_eq!(starts, [0, 41, 82, 123].map(Duration::from_millis));
    }

    #[tokio::test(start_paused = true)]
    async fn a_limiter_idle_for_a_while_saves_up_no_burst() {
        let limiter = Limiter::new(limit(25));
        limiter.acquire().await;
        tokio::time::sleep(Duration::from_secs(5)).await;
        let start = Instant::now();

        limiter.acquire().await;
        let first = Instant::now() - start;
        limiter.acquire().await;
        let second = Instant::now() - start;

        assert_eq!((first, second), (Duration::ZERO, Duration::from_millis(41)));
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_share_one_budget() {
        let limiter = Arc::new(Limiter::new(limit(25)));
        let start = Instant::now();

        let callers: Vec<_> = (0..8)
            .map(|_| {
                let limiter = Arc::clone(&limiter);
                tokio::spawn(async move {
                    let mut starts = Vec::new();
                    for _ in 0..5 {
                        limiter.acquire().await;
                        starts.push(Instant::now() - start);
                    }
                    starts
                })
            })
            .collect();
        let mut starts = Vec::new();
        for caller in callers {
            starts.extend(caller.await.unwrap());
        }
        starts.sort();

        // 8 callers × 5 requests: one start every 41 ms, never two in the same turn.
        let expected: Vec<_> = (0..40).map(|n| Duration::from_millis(41 * n)).collect();
        assert_eq!(starts, expected);
    }

    #[tokio::test(start_paused = true)]
    async fn callers_whose_turn_passed_during_a_stall_do_not_go_at_once() {
        let limiter = Arc::new(Limiter::new(limit(25)));
        limiter.acquire().await;
        let start = Instant::now();
        let callers: Vec<_> = (0..3)
            .map(|_| {
                let limiter = Arc::clone(&limiter);
                tokio::spawn(async move {
                    limiter.acquire().await;
                    Instant::now() - start
                })
            })
            .collect();
        tokio::task::yield_now().await; // all three are queued

        // The process stalls for 200 ms: every turn planned before then has passed.
        tokio::time::advance(Duration::from_millis(200)).await;
        let mut starts = Vec::new();
        for caller in callers {
            starts.push(caller.await.unwrap());
        }
        starts.sort();

        // The first goes on waking; the others keep at least 1 s / 25 = 40 ms apart.
        assert_eq!(starts, [200, 240, 281].map(Duration::from_millis));
    }

    #[tokio::test(start_paused = true)]
    async fn no_one_second_window_holds_more_than_the_limit() {
        let limiter = Limiter::new(limit(20));
        let start = Instant::now();
        let mut starts = Vec::new();
        for _ in 0..100 {
            limiter.acquire().await;
            starts.push(Instant::now() - start);
        }

        let most_in_a_second = starts
            .iter()
            .map(|&from| {
                starts
                    .iter()
                    .filter(|&&t| t >= from && t - from <= Duration::from_secs(1))
                    .count()
            })
            .max();

        // A closed window [t, t + 1 s]: the stricter count.
        assert_eq!(most_in_a_second, Some(20));
    }
}
