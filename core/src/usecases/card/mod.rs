//! Card on file: SetupIntents, add/replace, and the refusal to remove (Behaviour 1–2).
//!
//! The invariant, after any number of concurrent or interrupted changes: exactly one card is
//! attached to the account's customer, it is the customer's default, and it is the card on
//! file. Changes hold a per-account lease ([`lease`]) so they never interleave; the decisions
//! are pure functions ([`decide`]); a change that died is finished or undone from the record
//! by the next one, or by [`repair_card_change`].

pub mod decide;
mod lease;
mod repair;
mod replace;
mod setup;

pub use repair::{Repaired, needs_repair, repair_card_change};
pub use replace::set_card;
pub use setup::create_setup_intent;

use crate::domain::account::StoredCard;
use crate::domain::ids::{AccountId, EmailAddress, PaymentMethodId};

/// The result of a successful add or replace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardSet {
    /// The card now on file.
    pub card: StoredCard,
    /// False when it was the card already on file (nothing changed).
    pub changed: bool,
    /// The old card could not be detached (it is no longer the default); the lease is left to
    /// expire so that a repair detaches it, and the caller logs it.
    pub old_card_left_attached: Option<PaymentMethodId>,
    /// The lease could not be released; it expires, and the next change goes on after it.
    pub lease_left: bool,
}

impl CardSet {
    /// The card on file, unchanged.
    fn unchanged(card: StoredCard) -> Self {
        Self {
            card,
            changed: false,
            old_card_left_attached: None,
            lease_left: false,
        }
    }
}

/// The caller, as the use cases need them.
#[derive(Debug, Clone)]
pub struct Holder<'a> {
    /// The account.
    pub account: &'a AccountId,
    /// Its e-mail address, when known.
    pub email: Option<&'a EmailAddress>,
}
