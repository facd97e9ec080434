//! Openings' keys and values kept on disk.
//!
//! A prompt's opening is every turn before its last message: the system
//! turn, and for translations the example turns after it (see
//! [`crate::engine::Llm`]). The translate prompt's opening, with its example
//! sentences, is some 300 to 600 tokens: computing it for Chinese and Russian
//! (and the summary's) costs a one-article brief several seconds on two
//! cores, on every run. With a cache folder set
//! ([`crate::engine::Llm::set_prompt_cache`]) each opening is computed once,
//! saved, and read back by later runs.
//!
//! A file is used only by the build that wrote it: it sits in a folder
//! named by a hash of the running executable's size and modification time
//! and of the model (files of other builds are deleted when a turn is
//! saved), and its name hashes the tokens. Another build may round differently, and an output must never
//! depend on which build computed an opening; with the same build, keys
//! and values read back are the bits computed, so outputs stay the same
//! (`tests/engine_identity.rs`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use sha2::{Digest, Sha256};

use super::qwen2::KvCache;

/// A folder of saved openings for one model.
#[derive(Debug, Clone)]
pub struct PromptCache {
    /// Holds one folder per build and model; only this one's is kept.
    root: PathBuf,
    /// `root/<hash of the model and the build>`.
    dir: PathBuf,
}

impl PromptCache {
    /// Saved turns of the model identified by `model` (its sha256) in `dir`.
    pub fn new(dir: &Path, model: &str) -> PromptCache {
        let build = std::env::current_exe()
            .and_then(std::fs::metadata)
            .map(|m| format!("{}:{:?}", m.len(), m.modified().ok()))
            .unwrap_or_default();
        let key = hex::encode(&Sha256::digest(format!("{model}\n{build}").as_bytes())[..8]);
        PromptCache { root: dir.to_path_buf(), dir: dir.join(key) }
    }

    fn path(&self, tokens: &[u32]) -> PathBuf {
        let mut hash = Sha256::new();
        for t in tokens {
            hash.update(t.to_le_bytes());
        }
        self.dir.join(format!("{}.safetensors", hex::encode(&hash.finalize()[..16])))
    }

    /// The cache after `tokens` for a model of `n_layer` layers, if this
    /// build saved it; anything unreadable counts as absent (the turn is
    /// then computed again).
    pub fn load(&self, tokens: &[u32], n_layer: usize, device: &Device) -> Option<KvCache> {
        let tensors = candle_core::safetensors::load(self.path(tokens), device).ok()?;
        let saved: Vec<u32> = tensors.get("tokens")?.to_vec1().ok()?;
        if saved != tokens {
            return None;
        }
        let mut layers = Vec::new();
        while let (Some(k), Some(v)) =
            (tensors.get(&format!("k.{}", layers.len())), tensors.get(&format!("v.{}", layers.len())))
        {
            layers.push((k.clone(), v.clone()));
        }
        if layers.len() != n_layer {
            return None;
        }
        KvCache::from_layers(layers, tokens.len()).ok()
    }

    /// Saves `cache`, the keys and values after `tokens`. Written to a
    /// temporary file and renamed, so a reader never sees half a file.
    /// Turns saved by other builds are deleted: no build reads them again.
    pub fn save(&self, tokens: &[u32], cache: &KvCache) -> anyhow::Result<()> {
        if !self.dir.exists() {
            for entry in std::fs::read_dir(&self.root).into_iter().flatten().flatten() {
                if entry.path().is_dir() {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        std::fs::create_dir_all(&self.dir)?;
        let mut tensors: HashMap<String, Tensor> = HashMap::new();
        tensors.insert("tokens".into(), Tensor::new(tokens, &Device::Cpu)?);
        for (l, (k, v)) in cache.layers()?.into_iter().enumerate() {
            tensors.insert(format!("k.{l}"), k);
            tensors.insert(format!("v.{l}"), v);
        }
        let path = self.path(tokens);
        let partial = path.with_extension(format!("part{}", std::process::id()));
        candle_core::safetensors::save(&tensors, &partial)?;
        std::fs::rename(&partial, &path)?;
        Ok(())
    }
}
