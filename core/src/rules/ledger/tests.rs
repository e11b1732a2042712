use chrono::{Duration, TimeZone};
use proptest::prelude::*;

use super::*;

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
}

fn usage(id: &str, micros: i64, when: DateTime<Utc>) -> LedgerEntry {
    LedgerEntry::usage(
        &UsageEventId::parse(id).unwrap(),
        Micros::new(micros),
        when,
        "api",
    )
    .unwrap()
}

fn purchase(id: &str, cents: i64, when: DateTime<Utc>) -> LedgerEntry {
    LedgerEntry::credit_purchase(&PurchaseId::parse(id).unwrap(), Cents::new(cents), when).unwrap()
}

fn october() -> BillingPeriod {
    BillingPeriod::new(2026, 10).unwrap()
}

#[test]
fn usage_beyond_credits_is_invoiced_in_whole_cents_and_the_remainder_carries() {
    let entries = [
        purchase("cp_1", 500, at(2026, 10, 1)),
        usage("u1", 12_345_678, at(2026, 10, 20)),
    ];
    let close = close_period(&entries, october(), STRIPE_MINIMUM_CHARGE).unwrap();
    assert_eq!(close.owed, Micros::new(7_345_678));
    assert_eq!(close.invoice, Cents::new(734));
    assert_eq!(close.carried, Micros::new(5_678));
}

#[test]
fn an_amount_under_the_minimum_charge_carries_over_whole() {
    let entries = [usage("u1", 499_999, at(2026, 10, 20))];
    let close = close_period(&entries, october(), STRIPE_MINIMUM_CHARGE).unwrap();
    assert_eq!(close.invoice, Cents::ZERO);
    assert_eq!(close.carried, Micros::new(499_999));
    assert!(!close.has_invoice());
}

#[test]
fn usage_after_the_period_end_waits_for_the_next_period() {
    let entries = [
        usage("u1", 10_000_000, at(2026, 10, 31)),
        usage("u2", 7_000_000, at(2026, 11, 1)),
    ];
    let close = close_period(&entries, october(), STRIPE_MINIMUM_CHARGE).unwrap();
    assert_eq!(close.invoice, Cents::new(1_000));
}

#[test]
fn credits_bought_before_the_charge_pay_for_the_closed_period() {
    let entries = [
        usage("u1", 10_000_000, at(2026, 10, 31)),
        purchase("cp_1", 2_000, at(2026, 11, 2)),
    ];
    let close = close_period(&entries, october(), STRIPE_MINIMUM_CHARGE).unwrap();
    assert_eq!(close.invoice, Cents::ZERO);
    assert_eq!(close.owed, Micros::ZERO);
}

#[test]
fn once_invoiced_a_debt_is_not_invoiced_again() {
    let mut entries = vec![usage("u1", 10_000_000, at(2026, 10, 31))];
    let first = close_period(&entries, october(), STRIPE_MINIMUM_CHARGE).unwrap();
    let invoice = InvoiceId::parse("in_1").unwrap();
    entries.push(
        LedgerEntry::invoiced(&invoice, october(), first.invoice, october().charge_at()).unwrap(),
    );
    let again = close_period(&entries, october(), STRIPE_MINIMUM_CHARGE).unwrap();
    assert_eq!(again.invoice, Cents::ZERO);
    let november = close_period(&entries, october().next(), STRIPE_MINIMUM_CHARGE).unwrap();
    assert_eq!(november.invoice, Cents::ZERO);
}

#[test]
fn the_balance_view_splits_credit_from_debt() {
    assert_eq!(
        BalanceView::of(Micros::new(1_239_999)).unwrap(),
        BalanceView {
            credits: Cents::new(123),
            uninvoiced: Cents::ZERO
        }
    );
    assert_eq!(
        BalanceView::of(Micros::new(-1_239_999)).unwrap(),
        BalanceView {
            credits: Cents::ZERO,
            uninvoiced: Cents::new(123)
        }
    );
}

/// One step of a month in the generated history.
#[derive(Debug, Clone)]
enum Step {
    Buy(i64),
    Use(i64),
    /// Usage of the next month that arrives before this month's charge runs.
    UseEarlyNextMonth(i64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        1 => (500i64..20_000).prop_map(Step::Buy),
        3 => (1i64..30_000_000).prop_map(Step::Use),
        1 => (1i64..3_000_000).prop_map(Step::UseEarlyNextMonth),
    ]
}

/// An independent model: usage draws down credit first, the rest is debt; purchases pay debt
/// first; a close invoices the period's debt in whole cents when at least the minimum.
#[derive(Default)]
struct Model {
    credit: i128,
    debt: i128,
    consumed: i128,
    invoiced: i128,
    used: i128,
    /// Debt left at the last close (sub-cent or under the minimum).
    carried: i128,
}

impl Model {
    fn buy(&mut self, micros: i128) {
        let pays_debt = micros.min(self.debt);
        self.debt -= pays_debt;
        self.consumed += pays_debt;
        self.credit += micros - pays_debt;
    }

    fn use_(&mut self, micros: i128) {
        self.used += micros;
        let from_credit = micros.min(self.credit);
        self.credit -= from_credit;
        self.consumed += from_credit;
        self.debt += micros - from_credit;
    }

    fn close(&mut self) -> i128 {
        let own = self.debt;
        let cents = own / 10_000;
        let invoice = if cents >= 50 { cents } else { 0 };
        self.debt -= invoice * 10_000;
        self.invoiced += invoice * 10_000;
        self.carried = own - invoice * 10_000;
        invoice
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// usage = credits consumed + invoiced + carried + still owing, and every invoice matches
    /// an independent model, is whole cents, at least the minimum, and never repeats a debt.
    #[test]
    fn every_micro_of_usage_is_consumed_invoiced_carried_or_owed(
        months in prop::collection::vec(prop::collection::vec(step(), 0..8), 1..8)
    ) {
        let mut entries: Vec<LedgerEntry> = Vec::new();
        let mut model = Model::default();
        let mut period = BillingPeriod::new(2026, 1).unwrap();
        let mut seq = 0;
        let mut next_id = |prefix: &str| { seq += 1; format!("{prefix}{seq}") };
        let mut pending_next: Vec<i64> = Vec::new();

        for steps in months {
            // Usage of this month that arrived before the previous charge ran, now in the model.
            for micros in pending_next.drain(..) {
                model.use_(i128::from(micros));
            }
            for (day, step) in steps.into_iter().enumerate() {
                let when = period.start() + Duration::days(3) + Duration::hours(day as i64);
                match step {
                    Step::Buy(cents) => {
                        entries.push(purchase(&next_id("cp_"), cents, when));
                        model.buy(i128::from(cents) * 10_000);
                    }
                    Step::Use(micros) => {
                        entries.push(usage(&next_id("u"), micros, when));
                        model.use_(i128::from(micros));
                    }
                    Step::UseEarlyNextMonth(micros) => {
                        entries.push(usage(&next_id("u"), micros, period.end() + Duration::hours(1)));
                        pending_next.push(micros);
                    }
                }
            }
            // The ledger already holds next month's early usage; the model applies it only
            // after this close, so both must agree on what this period owes.
            let close = close_period(&entries, period, STRIPE_MINIMUM_CHARGE).unwrap();
            let expected = model.close();
            prop_assert_eq!(i128::from(close.invoice.get()), expected);
            prop_assert!(close.invoice == Cents::ZERO || close.invoice >= STRIPE_MINIMUM_CHARGE);
            if close.has_invoice() {
                let id = InvoiceId::parse(&next_id("in_")).unwrap();
                entries.push(LedgerEntry::invoiced(&id, period, close.invoice, period.charge_at()).unwrap());
                // Closing the same period again finds nothing new to invoice.
                let again = close_period(&entries, period, STRIPE_MINIMUM_CHARGE).unwrap();
                prop_assert_eq!(again.invoice, Cents::ZERO);
            }
            prop_assert_eq!(i128::from(close.carried.get()), model.carried);
            period = period.next();
        }
        for micros in pending_next.drain(..) {
            model.use_(i128::from(micros));
        }

        // The conservation identity, from the ledger's own numbers.
        let used: i128 = entries.iter().filter(|e| e.kind == EntryKind::Usage).map(|e| -i128::from(e.amount.get())).sum();
        let bought: i128 = entries.iter().filter(|e| e.kind == EntryKind::CreditPurchase).map(|e| i128::from(e.amount.get())).sum();
        let invoiced: i128 = entries.iter().filter(|e| e.kind == EntryKind::Invoiced).map(|e| i128::from(e.amount.get())).sum();
        let balance = i128::from(balance(&entries).unwrap().get());
        let credit_left = balance.max(0);
        let owing = (-balance).max(0);
        let consumed = bought - credit_left;
        prop_assert_eq!(used, consumed + invoiced + owing);
        prop_assert_eq!(used, model.used);
        prop_assert_eq!(invoiced, model.invoiced);
        prop_assert_eq!(consumed, model.consumed);
        prop_assert_eq!(owing, model.debt);
        prop_assert!(invoiced % 10_000 == 0);
    }
}

mod balance_state {
    use super::*;
    use crate::domain::ids::AccountId;

    fn state(entries: &[LedgerEntry]) -> BalanceState {
        BalanceState::default().after(entries).unwrap()
    }

    #[test]
    fn usage_after_the_period_end_is_not_invoiced_with_it() {
        let state = state(&[
            usage("u1", 10_000_000, at(2026, 10, 31)),
            usage("u2", 7_000_000, at(2026, 11, 1)),
        ]);
        let close = state.close(october(), STRIPE_MINIMUM_CHARGE).unwrap();
        assert_eq!(close.invoice, Cents::new(1_000));
        assert_eq!(
            state.usage_after(october()).unwrap(),
            Micros::new(7_000_000)
        );
    }

    #[test]
    fn late_usage_for_a_closed_month_is_billed_in_the_next_close() {
        let mut state = state(&[usage("u1", 10_000_000, at(2026, 10, 20))]);
        let close = state.close(october(), STRIPE_MINIMUM_CHARGE).unwrap();
        let invoice = InvoiceId::parse("in_202610").unwrap();
        let invoiced =
            LedgerEntry::invoiced(&invoice, october(), close.invoice, october().charge_at())
                .unwrap();
        state = state.after(&[invoiced]).unwrap();
        state = state
            .after(&[usage("late", 3_000_000, at(2026, 10, 30))])
            .unwrap();
        let november = state
            .close(october().next(), STRIPE_MINIMUM_CHARGE)
            .unwrap();
        assert_eq!(november.invoice, Cents::new(300));
    }

    #[test]
    fn the_state_agrees_with_the_close_over_the_entries() {
        let entries = [
            purchase("cp_1", 500, at(2026, 10, 1)),
            usage("u1", 12_345_678, at(2026, 10, 20)),
            usage("u2", 2_000_000, at(2026, 11, 2)),
        ];
        assert_eq!(
            state(&entries).close(october(), STRIPE_MINIMUM_CHARGE),
            close_period(&entries, october(), STRIPE_MINIMUM_CHARGE)
        );
        assert_eq!(state(&entries).version, 1);
    }

    #[test]
    fn a_balance_beyond_the_ledger_limit_is_refused_not_wrapped() {
        let near = BalanceState {
            amount: Micros::new(-LEDGER_LIMIT.get() + 5),
            ..BalanceState::default()
        };
        assert_eq!(near.after(&[usage("u1", 10, at(2026, 10, 2))]), None);
        assert!(near.after(&[usage("u1", 5, at(2026, 10, 2))]).is_some());
    }

    #[test]
    fn shards_are_stable_and_spread_accounts() {
        let id = AccountId::parse("acct_1").unwrap();
        assert_eq!(due_shard(&id), due_shard(&id.clone()));
        let shards: std::collections::BTreeSet<u16> = (0..1_000)
            .map(|n| due_shard(&AccountId::parse(&format!("acct_{n}")).unwrap()))
            .collect();
        assert_eq!(shards.len(), usize::from(DUE_SHARDS));
    }

    #[test]
    fn usage_arriving_before_its_month_is_charged_marks_both_months() {
        let october_usage = at(2026, 10, 31);
        let before_charge = Utc.with_ymd_and_hms(2026, 11, 3, 2, 59, 0).unwrap();
        let after_charge = Utc.with_ymd_and_hms(2026, 11, 3, 3, 0, 0).unwrap();
        assert_eq!(
            due_periods(october_usage, before_charge),
            [october(), october().next()]
        );
        assert_eq!(due_periods(october_usage, after_charge), [october().next()]);
        assert_eq!(due_periods(at(2026, 10, 5), at(2026, 10, 6)), [october()]);
    }
}
