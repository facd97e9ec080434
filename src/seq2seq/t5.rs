//! T5 and flan-t5 (Raffel et al. 2019; Chung et al. 2022): an encoder-decoder with pre-norm RMS
//! layer norms, no biases, unscaled attention plus a learned relative-position bias (bucketed
//! distances, computed by the first layer and shared by the others), and a feed-forward that is
//! gated in T5 v1.1/flan-t5 (`gated-gelu`). Like [`super::bart`], it takes an encoder padding
//! mask and computes the cross-attention keys and values once.
//!
//! The tokenizer is the repository's `spiece.model` ([`super::sentencepiece`]): token ids are the
//! piece ids, and `</s>` ends the input.

use candle_core::{DType, Device, Module, Result, Tensor, D};
use candle_nn::{embedding, linear_no_bias, Embedding, Linear, VarBuilder};
use serde::Deserialize;

use super::bart::{additive_mask, causal_mask};
use super::sentencepiece::SentencePiece;
use super::{DecoderState, EncoderDecoder};

/// The fields of a T5 `config.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    pub vocab_size: usize,
    pub d_model: usize,
    pub d_kv: usize,
    pub d_ff: usize,
    pub num_layers: usize,
    pub num_decoder_layers: Option<usize>,
    pub num_heads: usize,
    pub relative_attention_num_buckets: usize,
    #[serde(default = "default_max_distance")]
    pub relative_attention_max_distance: usize,
    #[serde(default = "default_eps")]
    pub layer_norm_epsilon: f64,
    #[serde(default = "default_ff")]
    pub feed_forward_proj: String,
    /// T5 v1.0 ties the output to the input embedding and scales by d_model^-0.5; v1.1 and
    /// flan-t5 say `false` here and have their own `lm_head`.
    #[serde(default = "default_true")]
    pub tie_word_embeddings: bool,
    /// Written by `transformers` 5 in place of the meaning above (which it always ties).
    pub scale_decoder_outputs: Option<bool>,
}

fn default_max_distance() -> usize {
    128
}
fn default_eps() -> f64 {
    1e-6
}
fn default_ff() -> String {
    "relu".into()
}
fn default_true() -> bool {
    true
}

/// T5's layer norm: scale only, no mean subtracted.
#[derive(Debug, Clone)]
struct RmsNorm {
    weight: Tensor,
    eps: f64,
}

impl RmsNorm {
    fn new(d: usize, eps: f64, vb: VarBuilder) -> Result<Self> {
        Ok(RmsNorm { weight: vb.get(d, "weight")?, eps })
    }

    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let var = xs.sqr()?.mean_keepdim(D::Minus1)?;
        xs.broadcast_div(&(var + self.eps)?.sqrt()?)?.broadcast_mul(&self.weight)
    }
}

/// The bucket of each (query, key) distance, as `T5Attention._relative_position_bucket`.
fn bucket(relative: i64, bidirectional: bool, num_buckets: usize, max_distance: usize) -> u32 {
    let mut buckets = num_buckets as i64;
    let mut base = 0i64;
    let distance = if bidirectional {
        buckets /= 2;
        if relative > 0 {
            base += buckets;
        }
        relative.abs()
    } else {
        (-relative).max(0)
    };
    let max_exact = buckets / 2;
    let b = if distance < max_exact {
        distance
    } else {
        // The same f32 arithmetic as the reference, truncated toward zero.
        let scaled = (distance as f32 / max_exact as f32).ln() / ((max_distance as f64 / max_exact as f64).ln() as f32)
            * (buckets - max_exact) as f32;
        (max_exact + scaled as i64).min(buckets - 1)
    };
    (base + b) as u32
}

#[derive(Debug, Clone)]
struct Attention {
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    heads: usize,
    d_kv: usize,
    /// The first layer's table of position biases, (buckets, heads).
    relative_bias: Option<Embedding>,
    bidirectional: bool,
    num_buckets: usize,
    max_distance: usize,
}

impl Attention {
    fn new(cfg: &Config, has_bias: bool, bidirectional: bool, vb: VarBuilder) -> Result<Self> {
        let inner = cfg.num_heads * cfg.d_kv;
        Ok(Attention {
            q: linear_no_bias(cfg.d_model, inner, vb.pp("q"))?,
            k: linear_no_bias(cfg.d_model, inner, vb.pp("k"))?,
            v: linear_no_bias(cfg.d_model, inner, vb.pp("v"))?,
            o: linear_no_bias(inner, cfg.d_model, vb.pp("o"))?,
            heads: cfg.num_heads,
            d_kv: cfg.d_kv,
            relative_bias: if has_bias {
                Some(embedding(cfg.relative_attention_num_buckets, cfg.num_heads, vb.pp("relative_attention_bias"))?)
            } else {
                None
            },
            bidirectional,
            num_buckets: cfg.relative_attention_num_buckets,
            max_distance: cfg.relative_attention_max_distance,
        })
    }

    fn split_heads(&self, xs: &Tensor) -> Result<Tensor> {
        let (b, l, _) = xs.dims3()?;
        xs.reshape((b, l, self.heads, self.d_kv))?.transpose(1, 2)?.contiguous()
    }

    fn keys_values(&self, xs: &Tensor) -> Result<(Tensor, Tensor)> {
        Ok((self.split_heads(&self.k.forward(xs)?)?, self.split_heads(&self.v.forward(xs)?)?))
    }

    /// Position biases (1, heads, q_len, k_len) for queries at `past..past + q_len`.
    fn position_bias(&self, q_len: usize, k_len: usize, past: usize, device: &Device) -> Result<Tensor> {
        let table = self.relative_bias.as_ref().expect("only the first layer computes position biases");
        let ids: Vec<u32> = (0..q_len)
            .flat_map(|i| {
                (0..k_len).map(move |j| {
                    bucket(j as i64 - (i + past) as i64, self.bidirectional, self.num_buckets, self.max_distance)
                })
            })
            .collect();
        let ids = Tensor::from_vec(ids, (q_len, k_len), device)?;
        table.forward(&ids)?.permute((2, 0, 1))?.unsqueeze(0)
    }

    /// softmax(q kᵀ + bias) v, then the output projection.
    fn attend(&self, xs: &Tensor, k: &Tensor, v: &Tensor, bias: &Tensor) -> Result<Tensor> {
        let (b, l, _) = xs.dims3()?;
        let q = self.split_heads(&self.q.forward(xs)?)?;
        let scores = q.matmul(&k.transpose(2, 3)?.contiguous()?)?.broadcast_add(bias)?;
        let probs = candle_nn::ops::softmax_last_dim(&scores)?;
        probs.matmul(v)?.transpose(1, 2)?.reshape((b, l, self.heads * self.d_kv))?.apply(&self.o)
    }
}

#[derive(Debug, Clone)]
enum FeedForward {
    /// wo(act(wi x))
    Plain { wi: Linear, wo: Linear, act: candle_nn::Activation },
    /// wo(act(wi_0 x) * wi_1 x)
    Gated { wi_0: Linear, wi_1: Linear, wo: Linear, act: candle_nn::Activation },
}

impl FeedForward {
    fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        let (gated, act) = match cfg.feed_forward_proj.strip_prefix("gated-") {
            Some(a) => (true, a),
            None => (false, cfg.feed_forward_proj.as_str()),
        };
        let act = match act {
            // `gated-gelu` means the tanh GELU, as `transformers` maps it.
            "gelu" if gated => candle_nn::Activation::NewGelu,
            other => super::bart::activation(other).map_err(|e| candle_core::Error::Msg(e.to_string()))?,
        };
        let (d, ff) = (cfg.d_model, cfg.d_ff);
        Ok(if gated {
            FeedForward::Gated {
                wi_0: linear_no_bias(d, ff, vb.pp("wi_0"))?,
                wi_1: linear_no_bias(d, ff, vb.pp("wi_1"))?,
                wo: linear_no_bias(ff, d, vb.pp("wo"))?,
                act,
            }
        } else {
            FeedForward::Plain { wi: linear_no_bias(d, ff, vb.pp("wi"))?, wo: linear_no_bias(ff, d, vb.pp("wo"))?, act }
        })
    }

    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        match self {
            FeedForward::Plain { wi, wo, act } => xs.apply(wi)?.apply(act)?.apply(wo),
            FeedForward::Gated { wi_0, wi_1, wo, act } => (xs.apply(wi_0)?.apply(act)? * xs.apply(wi_1)?)?.apply(wo),
        }
    }
}

#[derive(Debug, Clone)]
struct Block {
    self_attn: Attention,
    self_norm: RmsNorm,
    cross: Option<(Attention, RmsNorm)>,
    ff: FeedForward,
    ff_norm: RmsNorm,
}

impl Block {
    fn new(cfg: &Config, first: bool, decoder: bool, vb: VarBuilder) -> Result<Self> {
        let l = vb.pp("layer");
        let eps = cfg.layer_norm_epsilon;
        let ff_index = if decoder { 2 } else { 1 };
        Ok(Block {
            self_attn: Attention::new(cfg, first, !decoder, l.pp(0).pp("SelfAttention"))?,
            self_norm: RmsNorm::new(cfg.d_model, eps, l.pp(0).pp("layer_norm"))?,
            cross: if decoder {
                Some((
                    Attention::new(cfg, false, false, l.pp(1).pp("EncDecAttention"))?,
                    RmsNorm::new(cfg.d_model, eps, l.pp(1).pp("layer_norm"))?,
                ))
            } else {
                None
            },
            ff: FeedForward::new(cfg, l.pp(ff_index).pp("DenseReluDense"))?,
            ff_norm: RmsNorm::new(cfg.d_model, eps, l.pp(ff_index).pp("layer_norm"))?,
        })
    }
}

/// A T5 model for conditional generation.
#[derive(Debug, Clone)]
pub struct T5 {
    shared: Embedding,
    encoder: Vec<Block>,
    encoder_norm: RmsNorm,
    decoder: Vec<Block>,
    decoder_norm: RmsNorm,
    lm_head: Tensor,
    output_scale: f64,
    device: Device,
}

impl T5 {
    pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        let shared = embedding(cfg.vocab_size, cfg.d_model, vb.pp("shared"))?;
        let blocks = |n: usize, decoder: bool, vb: VarBuilder| -> Result<Vec<Block>> {
            (0..n).map(|i| Block::new(cfg, i == 0, decoder, vb.pp("block").pp(i))).collect()
        };
        let (enc, dec) = (vb.pp("encoder"), vb.pp("decoder"));
        let lm_head = if vb.contains_tensor("lm_head.weight") {
            vb.get((cfg.vocab_size, cfg.d_model), "lm_head.weight")?
        } else {
            shared.embeddings().clone()
        };
        Ok(T5 {
            encoder: blocks(cfg.num_layers, false, enc.clone())?,
            encoder_norm: RmsNorm::new(cfg.d_model, cfg.layer_norm_epsilon, enc.pp("final_layer_norm"))?,
            decoder: blocks(cfg.num_decoder_layers.unwrap_or(cfg.num_layers), true, dec.clone())?,
            decoder_norm: RmsNorm::new(cfg.d_model, cfg.layer_norm_epsilon, dec.pp("final_layer_norm"))?,
            lm_head,
            output_scale: if cfg.scale_decoder_outputs.unwrap_or(cfg.tie_word_embeddings) {
                (cfg.d_model as f64).powf(-0.5)
            } else {
                1.0
            },
            device: vb.device().clone(),
            shared,
        })
    }
}

impl EncoderDecoder for T5 {
    fn encode(&self, ids: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let len = ids.dim(1)?;
        let mut xs = self.shared.forward(ids)?;
        let bias =
            self.encoder[0].self_attn.position_bias(len, len, 0, &self.device)?.broadcast_add(&additive_mask(mask)?)?;
        for block in &self.encoder {
            let normed = block.self_norm.forward(&xs)?;
            let (k, v) = block.self_attn.keys_values(&normed)?;
            xs = (&xs + block.self_attn.attend(&normed, &k, &v, &bias)?)?;
            xs = (&xs + block.ff.forward(&block.ff_norm.forward(&xs)?)?)?;
        }
        self.encoder_norm.forward(&xs)
    }

    fn start(&self, encoder_out: &Tensor, mask: &Tensor) -> Result<DecoderState> {
        let cross = self
            .decoder
            .iter()
            .map(|b| b.cross.as_ref().expect("decoder blocks attend to the encoder").0.keys_values(encoder_out))
            .collect::<Result<_>>()?;
        Ok(DecoderState {
            self_kv: vec![None; self.decoder.len()],
            cross_kv: cross,
            encoder_mask: additive_mask(mask)?,
            past: 0,
        })
    }

    fn decode(&self, ids: &Tensor, state: &mut DecoderState) -> Result<Tensor> {
        let len = ids.dim(1)?;
        let past = state.past;
        let mut xs = self.shared.forward(ids)?;
        let mut bias = self.decoder[0].self_attn.position_bias(len, past + len, past, &self.device)?;
        if len > 1 {
            bias = bias.broadcast_add(&causal_mask(len, past, &self.device)?)?;
        }
        for (i, block) in self.decoder.iter().enumerate() {
            let normed = block.self_norm.forward(&xs)?;
            let (k, v) = block.self_attn.keys_values(&normed)?;
            let (k, v) = match state.self_kv[i].take() {
                Some((pk, pv)) => (Tensor::cat(&[&pk, &k], 2)?, Tensor::cat(&[&pv, &v], 2)?),
                None => (k, v),
            };
            xs = (&xs + block.self_attn.attend(&normed, &k, &v, &bias)?)?;
            state.self_kv[i] = Some((k, v));
            let (cross, norm) = block.cross.as_ref().expect("decoder blocks attend to the encoder");
            let (ck, cv) = &state.cross_kv[i];
            xs = (&xs + cross.attend(&norm.forward(&xs)?, ck, cv, &state.encoder_mask)?)?;
            xs = (&xs + block.ff.forward(&block.ff_norm.forward(&xs)?)?)?;
        }
        state.past += len;
        let xs = (self.decoder_norm.forward(&xs)? * self.output_scale)?;
        xs.broadcast_matmul(&self.lm_head.t()?)?.to_dtype(DType::F32)
    }
}

/// T5's tokenizer: the pieces of `spiece.model` are the ids; `</s>` ends each input.
#[derive(Debug, Clone)]
pub struct T5Tokenizer {
    spm: SentencePiece,
    eos: u32,
    pad: u32,
}

impl T5Tokenizer {
    pub fn from_file(path: &std::path::Path) -> anyhow::Result<T5Tokenizer> {
        let spm = SentencePiece::from_file(path)?;
        let eos = spm.piece_id("</s>").ok_or_else(|| anyhow::anyhow!("{} has no </s>", path.display()))?;
        let pad = spm.piece_id("<pad>").unwrap_or(0);
        Ok(T5Tokenizer { spm, eos, pad })
    }

    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut ids: Vec<u32> = self.spm.encode(text).into_iter().map(|t| t.id).collect();
        ids.push(self.eos);
        ids
    }

    pub fn decode(&self, ids: &[u32]) -> String {
        let special = |i: u32| i == self.eos || i == self.pad || i == self.spm.unk_id();
        let pieces = ids.iter().filter(|&&i| !special(i)).filter_map(|&i| self.spm.piece(i));
        self.spm.decode_pieces(pieces)
    }
}
