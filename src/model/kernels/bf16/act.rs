//! The activations of the tiles' epilogue: the same formulas as [`fastmath::activation`] with
//! fused multiply-adds and the division replaced by a reciprocal refined by Newton's method,
//! which the compiler vectorises (a vector division costs several times an FMA, and QuickGELU
//! took a quarter of fc1 on the tiles). The result agrees with `fastmath::activation` to a few
//! f32 ulp, far inside the bf16 rounding (2⁻⁹) its output then goes through.
//!
//! Used only by `--dtype bf16`: the f32 path keeps the exact division.

use crate::model::kernels::fastmath::{self, dispatch};
use crate::model::load::config::Activation;

/// Largest argument of [`exp`] here: e^80 keeps 1 + e^x below 2^116, inside [`recip`]'s range.
const EXP_HI: f32 = 80.0;
/// Smallest: e^x a normal f32.
const EXP_LO: f32 = -87.3;
/// 1.5 · 2^23: adding it rounds to an integer held in the low mantissa bits.
const ROUND: f32 = 12_582_912.0;

/// e^x on [-87.3, 80] (clamped outside), the Cephes `expf` of [`fastmath::exp`] with FMAs.
#[inline(always)]
fn exp(x: f32) -> f32 {
    let x = x.clamp(EXP_LO, EXP_HI);
    let t = x.mul_add(std::f32::consts::LOG2_E, ROUND);
    let n = t - ROUND;
    let bits = (t.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
    let r = n.mul_add(2.121_944_4e-4, n.mul_add(-0.693_359_4, x));
    let mut p = 1.987_569_1e-4f32;
    p = p.mul_add(r, 1.398_199_9e-3);
    p = p.mul_add(r, 8.333_452e-3);
    p = p.mul_add(r, 4.166_579_6e-2);
    p = p.mul_add(r, 1.666_666_5e-1);
    p = p.mul_add(r, 0.5);
    let e = (p * r).mul_add(r, r) + 1.0;
    e * f32::from_bits((bits.wrapping_add(127) << 23) as u32)
}

/// 1/d for d in [1, 2^116]: the exponent-flipping first guess (within 12%), then three Newton
/// steps r ← r (2 − d r), each squaring the relative error (to under 1e-7).
#[inline(always)]
fn recip(d: f32) -> f32 {
    let mut r = f32::from_bits(0x7EF3_11C3u32.wrapping_sub(d.to_bits()));
    for _ in 0..3 {
        r *= d.mul_add(-r, 2.0);
    }
    r
}

/// erf(x) as [`fastmath::erf`] (Abramowitz & Stegun 7.1.26) with FMAs and [`recip`].
#[inline(always)]
fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = recip(0.327_591_1f32.mul_add(a, 1.0));
    let mut p = 1.061_405_4f32;
    p = p.mul_add(t, -1.453_152);
    p = p.mul_add(t, 1.421_413_8);
    p = p.mul_add(t, -0.284_496_74);
    p = p.mul_add(t, 0.254_829_6);
    let y = (-p * t).mul_add(exp(-a * a), 1.0);
    y.copysign(x)
}

/// One activation, as [`fastmath::activation`] computes it.
#[inline(always)]
fn activation(act: Activation, v: f32) -> f32 {
    match act {
        Activation::QuickGelu => v * recip(1.0 + exp(-1.702 * v)),
        Activation::Gelu => 0.5 * v * (1.0 + erf(v * std::f32::consts::FRAC_1_SQRT_2)),
        Activation::GeluTanh => {
            let u = 0.797_884_6 * (0.044_715 * v * v).mul_add(v, v);
            v * (1.0 - recip(exp(2.0 * u) + 1.0))
        }
        Activation::Silu => v * recip(1.0 + exp(-v)),
    }
}

/// `act(v)` for every element of `x`, in place; FMAs where the CPU has them (elsewhere
/// [`fastmath::activate_in_place`], since a software FMA is slower than the division it saves).
pub fn activate_in_place(x: &mut [f32], act: Activation) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("fma") {
        return dispatch!(fastmath::each_activated(x, act, activation));
    }
    fastmath::activate_in_place(x, act)
}

/// The softmax of `row[..live]` up to its normaliser: each element becomes e^(x − max) with
/// [`exp`]'s FMAs and the rest of `row` (padding up to a multiple of 16, so that no loop has a
/// scalar tail) zero; returns 1 / Σ, by which the caller scales as it reads the row.
///
/// Inlined into its caller's loop (which is compiled for the CPU's vector width by
/// `fastmath::dispatch`): at 50 tokens a row is four vectors, and a call per row with its
/// padding filled by `memset` and its maximum and sum reduced lane by lane cost more than the
/// exponentials. Here the padding is masked in the loops and the reductions are trees.
///
/// # Panics
/// When `live` is 0 or past the row, or the row's length is not a multiple of 16.
#[inline(always)]
pub fn softmax_numerators(row: &mut [f32], live: usize) -> f32 {
    assert!(
        live > 0 && live <= row.len() && row.len().is_multiple_of(16),
        "softmax_numerators: shape"
    );
    let mut m = [f32::NEG_INFINITY; 16];
    for (c, chunk) in row.chunks_exact(16).enumerate() {
        for (i, (m, &v)) in m.iter_mut().zip(chunk).enumerate() {
            let v = if c * 16 + i < live {
                v
            } else {
                f32::NEG_INFINITY
            };
            *m = if v > *m { v } else { *m };
        }
    }
    let max = tree(m, |a, b| if b > a { b } else { a });
    let mut s = [0f32; 16];
    for (c, chunk) in row.chunks_exact_mut(16).enumerate() {
        for (i, (v, s)) in chunk.iter_mut().zip(&mut s).enumerate() {
            let e = exp(*v - max);
            *v = if c * 16 + i < live { e } else { 0.0 };
            *s += *v;
        }
    }
    1.0 / tree(s, |a, b| a + b)
}

/// `f` folded over 16 lanes as a tree (halves, then quarters, …), which compiles to a few
/// shuffles instead of sixteen dependent scalar steps.
#[inline(always)]
fn tree(mut v: [f32; 16], f: impl Fn(f32, f32) -> f32) -> f32 {
    let mut w = 8;
    while w > 0 {
        for i in 0..w {
            v[i] = f(v[i], v[i + w]);
        }
        w /= 2;
    }
    v[0]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::kernels::f32_ops::tests::ramp;

    #[test]
    fn each_activation_agrees_with_the_exact_division_to_a_few_ulps() {
        let xs: Vec<f32> = (-40_000..40_000)
            .map(|i| i as f32 * 2.5e-3)
            .chain([-200.0, -90.0, -1e-30, 0.0, 1e-30, 90.0, 200.0])
            .collect();
        for act in [
            Activation::QuickGelu,
            Activation::Gelu,
            Activation::GeluTanh,
            Activation::Silu,
        ] {
            let mut got = xs.clone();
            activate_in_place(&mut got, act);
            for (&x, &y) in xs.iter().zip(&got) {
                let want = fastmath::activation(act, x);
                // GELU's 1 + erf and 1 − 1/(e + 1) cancel in the negative tail, where both
                // versions are only good to ulps of x.
                let scale = match act {
                    Activation::QuickGelu | Activation::Silu => want.abs(),
                    _ => want.abs().max(x.abs()),
                };
                let tol = 4.0 * f32::EPSILON * scale.max(1e-6);
                assert!((y - want).abs() <= tol, "{act:?}({x}) = {y}, want {want}");
            }
        }
    }

    #[test]
    fn softmax_numerators_scaled_are_the_softmax_and_the_padding_is_zero() {
        for live in [1usize, 5, 16, 37, 197] {
            let len = live.div_ceil(32) * 32;
            let x = ramp(len, 7919, 97, 7.0, 6.0);
            let mut row = x.clone();
            let scale = softmax_numerators(&mut row, live);
            let max = x[..live].iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
            let sum: f64 = x[..live].iter().map(|&v| (v as f64 - max).exp()).sum();
            for (i, &v) in row.iter().enumerate() {
                let want = if i < live {
                    (x[i] as f64 - max).exp() / sum
                } else {
                    0.0
                };
                let got = (v * scale) as f64;
                assert!(
                    (got - want).abs() <= 1e-6 * want + 1e-12,
                    "{live}[{i}]: {got} vs {want}"
                );
            }
        }
    }
}
