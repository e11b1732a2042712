//! Sending a transaction: one conditional UpdateItem/DeleteItem for a single-item write,
//! otherwise one TransactWriteItems, whose cancellation reasons map back to writes.

use std::time::Duration;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use billing_core::ports::store::StoreError;

use super::items::{self, Item, key_attributes};
use super::writes::{self, Action, Kind};
use super::{DynamoStore, errors};

/// How many times a transaction is sent while DynamoDB cancels it only for a concurrent
/// transaction on its items (e.g. two appends to one balance at once).
pub const CONFLICT_ATTEMPTS: u32 = 4;

impl DynamoStore {
    /// One single-item write: one conditional request, no transaction.
    pub(super) async fn write_one(&self, action: Action) -> Result<(), StoreError> {
        let conflict = StoreError::Conflict {
            index: action.write,
        };
        let names = (!action.names.is_empty()).then_some(action.names);
        let values = (!action.values.is_empty()).then_some(action.values);
        let key = key_attributes(&action.key);
        let failed_condition = match action.kind {
            Kind::Update(expression) => self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key))
                .update_expression(expression)
                .set_condition_expression(action.condition)
                .set_expression_attribute_names(names)
                .set_expression_attribute_values(values)
                .send()
                .await
                .map(drop)
                .map_err(|e| match e.as_service_error() {
                    Some(s) if s.is_conditional_check_failed_exception() => Ok(()),
                    _ => Err(errors::sdk("UpdateItem", e)),
                }),
            Kind::Delete => self
                .client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(key))
                .set_condition_expression(action.condition)
                .set_expression_attribute_names(names)
                .set_expression_attribute_values(values)
                .send()
                .await
                .map(drop)
                .map_err(|e| match e.as_service_error() {
                    Some(s) if s.is_conditional_check_failed_exception() => Ok(()),
                    _ => Err(errors::sdk("DeleteItem", e)),
                }),
            Kind::Put(_) | Kind::Check => {
                return Err(StoreError::Invalid(
                    "only updates and deletes are sent as single items".to_owned(),
                ));
            }
        };
        match failed_condition {
            Ok(()) => Ok(()),
            Err(Ok(())) => Err(conflict),
            Err(Err(error)) => Err(error),
        }
    }

    pub(super) async fn transact(&self, actions: Vec<Action>) -> Result<(), StoreError> {
        let write_of: Vec<Origin> = actions
            .iter()
            .map(|a| Origin {
                write: a.write,
                entry: a.entry,
            })
            .collect();
        let items = actions
            .into_iter()
            .map(|action| writes::transact_item(&self.table, action))
            .collect::<Result<Vec<_>, _>>()?;
        let mut attempt = 1;
        loop {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            match result {
                Ok(_) => return Ok(()),
                Err(error) => match cancellation(&write_of, error)? {
                    Cancelled::Condition(index) => return Err(StoreError::Conflict { index }),
                    Cancelled::EntriesExist { index, items } => {
                        let existing = items
                            .into_iter()
                            .map(items::decode_entry)
                            .collect::<Result<_, _>>()?;
                        return Err(StoreError::EntriesExist { index, existing });
                    }
                    Cancelled::Contention(message) if attempt >= CONFLICT_ATTEMPTS => {
                        return Err(StoreError::Unavailable(message));
                    }
                    Cancelled::Contention(_) => {
                        tokio::time::sleep(backoff(attempt)).await;
                        attempt += 1;
                    }
                },
            }
        }
    }
}

/// The write an action came from, and whether it is a ledger entry's Put.
#[derive(Debug, Clone, Copy)]
struct Origin {
    write: usize,
    entry: bool,
}

/// Why a transaction was cancelled.
#[derive(Debug, PartialEq)]
enum Cancelled {
    /// The condition of this write did not hold.
    Condition(usize),
    /// Entries of this `Append` exist: the stored items, as DynamoDB returned them.
    EntriesExist {
        /// The write.
        index: usize,
        /// The stored entry items.
        items: Vec<Item>,
    },
    /// Another transaction held one of the items: sending it again may succeed.
    Contention(String),
}

fn cancellation(
    write_of: &[Origin],
    error: SdkError<TransactWriteItemsError, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> Result<Cancelled, StoreError> {
    let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
        error.as_service_error()
    else {
        return Err(errors::sdk("TransactWriteItems", error));
    };
    let reasons: Vec<(&str, Option<Item>)> = cancelled
        .cancellation_reasons()
        .iter()
        .map(|reason| (reason.code().unwrap_or("None"), reason.item().cloned()))
        .collect();
    classify(write_of, &reasons)
}

/// Reasons come one per action, in action order. Entries found to exist win (the caller
/// drops them and sends the rest); otherwise the first `ConditionalCheckFailed` names the
/// action, and the action its write.
fn classify(
    write_of: &[Origin],
    reasons: &[(&str, Option<Item>)],
) -> Result<Cancelled, StoreError> {
    let origin = |action: usize| {
        write_of.get(action).copied().ok_or_else(|| {
            StoreError::Unavailable(format!("cancellation reason {action} names no action"))
        })
    };
    let failed: Vec<usize> = reasons
        .iter()
        .enumerate()
        .filter(|(_, (code, _))| *code == "ConditionalCheckFailed")
        .map(|(action, _)| action)
        .collect();
    let mut existing = Vec::new();
    let mut index = None;
    for &action in &failed {
        let origin = origin(action)?;
        if origin.entry {
            let item = reasons[action].1.clone().ok_or_else(|| {
                StoreError::Unavailable("an existing entry came back without its item".into())
            })?;
            index.get_or_insert(origin.write);
            existing.push(item);
        }
    }
    if let Some(index) = index {
        return Ok(Cancelled::EntriesExist {
            index,
            items: existing,
        });
    }
    if let Some(&action) = failed.first() {
        return Ok(Cancelled::Condition(origin(action)?.write));
    }
    let codes: Vec<&str> = reasons.iter().map(|(code, _)| *code).collect();
    let message = format!("TransactWriteItems cancelled: {}", codes.join(", "));
    if codes.contains(&"TransactionConflict") {
        return Ok(Cancelled::Contention(message));
    }
    if codes.contains(&"ValidationError") {
        return Err(StoreError::Invalid(message));
    }
    Err(StoreError::Unavailable(message))
}

/// 25, 50, 100 ms…, plus up to 25 ms of jitter so racing writers spread out.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let jitter = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() % 25_000_000);
    Duration::from_millis(25 << attempt.saturating_sub(1).min(5))
        + Duration::from_nanos(jitter.into())
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::AttributeValue;

    use super::*;

    // An Append of two entries is three actions (entry, entry, balance) of write 2.
    const WRITES: [Origin; 5] = [
        Origin {
            write: 0,
            entry: false,
        },
        Origin {
            write: 1,
            entry: false,
        },
        Origin {
            write: 2,
            entry: true,
        },
        Origin {
            write: 2,
            entry: true,
        },
        Origin {
            write: 2,
            entry: false,
        },
    ];

    fn reasons<'a>(codes: &[&'a str]) -> Vec<(&'a str, Option<Item>)> {
        codes.iter().map(|code| (*code, None)).collect()
    }

    fn stored(sk: &str) -> Item {
        Item::from([("sk".to_owned(), AttributeValue::S(sk.to_owned()))])
    }

    #[test]
    fn a_failed_balance_names_the_append_that_holds_it() {
        let codes = ["None", "None", "None", "None", "ConditionalCheckFailed"];
        assert_eq!(
            classify(&WRITES, &reasons(&codes)),
            Ok(Cancelled::Condition(2))
        );
    }

    #[test]
    fn existing_entries_are_all_returned_and_win_over_other_conditions() {
        let mut found = reasons(&[
            "ConditionalCheckFailed",
            "None",
            "ConditionalCheckFailed",
            "ConditionalCheckFailed",
            "None",
        ]);
        found[2].1 = Some(stored("a"));
        found[3].1 = Some(stored("b"));
        assert_eq!(
            classify(&WRITES, &found),
            Ok(Cancelled::EntriesExist {
                index: 2,
                items: vec![stored("a"), stored("b")]
            })
        );
    }

    #[test]
    fn the_first_failed_condition_wins_over_later_ones_and_over_contention() {
        let codes = [
            "TransactionConflict",
            "ConditionalCheckFailed",
            "None",
            "None",
            "ConditionalCheckFailed",
        ];
        assert_eq!(
            classify(&WRITES, &reasons(&codes)),
            Ok(Cancelled::Condition(1))
        );
    }

    #[test]
    fn contention_alone_is_worth_sending_again() {
        let codes = ["None", "TransactionConflict", "None", "None", "None"];
        assert!(matches!(
            classify(&WRITES, &reasons(&codes)),
            Ok(Cancelled::Contention(_))
        ));
    }

    #[test]
    fn throttling_is_unavailable_and_a_validation_error_invalid() {
        let codes = ["ThrottlingError", "None", "None", "None", "None"];
        assert!(matches!(
            classify(&WRITES, &reasons(&codes)),
            Err(StoreError::Unavailable(_))
        ));
        let codes = ["ValidationError", "None", "None", "None", "None"];
        assert!(matches!(
            classify(&WRITES, &reasons(&codes)),
            Err(StoreError::Invalid(_))
        ));
    }

    #[test]
    fn backoff_grows_and_stays_bounded() {
        assert!(backoff(1) < Duration::from_millis(50));
        assert!(backoff(3) >= Duration::from_millis(100));
        assert!(backoff(40) < Duration::from_millis(1_000));
    }
}
