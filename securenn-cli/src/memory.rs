//! This process's memory: its resident set, from `/proc/self/status` (Linux; `None`
//! elsewhere), recorded along a training run so that a long run shows whether memory
//! grows; and, once [`count_live_bytes`] is called, the bytes allocated and not yet freed,
//! which a soak compares over time: unlike the resident set, it does not depend on what
//! the allocator keeps for reuse.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

/// A field of `/proc/self/status` in kB, e.g. `VmRSS`.
fn status_kb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()
}

/// The resident set size now, in MB.
pub(crate) fn resident_mb() -> Option<f64> {
    status_kb("VmRSS").map(|kb| kb as f64 / 1024.0)
}

/// The peak resident set size so far, in MB.
pub(crate) fn peak_resident_mb() -> Option<f64> {
    status_kb("VmHWM").map(|kb| kb as f64 / 1024.0)
}

/// Whether allocations are counted (off until [`count_live_bytes`]: a relaxed load is all
/// an allocation pays meanwhile).
static COUNTING: AtomicBool = AtomicBool::new(false);
/// Bytes allocated less bytes freed since counting started.
static LIVE_BYTES: AtomicI64 = AtomicI64::new(0);

/// Starts counting the bytes allocated and freed from now on.
pub(crate) fn count_live_bytes() {
    COUNTING.store(true, Ordering::Relaxed);
}

/// Whether [`count_live_bytes`] was called.
pub(crate) fn counting_live_bytes() -> bool {
    COUNTING.load(Ordering::Relaxed)
}

/// The bytes allocated and not freed since [`count_live_bytes`], in MB (those freed
/// meanwhile that were allocated before count against it).
pub(crate) fn live_mb() -> f64 {
    LIVE_BYTES.load(Ordering::Relaxed) as f64 / (1024.0 * 1024.0)
}

/// Adds `bytes` (allocated, or freed if negative) to the count, if counting.
fn count(bytes: isize) {
    if COUNTING.load(Ordering::Relaxed) {
        LIVE_BYTES.fetch_add(bytes as i64, Ordering::Relaxed);
    }
}

/// The size of `layout` as a signed count (a layout's size never exceeds `isize::MAX`).
fn signed(layout: Layout) -> isize {
    isize::try_from(layout.size()).unwrap_or(isize::MAX)
}

/// mimalloc, counting live bytes once asked to.
pub(crate) struct CountingMimalloc;

// SAFETY: every method forwards to mimalloc's with the same arguments and returns its
// result unchanged; the counting only reads the layouts.
#[allow(
    unsafe_code,
    reason = "a global allocator is an unsafe trait; this one forwards to mimalloc"
)]
unsafe impl GlobalAlloc for CountingMimalloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's guarantees for `layout` are mimalloc's.
        let block = unsafe { mimalloc::MiMalloc.alloc(layout) };
        if !block.is_null() {
            count(signed(layout));
        }
        block
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let block = unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) };
        if !block.is_null() {
            count(signed(layout));
        }
        block
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        // SAFETY: `block` was allocated by this allocator, that is by mimalloc, with
        // `layout`.
        unsafe { mimalloc::MiMalloc.dealloc(block, layout) };
        count(-signed(layout));
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`, and the caller's guarantees for `new_size`.
        let moved = unsafe { mimalloc::MiMalloc.realloc(block, layout, new_size) };
        if !moved.is_null() {
            count(isize::try_from(new_size).unwrap_or(isize::MAX) - signed(layout));
        }
        moved
    }
}
