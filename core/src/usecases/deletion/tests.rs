use chrono::{DateTime, Utc};

use super::*;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

#[test]
fn a_final_invoice_sorts_after_its_months_invoice_and_before_the_next_months() {
    let november = BillingPeriod::containing(at("2026-11-28T16:55:01Z"));
    let id = final_invoice_id(november, at("2026-11-28T16:55:01Z"));

    assert_eq!(id.as_str(), "in_202611_final_28165501");
    assert!(id.as_str() > "in_202611");
    assert!(id.as_str() < "in_202612");
}

#[test]
fn retry_after_rounds_up_to_whole_seconds_and_is_never_zero() {
    let now = at("2026-11-28T10:00:00Z");

    assert_eq!(
        seconds_until(now + chrono::Duration::milliseconds(1500), now),
        2
    );
    assert_eq!(seconds_until(now, now), 1);
    assert_eq!(seconds_until(now - chrono::Duration::seconds(5), now), 1);
}
