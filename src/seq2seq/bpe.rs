//! BART's tokenizer: GPT-2 byte-level BPE built from the repository's `vocab.json` and
//! `merges.txt`.
//!
//! Text is split into words by GPT-2's expression (contractions, letters, digits, other symbols,
//! each with one leading space, and runs of spaces), each word's bytes are spelled with GPT-2's
//! byte characters, and the pair of adjacent symbols with the lowest merge rank is merged, every
//! occurrence of it, until no listed pair is left. The ids are framed by `<s>` and `</s>`.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result};
use fancy_regex::Regex;

use crate::engine::tokenizer::byte_chars;

/// A byte-level BPE tokenizer as `transformers`' `BartTokenizer`.
#[derive(Debug, Clone)]
pub struct BartTokenizer {
    ids: HashMap<String, u32>,
    tokens: Vec<String>,
    ranks: HashMap<(String, String), usize>,
    byte_char: [char; 256],
    byte_of: HashMap<char, u8>,
    split: Regex,
    bos: u32,
    eos: u32,
    unk: Option<u32>,
    /// Tokens left out of decoded text.
    specials: Vec<u32>,
}

impl BartTokenizer {
    /// Reads `vocab.json` and `merges.txt` in `dir`.
    pub fn from_dir(dir: &Path) -> Result<BartTokenizer> {
        let vocab_path = dir.join("vocab.json");
        let text =
            std::fs::read_to_string(&vocab_path).with_context(|| format!("cannot read {}", vocab_path.display()))?;
        let ids: HashMap<String, u32> = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a JSON map of tokens to ids", vocab_path.display()))?;
        let mut tokens = vec![String::new(); ids.values().map(|&i| i as usize + 1).max().unwrap_or(0)];
        for (t, &i) in &ids {
            tokens[i as usize] = t.clone();
        }
        let merges_path = dir.join("merges.txt");
        let merges =
            std::fs::read_to_string(&merges_path).with_context(|| format!("cannot read {}", merges_path.display()))?;
        let mut ranks = HashMap::new();
        for line in merges.lines().filter(|l| !l.starts_with("#version") && !l.trim().is_empty()) {
            let (a, b) = line
                .split_once(' ')
                .with_context(|| format!("{}: merge {line:?} is not two symbols", merges_path.display()))?;
            let rank = ranks.len();
            ranks.entry((a.to_string(), b.to_string())).or_insert(rank);
        }
        let id = |t: &str| ids.get(t).copied().with_context(|| format!("{} has no {t}", vocab_path.display()));
        let byte_char = byte_chars();
        let specials =
            ["<s>", "</s>", "<pad>", "<unk>", "<mask>"].iter().filter_map(|t| ids.get(*t).copied()).collect();
        Ok(BartTokenizer {
            bos: id("<s>")?,
            eos: id("</s>")?,
            unk: ids.get("<unk>").copied(),
            specials,
            byte_of: (0..=255u8).map(|b| (byte_char[b as usize], b)).collect(),
            byte_char,
            split: Regex::new(r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+")
                .expect("valid expression"),
            ids,
            tokens,
            ranks,
        })
    }

    /// The BPE symbols of one word, already spelled in byte characters.
    fn bpe(&self, word: &str) -> Vec<String> {
        let mut symbols: Vec<String> = word.chars().map(String::from).collect();
        loop {
            let best = symbols
                .windows(2)
                .filter_map(|w| self.ranks.get(&(w[0].clone(), w[1].clone())).map(|&r| (r, w[0].clone(), w[1].clone())))
                .min_by_key(|x| x.0);
            let Some((_, a, b)) = best else { break };
            let mut merged = Vec::with_capacity(symbols.len());
            let mut i = 0;
            while i < symbols.len() {
                if i + 1 < symbols.len() && symbols[i] == a && symbols[i + 1] == b {
                    merged.push(format!("{a}{b}"));
                    i += 2;
                } else {
                    merged.push(symbols[i].clone());
                    i += 1;
                }
            }
            symbols = merged;
        }
        symbols
    }

    /// Ids of a text, framed by `<s>` and `</s>`.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut ids = vec![self.bos];
        for word in self.split.find_iter(text).filter_map(|m| m.ok()) {
            let spelled: String = word.as_str().bytes().map(|b| self.byte_char[b as usize]).collect();
            for symbol in self.bpe(&spelled) {
                if let Some(id) = self.ids.get(&symbol).copied().or(self.unk) {
                    ids.push(id);
                }
            }
        }
        ids.push(self.eos);
        ids
    }

    /// The text of ids, special tokens left out.
    pub fn decode(&self, ids: &[u32]) -> String {
        let bytes: Vec<u8> = ids
            .iter()
            .filter(|i| !self.specials.contains(i))
            .filter_map(|&i| self.tokens.get(i as usize))
            .flat_map(|t| t.chars().filter_map(|c| self.byte_of.get(&c).copied()).collect::<Vec<_>>())
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}
