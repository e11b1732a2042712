//! Credit purchases: the amount limits and the in-flight rule.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::domain::money::Cents;

/// How long a purchase may take to settle; while one is this young and unsettled, another
/// purchase for the same account is refused.
pub const SETTLEMENT_WINDOW: Duration = Duration::minutes(15);

/// Requests sent together are one intent (a double click, a burst from a script, a client
/// retrying without a key): a purchase that succeeded still refuses another until this long
/// after it started. A card network that answers at once would otherwise let the later
/// requests of a burst through as new purchases the moment the first settled.
pub const BURST_GUARD: Duration = Duration::seconds(3);

/// Where a purchase stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PurchaseStatus {
    /// Sent to the card network; the result is not known yet.
    Processing,
    /// The bank asked the user to authenticate; the dashboard must complete it.
    RequiresAction,
    /// Paid; the credit is on the balance.
    Succeeded,
    /// Declined or abandoned; nothing was charged.
    Failed,
}

impl PurchaseStatus {
    /// True once the outcome is final.
    pub fn is_settled(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed)
    }
}

/// The configurable bounds of one purchase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurchaseLimits {
    /// Smallest purchase allowed.
    pub minimum: Cents,
    /// Largest purchase allowed.
    pub maximum: Cents,
}

impl Default for PurchaseLimits {
    /// 5.00 USD to 10,000.00 USD.
    fn default() -> Self {
        Self {
            minimum: Cents::new(500),
            maximum: Cents::new(1_000_000),
        }
    }
}

/// Why an amount was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum AmountRefusal {
    /// Below the minimum.
    #[error("The smallest purchase is {} USD.", minimum.format_major())]
    TooSmall {
        /// The minimum.
        minimum: Cents,
    },
    /// Above the maximum.
    #[error("The largest purchase is {} USD.", maximum.format_major())]
    TooLarge {
        /// The maximum.
        maximum: Cents,
    },
}

impl AmountRefusal {
    /// The API error code.
    pub fn code(self) -> &'static str {
        match self {
            Self::TooSmall { .. } => "amount_too_small",
            Self::TooLarge { .. } => "amount_too_large",
        }
    }
}

impl PurchaseLimits {
    /// Checks an amount against the limits (inclusive).
    pub fn check(&self, amount: Cents) -> Result<Cents, AmountRefusal> {
        if amount < self.minimum {
            Err(AmountRefusal::TooSmall {
                minimum: self.minimum,
            })
        } else if amount > self.maximum {
            Err(AmountRefusal::TooLarge {
                maximum: self.maximum,
            })
        } else {
            Ok(amount)
        }
    }
}

/// Whether a new purchase may start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "decision")]
pub enum PurchaseGate {
    /// No purchase is in flight.
    Open,
    /// One is in flight; try again after this many whole seconds (at least 1).
    InFlight {
        /// Seconds until the in-flight purchase's settlement window closes.
        retry_after: u64,
    },
}

/// **The in-flight rule**: the latest purchase blocks a new one while it is unsettled and
/// younger than [`SETTLEMENT_WINDOW`], and, once succeeded, until [`BURST_GUARD`] after it
/// started. A failed purchase never blocks. A purchase still unsettled after the window no
/// longer blocks: the card network has given its answer by then and it is resolved (asked of
/// the network, canceled if not final) before another starts.
pub fn purchase_gate(
    latest: Option<(PurchaseStatus, DateTime<Utc>)>,
    now: DateTime<Utc>,
) -> PurchaseGate {
    let Some((status, created_at)) = latest else {
        return PurchaseGate::Open;
    };
    let closes_at = match status {
        PurchaseStatus::Failed => return PurchaseGate::Open,
        PurchaseStatus::Succeeded => created_at + BURST_GUARD,
        PurchaseStatus::Processing | PurchaseStatus::RequiresAction => {
            created_at + SETTLEMENT_WINDOW
        }
    };
    if now >= closes_at {
        return PurchaseGate::Open;
    }
    let remaining = closes_at - now;
    // Round up so a client that waits `retry_after` seconds is never refused again.
    let secs = remaining.num_seconds() + i64::from(remaining.subsec_nanos() > 0);
    PurchaseGate::InFlight {
        retry_after: secs.max(1).unsigned_abs(),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn an_unsettled_purchase_blocks_for_fifteen_minutes() {
        let latest = Some((PurchaseStatus::Processing, t0()));
        assert_eq!(
            purchase_gate(latest, t0()),
            PurchaseGate::InFlight { retry_after: 900 }
        );
        assert_eq!(
            purchase_gate(
                latest,
                t0() + Duration::seconds(899) + Duration::milliseconds(500)
            ),
            PurchaseGate::InFlight { retry_after: 1 }
        );
        assert_eq!(
            purchase_gate(latest, t0() + SETTLEMENT_WINDOW),
            PurchaseGate::Open
        );
    }

    #[test]
    fn a_failed_purchase_never_blocks() {
        assert_eq!(
            purchase_gate(Some((PurchaseStatus::Failed, t0())), t0()),
            PurchaseGate::Open
        );
        assert_eq!(purchase_gate(None, t0()), PurchaseGate::Open);
    }

    #[test]
    fn a_succeeded_purchase_blocks_only_the_rest_of_its_burst() {
        let latest = Some((PurchaseStatus::Succeeded, t0()));
        assert_eq!(
            purchase_gate(latest, t0() + Duration::milliseconds(200)),
            PurchaseGate::InFlight { retry_after: 3 }
        );
        assert_eq!(
            purchase_gate(latest, t0() + BURST_GUARD),
            PurchaseGate::Open
        );
    }

    #[test]
    fn a_purchase_waiting_for_authentication_blocks_too() {
        let latest = Some((PurchaseStatus::RequiresAction, t0()));
        assert!(matches!(
            purchase_gate(latest, t0()),
            PurchaseGate::InFlight { .. }
        ));
    }

    #[test]
    fn limits_are_inclusive_and_default_to_five_and_ten_thousand_dollars() {
        let limits = PurchaseLimits::default();
        assert_eq!(limits.check(Cents::new(500)), Ok(Cents::new(500)));
        assert_eq!(
            limits.check(Cents::new(1_000_000)),
            Ok(Cents::new(1_000_000))
        );
        assert_eq!(
            limits.check(Cents::new(499)).unwrap_err().code(),
            "amount_too_small"
        );
        assert_eq!(
            limits.check(Cents::new(1_000_001)).unwrap_err().code(),
            "amount_too_large"
        );
        assert_eq!(
            limits.check(Cents::new(-1)).unwrap_err().to_string(),
            "The smallest purchase is 5.00 USD."
        );
    }

    proptest! {
        #[test]
        fn waiting_retry_after_seconds_always_opens_the_gate(offset_ms in 0i64..900_000) {
            let now = t0() + Duration::milliseconds(offset_ms);
            match purchase_gate(Some((PurchaseStatus::Processing, t0())), now) {
                PurchaseGate::InFlight { retry_after } => {
                    prop_assert!(retry_after <= 900);
                    let later = now + Duration::seconds(retry_after as i64);
                    prop_assert_eq!(purchase_gate(Some((PurchaseStatus::Processing, t0())), later), PurchaseGate::Open);
                }
                PurchaseGate::Open => prop_assert!(false, "blocked window must be closed at {offset_ms}ms"),
            }
        }
    }
}
