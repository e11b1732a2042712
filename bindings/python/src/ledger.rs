//! Balance and period close from ledger entries.
//!
//! Entries are read by `entry::entries_from` (typed entries, tuples or dicts, each checked).

use billing_core::domain::money::{Cents, Micros};
use billing_core::error::MoneyError;
use billing_core::rules::ledger::{
    self, BalanceView, EntryKind, PeriodClose, PeriodCloser, STRIPE_MINIMUM_CHARGE,
};
use pyo3::exceptions::{PyIndexError, PyValueError};
use pyo3::prelude::*;

use crate::args::{Element, int, money, optional_limit};
use crate::columns::{self, CategoryColumn, IntColumn, category_column, each};
use crate::entry::{self, ENTRY_KINDS, entries_from, movements_from};
use crate::errors::{invalid_type, invalid_value, money_error};
use crate::parallel;
use crate::period::period_arg;
use crate::time::{INSTANT_MICROS, instant_micros};

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyPeriodClose>()?;
    m.add_class::<PyBalanceView>()?;
    m.add_class::<PyPeriodCloses>()?;
    m.add_function(wrap_pyfunction!(balance, m)?)?;
    m.add_function(wrap_pyfunction!(balance_view, m)?)?;
    m.add_function(wrap_pyfunction!(close_period, m)?)?;
    m.add_function(wrap_pyfunction!(close_periods, m)?)?;
    m.add("STRIPE_MINIMUM_CHARGE", STRIPE_MINIMUM_CHARGE.get())?;
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

/// `minimum_charge` (cents, not negative), or the default `STRIPE_MINIMUM_CHARGE`.
fn minimum(cents: Option<&Bound<'_, PyAny>>) -> PyResult<Cents> {
    Ok(optional_limit("minimum_charge", cents, "cents")?.map_or(STRIPE_MINIMUM_CHARGE, Cents::new))
}

/// The balance (micros) after the entries. Raises `MoneyOverflow` if it leaves int64.
#[pyfunction]
fn balance(py: Python<'_>, entries: &Bound<'_, PyAny>) -> PyResult<i64> {
    ledger::balance(&entries_from(entries)?)
        .map(Micros::get)
        .map_err(|e| money_error(py, e))
}

/// Splits a signed balance (micros) into credits and uninvoiced debt, in whole cents.
#[pyfunction]
fn balance_view(py: Python<'_>, balance: &Bound<'_, PyAny>) -> PyResult<PyBalanceView> {
    BalanceView::of(Micros::new(money("balance", balance, "micros")?))
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
    minimum_charge: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyPeriodClose> {
    PeriodCloser::new(period_arg(period)?, minimum(minimum_charge)?)
        .close(movements_from(entries)?)
        .map(PyPeriodClose)
        .map_err(|e| money_error(py, e))
}

/// Why one ledger of a batch could not be closed.
enum Failure {
    Money(MoneyError),
    /// The entry row whose packed epoch micros are outside the range of instants.
    Time(usize),
    /// The entry row whose amount has the wrong sign for its kind (a positive usage).
    Sign(usize),
}

/// The `effective_at` column as epoch microseconds: packed bytes (whose layout says they are
/// micros) borrowed as they are, aware datetimes converted and range-checked while reading; a
/// bare int is refused, as everywhere an instant is expected. Python datetimes have
/// microsecond resolution, so nothing is lost.
fn effective_at_column<'a>(
    column: &'a Bound<'_, PyAny>,
    unit: Option<&Bound<'_, PyAny>>,
) -> PyResult<IntColumn<'a>> {
    // Packed bytes and arrays (datetime64, or integers in `unit`): see `columns::instant_column`.
    if let Some(micros) = columns::instant_column("effective_at", column, unit)? {
        return Ok(micros);
    }
    let mut row = 0;
    each("effective_at", column, |item| {
        row += 1;
        instant_micros(Element("effective_at", row - 1), item)
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

    /// The close of ledger `index` (negative counts from the end). An index that is not an int
    /// is `InvalidType` (a `TypeError`, as for a list); one past either end, however large, is
    /// `IndexError`.
    fn __getitem__(&self, index: &Bound<'_, PyAny>) -> PyResult<PyPeriodClose> {
        let out_of_range = || PyIndexError::new_err("PeriodCloses index out of range");
        let index: isize = match int::<isize>("index", index, "the ledgers") {
            Ok(index) => index,
            Err(e) if e.is_instance_of::<PyValueError>(index.py()) => return Err(out_of_range()),
            Err(e) => return Err(e),
        };
        let len = self.0.len() as isize;
        let at = if index < 0 { index + len } else { index };
        usize::try_from(at)
            .ok()
            .and_then(|i| self.0.get(i))
            .map(|close| PyPeriodClose(*close))
            .ok_or_else(out_of_range)
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
/// ledger: `kinds` (str, see `ENTRY_KINDS`), `amounts_micros` (int, the signed movement) and
/// `effective_at` (aware datetimes); `lengths` gives how many entries each ledger has, in order.
/// Each column may instead be a `bytes` object in the packed layout (ints as little-endian
/// int64, `effective_at` as int64 microseconds since the Unix epoch; kinds as one byte, the
/// index in `ENTRY_KINDS`).
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
    minimum_charge: Option<&Bound<'py, PyAny>>,
    effective_at_unit: Option<&Bound<'py, PyAny>>,
) -> PyResult<PyPeriodCloses> {
    let period = period_arg(period)?;
    let minimum = minimum(minimum_charge)?;
    let names = ENTRY_KINDS.map(|(name, _)| name);
    let kinds = category_column("kinds", kinds, &names, |name| match name {
        Some(name) => entry::kind(py, "kinds", name),
        None => Err(invalid_type(py, "kinds", "expected a str, got NoneType")),
    })?;
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
                invalid_value(
                    py,
                    &format!("lengths[{i}]"),
                    &format!("{length} entries do not fit the {total} given"),
                )
            })?;
    }
    if start != total {
        return Err(invalid_value(
            py,
            "lengths",
            &format!("they add up to {start} entries but {total} were given"),
        ));
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
        Failure::Time(row) => invalid_value(
            py,
            &format!("effective_at[{row}]"),
            &format!(
                "{} microseconds is out of range (1970-01-01 to 9998-12-31 UTC)",
                times.get(row)
            ),
        ),
        Failure::Sign(row) => {
            let kind = kinds.rows(row..row + 1).next().expect("a row of the batch");
            // The same message close_period gives for this entry.
            entry::signed(
                py,
                &format!("amounts_micros[{row}]"),
                kind,
                amounts.get(row),
            )
            .expect_err("the row breaks the sign rule")
        }
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
    // The instants every other argument accepts, so packed input is refused exactly where
    // `close_period` on the same instants would refuse them.
    let instants = INSTANT_MICROS;
    for (slot, length) in out.iter_mut().zip(lengths) {
        let rows = start..start + usize::try_from(length).expect("lengths were checked");
        start = rows.end;
        let mut all_valid = true;
        let entries = kinds
            .rows(rows.clone())
            .zip(amounts.rows(rows.clone()))
            .zip(times.rows(rows.clone()))
            .map(|((kind, amount), at)| {
                all_valid &= entry::sign_ok(kind, amount) & instants.contains(&at);
                (kind, Micros::new(amount), at)
            });
        let close = closer.close(entries);
        // A bad entry is the ledger's failure even when the close stopped (on an overflow)
        // before reaching it, as when the entries are checked before closing.
        if !all_valid || close.is_err() {
            let rows_of = kinds
                .rows(rows.clone())
                .zip(amounts.rows(rows.clone()))
                .zip(times.rows(rows.clone()));
            for (row, ((kind, amount), at)) in rows.clone().zip(rows_of) {
                if !entry::sign_ok(kind, amount) {
                    return Err(Failure::Sign(row));
                }
                if !instants.contains(&at) {
                    return Err(Failure::Time(row));
                }
            }
        }
        *slot = close.map_err(Failure::Money)?;
    }
    Ok(())
}
