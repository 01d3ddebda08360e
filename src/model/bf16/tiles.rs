//! The AMX instructions, as inline assembly: the tile-data permission, the tile configuration
//! and one 32 × 32 output block (Intel® 64 and IA-32 Architectures Software Developer's Manual,
//! vol. 2, `LDTILECFG`, `TILELOADD`, `TDPBF16PS`, `TILESTORED`; Linux's
//! Documentation/arch/x86/xstate.rst for `ARCH_REQ_XCOMP_PERM`).

use super::block32::{Block32, Operands};
use std::arch::asm;

/// Asks Linux for the AMX tile-data state (needed once per process before the first tile
/// instruction; threads share the grant). Elsewhere the state cannot be asked for: no AMX.
#[cfg(not(target_os = "linux"))]
pub fn request_permission() -> Result<(), &'static str> {
    Err("AMX's tile state is granted through Linux's arch_prctl only")
}

/// Asks Linux for the AMX tile-data state (needed once per process before the first tile
/// instruction; threads share the grant).
#[cfg(target_os = "linux")]
pub fn request_permission() -> Result<(), &'static str> {
    const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
    const XFEATURE_XTILEDATA: libc::c_long = 18;
    // SAFETY: arch_prctl with this request only changes which xstate components the process
    // may use; it reads no memory of ours.
    let r = unsafe {
        libc::syscall(
            libc::SYS_arch_prctl,
            ARCH_REQ_XCOMP_PERM,
            XFEATURE_XTILEDATA,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err("the kernel does not grant the AMX tile state")
    }
}

/// The tile palette: eight tiles of 16 rows × 64 bytes (C: tmm0-3, A: tmm4-5, B: tmm6-7).
#[repr(C, align(64))]
struct Config([u8; 64]);

const CONFIG: Config = {
    let mut c = [0u8; 64];
    c[0] = 1; // palette 1
    let mut t = 0;
    while t < 8 {
        c[16 + 2 * t] = 64; // bytes per row (u16, little-endian)
        c[48 + t] = 16; // rows
        t += 1;
    }
    Config(c)
};

/// Loads the tile configuration on this thread. Call before [`block`] on every thread that
/// runs it. The tiles are left configured (no `TILERELEASE`): releasing after each task
/// measured slower, and the kernel saves the 8 KiB tile state on a switch either way.
///
/// # Safety
/// Only after [`request_permission`] succeeded on a CPU with AMX-TILE.
pub unsafe fn configure() {
    // SAFETY: CONFIG is a valid 64-byte palette-1 configuration; the caller checked AMX.
    unsafe { asm!("ldtilecfg [{}]", in(reg) CONFIG.0.as_ptr(), options(nostack, readonly)) };
}

/// A block's four 16 × 16 tiles' first elements and the row pitch in bytes.
fn tiles(block: Block32) -> ([*mut f32; 4], usize) {
    let s = block.stride;
    // wrapping_add: only the tile instructions dereference these, inside the caller's block.
    let at = |o: usize| block.ptr.wrapping_add(o);
    ([at(0), at(16), at(16 * s), at(16 * s + 16)], 4 * s)
}

/// `store = init + A · B` on the tiles, as `kernel::block` describes.
///
/// # Safety
/// After [`configure`] on this thread; otherwise `kernel::block`'s contract.
pub unsafe fn block(ops: Operands, init: Option<Block32>, store: Block32) {
    let Operands { a, b, k32 } = ops;
    // SAFETY: the caller's contract: every load reads inside a, b and init, the stores write
    // store.
    unsafe {
        match init {
            Some(init) => {
                let (c, s) = tiles(init);
                asm!(
                    "tileloadd tmm0, [{c0} + {s}*1]",
                    "tileloadd tmm1, [{c1} + {s}*1]",
                    "tileloadd tmm2, [{c2} + {s}*1]",
                    "tileloadd tmm3, [{c3} + {s}*1]",
                    c0 = in(reg) c[0],
                    c1 = in(reg) c[1],
                    c2 = in(reg) c[2],
                    c3 = in(reg) c[3],
                    s = in(reg) s,
                    options(nostack, readonly)
                );
            }
            None => asm!(
                "tilezero tmm0",
                "tilezero tmm1",
                "tilezero tmm2",
                "tilezero tmm3",
                options(nostack, nomem)
            ),
        }
        for kk in 0..k32 {
            let (a, b) = (a.add(kk * 1024), b.add(kk * 1024));
            asm!(
                "tileloadd tmm4, [{a0} + {s}*1]",
                "tileloadd tmm6, [{b0} + {s}*1]",
                "tdpbf16ps tmm0, tmm4, tmm6",
                "tileloadd tmm7, [{b1} + {s}*1]",
                "tdpbf16ps tmm1, tmm4, tmm7",
                "tileloadd tmm5, [{a1} + {s}*1]",
                "tdpbf16ps tmm2, tmm5, tmm6",
                "tdpbf16ps tmm3, tmm5, tmm7",
                a0 = in(reg) a,
                a1 = in(reg) a.add(512),
                b0 = in(reg) b,
                b1 = in(reg) b.add(512),
                s = in(reg) 64usize,
                options(nostack, readonly)
            );
        }
        let (c, s) = tiles(store);
        asm!(
            "tilestored [{c0} + {s}*1], tmm0",
            "tilestored [{c1} + {s}*1], tmm1",
            "tilestored [{c2} + {s}*1], tmm2",
            "tilestored [{c3} + {s}*1], tmm3",
            c0 = in(reg) c[0],
            c1 = in(reg) c[1],
            c2 = in(reg) c[2],
            c3 = in(reg) c[3],
            s = in(reg) s,
            options(nostack)
        );
    }
}
