//! **The retry schedule**: when a declined invoice is charged again.
//!
//! An invoice's retries are fixed when it is created: the schedule's days after the charge
//! date (3, 5 and 7 by default), each due from the start of its day (UTC), so any sweep on
//! that day makes it. A retry is made only after a decline that a later attempt may overcome
//! ([`RetryPolicy::Retry`]), never on the same calendar day (UTC) as the attempt before it,
//! and after the last one the invoice is uncollectible. A decline that cannot
//! succeed, a missing card and a bank asking for authentication wait for the user instead
//! and use up no retry.

use std::borrow::Cow;

use chrono::{DateTime, Days, Utc};
use thiserror::Error;

use crate::rules::decline::RetryPolicy;

/// The days after the charge on which a declined invoice is retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule {
    days: Cow<'static, [u32]>,
}

/// Why a schedule is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid retry schedule {given:?}: {reason}")]
pub struct InvalidSchedule {
    /// What was given.
    pub given: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl RetrySchedule {
    /// 3, 5 and 7 days after the charge.
    pub const STANDARD: Self = Self {
        days: Cow::Borrowed(&[3, 5, 7]),
    };

    /// Most retries a schedule may hold.
    pub const MAX_RETRIES: usize = 10;
    /// The latest day after the charge a retry may be scheduled on.
    pub const MAX_DAY: u32 = 60;

    /// A schedule of `days` after the charge: 0 to [`Self::MAX_RETRIES`] of them, strictly
    /// increasing, each from 1 to [`Self::MAX_DAY`].
    pub fn new(days: Vec<u32>) -> Result<Self, InvalidSchedule> {
        let refuse = |reason| InvalidSchedule {
            given: format!("{days:?}"),
            reason,
        };
        if days.len() > Self::MAX_RETRIES {
            return Err(refuse("at most 10 retries"));
        }
        if days.iter().any(|d| !(1..=Self::MAX_DAY).contains(d)) {
            return Err(refuse("each retry is 1 to 60 days after the charge"));
        }
        if days.windows(2).any(|w| w[0] >= w[1]) {
            return Err(refuse("the days must be strictly increasing"));
        }
        Ok(Self {
            days: Cow::Owned(days),
        })
    }

    /// Parses a comma-separated list of days, e.g. `3,5,7` (empty: no retries).
    pub fn parse(text: &str) -> Result<Self, InvalidSchedule> {
        let refuse = |reason| InvalidSchedule {
            given: text.to_owned(),
            reason,
        };
        if text.trim().is_empty() {
            return Self::new(Vec::new());
        }
        let days = text
            .split(',')
            .map(|d| d.trim().parse::<u32>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| refuse("a comma-separated list of whole days, e.g. 3,5,7"))?;
        Self::new(days).map_err(|e| refuse(e.reason))
    }

    /// The days.
    pub fn days(&self) -> &[u32] {
        &self.days
    }

    /// When the retries of an invoice charged at `charged_at` are due: the start (00:00 UTC)
    /// of each scheduled day after the charge date.
    pub fn instants(&self, charged_at: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let charge_date = start_of_day(charged_at);
        self.days
            .iter()
            .map(|d| charge_date + Days::new(u64::from(*d)))
            .collect()
    }
}

impl Default for RetrySchedule {
    /// 3, 5 and 7 days after the charge.
    fn default() -> Self {
        Self::STANDARD
    }
}

/// Where a declined invoice goes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterDecline {
    /// Retried at this instant.
    RetryAt(DateTime<Utc>),
    /// Waits for the user: a new card, or the bank's authorization.
    WaitForUser,
    /// The schedule is used up: uncollectible (a new card still pays it).
    Uncollectible,
}

/// **The retry rule**: after a failed attempt made at `attempted_at` with `retries_made`
/// scheduled retries behind it, of an invoice whose retries are due at `retry_at`. `policy`
/// is the decline's ([`RetryPolicy::Never`] for a missing card).
pub fn after_decline(
    retry_at: &[DateTime<Utc>],
    retries_made: usize,
    policy: RetryPolicy,
    attempted_at: DateTime<Utc>,
) -> AfterDecline {
    match retry_at.get(retries_made) {
        Some(due) if policy == RetryPolicy::Retry => {
            AfterDecline::RetryAt((*due).max(next_day(attempted_at)))
        }
        Some(_) => AfterDecline::WaitForUser,
        // Nothing was scheduled and nothing was tried: a card that cannot be charged waits
        // for a new one rather than giving the invoice up at once.
        None if retries_made == 0 && policy != RetryPolicy::Retry => AfterDecline::WaitForUser,
        None => AfterDecline::Uncollectible,
    }
}

/// The start of the calendar day (UTC) after `at`: no invoice is charged twice on one day.
pub fn next_day(at: DateTime<Utc>) -> DateTime<Utc> {
    start_of_day(at) + Days::new(1)
}

/// 00:00 UTC of `at`'s day.
fn start_of_day(at: DateTime<Utc>) -> DateTime<Utc> {
    at.date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0).unwrap()
    }

    #[test]
    fn the_default_schedule_retries_from_the_start_of_days_three_five_and_seven_after_the_charge() {
        let schedule = RetrySchedule::default();
        assert_eq!(
            schedule.instants(at(3, 3)),
            vec![at(6, 0), at(8, 0), at(10, 0)]
        );
        assert_eq!(
            schedule.instants(at(3, 23)),
            schedule.instants(at(3, 0)),
            "the charge date counts, not its hour"
        );
    }

    #[test]
    fn schedules_parse_from_a_list_of_days_and_refuse_nonsense() {
        assert_eq!(RetrySchedule::parse("2, 4").unwrap().days(), &[2, 4]);
        assert_eq!(RetrySchedule::parse("").unwrap().days(), &[] as &[u32]);
        for bad in [
            "3,3",
            "5,3",
            "0",
            "61",
            "x",
            "3;5",
            "-1",
            "1,2,3,4,5,6,7,8,9,10,11",
        ] {
            assert!(RetrySchedule::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_soft_decline_is_retried_on_the_next_scheduled_day() {
        let retry_at = RetrySchedule::default().instants(at(3, 3));
        assert_eq!(
            after_decline(&retry_at, 0, RetryPolicy::Retry, at(3, 3)),
            AfterDecline::RetryAt(at(6, 0))
        );
        assert_eq!(
            after_decline(&retry_at, 2, RetryPolicy::Retry, at(8, 3)),
            AfterDecline::RetryAt(at(10, 0))
        );
    }

    #[test]
    fn a_retry_is_never_made_on_the_day_of_the_attempt_before_it() {
        let retry_at = RetrySchedule::default().instants(at(3, 3));
        // A new card declined on the 7th, after the first retry: the second is due on the
        // 8th as planned; one declined on the 8th itself moves it to the 9th.
        assert_eq!(
            after_decline(&retry_at, 1, RetryPolicy::Retry, at(7, 23)),
            AfterDecline::RetryAt(at(8, 0))
        );
        assert_eq!(
            after_decline(&retry_at, 1, RetryPolicy::Retry, at(8, 23)),
            AfterDecline::RetryAt(at(9, 0))
        );
    }

    #[test]
    fn declines_that_cannot_succeed_wait_for_the_user_and_use_up_no_retry() {
        let retry_at = RetrySchedule::default().instants(at(3, 3));
        for policy in [RetryPolicy::Never, RetryPolicy::AfterAuthentication] {
            assert_eq!(
                after_decline(&retry_at, 0, policy, at(3, 3)),
                AfterDecline::WaitForUser
            );
        }
    }

    #[test]
    fn after_the_last_retry_the_invoice_is_uncollectible() {
        let retry_at = RetrySchedule::default().instants(at(3, 3));
        for policy in [RetryPolicy::Retry, RetryPolicy::Never] {
            assert_eq!(
                after_decline(&retry_at, 3, policy, at(10, 3)),
                AfterDecline::Uncollectible
            );
        }
        // With no retries configured, a soft decline is uncollectible at once; one that
        // cannot succeed still waits for a new card.
        assert_eq!(
            after_decline(&[], 0, RetryPolicy::Retry, at(3, 3)),
            AfterDecline::Uncollectible
        );
        assert_eq!(
            after_decline(&[], 0, RetryPolicy::Never, at(3, 3)),
            AfterDecline::WaitForUser
        );
    }
}
