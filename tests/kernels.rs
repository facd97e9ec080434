//! Our Q5_0, Q8_0, Q4_K and Q6_K kernels give bit for bit what candle's
//! `QMatMul` gives, on random matrices of awkward shapes and on real weights
//! of the 0.5B (Q5_0, Q8_0) and 1.5B (Q4_K, Q6_K) models.

mod common;

use std::sync::Arc;

use candle_core::quantized::{gguf_file, GgmlDType, QMatMul, QTensor};
use candle_core::{Device, Module, Tensor};
use polybrief::engine::kernels::{Q4KMatrix, Q5_0Matrix, Q6KMatrix, Q8_0Matrix};

/// Deterministic pseudo-random values in [-1, 1) with a few large ones, as
/// activations have.
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|i| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let v = ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0;
            if i % 97 == 0 {
                v * 20.0
            } else {
                v
            }
        })
        .collect()
}

/// Compares every path of our kernel with candle's on `m` activation rows.
fn assert_same(weights: Arc<QTensor>, m: usize, seed: u64) {
    let (rows, cols) = weights.shape().dims2().unwrap();
    let ours = Q5_0Matrix::new(weights.clone()).expect("a Q5_0 matrix");
    let candle = QMatMul::from_arc(weights).unwrap();
    let lhs = values(m * cols, seed);
    let x = Tensor::from_vec(lhs.clone(), (1, m, cols), &Device::Cpu).unwrap();
    let expected: Vec<f32> = candle.forward(&x).unwrap().flatten_all().unwrap().to_vec1().unwrap();
    let got: Vec<f32> = ours.forward(&x).unwrap().flatten_all().unwrap().to_vec1().unwrap();
    let mut portable = vec![0f32; m * rows];
    ours.matmul_portable(&lhs, &mut portable);
    assert_eq!(expected.len(), m * rows);
    for (i, e) in expected.iter().enumerate() {
        assert_eq!(got[i].to_bits(), e.to_bits(), "({rows}x{cols}, m={m}) element {i}: {} vs candle {e}", got[i]);
        assert_eq!(portable[i].to_bits(), e.to_bits(), "scalar path, element {i}");
    }
}

#[test]
fn random_q5_0_matches_candle() {
    // 896 = 28 blocks (groups of 8 and a tail), 4864 = 152 blocks, 64 = 2.
    for (rows, cols) in [(37, 896), (5, 4864), (130, 64)] {
        let w = Tensor::from_vec(values(rows * cols, rows as u64), (rows, cols), &Device::Cpu).unwrap();
        let q = Arc::new(QTensor::quantize(&w, GgmlDType::Q5_0).unwrap());
        for m in [1, 2, 7] {
            assert_same(q.clone(), m, (m * cols) as u64);
        }
    }
}

#[test]
fn other_types_are_left_to_candle() {
    let w = Tensor::from_vec(values(8 * 256, 3), (8, 256), &Device::Cpu).unwrap();
    for dtype in [GgmlDType::Q8_0, GgmlDType::Q4K] {
        assert!(Q5_0Matrix::new(Arc::new(QTensor::quantize(&w, dtype).unwrap())).is_none());
    }
}

#[test]
fn real_q5_0_weights_match_candle() {
    let path = common::model_path(common::FAST_MODEL);
    let mut file = std::fs::File::open(&path).unwrap();
    let content = gguf_file::Content::read(&mut file).unwrap();
    let mut checked = 0;
    for name in [
        "blk.0.attn_q.weight",
        "blk.0.attn_k.weight",
        "blk.3.ffn_up.weight",
        "blk.3.ffn_down.weight",
        "blk.23.attn_output.weight",
    ] {
        let t = Arc::new(content.tensor(&mut file, name, &Device::Cpu).unwrap());
        if t.dtype() != GgmlDType::Q5_0 {
            continue;
        }
        for m in [1, 9] {
            assert_same(t.clone(), m, checked as u64 + 11);
        }
        checked += 1;
    }
    assert!(checked >= 3, "expected mostly Q5_0 weights in the 0.5B file, found {checked}");
}

/// Candle's product of `m` pseudo-random activation rows with `weights`:
/// the activations and the result.
fn candle_product(weights: &Arc<QTensor>, m: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let cols = weights.shape().dims2().unwrap().1;
    let lhs = values(m * cols, seed);
    let x = Tensor::from_vec(lhs.clone(), (1, m, cols), &Device::Cpu).unwrap();
    let candle = QMatMul::from_arc(weights.clone()).unwrap();
    (lhs, candle.forward(&x).unwrap().flatten_all().unwrap().to_vec1().unwrap())
}

fn assert_bits(got: &[f32], expected: &[f32], what: &str) {
    assert_eq!(got.len(), expected.len(), "{what}: length");
    for (i, (g, e)) in got.iter().zip(expected).enumerate() {
        assert_eq!(g.to_bits(), e.to_bits(), "{what}: element {i}: {g} vs candle {e}");
    }
}

/// Compares every path of our Q4_K kernel with candle's on `m` rows.
fn assert_same_q4k(weights: Arc<QTensor>, m: usize, seed: u64, name: &str) {
    let (rows, cols) = weights.shape().dims2().unwrap();
    let ours = Q4KMatrix::new(&weights).expect("a Q4_K matrix");
    let (lhs, expected) = candle_product(&weights, m, seed);
    let what = |path: &str| format!("Q4_K {name} ({rows}x{cols}), m={m}, {path}");
    let x = Tensor::from_vec(lhs.clone(), (1, m, cols), &Device::Cpu).unwrap();
    let got: Vec<f32> = ours.forward(&x).unwrap().flatten_all().unwrap().to_vec1().unwrap();
    assert_bits(&got, &expected, &what("forward"));
    let mut out = vec![0f32; m * rows];
    if ours.matmul_avx2(&lhs, &mut out) {
        assert_bits(&out, &expected, &what("AVX2"));
    }
    ours.matmul_portable(&lhs, &mut out);
    assert_bits(&out, &expected, &what("portable"));
}

/// Compares our Q6_K kernels with candle's on one row, the product of `m`
/// rows (candle's tiled order where the rows make whole tiles), and `m` rows
/// taken one by one.
fn assert_same_q6k(weights: Arc<QTensor>, m: usize, seed: u64, name: &str) {
    let (rows, cols) = weights.shape().dims2().unwrap();
    let ours = Q6KMatrix::new(weights.clone()).expect("a Q6_K matrix");
    let (lhs, expected) = candle_product(&weights, m, seed);
    let what = |path: &str| format!("Q6_K {name} ({rows}x{cols}), m={m}, {path}");
    let x = Tensor::from_vec(lhs.clone(), (1, m, cols), &Device::Cpu).unwrap();
    let got: Vec<f32> = ours.forward(&x).unwrap().flatten_all().unwrap().to_vec1().unwrap();
    assert_bits(&got, &expected, &what("forward"));
    if m == 1 {
        let mut out = vec![0f32; rows];
        ours.matvec(&lhs, &mut out);
        assert_bits(&out, &expected, &what("matvec"));
        ours.matvec_portable(&lhs, &mut out);
        assert_bits(&out, &expected, &what("portable"));
    } else if rows % 16 == 0 {
        let mut out = vec![0f32; m * rows];
        ours.matmul_tiled_portable(&lhs, &mut out);
        assert_bits(&out, &expected, &what("tiled portable"));
    }
    // Rows of a batched decode step: each row as candle multiplies it alone.
    let alone: Vec<f32> = (0..m)
        .flat_map(|i| {
            let row = Tensor::from_vec(lhs[i * cols..(i + 1) * cols].to_vec(), (1, 1, cols), &Device::Cpu).unwrap();
            let candle = QMatMul::from_arc(weights.clone()).unwrap();
            candle.forward(&row).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap()
        })
        .collect();
    let got: Vec<f32> = ours.forward_rows(&x).unwrap().flatten_all().unwrap().to_vec1().unwrap();
    assert_bits(&got, &alone, &what("forward_rows"));
}

#[test]
fn random_k_quants_match_candle() {
    // 256 = one block per row, 1280 = five; 16 and 48 rows = one and three
    // tiles; 1, 2, 3, 5 and 9 rows of activations (groups of 4 and tails).
    for (rows, cols) in [(16, 256), (48, 1280)] {
        let w = Tensor::from_vec(values(rows * cols, rows as u64), (rows, cols), &Device::Cpu).unwrap();
        let q4k = Arc::new(QTensor::quantize(&w, GgmlDType::Q4K).unwrap());
        let q6k = Arc::new(QTensor::quantize(&w, GgmlDType::Q6K).unwrap());
        for m in [1, 2, 3, 5, 9] {
            assert_same_q4k(q4k.clone(), m, (m * cols) as u64, "random");
            assert_same_q6k(q6k.clone(), m, (m * cols) as u64 + 1, "random");
        }
    }
    // Q6_K: a row count that is no multiple of 16 or even of 2.
    let w = Tensor::from_vec(values(7 * 512, 7), (7, 512), &Device::Cpu).unwrap();
    let q6k = Arc::new(QTensor::quantize(&w, GgmlDType::Q6K).unwrap());
    for m in [1, 3] {
        assert_same_q6k(q6k.clone(), m, 77 + m as u64, "random");
    }
}

#[test]
fn k_quant_kernels_refuse_other_types() {
    let w = Tensor::from_vec(values(16 * 256, 5), (16, 256), &Device::Cpu).unwrap();
    for dtype in [GgmlDType::Q8_0, GgmlDType::Q5_0, GgmlDType::Q6K] {
        assert!(Q4KMatrix::new(&QTensor::quantize(&w, dtype).unwrap()).is_none(), "{dtype:?}");
    }
    for dtype in [GgmlDType::Q8_0, GgmlDType::Q5_0, GgmlDType::Q4K] {
        let q = Arc::new(QTensor::quantize(&w, dtype).unwrap());
        assert!(Q6KMatrix::new(q).is_none(), "{dtype:?}");
    }
}

#[test]
fn real_k_quant_weights_match_candle() {
    let path = common::model_path("qwen2.5-coder-1.5b-instruct-q4_k_m");
    let mut file = std::fs::File::open(&path).unwrap();
    let content = gguf_file::Content::read(&mut file).unwrap();
    let mut checked = [0, 0];
    for layer in [0, 13, 27] {
        for part in ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_down"] {
            let name = format!("blk.{layer}.{part}.weight");
            let t = Arc::new(content.tensor(&mut file, &name, &Device::Cpu).unwrap());
            for m in [1, 64] {
                let seed = (layer * 100 + m) as u64;
                match t.dtype() {
                    GgmlDType::Q4K => assert_same_q4k(t.clone(), m, seed, &name),
                    GgmlDType::Q6K => assert_same_q6k(t.clone(), m, seed, &name),
                    other => panic!("{name} is {other:?}, expected Q4_K or Q6_K"),
                }
            }
            checked[(t.dtype() == GgmlDType::Q6K) as usize] += 1;
        }
    }
    assert!(checked[0] >= 9 && checked[1] >= 3, "Q4_K and Q6_K tensors checked: {checked:?}");
}

/// Compares our Q8_0 kernel with candle's on `m` rows at once and on each
/// row alone (a batched decode step must give each row's own bits).
fn assert_same_q8_0(weights: Arc<QTensor>, m: usize, seed: u64, name: &str) {
    let (rows, cols) = weights.shape().dims2().unwrap();
    let Some(ours) = Q8_0Matrix::new(weights.clone()) else {
        // No AVX2 and FMA: candle's kernel does the work.
        return;
    };
    let (lhs, expected) = candle_product(&weights, m, seed);
    let x = Tensor::from_vec(lhs.clone(), (1, m, cols), &Device::Cpu).unwrap();
    let got: Vec<f32> = ours.forward(&x).unwrap().flatten_all().unwrap().to_vec1().unwrap();
    assert_bits(&got, &expected, &format!("Q8_0 {name} ({rows}x{cols}), m={m}"));
    for i in 0..m {
        let row = Tensor::from_vec(lhs[i * cols..(i + 1) * cols].to_vec(), (1, 1, cols), &Device::Cpu).unwrap();
        let alone: Vec<f32> = ours.forward(&row).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        assert_bits(&alone, &expected[i * rows..(i + 1) * rows], &format!("Q8_0 {name}, row {i} alone"));
    }
}

#[test]
fn random_q8_0_matches_candle() {
    // 896 = 28 blocks, 64 = 2; 1 to 9 activation rows (passes of 4 and tails).
    for (rows, cols) in [(37, 896), (130, 64)] {
        let w = Tensor::from_vec(values(rows * cols, rows as u64 + 5), (rows, cols), &Device::Cpu).unwrap();
        let q = Arc::new(QTensor::quantize(&w, GgmlDType::Q8_0).unwrap());
        for m in [1, 2, 3, 4, 5, 9] {
            assert_same_q8_0(q.clone(), m, (m * cols) as u64 + 3, "random");
        }
    }
    let w = Tensor::from_vec(values(8 * 256, 3), (8, 256), &Device::Cpu).unwrap();
    for dtype in [GgmlDType::Q5_0, GgmlDType::Q4K, GgmlDType::Q6K] {
        assert!(Q8_0Matrix::new(Arc::new(QTensor::quantize(&w, dtype).unwrap())).is_none(), "{dtype:?}");
    }
}

#[test]
fn real_q8_0_weights_match_candle() {
    let path = common::model_path(common::FAST_MODEL);
    let mut file = std::fs::File::open(&path).unwrap();
    let content = gguf_file::Content::read(&mut file).unwrap();
    for name in ["output.weight", "blk.0.attn_v.weight"] {
        let t = Arc::new(content.tensor(&mut file, name, &Device::Cpu).unwrap());
        assert_eq!(t.dtype(), GgmlDType::Q8_0, "{name}");
        for m in [1, 4, 6] {
            assert_same_q8_0(t.clone(), m, m as u64 + 21, name);
        }
    }
}
