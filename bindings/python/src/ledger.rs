//! Balance and period close from ledger entries.
//!
//! An entry crosses the boundary as `(kind, amount_micros, effective_at)`, a tuple or a mapping
//! with those keys; `effective_at` is an aware datetime or int microseconds since the Unix epoch.

use billing_core::domain::money::{Cents, Micros};
use billing_core::error::MoneyError;
use billing_core::rules::ledger::{
    self, BalanceView, EntryId, EntryKind, LedgerEntry, PeriodClose, PeriodCloser,
    STRIPE_MINIMUM_CHARGE,
};
use chrono::{DateTime, Utc};
use pyo3::exceptions::PyIndexError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};

use crate::columns::{self, CategoryColumn, IntColumn, category_column, each};
use crate::errors::{invalid, money_error};
use crate::parallel;
use crate::period::period_arg;
use crate::time::{instant_or_micros, type_name};

/// Entry kinds, in the order of their packed one-byte codes.
const ENTRY_KINDS: [(&str, EntryKind); 4] = [
    ("credit_purchase", EntryKind::CreditPurchase),
    ("usage", EntryKind::Usage),
    ("invoiced", EntryKind::Invoiced),
    ("adjustment", EntryKind::Adjustment),
];

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<PyPeriodClose>()?;
    m.add_class::<PyBalanceView>()?;
    m.add_class::<PyPeriodCloses>()?;
    m.add_function(wrap_pyfunction!(balance, m)?)?;
    m.add_function(wrap_pyfunction!(balance_view, m)?)?;
    m.add_function(wrap_pyfunction!(close_period, m)?)?;
    m.add_function(wrap_pyfunction!(close_periods, m)?)?;
    m.add("STRIPE_MINIMUM_CHARGE", STRIPE_MINIMUM_CHARGE.get())?;
    m.add(
        "ENTRY_KINDS",
        PyTuple::new(py, ENTRY_KINDS.map(|(name, _)| name))?,
    )?;
    Ok(())
}

/// What closing a period decides. `owed` and `carried` are micros, `invoice` is cents.
#[pyclass(frozen, eq, name = "PeriodClose", module = "billing_rules")]
#[derive(PartialEq)]
pub(crate) struct PyPeriodClose(PeriodClose);

#[pymethods]
impl PyPeriodClose {
    /// Everything owed (micros) for usage up to the end of the period, after every credit,
    /// adjustment and earlier invoice.
    #[getter]
    fn owed(&self) -> i64 {
        self.0.owed.get()
    }

    /// The amount to invoice and charge (cents): whole cents, at least the minimum charge, or 0.
    #[getter]
    fn invoice(&self) -> i64 {
        self.0.invoice.get()
    }

    /// What stays on the balance and carries into the next period (micros): `owed - invoice`.
    #[getter]
    fn carried(&self) -> i64 {
        self.0.carried.get()
    }

    /// True when there is something to invoice.
    #[getter]
    fn has_invoice(&self) -> bool {
        self.0.has_invoice()
    }

    fn __repr__(&self) -> String {
        format!(
            "PeriodClose(owed={}, invoice={}, carried={})",
            self.owed(),
            self.invoice(),
            self.carried()
        )
    }
}

/// A balance split for display, in whole cents (toward zero).
#[pyclass(frozen, eq, name = "BalanceView", module = "billing_rules")]
#[derive(PartialEq)]
pub(crate) struct PyBalanceView(BalanceView);

#[pymethods]
impl PyBalanceView {
    /// Prepaid credit left (cents), 0 when the balance is negative.
    #[getter]
    fn credits(&self) -> i64 {
        self.0.credits.get()
    }

    /// Usage not yet invoiced nor covered by credit (cents), 0 when the balance is positive.
    #[getter]
    fn uninvoiced(&self) -> i64 {
        self.0.uninvoiced.get()
    }

    fn __repr__(&self) -> String {
        format!(
            "BalanceView(credits={}, uninvoiced={})",
            self.credits(),
            self.uninvoiced()
        )
    }
}

fn kind(value: Option<&str>) -> PyResult<EntryKind> {
    ENTRY_KINDS
        .iter()
        .find(|(name, _)| Some(*name) == value)
        .map(|&(_, kind)| kind)
        .ok_or_else(|| invalid(format!("kind: {value:?} is not one of ENTRY_KINDS")))
}

/// The rules read only kind, amount and time; id and description are placeholders.
fn entry(n: usize, kind: EntryKind, amount: i64, effective_at: DateTime<Utc>) -> LedgerEntry {
    LedgerEntry {
        id: EntryId::adjustment(&format!("python-{n}")),
        kind,
        amount: Micros::new(amount),
        effective_at,
        description: String::new(),
    }
}

pub(crate) fn entries<'py>(value: &Bound<'py, PyAny>) -> PyResult<Vec<LedgerEntry>> {
    let py = value.py();
    let mut n = 0;
    each("entries", value, |item| {
        let (k, amount, at) = if let Ok(tuple) = item.cast::<PyTuple>() {
            let [k, amount, at] =
                <[Bound<'py, PyAny>; 3]>::try_from(tuple.iter().collect::<Vec<_>>()).map_err(
                    |_| invalid("entries: a tuple entry is (kind, amount_micros, effective_at)"),
                )?;
            (k, amount, at)
        } else if let Ok(dict) = item.cast::<PyDict>() {
            let field = |key: &Bound<'py, PyString>| -> PyResult<Bound<'py, PyAny>> {
                dict.get_item(key)?
                    .ok_or_else(|| invalid(format!("entries: an entry has no `{key}`")))
            };
            (
                field(intern!(py, "kind"))?,
                field(intern!(py, "amount_micros"))?,
                field(intern!(py, "effective_at"))?,
            )
        } else {
            return Err(invalid(format!(
                "entries: expected (kind, amount_micros, effective_at) tuples or dicts, got {}",
                type_name(item)
            )));
        };
        let k = kind(Some(
            &k.extract::<String>()
                .map_err(|_| invalid("entries: kind must be a str"))?,
        ))?;
        let amount = amount
            .extract::<i64>()
            .map_err(|_| invalid("entries: amount_micros must be an int in the int64 range"))?;
        n += 1;
        Ok(entry(n, k, amount, instant_or_micros("effective_at", &at)?))
    })
}

fn minimum(cents: Option<i64>) -> Cents {
    cents.map_or(STRIPE_MINIMUM_CHARGE, Cents::new)
}

/// The balance (micros) after the entries. Raises `MoneyOverflow` if it leaves int64.
#[pyfunction]
fn balance(py: Python<'_>, entries: &Bound<'_, PyAny>) -> PyResult<i64> {
    ledger::balance(&self::entries(entries)?)
        .map(Micros::get)
        .map_err(|e| money_error(py, e))
}

/// Splits a signed balance (micros) into credits and uninvoiced debt, in whole cents.
#[pyfunction]
fn balance_view(py: Python<'_>, balance: i64) -> PyResult<PyBalanceView> {
    BalanceView::of(Micros::new(balance))
        .map(PyBalanceView)
        .map_err(|e| money_error(py, e))
}

/// **The close rule** for one ledger: what is owed at the end of `period` (a `BillingPeriod`
/// or `"YYYY-MM"`), what to invoice (cents; nothing under `minimum_charge`, default
/// `STRIPE_MINIMUM_CHARGE`) and what carries over. Usage at or after the period's end is left
/// for later periods.
#[pyfunction]
#[pyo3(signature = (entries, period, minimum_charge=None))]
fn close_period(
    py: Python<'_>,
    entries: &Bound<'_, PyAny>,
    period: &Bound<'_, PyAny>,
    minimum_charge: Option<i64>,
) -> PyResult<PyPeriodClose> {
    ledger::close_period(
        &self::entries(entries)?,
        period_arg(period)?,
        minimum(minimum_charge),
    )
    .map(PyPeriodClose)
    .map_err(|e| money_error(py, e))
}

/// Why one ledger of a batch could not be closed.
enum Failure {
    Money(MoneyError),
    /// The entry row whose packed epoch micros are outside the range of instants.
    Time(usize),
}

/// The `effective_at` column as epoch microseconds: packed bytes borrowed as they are, arrays
/// copied once, aware datetimes and ints converted (and range-checked) while reading. Python datetimes have
/// microsecond resolution, so nothing is lost.
fn effective_at_column<'a>(
    column: &'a Bound<'_, PyAny>,
    unit: Option<&str>,
) -> PyResult<IntColumn<'a>> {
    // Packed bytes and arrays (datetime64, or integers in `unit`): see `columns::instant_column`.
    if let Some(micros) = columns::instant_column("effective_at", column, unit)? {
        return Ok(micros);
    }
    each("effective_at", column, |item| {
        instant_or_micros("effective_at", item).map(|at| at.timestamp_micros())
    })
    .map(|micros| IntColumn::from_values(&micros))
}

/// The results of `close_periods`, one per ledger, stored compactly: index it (or iterate) for
/// `PeriodClose` objects, or read whole columns with `owed`, `invoice` and `carried`.
#[pyclass(frozen, sequence, name = "PeriodCloses", module = "billing_rules")]
pub(crate) struct PyPeriodCloses(Vec<PeriodClose>);

#[pymethods]
impl PyPeriodCloses {
    fn __len__(&self) -> usize {
        self.0.len()
    }

    fn __getitem__(&self, index: isize) -> PyResult<PyPeriodClose> {
        let len = self.0.len() as isize;
        let at = if index < 0 { index + len } else { index };
        usize::try_from(at)
            .ok()
            .and_then(|i| self.0.get(i))
            .map(|close| PyPeriodClose(*close))
            .ok_or_else(|| PyIndexError::new_err("PeriodCloses index out of range"))
    }

    /// `owed` of every ledger (micros), in order.
    #[getter]
    fn owed(&self) -> Vec<i64> {
        self.0.iter().map(|c| c.owed.get()).collect()
    }

    /// `invoice` of every ledger (cents), in order.
    #[getter]
    fn invoice(&self) -> Vec<i64> {
        self.0.iter().map(|c| c.invoice.get()).collect()
    }

    /// `carried` of every ledger (micros), in order.
    #[getter]
    fn carried(&self) -> Vec<i64> {
        self.0.iter().map(|c| c.carried.get()).collect()
    }

    fn __repr__(&self) -> String {
        format!("PeriodCloses(<{} ledgers>)", self.0.len())
    }
}

/// The close rule over many ledgers at once, all for the same `period`.
///
/// The entries of every ledger are given as three columns, one element per entry, ledger after
/// ledger: `kinds` (str, see `ENTRY_KINDS`), `amounts_micros` (int) and `effective_at` (aware
/// datetime or int microseconds since the Unix epoch); `lengths` gives how many entries each
/// ledger has, in order. Each column may instead be a `bytes` object in the packed layout (ints
/// as little-endian int64; kinds as one byte, the index in `ENTRY_KINDS`).
///
/// Columns may also be arrays (numpy, `array.array`, pandas/Arrow through `__array__`):
/// int64 for ints, uint8 codes for kinds, and for `effective_at` `datetime64` (any of s, ms,
/// us, ns) or int64 epoch integers in `effective_at_unit` (`"s"`, `"ms"`, `"us"`, `"ns"`),
/// which an integer array must name.
///
/// Returns a `PeriodCloses`: item `i` equals `close_period` on ledger `i`.
#[pyfunction]
#[pyo3(signature = (period, lengths, kinds, amounts_micros, effective_at, minimum_charge=None, effective_at_unit=None))]
// The Python signature: one argument per column, as Python callers pass them.
#[allow(clippy::too_many_arguments)]
fn close_periods<'py>(
    py: Python<'py>,
    period: &Bound<'py, PyAny>,
    lengths: &Bound<'py, PyAny>,
    kinds: &Bound<'py, PyAny>,
    amounts_micros: &Bound<'py, PyAny>,
    effective_at: &Bound<'py, PyAny>,
    minimum_charge: Option<i64>,
    effective_at_unit: Option<&str>,
) -> PyResult<PyPeriodCloses> {
    let period = period_arg(period)?;
    let minimum = minimum(minimum_charge);
    let names: Vec<&str> = ENTRY_KINDS.iter().map(|(name, _)| *name).collect();
    let kinds = category_column("kinds", kinds, &names, kind)?;
    let amounts = columns::int_column("amounts_micros", amounts_micros)?;
    let times = effective_at_column(effective_at, effective_at_unit)?;
    let total = columns::same_length(&[
        ("kinds", kinds.len()),
        ("amounts_micros", amounts.len()),
        ("effective_at", times.len()),
    ])?;
    let lengths = columns::int_column("lengths", lengths)?;
    // Checks the lengths, and notes where each part of the parallel plan starts in the entries.
    let plan = parallel::plan(lengths.len());
    let mut part_starts = Vec::with_capacity(plan.len());
    let mut start = 0usize;
    for (i, length) in lengths.rows(0..lengths.len()).enumerate() {
        if plan
            .get(part_starts.len())
            .is_some_and(|part| part.start == i)
        {
            part_starts.push(start);
        }
        start = usize::try_from(length)
            .ok()
            .and_then(|n| start.checked_add(n))
            .filter(|&end| end <= total)
            .ok_or_else(|| {
                invalid(format!(
                    "lengths[{i}]: {length} entries do not fit the {total} given"
                ))
            })?;
    }
    if start != total {
        return Err(invalid(format!(
            "lengths add up to {start} entries but {total} were given"
        )));
    }
    part_starts.resize(plan.len(), total);
    let closer = PeriodCloser::new(period, minimum);
    // Placeholders, each overwritten by its ledger's close.
    let unset = PeriodClose {
        owed: Micros::ZERO,
        invoice: Cents::ZERO,
        carried: Micros::ZERO,
    };
    let mut closes = vec![unset; lengths.len()];
    py.detach(|| {
        parallel::fill(&mut closes, |part, ledgers, out| {
            let lengths = lengths.rows(ledgers);
            let start = part_starts[part];
            close_each(lengths, start, out, &kinds, &amounts, &times, closer)
        })
    })
    .map(|()| PyPeriodCloses(closes))
    .map_err(|failure| match failure {
        Failure::Money(e) => money_error(py, e),
        Failure::Time(row) => invalid(format!(
            "effective_at[{row}]: {} microseconds is out of range",
            times.get(row)
        )),
    })
}

/// Closes each ledger of a part with billing-core's [`PeriodCloser`], reading its rows
/// straight from the columns (nothing is allocated per ledger or entry): `lengths` are the
/// part's ledgers (already checked against the columns), the first starting at entry `start`;
/// `out` receives one close per ledger. Stops at the first ledger that cannot be closed.
#[allow(clippy::too_many_arguments)]
fn close_each(
    lengths: impl Iterator<Item = i64>,
    mut start: usize,
    out: &mut [PeriodClose],
    kinds: &CategoryColumn<'_, EntryKind>,
    amounts: &IntColumn<'_>,
    times: &IntColumn<'_>,
    closer: PeriodCloser,
) -> Result<(), Failure> {
    // Micros that are an instant (what `DateTime::from_timestamp_micros` accepts), so packed
    // input is refused exactly where `close_period` on the same instants would refuse it.
    let instants =
        DateTime::<Utc>::MIN_UTC.timestamp_micros()..=DateTime::<Utc>::MAX_UTC.timestamp_micros();
    for (slot, length) in out.iter_mut().zip(lengths) {
        let rows = start..start + usize::try_from(length).expect("lengths were checked");
        start = rows.end;
        let mut all_instants = true;
        let entries = kinds
            .rows(rows.clone())
            .zip(amounts.rows(rows.clone()))
            .zip(times.rows(rows.clone()))
            .map(|((kind, amount), at)| {
                all_instants &= instants.contains(&at);
                (kind, Micros::new(amount), at)
            });
        let close = closer.close(entries);
        // A time out of range is the ledger's failure even when the close stopped (on an
        // overflow) before reaching it, as when the entries are built before closing.
        if !all_instants || close.is_err() {
            let mut times = times.rows(rows.clone());
            if let Some(offset) = times.position(|at| !instants.contains(&at)) {
                return Err(Failure::Time(rows.start + offset));
            }
        }
        *slot = close.map_err(Failure::Money)?;
    }
    Ok(())
}
