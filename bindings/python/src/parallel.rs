//! Splits a batch over the machine's cores once the GIL is released.

use std::num::NonZeroUsize;
use std::ops::Range;
use std::thread;

/// Below this many items a batch runs on the calling thread: spawning costs more than it saves.
const MIN_ITEMS_PER_THREAD: usize = 32_768;

/// Maps `f` over `items` in order, on up to one thread per core.
pub(crate) fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&[T]) -> Vec<R> + Sync) -> Vec<R> {
    map_rows(items.len(), |rows| f(&items[rows]))
}

/// Maps `f` over the rows `0..rows`, split into consecutive ranges, in order, on up to one
/// thread per core.
pub(crate) fn map_rows<R: Send>(rows: usize, f: impl Fn(Range<usize>) -> Vec<R> + Sync) -> Vec<R> {
    let cores = thread::available_parallelism().map_or(1, NonZeroUsize::get);
    let threads = cores.min(rows / MIN_ITEMS_PER_THREAD).max(1);
    if threads == 1 {
        return f(0..rows);
    }
    let chunk = rows.div_ceil(threads);
    thread::scope(|scope| {
        let handles: Vec<_> = (0..rows)
            .step_by(chunk)
            .map(|start| {
                let f = &f;
                scope.spawn(move || f(start..rows.min(start + chunk)))
            })
            .collect();
        let mut out = Vec::with_capacity(rows);
        for handle in handles {
            out.extend(handle.join().expect("batch worker panicked"));
        }
        out
    })
}
