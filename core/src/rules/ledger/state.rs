//! The running balance as the store keeps it, and the close rule read from it.
//!
//! Every append moves one balance item: the balance, its version, and the usage total of each
//! period (by when the usage occurred), all in the same atomic write as the entries. One
//! strongly consistent read of that item is everything the monthly close needs, whatever the
//! account's traffic: it never reads entries, nor an index.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{EntryKind, LedgerEntry, PeriodClose, close_from_totals};
use crate::domain::ids::AccountId;
use crate::domain::money::{Cents, Micros};
use crate::error::MoneyError;
use crate::rules::period::BillingPeriod;

/// The largest magnitude a balance or a period's usage total may reach: one trillion USD in
/// micro-units. Stores refuse an append that would leave this range (as a failed condition),
/// so every sum the reads and the close make of them fits an `i64` with room to spare, and no
/// input can make an account's reads fail.
pub const LEDGER_LIMIT: Micros = Micros::new(1_000_000_000_000_000_000);

/// How many shards the due index of one period is spread over. An account's shard is a
/// stable hash of its id, so 1,000,000 accounts starting their month on the 1st write at most
/// 1/32 of their marks to any one index partition.
pub const DUE_SHARDS: u16 = 32;

/// An account's balance item: what the close and the overview read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalanceState {
    /// The sum of every entry recorded so far.
    pub amount: Micros,
    /// Goes up by one with every append; zero while the account has no entry. A close
    /// conditioned on it fails if anything moved since it was read.
    pub version: u64,
    /// Usage (positive micro-units) by the period it occurred in.
    pub usage: BTreeMap<BillingPeriod, Micros>,
}

impl BalanceState {
    /// Usage that occurred after `period` ended (positive), which the close leaves for later.
    pub fn usage_after(&self, period: BillingPeriod) -> Result<Micros, MoneyError> {
        Micros::checked_sum(self.usage.range(period.next()..).map(|(_, amount)| *amount))
    }

    /// **The close of `period` from the balance item**: [`close_from_totals`] over the
    /// balance and the usage totals of later periods. Late usage (occurred in a closed month,
    /// recorded after its close) is in the balance but in no later total, so the next close
    /// bills it; usage that occurred after the period is subtracted, so it is never billed early.
    pub fn close(
        &self,
        period: BillingPeriod,
        minimum_charge: Cents,
    ) -> Result<PeriodClose, MoneyError> {
        close_from_totals(self.amount, self.usage_after(period)?, minimum_charge)
    }

    /// The state after `entries`, or `None` when the balance or a usage total would leave
    /// ±[`LEDGER_LIMIT`] (stores use this to refuse such an append).
    pub fn after(&self, entries: &[LedgerEntry]) -> Option<Self> {
        let mut next = self.clone();
        for entry in entries {
            next.amount = within_limit(next.amount.checked_add(entry.amount).ok()?)?;
            if entry.kind == EntryKind::Usage {
                let period = BillingPeriod::containing(entry.effective_at);
                let total = next.usage.entry(period).or_default();
                *total = within_limit(total.checked_sub(entry.amount).ok()?)?;
            }
        }
        next.version += 1;
        Some(next)
    }
}

fn within_limit(amount: Micros) -> Option<Micros> {
    (amount.get().unsigned_abs() <= LEDGER_LIMIT.get().unsigned_abs()).then_some(amount)
}

/// How a batch of entries moves a balance item: the balance by their sum, and each period's
/// usage total by the usage that occurred in it. Adapters apply it as one update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalanceMove {
    /// Change of the balance.
    pub amount: Micros,
    /// Change of each period's usage total (positive).
    pub usage: BTreeMap<BillingPeriod, Micros>,
}

impl BalanceMove {
    /// The move made by `entries`, or an overflow.
    pub fn of(entries: &[LedgerEntry]) -> Result<Self, MoneyError> {
        let mut usage: BTreeMap<BillingPeriod, Micros> = BTreeMap::new();
        for entry in entries.iter().filter(|e| e.kind == EntryKind::Usage) {
            let total = usage
                .entry(BillingPeriod::containing(entry.effective_at))
                .or_default();
            *total = total.checked_sub(entry.amount)?;
        }
        Ok(Self {
            amount: Micros::checked_sum(entries.iter().map(|e| e.amount))?,
            usage,
        })
    }
}

/// The due-index shard of an account: FNV-1a of its id, so it never changes between
/// processes or releases.
pub fn due_shard(account: &AccountId) -> u16 {
    let hash = account
        .as_str()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
        });
    u16::try_from(hash % u64::from(DUE_SHARDS)).expect("below DUE_SHARDS")
}

/// The periods whose monthly charge must visit an account after it recorded usage that
/// occurred at `occurred_at`, arriving at `now`: the period of arrival (late usage for a month
/// already closed is billed with the month it arrived in) and, while its charge has not begun,
/// the period the usage occurred in.
pub fn due_periods(occurred_at: DateTime<Utc>, now: DateTime<Utc>) -> Vec<BillingPeriod> {
    let arrival = BillingPeriod::containing(now);
    let occurred = BillingPeriod::containing(occurred_at);
    if occurred != arrival && now < occurred.charge_at() {
        vec![occurred, arrival]
    } else {
        vec![arrival]
    }
}
