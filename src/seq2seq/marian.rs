//! Marian (opus-mt) translation models: the tokenizer built from the repository's own
//! `source.spm`, `target.spm` and `vocab.json`, and the mapping of Marian's `config.json` onto the
//! [`super::bart`] model, which Marian shares.
//!
//! Multi-target models (opus-mt-en-zh) read a target-language token such as `>>cmn_Hans<<` at the
//! start of the source text; it is kept whole and looked up in the model's own vocabulary, so only
//! tokens the model knows are accepted ([`MarianTokenizer::language_token`]).

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result};

use super::sentencepiece::SentencePiece;

/// The tokenizer of a Marian model: source text through `source.spm`, output ids back through
/// `target.spm`, both mapped by the shared `vocab.json`.
#[derive(Debug, Clone)]
pub struct MarianTokenizer {
    source: SentencePiece,
    target: SentencePiece,
    ids: HashMap<String, u32>,
    pieces: Vec<String>,
    language_code: regex::Regex,
    eos: u32,
    unk: u32,
    pad: u32,
}

impl MarianTokenizer {
    /// Reads `source.spm`, `target.spm` and `vocab.json` in `dir`.
    pub fn from_dir(dir: &Path) -> Result<MarianTokenizer> {
        let source = SentencePiece::from_file(&dir.join("source.spm"))?;
        let target = SentencePiece::from_file(&dir.join("target.spm"))?;
        let path = dir.join("vocab.json");
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let ids: HashMap<String, u32> = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a JSON map of pieces to ids", path.display()))?;
        let mut pieces = vec![String::new(); ids.values().map(|&i| i as usize + 1).max().unwrap_or(0)];
        for (p, &i) in &ids {
            pieces[i as usize] = p.clone();
        }
        let id = |t: &str| ids.get(t).copied().with_context(|| format!("{} has no {t}", path.display()));
        Ok(MarianTokenizer {
            eos: id("</s>")?,
            unk: id("<unk>")?,
            pad: id("<pad>")?,
            source,
            target,
            ids,
            pieces,
            // As `transformers`' MarianTokenizer: greedy, from the start of the text.
            language_code: regex::Regex::new(">>.+<<").expect("valid expression"),
        })
    }

    pub fn eos_id(&self) -> u32 {
        self.eos
    }

    pub fn pad_id(&self) -> u32 {
        self.pad
    }

    /// The target-language tokens the model knows (`>>cmn_Hans<<`, ...), empty for a one-target model.
    pub fn language_tokens(&self) -> Vec<&str> {
        let mut v: Vec<&str> =
            self.ids.keys().filter(|p| p.starts_with(">>") && p.ends_with("<<")).map(String::as_str).collect();
        v.sort_unstable();
        v
    }

    /// The token that selects `code` as target, if the model has one: `>>code<<` itself, or the
    /// first known token of `code`'s language written in another script or variety
    /// (`zh` -> `>>cmn_Hans<<`).
    pub fn language_token(&self, code: &str) -> Option<String> {
        let exact = format!(">>{code}<<");
        if self.ids.contains_key(&exact) {
            return Some(exact);
        }
        let preferred: &[&str] = match code {
            "zh" => &[">>cmn_Hans<<", ">>zho_Hans<<", ">>cmn<<", ">>zho<<"],
            "ru" => &[">>rus<<"],
            _ => &[],
        };
        preferred.iter().find(|t| self.ids.contains_key(**t)).map(|t| t.to_string())
    }

    /// Ids of a source text, end token included.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut ids = Vec::new();
        let code = self.language_code.find(text).filter(|m| m.start() == 0).map(|m| m.as_str());
        if let Some(code) = code {
            ids.push(self.ids.get(code).copied().unwrap_or(self.unk));
        }
        let rest = self.language_code.replace_all(text, "");
        for token in self.source.encode(&rest) {
            ids.push(self.ids.get(&token.text).copied().unwrap_or(self.unk));
        }
        ids.push(self.eos);
        ids
    }

    /// Ids of a target text (what the model is trained to produce), end token included.
    pub fn encode_target(&self, text: &str) -> Vec<u32> {
        let mut ids: Vec<u32> =
            self.target.encode(text).into_iter().map(|t| self.ids.get(&t.text).copied().unwrap_or(self.unk)).collect();
        ids.push(self.eos);
        ids
    }

    /// The text of generated ids, special tokens left out.
    pub fn decode(&self, ids: &[u32]) -> String {
        let pieces = ids
            .iter()
            .filter(|&&i| i != self.eos && i != self.pad && i != self.unk)
            .filter_map(|&i| self.pieces.get(i as usize).map(String::as_str));
        self.target.decode_pieces(pieces).trim().to_string()
    }
}
