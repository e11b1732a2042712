//! Runs every case of `vectors/rules.json` against the rules. The Python package's tests read
//! the same file, so both languages answer to one set of expectations.

use billing_core::domain::money::{Cents, Micros};
use billing_core::rules::card::{CardFacts, accept_card};
use billing_core::rules::decline::decline_advice;
use billing_core::rules::ledger::{
    BalanceView, EntryId, EntryKind, LedgerEntry, balance, close_period,
};
use billing_core::rules::period::{BillingPeriod, next_charge_at};
use billing_core::rules::purchase::{PurchaseGate, PurchaseLimits, PurchaseStatus, purchase_gate};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

fn vectors() -> Value {
    let raw = include_str!("vectors/rules.json");
    serde_json::from_str(raw).expect("rules.json parses")
}

fn cases(section: &str) -> Vec<Value> {
    let cases = vectors()[section].as_array().cloned().unwrap_or_default();
    assert!(!cases.is_empty(), "section {section} has cases");
    cases
}

fn parse<T: for<'de> Deserialize<'de>>(value: &Value) -> T {
    serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("{value}: {e}"))
}

fn instant(value: &Value) -> DateTime<Utc> {
    parse(value)
}

#[test]
fn card_acceptance_vectors() {
    for case in cases("card_acceptance") {
        let card: CardFacts = parse(&case["card"]);
        let today: NaiveDate = parse(&case["today"]);
        let got = accept_card(&card, today)
            .err()
            .map(|refusal| refusal.code());
        assert_eq!(got, case["expected"].as_str(), "{}", case["name"]);
    }
}

#[test]
fn rounding_vectors() {
    for case in cases("rounding") {
        let split = Micros::new(case["micros"].as_i64().unwrap()).split_cents();
        assert_eq!(split.cents.get(), case["cents"].as_i64().unwrap(), "{case}");
        assert_eq!(
            split.remainder.get(),
            case["remainder"].as_i64().unwrap(),
            "{case}"
        );
    }
}

#[test]
fn period_vectors() {
    for case in cases("periods") {
        let at = instant(&case["instant"]);
        assert_eq!(
            BillingPeriod::containing(at).to_string(),
            case["containing"],
            "{case}"
        );
        assert_eq!(
            BillingPeriod::charged_by(at).to_string(),
            case["charged_by"],
            "{case}"
        );
        assert_eq!(
            next_charge_at(at),
            instant(&case["next_charge_at"]),
            "{case}"
        );
    }
    for case in cases("period_bounds") {
        let period: BillingPeriod = parse(&case["period"]);
        assert_eq!(period.start(), instant(&case["start"]), "{case}");
        assert_eq!(period.end(), instant(&case["end"]), "{case}");
        assert_eq!(period.charge_at(), instant(&case["charge_at"]), "{case}");
    }
}

#[test]
fn period_close_vectors() {
    for case in cases("period_close") {
        let entries: Vec<LedgerEntry> = case["entries"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(n, e)| LedgerEntry {
                id: EntryId::adjustment(&format!("vector-{n}")),
                kind: parse::<EntryKind>(&e["kind"]),
                amount: Micros::new(e["amount_micros"].as_i64().unwrap()),
                effective_at: instant(&e["effective_at"]),
                description: String::new(),
            })
            .collect();
        let period: BillingPeriod = parse(&case["period"]);
        let minimum = Cents::new(case["minimum_charge"].as_i64().unwrap());
        let close = close_period(&entries, period, minimum).unwrap();
        let name = &case["name"];
        assert_eq!(
            balance(&entries).unwrap().get(),
            case["balance"].as_i64().unwrap(),
            "{name}"
        );
        let got = json!({"owed": close.owed.get(), "invoice": close.invoice.get(), "carried": close.carried.get()});
        assert_eq!(got, case["expected"], "{name}");
    }
    for case in cases("balance_view") {
        let view = BalanceView::of(Micros::new(case["balance"].as_i64().unwrap())).unwrap();
        assert_eq!(
            view.credits.get(),
            case["credits"].as_i64().unwrap(),
            "{case}"
        );
        assert_eq!(
            view.uninvoiced.get(),
            case["uninvoiced"].as_i64().unwrap(),
            "{case}"
        );
    }
}

#[test]
fn purchase_vectors() {
    for case in cases("purchase_gate") {
        let latest = (!case["latest"].is_null()).then(|| {
            (
                parse::<PurchaseStatus>(&case["latest"]["status"]),
                instant(&case["latest"]["created_at"]),
            )
        });
        let gate = purchase_gate(latest, instant(&case["now"]));
        let got = serde_json::to_value(gate).unwrap();
        assert_eq!(got, case["expected"], "{}", case["name"]);
        if let PurchaseGate::InFlight { retry_after } = gate {
            assert!(retry_after >= 1);
        }
    }
    for case in cases("purchase_limits") {
        let got = PurchaseLimits::default().check(Cents::new(case["amount"].as_i64().unwrap()));
        assert_eq!(
            got.err().map(|r| r.code()),
            case["expected"].as_str(),
            "{case}"
        );
    }
}

#[test]
fn decline_vectors() {
    for case in cases("declines") {
        let advice = decline_advice(case["code"].as_str());
        assert_eq!(advice.code, case["normalised"], "{case}");
        assert_eq!(
            serde_json::to_value(advice.retry).unwrap(),
            case["retry"],
            "{case}"
        );
        assert_eq!(
            serde_json::to_value(advice.advice).unwrap(),
            case["advice"],
            "{case}"
        );
    }
}
