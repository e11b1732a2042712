//! Account deletion bodies: `DELETE /v1/account`.

use billing_core::domain::money::Micros;
use billing_core::usecases::deletion::Deleted;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `DELETE /v1/account`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteAccount {
    /// The account id, typed by the user to confirm.
    #[schema(max_length = 255, examples("user_123"))]
    pub confirm: String,
}

/// Always `deleted`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeletedStatus {
    /// Deleted: personal data erased, invoices and ledger kept anonymised.
    Deleted,
}

/// A deleted account: what its deletion charged, forfeited and wrote off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AccountDeleted {
    /// `deleted`.
    pub status: DeletedStatus,
    /// The final invoice (usage not yet invoiced, charged and paid), when there was one.
    #[schema(examples("in_202611_final_28165501"))]
    pub final_invoice: Option<String>,
    /// Credits left on the balance, forfeited, in cents (a fraction of a cent left is
    /// forfeited too, and not counted here).
    pub forfeited_credits: i64,
    /// Owed but under the minimum charge, written off, in cents (rounded down).
    pub written_off: i64,
    /// The currency of the amounts: `usd`.
    #[schema(examples("usd"))]
    pub currency: String,
}

impl From<&Deleted> for AccountDeleted {
    fn from(deleted: &Deleted) -> Self {
        let cents = |amount: Micros| amount.whole_cents().get();
        Self {
            status: DeletedStatus::Deleted,
            final_invoice: deleted.final_invoice.as_ref().map(ToString::to_string),
            forfeited_credits: cents(deleted.forfeited),
            written_off: cents(deleted.written_off),
            currency: "usd".to_owned(),
        }
    }
}
