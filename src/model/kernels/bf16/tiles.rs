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

/// A block's first element, its 17th row's (the lower tiles start there) and the row pitch
/// in bytes: the four 16 × 16 tiles are at `first`, `first + 64`, `lower` and `lower + 64`.
fn rows(block: Block32) -> (*mut f32, *mut f32, usize) {
    let s = block.stride;
    // wrapping_add: only the tile instructions dereference these, inside the caller's block.
    (block.ptr, block.ptr.wrapping_add(16 * s), 4 * s)
}

/// `store = init + A · B` on the tiles, as `kernel::block` describes.
///
/// One `asm!` block from the first tile load to the last store, the loop over K inside it:
/// the four accumulators (tmm0-3) and the operand tiles (tmm4-7) hold values only within it,
/// and are declared clobbered, so no tile state is assumed to live from one block to another.
///
/// # Safety
/// After [`configure`] on this thread; otherwise `kernel::block`'s contract.
pub unsafe fn block(ops: Operands, init: Option<Block32>, store: Block32) {
    let Operands { a, b, k32 } = ops;
    let (from, zero) = match init {
        Some(init) => (init, 0usize),
        None => (store, 1usize),
    };
    let (f0, f1, fp) = rows(from);
    let (s0, s1, sp) = rows(store);
    // SAFETY: the caller's contract: every load reads inside a, b (k32 steps of 2 KiB each)
    // and init, the stores write store; the tiles are configured on this thread.
    unsafe {
        asm!(
            "test {zero}, {zero}",
            "jnz 2f",
            "tileloadd tmm0, [{f0} + {fp}*1]",
            "tileloadd tmm1, [{f0} + {fp}*1 + 64]",
            "tileloadd tmm2, [{f1} + {fp}*1]",
            "tileloadd tmm3, [{f1} + {fp}*1 + 64]",
            "jmp 3f",
            "2:",
            "tilezero tmm0",
            "tilezero tmm1",
            "tilezero tmm2",
            "tilezero tmm3",
            "3:",
            "test {k}, {k}",
            "jz 5f",
            // Per step of 32 along K: A's rows 0-15 then 16-31, B's columns 0-15 then 16-31,
            // 1 KiB each.
            "4:",
            "tileloadd tmm4, [{a} + {s64}*1]",
            "tileloadd tmm6, [{b} + {s64}*1]",
            "tdpbf16ps tmm0, tmm4, tmm6",
            "tileloadd tmm7, [{b} + {s64}*1 + 1024]",
            "tdpbf16ps tmm1, tmm4, tmm7",
            "tileloadd tmm5, [{a} + {s64}*1 + 1024]",
            "tdpbf16ps tmm2, tmm5, tmm6",
            "tdpbf16ps tmm3, tmm5, tmm7",
            "add {a}, 2048",
            "add {b}, 2048",
            "dec {k}",
            "jnz 4b",
            "5:",
            "tilestored [{s0} + {sp}*1], tmm0",
            "tilestored [{s0} + {sp}*1 + 64], tmm1",
            "tilestored [{s1} + {sp}*1], tmm2",
            "tilestored [{s1} + {sp}*1 + 64], tmm3",
            zero = in(reg) zero,
            f0 = in(reg) f0,
            f1 = in(reg) f1,
            fp = in(reg) fp,
            s0 = in(reg) s0,
            s1 = in(reg) s1,
            sp = in(reg) sp,
            a = inout(reg) a => _,
            b = inout(reg) b => _,
            k = inout(reg) k32 => _,
            s64 = in(reg) 64usize,
            out("tmm0") _,
            out("tmm1") _,
            out("tmm2") _,
            out("tmm3") _,
            out("tmm4") _,
            out("tmm5") _,
            out("tmm6") _,
            out("tmm7") _,
            options(nostack)
        );
    }
}
