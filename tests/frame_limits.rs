//! No unbounded allocation: a frame header announcing 4 GiB makes the reader allocate
//! nothing near that size before refusing it. A counting global allocator records the
//! largest single allocation while the frame is read.
#![allow(
    unsafe_code,
    reason = "a counting global allocator must implement GlobalAlloc"
)]
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use securenn_dsl::Error;
use securenn_dsl::net::CallId;
use securenn_dsl::net::Tag;
use securenn_dsl::net::frame::{FrameHeader, FrameKind, FrameReader, decode_frame};
use securenn_dsl::party::Role;
use tokio::io::AsyncWriteExt;

/// The system allocator, recording the largest allocation requested.
struct Counting;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        // SAFETY: forwarded unchanged; the caller upholds `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn an_oversized_length_prefix_allocates_nothing_near_its_size() {
    let header = FrameHeader {
        kind: FrameKind::Data,
        len: u32::MAX,
        sequence: 0,
        tag: Tag {
            call: CallId::ROOT.child(1),
            step: 0,
            chunk: 0,
        },
        round: 1,
    }
    .encode();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (mut writer, mut reader) = tokio::io::duplex(1024);
    runtime.block_on(writer.write_all(&header)).unwrap();

    LARGEST.store(0, Ordering::Relaxed);
    let streamed =
        runtime.block_on(FrameReader::new(Role::P0, Role::P1, 1 << 20, None).read(&mut reader));
    let sliced = decode_frame(&header, Role::P1, 1 << 20);
    let largest = LARGEST.load(Ordering::Relaxed);

    assert!(
        matches!(streamed, Err(Error::FrameTooLarge { .. })),
        "{streamed:?}"
    );
    assert!(
        matches!(sliced, Err(Error::FrameTooLarge { .. })),
        "{sliced:?}"
    );
    assert!(
        largest < 64 * 1024,
        "largest allocation while refusing the frame: {largest} bytes"
    );
}
