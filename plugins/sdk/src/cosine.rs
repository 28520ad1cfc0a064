//! Cosine similarity of two embeddings, the hot path of any reward that
//! compares texts (reward-econ's AL and CC). The sums are f64 and added in
//! element order on every target, so a plugin scores the same in the sandbox
//! as in its native unit tests, bit for bit.

/// Cosine similarity; 0 when either vector is empty, zero or the lengths differ.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() || a.is_empty() {
        return 0.0;
    }
    #[cfg(target_arch = "wasm32")]
    let Sums { dot, na, nb } = wasm::sums(a, b);
    #[cfg(not(target_arch = "wasm32"))]
    let Sums { dot, na, nb } = plain_sums(a, b);
    if na == 0.0 || nb == 0.0 {
        return 0.0;
    }
    (dot / (na.sqrt() * nb.sqrt())) as f32
}

/// The running sums of [`cosine`], in f64 so long vectors lose nothing.
#[derive(Default)]
struct Sums {
    dot: f64,
    na: f64,
    nb: f64,
}

impl Sums {
    #[inline(always)]
    fn add(&mut self, x: f32, y: f32) {
        let (x, y) = (f64::from(x), f64::from(y));
        self.dot += x * y;
        self.na += x * x;
        self.nb += y * y;
    }
}

/// One element at a time: what every target computes.
#[cfg_attr(target_arch = "wasm32", allow(dead_code))]
fn plain_sums(a: &[f32], b: &[f32]) -> Sums {
    let mut sums = Sums::default();
    for (x, y) in a.iter().zip(b) {
        sums.add(*x, *y);
    }
    sums
}

/// The same sums shaped for the sandbox's compiler (Cranelift, with a
/// deadline and fuel check at every loop header). A reward call on 8 x 384-d
/// embeddings through the sandbox took 54 µs with the plain loop, 35 µs with
/// steps of 16, and takes 26-27 µs with this (and a lighter input check in
/// reward-econ; BENCHMARKS.md). What each choice avoids:
///
/// - a check per element: the loop runs in straight-line steps of
///   [`wasm::CHUNK`] elements, one loop header per step (a `for` over more
///   than 16 elements is left a loop by LLVM, hence the macro);
/// - spilled registers: Cranelift places pure arithmetic where a
///   side-effecting instruction first needs it, so without a demand a whole
///   step's loads would come first and their values be spilled; a volatile
///   store of the sums every 4 elements keeps each group's arithmetic next to
///   its loads;
/// - instructions: two elements are converted and multiplied per SIMD
///   instruction, and `na` and `nb` are the two lanes of one accumulator.
///
/// Every sum still adds its terms one at a time in element order, the
/// products are the same f64 products, so the result equals `plain_sums`
/// bit for bit (tested through the sandbox in the host's `tests/it`).
#[cfg(target_arch = "wasm32")]
mod wasm {
    use super::Sums;
    use core::arch::wasm32::*;

    pub(super) const CHUNK: usize = 64;

    #[target_feature(enable = "simd128")]
    pub(super) fn sums(a: &[f32], b: &[f32]) -> Sums {
        let mut dot = 0.0f64;
        // Lane 0: the sum of x², lane 1: of y².
        let mut nanb = f64x2_splat(0.0);
        let (mut dot_sink, mut nanb_sink) = (0.0f64, f64x2_splat(0.0));
        let (a_steps, b_steps) = (a.chunks_exact(CHUNK), b.chunks_exact(CHUNK));
        let (a_rest, b_rest) = (a_steps.remainder(), b_steps.remainder());
        // Lanes 2 and 3 of four floats moved to 0 and 1, for promotion.
        let high = |v| i32x4_shuffle::<2, 3, 2, 3>(v, v);
        for (xs, ys) in a_steps.zip(b_steps) {
            macro_rules! groups_of_four {
                ($($k:literal)*) => {$(
                    // SAFETY: `$k + 4 <= CHUNK`, and `chunks_exact` gives `xs`
                    // and `ys` CHUNK elements each; wasm loads need no alignment.
                    let (xv, yv) = unsafe {
                        (
                            v128_load(xs.as_ptr().add($k) as *const v128),
                            v128_load(ys.as_ptr().add($k) as *const v128),
                        )
                    };
                    for (x, y) in [
                        (f64x2_promote_low_f32x4(xv), f64x2_promote_low_f32x4(yv)),
                        (
                            f64x2_promote_low_f32x4(high(xv)),
                            f64x2_promote_low_f32x4(high(yv)),
                        ),
                    ] {
                        // x = (x_k, x_k+1), y = (y_k, y_k+1).
                        let p = f64x2_mul(x, y);
                        dot += f64x2_extract_lane::<0>(p);
                        dot += f64x2_extract_lane::<1>(p);
                        let k = i64x2_shuffle::<0, 2>(x, y);
                        let k1 = i64x2_shuffle::<1, 3>(x, y);
                        nanb = f64x2_add(nanb, f64x2_mul(k, k));
                        nanb = f64x2_add(nanb, f64x2_mul(k1, k1));
                    }
                    // SAFETY: writes to locals; volatile only so that the
                    // stores stay (see above).
                    unsafe {
                        core::ptr::write_volatile(&mut dot_sink, dot);
                        core::ptr::write_volatile(&mut nanb_sink, nanb);
                    }
                )*};
            }
            groups_of_four!(0 4 8 12 16 20 24 28 32 36 40 44 48 52 56 60);
        }
        let mut sums = Sums {
            dot,
            na: f64x2_extract_lane::<0>(nanb),
            nb: f64x2_extract_lane::<1>(nanb),
        };
        for (x, y) in a_rest.iter().zip(b_rest) {
            sums.add(*x, *y);
        }
        sums
    }
}

#[cfg(test)]
mod tests {
    use super::cosine;

    #[test]
    fn empty_zero_and_mismatched_vectors_score_zero() {
        assert_eq!(cosine(&[], &[]), 0.0);
        assert_eq!(cosine(&[0.0; 20], &[1.0; 20]), 0.0);
        assert_eq!(cosine(&[1.0; 3], &[1.0; 4]), 0.0);
        assert!((cosine(&[2.0; 40], &[3.0; 40]) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn known_angles() {
        assert_eq!(cosine(&[1.0, 0.0], &[0.0, 1.0]), 0.0);
        assert_eq!(cosine(&[1.0, 1.0], &[-1.0, -1.0]), -1.0);
        let c = cosine(&[1.0, 0.0], &[1.0, 1.0]);
        assert!((c - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6, "{c}");
    }
}
