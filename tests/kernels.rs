//! Our Q5_0 kernel gives bit for bit what candle's `QMatMul` gives, on
//! random matrices of awkward shapes and on real weights of the 0.5B model.

mod common;

use std::sync::Arc;

use candle_core::quantized::{gguf_file, GgmlDType, QMatMul, QTensor};
use candle_core::{Device, Module, Tensor};
use polybrief::engine::kernels::Q5_0Matrix;

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
        assert_eq!(
            got[i].to_bits(),
            e.to_bits(),
            "({rows}x{cols}, m={m}) element {i}: {} vs candle {e}",
            got[i]
        );
        assert_eq!(portable[i].to_bits(), e.to_bits(), "scalar path, element {i}");
    }
}

#[test]
fn random_q5_0_matches_candle() {
    // 896 = 28 blocks (groups of 8 and a tail), 4864 = 152 blocks, 64 = 2.
    for (rows, cols) in [(37, 896), (5, 4864), (130, 64)] {
        let w =
            Tensor::from_vec(values(rows * cols, rows as u64), (rows, cols), &Device::Cpu).unwrap();
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
