//! Batch columns: a column is a Python sequence (one element per row), a `bytes` object in a
//! packed layout (int columns: little-endian int64, 8 bytes per row; categorical columns: one
//! byte per row holding the value's index in the module's `*_VALUES` tuple), or an array in
//! that layout (numpy, `array.array`, `memoryview`; pandas and Arrow columns through their
//! `__array__`), read through the buffer protocol with no Python object per row.
//!
//! Columns are read (packed bytes and C-contiguous arrays in place, strided arrays copied once,
//! sequences converted into the packed layout) while the GIL is held; the rules then run
//! without it. Every refusal is an `InvalidType` or `InvalidValue` naming the column, and the
//! row (`amounts_micros[3]`) when one row is at fault.

use std::ops::Range;

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyList, PyString, PyTuple};

use crate::args::{Element, int};
use crate::errors::{invalid_type, invalid_value};
use crate::time::type_name;

mod arrays;
mod instants;

pub(crate) use arrays::{Layout, Packed, array_column};
pub(crate) use instants::instant_column;

/// How many distinct string objects a categorical column remembers.
const SEEN_OBJECTS: usize = 16;

/// An int column read for a batch, always in the packed layout (little-endian int64, 8 bytes
/// per row): packed `bytes` and C-contiguous int64 arrays are read where they are (nothing is
/// copied), strided arrays copied once, sequences converted element by element into an owned
/// packed buffer. One layout means the loops over rows are straight slice walks, with no
/// per-row dispatch.
pub(crate) struct IntColumn<'a>(Packed<'a>);

impl IntColumn<'_> {
    pub(crate) fn len(&self) -> usize {
        self.0.len() / 8
    }

    /// The value at `row`, which must be below `len()`.
    pub(crate) fn get(&self, row: usize) -> i64 {
        i64::from_le_bytes(self.0[row * 8..row * 8 + 8].try_into().expect("8 bytes"))
    }

    /// The values of `rows`, which must end at or below `len()`.
    pub(crate) fn rows(&self, rows: Range<usize>) -> impl Iterator<Item = i64> + '_ {
        self.0[rows.start * 8..rows.end * 8]
            .chunks_exact(8)
            .map(|b| i64::from_le_bytes(b.try_into().expect("chunks of 8")))
    }

    /// Converted values, packed.
    pub(crate) fn from_values(values: &[i64]) -> Self {
        Self(Packed::Owned(
            values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ))
    }
}

/// A categorical column read for a batch: one byte per row, an index into `table`. Packed
/// `bytes` and uint8 arrays are read where they are (and checked); sequences are converted
/// into owned codes.
pub(crate) struct CategoryColumn<'a, T> {
    codes: Packed<'a>,
    table: Vec<T>,
}

impl<T: Copy> CategoryColumn<'_, T> {
    /// The same value for each of `rows` rows.
    pub(crate) fn repeat(value: T, rows: usize) -> Self {
        Self {
            codes: Packed::Owned(vec![0; rows]),
            table: vec![value],
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.codes.len()
    }

    /// The values of `rows`, which must end at or below `len()`.
    pub(crate) fn rows(&self, rows: Range<usize>) -> impl Iterator<Item = T> + '_ {
        self.codes[rows]
            .iter()
            .map(|&code| self.table[usize::from(code)])
    }
}

/// Reads an int column: packed bytes, an int64 array, or a sequence of ints (never bools).
pub(crate) fn int_column<'a>(name: &str, column: &'a Bound<'_, PyAny>) -> PyResult<IntColumn<'a>> {
    if let Ok(packed) = column.cast::<PyBytes>() {
        let bytes = packed.as_bytes();
        if bytes.len() % 8 != 0 {
            return Err(invalid_value(
                column.py(),
                name,
                &format!(
                    "packed int64 column has {} bytes, not a multiple of 8",
                    bytes.len()
                ),
            ));
        }
        return Ok(IntColumn(Packed::Borrowed(bytes)));
    }
    if let Some(array) = array_column(name, column, Layout::Int64)? {
        return Ok(IntColumn(array));
    }
    ints(name, column).map(|values| IntColumn::from_values(&values))
}

/// Reads a categorical column (see `categories`), borrowing packed bytes and uint8 arrays.
pub(crate) fn category_column<'a, 'py, T: Copy + PartialEq>(
    name: &str,
    column: &'a Bound<'py, PyAny>,
    values: &[&str],
    parse: impl Fn(Option<&str>) -> PyResult<T>,
) -> PyResult<CategoryColumn<'a, T>> {
    let py = column.py();
    let mut table = values
        .iter()
        .map(|v| parse(Some(v)))
        .collect::<PyResult<Vec<T>>>()?;
    let packed = match (
        array_column(name, column, Layout::Codes)?,
        column.cast::<PyBytes>(),
    ) {
        (Some(array), _) => Some(array),
        (None, Ok(bytes)) => Some(Packed::Borrowed(bytes.as_bytes())),
        (None, Err(_)) => None,
    };
    if let Some(codes) = packed {
        // The largest code first (a loop the compiler vectorises), the offending row only if
        // there is one.
        let largest = codes.iter().fold(0, |largest, &c| largest.max(c));
        if usize::from(largest) >= values.len() {
            let row = codes
                .iter()
                .position(|&c| usize::from(c) >= values.len())
                .expect("a code above the table");
            return Err(bad_code(py, name, row, codes[row], values));
        }
        return Ok(CategoryColumn { codes, table });
    }
    let parsed = categories(name, column, parse)?;
    let codes = parsed
        .into_iter()
        .map(|value| {
            let code = match table.iter().position(|&known| known == value) {
                Some(code) => code,
                None => {
                    table.push(value);
                    table.len() - 1
                }
            };
            u8::try_from(code).map_err(|_| invalid_value(py, name, "too many distinct values"))
        })
        .collect::<PyResult<Vec<u8>>>()?;
    Ok(CategoryColumn {
        codes: Packed::Owned(codes),
        table,
    })
}

/// The refusal of packed code `code` at `row`: not an index into `values`.
fn bad_code(py: Python<'_>, name: &str, row: usize, code: u8, values: &[&str]) -> PyErr {
    let names: Vec<String> = values.iter().map(|v| format!("'{v}'")).collect();
    invalid_value(
        py,
        Element(name, row),
        &format!(
            "packed code {code} is not an index into ({})",
            names.join(", ")
        ),
    )
}

/// Reads a sequence of ints, each an `int` (or has `__index__`, as `numpy.int64`) in the int64
/// range; a bool, a float, a str or None is refused with its row.
fn ints(name: &str, column: &Bound<'_, PyAny>) -> PyResult<Vec<i64>> {
    let mut row = 0usize;
    each(name, column, |item| {
        row += 1;
        // Python counts a bool as an int; a `True` in an int column is always a mistake.
        match item
            .cast::<PyBool>()
            .is_err()
            .then(|| item.extract::<i64>())
        {
            Some(Ok(value)) => Ok(value),
            _ => int::<i64>(Element(name, row - 1), item, "int64"),
        }
    })
}

/// Reads a column whose elements each convert with `convert`: a list, a tuple or any other
/// iterable but a `str`.
pub(crate) fn each<'py, T>(
    name: &str,
    column: &Bound<'py, PyAny>,
    mut convert: impl FnMut(&Bound<'py, PyAny>) -> PyResult<T>,
) -> PyResult<Vec<T>> {
    if let Ok(list) = column.cast::<PyList>() {
        return list.iter().map(|item| convert(&item)).collect();
    }
    if let Ok(tuple) = column.cast::<PyTuple>() {
        return tuple.iter().map(|item| convert(&item)).collect();
    }
    let not_a_column = || {
        invalid_type(
            column.py(),
            name,
            &format!(
                "expected a list, tuple, iterable, array or bytes column, got {}",
                type_name(column)
            ),
        )
    };
    if column.cast::<PyString>().is_ok() {
        return Err(not_a_column());
    }
    column
        .try_iter()
        .map_err(|_| not_a_column())?
        .map(|item| convert(&item?))
        .collect()
}

/// Reads a sequence of categories: strings (or `None`) parsed by `parse`. The Python strings
/// of a column are usually a handful of shared objects, so the first few seen are remembered
/// by identity and not parsed again.
fn categories<'py, T: Copy>(
    name: &str,
    column: &Bound<'py, PyAny>,
    parse: impl Fn(Option<&str>) -> PyResult<T>,
) -> PyResult<Vec<T>> {
    let mut seen: Vec<(Bound<'py, PyAny>, T)> = Vec::new();
    let mut row = 0usize;
    each(name, column, |item| {
        row += 1;
        if let Some((_, value)) = seen.iter().find(|(obj, _)| obj.is(item)) {
            return Ok(*value);
        }
        let value = if item.is_none() {
            parse(None)?
        } else {
            let text = item.cast::<PyString>().map_err(|_| {
                invalid_type(
                    item.py(),
                    Element(name, row - 1),
                    &format!("expected a str, got {}", type_name(item)),
                )
            })?;
            parse(Some(&text.to_cow()?))?
        };
        if seen.len() < SEEN_OBJECTS {
            seen.push((item.clone(), value));
        }
        Ok(value)
    })
}

/// Checks that every column of a batch has as many rows as the first; the first that does
/// not is the field named.
pub(crate) fn same_length(columns: &[(&str, usize)]) -> PyResult<usize> {
    let Some(&(first, rows)) = columns.first() else {
        return Ok(0);
    };
    for &(name, len) in &columns[1..] {
        if len != rows {
            return Err(Python::attach(|py| {
                invalid_value(
                    py,
                    name,
                    &format!("columns differ in length: {first} has {rows} rows, {name} has {len}"),
                )
            }));
        }
    }
    Ok(rows)
}
