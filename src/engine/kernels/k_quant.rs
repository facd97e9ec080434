//! Q4_K and Q6_K products (the 1.5B model's weights), bit for bit candle's.
//!
//! On x86-64 with AVX2 and FMA, candle 0.11 multiplies by a Q4_K matrix
//! through a copy of the weights tiled 16 rows at a time with f32 scales
//! (`repack_x86`, 1.33 times the bytes of the GGUF blocks), and by a Q6_K
//! matrix through per-row dot products for one activation row
//! (`avx::vec_dot_q6k_q8k`) or another tiled copy for several rows. Decoding
//! one token reads every weight once, so those extra bytes, and the time
//! its worker threads spend waking and waiting, are what decode speed is
//! made of.
//!
//! [`Q4KMatrix`] keeps its own tiled copy with the GGUF block's 6-bit scales
//! and mins only unpacked to bytes (1.06 times the GGUF bytes) and drops the
//! original; [`Q6KMatrix`] computes every product from the GGUF blocks:
//! one row as candle's one-row kernel does, the rows of a batched or
//! speculative decode step each as if alone (a block's weights unpacked once
//! for up to four of them), and the rows of a prompt in candle's tiled order
//! from tiles unpacked on the fly, so that candle's tiled copy of the
//! weights is never made.
//!
//! Why the results are candle's: activations are quantized to Q8_K by
//! candle's own quantizer; the integer part of every product (a sub-block's
//! sum of weight times activation, or a vector lane's scaled sum) is exact
//! however it is added up; and the float part repeats candle's operations on
//! the same operands in the same order, fused multiply-adds included:
//! - Q4_K, every row count (candle's tiled kernels, which share one order at
//!   every instruction-set level): for each 256-value block and each of its
//!   8 sub-blocks, `acc = fma(isum, (d * scale) * d_act, acc)` then
//!   `acc = fma(-(dmin * min), d_act * bsum, acc)`;
//! - Q6_K, one row (candle's `vec_dot_q6k_q8k`): eight lane sums per block,
//!   `lane = fma(d_act * d, lane_isum, lane)`, then the lanes added as its
//!   `hsum_float_8` adds them;
//! - Q6_K, several rows of a matrix of whole 16-row tiles (candle's tiled
//!   kernels, one order at every instruction-set level): for each block and
//!   each of its 16 sub-blocks, `acc = fma(isum - 32 * bsum, (d * scale) *
//!   d_act, acc)`.
//!
//! Those are candle's x86 kernels with AVX2 and FMA; elsewhere candle takes
//! other paths with another order, so the constructors return `None` there
//! and the weights stay with candle. The portable code below computes the
//! same operations one by one: it spells the order out, and the tests hold
//! the vector code to it. The vector code is AVX-512 VNNI where the CPU has
//! it (as candle's is there), AVX2 otherwise.

use std::sync::Arc;

use candle_core::quantized::k_quants::{BlockQ4K, BlockQ6K, BlockQ8K, GgmlType};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Result, Tensor};

use super::Workers;

/// Values per K-quant block.
const QK_K: usize = 256;
/// Weight rows per Q4_K tile: one AVX-512 vector of f32, two of AVX2.
const TILE: usize = 16;
/// Activation rows a Q4_K tile is multiplied with at a time.
const MAX_ACTS: usize = 4;

/// One Q4_K block as GGUF stores it: f16 scale and min scale, eight 6-bit
/// scales and eight 6-bit mins packed in 12 bytes, then 256 4-bit values
/// (byte `32c + j` holds value `64c + j` low and `64c + 32 + j` high).
#[repr(C)]
struct Q4KBlock {
    d: u16,
    dmin: u16,
    scales: [u8; 12],
    qs: [u8; QK_K / 2],
}
const _: () = assert!(std::mem::size_of::<Q4KBlock>() == std::mem::size_of::<BlockQ4K>());

/// One Q6_K block: low four bits, high two bits, sixteen signed scales (one
/// per 16 values) and an f16 scale.
#[repr(C)]
struct Q6KBlock {
    ql: [u8; QK_K / 2],
    qh: [u8; QK_K / 4],
    scales: [i8; QK_K / 16],
    d: u16,
}
const _: () = assert!(std::mem::size_of::<Q6KBlock>() == std::mem::size_of::<BlockQ6K>());

/// One Q8_K block: the layout of candle's `BlockQ8K`, whose fields are
/// private. `bsums` are the sums of each 16 values.
#[repr(C)]
struct Q8KBlock {
    d: f32,
    qs: [i8; QK_K],
    bsums: [i16; QK_K / 16],
}
const _: () = assert!(std::mem::size_of::<Q8KBlock>() == std::mem::size_of::<BlockQ8K>());
const _: () = assert!(std::mem::align_of::<Q8KBlock>() == std::mem::align_of::<BlockQ8K>());

/// 16 weight rows times one 256-value block of Q4_K, laid out so that one
/// vector instruction works on all 16 rows.
#[repr(C, align(64))]
struct Q4KTile {
    d: [f32; TILE],
    dmin: [f32; TILE],
    /// `scales[s][r]`: sub-block `s`'s 6-bit scale in row `r`.
    scales: [[u8; TILE]; 8],
    mins: [[u8; TILE]; 8],
    /// Groups of 8 values: `qs[(g * 16 + r) * 4 + j]` holds value `8g + j`
    /// of row `r` in its low nibble and value `8g + j + 4` in its high one.
    qs: [u8; QK_K / 8 * TILE * 4],
}

/// Instruction sets with a kernel here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Isa {
    Portable,
    Avx2,
    Avx512Vnni,
}

/// Whether candle's x86 kernels, whose float order ours repeat, are the ones
/// it runs on this CPU.
fn candle_uses_x86_kernels() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The fastest kernel this CPU runs.
fn best_isa() -> Isa {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512vnni")
        {
            return Isa::Avx512Vnni;
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            return Isa::Avx2;
        }
    }
    Isa::Portable
}

fn f16_to_f32(bits: u16) -> f32 {
    half::f16::from_bits(bits).to_f32()
}

/// GGUF's unpacking of sub-block `j`'s 6-bit scale and min.
fn scale_min(j: usize, s: &[u8; 12]) -> (u8, u8) {
    if j < 4 {
        (s[j] & 63, s[j + 4] & 63)
    } else {
        ((s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4), (s[j + 4] >> 4) | ((s[j] >> 6) << 4))
    }
}

/// The bytes of a 2-D CPU tensor of `dtype` with `cols` a multiple of 256,
/// as blocks of `T`; `None` otherwise.
fn blocks_of<T>(weights: &QTensor, dtype: GgmlDType) -> Option<(&[T], usize, usize)> {
    if weights.dtype() != dtype || !weights.device().is_cpu() {
        return None;
    }
    let (rows, cols) = weights.shape().dims2().ok()?;
    if !cols.is_multiple_of(QK_K) {
        return None;
    }
    let bytes = match weights.data().ok()? {
        std::borrow::Cow::Borrowed(b) => b,
        std::borrow::Cow::Owned(_) => return None,
    };
    let aligned = (bytes.as_ptr() as usize).is_multiple_of(std::mem::align_of::<T>());
    let n = rows * cols / QK_K;
    if !aligned || bytes.len() != n * std::mem::size_of::<T>() {
        return None;
    }
    // SAFETY: size and alignment checked; `T` is plain bytes with GGUF's
    // layout.
    Some((unsafe { std::slice::from_raw_parts(bytes.as_ptr() as *const T, n) }, rows, cols))
}

/// `m` rows of activations quantized to Q8_K by candle's quantizer, rows
/// shared among the worker threads.
fn quantize_rows(lhs: &[f32], cols: usize) -> Vec<BlockQ8K> {
    let kb = cols / QK_K;
    let m = lhs.len() / cols;
    let mut q = vec![BlockQ8K::zeros(); m * kb];
    if m == 1 {
        BlockQ8K::from_float(lhs, &mut q);
        return q;
    }
    let q_ptr = q.as_mut_ptr() as usize;
    Workers::get().run(m, |range| {
        for i in range {
            // SAFETY: row i's blocks are written by exactly one worker.
            let dst = unsafe { std::slice::from_raw_parts_mut((q_ptr as *mut BlockQ8K).add(i * kb), kb) };
            BlockQ8K::from_float(&lhs[i * cols..(i + 1) * cols], dst);
        }
    });
    q
}

fn as_q8k(q: &[BlockQ8K]) -> &[Q8KBlock] {
    // SAFETY: same size and alignment (asserted above), plain data.
    unsafe { std::slice::from_raw_parts(q.as_ptr() as *const Q8KBlock, q.len()) }
}

/// `x (..., cols)` to a flat f32 vector, checking the width.
fn flat_input(x: &Tensor, cols: usize, what: &str) -> Result<(Vec<f32>, Vec<usize>)> {
    let mut dims = x.dims().to_vec();
    if dims.pop() != Some(cols) {
        candle_core::bail!("{what} product: input {:?} does not end in {cols}", x.shape())
    }
    Ok((x.flatten_all()?.to_vec1::<f32>()?, dims))
}

/// A Q4_K weight matrix of `rows` outputs by `cols` inputs, tiled.
pub struct Q4KMatrix {
    /// `tiles[t * blocks + b]`: rows `16t..16t + 16`, values `256b..256b + 256`.
    tiles: Vec<Q4KTile>,
    rows: usize,
    cols: usize,
}

impl Q4KMatrix {
    /// Tiles `weights`; `None` unless they are a 2-D Q4_K CPU tensor whose
    /// products candle computes with the kernels ours repeat (x86-64 with
    /// AVX2 and FMA, rows a multiple of 16). The tensor is not kept.
    pub fn new(weights: &QTensor) -> Option<Q4KMatrix> {
        let (blocks, rows, cols) = blocks_of::<Q4KBlock>(weights, GgmlDType::Q4K)?;
        if !candle_uses_x86_kernels() || !rows.is_multiple_of(TILE) {
            return None;
        }
        let kb = cols / QK_K;
        let n_tiles = rows / TILE * kb;
        let mut tiles: Vec<Q4KTile> = Vec::with_capacity(n_tiles);
        let ptr = tiles.as_mut_ptr() as usize;
        Workers::get().run(n_tiles, |range| {
            for i in range {
                let (t, b) = (i / kb, i % kb);
                let rows = (0..TILE).map(|r| &blocks[(t * TILE + r) * kb + b]);
                // SAFETY: within capacity; each tile written by one worker.
                unsafe { (ptr as *mut Q4KTile).add(i).write(tile_of(rows)) };
            }
        });
        // SAFETY: every tile was written above.
        unsafe { tiles.set_len(n_tiles) };
        Some(Q4KMatrix { tiles, rows, cols })
    }

    /// `x (..., cols)` times the transposed weights: `(..., rows)`, as
    /// `QMatMul::forward`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (lhs, mut dims) = flat_input(x, self.cols, "Q4_K")?;
        let mut out = vec![0f32; lhs.len() / self.cols * self.rows];
        self.matmul(&lhs, &mut out);
        dims.push(self.rows);
        Tensor::from_vec(out, dims, x.device())
    }

    /// `out (m, rows) = lhs (m, cols) x weights^T`.
    pub fn matmul(&self, lhs: &[f32], out: &mut [f32]) {
        self.matmul_with(lhs, out, best_isa())
    }

    /// [`Q4KMatrix::matmul`] with the portable code even where vector
    /// instructions are available: for tests.
    pub fn matmul_portable(&self, lhs: &[f32], out: &mut [f32]) {
        self.matmul_with(lhs, out, Isa::Portable)
    }

    /// [`Q4KMatrix::matmul`] with the AVX2 code even where AVX-512 is
    /// available: for tests. `false` where AVX2 is not available.
    pub fn matmul_avx2(&self, lhs: &[f32], out: &mut [f32]) -> bool {
        let avx2 = best_isa() != Isa::Portable;
        if avx2 {
            self.matmul_with(lhs, out, Isa::Avx2);
        }
        avx2
    }

    fn matmul_with(&self, lhs: &[f32], out: &mut [f32], isa: Isa) {
        let kb = self.cols / QK_K;
        let m = lhs.len() / self.cols;
        assert_eq!(lhs.len(), m * self.cols, "lhs is not whole rows");
        assert_eq!(out.len(), m * self.rows, "output size");
        let quantized = quantize_rows(lhs, self.cols);
        let acts = as_q8k(&quantized);
        let m_units = m.div_ceil(MAX_ACTS);
        let n = self.rows;
        let out_ptr = out.as_mut_ptr() as usize;
        // Units are (tile, up to 4 activation rows), tile-major so that a
        // worker's consecutive units reuse a tile from cache.
        Workers::get().run(n / TILE * m_units, |range| {
            for unit in range {
                let (t, first) = (unit / m_units, unit % m_units * MAX_ACTS);
                let count = (m - first).min(MAX_ACTS);
                let tiles = &self.tiles[t * kb..(t + 1) * kb];
                let mut rows: [&[Q8KBlock]; MAX_ACTS] = [&acts[..0]; MAX_ACTS];
                for (i, r) in rows.iter_mut().enumerate().take(count) {
                    *r = &acts[(first + i) * kb..(first + i + 1) * kb];
                }
                let mut acc = [[0f32; TILE]; MAX_ACTS];
                // The vector kernels are compiled for each count of
                // activation rows, so that their sums stay in registers.
                macro_rules! kernel {
                    ($f:path) => {
                        match count {
                            1 => $f(tiles, [rows[0]], &mut acc),
                            2 => $f(tiles, [rows[0], rows[1]], &mut acc),
                            3 => $f(tiles, [rows[0], rows[1], rows[2]], &mut acc),
                            _ => $f(tiles, rows, &mut acc),
                        }
                    };
                }
                match isa {
                    // SAFETY: the instruction sets were detected at run time.
                    Isa::Avx512Vnni => unsafe { kernel!(avx512::q4k_tiles) },
                    Isa::Avx2 => unsafe { kernel!(avx2::q4k_tiles) },
                    Isa::Portable => q4k_tiles_portable(tiles, &rows[..count], &mut acc),
                }
                for (i, a) in acc.iter().enumerate().take(count) {
                    // SAFETY: each (row, tile) is written by exactly one unit.
                    unsafe {
                        let dst = (out_ptr as *mut f32).add((first + i) * n + t * TILE);
                        std::ptr::copy_nonoverlapping(a.as_ptr(), dst, TILE);
                    }
                }
            }
        });
    }
}

/// The tile of 16 rows' blocks at one position.
fn tile_of<'a>(rows: impl Iterator<Item = &'a Q4KBlock>) -> Q4KTile {
    let mut tile = Q4KTile {
        d: [0.; TILE],
        dmin: [0.; TILE],
        scales: [[0; TILE]; 8],
        mins: [[0; TILE]; 8],
        qs: [0; QK_K / 8 * TILE * 4],
    };
    for (r, blk) in rows.enumerate() {
        tile.d[r] = f16_to_f32(blk.d);
        tile.dmin[r] = f16_to_f32(blk.dmin);
        for s in 0..8 {
            (tile.scales[s][r], tile.mins[s][r]) = scale_min(s, &blk.scales);
        }
        let value = |v: usize| {
            let byte = blk.qs[v / 64 * 32 + v % 32];
            if v % 64 < 32 {
                byte & 0x0f
            } else {
                byte >> 4
            }
        };
        for g in 0..QK_K / 8 {
            for j in 0..4 {
                tile.qs[(g * TILE + r) * 4 + j] = value(8 * g + j) | (value(8 * g + j + 4) << 4);
            }
        }
    }
    tile
}

/// Sum of the Q8_K values of sub-block `s` (32 values) of a Q4_K block.
fn bsum32(y: &Q8KBlock, s: usize) -> f32 {
    (y.bsums[2 * s] as i32 + y.bsums[2 * s + 1] as i32) as f32
}

/// One tile row's products with activation rows, one operation at a time:
/// `acc[a][r]` for activation row `a` and weight row `r`.
fn q4k_tiles_portable(tiles: &[Q4KTile], acts: &[&[Q8KBlock]], acc: &mut [[f32; TILE]; MAX_ACTS]) {
    for (b, t) in tiles.iter().enumerate() {
        for s in 0..8 {
            for (a, act) in acts.iter().enumerate() {
                let y = &act[b];
                for (r, acc) in acc[a].iter_mut().enumerate() {
                    let mut isum = 0i32;
                    for g in 4 * s..4 * s + 4 {
                        for j in 0..4 {
                            let byte = t.qs[(g * TILE + r) * 4 + j];
                            isum += (byte & 0x0f) as i32 * y.qs[8 * g + j] as i32;
                            isum += (byte >> 4) as i32 * y.qs[8 * g + j + 4] as i32;
                        }
                    }
                    let scale = t.d[r] * t.scales[s][r] as f32;
                    let min = t.dmin[r] * t.mins[s][r] as f32;
                    *acc = (isum as f32).mul_add(scale * y.d, *acc);
                    *acc = (-min).mul_add(y.d * bsum32(y, s), *acc);
                }
            }
        }
    }
}

/// A Q6_K weight matrix. One-row products (and rows of a decode step,
/// each as if alone) repeat candle's `vec_dot_q6k_q8k`; products of several
/// rows (prompts) repeat candle's tiled kernel (`repack_x86`), which it runs
/// for a matrix of whole 16-row tiles, from tiles unpacked on the fly: the
/// weights are held once, where candle keeps a second, tiled copy (1.5 times
/// the bytes) for prompts.
pub struct Q6KMatrix {
    weights: Arc<QTensor>,
    rows: usize,
    cols: usize,
}

impl Q6KMatrix {
    /// `None` unless `weights` is a 2-D Q6_K CPU tensor whose one-row
    /// products candle computes with the kernel ours repeats (x86-64 with
    /// AVX2 and FMA).
    pub fn new(weights: Arc<QTensor>) -> Option<Q6KMatrix> {
        let (_, rows, cols) = blocks_of::<Q6KBlock>(&weights, GgmlDType::Q6K)?;
        if !candle_uses_x86_kernels() {
            return None;
        }
        Some(Q6KMatrix { weights, rows, cols })
    }

    fn blocks(&self) -> &[Q6KBlock] {
        blocks_of::<Q6KBlock>(&self.weights, GgmlDType::Q6K).expect("checked in new").0
    }

    /// `x (..., cols)` times the transposed weights: `(..., rows)`, as
    /// `QMatMul::forward`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (lhs, mut dims) = flat_input(x, self.cols, "Q6_K")?;
        let m = lhs.len() / self.cols;
        let mut out = vec![0f32; m * self.rows];
        // candle tiles only matrices of whole tiles; others it multiplies
        // row by row with its one-row kernel.
        if m > 1 && self.rows.is_multiple_of(TILE) {
            self.matmul_tiled(&lhs, &mut out, best_isa());
        } else {
            self.rows_times(&lhs, &mut out, best_isa() != Isa::Portable);
        }
        dims.push(self.rows);
        Tensor::from_vec(out, dims, x.device())
    }

    /// Several activation rows times the weights in the order of candle's
    /// tiled kernel, with the portable code: for tests.
    pub fn matmul_tiled_portable(&self, lhs: &[f32], out: &mut [f32]) {
        self.matmul_tiled(lhs, out, Isa::Portable)
    }

    /// `out (m, rows)` in candle's tiled order: for each weight row and
    /// activation row, block after block and sub-block after sub-block,
    /// `acc = fma(isum - 32 * bsum, (d * scale) * d_act, acc)`. A worker
    /// unpacks the blocks of 16 weight rows once and multiplies them with
    /// every activation row.
    fn matmul_tiled(&self, lhs: &[f32], out: &mut [f32], isa: Isa) {
        let (kb, rows) = (self.cols / QK_K, self.rows);
        let m = lhs.len() / self.cols;
        assert!(rows.is_multiple_of(TILE), "whole tiles");
        assert_eq!(out.len(), m * rows, "output size");
        let quantized = quantize_rows(lhs, self.cols);
        let acts = as_q8k(&quantized);
        let weights = self.blocks();
        let act_rows: Vec<&[Q8KBlock]> = acts.chunks(kb).collect();
        let out_ptr = out.as_mut_ptr() as usize;
        Workers::get().run(rows / TILE, |range| {
            let mut tiles: Vec<Box<Q6KTile>> = (0..kb).map(|_| Q6KTile::new()).collect();
            for t in range {
                for (b, tile) in tiles.iter_mut().enumerate() {
                    tile.fill((0..TILE).map(|r| &weights[(t * TILE + r) * kb + b]));
                }
                let mut acc = [[0f32; TILE]; MAX_ACTS];
                for (c, y) in act_rows.chunks(MAX_ACTS).enumerate() {
                    if isa == Isa::Avx512Vnni {
                        // Up to four activation rows at a time, the kernel
                        // compiled for each count so that its sums stay in
                        // registers.
                        // SAFETY: the instruction sets were detected at run time.
                        unsafe {
                            match *y {
                                [a] => avx512::q6k_tiles(&tiles, [a], &mut acc),
                                [a, b] => avx512::q6k_tiles(&tiles, [a, b], &mut acc),
                                [a, b, c] => avx512::q6k_tiles(&tiles, [a, b, c], &mut acc),
                                [a, b, c, d] => avx512::q6k_tiles(&tiles, [a, b, c, d], &mut acc),
                                _ => unreachable!("chunks of 1 to {MAX_ACTS}"),
                            }
                        }
                    } else {
                        for (acc, y) in acc.iter_mut().zip(y) {
                            *acc = [0.0; TILE];
                            for (tile, y) in tiles.iter().zip(*y) {
                                match isa {
                                    // SAFETY: AVX2 and FMA were detected at run time.
                                    Isa::Avx2 => unsafe { avx2::q6k_tile(tile, y, acc) },
                                    _ => q6k_tile_portable(tile, y, acc),
                                }
                            }
                        }
                    }
                    for (i, acc) in acc.iter().enumerate().take(y.len()) {
                        // SAFETY: each (activation row, tile) is written by exactly one worker.
                        unsafe {
                            let dst = (out_ptr as *mut f32).add((c * MAX_ACTS + i) * rows + t * TILE);
                            std::ptr::copy_nonoverlapping(acc.as_ptr(), dst, TILE);
                        }
                    }
                }
            }
        });
    }

    /// `x (1, m, cols)` times the transposed weights, `(1, m, rows)`, each
    /// activation row computed exactly as [`Q6KMatrix::forward`] computes it
    /// alone (candle would use its tiles for several rows, which round
    /// differently), but every weight row read once for all of them: the
    /// rows of a batched decode step.
    pub fn forward_rows(&self, x: &Tensor) -> Result<Tensor> {
        let (lhs, mut dims) = flat_input(x, self.cols, "Q6_K")?;
        let mut out = vec![0f32; lhs.len() / self.cols * self.rows];
        self.rows_times(&lhs, &mut out, best_isa() != Isa::Portable);
        dims.push(self.rows);
        Tensor::from_vec(out, dims, x.device())
    }

    /// `out (rows) = weights x lhs (cols)`: one activation row.
    pub fn matvec(&self, lhs: &[f32], out: &mut [f32]) {
        self.matvec_with(lhs, out, best_isa() != Isa::Portable)
    }

    /// [`Q6KMatrix::matvec`] with the portable code: for tests.
    pub fn matvec_portable(&self, lhs: &[f32], out: &mut [f32]) {
        self.matvec_with(lhs, out, false)
    }

    fn matvec_with(&self, lhs: &[f32], out: &mut [f32], use_avx2: bool) {
        assert_eq!(lhs.len(), self.cols, "lhs is not one row");
        self.rows_times(lhs, out, use_avx2);
    }

    /// `out (m x rows)`: each of the `m` activation rows of `lhs` times the
    /// weights with the one-row kernel, every weight row read once for all.
    fn rows_times(&self, lhs: &[f32], out: &mut [f32], use_avx2: bool) {
        let (kb, rows) = (self.cols / QK_K, self.rows);
        assert_eq!(out.len(), lhs.len() / self.cols * rows, "output size");
        let quantized = quantize_rows(lhs, self.cols);
        let ys: Vec<&[Q8KBlock]> = as_q8k(&quantized).chunks(kb).collect();
        let weights = self.blocks();
        let out_ptr = out.as_mut_ptr() as usize;
        Workers::get().run(rows, |range| {
            for r in range {
                let x = &weights[r * kb..(r + 1) * kb];
                // SAFETY: each (activation, row) is written by exactly one worker.
                let store = |first: usize, dots: &[f32]| {
                    for (a, &dot) in dots.iter().enumerate() {
                        unsafe { *(out_ptr as *mut f32).add((first + a) * rows + r) = dot };
                    }
                };
                if !use_avx2 {
                    for (i, y) in ys.iter().enumerate() {
                        store(i, &[q6k_dot_portable(x, y)]);
                    }
                    continue;
                }
                // Up to four activation rows at a time: the vector kernel is
                // compiled for each count, so that its sums stay in registers.
                for (c, y) in ys.chunks(MAX_ACTS).enumerate() {
                    // SAFETY: AVX2 and FMA detected at run time.
                    let dots: &[f32] = unsafe {
                        match *y {
                            [a] => &avx2::q6k_dots(x, [a]),
                            [a, b] => &avx2::q6k_dots(x, [a, b]),
                            [a, b, c] => &avx2::q6k_dots(x, [a, b, c]),
                            [a, b, c, d] => &avx2::q6k_dots(x, [a, b, c, d]),
                            _ => unreachable!("chunks of 1 to {MAX_ACTS}"),
                        }
                    };
                    store(c * MAX_ACTS, dots);
                }
            }
        });
    }
}

/// 16 weight rows times one block of Q6_K as candle's tiled kernel holds
/// them: sub-block scales as f32, values as bytes 0..64 (stored plus 32).
#[repr(C, align(64))]
struct Q6KTile {
    /// `scales[sub][r]`: `d * scale` of sub-block `sub` (16 values) in row `r`.
    scales: [[f32; TILE]; QK_K / 16],
    /// Groups of 4 values: `qs[(g * 16 + r) * 4 + j]` is value `4g + j` of
    /// row `r`.
    qs: [u8; QK_K * TILE],
}

impl Q6KTile {
    fn new() -> Box<Q6KTile> {
        Box::new(Q6KTile { scales: [[0.0; TILE]; QK_K / 16], qs: [0; QK_K * TILE] })
    }

    /// Unpacks one block of each of 16 rows.
    fn fill<'a>(&mut self, rows: impl Iterator<Item = &'a Q6KBlock>) {
        for (r, x) in rows.enumerate() {
            let d = f16_to_f32(x.d);
            for (sub, &scale) in x.scales.iter().enumerate() {
                self.scales[sub][r] = d * scale as f32;
            }
            // Values 128h + 32t + j, as `q6k_value` reads them, in runs of
            // 32 (which the compiler turns into vector code), then placed in
            // groups of four.
            let mut values = [0u8; QK_K];
            for h in 0..2 {
                let (ql, qh) = (&x.ql[64 * h..64 * h + 64], &x.qh[32 * h..32 * h + 32]);
                let out = &mut values[128 * h..128 * h + 128];
                for j in 0..32 {
                    out[j] = (ql[j] & 0x0f) | ((qh[j] & 3) << 4);
                    out[32 + j] = (ql[32 + j] & 0x0f) | (((qh[j] >> 2) & 3) << 4);
                    out[64 + j] = (ql[j] >> 4) | (((qh[j] >> 4) & 3) << 4);
                    out[96 + j] = (ql[32 + j] >> 4) | ((qh[j] >> 6) << 4);
                }
            }
            for (g, four) in values.chunks_exact(4).enumerate() {
                self.qs[(g * TILE + r) * 4..(g * TILE + r) * 4 + 4].copy_from_slice(four);
            }
        }
    }
}

/// One tile's products with one activation block, one operation at a time,
/// added to `acc[r]` for weight row `r`.
fn q6k_tile_portable(t: &Q6KTile, y: &Q8KBlock, acc: &mut [f32; TILE]) {
    for sub in 0..QK_K / 16 {
        for (r, acc) in acc.iter_mut().enumerate() {
            let mut isum = 0i32;
            for v in 16 * sub..16 * sub + 16 {
                isum += t.qs[(v / 4 * TILE + r) * 4 + v % 4] as i32 * y.qs[v] as i32;
            }
            let f = isum as f32 - 32.0 * y.bsums[sub] as f32;
            *acc = f.mul_add(t.scales[sub][r] * y.d, *acc);
        }
    }
}

/// Value `v` (0..64, stored plus 32) of a Q6_K block.
fn q6k_value(x: &Q6KBlock, v: usize) -> u8 {
    let (h, t, j) = (v / 128, v % 128 / 32, v % 32);
    let low = x.ql[64 * h + 32 * (t % 2) + j];
    let low = if t < 2 { low & 0x0f } else { low >> 4 };
    low | (((x.qh[32 * h + j] >> (2 * t)) & 3) << 4)
}

/// candle's Q6_K x Q8_K dot product, one operation at a time: value `v`
/// goes to lane `v % 32 / 4`, as in its 8-lane vectors.
fn q6k_dot_portable(x: &[Q6KBlock], y: &[Q8KBlock]) -> f32 {
    let mut acc = [0f32; 8];
    for (xb, yb) in x.iter().zip(y) {
        let d = yb.d * f16_to_f32(xb.d);
        let mut lanes = [0i32; 8];
        for v in 0..QK_K {
            let q = q6k_value(xb, v) as i32 - 32;
            lanes[v % 32 / 4] += xb.scales[v / 16] as i32 * q * yb.qs[v] as i32;
        }
        for (a, l) in acc.iter_mut().zip(lanes) {
            *a = d.mul_add(l as f32, *a);
        }
    }
    hsum8(acc)
}

/// candle's `hsum_float_8`: halves added, then pairs, then the last two.
fn hsum8(a: [f32; 8]) -> f32 {
    let r = [a[0] + a[4], a[1] + a[5], a[2] + a[6], a[3] + a[7]];
    (r[0] + r[2]) + (r[1] + r[3])
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{bsum32, f16_to_f32, Q4KTile, Q6KBlock, Q6KTile, Q8KBlock, MAX_ACTS, QK_K, TILE};
    use std::arch::x86_64::*;

    /// Four activation bytes at `off`, in every 32-bit lane.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn bcast4(y: &Q8KBlock, off: usize) -> __m256i {
        _mm256_set1_epi32(std::ptr::read_unaligned(y.qs.as_ptr().add(off) as *const i32))
    }

    /// Eight bytes at `p` as f32.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn bytes_f32(p: *const u8) -> __m256 {
        _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(p as *const __m128i)))
    }

    /// [`super::q4k_tiles_portable`], rows 0..8 and 8..16 of a tile in two
    /// vectors.
    #[allow(clippy::needless_range_loop)] // lanes and activation rows by index
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn q4k_tiles<const N: usize>(
        tiles: &[Q4KTile],
        acts: [&[Q8KBlock]; N],
        out: &mut [[f32; TILE]; MAX_ACTS],
    ) {
        assert!(N <= MAX_ACTS && acts.iter().all(|a| a.len() >= tiles.len()));
        let n = N;
        let mask = _mm256_set1_epi8(0x0f);
        let ones = _mm256_set1_epi16(1);
        let mut acc = [[_mm256_setzero_ps(); 2]; N];
        for (b, t) in tiles.iter().enumerate() {
            for s in 0..8 {
                // 16 products per 16-bit lane, each at most 15 * 128: the
                // sums fit (30720 < 32768).
                let mut sums = [[_mm256_setzero_si256(); 2]; N];
                for g in 4 * s..4 * s + 4 {
                    let mut ylo = [_mm256_setzero_si256(); N];
                    let mut yhi = [_mm256_setzero_si256(); N];
                    for a in 0..n {
                        ylo[a] = bcast4(&acts[a][b], 8 * g);
                        yhi[a] = bcast4(&acts[a][b], 8 * g + 4);
                    }
                    for h in 0..2 {
                        let w = _mm256_load_si256(t.qs.as_ptr().add((g * TILE + 8 * h) * 4) as *const __m256i);
                        let lo = _mm256_and_si256(w, mask);
                        let hi = _mm256_and_si256(_mm256_srli_epi16(w, 4), mask);
                        for a in 0..n {
                            let p =
                                _mm256_add_epi16(_mm256_maddubs_epi16(lo, ylo[a]), _mm256_maddubs_epi16(hi, yhi[a]));
                            sums[a][h] = _mm256_add_epi16(sums[a][h], p);
                        }
                    }
                }
                for h in 0..2 {
                    let d = _mm256_load_ps(t.d.as_ptr().add(8 * h));
                    let dmin = _mm256_load_ps(t.dmin.as_ptr().add(8 * h));
                    let scale = _mm256_mul_ps(d, bytes_f32(t.scales[s].as_ptr().add(8 * h)));
                    let min = _mm256_mul_ps(dmin, bytes_f32(t.mins[s].as_ptr().add(8 * h)));
                    for a in 0..n {
                        let y = &acts[a][b];
                        let isum = _mm256_cvtepi32_ps(_mm256_madd_epi16(sums[a][h], ones));
                        let c = _mm256_mul_ps(scale, _mm256_set1_ps(y.d));
                        acc[a][h] = _mm256_fmadd_ps(isum, c, acc[a][h]);
                        let m = _mm256_set1_ps(y.d * bsum32(y, s));
                        acc[a][h] = _mm256_fnmadd_ps(min, m, acc[a][h]);
                    }
                }
            }
        }
        for a in 0..n {
            _mm256_storeu_ps(out[a].as_mut_ptr(), acc[a][0]);
            _mm256_storeu_ps(out[a].as_mut_ptr().add(8), acc[a][1]);
        }
    }

    /// [`super::q6k_tile_portable`], rows 0..8 and 8..16 of the tile in two
    /// vectors.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn q6k_tile(t: &Q6KTile, y: &Q8KBlock, acc: &mut [f32; TILE]) {
        let ones = _mm256_set1_epi16(1);
        let dall = _mm256_set1_ps(y.d);
        let mut a = [_mm256_loadu_ps(acc.as_ptr()), _mm256_loadu_ps(acc.as_ptr().add(8))];
        for sub in 0..QK_K / 16 {
            let mut isum = [_mm256_setzero_si256(); 2];
            for g in 4 * sub..4 * sub + 4 {
                let yv = bcast4(y, 4 * g);
                for (h, isum) in isum.iter_mut().enumerate() {
                    let w = _mm256_load_si256(t.qs.as_ptr().add((g * TILE + 8 * h) * 4) as *const __m256i);
                    // Values below 64 times bytes: the 16-bit pair sums fit.
                    *isum = _mm256_add_epi32(*isum, _mm256_madd_epi16(_mm256_maddubs_epi16(w, yv), ones));
                }
            }
            let bias = _mm256_set1_ps(32.0 * y.bsums[sub] as f32);
            for (h, (a, isum)) in a.iter_mut().zip(isum).enumerate() {
                let scale = _mm256_load_ps(t.scales[sub].as_ptr().add(8 * h));
                let f = _mm256_sub_ps(_mm256_cvtepi32_ps(isum), bias);
                *a = _mm256_fmadd_ps(f, _mm256_mul_ps(scale, dall), *a);
            }
        }
        _mm256_storeu_ps(acc.as_mut_ptr(), a[0]);
        _mm256_storeu_ps(acc.as_mut_ptr().add(8), a[1]);
    }

    /// [`super::q6k_dot_portable`] of one weight row with each of `N`
    /// activation rows: each row's vector lanes get the same values, and its
    /// sums the same float operations, as in candle's kernel for that row
    /// alone; the weights are unpacked once for all the rows.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn q6k_dots<const N: usize>(x: &[Q6KBlock], ys: [&[Q8KBlock]; N]) -> [f32; N] {
        assert!(ys.iter().all(|y| y.len() >= x.len()));
        let m4 = _mm256_set1_epi8(0x0f);
        let m2 = _mm256_set1_epi8(3);
        let m32 = _mm256_set1_epi8(32);
        let mut acc = [_mm256_setzero_ps(); N];
        for (b, xb) in x.iter().enumerate() {
            let scales = _mm_loadu_si128(xb.scales.as_ptr() as *const __m128i);
            let mut sumi = [_mm256_setzero_si256(); N];
            for h in 0..2 {
                let ql0 = _mm256_loadu_si256(xb.ql.as_ptr().add(64 * h) as *const __m256i);
                let ql1 = _mm256_loadu_si256(xb.ql.as_ptr().add(64 * h + 32) as *const __m256i);
                let qh = _mm256_loadu_si256(xb.qh.as_ptr().add(32 * h) as *const __m256i);
                // The high two bits of values 32t..32t + 32 are bits 2t, 2t + 1.
                let high = [
                    _mm256_slli_epi16(_mm256_and_si256(qh, m2), 4),
                    _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m2), 4),
                    _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m2), 4),
                    _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m2), 4),
                ];
                let q = [
                    _mm256_or_si256(_mm256_and_si256(ql0, m4), high[0]),
                    _mm256_or_si256(_mm256_and_si256(ql1, m4), high[1]),
                    _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4), high[2]),
                    _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4), high[3]),
                ];
                for (t, q) in q.into_iter().enumerate() {
                    // Bytes 0..16 of the 32 values use scale 2i, 16..32 2i + 1.
                    let i = (8 * h + 2 * t) as i64;
                    let pick = _mm_set_epi64x((i + 1) * 0x0101_0101_0101_0101, i * 0x0101_0101_0101_0101);
                    let sc = _mm256_cvtepi8_epi16(_mm_shuffle_epi8(scales, pick));
                    for (sumi, y) in sumi.iter_mut().zip(&ys) {
                        let yv = _mm256_loadu_si256(y[b].qs.as_ptr().add(128 * h + 32 * t) as *const __m256i);
                        // (q - 32) * y in pairs: exact in 16 bits.
                        let p = _mm256_sub_epi16(_mm256_maddubs_epi16(q, yv), _mm256_maddubs_epi16(m32, yv));
                        *sumi = _mm256_add_epi32(*sumi, _mm256_madd_epi16(sc, p));
                    }
                }
            }
            let xd = f16_to_f32(xb.d);
            for ((acc, sumi), y) in acc.iter_mut().zip(sumi).zip(&ys) {
                let d = y[b].d * xd;
                *acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), *acc);
            }
        }
        acc.map(|a| {
            let mut lanes = [0f32; 8];
            _mm256_storeu_ps(lanes.as_mut_ptr(), a);
            super::hsum8(lanes)
        })
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{bsum32, Q4KTile, Q6KTile, Q8KBlock, MAX_ACTS, QK_K, TILE};
    use std::arch::x86_64::*;

    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn bcast4(y: &Q8KBlock, off: usize) -> __m512i {
        _mm512_set1_epi32(std::ptr::read_unaligned(y.qs.as_ptr().add(off) as *const i32))
    }

    /// Sixteen bytes at `p` as f32.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn bytes_f32(p: *const u8) -> __m512 {
        _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(p as *const __m128i)))
    }

    /// [`super::q4k_tiles_portable`], a tile's 16 rows in one vector.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni,fma")]
    pub unsafe fn q4k_tiles<const N: usize>(
        tiles: &[Q4KTile],
        acts: [&[Q8KBlock]; N],
        out: &mut [[f32; TILE]; MAX_ACTS],
    ) {
        assert!(N <= MAX_ACTS && acts.iter().all(|a| a.len() >= tiles.len()));
        let n = N;
        let mask = _mm512_set1_epi8(0x0f);
        let mut acc = [_mm512_setzero_ps(); N];
        for (b, t) in tiles.iter().enumerate() {
            let d = _mm512_load_ps(t.d.as_ptr());
            let dmin = _mm512_load_ps(t.dmin.as_ptr());
            for s in 0..8 {
                // Low and high nibbles in separate sums: two chains of
                // dependent instructions instead of one.
                let mut lo_sum = [_mm512_setzero_si512(); N];
                let mut hi_sum = [_mm512_setzero_si512(); N];
                for g in 4 * s..4 * s + 4 {
                    let w = _mm512_load_si512(t.qs.as_ptr().add(g * TILE * 4) as *const __m512i);
                    let lo = _mm512_and_si512(w, mask);
                    let hi = _mm512_and_si512(_mm512_srli_epi16(w, 4), mask);
                    for a in 0..n {
                        let y = &acts[a][b];
                        lo_sum[a] = _mm512_dpbusd_epi32(lo_sum[a], lo, bcast4(y, 8 * g));
                        hi_sum[a] = _mm512_dpbusd_epi32(hi_sum[a], hi, bcast4(y, 8 * g + 4));
                    }
                }
                let scale = _mm512_mul_ps(d, bytes_f32(t.scales[s].as_ptr()));
                let min = _mm512_mul_ps(dmin, bytes_f32(t.mins[s].as_ptr()));
                for a in 0..n {
                    let y = &acts[a][b];
                    let isum = _mm512_cvtepi32_ps(_mm512_add_epi32(lo_sum[a], hi_sum[a]));
                    let c = _mm512_mul_ps(scale, _mm512_set1_ps(y.d));
                    acc[a] = _mm512_fmadd_ps(isum, c, acc[a]);
                    let m = _mm512_set1_ps(y.d * bsum32(y, s));
                    acc[a] = _mm512_fnmadd_ps(min, m, acc[a]);
                }
            }
        }
        for a in 0..n {
            _mm512_storeu_ps(out[a].as_mut_ptr(), acc[a]);
        }
    }

    /// [`super::q6k_tile_portable`] over all blocks of 16 weight rows
    /// (`tiles`) for `N` activation rows (`out[a]` for row `a`), the 16
    /// weight rows in one vector: sums stay in registers from the first block
    /// to the last, and each weight vector is loaded once for all `N` rows.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni,fma")]
    pub unsafe fn q6k_tiles<const N: usize>(tiles: &[Box<Q6KTile>], ys: [&[Q8KBlock]; N], out: &mut [[f32; TILE]]) {
        assert!(out.len() >= N && ys.iter().all(|y| y.len() >= tiles.len()));
        let mut acc = [_mm512_setzero_ps(); N];
        for (b, t) in tiles.iter().enumerate() {
            for sub in 0..QK_K / 16 {
                let mut isum = [_mm512_setzero_si512(); N];
                for g in 4 * sub..4 * sub + 4 {
                    let w = _mm512_load_si512(t.qs.as_ptr().add(g * TILE * 4) as *const __m512i);
                    for (isum, y) in isum.iter_mut().zip(&ys) {
                        *isum = _mm512_dpbusd_epi32(*isum, w, bcast4(&y[b], 4 * g));
                    }
                }
                let scale = _mm512_load_ps(t.scales[sub].as_ptr());
                for ((acc, isum), y) in acc.iter_mut().zip(isum).zip(&ys) {
                    let y = &y[b];
                    let f = _mm512_sub_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(32.0 * y.bsums[sub] as f32));
                    *acc = _mm512_fmadd_ps(f, _mm512_mul_ps(scale, _mm512_set1_ps(y.d)), *acc);
                }
            }
        }
        for (out, acc) in out.iter_mut().zip(acc) {
            _mm512_storeu_ps(out.as_mut_ptr(), acc);
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod avx2 {
    use super::{Q4KTile, Q6KBlock, Q6KTile, Q8KBlock, MAX_ACTS, TILE};
    pub unsafe fn q4k_tiles<const N: usize>(_: &[Q4KTile], _: [&[Q8KBlock]; N], _: &mut [[f32; TILE]; MAX_ACTS]) {
        unreachable!("AVX2 is only detected on x86_64")
    }
    pub unsafe fn q6k_dots<const N: usize>(_: &[Q6KBlock], _: [&[Q8KBlock]; N]) -> [f32; N] {
        unreachable!("AVX2 is only detected on x86_64")
    }
    pub unsafe fn q6k_tile(_: &Q6KTile, _: &Q8KBlock, _: &mut [f32; TILE]) {
        unreachable!("AVX2 is only detected on x86_64")
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod avx512 {
    use super::{Q4KTile, Q6KTile, Q8KBlock, MAX_ACTS, TILE};
    pub unsafe fn q4k_tiles<const N: usize>(_: &[Q4KTile], _: [&[Q8KBlock]; N], _: &mut [[f32; TILE]; MAX_ACTS]) {
        unreachable!("AVX-512 is only detected on x86_64")
    }
    pub unsafe fn q6k_tiles<const N: usize>(_: &[Box<Q6KTile>], _: [&[Q8KBlock]; N], _: &mut [[f32; TILE]]) {
        unreachable!("AVX-512 is only detected on x86_64")
    }
}
