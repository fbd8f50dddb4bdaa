//! rt's memory allocator: a bump arena. One rt call allocates a few hundred KB in all (the
//! command line, the spec, the plan) and frees nearly all of it only at exit, so blocks are cut
//! from a 4 MiB zero-initialised static (.bss: a page costs nothing until touched) and never
//! reused, except that freeing or growing the most recent block works in place. When the
//! arena is used up, the system allocator takes over, so a long-lived call (`events`) keeps
//! working with ordinary reuse.
//!
//! Why not the C library's malloc: musl's makes ~57 mmap/munmap calls per `run`, and glibc's
//! touches more pages, which after the clone are the container's (charged to its cgroup).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicUsize, Ordering};

const SIZE: usize = 4 << 20;

#[repr(C, align(4096))]
struct Arena(UnsafeCell<[u8; SIZE]>);

// SAFETY: the bytes are only handed out through the atomic bump offset below, each range to
// one caller.
unsafe impl Sync for Arena {}

static ARENA: Arena = Arena(UnsafeCell::new([0; SIZE]));
/// Offset of the first free byte.
static NEXT: AtomicUsize = AtomicUsize::new(0);

pub struct Bump;

fn base() -> usize {
    ARENA.0.get() as usize
}

fn in_arena(p: *mut u8) -> bool {
    (p as usize).wrapping_sub(base()) < SIZE
}

// SAFETY: blocks never overlap (each is [start, start+size) claimed with a compare-exchange on
// NEXT), are aligned as asked, and blocks not from the arena go back to System.
unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let mut cur = NEXT.load(Ordering::Relaxed);
        loop {
            let start = (base() + cur + l.align() - 1) & !(l.align() - 1);
            let end = start - base() + l.size();
            if end > SIZE {
                // SAFETY: forwarding the caller's layout.
                return unsafe { System.alloc(l) };
            }
            match NEXT.compare_exchange_weak(cur, end, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return start as *mut u8,
                Err(c) => cur = c,
            }
        }
    }

    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        if !in_arena(p) {
            // SAFETY: p came from System.alloc with this layout.
            return unsafe { System.dealloc(p, l) };
        }
        // only the latest block can be given back
        let off = p as usize - base();
        let _ = NEXT.compare_exchange(off + l.size(), off, Ordering::Relaxed, Ordering::Relaxed);
    }

    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        if in_arena(p) {
            let off = p as usize - base();
            // the latest block grows (or shrinks) in place
            if off + new <= SIZE && NEXT.compare_exchange(off + l.size(), off + new, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
                return p;
            }
            if new <= l.size() {
                return p;
            }
        }
        // SAFETY: the new layout has the old alignment and a non-zero size (realloc's contract).
        let n = unsafe { self.alloc(Layout::from_size_align_unchecked(new, l.align())) };
        if !n.is_null() {
            // SAFETY: both blocks are valid for the copied length and do not overlap.
            unsafe {
                std::ptr::copy_nonoverlapping(p, n, l.size().min(new));
                self.dealloc(p, l);
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_aligned_distinct_and_reusable_at_the_top() {
        let a = Bump;
        // SAFETY: valid layouts; every block is freed with its own layout.
        unsafe {
            let l8 = Layout::from_size_align(24, 8).unwrap();
            let l64 = Layout::from_size_align(100, 64).unwrap();
            let p = a.alloc(l8);
            let q = a.alloc(l64);
            assert_eq!(q as usize % 64, 0);
            assert!(q as usize >= p as usize + 24);
            // the latest block grows in place
            let q2 = a.realloc(q, l64, 4000);
            assert_eq!(q2, q);
            a.dealloc(q2, Layout::from_size_align(4000, 64).unwrap());
            // and its room is given back
            let r = a.alloc(l64);
            assert_eq!(r, q);
            // a block that is too big for what is left comes from the system
            let big = Layout::from_size_align(SIZE + 1, 8).unwrap();
            let b = a.alloc(big);
            assert!(!b.is_null() && !in_arena(b));
            a.dealloc(b, big);
            a.dealloc(r, l64);
            a.dealloc(p, l8);
        }
    }
}
