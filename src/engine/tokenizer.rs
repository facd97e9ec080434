//! The tokenizer of the Qwen2.5 GGUF models, built from the file's `tokenizer.ggml.*` metadata.
//!
//! No `tokenizer.json` ships with these models: the GGUF carries the vocabulary (`tokens`, spelled with
//! GPT-2's byte-to-unicode map), `token_type`, the ranked `merges` and the name of the pre-tokenizer
//! (`qwen2`). Encoding follows llama.cpp step by step, so prompts get exactly the ids llama.cpp gives them
//! (checked against llama-cpp-python in `tests/tokenizer_parity.rs`):
//!
//! 1. special tokens written in the text are cut out first, longest first; control tokens only when
//!    asked to (`parse_special`), user-defined ones (`<tool_call>`) always, as llama.cpp does;
//! 2. each remaining piece is split into words by the `qwen2` pre-tokenizer expression;
//! 3. the bytes of each word are merged by byte-level BPE: the adjacent pair with the lowest merge rank
//!    first, the leftmost one on ties.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use anyhow::{bail, Context, Result};
use candle_core::quantized::gguf_file::{Content, Value};
use fancy_regex::Regex;

/// The pre-tokenizer expression llama.cpp uses for `tokenizer.ggml.pre = qwen2`: the one of Qwen2's
/// `tokenizer.json`, with the case-insensitive group spelled out. `{L}` and `{N}` stand for letters and
/// numbers (see [`LETTER`], [`NUMBER`]).
const QWEN2_SPLIT: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n{L}{N}]?{L}+|{N}| ?[^\s{L}{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Letters as llama.cpp knows them: its character tables are Unicode 15.1, the regex crate's 16.0,
/// which made some 4300 more code points letters and 80 numbers (Garay, Tulu-Tigalari, ...). Limited
/// to the characters 15.1 had assigned, both agree on every code point; a newer character is then
/// punctuation to both, as llama.cpp treats it.
const LETTER: &str = r"[\p{L}&&\p{Age=15.1}]";
/// Numbers as llama.cpp knows them; see [`LETTER`].
const NUMBER: &str = r"[\p{N}&&\p{Age=15.1}]";

fn qwen2_split() -> Regex {
    let pattern = QWEN2_SPLIT.replace("{L}", LETTER).replace("{N}", NUMBER);
    Regex::new(&pattern).expect("the qwen2 pre-tokenizer expression compiles")
}

/// What a vocabulary entry is, from `tokenizer.ggml.token_type` (llama.cpp's numbering).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenKind {
    Normal,
    Unknown,
    Control,
    UserDefined,
    Unused,
    Byte,
}

impl TokenKind {
    fn from_gguf(code: i32) -> Result<Self> {
        Ok(match code {
            1 => Self::Normal,
            2 => Self::Unknown,
            3 => Self::Control,
            4 => Self::UserDefined,
            5 => Self::Unused,
            6 => Self::Byte,
            other => bail!("unknown token type {other} in `tokenizer.ggml.token_type`"),
        })
    }

    /// Tokens matched as a whole in the text before BPE (llama.cpp's "special tokens cache").
    fn is_special(self) -> bool {
        matches!(self, Self::Control | Self::UserDefined | Self::Unknown)
    }

    /// Tokens that only mark structure (`<|im_end|>`): rendered by [`Specials::Render`] only, and
    /// matched in text only with `parse_special`.
    fn is_control(self) -> bool {
        matches!(self, Self::Control | Self::Unknown)
    }
}

/// How [`Tokenizer::decode`] and [`TokenStream`] render control tokens such as `<|im_end|>`.
/// User-defined tokens (`<tool_call>`) are always rendered as their text, unused ones never, as in
/// llama.cpp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Specials {
    /// Write their text: the exact inverse of `encode(text, true)`.
    Render,
    /// Leave them out: what a reader of generated text wants.
    Skip,
}

/// One learned merge: the pair it joins has this rank (lower merges first) and gives token `id`.
#[derive(Debug, Clone, Copy)]
struct Merge {
    rank: u32,
    id: u32,
}

/// A byte-level BPE tokenizer equal to llama.cpp's for `gpt2`/`qwen2` vocabularies.
pub struct Tokenizer {
    /// The bytes each token stands for (empty for unused tokens, which llama.cpp renders as nothing).
    pieces: Vec<Box<[u8]>>,
    kinds: Vec<TokenKind>,
    /// Vocabulary text (as written in the GGUF) to id.
    ids_by_text: HashMap<String, u32>,
    /// The token of each single byte, where BPE starts from.
    byte_ids: [u32; 256],
    merges: HashMap<(u32, u32), Merge>,
    /// Control, user-defined and unknown tokens, longest text first: the order llama.cpp cuts them out.
    specials: Vec<u32>,
    split: Regex,
    eos_ids: Vec<u32>,
    pad_id: Option<u32>,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("vocab_size", &self.pieces.len())
            .field("merges", &self.merges.len())
            .field("eos_ids", &self.eos_ids)
            .finish_non_exhaustive()
    }
}

/// GPT-2's map from bytes to the characters that spell them in the vocabulary: printable Latin-1
/// bytes stand for themselves, the others (controls, space, ...) are moved to U+0100 and up, in order.
pub(crate) fn byte_chars() -> [char; 256] {
    let keeps_itself = |b: u8| matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
    let mut chars = ['\0'; 256];
    let mut next_moved = 0x100u32;
    for b in 0..=255u8 {
        chars[b as usize] = if keeps_itself(b) {
            char::from(b)
        } else {
            let c = char::from_u32(next_moved).expect("U+0100..U+0143 are characters");
            next_moved += 1;
            c
        };
    }
    chars
}

/// The bytes a vocabulary string spells, or `None` if it has a character outside the byte map.
fn spelled_bytes(text: &str, byte_of: &HashMap<char, u8>) -> Option<Vec<u8>> {
    text.chars().map(|c| byte_of.get(&c).copied()).collect()
}

fn metadata<'a>(content: &'a Content, key: &str) -> Result<&'a Value> {
    content
        .metadata
        .get(key)
        .with_context(|| format!("the GGUF metadata has no `{key}`: this model file carries no usable tokenizer"))
}

fn metadata_strings<'a>(content: &'a Content, key: &str) -> Result<Vec<&'a str>> {
    metadata(content, key)?
        .to_vec()
        .with_context(|| format!("`{key}` in the GGUF metadata is not an array"))?
        .iter()
        .map(|v| v.to_string().map(String::as_str))
        .collect::<candle_core::Result<_>>()
        .with_context(|| format!("`{key}` in the GGUF metadata is not an array of strings"))
}

fn metadata_id(content: &Content, key: &str) -> Result<Option<u32>> {
    content
        .metadata
        .get(key)
        .map(|v| v.to_u32().with_context(|| format!("`{key}` in the GGUF metadata is not a u32")))
        .transpose()
}

impl Tokenizer {
    /// Reads the tokenizer of the GGUF file at `path` from its header (the weights are not read).
    pub fn from_gguf_file(path: &std::path::Path) -> Result<Self> {
        let mut file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let content =
            Content::read(&mut file).with_context(|| format!("{} is not a readable GGUF file", path.display()))?;
        Tokenizer::from_gguf(&content)
    }

    /// Builds the tokenizer from GGUF metadata (`gguf_file::Content::read` reads only the header, quickly).
    pub fn from_gguf(content: &Content) -> Result<Self> {
        let model = metadata(content, "tokenizer.ggml.model")?.to_string()?;
        if model != "gpt2" {
            bail!("tokenizer model `{model}` is not supported: only byte-level BPE (`gpt2`) is");
        }
        let pre = metadata(content, "tokenizer.ggml.pre")?.to_string()?;
        if pre != "qwen2" {
            bail!("pre-tokenizer `{pre}` is not supported: only `qwen2` (Qwen2/2.5 models) is");
        }

        let texts = metadata_strings(content, "tokenizer.ggml.tokens")?;
        let n_tokens = texts.len();
        let kinds: Vec<TokenKind> = match content.metadata.get("tokenizer.ggml.token_type") {
            None => vec![TokenKind::Normal; n_tokens],
            Some(v) => v.to_vec()?.iter().map(|t| TokenKind::from_gguf(t.to_i32()?)).collect::<Result<_>>()?,
        };
        if kinds.len() != n_tokens {
            bail!("the GGUF has {} token types for {n_tokens} tokens", kinds.len());
        }

        let chars = byte_chars();
        let byte_of: HashMap<char, u8> = (0..=255u8).map(|b| (chars[b as usize], b)).collect();
        let mut pieces = Vec::with_capacity(n_tokens);
        let mut ids_by_text = HashMap::with_capacity(n_tokens);
        for (id, (&text, &kind)) in texts.iter().zip(&kinds).enumerate() {
            let piece = match kind {
                TokenKind::Normal => spelled_bytes(text, &byte_of).with_context(|| {
                    format!("vocabulary entry {id} ({text:?}) is not spelled in GPT-2 byte characters")
                })?,
                TokenKind::Unused => Vec::new(),
                TokenKind::Byte => bail!("byte tokens ({text:?}) do not occur in byte-level BPE"),
                _ => text.as_bytes().to_vec(),
            };
            pieces.push(piece.into_boxed_slice());
            // Later entries win on duplicate text, as in llama.cpp.
            ids_by_text.insert(text.to_string(), id as u32);
        }

        let mut byte_ids = [0u32; 256];
        for (b, id) in byte_ids.iter_mut().enumerate() {
            let text = chars[b].to_string();
            *id = *ids_by_text
                .get(&text)
                .with_context(|| format!("the vocabulary has no token for byte {b:#04x} ({text:?})"))?;
        }

        let merge_texts = metadata_strings(content, "tokenizer.ggml.merges")?;
        let mut merges = HashMap::with_capacity(merge_texts.len());
        for (rank, line) in merge_texts.iter().enumerate() {
            // llama.cpp splits at the first space after the first character.
            let split = line
                .char_indices()
                .skip(1)
                .find(|&(_, c)| c == ' ')
                .map(|(i, _)| i)
                .with_context(|| format!("merge {rank} ({line:?}) is not two tokens separated by a space"))?;
            let (left, right) = (&line[..split], &line[split + 1..]);
            let id_of = |s: &str| ids_by_text.get(s).copied();
            // A merge whose parts or result are not tokens could never yield a token, so it is left
            // out; in the Qwen2.5 GGUFs all 151387 merges are complete.
            let (Some(l), Some(r), Some(joined)) = (id_of(left), id_of(right), id_of(&[left, right].concat())) else {
                continue;
            };
            // The first listed (lowest) rank wins on duplicates, as in llama.cpp.
            merges.entry((l, r)).or_insert(Merge { rank: rank as u32, id: joined });
        }

        let mut specials: Vec<u32> = (0..n_tokens as u32).filter(|&id| kinds[id as usize].is_special()).collect();
        specials.sort_by_key(|&id| (Reverse(texts[id as usize].len()), id));

        let eos = metadata_id(content, "tokenizer.ggml.eos_token_id")?;
        let mut eos_ids: Vec<u32> = eos
            .into_iter()
            .chain(["<|im_end|>", "<|endoftext|>"].iter().filter_map(|t| ids_by_text.get(*t).copied()))
            .collect();
        eos_ids.sort_unstable();
        eos_ids.dedup();
        if eos_ids.iter().any(|&id| id as usize >= n_tokens) {
            bail!("an end-of-sequence id in {eos_ids:?} lies outside the vocabulary of {n_tokens} tokens");
        }

        Ok(Self {
            pieces,
            kinds,
            ids_by_text,
            byte_ids,
            merges,
            specials,
            split: qwen2_split(),
            eos_ids,
            pad_id: metadata_id(content, "tokenizer.ggml.padding_token_id")?,
        })
    }

    /// Number of entries in the vocabulary (the model's logits may be wider).
    pub fn vocab_size(&self) -> usize {
        self.pieces.len()
    }

    /// The bytes an ordinary token stands for; none for control tokens.
    pub fn token_bytes(&self, id: u32) -> &[u8] {
        self.piece(id, Specials::Skip)
    }

    /// The id of a vocabulary entry, written as in the GGUF (`"<|im_start|>"`, or `"Ġthe"` for " the").
    pub fn token_id(&self, text: &str) -> Option<u32> {
        self.ids_by_text.get(text).copied()
    }

    /// Tokens that end a generation: the GGUF's end-of-sequence token, `<|im_end|>` and `<|endoftext|>`.
    pub fn eos_ids(&self) -> &[u32] {
        &self.eos_ids
    }

    /// The padding token the GGUF names, if any.
    pub fn pad_id(&self) -> Option<u32> {
        self.pad_id
    }

    /// Token ids of `text`, without a BOS (Qwen adds none). With `parse_special`, control tokens written
    /// in the text (`<|im_start|>`, `<|im_end|>`, `<|endoftext|>`) become their ids; without it they are
    /// tokenized as plain text.
    pub fn encode(&self, text: &str, parse_special: bool) -> Vec<u32> {
        let mut ids = Vec::with_capacity(text.len() / 3 + 1);
        // Words recur a lot in prose: each distinct word is merged once, later copies are taken from
        // where its ids were first written into `ids`.
        let mut seen: HashMap<&str, (usize, usize)> = HashMap::new();
        for fragment in self.cut_specials(text, parse_special) {
            match fragment {
                Fragment::Special(id) => ids.push(id),
                Fragment::Text(piece) => {
                    for word in self.words(piece) {
                        if let Some(&(start, len)) = seen.get(word) {
                            ids.extend_from_within(start..start + len);
                        } else {
                            let start = ids.len();
                            self.merge_word(word.as_bytes(), &mut ids);
                            seen.insert(word, (start, ids.len() - start));
                        }
                    }
                }
            }
        }
        ids
    }

    /// Splits `text` at the special tokens written in it, as llama.cpp does: for each special token,
    /// longest first, every text fragment left so far is cut at each of its occurrences.
    fn cut_specials<'t>(&self, text: &'t str, parse_special: bool) -> Vec<Fragment<'t>> {
        if text.is_empty() {
            return Vec::new();
        }
        let mut fragments = vec![Fragment::Text(text)];
        for &id in &self.specials {
            if !parse_special && self.kinds[id as usize].is_control() {
                continue;
            }
            let needle = &*self.pieces[id as usize];
            let needle = std::str::from_utf8(needle).expect("special token text is UTF-8");
            if needle.is_empty() || !fragments.iter().any(|f| matches!(f, Fragment::Text(t) if t.contains(needle))) {
                continue;
            }
            let mut cut = Vec::with_capacity(fragments.len() + 2);
            for fragment in fragments {
                let Fragment::Text(t) = fragment else {
                    cut.push(fragment);
                    continue;
                };
                let mut rest = t;
                while let Some(at) = rest.find(needle) {
                    if at > 0 {
                        cut.push(Fragment::Text(&rest[..at]));
                    }
                    cut.push(Fragment::Special(id));
                    rest = &rest[at + needle.len()..];
                }
                if !rest.is_empty() {
                    cut.push(Fragment::Text(rest));
                }
            }
            fragments = cut;
        }
        fragments
    }

    /// The words of the `qwen2` pre-tokenizer. The expression matches every character; should the
    /// matcher still give up (its backtracking limit), the rest of the text becomes one word, so no
    /// byte is ever lost.
    fn words<'t>(&self, text: &'t str) -> Vec<&'t str> {
        let mut words = Vec::with_capacity(text.len() / 4 + 1);
        let mut at = 0;
        for found in self.split.find_iter(text) {
            let Ok(m) = found else { break };
            if m.start() > at {
                words.push(&text[at..m.start()]);
            }
            words.push(m.as_str());
            at = m.end();
        }
        if at < text.len() {
            words.push(&text[at..]);
        }
        words
    }

    /// Byte-level BPE of one word, appended to `out`.
    fn merge_word(&self, word: &[u8], out: &mut Vec<u32>) {
        if word.len() == 1 {
            out.push(self.byte_ids[word[0] as usize]);
            return;
        }
        // A doubly linked list of symbols; merged-away symbols are marked dead.
        let mut syms: Vec<Symbol> = word
            .iter()
            .enumerate()
            .map(|(i, &b)| Symbol {
                id: self.byte_ids[b as usize],
                prev: i.checked_sub(1),
                next: (i + 1 < word.len()).then_some(i + 1),
                alive: true,
            })
            .collect();
        // Min-heap on (rank, left position): llama.cpp's order. Entries go stale when a neighbour
        // merges; the ids they were made from tell.
        let mut queue = BinaryHeap::new();
        let pair = |syms: &[Symbol], left: usize, right: usize| -> Option<Reverse<Candidate>> {
            let (l, r) = (syms[left].id, syms[right].id);
            self.merges
                .get(&(l, r))
                .map(|m| Reverse(Candidate { rank: m.rank, left, right, left_id: l, right_id: r, merged: m.id }))
        };
        for i in 1..syms.len() {
            queue.extend(pair(&syms, i - 1, i));
        }
        while let Some(Reverse(c)) = queue.pop() {
            let (l, r) = (&syms[c.left], &syms[c.right]);
            if !l.alive || !r.alive || l.next != Some(c.right) || l.id != c.left_id || r.id != c.right_id {
                continue;
            }
            let after = syms[c.right].next;
            syms[c.right].alive = false;
            syms[c.left].id = c.merged;
            syms[c.left].next = after;
            if let Some(a) = after {
                syms[a].prev = Some(c.left);
            }
            if let Some(p) = syms[c.left].prev {
                queue.extend(pair(&syms, p, c.left));
            }
            if let Some(a) = after {
                queue.extend(pair(&syms, c.left, a));
            }
        }
        out.extend(syms.iter().filter(|s| s.alive).map(|s| s.id));
    }

    /// Text of `ids`; control tokens rendered as their text (the inverse of `encode(text, true)`).
    /// Bytes that do not form UTF-8 (a character cut at the end) become U+FFFD.
    pub fn decode(&self, ids: &[u32]) -> String {
        self.decode_with(ids, Specials::Render)
    }

    /// Text of `ids`, control tokens rendered or skipped as `specials` says.
    pub fn decode_with(&self, ids: &[u32], specials: Specials) -> String {
        let mut bytes = Vec::with_capacity(ids.len() * 4);
        for &id in ids {
            bytes.extend_from_slice(self.piece(id, specials));
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The bytes token `id` stands for; ids outside the vocabulary stand for nothing.
    fn piece(&self, id: u32, specials: Specials) -> &[u8] {
        match self.kinds.get(id as usize) {
            None => &[],
            Some(kind) if kind.is_control() && specials == Specials::Skip => &[],
            Some(_) => &self.pieces[id as usize],
        }
    }
}

enum Fragment<'t> {
    Text(&'t str),
    Special(u32),
}

struct Symbol {
    id: u32,
    prev: Option<usize>,
    next: Option<usize>,
    alive: bool,
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Candidate {
    rank: u32,
    left: usize,
    right: usize,
    left_id: u32,
    right_id: u32,
    merged: u32,
}

/// Turns generated tokens into text as they arrive. A token may end inside a multi-byte character
/// (Chinese and Russian text is full of them); those bytes wait until the character is complete.
/// The stream does not borrow the tokenizer, so a generation loop can hold both.
#[derive(Debug, Clone)]
pub struct TokenStream {
    specials: Specials,
    pending: Vec<u8>,
}

impl TokenStream {
    /// A stream rendering control tokens as `specials` says.
    pub fn new(specials: Specials) -> Self {
        Self { specials, pending: Vec::new() }
    }

    /// Adds one token; returns the text it completes (empty if it only started a character).
    pub fn push(&mut self, tokenizer: &Tokenizer, id: u32) -> String {
        self.pending.extend_from_slice(tokenizer.piece(id, self.specials));
        let mut text = String::new();
        loop {
            match std::str::from_utf8(&self.pending) {
                Ok(s) => {
                    text.push_str(s);
                    self.pending.clear();
                    return text;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    text.push_str(std::str::from_utf8(&self.pending[..valid]).expect("checked valid"));
                    match e.error_len() {
                        // An unfinished character at the end: keep it for the next token.
                        None => {
                            self.pending.drain(..valid);
                            return text;
                        }
                        // Bytes that can never become a character: replace them as `decode` does.
                        Some(bad) => {
                            text.push(char::REPLACEMENT_CHARACTER);
                            self.pending.drain(..valid + bad);
                        }
                    }
                }
            }
        }
    }

    /// Ends the stream: an unfinished character left over becomes U+FFFD, as in `decode`.
    pub fn finish(self) -> String {
        String::from_utf8_lossy(&self.pending).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::quantized::gguf_file::VersionedMagic;

    #[test]
    fn byte_chars_match_gpt2_table() {
        let chars = byte_chars();
        // The 256 characters are distinct and printable (not whitespace or control).
        let distinct: std::collections::HashSet<char> = chars.iter().copied().collect();
        assert_eq!(distinct.len(), 256);
        assert!(chars.iter().all(|c| !c.is_whitespace() && !c.is_control()));
        // Values printed by GPT-2's reference `bytes_to_unicode()` (openai/gpt-2 encoder.py): space is
        // "Ġ", newline "Ċ", tab "ĉ"; the moved bytes 0x00..=0x20, 0x7F..=0xA0, 0xAD count up from U+0100.
        let expected = [
            (0x20, 'Ġ'),
            (0x0A, 'Ċ'),
            (0x09, 'ĉ'),
            (0x00, 'Ā'),
            (0x7F, 'ġ'),
            (0xA0, 'ł'),
            (0xAD, 'Ń'),
            (b'a', 'a'),
            (0xE4, 'ä'),
        ];
        for (byte, c) in expected {
            assert_eq!(chars[byte as usize], c, "byte {byte:#04x}");
        }
    }

    /// A GGUF header with a hand-made vocabulary: all 256 byte tokens, then the given merges' results
    /// and specials.
    fn tiny(merges: &[&str], specials: &[(&str, i32)]) -> Tokenizer {
        let chars = byte_chars();
        let mut tokens: Vec<String> = chars.iter().map(|c| c.to_string()).collect();
        let mut types = vec![1; 256];
        for m in merges {
            let joined = m.replace(' ', "");
            if !tokens.contains(&joined) {
                tokens.push(joined);
                types.push(1);
            }
        }
        for (text, kind) in specials {
            tokens.push(text.to_string());
            types.push(*kind);
        }
        let strings = |v: Vec<String>| Value::Array(v.into_iter().map(Value::String).collect());
        let metadata = [
            ("tokenizer.ggml.model", Value::String("gpt2".into())),
            ("tokenizer.ggml.pre", Value::String("qwen2".into())),
            ("tokenizer.ggml.tokens", strings(tokens)),
            ("tokenizer.ggml.token_type", Value::Array(types.into_iter().map(Value::I32).collect())),
            ("tokenizer.ggml.merges", strings(merges.iter().map(|m| m.to_string()).collect())),
        ];
        let content = Content {
            magic: VersionedMagic::GgufV3,
            metadata: metadata.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            tensor_infos: HashMap::new(),
            tensor_data_offset: 0,
        };
        Tokenizer::from_gguf(&content).unwrap()
    }

    fn texts(tok: &Tokenizer, ids: &[u32]) -> Vec<String> {
        ids.iter().map(|&id| tok.decode(&[id])).collect()
    }

    #[test]
    fn merges_apply_lowest_rank_first() {
        // "a b" outranks "b c": "abc" becomes "ab"+"c", never "a"+"bc"; "c d" outranks "b c" too.
        let tok = tiny(&["a b", "c d", "b c", "ab cd"], &[]);
        assert_eq!(texts(&tok, &tok.encode("abc", false)), ["ab", "c"]);
        assert_eq!(texts(&tok, &tok.encode("abcd", false)), ["abcd"]);
        assert_eq!(texts(&tok, &tok.encode("bcd", false)), ["b", "cd"]);
        // A later merge can only join what earlier merges produced.
        let tok = tiny(&["b c", "a b", "ab cd", "c d"], &[]);
        assert_eq!(texts(&tok, &tok.encode("abcd", false)), ["a", "bc", "d"]);
    }

    #[test]
    fn equal_ranks_merge_leftmost_first() {
        // "aaa": the pair at 0 merges first, leaving the last "a" alone.
        let tok = tiny(&["a a"], &[]);
        assert_eq!(texts(&tok, &tok.encode("aaa", false)), ["aa", "a"]);
        assert_eq!(texts(&tok, &tok.encode("aaaa", false)), ["aa", "aa"]);
        let tok = tiny(&["a a", "aa aa"], &[]);
        assert_eq!(texts(&tok, &tok.encode("aaaaa", false)), ["aaaa", "a"]);
    }

    #[test]
    fn merges_work_on_bytes_and_stop_at_words() {
        // " the" is spelled "Ġthe"; the space belongs to the following word, so "x the" never
        // merges across the word boundary.
        let tok = tiny(&["Ġ t", "h e", "Ġt he", "x Ġ"], &[]);
        assert_eq!(texts(&tok, &tok.encode("x the", false)), ["x", " the"]);
        // Multi-byte characters start as bytes and come back whole.
        let ids = tok.encode("é", false);
        assert_eq!(ids.len(), 2);
        assert_eq!(tok.decode(&ids), "é");
    }

    #[test]
    fn control_tokens_need_parse_special_user_defined_do_not() {
        let tok = tiny(&[], &[("<|im_end|>", 3), ("<tool_call>", 4)]);
        let end = tok.token_id("<|im_end|>").unwrap();
        let call = tok.token_id("<tool_call>").unwrap();
        assert_eq!(tok.encode("a<|im_end|>", true), [tok.byte_ids[b'a' as usize], end]);
        assert_eq!(tok.encode("a<|im_end|>", false).len(), 1 + "<|im_end|>".len());
        assert_eq!(tok.encode("<tool_call>", false), [call]);
        assert_eq!(tok.decode_with(&[end, call], Specials::Skip), "<tool_call>");
        assert_eq!(tok.decode(&[end, call]), "<|im_end|><tool_call>");
    }

    #[test]
    fn stream_holds_back_unfinished_characters() {
        let tok = tiny(&[], &[]);
        let ids = tok.encode("ж中", false); // five single-byte tokens
        let mut stream = TokenStream::new(Specials::Render);
        let pieces: Vec<String> = ids.iter().map(|&id| stream.push(&tok, id)).collect();
        assert_eq!(pieces, ["", "ж", "", "", "中"]);
        // A lone continuation byte cannot start a character: replaced at once, not held.
        let mut stream = TokenStream::new(Specials::Render);
        assert_eq!(stream.push(&tok, tok.byte_ids[0x80]), "\u{FFFD}");
        assert_eq!(stream.push(&tok, tok.byte_ids[0xE4]), "");
        assert_eq!(stream.finish(), "\u{FFFD}");
    }
}
