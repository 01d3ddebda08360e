//! Which instruction runs the bf16 products' 32 × 32 blocks on this CPU: Intel's AMX tiles
//! (`super::tiles`), or `VDPBF16PS` (`super::dot`) where the CPU has AVX512-BF16 and no tiles.
//! Both read the same packed operands and write the same blocks, so everything above a block
//! (packing, blocking for the caches, the activations, the attention) is shared.

pub use super::block32::{Block32, Operands};

/// A bf16 product kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// `TDPBF16PS` on AMX tiles (Sapphire Rapids and later).
    Amx,
    /// `VDPBF16PS` on 512-bit registers (AMD Zen 4 and later, Intel Cooper Lake).
    Avx512Bf16,
}

impl Kernel {
    /// The kernel's name, as `doctor`, `bench` and the status bar print it.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Amx => "AMX tiles",
            Kernel::Avx512Bf16 => "AVX512-BF16",
        }
    }
}

/// The best kernel this CPU has, or why there is none. `CLIPSCOPE_BF16_KERNEL` (`amx`,
/// `avx512bf16` or `f32`) picks one instead: a kernel the CPU lacks is refused with the reason.
/// A CPU with AMX tiles that Linux does not grant gets f32, not `VDPBF16PS`: on those CPUs
/// (Sapphire Rapids on) `VDPBF16PS` measured slower than f32.
#[cfg(target_arch = "x86_64")]
pub fn detect() -> Result<Kernel, &'static str> {
    // CPUID leaf 7, sub-leaf 0: EDX bit 22 is AMX-BF16, bit 24 AMX-TILE.
    let has_amx = std::arch::x86_64::__cpuid(0).eax >= 7 && {
        let edx = std::arch::x86_64::__cpuid_count(7, 0).edx;
        edx & (1 << 24) != 0 && edx & (1 << 22) != 0
    };
    let amx = || match has_amx {
        true => super::tiles::request_permission().map(|()| Kernel::Amx),
        false => Err("this CPU has no AMX bf16 tiles"),
    };
    let dot = || match std::arch::is_x86_feature_detected!("avx512bf16") {
        true => Ok(Kernel::Avx512Bf16),
        false => Err("this CPU has neither AMX nor AVX512-BF16"),
    };
    match std::env::var("CLIPSCOPE_BF16_KERNEL").as_deref() {
        Err(_) | Ok("") if has_amx => amx(),
        Err(_) | Ok("") => dot(),
        Ok("amx") => amx(),
        Ok("avx512bf16") => dot().map_err(|_| "this CPU has no AVX512-BF16"),
        Ok("f32") => Err("CLIPSCOPE_BF16_KERNEL=f32"),
        Ok(_) => Err("CLIPSCOPE_BF16_KERNEL is not one of amx, avx512bf16, f32"),
    }
}

/// Off x86-64 there is no bf16 kernel.
#[cfg(not(target_arch = "x86_64"))]
pub fn detect() -> Result<Kernel, &'static str> {
    Err("the bf16 kernels are x86-64 instructions")
}

/// Prepares this thread for [`block`] (the tiles' configuration; nothing for `VDPBF16PS`).
///
/// # Safety
/// `kernel` came from [`detect`] in this process.
#[cfg(target_arch = "x86_64")]
pub unsafe fn configure(kernel: Kernel) {
    if kernel == Kernel::Amx {
        // SAFETY: detect granted the tile state on a CPU with AMX.
        unsafe { super::tiles::configure() }
    }
}

/// `store = init + A · B` (`init` `None`: from zero) on `kernel`.
///
/// # Safety
/// After [`configure`] on this thread with the same `kernel`; `ops` hold what [`Operands`] says,
/// `init` is readable and `store` writable as 32 × 32 blocks (`init` may be `store`).
#[cfg(target_arch = "x86_64")]
#[inline]
pub unsafe fn block(kernel: Kernel, ops: Operands, init: Option<Block32>, store: Block32) {
    // SAFETY: the caller's contract, and `kernel` names an instruction set the CPU has.
    unsafe {
        match kernel {
            Kernel::Amx => super::tiles::block(ops, init, store),
            Kernel::Avx512Bf16 => super::dot::block(ops, init, store),
        }
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    fn bf(bits: u16) -> f64 {
        half::bf16::from_bits(bits).to_f64()
    }

    /// Every kernel this CPU has computes a block as f64 does on the same operands: from a
    /// strided init, from zero, into a strided store.
    #[test]
    fn each_kernel_the_cpu_has_computes_blocks_as_f64_does() {
        let mut kernels = vec![];
        if std::arch::is_x86_feature_detected!("avx512bf16") {
            kernels.push(Kernel::Avx512Bf16);
        }
        if detect() == Ok(Kernel::Amx) {
            kernels.push(Kernel::Amx);
        }
        let flags = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        assert_eq!(
            kernels.is_empty(),
            !flags
                .split_whitespace()
                .any(|f| f == "avx512_bf16" || f == "amx_bf16")
        );
        let k32 = 3;
        let bits = |i: usize, m: usize| super::super::to_bf16(((i * m) % 211) as f32 / 53.0 - 2.0);
        let a: Vec<u16> = (0..k32 * 1024).map(|i| bits(i, 7919)).collect();
        let b: Vec<u16> = (0..k32 * 1024).map(|i| bits(i, 104_729)).collect();
        // The packed layouts (see `pack`): A's (row, k) and B's (k, column) of each step.
        let a_at =
            |r: usize, k: usize| bf(a[(k / 32) * 1024 + (r / 16) * 512 + (r % 16) * 32 + k % 32]);
        let b_at = |k: usize, c: usize| {
            let kk = k % 32;
            bf(b[(k / 32) * 1024 + (c / 16) * 512 + (kk / 2) * 32 + (c % 16) * 2 + kk % 2])
        };
        let init: Vec<f32> = (0..32 * 40).map(|i| (i % 17) as f32 - 8.0).collect();
        for kernel in kernels {
            for from_init in [false, true] {
                let mut out = vec![f32::NAN; 32 * 48];
                let start = from_init.then_some(Block32 {
                    ptr: init.as_ptr().cast_mut(),
                    stride: 40,
                });
                let store = Block32 {
                    ptr: out.as_mut_ptr(),
                    stride: 48,
                };
                // SAFETY: the kernel is one the CPU has, configured on this thread; a, b hold
                // k32 steps, init and out hold 32 rows at their strides.
                unsafe {
                    configure(kernel);
                    let ops = Operands {
                        a: a.as_ptr(),
                        b: b.as_ptr(),
                        k32,
                    };
                    block(kernel, ops, start, store);
                }
                for r in 0..32 {
                    for c in 0..32 {
                        let mut want: f64 = (0..32 * k32).map(|k| a_at(r, k) * b_at(k, c)).sum();
                        if from_init {
                            want += init[r * 40 + c] as f64;
                        }
                        let got = out[r * 48 + c] as f64;
                        assert!(
                            (got - want).abs() < 1e-4 * (1.0 + want.abs()),
                            "{kernel:?} ({r}, {c}): {got} vs {want}"
                        );
                    }
                }
            }
        }
    }
}
