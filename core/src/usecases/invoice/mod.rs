//! The monthly charge and the invoices it writes (Behaviour 5 and 6).
//!
//! - [`charged_period`] and [`plan_shard`]: a monthly trigger names the month before its time;
//!   the planner pages through that period's due index and enqueues one charge job per
//!   owing account.
//! - [`charge_account`]: the worker's job. Exactly one invoice per account and period (its
//!   id is the period's), written with its first attempt claimed; one PaymentIntent per
//!   attempt (its key is the attempt's); the answer recorded through the collection rule
//!   ([`decide`]); the email it owes sent once.
//! - [`settle_invoice_payment`] (webhooks) and [`refresh_invoice`] (the authorization page)
//!   bring later news of a payment through the same rule.
//! - [`sweep_invoices`] and [`pay_with_card_on_file`]: getting paid after a failed charge:
//!   scheduled retries (on each invoice's own schedule, [`crate::rules::retry`]), stalled
//!   attempts and emails picked up again, and a new card charged at once.
//! - [`get_invoice`] and [`list_invoices`]: the invoices API.

pub(crate) mod charge;
mod collect;
pub mod decide;
mod notices;
mod plan;
mod settle;

pub use charge::{Charged, attempt_key, charge_account};
pub use collect::{Collected, pay_with_card_on_file, sweep_invoices};
pub use notices::invoice_email;
pub use plan::{PLAN_PAGE, PeriodNotEnded, charged_period, plan_shard, shards};
pub use settle::{
    DEFAULT_PAGE, MAX_PAGE, get_invoice, list_invoices, refresh_invoice, settle_invoice_payment,
};

use serde::Serialize;

use crate::domain::invoice::InvoiceStatus;
use crate::ports::gateway::PaymentGateway;
use crate::ports::links::AuthorizationLinks;
use crate::ports::mailer::Mailer;
use crate::ports::store::Store;
use crate::rules::retry::RetrySchedule;

/// The ports the invoice use cases run on.
#[derive(Clone, Copy)]
pub struct Ports<'a> {
    /// Records and ledger.
    pub store: &'a dyn Store,
    /// The card network.
    pub gateway: &'a dyn PaymentGateway,
    /// Receipts and notices.
    pub mailer: &'a dyn Mailer,
    /// The authorization page's links, for the emails.
    pub links: &'a dyn AuthorizationLinks,
    /// The retries of the invoices the monthly charge creates (each invoice keeps its own).
    pub retries: &'a RetrySchedule,
}

/// What a monthly run did, counted per account visited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MonthlySummary {
    /// Accounts visited.
    pub accounts: u64,
    /// Invoices written by this run.
    pub invoices: u64,
    /// Invoices paid.
    pub paid: u64,
    /// Invoices waiting for the bank's authorization.
    pub requires_authorization: u64,
    /// Invoices whose charge failed (declined, or no card).
    pub failed: u64,
    /// Accounts whose amount was under the minimum charge and carried over.
    pub carried: u64,
}

impl MonthlySummary {
    /// Counts one account's visit.
    pub fn add(&mut self, charged: &Charged) {
        self.accounts += 1;
        match charged {
            Charged::NothingOwed { carried } => {
                self.carried += u64::from(carried.is_positive());
            }
            Charged::Invoiced {
                status, created, ..
            } => {
                self.invoices += u64::from(*created);
                match status {
                    InvoiceStatus::Paid => self.paid += 1,
                    InvoiceStatus::RequiresAuthorization => self.requires_authorization += 1,
                    InvoiceStatus::PaymentFailed | InvoiceStatus::Uncollectible => {
                        self.failed += 1;
                    }
                    InvoiceStatus::Open => {}
                }
            }
            Charged::Skipped => {}
        }
    }
}
