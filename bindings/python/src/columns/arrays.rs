//! Array columns through the buffer protocol: numpy, `array.array`, `memoryview`, and pandas
//! or Arrow columns through their `__array__`. A C-contiguous buffer of the expected items is
//! read in place, held for as long as the batch reads it; a strided one is copied once.

use std::ops::Deref;

use pyo3::buffer::PyUntypedBuffer;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyMemoryView, PyString, PyTuple};

use crate::errors::invalid_type;

/// A column's bytes in the packed layout: borrowed from a `bytes` argument or an array's
/// buffer, or owned (a strided array copied, a sequence converted).
pub(crate) enum Packed<'a> {
    Borrowed(&'a [u8]),
    /// A C-contiguous buffer of the layout's items, held (so neither freed nor resized by its
    /// exporter) for as long as the column is read.
    Buffer(PyUntypedBuffer),
    Owned(Vec<u8>),
}

impl Deref for Packed<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Packed::Borrowed(bytes) => bytes,
            Packed::Buffer(buffer) => held_bytes(buffer),
            Packed::Owned(bytes) => bytes,
        }
    }
}

/// The memory of a held C-contiguous buffer, read in place.
#[allow(unsafe_code)]
fn held_bytes(buffer: &PyUntypedBuffer) -> &[u8] {
    match buffer.len_bytes() {
        // An empty buffer may have any pointer, even null.
        0 => &[],
        // SAFETY: `array_column` keeps only C-contiguous buffers, whose `len_bytes` bytes
        // start at `buf_ptr`. While `buffer` is held the exporter keeps that memory alive and
        // refuses to resize it (numpy, `array.array`, `bytearray` all do), so the slice is
        // valid for the borrow of `buffer`. Another Python thread writing into the array while
        // a batch reads it is the same race as with any extension that releases the GIL
        // (numpy's own ufuncs), and only changes which numbers are read.
        len => unsafe { std::slice::from_raw_parts(buffer.buf_ptr().cast::<u8>(), len) },
    }
}

/// What an array column must hold.
#[derive(Clone, Copy)]
pub(crate) enum Layout {
    /// Signed 64-bit integers in native order (little-endian on every platform wheels are
    /// built for). Nothing narrower or unsigned is widened: `astype` says what is meant.
    Int64,
    /// One byte per row: the packed categorical codes.
    Codes,
}

impl Layout {
    /// Whether a buffer's struct-module `format` and item size hold this layout's items in
    /// native order. `<` counts as native only on a little-endian machine; `>` and `!` never.
    fn fits(self, format: &[u8], itemsize: usize) -> bool {
        let native = cfg!(target_endian = "little");
        let code = match format {
            [code] | [b'@' | b'=', code] => code,
            [b'<', code] if native => code,
            _ => return false,
        };
        match self {
            Layout::Int64 => itemsize == 8 && matches!(code, b'q' | b'l'),
            Layout::Codes => itemsize == 1 && matches!(code, b'B' | b'b' | b'c'),
        }
    }

    fn wanted(self) -> &'static str {
        match self {
            Layout::Int64 => "a one-dimensional int64 array (numpy: .astype(\"int64\"))",
            Layout::Codes => "a one-dimensional uint8 array of codes (numpy: .astype(\"uint8\"))",
        }
    }
}

/// An array column (anything with the buffer protocol, or `__array__` as pandas and Arrow
/// columns have) in the packed layout: a C-contiguous buffer of the layout's items is read
/// where it is (no copy), a strided one is copied once. None for a Python sequence or `bytes`,
/// which are read as they are. An array of another type or shape is refused with what to
/// pass.
pub(crate) fn array_column<'a>(
    name: &str,
    column: &Bound<'_, PyAny>,
    layout: Layout,
) -> PyResult<Option<Packed<'a>>> {
    if column.cast::<PyBytes>().is_ok()
        || column.cast::<PyList>().is_ok()
        || column.cast::<PyTuple>().is_ok()
        || column.cast::<PyString>().is_ok()
    {
        return Ok(None);
    }
    let py = column.py();
    let buffer = match PyUntypedBuffer::get(column) {
        Ok(buffer) => buffer,
        Err(_) if column.hasattr(intern!(py, "__array__"))? => {
            let array = column.call_method0(intern!(py, "__array__"))?;
            PyUntypedBuffer::get(&array).map_err(|e| {
                invalid_type(
                    py,
                    name,
                    &format!(
                        "its array has no buffer of plain values ({e}); pass {}",
                        layout.wanted()
                    ),
                )
            })?
        }
        Err(_) => return Ok(None),
    };
    let format = buffer.format().to_bytes();
    if !layout.fits(format, buffer.item_size()) || buffer.dimensions() != 1 {
        return Err(invalid_type(
            py,
            name,
            &format!(
                "expected {}, got a {}-dimensional array of format '{}' ({} bytes per item)",
                layout.wanted(),
                buffer.dimensions(),
                String::from_utf8_lossy(format),
                buffer.item_size()
            ),
        ));
    }
    if buffer.is_c_contiguous() {
        return Ok(Some(Packed::Buffer(buffer)));
    }
    // A strided view (a slice with a step, a column of a 2-D array): copied into the layout
    // by `memoryview.tobytes`, which follows the strides.
    let exporter = buffer
        .obj(py)
        .ok_or_else(|| invalid_type(py, name, &format!("expected {}", layout.wanted())))?;
    let bytes = PyMemoryView::from(exporter)?
        .call_method0(intern!(py, "tobytes"))?
        .cast_into::<PyBytes>()?;
    Ok(Some(Packed::Owned(bytes.as_bytes().to_vec())))
}
