//! A global allocator that keeps freed large blocks for the next request of the same size.
//!
//! A forward pass allocates the same few activation sizes (tens of MiB each) layer after layer
//! and batch after batch. The system allocator maps each one fresh and returns it on free, so
//! every layer pays page faults and the kernel's zeroing again: about a tenth of a ViT-B/16
//! batch's CPU time went to the kernel. Blocks of at least [`MIN_BLOCK`] are kept on free (up to
//! [`MAX_HELD`] bytes in all) and handed back to an allocation of exactly that size and alignment;
//! everything else goes straight to [`System`]. Large blocks also start on a 64-byte cache line
//! (the AMX tiles store to and load from them a row of 64 bytes at a time, several times slower
//! across two lines). The binary installs it; the library does not.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, Ordering};

/// Blocks smaller than this are not kept.
pub const MIN_BLOCK: usize = 1 << 20;
/// At most this many bytes are kept.
pub const MAX_HELD: usize = 768 << 20;
const SLOTS: usize = 64;

#[derive(Clone, Copy)]
struct Block {
    ptr: *mut u8,
    size: usize,
    align: usize,
    /// When it was kept: the oldest block makes room first.
    stamp: u64,
}

struct Pool {
    blocks: [Option<Block>; SLOTS],
    held: usize,
    clock: u64,
}

/// The allocator: [`System`] plus a small pool of freed large blocks.
pub struct Recycling {
    lock: AtomicBool,
    pool: UnsafeCell<Pool>,
}

// SAFETY: `pool` is only touched while `lock` is held (see `with_pool`).
unsafe impl Sync for Recycling {}

impl Recycling {
    /// An empty pool.
    pub const fn new() -> Self {
        Self {
            lock: AtomicBool::new(false),
            pool: UnsafeCell::new(Pool {
                blocks: [None; SLOTS],
                held: 0,
                clock: 0,
            }),
        }
    }

    /// Runs `f` on the pool under a spin lock (held for a scan of 64 slots at most; it must not
    /// allocate, as this is the allocator).
    fn with_pool<R>(&self, f: impl FnOnce(&mut Pool) -> R) -> R {
        while self
            .lock
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            std::hint::spin_loop();
        }
        // SAFETY: the lock is held, so this is the only reference to the pool.
        let r = f(unsafe { &mut *self.pool.get() });
        self.lock.store(false, Ordering::Release);
        r
    }

    /// A kept block of exactly this layout, taken out of the pool.
    fn take(&self, layout: Layout) -> Option<*mut u8> {
        self.with_pool(|pool| {
            let slot = pool.blocks.iter_mut().find(|b| {
                b.is_some_and(|b| b.size == layout.size() && b.align == layout.align())
            })?;
            let block = slot.take()?;
            pool.held -= block.size;
            Some(block.ptr)
        })
    }

    /// Keeps a freed block, first giving the oldest kept blocks back to [`System`] until it
    /// fits (blocks of sizes no longer asked for, such as a loader's, must not fill the pool).
    fn keep(&self, ptr: *mut u8, layout: Layout) {
        let size = layout.size();
        let mut evicted = [None::<Block>; SLOTS + 1];
        self.with_pool(|pool| {
            let mut n = 0;
            while pool.held + size > MAX_HELD || pool.blocks.iter().all(Option::is_some) {
                let oldest = pool
                    .blocks
                    .iter_mut()
                    .filter(|b| b.is_some())
                    .min_by_key(|b| b.map_or(u64::MAX, |b| b.stamp));
                let Some(block) = oldest.and_then(Option::take) else {
                    break;
                };
                pool.held -= block.size;
                evicted[n] = Some(block);
                n += 1;
            }
            pool.clock += 1;
            let block = Block {
                ptr,
                size,
                align: layout.align(),
                stamp: pool.clock,
            };
            match pool.blocks.iter_mut().find(|b| b.is_none()) {
                Some(slot) if pool.held + size <= MAX_HELD => {
                    *slot = Some(block);
                    pool.held += size;
                }
                _ => evicted[n] = Some(block),
            }
        });
        for b in evicted.into_iter().flatten() {
            // SAFETY: a block from System with this size and alignment, owned by nobody else.
            unsafe {
                System.dealloc(b.ptr, Layout::from_size_align_unchecked(b.size, b.align));
            }
        }
    }

    /// Bytes kept now.
    pub fn held(&self) -> usize {
        self.with_pool(|pool| pool.held)
    }
}

impl Default for Recycling {
    fn default() -> Self {
        Self::new()
    }
}

/// Bytes a large block is aligned to at least: a cache line.
pub const LINE: usize = 64;

/// The layout asked of [`System`] for `layout`: large blocks on a cache line. A function of the
/// layout alone, so that alloc, dealloc and realloc agree.
fn system_layout(layout: Layout) -> Layout {
    if layout.size() >= MIN_BLOCK && layout.align() < LINE {
        // A power of two; the size, at least MIN_BLOCK, cannot overflow when rounded to it.
        Layout::from_size_align(layout.size(), LINE).unwrap_or(layout)
    } else {
        layout
    }
}

// SAFETY: every block handed out comes from `System` with `system_layout` of the request, which
// is at least as aligned and as large (a kept block is reused only for an identical layout), and
// is owned by one caller at a time: it is either in the pool or handed out, never both.
unsafe impl GlobalAlloc for Recycling {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= MIN_BLOCK
            && let Some(p) = self.take(layout)
        {
            return p;
        }
        // SAFETY: forwarded with the caller's guarantees (a stricter alignment).
        unsafe { System.alloc(system_layout(layout)) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= MIN_BLOCK
            && let Some(p) = self.take(layout)
        {
            // SAFETY: p is a block of layout.size() bytes owned by the caller from now on.
            unsafe { p.write_bytes(0, layout.size()) };
            return p;
        }
        // SAFETY: forwarded with the caller's guarantees (a stricter alignment).
        unsafe { System.alloc_zeroed(system_layout(layout)) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if (MIN_BLOCK..=MAX_HELD).contains(&layout.size()) {
            return self.keep(ptr, layout);
        }
        // SAFETY: ptr came from System with system_layout(layout) (the impl's safety note).
        unsafe { System.dealloc(ptr, system_layout(layout)) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let (old, new) = (
            system_layout(layout),
            // SAFETY: the caller guarantees new_size, rounded up to layout.align(), fits isize.
            system_layout(unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) }),
        );
        if old.align() == new.align() {
            // SAFETY: ptr came from System with `old`; System keeps its alignment on resizing
            // (and its fast paths, such as mremap for large blocks).
            return unsafe { System.realloc(ptr, old, new_size) };
        }
        // Crossing MIN_BLOCK changes the alignment asked of System: move the block.
        // SAFETY: `new` is a valid non-zero layout; both blocks hold min(old, new) bytes.
        unsafe {
            let p = System.alloc(new);
            if !p.is_null() {
                std::ptr::copy_nonoverlapping(ptr, p, layout.size().min(new_size));
                System.dealloc(ptr, old);
            }
            p
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_blocks_are_reused_for_the_same_layout_only() {
        let a = Recycling::new();
        let big = Layout::from_size_align(MIN_BLOCK * 3, 64).unwrap();
        let other = Layout::from_size_align(MIN_BLOCK * 3, 4096).unwrap();
        let small = Layout::from_size_align(4096, 8).unwrap();
        // SAFETY: each pointer is freed once with the layout it was allocated with.
        unsafe {
            let p = a.alloc(big);
            p.write_bytes(7, big.size());
            a.dealloc(p, big);
            assert_eq!(a.held(), big.size());
            // Another alignment does not get it.
            let q = a.alloc(other);
            assert_ne!(q, p);
            assert_eq!(a.held(), big.size());
            // The same layout does, zeroed on request.
            let z = a.alloc_zeroed(big);
            assert_eq!(z, p);
            assert_eq!(a.held(), 0);
            assert!(
                std::slice::from_raw_parts(z, big.size())
                    .iter()
                    .all(|&b| b == 0)
            );
            // Small blocks are not kept.
            let s = a.alloc(small);
            a.dealloc(s, small);
            assert_eq!(a.held(), 0);
            a.dealloc(q, other);
            a.dealloc(z, big);
            assert_eq!(a.held(), big.size() + other.size());
        }
    }

    #[test]
    fn the_pool_stays_under_its_cap() {
        let a = Recycling::new();
        let layout = Layout::from_size_align(MAX_HELD / 3 + 1, 8).unwrap();
        // SAFETY: each pointer is freed once with its layout.
        unsafe {
            let ps: Vec<*mut u8> = (0..4).map(|_| a.alloc(layout)).collect();
            assert!(ps.iter().all(|p| !p.is_null()));
            for p in ps {
                a.dealloc(p, layout);
            }
        }
        assert_eq!(a.held(), 2 * layout.size());
    }

    #[test]
    fn the_oldest_blocks_make_room() {
        let a = Recycling::new();
        let layout = |i: usize| Layout::from_size_align(MIN_BLOCK + 64 * i, 8).unwrap();
        // SAFETY: each pointer is freed once with its layout.
        unsafe {
            // More distinct sizes than slots, each freed once: the pool keeps the newest.
            let ps: Vec<*mut u8> = (0..SLOTS + 5).map(|i| a.alloc(layout(i))).collect();
            for (i, &p) in ps.iter().enumerate() {
                a.dealloc(p, layout(i));
            }
            assert_eq!(
                a.held(),
                (5..SLOTS + 5).map(|i| layout(i).size()).sum::<usize>()
            );
            assert_eq!(a.alloc(layout(SLOTS + 4)), ps[SLOTS + 4]);
        }
    }

    #[test]
    fn large_blocks_start_on_a_cache_line_and_survive_realloc_across_the_threshold() {
        let a = Recycling::new();
        let small = Layout::from_size_align(1000, 4).unwrap();
        // SAFETY: each block is freed once with the layout it has at that moment.
        unsafe {
            let p = a.alloc(small);
            p.write_bytes(9, small.size());
            // Growing past MIN_BLOCK moves it to a cache line and keeps the bytes.
            let q = a.realloc(p, small, MIN_BLOCK * 2);
            assert_eq!(q as usize % LINE, 0);
            assert!(std::slice::from_raw_parts(q, 1000).iter().all(|&b| b == 9));
            let big = Layout::from_size_align(MIN_BLOCK * 2, 4).unwrap();
            let r = a.realloc(q, big, MIN_BLOCK * 3);
            assert_eq!(r as usize % LINE, 0);
            // Shrinking below it moves it back to System's plain alignment.
            let big = Layout::from_size_align(MIN_BLOCK * 3, 4).unwrap();
            let s = a.realloc(r, big, 500);
            assert!(std::slice::from_raw_parts(s, 500).iter().all(|&b| b == 9));
            a.dealloc(s, Layout::from_size_align(500, 4).unwrap());
            for _ in 0..3 {
                let f = a.alloc_zeroed(big);
                assert_eq!(f as usize % LINE, 0);
                assert!(
                    std::slice::from_raw_parts(f, big.size())
                        .iter()
                        .all(|&b| b == 0)
                );
                f.write_bytes(1, big.size());
                a.dealloc(f, big);
            }
        }
    }

    #[test]
    fn threads_share_it_safely() {
        static A: Recycling = Recycling::new();
        let layout = Layout::from_size_align(MIN_BLOCK, 16).unwrap();
        let workers: Vec<_> = (0..4u8)
            .map(|t| {
                std::thread::spawn(move || {
                    for _ in 0..200 {
                        // SAFETY: allocated, written, checked and freed with one layout.
                        unsafe {
                            let p = A.alloc(layout);
                            p.write_bytes(t, layout.size());
                            let s = std::slice::from_raw_parts(p, layout.size());
                            assert!(s.iter().all(|&b| b == t));
                            A.dealloc(p, layout);
                        }
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        assert!(A.held() <= 4 * MIN_BLOCK);
    }
}
