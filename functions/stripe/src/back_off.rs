//! When to send a request again after Stripe refused it with 429 (rate limited, or an object
//! locked by another request). A pure rule over what the answer said; the transport
//! (`crate::transport`) carries it out.

use std::time::Duration;

/// At most this many retries of one request (so at most 4 attempts).
pub(crate) const MAX_RETRIES: u32 = 3;

/// At most this long paused between the attempts of one request, in total. With the 5 s
/// per-attempt timeout, one request stays well inside a Lambda invocation (the charge worker's
/// and an API Gateway request's 28 s): a 429 answers quickly, so the worst case is three quick
/// refusals, 10 s of pauses and one slow attempt.
pub(crate) const MAX_TOTAL_PAUSE: Duration = Duration::from_secs(10);

/// The first pause when Stripe does not say how long to wait; it doubles on each retry
/// (0.5 s, 1 s, 2 s).
const FIRST_PAUSE: Duration = Duration::from_millis(500);

/// What a refused answer says about trying again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// The HTTP status.
    pub status: u16,
    /// `Stripe-Should-Retry`, when present and `true` or `false`.
    pub should_retry: Option<bool>,
    /// `Retry-After` in seconds, when present and a whole number.
    pub retry_after: Option<Duration>,
}

/// The pause before sending the request again, or `None` to give up and return the refusal.
/// `retries` and `paused` are the retries made and the time paused so far for this request.
///
/// Only 429 is retried here (the other statuses Stripe marks retryable have their own
/// handling: a key in use in the gateway, 5xx by the caller's own retry). A
/// `Stripe-Should-Retry: false` is final. `Retry-After` is honoured as given, never shortened:
/// when it would take the request past [`MAX_TOTAL_PAUSE`], the request gives up at once
/// rather than wait for an answer it cannot use.
pub(crate) fn pause_before_retry(
    refusal: &Refusal,
    retries: u32,
    paused: Duration,
) -> Option<Duration> {
    if refusal.status != 429 || refusal.should_retry == Some(false) || retries >= MAX_RETRIES {
        return None;
    }
    let pause = refusal
        .retry_after
        .unwrap_or(FIRST_PAUSE * 2_u32.pow(retries));
    (paused + pause <= MAX_TOTAL_PAUSE).then_some(pause)
}

/// `Retry-After` as Stripe sends it: a whole number of seconds. The HTTP-date form is not
/// read (Stripe does not send it); the doubling pause applies then.
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// `Stripe-Should-Retry`: `true` or `false`; anything else counts as absent.
pub(crate) fn parse_should_retry(value: &str) -> Option<bool> {
    value.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate_limited(should_retry: Option<bool>, retry_after: Option<u64>) -> Refusal {
        Refusal {
            status: 429,
            should_retry,
            retry_after: retry_after.map(Duration::from_secs),
        }
    }

    #[test]
    fn a_429_with_retry_after_waits_exactly_that_long() {
        let pause = pause_before_retry(&rate_limited(None, Some(1)), 0, Duration::ZERO);
        assert_eq!(pause, Some(Duration::from_secs(1)));
    }

    #[test]
    fn a_429_without_retry_after_waits_half_a_second_doubling() {
        let pauses: Vec<_> = (0..3)
            .map(|retries| pause_before_retry(&rate_limited(None, None), retries, Duration::ZERO))
            .collect();
        assert_eq!(
            pauses,
            [500, 1_000, 2_000].map(|ms| Some(Duration::from_millis(ms)))
        );
    }

    #[test]
    fn stripe_should_retry_false_is_final_and_true_changes_nothing() {
        assert_eq!(
            pause_before_retry(&rate_limited(Some(false), Some(1)), 0, Duration::ZERO),
            None
        );
        assert_eq!(
            pause_before_retry(&rate_limited(Some(true), Some(1)), 0, Duration::ZERO),
            Some(Duration::from_secs(1))
        );
    }

    #[test]
    fn a_request_is_retried_at_most_three_times() {
        let refusal = rate_limited(None, Some(0));
        assert_eq!(
            pause_before_retry(&refusal, MAX_RETRIES - 1, Duration::ZERO),
            Some(Duration::ZERO)
        );
        assert_eq!(
            pause_before_retry(&refusal, MAX_RETRIES, Duration::ZERO),
            None
        );
    }

    #[test]
    fn a_pause_that_would_exceed_the_total_gives_up_at_once() {
        assert_eq!(
            pause_before_retry(&rate_limited(None, Some(11)), 0, Duration::ZERO),
            None
        );
        assert_eq!(
            pause_before_retry(&rate_limited(None, Some(4)), 1, Duration::from_secs(7)),
            None
        );
        assert_eq!(
            pause_before_retry(&rate_limited(None, Some(3)), 1, Duration::from_secs(7)),
            Some(Duration::from_secs(3))
        );
    }

    #[test]
    fn other_refusals_are_not_retried_here() {
        for status in [400, 402, 404, 409, 500, 503] {
            let refusal = Refusal {
                status,
                should_retry: Some(true),
                retry_after: Some(Duration::from_secs(1)),
            };
            assert_eq!(
                pause_before_retry(&refusal, 0, Duration::ZERO),
                None,
                "{status}"
            );
        }
    }

    #[test]
    fn the_headers_are_read_strictly() {
        assert_eq!(parse_retry_after(" 2 "), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("1.5"), None);
        assert_eq!(parse_retry_after("Wed, 21 Oct 2026 07:28:00 GMT"), None);
        assert_eq!(parse_should_retry("false"), Some(false));
        assert_eq!(parse_should_retry("true"), Some(true));
        assert_eq!(parse_should_retry("maybe"), None);
    }
}
