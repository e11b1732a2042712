//! Batch columns: a column is a Python sequence (one element per row) or, fastest, a `bytes`
//! object in a packed layout (int columns: little-endian int64, 8 bytes per row; categorical
//! columns: one byte per row holding the value's index in the module's `*_VALUES` tuple).
//!
//! Columns are read into Rust vectors while the GIL is held; the rules then run without it.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

use crate::errors::invalid;
use crate::time::type_name;

/// How many distinct string objects a categorical column remembers.
const SEEN_OBJECTS: usize = 16;

/// An int column read for a batch: packed bytes are borrowed as they are (nothing is copied
/// per row), sequences are converted element by element.
pub(crate) enum IntColumn<'a> {
    /// Packed little-endian int64.
    Packed(&'a [u8]),
    /// Converted elements.
    Values(Vec<i64>),
}

impl IntColumn<'_> {
    pub(crate) fn len(&self) -> usize {
        match self {
            Self::Packed(bytes) => bytes.len() / 8,
            Self::Values(values) => values.len(),
        }
    }

    /// The value at `row`, which must be below `len()`.
    pub(crate) fn get(&self, row: usize) -> i64 {
        match self {
            Self::Packed(bytes) => {
                i64::from_le_bytes(bytes[row * 8..row * 8 + 8].try_into().expect("8 bytes"))
            }
            Self::Values(values) => values[row],
        }
    }
}

/// A categorical column read for a batch.
pub(crate) enum CategoryColumn<'a, T> {
    /// Packed one-byte codes (checked when read), decoded through `table`.
    Codes { codes: &'a [u8], table: Vec<T> },
    /// Converted elements.
    Values(Vec<T>),
    /// The same value for every row.
    Repeat(T, usize),
}

impl<T: Copy> CategoryColumn<'_, T> {
    pub(crate) fn len(&self) -> usize {
        match self {
            Self::Codes { codes, .. } => codes.len(),
            Self::Values(values) => values.len(),
            Self::Repeat(_, rows) => *rows,
        }
    }

    /// The value at `row`, which must be below `len()`.
    pub(crate) fn get(&self, row: usize) -> T {
        match self {
            Self::Codes { codes, table } => table[usize::from(codes[row])],
            Self::Values(values) => values[row],
            Self::Repeat(value, _) => *value,
        }
    }
}

/// Reads an int column, borrowing packed bytes.
pub(crate) fn int_column<'a>(name: &str, column: &'a Bound<'_, PyAny>) -> PyResult<IntColumn<'a>> {
    if let Ok(packed) = column.cast::<PyBytes>() {
        let bytes = packed.as_bytes();
        if bytes.len() % 8 != 0 {
            return Err(invalid(format!(
                "{name}: packed int64 column has {} bytes, not a multiple of 8",
                bytes.len()
            )));
        }
        return Ok(IntColumn::Packed(bytes));
    }
    ints(name, column).map(IntColumn::Values)
}

/// Reads a categorical column (see `categories`), borrowing packed bytes.
pub(crate) fn category_column<'a, 'py, T: Copy>(
    name: &str,
    column: &'a Bound<'py, PyAny>,
    values: &[&str],
    parse: impl Fn(Option<&str>) -> PyResult<T>,
) -> PyResult<CategoryColumn<'a, T>> {
    if let Ok(packed) = column.cast::<PyBytes>() {
        let codes = packed.as_bytes();
        if let Some(bad) = codes.iter().find(|&&c| usize::from(c) >= values.len()) {
            return Err(invalid(format!(
                "{name}: packed code {bad} is not an index into {values:?}"
            )));
        }
        let table = values
            .iter()
            .map(|v| parse(Some(v)))
            .collect::<PyResult<Vec<T>>>()?;
        return Ok(CategoryColumn::Codes { codes, table });
    }
    categories(name, column, values, parse).map(CategoryColumn::Values)
}

/// Reads an int column.
pub(crate) fn ints(name: &str, column: &Bound<'_, PyAny>) -> PyResult<Vec<i64>> {
    if let Ok(packed) = column.cast::<PyBytes>() {
        let bytes = packed.as_bytes();
        if bytes.len() % 8 != 0 {
            return Err(invalid(format!(
                "{name}: packed int64 column has {} bytes, not a multiple of 8",
                bytes.len()
            )));
        }
        return Ok(bytes
            .chunks_exact(8)
            .map(|b| i64::from_le_bytes(b.try_into().expect("chunks of 8")))
            .collect());
    }
    each(name, column, |item| {
        item.extract::<i64>()
            .map_err(|_| invalid(format!("{name}: expected an int, got {}", type_name(item))))
    })
}

/// Reads a column whose elements each convert with `convert`.
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
    if column.cast::<PyString>().is_ok() {
        return Err(invalid(format!("{name}: expected a column, got a str")));
    }
    column
        .try_iter()
        .map_err(|_| {
            invalid(format!(
                "{name}: expected a list, tuple, iterable or bytes column, got {}",
                type_name(column)
            ))
        })?
        .map(|item| convert(&item?))
        .collect()
}

/// Reads a categorical column: strings (or `None`) parsed by `parse`, or packed one-byte
/// indexes into `values`. The Python strings of a column are usually a handful of shared
/// objects, so the first few seen are remembered by identity and not parsed again.
pub(crate) fn categories<'py, T: Copy>(
    name: &str,
    column: &Bound<'py, PyAny>,
    values: &[&str],
    parse: impl Fn(Option<&str>) -> PyResult<T>,
) -> PyResult<Vec<T>> {
    if let Ok(packed) = column.cast::<PyBytes>() {
        let table = values
            .iter()
            .map(|v| parse(Some(v)))
            .collect::<PyResult<Vec<T>>>()?;
        return packed
            .as_bytes()
            .iter()
            .map(|&code| {
                table.get(usize::from(code)).copied().ok_or_else(|| {
                    invalid(format!(
                        "{name}: packed code {code} is not an index into {values:?}"
                    ))
                })
            })
            .collect();
    }
    let mut seen: Vec<(Bound<'py, PyAny>, T)> = Vec::new();
    each(name, column, |item| {
        if let Some((_, value)) = seen.iter().find(|(obj, _)| obj.is(item)) {
            return Ok(*value);
        }
        let value = if item.is_none() {
            parse(None)?
        } else {
            let text = item.cast::<PyString>().map_err(|_| {
                invalid(format!(
                    "{name}: expected a str or None, got {}",
                    type_name(item)
                ))
            })?;
            parse(Some(&text.to_cow()?))?
        };
        if seen.len() < SEEN_OBJECTS {
            seen.push((item.clone(), value));
        }
        Ok(value)
    })
}

/// Checks that every column of a batch has as many rows as the first.
pub(crate) fn same_length(columns: &[(&str, usize)]) -> PyResult<usize> {
    let Some(&(first, rows)) = columns.first() else {
        return Ok(0);
    };
    for &(name, len) in &columns[1..] {
        if len != rows {
            return Err(invalid(format!(
                "columns differ in length: {first} has {rows} rows, {name} has {len}"
            )));
        }
    }
    Ok(rows)
}
