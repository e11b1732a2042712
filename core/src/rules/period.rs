//! Billing periods (calendar months in UTC) and the monthly charge instant
//! (03:00 UTC on the 3rd of the month after the period).

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::error::ParseError;

/// Day of the month the charge runs.
pub const CHARGE_DAY: u32 = 3;
/// Hour (UTC) the charge runs.
pub const CHARGE_HOUR: u32 = 3;

/// One calendar month in UTC, `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BillingPeriod {
    year: i32,
    month: u32,
}

impl BillingPeriod {
    /// The period for a year and month (1–12); `None` for a month that does not exist.
    pub fn new(year: i32, month: u32) -> Option<Self> {
        // Keep years where every derived instant is representable.
        ((1..=12).contains(&month) && (1970..=9998).contains(&year)).then_some(Self { year, month })
    }

    /// The period containing an instant.
    pub fn containing(instant: DateTime<Utc>) -> Self {
        Self {
            year: instant.year(),
            month: instant.month(),
        }
    }

    /// Parses `YYYY-MM`.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let invalid = || ParseError::new("period", "must be a month as YYYY-MM");
        let (year, month) = raw.split_once('-').ok_or_else(invalid)?;
        if year.len() != 4 || month.len() != 2 {
            return Err(invalid());
        }
        let year = year.parse().map_err(|_| invalid())?;
        let month = month.parse().map_err(|_| invalid())?;
        Self::new(year, month).ok_or_else(invalid)
    }

    /// The year.
    pub fn year(self) -> i32 {
        self.year
    }

    /// The month, 1–12.
    pub fn month(self) -> u32 {
        self.month
    }

    /// The period after this one.
    pub fn next(self) -> Self {
        if self.month == 12 {
            Self {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Self {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// The period before this one.
    pub fn previous(self) -> Self {
        if self.month == 1 {
            Self {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Self {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    /// First instant of the period (inclusive).
    pub fn start(self) -> DateTime<Utc> {
        utc(self.year, self.month, 1, 0)
    }

    /// First instant after the period (exclusive end).
    pub fn end(self) -> DateTime<Utc> {
        self.next().start()
    }

    /// Whether an instant falls inside the period.
    pub fn contains(self, instant: DateTime<Utc>) -> bool {
        self.start() <= instant && instant < self.end()
    }

    /// When this period is charged: 03:00 UTC on the 3rd of the following month.
    pub fn charge_at(self) -> DateTime<Utc> {
        let next = self.next();
        utc(next.year, next.month, CHARGE_DAY, CHARGE_HOUR)
    }

    /// The period a monthly trigger fired at `time` charges: the calendar month before `time`.
    pub fn charged_by(time: DateTime<Utc>) -> Self {
        Self::containing(time).previous()
    }
}

/// The next charge instant strictly after `now`.
pub fn next_charge_at(now: DateTime<Utc>) -> DateTime<Utc> {
    let this_month = BillingPeriod::containing(now).previous().charge_at();
    if this_month > now {
        this_month
    } else {
        BillingPeriod::containing(now).charge_at()
    }
}

fn utc(year: i32, month: u32, day: u32, hour: u32) -> DateTime<Utc> {
    let date = NaiveDate::from_ymd_opt(year, month, day).expect("day 1..=3 exists in every month");
    Utc.from_utc_datetime(&date.and_hms_opt(hour, 0, 0).expect("valid hour"))
}

impl fmt::Display for BillingPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl TryFrom<String> for BillingPeriod {
    type Error = ParseError;
    fn try_from(raw: String) -> Result<Self, ParseError> {
        Self::parse(&raw)
    }
}

impl From<BillingPeriod> for String {
    fn from(period: BillingPeriod) -> String {
        period.to_string()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn at(raw: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(raw)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn a_period_is_a_calendar_month_in_utc() {
        let feb = BillingPeriod::new(2028, 2).unwrap();
        assert_eq!(feb.start(), at("2028-02-01T00:00:00Z"));
        assert_eq!(feb.end(), at("2028-03-01T00:00:00Z"));
        assert!(feb.contains(at("2028-02-29T23:59:59Z")));
        assert!(!feb.contains(at("2028-03-01T00:00:00Z")));
    }

    #[test]
    fn the_charge_runs_at_three_on_the_third_of_the_next_month() {
        let dec = BillingPeriod::new(2026, 12).unwrap();
        assert_eq!(dec.charge_at(), at("2027-01-03T03:00:00Z"));
    }

    #[test]
    fn a_trigger_charges_the_month_before_it_fired() {
        assert_eq!(
            BillingPeriod::charged_by(at("2027-01-03T03:00:00Z")).to_string(),
            "2026-12"
        );
        assert_eq!(
            BillingPeriod::charged_by(at("2026-11-03T03:00:07Z")).to_string(),
            "2026-10"
        );
    }

    #[test]
    fn the_next_charge_is_strictly_after_now() {
        assert_eq!(
            next_charge_at(at("2026-11-25T10:00:00Z")),
            at("2026-12-03T03:00:00Z")
        );
        assert_eq!(
            next_charge_at(at("2026-11-03T02:59:59Z")),
            at("2026-11-03T03:00:00Z")
        );
        assert_eq!(
            next_charge_at(at("2026-11-03T03:00:00Z")),
            at("2026-12-03T03:00:00Z")
        );
        assert_eq!(
            next_charge_at(at("2026-12-31T23:00:00Z")),
            at("2027-01-03T03:00:00Z")
        );
    }

    #[test]
    fn periods_parse_and_print_as_year_dash_month() {
        assert_eq!(
            BillingPeriod::parse("2026-10").unwrap(),
            BillingPeriod::new(2026, 10).unwrap()
        );
        for bad in ["2026-13", "2026-1", "26-10", "2026/10", ""] {
            assert!(BillingPeriod::parse(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn every_instant_lies_in_exactly_one_period_and_is_charged_after_it(secs in 0i64..4_000_000_000) {
            let instant = DateTime::from_timestamp(secs, 0).unwrap();
            let period = BillingPeriod::containing(instant);
            prop_assert!(period.contains(instant));
            prop_assert!(!period.next().contains(instant) && !period.previous().contains(instant));
            prop_assert_eq!(BillingPeriod::charged_by(period.charge_at()), period);
            let next = next_charge_at(instant);
            prop_assert!(next > instant);
            prop_assert!(next - instant <= chrono::Duration::days(31));
            prop_assert_eq!(next.day(), CHARGE_DAY);
        }
    }
}
