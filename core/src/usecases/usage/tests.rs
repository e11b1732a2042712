use chrono::TimeZone;

use super::*;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap()
}

fn event(amount_micros: i64, occurred_at: DateTime<Utc>) -> UsageEvent {
    UsageEvent {
        id: UsageEventId::parse("evt_1").unwrap(),
        account_id: AccountId::parse("acct_1").unwrap(),
        amount_micros,
        occurred_at,
        description: "tokens".into(),
    }
}

#[test]
fn an_event_costing_up_to_ten_thousand_dollars_becomes_a_negative_entry() {
    let entry = event(MAX_EVENT_MICROS, now()).entry(now()).unwrap();
    assert_eq!(entry.amount, Micros::new(-MAX_EVENT_MICROS));
    assert_eq!(entry.effective_at, now());
    assert_eq!(event(0, now()).entry(now()).unwrap().amount, Micros::ZERO);
}

#[test]
fn amounts_above_the_bound_or_below_zero_are_refused() {
    for amount in [MAX_EVENT_MICROS + 1, i64::MAX, -1, i64::MIN] {
        let refused = event(amount, now()).entry(now());
        assert_eq!(
            refused.map_err(|e| e.field),
            Err("amount_micros"),
            "{amount}"
        );
    }
}

#[test]
fn usage_dated_more_than_five_minutes_ahead_or_a_year_back_is_refused() {
    let ahead = now() + MAX_FUTURE_SKEW;
    assert!(event(1, ahead).entry(now()).is_ok());
    let too_far = ahead + Duration::seconds(1);
    assert_eq!(
        event(1, too_far).entry(now()).map_err(|e| e.field),
        Err("occurred_at")
    );
    assert!(event(1, now() - MAX_LATENESS).entry(now()).is_ok());
    let ancient = now() - MAX_LATENESS - Duration::seconds(1);
    assert_eq!(
        event(1, ancient).entry(now()).map_err(|e| e.field),
        Err("occurred_at")
    );
}

#[test]
fn long_descriptions_are_cut_to_five_hundred_characters() {
    let mut long = event(1, now());
    long.description = "é".repeat(2_000);
    let entry = long.entry(now()).unwrap();
    assert_eq!(entry.description.chars().count(), MAX_DESCRIPTION);
}

#[test]
fn a_chunk_of_events_fits_one_transaction_with_its_balance_marks_and_account() {
    assert_eq!(
        EVENTS_PER_WRITE + 1 + 2 + 1,
        crate::ports::store::MAX_TRANSACTION_ITEMS
    );
}

#[test]
fn refusals_are_recorded_under_stable_codes() {
    let codes = [
        UsageRefusal::AccountDeleted,
        UsageRefusal::EventConflict,
        UsageRefusal::LedgerLimit,
    ]
    .map(UsageRefusal::code);
    assert_eq!(
        codes,
        ["account_deleted", "usage_event_conflict", "ledger_limit"]
    );
}
