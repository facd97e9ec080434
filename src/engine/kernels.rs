//! Matrix products candle has no fast enough CPU kernel for.
//!
//! [`Q5_0Matrix`] multiplies f32 activations by a Q5_0 weight matrix. The
//! 0.5B model stores most of its weights as Q5_0 (its width, 896, is no
//! multiple of 256, so the K-quants do not fit), and candle 0.11 computes
//! Q5_0 products with generic scalar code.
//!
//! The result is bit-for-bit candle's: activations are quantized to Q8_0 by
//! candle's own quantizer, each block's integer dot product is exact however
//! it is summed, and the float part repeats candle's operations in candle's
//! order (`sum += (sumi * d_weight) * d_activation`, block after block).
//! Only the integer part is vectorized (AVX2, chosen at run time; scalar code
//! otherwise).
//!
//! [`Q4KMatrix`] and [`Q6KMatrix`] (module `k_quant`) do the same for the
//! 1.5B model's Q4_K and Q6_K weights, which candle multiplies with vector
//! code but through a bulkier copy of the weights; see that module for why
//! their results are candle's too.
//!
//! [`Q8_0Matrix`] (module `q8_0`) takes the 0.5B model's Q8_0 output
//! projection off candle's thread pool, whose spinning slowed our kernels.
//!
//! All of them share rows among the engine's threads with [`Workers`],
//! which does not wait for a thread the scheduler has not run.

mod k_quant;
mod q8_0;
mod workers;

pub use k_quant::{Q4KMatrix, Q6KMatrix};
pub use q8_0::Q8_0Matrix;
pub use workers::Workers;

use std::sync::Arc;

use candle_core::quantized::k_quants::{BlockQ8_0, GgmlType};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Result, Tensor};

/// Values per Q5_0 or Q8_0 block.
const BLOCK: usize = 32;

/// One Q5_0 block as GGUF stores it: an f16 scale, the fifth bits of the 32
/// values, then their low four bits (values `j` and `j + 16` share byte `j`).
#[repr(C)]
struct Q5_0Block {
    d: u16,
    qh: [u8; 4],
    qs: [u8; 16],
}
const _: () = assert!(std::mem::size_of::<Q5_0Block>() == 22);

/// One Q8_0 block: an f16 scale and 32 signed bytes; the layout of candle's
/// `BlockQ8_0`, whose fields are private.
#[repr(C)]
struct Q8_0Block {
    d: u16,
    qs: [i8; 32],
}
const _: () = assert!(std::mem::size_of::<Q8_0Block>() == std::mem::size_of::<BlockQ8_0>());
const _: () = assert!(std::mem::align_of::<Q8_0Block>() == std::mem::align_of::<BlockQ8_0>());

/// A Q5_0 weight matrix of `rows` outputs by `cols` inputs, row-major, as
/// `QMatMul` holds it.
pub struct Q5_0Matrix {
    weights: Arc<QTensor>,
    rows: usize,
    cols: usize,
}

impl Q5_0Matrix {
    /// `None` unless `weights` is a 2-D Q5_0 tensor on the CPU.
    pub fn new(weights: Arc<QTensor>) -> Option<Q5_0Matrix> {
        let (rows, cols) = block_matrix::<Q5_0Block>(&weights, GgmlDType::Q5_0)?;
        Some(Q5_0Matrix { weights, rows, cols })
    }

    fn blocks(&self) -> &[Q5_0Block] {
        blocks_of(&self.weights)
    }

    /// `x` `(..., cols)` times the transposed weights: `(..., rows)`, as
    /// `QMatMul::forward`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut dims = x.dims().to_vec();
        let last = dims.pop();
        if last != Some(self.cols) {
            candle_core::bail!("Q5_0 product: input {:?} does not end in {}", x.shape(), self.cols)
        }
        let lhs = x.flatten_all()?.to_vec1::<f32>()?;
        let mut out = vec![0f32; lhs.len() / self.cols * self.rows];
        self.matmul(&lhs, &mut out);
        dims.push(self.rows);
        Tensor::from_vec(out, dims, x.device())
    }

    /// `out (m, rows) = lhs (m, cols) x weights^T`.
    pub fn matmul(&self, lhs: &[f32], out: &mut [f32]) {
        self.matmul_with(lhs, out, avx2_available())
    }

    /// [`Q5_0Matrix::matmul`] with the scalar code even where AVX2 is
    /// available: for tests.
    pub fn matmul_portable(&self, lhs: &[f32], out: &mut [f32]) {
        self.matmul_with(lhs, out, false)
    }

    fn matmul_with(&self, lhs: &[f32], out: &mut [f32], use_avx2: bool) {
        let k_blocks = self.cols / BLOCK;
        let m = lhs.len() / self.cols;
        assert_eq!(lhs.len(), m * self.cols, "lhs is not whole rows");
        assert_eq!(out.len(), m * self.rows, "output size");
        let mut quantized = vec![BlockQ8_0::zeros(); m * k_blocks];
        for (row, q) in lhs.chunks_exact(self.cols).zip(quantized.chunks_exact_mut(k_blocks)) {
            BlockQ8_0::from_float(row, q);
        }
        // SAFETY: same size and alignment (asserted above), plain data.
        let quantized: &[Q8_0Block] =
            unsafe { std::slice::from_raw_parts(quantized.as_ptr() as *const Q8_0Block, quantized.len()) };
        let scales: Vec<f32> = quantized.iter().map(|b| f16_to_f32(b.d)).collect();
        let weights = self.blocks();
        let out_ptr = out.as_mut_ptr() as usize;
        let (rows, cols) = (self.rows, self.cols);
        if m == 1 && use_avx2 {
            // Decode: each weight is used once, unpacked in registers.
            Workers::get().run(rows, |range| {
                for r in range {
                    let w = &weights[r * k_blocks..(r + 1) * k_blocks];
                    // SAFETY: AVX2 detected at run time; each r is written
                    // by exactly one worker.
                    unsafe {
                        *(out_ptr as *mut f32).add(r) = avx2::dot_packed(w, quantized, &scales);
                    }
                }
            });
            return;
        }
        Workers::get().run(rows, |range| {
            // Each weight row is unpacked once to signed bytes, then dotted
            // with every activation row.
            let mut unpacked = vec![0i8; cols];
            let mut weight_scales = vec![0f32; k_blocks];
            for r in range {
                let w = &weights[r * k_blocks..(r + 1) * k_blocks];
                unpack_row(w, &mut unpacked, &mut weight_scales, use_avx2);
                let y = |i: usize| &quantized[i * k_blocks..(i + 1) * k_blocks];
                let dy = |i: usize| &scales[i * k_blocks..(i + 1) * k_blocks];
                let mut first = 0;
                if use_avx2 {
                    while first + 4 <= m {
                        let i = first;
                        // SAFETY: AVX2 detected at run time.
                        let d = unsafe {
                            avx2::dot4(
                                &unpacked,
                                &weight_scales,
                                [y(i), y(i + 1), y(i + 2), y(i + 3)],
                                [dy(i), dy(i + 1), dy(i + 2), dy(i + 3)],
                            )
                        };
                        for (j, d) in d.into_iter().enumerate() {
                            // SAFETY: each (i, r) is written by exactly one worker.
                            unsafe { *(out_ptr as *mut f32).add((i + j) * rows + r) = d };
                        }
                        first += 4;
                    }
                }
                for i in first..m {
                    let y = &quantized[i * k_blocks..(i + 1) * k_blocks];
                    let dy = &scales[i * k_blocks..(i + 1) * k_blocks];
                    let dot = if use_avx2 {
                        // SAFETY: AVX2 detected at run time.
                        unsafe { avx2::dot(&unpacked, &weight_scales, y, dy) }
                    } else {
                        dot_scalar(&unpacked, &weight_scales, y, dy)
                    };
                    // SAFETY: each (i, r) is written by exactly one worker.
                    unsafe { *(out_ptr as *mut f32).add(i * rows + r) = dot };
                }
            }
        });
    }
}

/// `(rows, cols)` of `weights` if it is a 2-D CPU tensor of `dtype` whose
/// bytes are whole, aligned blocks `B` of [`BLOCK`] values.
fn block_matrix<B>(weights: &QTensor, dtype: GgmlDType) -> Option<(usize, usize)> {
    if weights.dtype() != dtype || !weights.device().is_cpu() {
        return None;
    }
    let (rows, cols) = weights.shape().dims2().ok()?;
    let bytes = weights.data().ok()?;
    let aligned = (bytes.as_ptr() as usize).is_multiple_of(std::mem::align_of::<B>());
    let sized = cols.is_multiple_of(BLOCK) && bytes.len() == rows * cols / BLOCK * std::mem::size_of::<B>();
    (aligned && sized).then_some((rows, cols))
}

/// The blocks of a tensor [`block_matrix`] accepted.
fn blocks_of<B>(weights: &QTensor) -> &[B] {
    let bytes = match weights.data().expect("CPU tensor checked in block_matrix") {
        std::borrow::Cow::Borrowed(b) => b,
        std::borrow::Cow::Owned(_) => unreachable!("CPU tensors lend their bytes"),
    };
    // SAFETY: size and alignment checked in `block_matrix`; the block types
    // are plain bytes with GGUF's layout.
    unsafe { std::slice::from_raw_parts(bytes.as_ptr() as *const B, bytes.len() / std::mem::size_of::<B>()) }
}

fn avx2_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("avx2") && is_x86_feature_detected!("f16c")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

fn f16_to_f32(bits: u16) -> f32 {
    half::f16::from_bits(bits).to_f32()
}

/// Signed values (-16..=15) and scales of one weight row.
fn unpack_row(w: &[Q5_0Block], values: &mut [i8], scales: &mut [f32], use_avx2: bool) {
    for ((b, v), d) in w.iter().zip(values.chunks_exact_mut(BLOCK)).zip(scales.iter_mut()) {
        *d = f16_to_f32(b.d);
        if use_avx2 {
            // SAFETY: AVX2 detected at run time.
            unsafe { avx2::unpack_block(b, v) }
        } else {
            let qh = u32::from_le_bytes(b.qh);
            for j in 0..16 {
                let high0 = ((qh >> j) & 1) as u8;
                let high1 = ((qh >> (j + 16)) & 1) as u8;
                v[j] = ((b.qs[j] & 0x0f) | (high0 << 4)) as i8 - 16;
                v[j + 16] = ((b.qs[j] >> 4) | (high1 << 4)) as i8 - 16;
            }
        }
    }
}

/// candle's Q5_0 x Q8_0 dot product over unpacked weights.
fn dot_scalar(x: &[i8], dx: &[f32], y: &[Q8_0Block], dy: &[f32]) -> f32 {
    let mut sum = 0f32;
    for (b, (yb, (&dxb, &dyb))) in y.iter().zip(dx.iter().zip(dy)).enumerate() {
        let xb = &x[b * BLOCK..(b + 1) * BLOCK];
        let sumi: i32 = xb.iter().zip(&yb.qs).map(|(&a, &c)| a as i32 * c as i32).sum();
        sum += sumi as f32 * dxb * dyb;
    }
    sum
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{Q5_0Block, Q8_0Block, BLOCK};
    use std::arch::x86_64::*;

    /// One Q5_0 block as 32 signed bytes.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn unpack(b: &Q5_0Block) -> __m256i {
        let low = _mm_loadu_si128(b.qs.as_ptr() as *const __m128i);
        // Bytes 0..16: low nibbles (values 0..16); 16..32: high nibbles.
        let nibbles = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(low, 4), low), _mm256_set1_epi8(0x0f));
        // Byte i gets bit i of qh: spread qh's byte i / 8 over byte i, keep
        // bit i % 8.
        let qh = _mm256_set1_epi32(i32::from_le_bytes(b.qh));
        let spread = _mm256_shuffle_epi8(
            qh,
            _mm256_setr_epi8(
                0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, //
                2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3,
            ),
        );
        let bit = _mm256_set1_epi64x(i64::from_le_bytes([1, 2, 4, 8, 16, 32, 64, -128i8 as u8]));
        let high_set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
        // value - 16: with the fifth bit, the nibble itself; without it, the
        // nibble with the top four bits set (nibble - 16 as a signed byte).
        _mm256_or_si256(nibbles, _mm256_andnot_si256(high_set, _mm256_set1_epi8(-16)))
    }

    /// Unpacks one Q5_0 block to 32 signed bytes.
    #[target_feature(enable = "avx2")]
    pub unsafe fn unpack_block(b: &Q5_0Block, out: &mut [i8]) {
        assert_eq!(out.len(), BLOCK);
        _mm256_storeu_si256(out.as_mut_ptr() as *mut __m256i, unpack(b));
    }

    /// Eight i32 lanes of the products of one block (exact: at most
    /// 32 * 16 * 128 in magnitude).
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn block_products(xv: __m256i, y: &Q8_0Block) -> __m256i {
        let yv = _mm256_loadu_si256(y.qs.as_ptr() as *const __m256i);
        // maddubs wants one unsigned operand: move x's sign onto y.
        let pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(xv, xv), _mm256_sign_epi8(yv, xv));
        _mm256_madd_epi16(pairs, _mm256_set1_epi16(1))
    }

    /// The lane sums of eight vectors, in order.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn sums8(p: [__m256i; 8]) -> __m256i {
        let a = _mm256_hadd_epi32(_mm256_hadd_epi32(p[0], p[1]), _mm256_hadd_epi32(p[2], p[3]));
        let b = _mm256_hadd_epi32(_mm256_hadd_epi32(p[4], p[5]), _mm256_hadd_epi32(p[6], p[7]));
        // a = [s0 s1 s2 s3 | s0' s1' s2' s3'] (halves of each sum), b alike.
        _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20), _mm256_permute2x128_si256(a, b, 0x31))
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn sum1(p: __m256i) -> i32 {
        let s = _mm_add_epi32(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
        let s = _mm_hadd_epi32(s, s);
        let s = _mm_hadd_epi32(s, s);
        _mm_cvtsi128_si32(s)
    }

    /// The body of the dot products below: `$x(b)` is block `b` of the
    /// weights as signed bytes, `$dx(b)` its scale.
    macro_rules! dot_body {
        ($n:expr, $x:expr, $dx:expr, $y:expr, $dy:expr) => {{
            let (n, y, dy): (usize, &[Q8_0Block], &[f32]) = ($n, $y, $dy);
            let mut sum = 0f32;
            let mut b = 0;
            while b + 8 <= n {
                let mut p = [_mm256_setzero_si256(); 8];
                let mut dx = [0f32; 8];
                for j in 0..8 {
                    p[j] = block_products($x(b + j), &y[b + j]);
                    dx[j] = $dx(b + j);
                }
                // Lane-wise products equal the scalar ones bit for bit.
                let sumi = _mm256_cvtepi32_ps(sums8(p));
                let terms = _mm256_mul_ps(
                    _mm256_mul_ps(sumi, _mm256_loadu_ps(dx.as_ptr())),
                    _mm256_loadu_ps(dy.as_ptr().add(b)),
                );
                let mut t = [0f32; 8];
                _mm256_storeu_ps(t.as_mut_ptr(), terms);
                for v in t {
                    sum += v;
                }
                b += 8;
            }
            while b < n {
                let sumi = sum1(block_products($x(b), &y[b]));
                sum += sumi as f32 * $dx(b) * dy[b];
                b += 1;
            }
            sum
        }};
    }

    /// candle's Q5_0 x Q8_0 dot product, over weights unpacked beforehand
    /// (for several activation rows): the same float operations in the same
    /// order as its scalar code, with the integer sums vectorized.
    #[target_feature(enable = "avx2")]
    pub unsafe fn dot(x: &[i8], dx: &[f32], y: &[Q8_0Block], dy: &[f32]) -> f32 {
        assert!(x.len() >= y.len() * BLOCK && dx.len() >= y.len() && dy.len() >= y.len());
        dot_body!(
            y.len(),
            |b: usize| _mm256_loadu_si256(x.as_ptr().add(b * BLOCK) as *const __m256i),
            |b: usize| dx[b],
            y,
            dy
        )
    }

    /// [`dot`] of one unpacked weight row with four activation rows: each
    /// weight block is loaded once, and the four chains of dependent float
    /// additions interleave.
    #[target_feature(enable = "avx2")]
    pub unsafe fn dot4(x: &[i8], dx: &[f32], y: [&[Q8_0Block]; 4], dy: [&[f32]; 4]) -> [f32; 4] {
        let n = dx.len();
        assert!(x.len() >= n * BLOCK && y.iter().all(|y| y.len() >= n));
        assert!(dy.iter().all(|d| d.len() >= n));
        let mut sum = [0f32; 4];
        let mut b = 0;
        while b + 8 <= n {
            let dxv = _mm256_loadu_ps(dx.as_ptr().add(b));
            let mut p = [[_mm256_setzero_si256(); 8]; 4];
            for j in 0..8 {
                let xv = _mm256_loadu_si256(x.as_ptr().add((b + j) * BLOCK) as *const __m256i);
                for r in 0..4 {
                    p[r][j] = block_products(xv, &y[r][b + j]);
                }
            }
            let mut terms = [[0f32; 8]; 4];
            for r in 0..4 {
                let sumi = _mm256_cvtepi32_ps(sums8(p[r]));
                let t = _mm256_mul_ps(_mm256_mul_ps(sumi, dxv), _mm256_loadu_ps(dy[r].as_ptr().add(b)));
                _mm256_storeu_ps(terms[r].as_mut_ptr(), t);
            }
            for (s, row) in sum.iter_mut().zip(&terms) {
                for t in row {
                    *s += t;
                }
            }
            b += 8;
        }
        while b < n {
            let xv = _mm256_loadu_si256(x.as_ptr().add(b * BLOCK) as *const __m256i);
            for r in 0..4 {
                let sumi = sum1(block_products(xv, &y[r][b]));
                sum[r] += sumi as f32 * dx[b] * dy[r][b];
            }
            b += 1;
        }
        sum
    }

    /// [`dot`] unpacking each weight block on the fly: one activation row.
    #[target_feature(enable = "avx2")]
    pub unsafe fn dot_packed(w: &[Q5_0Block], y: &[Q8_0Block], dy: &[f32]) -> f32 {
        assert!(w.len() >= y.len() && dy.len() >= y.len());
        dot_body!(y.len(), |b: usize| unpack(&w[b]), |b: usize| super::f16_to_f32(w[b].d), y, dy)
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod avx2 {
    use super::{Q5_0Block, Q8_0Block};
    pub unsafe fn unpack_block(_: &Q5_0Block, _: &mut [i8]) {
        unreachable!("AVX2 is only detected on x86_64")
    }
    pub unsafe fn dot(_: &[i8], _: &[f32], _: &[Q8_0Block], _: &[f32]) -> f32 {
        unreachable!("AVX2 is only detected on x86_64")
    }
    pub unsafe fn dot_packed(_: &[Q5_0Block], _: &[Q8_0Block], _: &[f32]) -> f32 {
        unreachable!("AVX2 is only detected on x86_64")
    }
    pub unsafe fn dot4(_: &[i8], _: &[f32], _: [&[Q8_0Block]; 4], _: [&[f32]; 4]) -> [f32; 4] {
        unreachable!("AVX2 is only detected on x86_64")
    }
}
