//! A global allocator that counts live bytes, so a runaway script can be stopped before it
//! takes the machine's memory. Its public name is [`crate::CountingAllocator`] (this module
//! is public only with the `internals` feature).
//!
//! Rhai's limits count entries (a map's keys, an array's items, a string's length), not
//! bytes: 100,000 strings of 4 MiB each pass them all. The engine's progress callback reads
//! this counter instead (`MAX_MEMORY_BYTES` in src/script/engine.rs).
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

static LIVE: AtomicUsize = AtomicUsize::new(0);

/// The system allocator, counting live heap bytes, so that a run can stop a script at its
/// memory limit. The `mtls` binary installs it; an embedder that wants the same bound
/// installs it too:
///
/// ```no_run
/// #[global_allocator]
/// static ALLOC: mtls::CountingAllocator = mtls::CountingAllocator;
/// ```
/// Without it, no count is kept and only Rhai's own limits apply.
pub struct Counting;

// SAFETY: every call is forwarded to `System` unchanged; only a counter is updated.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            LIVE.fetch_add(new_size, Ordering::Relaxed);
        }
        p
    }
}

/// Bytes allocated and not yet freed in this process (0 unless [`Counting`] is installed).
pub fn live_bytes() -> usize {
    LIVE.load(Ordering::Relaxed)
}
