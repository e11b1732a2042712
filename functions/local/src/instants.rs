//! The instants the local controls accept: the clock's `now` and a scheduled event's `time`.
//!
//! Every timestamp goes on the wire as RFC 3339, whose years have four digits; chrono parses
//! and holds years far beyond (`+10000-01-01T00:00:00Z`) and writes them so. Everything the
//! system dates from `now` lies at most a few months later (the next charge: 35 days; a retry:
//! 60 days after a charge date; an authorization link: 14 days), so a clock kept a year short
//! of 9999 can never make one of them unwritable. Before 1970 the Unix seconds of TTLs and
//! links would go negative.

use billing_api::{ApiError, ErrorCode};
use chrono::{DateTime, Utc};

/// 1970-01-01T00:00:00Z.
pub const EARLIEST_UNIX: i64 = 0;
/// 9998-12-31T23:59:59Z.
pub const LATEST_UNIX: i64 = 253_370_764_799;

/// `instant` when it lies from [`EARLIEST_UNIX`] to [`LATEST_UNIX`], else `400
/// parameter_invalid` naming `param`.
pub fn in_range(instant: DateTime<Utc>, param: &str) -> Result<DateTime<Utc>, ApiError> {
    if (EARLIEST_UNIX..=LATEST_UNIX).contains(&instant.timestamp()) {
        return Ok(instant);
    }
    Err(ApiError::new(
        ErrorCode::ParameterInvalid,
        format!(
            "`{param}` must be from 1970-01-01T00:00:00Z to 9998-12-31T23:59:59Z, so that every date derived from it stays a four-digit year."
        ),
    )
    .with_param(param))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(rfc3339: &str) -> DateTime<Utc> {
        rfc3339.parse().unwrap()
    }

    #[test]
    fn the_bounds_are_the_instants_they_name() {
        assert_eq!(
            DateTime::from_timestamp(LATEST_UNIX, 0),
            Some(at("9998-12-31T23:59:59Z"))
        );
        assert_eq!(
            DateTime::from_timestamp(EARLIEST_UNIX, 0),
            Some(at("1970-01-01T00:00:00Z"))
        );
    }

    #[test]
    fn instants_from_1970_to_the_end_of_9998_are_accepted() {
        for instant in [
            "1970-01-01T00:00:00Z",
            "2026-11-28T10:00:00Z",
            "9998-12-31T23:59:59Z",
        ] {
            assert_eq!(
                in_range(at(instant), "now").map_err(|e| e.code),
                Ok(at(instant))
            );
        }
    }

    #[test]
    fn instants_whose_derived_dates_could_leave_four_digit_years_are_refused() {
        for instant in [
            "9999-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "+10000-01-01T00:00:00Z",
            "1969-12-31T23:59:59Z",
            "-0001-01-01T00:00:00Z",
        ] {
            let refused = in_range(at(instant), "now").unwrap_err();
            assert_eq!(
                (refused.code, refused.param.as_deref()),
                (ErrorCode::ParameterInvalid, Some("now")),
                "{instant}"
            );
        }
    }
}
