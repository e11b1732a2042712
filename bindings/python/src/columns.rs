//! Batch columns: a column is a Python sequence (one element per row), a `bytes` object in a
//! packed layout (int columns: little-endian int64, 8 bytes per row; categorical columns: one
//! byte per row holding the value's index in the module's `*_VALUES` tuple), or an array in
//! that layout (numpy, `array.array`, `memoryview`; pandas and Arrow columns through their
//! `__array__`), read through the buffer protocol with no Python object per row.
//!
//! Columns are read (packed bytes borrowed, arrays copied once, sequences converted into the
//! packed layout) while the GIL is held; the rules then run without it.

use std::ops::{Deref, Range};

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBytes, PyList, PyMemoryView, PyString, PyTuple};

use crate::errors::invalid;
use crate::time::type_name;

mod instants;

pub(crate) use instants::instant_column;

/// How many distinct string objects a categorical column remembers.
const SEEN_OBJECTS: usize = 16;

/// A column's bytes in the packed layout: borrowed from a `bytes` argument, a copy of an
/// array's buffer (held as a Python `bytes`), or converted from a sequence.
pub(crate) enum Packed<'a> {
    Borrowed(&'a [u8]),
    Array(PyBackedBytes),
    Owned(Vec<u8>),
}

impl Deref for Packed<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Packed::Borrowed(bytes) => bytes,
            Packed::Array(bytes) => bytes,
            Packed::Owned(bytes) => bytes,
        }
    }
}

/// An int column read for a batch, always in the packed layout (little-endian int64, 8 bytes
/// per row): packed `bytes` are borrowed as they are (nothing is copied), sequences are
/// arrays copied once, sequences converted element by element into an owned packed buffer.
/// One layout means the loops over rows are straight slice walks, with no per-row dispatch.
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
/// `bytes` are borrowed (and checked when read); sequences are converted into owned codes.
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
        return Ok(IntColumn(Packed::Borrowed(bytes)));
    }
    if let Some(array) = array_bytes(name, column, Layout::Int64)? {
        return Ok(IntColumn(Packed::Array(array)));
    }
    ints(name, column).map(|values| IntColumn::from_values(&values))
}

/// Reads a categorical column (see `categories`), borrowing packed bytes.
pub(crate) fn category_column<'a, 'py, T: Copy + PartialEq>(
    name: &str,
    column: &'a Bound<'py, PyAny>,
    values: &[&str],
    parse: impl Fn(Option<&str>) -> PyResult<T>,
) -> PyResult<CategoryColumn<'a, T>> {
    let mut table = values
        .iter()
        .map(|v| parse(Some(v)))
        .collect::<PyResult<Vec<T>>>()?;
    let packed = match (
        array_bytes(name, column, Layout::Codes)?,
        column.cast::<PyBytes>(),
    ) {
        (Some(array), _) => Some(Packed::Array(array)),
        (None, Ok(bytes)) => Some(Packed::Borrowed(bytes.as_bytes())),
        (None, Err(_)) => None,
    };
    if let Some(codes) = packed {
        // The largest code first (a loop the compiler vectorises), the offending one only if
        // there is one.
        let largest = codes.iter().fold(0, |largest, &c| largest.max(c));
        if usize::from(largest) >= values.len() {
            let bad = codes.iter().find(|&&c| usize::from(c) >= values.len());
            return Err(invalid(format!(
                "{name}: packed code {} is not an index into {values:?}",
                bad.copied().unwrap_or(largest)
            )));
        }
        return Ok(CategoryColumn { codes, table });
    }
    let parsed = categories(name, column, values, parse)?;
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
            u8::try_from(code).map_err(|_| invalid(format!("{name}: too many distinct values")))
        })
        .collect::<PyResult<Vec<u8>>>()?;
    Ok(CategoryColumn {
        codes: Packed::Owned(codes),
        table,
    })
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

/// What an array column must hold.
#[derive(Clone, Copy)]
pub(crate) enum Layout {
    /// Signed 64-bit integers in native order (little-endian on every platform wheels are
    /// built for). Nothing narrower or unsigned is widened: `astype` says what is meant.
    Int64,
    /// One unsigned byte per row: the packed categorical codes.
    Codes,
}

/// An array column (anything with the buffer protocol, or `__array__` as pandas and Arrow
/// columns have) as a copy of its bytes in the packed layout; None for a Python sequence or
/// `bytes`, which are read as they are. An array of another type, shape or order is refused
/// with what to pass instead.
pub(crate) fn array_bytes(
    name: &str,
    column: &Bound<'_, PyAny>,
    layout: Layout,
) -> PyResult<Option<PyBackedBytes>> {
    if column.cast::<PyBytes>().is_ok()
        || column.cast::<PyList>().is_ok()
        || column.cast::<PyTuple>().is_ok()
        || column.cast::<PyString>().is_ok()
    {
        return Ok(None);
    }
    let py = column.py();
    let view = match PyMemoryView::from(column) {
        Ok(view) => view,
        Err(_) if column.hasattr(intern!(py, "__array__"))? => {
            let array = column.call_method0(intern!(py, "__array__"))?;
            PyMemoryView::from(&array).map_err(|e| {
                invalid(format!(
                    "{name}: its array has no buffer of plain values ({e}); pass an int64 array"
                ))
            })?
        }
        Err(_) => return Ok(None),
    };
    let format: String = view.getattr(intern!(py, "format"))?.extract()?;
    let itemsize: usize = view.getattr(intern!(py, "itemsize"))?.extract()?;
    let ndim: usize = view.getattr(intern!(py, "ndim"))?.extract()?;
    let contiguous: bool = view.getattr(intern!(py, "c_contiguous"))?.extract()?;
    let native = cfg!(target_endian = "little");
    let fits = match layout {
        Layout::Int64 => {
            native
                && itemsize == 8
                && matches!(format.as_str(), "q" | "l" | "=q" | "=l" | "<q" | "<l")
        }
        Layout::Codes => itemsize == 1 && matches!(format.as_str(), "B" | "b" | "c"),
    };
    if !fits || ndim != 1 || !contiguous {
        let wanted = match layout {
            Layout::Int64 => "a one-dimensional contiguous int64 array (numpy: .astype(\"int64\"))",
            Layout::Codes => "a one-dimensional contiguous uint8 array of codes",
        };
        return Err(invalid(format!(
            "{name}: expected {wanted}, got a {ndim}-dimensional array of format {format:?} ({itemsize} bytes per item)"
        )));
    }
    let bytes = view
        .call_method0(intern!(py, "tobytes"))?
        .cast_into::<PyBytes>()
        .map_err(|_| invalid(format!("{name}: its buffer did not copy into bytes")))?;
    Ok(Some(PyBackedBytes::from(bytes)))
}
