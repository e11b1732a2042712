//! Refused usage is recorded, never dropped silently (PRODUCT.md, Usage): one
//! [`RefusedUsage`] per refused event, under its account and event id.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{UsageEvent, UsageOutcome};
use crate::domain::money::Micros;
use crate::ports::store::{
    Expect, MAX_TRANSACTION_ITEMS, Record, RecordKey, RefusedUsage, Store, Transaction, Write,
};

/// Writes a record of every event `outcomes` refuses, [`MAX_TRANSACTION_ITEMS`] to a write.
/// The same event refused again (a redelivery) writes the same record again, so no condition
/// is needed. An event whose record could not be written gets the store's failure as its
/// outcome: its refusal is not known to anyone yet, so it must be sent again.
pub(super) async fn record_refusals<S: Store + ?Sized>(
    store: &S,
    events: &[UsageEvent],
    outcomes: &mut [UsageOutcome],
    now: DateTime<Utc>,
) {
    // One record per key: an id repeated in the batch for the same account is one refusal,
    // the first one's.
    let mut refusals: BTreeMap<RecordKey, (RefusedUsage, Vec<usize>)> = BTreeMap::new();
    for (n, outcome) in outcomes.iter().enumerate() {
        let UsageOutcome::Refused(refusal) = outcome else {
            continue;
        };
        let event = &events[n];
        let key = RecordKey::RefusedUsage(event.account_id.clone(), event.id.clone());
        refusals
            .entry(key)
            .or_insert_with(|| {
                let record = RefusedUsage {
                    account: event.account_id.clone(),
                    event: event.id.clone(),
                    amount: Micros::new(event.amount_micros),
                    occurred_at: event.occurred_at,
                    reason: refusal.code().to_owned(),
                    refused_at: now,
                };
                (record, Vec::new())
            })
            .1
            .push(n);
    }

    let refusals: Vec<(RefusedUsage, Vec<usize>)> = refusals.into_values().collect();
    for chunk in refusals.chunks(MAX_TRANSACTION_ITEMS) {
        let mut transaction = Transaction::new();
        for (record, _) in chunk {
            transaction.push(Write::Put {
                record: Record::RefusedUsage(record.clone()),
                expect: Expect::Any,
            });
        }
        if let Err(error) = store.commit(transaction).await {
            for n in chunk.iter().flat_map(|(_, indices)| indices) {
                outcomes[*n] = UsageOutcome::Failed(error.clone());
            }
        }
    }
}
