//! Money in integer units with checked arithmetic.
//!
//! Two scales exist: [`Cents`] (the currency's minor unit, what cards are charged in) and
//! [`Micros`] (millionths of the major unit, what usage is metered in). One micro-USD is a
//! hundredth of a cent, so a cent is [`MICROS_PER_CENT`] micros. The only way from micros to
//! cents is [`Micros::split_cents`], the one rounding rule of this crate.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::MoneyError;

/// How many micro-units make one minor unit (cent).
pub const MICROS_PER_CENT: i64 = 10_000;

/// The ISO 4217 currency of every amount on the platform, lowercase as Stripe writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Currency {
    /// US dollar, the only currency the platform bills in.
    #[default]
    Usd,
}

impl Currency {
    /// Parses a lowercase ISO code; anything but a supported currency is refused.
    pub fn parse(code: &str) -> Result<Self, MoneyError> {
        match code {
            "usd" => Ok(Self::Usd),
            other => Err(MoneyError::UnsupportedCurrency(other.to_owned())),
        }
    }

    /// The lowercase ISO code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Usd => "usd",
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An amount in the currency's minor unit (cents). Signed: a balance can be negative.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Cents(i64);

/// An amount in micro-units (millionths of the major unit). Signed.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Micros(i64);

macro_rules! checked_amount {
    ($ty:ident) => {
        impl $ty {
            /// Zero.
            pub const ZERO: Self = Self(0);

            /// Wraps a raw amount.
            pub const fn new(value: i64) -> Self {
                Self(value)
            }

            /// The raw amount.
            pub const fn get(self) -> i64 {
                self.0
            }

            /// `self + other`, or an overflow error.
            pub fn checked_add(self, other: Self) -> Result<Self, MoneyError> {
                self.0
                    .checked_add(other.0)
                    .map(Self)
                    .ok_or(MoneyError::Overflow)
            }

            /// `self - other`, or an overflow error.
            pub fn checked_sub(self, other: Self) -> Result<Self, MoneyError> {
                self.0
                    .checked_sub(other.0)
                    .map(Self)
                    .ok_or(MoneyError::Overflow)
            }

            /// `-self`, or an overflow error.
            pub fn checked_neg(self) -> Result<Self, MoneyError> {
                self.0.checked_neg().map(Self).ok_or(MoneyError::Overflow)
            }

            /// The sum of many amounts, or an overflow error.
            pub fn checked_sum<I: IntoIterator<Item = Self>>(items: I) -> Result<Self, MoneyError> {
                items.into_iter().try_fold(Self::ZERO, Self::checked_add)
            }

            /// True when the amount is below zero.
            pub const fn is_negative(self) -> bool {
                self.0 < 0
            }

            /// True when the amount is above zero.
            pub const fn is_positive(self) -> bool {
                self.0 > 0
            }

            /// The larger of `self` and zero.
            pub fn clamp_at_zero(self) -> Self {
                Self(self.0.max(0))
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

checked_amount!(Cents);
checked_amount!(Micros);

impl Cents {
    /// The same amount in micro-units (exact).
    pub fn to_micros(self) -> Result<Micros, MoneyError> {
        self.0
            .checked_mul(MICROS_PER_CENT)
            .map(Micros)
            .ok_or(MoneyError::Overflow)
    }

    /// Formats as a major-unit string, `1234` → `"12.34"`, for messages shown to people.
    pub fn format_major(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        format!("{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

/// The result of the rounding rule: whole cents, and the micro-units left over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CentSplit {
    /// Whole cents, rounded toward zero.
    pub cents: Cents,
    /// What rounding left behind, `|remainder| < 1 cent`, same sign as the input.
    pub remainder: Micros,
}

impl Micros {
    /// **The rounding rule** ("truncate and carry"): whole cents are taken toward zero and the
    /// sub-cent remainder is returned to be carried, so `cents * 10_000 + remainder == self`
    /// exactly. Rounding toward zero never bills a customer for usage not yet worth a cent,
    /// and because the remainder is carried, nothing is lost or counted twice.
    pub fn split_cents(self) -> CentSplit {
        CentSplit {
            cents: Cents(self.0 / MICROS_PER_CENT),
            remainder: Micros(self.0 % MICROS_PER_CENT),
        }
    }

    /// Whole cents toward zero (the rule above, remainder discarded: for display only).
    pub fn whole_cents(self) -> Cents {
        self.split_cents().cents
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn split_cents_truncates_toward_zero_and_keeps_the_remainder() {
        assert_eq!(
            Micros::new(1_234_567).split_cents(),
            CentSplit {
                cents: Cents::new(123),
                remainder: Micros::new(4_567)
            }
        );
        assert_eq!(
            Micros::new(-1_234_567).split_cents(),
            CentSplit {
                cents: Cents::new(-123),
                remainder: Micros::new(-4_567)
            }
        );
        assert_eq!(Micros::new(9_999).split_cents().cents, Cents::ZERO);
    }

    #[test]
    fn overflow_is_an_error_not_a_wrap() {
        assert_eq!(
            Cents::new(i64::MAX).checked_add(Cents::new(1)),
            Err(MoneyError::Overflow)
        );
        assert_eq!(Cents::new(i64::MAX).to_micros(), Err(MoneyError::Overflow));
        assert_eq!(
            Micros::new(i64::MIN).checked_neg(),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn format_major_renders_two_decimals() {
        assert_eq!(Cents::new(50).format_major(), "0.50");
        assert_eq!(Cents::new(1_000_000).format_major(), "10000.00");
        assert_eq!(Cents::new(-5).format_major(), "-0.05");
    }

    #[test]
    fn only_supported_currencies_parse() {
        assert_eq!(Currency::parse("usd"), Ok(Currency::Usd));
        assert!(Currency::parse("USD").is_err());
        assert!(Currency::parse("eur").is_err());
    }

    proptest! {
        #[test]
        fn split_cents_loses_nothing(raw in any::<i64>()) {
            let split = Micros::new(raw).split_cents();
            let back = i128::from(split.cents.get()) * i128::from(MICROS_PER_CENT)
                + i128::from(split.remainder.get());
            prop_assert_eq!(back, i128::from(raw));
            prop_assert!(split.remainder.get().abs() < MICROS_PER_CENT);
        }

        #[test]
        fn cents_to_micros_round_trips(raw in -(i64::MAX / MICROS_PER_CENT)..(i64::MAX / MICROS_PER_CENT)) {
            let micros = Cents::new(raw).to_micros().unwrap();
            prop_assert_eq!(micros.split_cents(), CentSplit { cents: Cents::new(raw), remainder: Micros::ZERO });
        }
    }
}
