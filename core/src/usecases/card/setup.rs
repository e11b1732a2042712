//! `POST /v1/billing/setup-intents`: what Stripe Elements needs to collect a card.

use chrono::{DateTime, Utc};

use crate::domain::ids::CustomerId;
use crate::ports::gateway::{PaymentGateway, SetupIntent};
use crate::ports::store::{Record, Store, StoreError, Transaction, Write};
use crate::usecases::card::Holder;
use crate::usecases::card::lease::{expect_of, live_account, updated};
use crate::usecases::error::UseCaseError;

/// A SetupIntent on the account's customer (created and recorded on first need).
pub async fn create_setup_intent<S, G>(
    store: &S,
    gateway: &G,
    holder: &Holder<'_>,
    now: DateTime<Utc>,
) -> Result<SetupIntent, UseCaseError>
where
    S: Store + ?Sized,
    G: PaymentGateway + ?Sized,
{
    let customer = recorded_customer(store, gateway, holder, now).await?;
    Ok(gateway.create_setup_intent(&customer).await?)
}

/// The account's customer, created and recorded on first need. Any concurrent write to the
/// account (another first call, a card change's lease, usage creating the record) makes it
/// read again and retry; creation is idempotent per account, so every round agrees on one
/// customer.
async fn recorded_customer<S, G>(
    store: &S,
    gateway: &G,
    holder: &Holder<'_>,
    now: DateTime<Utc>,
) -> Result<CustomerId, UseCaseError>
where
    S: Store + ?Sized,
    G: PaymentGateway + ?Sized,
{
    for _ in 0..3 {
        let account = live_account(store, holder).await?;
        if let Some(customer) = account.as_ref().and_then(|a| a.value.customer.clone()) {
            return Ok(customer);
        }
        let customer = gateway
            .create_customer(holder.account, holder.email)
            .await?;
        let record = updated(account.as_ref(), holder, now, |a| {
            a.customer = Some(customer.clone());
        });
        let write = Transaction::new().with(Write::Put {
            record: Record::Account(record),
            expect: expect_of(account.as_ref()),
        });
        match store.commit(write).await {
            Ok(()) => return Ok(customer),
            Err(StoreError::Conflict { .. }) => continue,
            Err(other) => return Err(other.into()),
        }
    }
    Err(UseCaseError::ConcurrentUpdate)
}
