//! Encoder-decoder models made for one job: Marian (opus-mt) translation, BART-style and T5
//! (flan-t5) summarization, run from a Hugging Face repository's own files (`config.json`,
//! `generation_config.json`, `model.safetensors` and the tokenizer files).
//!
//! One family per file, in the style of candle-transformers: [`bart`] (which Marian shares, see
//! [`marian`]) and [`t5`]; their tokenizers are built in Rust from the hub's files ([`sentencepiece`] for
//! Marian's `.spm` models and T5's `spiece.model`, [`bpe`] for BART's `vocab.json` + `merges.txt`); [`generate`] decodes
//! greedily or by beam search as `transformers` does. Every piece is checked against
//! `transformers` on tiny random models in `tests/seq2seq_parity.rs`.

pub mod bart;
pub mod bpe;
pub mod generate;
pub mod marian;
pub mod sentencepiece;
pub mod t5;
pub mod tasks;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

pub use generate::GenerationConfig;

/// What the decoder carries from step to step for each row of a batch.
#[derive(Debug, Clone)]
pub struct DecoderState {
    /// Per decoder layer: keys and values of the positions decoded so far, (rows, heads, len, dim).
    pub self_kv: Vec<Option<(Tensor, Tensor)>>,
    /// Per decoder layer: keys and values of the encoder output, computed once.
    pub cross_kv: Vec<(Tensor, Tensor)>,
    /// 0 at the encoder's real positions, -inf at padding, (rows, 1, 1, source len).
    pub encoder_mask: Tensor,
    /// Number of decoder positions already in the cache.
    pub past: usize,
}

impl DecoderState {
    /// Row `i` of the cache becomes row `rows[i]` of before: beams follow the beam they extend.
    /// Cross-attention keys stay: beams of one input share them.
    pub fn reorder(&mut self, rows: &Tensor) -> candle_core::Result<()> {
        for kv in self.self_kv.iter_mut().flatten() {
            *kv = (kv.0.index_select(rows, 0)?, kv.1.index_select(rows, 0)?);
        }
        Ok(())
    }
}

/// An encoder-decoder transformer.
pub trait EncoderDecoder {
    /// Encoder output (batch, len, d) of padded ids, `mask` 1 at real tokens and 0 at padding.
    fn encode(&self, ids: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor>;
    /// A fresh decoder state over an encoder output.
    fn start(&self, encoder_out: &Tensor, mask: &Tensor) -> candle_core::Result<DecoderState>;
    /// Logits (rows, len, vocab) of the next token after each of the new decoder ids
    /// (rows, len); the state advances by `len` positions.
    fn decode(&self, ids: &Tensor, state: &mut DecoderState) -> candle_core::Result<Tensor>;
}

/// The tokenizer of a model, by family.
// One per loaded model: the variants' sizes (BART's inline byte table) do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Seq2SeqTokenizer {
    Marian(marian::MarianTokenizer),
    Bart(bpe::BartTokenizer),
    T5(t5::T5Tokenizer),
}

impl Seq2SeqTokenizer {
    pub fn encode(&self, text: &str) -> Vec<u32> {
        match self {
            Seq2SeqTokenizer::Marian(t) => t.encode(text),
            Seq2SeqTokenizer::Bart(t) => t.encode(text),
            Seq2SeqTokenizer::T5(t) => t.encode(text),
        }
    }

    pub fn decode(&self, ids: &[u32]) -> String {
        match self {
            Seq2SeqTokenizer::Marian(t) => t.decode(ids),
            Seq2SeqTokenizer::Bart(t) => t.decode(ids),
            Seq2SeqTokenizer::T5(t) => t.decode(ids),
        }
    }
}

/// A loaded encoder-decoder model with its tokenizer and decoding settings.
pub struct Seq2Seq {
    model: Box<dyn EncoderDecoder + Send>,
    tokenizer: Seq2SeqTokenizer,
    generation: GenerationConfig,
    /// `model_type` of `config.json`: `marian`, `bart` or `t5`.
    family: String,
    /// Longest input the position table allows.
    max_input_tokens: usize,
    device: Device,
}

fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))
}

impl Seq2Seq {
    /// Loads the model in `dir`, a folder with the files of its hub repository.
    pub fn load(dir: &Path) -> Result<Seq2Seq> {
        let device = Device::Cpu;
        let config = read_json(&dir.join("config.json"))?;
        let gen_path = dir.join("generation_config.json");
        let gen = if gen_path.exists() { read_json(&gen_path)? } else { serde_json::Value::Null };
        let generation = GenerationConfig::from_hub(&config, &gen)
            .with_context(|| format!("decoding settings of the model in {}", dir.display()))?;
        let family = config.get("model_type").and_then(|v| v.as_str()).unwrap_or("").to_string();
        let weights: PathBuf = dir.join("model.safetensors");
        let vb = if weights.exists() {
            // SAFETY: the file is in the verified cache and not written while mapped.
            unsafe { VarBuilder::from_mmaped_safetensors(&[&weights], DType::F32, &device) }
                .with_context(|| format!("cannot read the weights {}", weights.display()))?
        } else {
            // Many hub repositories (opus-mt, distilbart) have only PyTorch weights on main.
            let pth = dir.join("pytorch_model.bin");
            VarBuilder::from_pth(&pth, DType::F32, &device).with_context(|| {
                format!("cannot read the weights: neither {} nor {}", weights.display(), pth.display())
            })?
        };
        let config_error = || format!("{} is not a valid {family} config", dir.join("config.json").display());
        let (model, tokenizer, max_input_tokens): (Box<dyn EncoderDecoder + Send>, _, usize) = match family.as_str() {
            "marian" | "bart" => {
                let hub: bart::HubConfig = serde_json::from_value(config.clone()).with_context(config_error)?;
                let (positions, tokenizer) = if family == "marian" {
                    (bart::Positions::Sinusoidal, Seq2SeqTokenizer::Marian(marian::MarianTokenizer::from_dir(dir)?))
                } else {
                    (bart::Positions::Learned, Seq2SeqTokenizer::Bart(bpe::BartTokenizer::from_dir(dir)?))
                };
                let cfg = bart::Config::from_hub(&hub, positions)?;
                (Box::new(bart::Bart::new(&cfg, vb)?), tokenizer, hub.max_position_embeddings)
            }
            "t5" => {
                let cfg: t5::Config = serde_json::from_value(config.clone()).with_context(config_error)?;
                let tokenizer = Seq2SeqTokenizer::T5(t5::T5Tokenizer::from_file(&dir.join("spiece.model"))?);
                // Relative positions have no hard limit; T5 models are trained on 512 tokens.
                (Box::new(t5::T5::new(&cfg, vb)?), tokenizer, 512)
            }
            other => bail!("model type {other:?} is not supported (marian, bart and t5 are)"),
        };
        Ok(Seq2Seq { model, tokenizer, generation, family, max_input_tokens, device })
    }

    pub fn tokenizer(&self) -> &Seq2SeqTokenizer {
        &self.tokenizer
    }

    pub fn family(&self) -> &str {
        &self.family
    }

    /// The decoding settings read from the model's files.
    pub fn generation_config(&self) -> &GenerationConfig {
        &self.generation
    }

    pub fn max_input_tokens(&self) -> usize {
        self.max_input_tokens
    }

    /// The underlying model, for tests that compare encoder outputs and logits.
    pub fn model(&self) -> &dyn EncoderDecoder {
        self.model.as_ref()
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Output ids for each input (one padded batch), decoded with `cfg`.
    pub fn generate_ids(&self, inputs: &[Vec<u32>], cfg: &GenerationConfig) -> Result<Vec<Vec<u32>>> {
        let too_long = inputs.iter().find(|i| i.len() > self.max_input_tokens);
        if let Some(input) = too_long {
            bail!(
                "an input of {} tokens is longer than the model's limit of {}; split it first",
                input.len(),
                self.max_input_tokens
            );
        }
        let pad = self.generation.pad_token_id;
        Ok(generate::generate(self.model.as_ref(), inputs, pad, cfg, &self.device)?)
    }

    /// The outputs of `texts`, decoded with the model's own settings.
    pub fn generate(&self, texts: &[String]) -> Result<Vec<String>> {
        let inputs: Vec<Vec<u32>> = texts.iter().map(|t| self.tokenizer.encode(t)).collect();
        let outputs = self.generate_ids(&inputs, &self.generation)?;
        Ok(outputs.iter().map(|ids| self.tokenizer.decode(ids)).collect())
    }
}
