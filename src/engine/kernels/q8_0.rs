//! Q8_0 weights times f32 activations, for the 0.5B model's output
//! projection (151936 x 896, 136 MB, the largest matrix it reads per token).
//!
//! candle's own AVX2 dot product is fast; what cost the time was around it:
//! its thread pool spins after every product and so competes, on two cores,
//! with our [`Workers`] running the next one. This kernel runs on
//! [`Workers`] and repeats candle's operations exactly: each activation row
//! quantized by candle's `BlockQ8_0::from_float`, then per block
//! `acc = fma(d_weight * d_activation, sum of byte products per lane, acc)`
//! in candle's lanes (`_mm256_maddubs_epi16` of the sign-adjusted bytes,
//! then pairs summed), and the same horizontal sum at the end. Several
//! activation rows share each weight block as it is loaded; their sums do
//! not mix, so each row's result is what it gives alone.
//!
//! Without AVX2 and FMA, [`Q8_0Matrix::new`] declines and candle's kernel
//! (its scalar code) does the work.

use std::sync::Arc;

use candle_core::quantized::k_quants::{BlockQ8_0, GgmlType};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Result, Tensor};

use super::{block_matrix, blocks_of, f16_to_f32, Q8_0Block, Workers, BLOCK};

/// Activation rows that share one pass over the weights (the rest go one
/// by one: the same operations for each row either way).
const ROWS_PER_PASS: usize = 4;

/// A Q8_0 weight matrix of `rows` outputs by `cols` inputs, row-major, as
/// `QMatMul` holds it.
pub struct Q8_0Matrix {
    weights: Arc<QTensor>,
    rows: usize,
    cols: usize,
}

impl Q8_0Matrix {
    /// `None` unless `weights` is a 2-D Q8_0 tensor on the CPU and this CPU
    /// has AVX2 and FMA.
    pub fn new(weights: Arc<QTensor>) -> Option<Q8_0Matrix> {
        if !avx2_fma_available() {
            return None;
        }
        let (rows, cols) = block_matrix::<Q8_0Block>(&weights, GgmlDType::Q8_0)?;
        Some(Q8_0Matrix { weights, rows, cols })
    }

    /// `x` (`(..., cols)`) times the weights; the result of
    /// `QMatMul::forward`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut dims = x.dims().to_vec();
        if dims.pop() != Some(self.cols) {
            candle_core::bail!("Q8_0 product: input {:?} does not end in {}", x.shape(), self.cols)
        }
        let lhs = x.flatten_all()?.to_vec1::<f32>()?;
        let m = lhs.len() / self.cols;
        let k_blocks = self.cols / BLOCK;
        let mut quantized = vec![BlockQ8_0::zeros(); m * k_blocks];
        for (row, q) in lhs.chunks_exact(self.cols).zip(quantized.chunks_exact_mut(k_blocks)) {
            BlockQ8_0::from_float(row, q);
        }
        // SAFETY: same size and alignment (asserted in the parent module),
        // plain data.
        let quantized: &[Q8_0Block] =
            unsafe { std::slice::from_raw_parts(quantized.as_ptr() as *const Q8_0Block, quantized.len()) };
        let weights: &[Q8_0Block] = blocks_of(&self.weights);
        let rows = self.rows;
        let mut out = vec![0f32; m * rows];
        let out_ptr = out.as_mut_ptr() as usize;
        Workers::get().run(rows, |range| {
            for r in range {
                let w = &weights[r * k_blocks..(r + 1) * k_blocks];
                let y = |i: usize| &quantized[i * k_blocks..(i + 1) * k_blocks];
                let write = |i: usize, sum: f32| {
                    // SAFETY: each (row, r) is written by exactly one worker.
                    unsafe { *(out_ptr as *mut f32).add(i * rows + r) = sum };
                };
                let mut i = 0;
                while i + ROWS_PER_PASS <= m {
                    // SAFETY: AVX2 and FMA detected in `new`.
                    let sums = unsafe { avx2::dots(w, [y(i), y(i + 1), y(i + 2), y(i + 3)]) };
                    for (j, sum) in sums.into_iter().enumerate() {
                        write(i + j, sum);
                    }
                    i += ROWS_PER_PASS;
                }
                for i in i..m {
                    // SAFETY: as above.
                    let [sum] = unsafe { avx2::dots(w, [y(i)]) };
                    write(i, sum);
                }
            }
        });
        dims.push(rows);
        Tensor::from_vec(out, dims, x.device())
    }
}

fn avx2_fma_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{f16_to_f32, Q8_0Block};
    use std::arch::x86_64::*;

    /// The dot products of one weight row with `M` activation rows, each
    /// computed as candle's `vec_dot_q8_0_q8_0` computes it.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dots<const M: usize>(w: &[Q8_0Block], ys: [&[Q8_0Block]; M]) -> [f32; M] {
        assert!(ys.iter().all(|y| y.len() == w.len()));
        let ones = _mm256_set1_epi16(1);
        let mut acc = [_mm256_setzero_ps(); M];
        for (b, x) in w.iter().enumerate() {
            let dx = f16_to_f32(x.d);
            let bx = _mm256_loadu_si256(x.qs.as_ptr() as *const __m256i);
            let ax = _mm256_sign_epi8(bx, bx);
            for (acc, y) in acc.iter_mut().zip(&ys) {
                let y = &y[b];
                let d = _mm256_set1_ps(dx * f16_to_f32(y.d));
                let by = _mm256_loadu_si256(y.qs.as_ptr() as *const __m256i);
                let sy = _mm256_sign_epi8(by, bx);
                let pairs = _mm256_madd_epi16(ones, _mm256_maddubs_epi16(ax, sy));
                *acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(pairs), *acc);
            }
        }
        let mut sums = [0f32; M];
        for (s, a) in sums.iter_mut().zip(acc) {
            *s = hsum(a);
        }
        sums
    }

    /// candle's `hsum_float_8`, in its order.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn hsum(x: __m256) -> f32 {
        let res = _mm256_extractf128_ps(x, 1);
        let res = _mm_add_ps(res, _mm256_castps256_ps128(x));
        let res = _mm_add_ps(res, _mm_movehl_ps(res, res));
        let res = _mm_add_ss(res, _mm_movehdup_ps(res));
        _mm_cvtss_f32(res)
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod avx2 {
    use super::Q8_0Block;
    pub unsafe fn dots<const M: usize>(_: &[Q8_0Block], _: [&[Q8_0Block]; M]) -> [f32; M] {
        unreachable!("AVX2 is only detected on x86_64")
    }
}
