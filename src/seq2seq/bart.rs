//! The BART encoder-decoder (Lewis et al. 2019), which Marian (opus-mt) shares.
//!
//! Both are post-norm transformers with a tied output embedding and a `final_logits_bias`; they
//! differ only in their position embeddings (BART: learned, offset by 2; Marian: fixed sinusoids),
//! BART's layer norm over the embeddings, the activation and the embedding scale, all read from
//! `config.json` (see [`Config`]; [`super::marian`] maps Marian's). Unlike candle-transformers'
//! Marian, the encoder takes a padding mask, so a padded batch gives what each text gives alone,
//! and the cross-attention keys and values are computed once per input, not at every step.

use candle_core::{DType, Device, Module, Result, Tensor};
use candle_nn::{embedding, layer_norm, linear, Embedding, LayerNorm, Linear, VarBuilder};
use serde::Deserialize;

use super::{DecoderState, EncoderDecoder};

/// How positions are embedded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Positions {
    /// BART: a learned table, looked up at position + 2.
    Learned,
    /// Marian: sines in the first half of the width, cosines in the second.
    Sinusoidal,
}

/// The shape of a BART-style model.
#[derive(Debug, Clone)]
pub struct Config {
    pub vocab_size: usize,
    pub d_model: usize,
    pub encoder_layers: usize,
    pub decoder_layers: usize,
    pub encoder_attention_heads: usize,
    pub decoder_attention_heads: usize,
    pub encoder_ffn_dim: usize,
    pub decoder_ffn_dim: usize,
    pub max_position_embeddings: usize,
    pub activation: candle_nn::Activation,
    /// Token embeddings are multiplied by sqrt(d_model).
    pub scale_embedding: bool,
    pub positions: Positions,
    /// A layer norm right after the embeddings (BART, not Marian).
    pub layernorm_embedding: bool,
}

/// The fields of a `config.json` the BART and Marian models use.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct HubConfig {
    pub vocab_size: usize,
    pub d_model: usize,
    pub encoder_layers: usize,
    pub decoder_layers: usize,
    pub encoder_attention_heads: usize,
    pub decoder_attention_heads: usize,
    pub encoder_ffn_dim: usize,
    pub decoder_ffn_dim: usize,
    pub max_position_embeddings: usize,
    pub activation_function: String,
    #[serde(default)]
    pub scale_embedding: bool,
    #[serde(default)]
    pub normalize_before: bool,
    #[serde(default)]
    pub add_final_layer_norm: bool,
}

/// The candle activation for a `transformers` activation name.
pub(crate) fn activation(name: &str) -> anyhow::Result<candle_nn::Activation> {
    use candle_nn::Activation as A;
    Ok(match name {
        // `transformers`' "gelu" is the exact (erf) one.
        "gelu" => A::Gelu,
        "gelu_new" | "gelu_pytorch_tanh" => A::NewGelu,
        "relu" => A::Relu,
        "swish" | "silu" => A::Silu,
        other => anyhow::bail!("activation {other:?} is not supported"),
    })
}

impl Config {
    pub(crate) fn from_hub(c: &HubConfig, positions: Positions) -> anyhow::Result<Config> {
        if c.normalize_before || c.add_final_layer_norm {
            anyhow::bail!("pre-norm BART variants (mBART: normalize_before, add_final_layer_norm) are not supported");
        }
        Ok(Config {
            vocab_size: c.vocab_size,
            d_model: c.d_model,
            encoder_layers: c.encoder_layers,
            decoder_layers: c.decoder_layers,
            encoder_attention_heads: c.encoder_attention_heads,
            decoder_attention_heads: c.decoder_attention_heads,
            encoder_ffn_dim: c.encoder_ffn_dim,
            decoder_ffn_dim: c.decoder_ffn_dim,
            max_position_embeddings: c.max_position_embeddings,
            activation: activation(&c.activation_function)?,
            scale_embedding: c.scale_embedding,
            positions,
            layernorm_embedding: positions == Positions::Learned,
        })
    }
}

/// Position embeddings for positions `start..start + len`.
#[derive(Debug, Clone)]
struct PositionEmbedding {
    table: Tensor,
    offset: usize,
}

impl PositionEmbedding {
    fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        match cfg.positions {
            Positions::Learned => {
                let table = vb.get((cfg.max_position_embeddings + 2, cfg.d_model), "weight")?;
                Ok(PositionEmbedding { table, offset: 2 })
            }
            Positions::Sinusoidal => {
                // Computed in f64 and rounded once, as the reference builds its table.
                let (n, d) = (cfg.max_position_embeddings, cfg.d_model);
                let half = d / 2;
                let mut v = vec![0f32; n * d];
                for pos in 0..n {
                    for i in 0..half {
                        let angle = pos as f64 / 10000f64.powf(2.0 * i as f64 / d as f64);
                        v[pos * d + i] = angle.sin() as f32;
                        v[pos * d + half + i] = angle.cos() as f32;
                    }
                }
                let table = Tensor::from_vec(v, (n, d), vb.device())?.to_dtype(vb.dtype())?;
                Ok(PositionEmbedding { table, offset: 0 })
            }
        }
    }

    fn forward(&self, start: usize, len: usize) -> Result<Tensor> {
        self.table.narrow(0, start + self.offset, len)
    }
}

#[derive(Debug, Clone)]
struct Attention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    out_proj: Linear,
    heads: usize,
    head_dim: usize,
}

impl Attention {
    fn new(d: usize, heads: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Attention {
            q_proj: linear(d, d, vb.pp("q_proj"))?,
            k_proj: linear(d, d, vb.pp("k_proj"))?,
            v_proj: linear(d, d, vb.pp("v_proj"))?,
            out_proj: linear(d, d, vb.pp("out_proj"))?,
            heads,
            head_dim: d / heads,
        })
    }

    /// (batch, len, d) -> (batch, heads, len, head_dim)
    fn split_heads(&self, xs: &Tensor) -> Result<Tensor> {
        let (b, l, _) = xs.dims3()?;
        xs.reshape((b, l, self.heads, self.head_dim))?.transpose(1, 2)?.contiguous()
    }

    /// Keys and values of `xs`, split into heads.
    fn keys_values(&self, xs: &Tensor) -> Result<(Tensor, Tensor)> {
        Ok((self.split_heads(&self.k_proj.forward(xs)?)?, self.split_heads(&self.v_proj.forward(xs)?)?))
    }

    /// softmax(q kᵀ / sqrt(head_dim) + mask) v, then the output projection.
    fn attend(&self, xs: &Tensor, k: &Tensor, v: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
        let (b, l, d) = xs.dims3()?;
        let q = (self.split_heads(&self.q_proj.forward(xs)?)? * (self.head_dim as f64).powf(-0.5))?;
        let scores = q.matmul(&k.transpose(2, 3)?.contiguous()?)?;
        let scores = match mask {
            Some(m) => scores.broadcast_add(m)?,
            None => scores,
        };
        let probs = candle_nn::ops::softmax_last_dim(&scores)?;
        probs.matmul(v)?.transpose(1, 2)?.reshape((b, l, d))?.apply(&self.out_proj)
    }
}

#[derive(Debug, Clone)]
struct FeedForward {
    fc1: Linear,
    fc2: Linear,
    activation: candle_nn::Activation,
}

impl FeedForward {
    fn new(d: usize, ffn: usize, activation: candle_nn::Activation, vb: VarBuilder) -> Result<Self> {
        Ok(FeedForward { fc1: linear(d, ffn, vb.pp("fc1"))?, fc2: linear(ffn, d, vb.pp("fc2"))?, activation })
    }

    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        xs.apply(&self.fc1)?.apply(&self.activation)?.apply(&self.fc2)
    }
}

#[derive(Debug, Clone)]
struct EncoderLayer {
    self_attn: Attention,
    self_attn_layer_norm: LayerNorm,
    ffn: FeedForward,
    final_layer_norm: LayerNorm,
}

impl EncoderLayer {
    fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        let d = cfg.d_model;
        Ok(EncoderLayer {
            self_attn: Attention::new(d, cfg.encoder_attention_heads, vb.pp("self_attn"))?,
            self_attn_layer_norm: layer_norm(d, 1e-5, vb.pp("self_attn_layer_norm"))?,
            ffn: FeedForward::new(d, cfg.encoder_ffn_dim, cfg.activation, vb.clone())?,
            final_layer_norm: layer_norm(d, 1e-5, vb.pp("final_layer_norm"))?,
        })
    }

    fn forward(&self, xs: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (k, v) = self.self_attn.keys_values(xs)?;
        let xs = (xs + self.self_attn.attend(xs, &k, &v, Some(mask))?)?.apply(&self.self_attn_layer_norm)?;
        (&xs + self.ffn.forward(&xs)?)?.apply(&self.final_layer_norm)
    }
}

#[derive(Debug, Clone)]
struct DecoderLayer {
    self_attn: Attention,
    self_attn_layer_norm: LayerNorm,
    encoder_attn: Attention,
    encoder_attn_layer_norm: LayerNorm,
    ffn: FeedForward,
    final_layer_norm: LayerNorm,
}

impl DecoderLayer {
    fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        let d = cfg.d_model;
        let heads = cfg.decoder_attention_heads;
        Ok(DecoderLayer {
            self_attn: Attention::new(d, heads, vb.pp("self_attn"))?,
            self_attn_layer_norm: layer_norm(d, 1e-5, vb.pp("self_attn_layer_norm"))?,
            encoder_attn: Attention::new(d, heads, vb.pp("encoder_attn"))?,
            encoder_attn_layer_norm: layer_norm(d, 1e-5, vb.pp("encoder_attn_layer_norm"))?,
            ffn: FeedForward::new(d, cfg.decoder_ffn_dim, cfg.activation, vb.clone())?,
            final_layer_norm: layer_norm(d, 1e-5, vb.pp("final_layer_norm"))?,
        })
    }

    /// One layer over the new decoder positions; `cache` holds this layer's earlier keys and values.
    fn forward(
        &self,
        xs: &Tensor,
        causal: Option<&Tensor>,
        cache: &mut Option<(Tensor, Tensor)>,
        cross: &(Tensor, Tensor),
        encoder_mask: &Tensor,
    ) -> Result<Tensor> {
        let (k, v) = self.self_attn.keys_values(xs)?;
        let (k, v) = match cache.take() {
            Some((pk, pv)) => (Tensor::cat(&[&pk, &k], 2)?, Tensor::cat(&[&pv, &v], 2)?),
            None => (k, v),
        };
        let attended = self.self_attn.attend(xs, &k, &v, causal)?;
        *cache = Some((k, v));
        let xs = (xs + attended)?.apply(&self.self_attn_layer_norm)?;
        let attended = self.encoder_attn.attend(&xs, &cross.0, &cross.1, Some(encoder_mask))?;
        let xs = (&xs + attended)?.apply(&self.encoder_attn_layer_norm)?;
        (&xs + self.ffn.forward(&xs)?)?.apply(&self.final_layer_norm)
    }
}

/// A BART or Marian model for conditional generation.
#[derive(Debug, Clone)]
pub struct Bart {
    shared: Embedding,
    embed_scale: f64,
    encoder_positions: PositionEmbedding,
    decoder_positions: PositionEmbedding,
    encoder_layernorm: Option<LayerNorm>,
    decoder_layernorm: Option<LayerNorm>,
    encoder_layers: Vec<EncoderLayer>,
    decoder_layers: Vec<DecoderLayer>,
    final_logits_bias: Tensor,
    device: Device,
}

impl Bart {
    /// The model from `transformers` weights (`model.*`, `final_logits_bias`).
    pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        let m = vb.pp("model");
        let shared = embedding(cfg.vocab_size, cfg.d_model, m.pp("shared"))?;
        let norm = |vb: VarBuilder| -> Result<Option<LayerNorm>> {
            if cfg.layernorm_embedding {
                Ok(Some(layer_norm(cfg.d_model, 1e-5, vb.pp("layernorm_embedding"))?))
            } else {
                Ok(None)
            }
        };
        let (enc, dec) = (m.pp("encoder"), m.pp("decoder"));
        Ok(Bart {
            embed_scale: if cfg.scale_embedding { (cfg.d_model as f64).sqrt() } else { 1.0 },
            encoder_positions: PositionEmbedding::new(cfg, enc.pp("embed_positions"))?,
            decoder_positions: PositionEmbedding::new(cfg, dec.pp("embed_positions"))?,
            encoder_layernorm: norm(enc.clone())?,
            decoder_layernorm: norm(dec.clone())?,
            encoder_layers: (0..cfg.encoder_layers)
                .map(|i| EncoderLayer::new(cfg, enc.pp("layers").pp(i)))
                .collect::<Result<_>>()?,
            decoder_layers: (0..cfg.decoder_layers)
                .map(|i| DecoderLayer::new(cfg, dec.pp("layers").pp(i)))
                .collect::<Result<_>>()?,
            final_logits_bias: vb.get((1, cfg.vocab_size), "final_logits_bias")?,
            device: vb.device().clone(),
            shared,
        })
    }

    fn embed(
        &self,
        ids: &Tensor,
        positions: &PositionEmbedding,
        start: usize,
        norm: &Option<LayerNorm>,
    ) -> Result<Tensor> {
        let len = ids.dim(1)?;
        let xs = (self.shared.forward(ids)? * self.embed_scale)?;
        let xs = xs.broadcast_add(&positions.forward(start, len)?.unsqueeze(0)?)?;
        match norm {
            Some(n) => xs.apply(n),
            None => Ok(xs),
        }
    }
}

/// 0 where `mask` is 1, -inf where it is 0, shaped (batch, 1, 1, len) to add to attention scores.
pub(crate) fn additive_mask(mask: &Tensor) -> Result<Tensor> {
    let (b, l) = mask.dims2()?;
    let keep = mask.to_dtype(DType::F32)?;
    // (1 - keep) * -inf would give NaN at kept places; pick by comparison instead.
    let neg = Tensor::full(f32::NEG_INFINITY, (b, l), mask.device())?;
    let zero = Tensor::zeros((b, l), DType::F32, mask.device())?;
    keep.ge(0.5)?.where_cond(&zero, &neg)?.reshape((b, 1, 1, l))
}

/// -inf above the diagonal for `len` new positions after `past` cached ones.
pub(crate) fn causal_mask(len: usize, past: usize, device: &Device) -> Result<Tensor> {
    let v: Vec<f32> = (0..len)
        .flat_map(|i| (0..past + len).map(move |j| if j > past + i { f32::NEG_INFINITY } else { 0.0 }))
        .collect();
    Tensor::from_vec(v, (1, 1, len, past + len), device)
}

impl EncoderDecoder for Bart {
    fn encode(&self, ids: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let additive = additive_mask(mask)?;
        let mut xs = self.embed(ids, &self.encoder_positions, 0, &self.encoder_layernorm)?;
        for layer in &self.encoder_layers {
            xs = layer.forward(&xs, &additive)?;
        }
        Ok(xs)
    }

    fn start(&self, encoder_out: &Tensor, mask: &Tensor) -> Result<DecoderState> {
        let cross =
            self.decoder_layers.iter().map(|l| l.encoder_attn.keys_values(encoder_out)).collect::<Result<_>>()?;
        Ok(DecoderState {
            self_kv: vec![None; self.decoder_layers.len()],
            cross_kv: cross,
            encoder_mask: additive_mask(mask)?,
            past: 0,
        })
    }

    fn decode(&self, ids: &Tensor, state: &mut DecoderState) -> Result<Tensor> {
        let len = ids.dim(1)?;
        let mut xs = self.embed(ids, &self.decoder_positions, state.past, &self.decoder_layernorm)?;
        let causal = if len > 1 { Some(causal_mask(len, state.past, &self.device)?) } else { None };
        for (i, layer) in self.decoder_layers.iter().enumerate() {
            xs = layer.forward(&xs, causal.as_ref(), &mut state.self_kv[i], &state.cross_kv[i], &state.encoder_mask)?;
        }
        state.past += len;
        xs.broadcast_matmul(&self.shared.embeddings().t()?)?.broadcast_add(&self.final_logits_bias)
    }
}
