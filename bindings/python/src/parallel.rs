//! Splits a batch over the machine's cores once the GIL is released.

use std::num::NonZeroUsize;
use std::ops::Range;
use std::thread;

/// Below this many items a batch runs on the calling thread: spawning costs more than it saves.
const MIN_ITEMS_PER_THREAD: usize = 32_768;

/// How a batch of `items` is split: consecutive ranges covering `0..items`, one per thread
/// (a single range, run on the calling thread, for a small batch).
pub(crate) fn plan(items: usize) -> Vec<Range<usize>> {
    let cores = thread::available_parallelism().map_or(1, NonZeroUsize::get);
    let threads = cores.min(items / MIN_ITEMS_PER_THREAD).max(1);
    let chunk = items.div_ceil(threads).max(1);
    (0..threads)
        .map(|t| (t * chunk).min(items)..((t + 1) * chunk).min(items))
        .collect()
}

/// Fills `out` (one slot per item) part by part: `f(part, items, slots)` gets the part's index
/// in `plan(out.len())`, its item range and the matching slots, on one thread per part. The
/// answers are written in place, so nothing is copied afterwards. The first error, in the order
/// of the items, wins.
pub(crate) fn fill<R: Send, E: Send>(
    out: &mut [R],
    f: impl Fn(usize, Range<usize>, &mut [R]) -> Result<(), E> + Sync,
) -> Result<(), E> {
    let plan = plan(out.len());
    if let [whole] = &plan[..] {
        return f(0, whole.clone(), out);
    }
    let mut parts = Vec::with_capacity(plan.len());
    let mut rest = out;
    for items in &plan {
        let (slots, tail) = rest.split_at_mut(items.len());
        parts.push((items.clone(), slots));
        rest = tail;
    }
    thread::scope(|scope| {
        let f = &f;
        let handles: Vec<_> = parts
            .into_iter()
            .enumerate()
            .map(|(part, (items, slots))| scope.spawn(move || f(part, items, slots)))
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("batch worker panicked"))
            .collect::<Vec<_>>()
    })
    .into_iter()
    .collect()
}
