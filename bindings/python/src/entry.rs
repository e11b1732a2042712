//! Ledger entries as Python gives them: typed objects (`Usage`, `CreditPurchase`, `Invoiced`,
//! `Adjustment`), or `(kind, amount_micros, effective_at)` tuples and dicts shaped like a
//! ledger export. Every form is checked the same way before any rule runs.
//!
//! **One sign rule.** `amount_micros` is always the signed movement of the balance, as the
//! ledger stores it: usage lowers it (≤ 0), credit purchases and invoiced debt raise it (≥ 0),
//! adjustments go either way. `Usage` alone is built from its `cost_micros` (≥ 0), the way usage
//! is priced, and stores `-cost_micros`. A usage amount with the wrong sign is refused, never
//! read as a credit.

use std::fmt::{self, Display};

use billing_core::domain::money::Micros;
use billing_core::rules::ledger::{EntryId, EntryKind, LedgerEntry};
use chrono::{DateTime, Utc};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use crate::args::{money, one_of, text};
use crate::errors::{invalid_type, invalid_value};
use crate::time::{instant_micros, type_name};

/// Entry kinds, in the order of their packed one-byte codes (`ENTRY_KINDS`).
pub(crate) const ENTRY_KINDS: [(&str, EntryKind); 4] = [
    ("credit_purchase", EntryKind::CreditPurchase),
    ("usage", EntryKind::Usage),
    ("invoiced", EntryKind::Invoiced),
    ("adjustment", EntryKind::Adjustment),
];

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyUsage>()?;
    m.add_class::<PyCreditPurchase>()?;
    m.add_class::<PyInvoiced>()?;
    m.add_class::<PyAdjustment>()?;
    m.add(
        "ENTRY_KINDS",
        PyTuple::new(m.py(), ENTRY_KINDS.map(|(name, _)| name))?,
    )?;
    Ok(())
}

/// The name of a kind, as in `ENTRY_KINDS`.
fn kind_name(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::CreditPurchase => "credit_purchase",
        EntryKind::Usage => "usage",
        EntryKind::Invoiced => "invoiced",
        EntryKind::Adjustment => "adjustment",
    }
}

/// A kind named exactly (`"usage"`, never `"Usage"`); `field` names where it was read.
pub(crate) fn kind(py: Python<'_>, field: impl Display + Copy, name: &str) -> PyResult<EntryKind> {
    one_of(py, field, name, &ENTRY_KINDS, "ENTRY_KINDS")
}

/// The sign rule: whether `amount` micros is a movement an entry of `kind` can make.
pub(crate) fn sign_ok(kind: EntryKind, amount: i64) -> bool {
    match kind {
        EntryKind::Usage => amount <= 0,
        EntryKind::CreditPurchase | EntryKind::Invoiced => amount >= 0,
        EntryKind::Adjustment => true,
    }
}

/// Checks the sign rule for a movement of `amount` micros of `kind`, read from `field`.
pub(crate) fn signed(
    py: Python<'_>,
    field: impl Display + Copy,
    kind: EntryKind,
    amount: i64,
) -> PyResult<i64> {
    if sign_ok(kind, amount) {
        return Ok(amount);
    }
    let message = if kind == EntryKind::Usage {
        format!(
            "usage lowers the balance, so its amount is negative: got {amount}; pass {} \
             (or Usage(cost_micros={amount}, occurred_at=...))",
            -amount
        )
    } else {
        format!(
            "{} raises the balance, so its amount is 0 or more: got {amount}",
            kind_name(kind)
        )
    };
    Err(invalid_value(py, field, &message))
}

/// One checked entry: its kind, its signed movement and when it took effect.
#[derive(Clone, Copy, PartialEq)]
pub(crate) struct Entry {
    kind: EntryKind,
    amount: i64,
    /// When it took effect, in microseconds since the Unix epoch (within `INSTANT_MICROS`).
    at_micros: i64,
}

impl Entry {
    /// Reads and checks `amount` (micros) and `at` given to a typed constructor.
    fn new(
        kind: EntryKind,
        (amount_field, amount): (&str, &Bound<'_, PyAny>),
        (at_field, at): (&str, &Bound<'_, PyAny>),
    ) -> PyResult<Self> {
        let py = amount.py();
        let micros = money(amount_field, amount, "micros")?;
        let amount = if kind == EntryKind::Usage {
            if micros < 0 {
                return Err(invalid_value(
                    py,
                    amount_field,
                    &format!(
                        "a cost is 0 or more: got {micros}; Usage takes the cost, and stores it as a negative movement"
                    ),
                ));
            }
            -micros
        } else {
            signed(py, amount_field, kind, micros)?
        };
        Ok(Self {
            kind,
            amount,
            at_micros: instant_micros(at_field, at)?,
        })
    }

    fn at(self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.at_micros).expect("within INSTANT_MICROS")
    }

    /// The entry billing-core's rules read. They read only kind, amount and time; the id and
    /// description are placeholders.
    fn ledger_entry(self, n: usize) -> LedgerEntry {
        LedgerEntry {
            id: EntryId::adjustment(&format!("python-{n}")),
            kind: self.kind,
            amount: Micros::new(self.amount),
            effective_at: self.at(),
            description: String::new(),
        }
    }

    fn repr(&self, class: &str, amount_name: &str, amount: i64, at_name: &str) -> String {
        format!(
            "{class}({amount_name}={amount}, {at_name}={})",
            self.at().format("%Y-%m-%dT%H:%M:%S%.fZ")
        )
    }
}

/// A typed ledger entry class: frozen, compared by value, with `kind`, `amount_micros` (the
/// signed movement) and `effective_at`.
macro_rules! entry_class {
    (
        $(#[$doc:meta])*
        $rust:ident, $name:literal, $kind:expr, $amount:ident, $at:ident, $shown:expr
    ) => {
        $(#[$doc])*
        #[pyclass(frozen, eq, name = $name, module = "billing_rules")]
        #[derive(PartialEq)]
        pub(crate) struct $rust(Entry);

        #[pymethods]
        impl $rust {
            #[new]
            fn new($amount: &Bound<'_, PyAny>, $at: &Bound<'_, PyAny>) -> PyResult<Self> {
                Entry::new(
                    $kind,
                    (stringify!($amount), $amount),
                    (stringify!($at), $at),
                )
                .map(Self)
            }

            /// The entry kind, one of `ENTRY_KINDS`.
            #[getter]
            fn kind(&self) -> &'static str {
                kind_name(self.0.kind)
            }

            /// The signed movement of the balance (micros), as the ledger stores it.
            #[getter]
            fn amount_micros(&self) -> i64 {
                self.0.amount
            }

            /// When the entry took effect, an aware UTC datetime.
            #[getter]
            fn effective_at(&self) -> DateTime<Utc> {
                self.0.at()
            }

            fn __repr__(&self) -> String {
                let shown: fn(i64) -> i64 = $shown;
                self.0.repr(
                    $name,
                    stringify!($amount),
                    shown(self.0.amount),
                    stringify!($at),
                )
            }
        }
    };
}

entry_class!(
    /// Metered usage: `Usage(cost_micros, occurred_at)`. `cost_micros` is the cost, 0 or more;
    /// the entry lowers the balance by it (`amount_micros == -cost_micros`).
    PyUsage, "Usage", EntryKind::Usage, cost_micros, occurred_at, |amount| -amount
);
entry_class!(
    /// A settled credit purchase: `CreditPurchase(amount_micros, settled_at)`, 0 or more.
    PyCreditPurchase, "CreditPurchase", EntryKind::CreditPurchase, amount_micros, settled_at,
    |amount| amount
);
entry_class!(
    /// Debt moved onto an invoice when a period closed: `Invoiced(amount_micros, at)`, 0 or more.
    PyInvoiced, "Invoiced", EntryKind::Invoiced, amount_micros, at, |amount| amount
);
entry_class!(
    /// A correction by staff or a write-off: `Adjustment(amount_micros, at)`, either sign.
    PyAdjustment, "Adjustment", EntryKind::Adjustment, amount_micros, at, |amount| amount
);

/// One entry of `entries`, the `i`th: a typed entry, a tuple or a dict.
fn one<'py>(i: usize, item: &Bound<'py, PyAny>) -> PyResult<Entry> {
    let py = item.py();
    let (k, amount, at) = if let Ok(tuple) = item.cast::<PyTuple>() {
        if tuple.len() != 3 {
            return Err(invalid_type(
                py,
                &format!("entries[{i}]"),
                &format!(
                    "a tuple entry is (kind, amount_micros, effective_at), got {} items",
                    tuple.len()
                ),
            ));
        }
        (tuple.get_item(0)?, tuple.get_item(1)?, tuple.get_item(2)?)
    } else if let Ok(dict) = item.cast::<PyDict>() {
        let field = |key: &Bound<'py, PyString>| -> PyResult<Bound<'py, PyAny>> {
            dict.get_item(key)?
                .ok_or_else(|| invalid_type(py, &format!("entries[{i}].{key}"), "is missing"))
        };
        (
            field(intern!(py, "kind"))?,
            field(intern!(py, "amount_micros"))?,
            field(intern!(py, "effective_at"))?,
        )
    } else if let Ok(entry) = item.cast::<PyUsage>() {
        return Ok(entry.get().0);
    } else if let Ok(entry) = item.cast::<PyCreditPurchase>() {
        return Ok(entry.get().0);
    } else if let Ok(entry) = item.cast::<PyInvoiced>() {
        return Ok(entry.get().0);
    } else if let Ok(entry) = item.cast::<PyAdjustment>() {
        return Ok(entry.get().0);
    } else {
        return Err(invalid_type(
            py,
            &format!("entries[{i}]"),
            &format!(
                "expected Usage/CreditPurchase/Invoiced/Adjustment, a (kind, amount_micros, effective_at) tuple or a dict, got {}",
                type_name(item)
            ),
        ));
    };
    let kind_field = EntryField(i, "kind");
    let kind = kind(py, kind_field, &text(kind_field, &k)?.to_cow()?)?;
    let amount_field = EntryField(i, "amount_micros");
    let amount = signed(
        py,
        amount_field,
        kind,
        money(amount_field, &amount, "micros")?,
    )?;
    Ok(Entry {
        kind,
        amount,
        at_micros: instant_micros(EntryField(i, "effective_at"), &at)?,
    })
}

/// `entries[i].name`, formatted only when a message needs it: most entries are good, and
/// formatting three names per entry would cost more than reading it.
#[derive(Clone, Copy)]
struct EntryField(usize, &'static str);

impl Display for EntryField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "entries[{}].{}", self.0, self.1)
    }
}

/// **The one parser of ledger entries** for every function that takes them: an iterable of
/// typed entries, `(kind, amount_micros, effective_at)` tuples or dicts with those keys, each
/// checked (kind exact, sign rule, aware datetime in range). Errors name the entry,
/// e.g. `entries[3].amount_micros`.
pub(crate) fn entries_from(value: &Bound<'_, PyAny>) -> PyResult<Vec<LedgerEntry>> {
    read_entries(value, Entry::ledger_entry)
}

/// The entries as the movements billing-core's `PeriodCloser` reads: kind, signed amount and
/// epoch microseconds. The same parser as `entries_from`, without building what only the
/// invoice lines need (an id and a description per entry).
pub(crate) fn movements_from(value: &Bound<'_, PyAny>) -> PyResult<Vec<(EntryKind, Micros, i64)>> {
    read_entries(value, |entry, _| {
        (entry.kind, Micros::new(entry.amount), entry.at_micros)
    })
}

/// Every entry of `value` read by `one` and turned into a `T` by `make` (given its index).
fn read_entries<T>(value: &Bound<'_, PyAny>, make: impl Fn(Entry, usize) -> T) -> PyResult<Vec<T>> {
    let read = |(i, item): (usize, Bound<'_, PyAny>)| one(i, &item).map(|e| make(e, i));
    if let Ok(list) = value.cast::<PyList>() {
        let mut out = Vec::with_capacity(list.len());
        for item in list.iter().enumerate() {
            out.push(read(item)?);
        }
        return Ok(out);
    }
    if let Ok(tuple) = value.cast::<PyTuple>() {
        return tuple.iter().enumerate().map(read).collect();
    }
    let not_entries = || {
        invalid_type(
            value.py(),
            "entries",
            &format!(
                "expected a list or iterable of ledger entries, got {}",
                type_name(value)
            ),
        )
    };
    if value.cast::<PyString>().is_ok() || value.cast::<PyBytes>().is_ok() {
        return Err(not_entries());
    }
    value
        .try_iter()
        .map_err(|_| not_entries())?
        .enumerate()
        .map(|(i, item)| read((i, item?)))
        .collect()
}
