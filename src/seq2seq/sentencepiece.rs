//! SentencePiece unigram models read from their own `.model` files (Marian's `source.spm` and
//! `target.spm`, T5's `spiece.model`), with no Python step and no converted files.
//!
//! A `.model` file is a protobuf `ModelProto`: the pieces with their scores and types, the trainer
//! settings and the normalizer settings (its `precompiled_charsmap` is a double-array trie of
//! normalization rules, e.g. NFKC). Encoding follows the reference library: normalize (rules, extra
//! spaces, a dummy prefix, spaces as `▁`), then the Viterbi path of highest total score over the
//! pieces, where a character no piece covers becomes the unknown piece and runs of unknown pieces
//! are merged into one. Checked against `sentencepiece`/`transformers` in
//! `tests/seq2seq_parity.rs`.

use std::collections::HashMap;

use anyhow::{bail, Context, Result};

/// The kind of a piece, as `SentencePiece.Type` numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PieceKind {
    Normal,
    Unknown,
    Control,
    UserDefined,
    Unused,
    Byte,
}

impl PieceKind {
    fn from_proto(code: u64) -> PieceKind {
        match code {
            2 => PieceKind::Unknown,
            3 => PieceKind::Control,
            4 => PieceKind::UserDefined,
            5 => PieceKind::Unused,
            6 => PieceKind::Byte,
            _ => PieceKind::Normal,
        }
    }
}

/// One token of an encoding: its piece id and the text it stands for (for an unknown piece, the
/// surface text it covers, as `encode(out_type=str)` returns it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub id: u32,
    pub text: String,
}

/// A SentencePiece unigram model.
#[derive(Debug, Clone)]
pub struct SentencePiece {
    pieces: Vec<(String, f32, PieceKind)>,
    ids: HashMap<String, u32>,
    /// Longest piece, in bytes: how far the lattice looks ahead.
    max_piece_len: usize,
    unk_id: u32,
    /// Score of an unknown character: the lowest piece score minus 10, as the reference does.
    unk_score: f32,
    normalizer: Normalizer,
}

#[derive(Debug, Clone)]
struct Normalizer {
    charsmap: Option<CharsMap>,
    add_dummy_prefix: bool,
    remove_extra_whitespaces: bool,
    escape_whitespaces: bool,
}

/// The precompiled normalization rules: a darts-clone double-array trie over the input's bytes
/// whose leaves point into a pool of NUL-terminated replacement strings.
#[derive(Debug, Clone)]
struct CharsMap {
    units: Vec<u32>,
    pool: Vec<u8>,
}

impl CharsMap {
    fn parse(blob: &[u8]) -> Result<CharsMap> {
        if blob.len() < 4 {
            bail!("the precompiled charsmap is truncated");
        }
        let trie_len = u32::from_le_bytes(blob[..4].try_into().unwrap()) as usize;
        if !trie_len.is_multiple_of(4) || 4 + trie_len > blob.len() {
            bail!("the precompiled charsmap's trie size ({trie_len}) does not fit the blob");
        }
        let units = blob[4..4 + trie_len].chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().unwrap())).collect();
        Ok(CharsMap { units, pool: blob[4 + trie_len..].to_vec() })
    }

    /// The replacement of the longest rule matching the start of `input` and the number of input
    /// bytes it covers.
    fn longest_match(&self, input: &[u8]) -> Option<(&[u8], usize)> {
        let offset = |u: u32| ((u >> 10) << ((u & (1 << 9)) >> 6)) as usize;
        let label = |u: u32| u & ((1 << 31) | 0xFF);
        let has_leaf = |u: u32| (u >> 8) & 1 == 1;
        let value = |u: u32| (u & ((1 << 31) - 1)) as usize;
        let mut best = None;
        let mut pos = offset(*self.units.first()?);
        for (i, &byte) in input.iter().enumerate() {
            pos ^= byte as usize;
            let unit = *self.units.get(pos)?;
            if label(unit) != byte as u32 {
                break;
            }
            pos ^= offset(unit);
            if has_leaf(unit) {
                let start = value(*self.units.get(pos)?);
                let end = self.pool[start..].iter().position(|&b| b == 0)? + start;
                best = Some((&self.pool[start..end], i + 1));
            }
        }
        best
    }
}

impl Normalizer {
    /// The normalized prefix of `input` and how many bytes of `input` it replaces.
    fn prefix<'a>(&'a self, input: &'a str) -> (std::borrow::Cow<'a, str>, usize) {
        if let Some((rule, len)) = self.charsmap.as_ref().and_then(|m| m.longest_match(input.as_bytes())) {
            return (String::from_utf8_lossy(rule), len);
        }
        let len = input.chars().next().map_or(0, char::len_utf8);
        (std::borrow::Cow::Borrowed(&input[..len]), len)
    }

    /// The text as the pieces spell it.
    fn normalize(&self, text: &str) -> String {
        let space = if self.escape_whitespaces { "▁" } else { " " };
        let mut input = text;
        if self.remove_extra_whitespaces {
            while !input.is_empty() {
                let (piece, len) = self.prefix(input);
                if piece != " " {
                    break;
                }
                input = &input[len..];
            }
        }
        let mut out = String::with_capacity(text.len() + 8);
        if input.is_empty() {
            return out;
        }
        if self.add_dummy_prefix {
            out.push_str(space);
        }
        let mut prev_space = self.remove_extra_whitespaces;
        while !input.is_empty() {
            let (piece, len) = self.prefix(input);
            let mut piece: &str = &piece;
            if prev_space {
                piece = piece.trim_start_matches(' ');
            }
            if !piece.is_empty() {
                for c in piece.chars() {
                    if c == ' ' && self.escape_whitespaces {
                        out.push_str(space);
                    } else {
                        out.push(c);
                    }
                }
                prev_space = piece.ends_with(' ');
            }
            input = &input[len..];
        }
        if self.remove_extra_whitespaces {
            while out.ends_with(space) {
                out.truncate(out.len() - space.len());
            }
        }
        out
    }
}

/// A minimal protobuf reader: just what `ModelProto` needs.
struct Proto<'a> {
    buf: &'a [u8],
}

enum Field<'a> {
    Varint(u64),
    Fixed32(u32),
    Bytes(&'a [u8]),
}

impl<'a> Proto<'a> {
    fn varint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = self.buf.split_first().context("truncated varint")?;
            self.buf = rest;
            v |= ((b & 0x7F) as u64) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        bail!("varint longer than 10 bytes")
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.buf.len() {
            bail!("field runs past the end of the message");
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn next(&mut self) -> Result<Option<(u64, Field<'a>)>> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let field = match key & 7 {
            0 => Field::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                return self.next();
            }
            2 => {
                let n = self.varint()? as usize;
                Field::Bytes(self.take(n)?)
            }
            5 => Field::Fixed32(u32::from_le_bytes(self.take(4)?.try_into().unwrap())),
            t => bail!("unsupported protobuf wire type {t}"),
        };
        Ok(Some((key >> 3, field)))
    }
}

impl SentencePiece {
    /// Reads a `.model` file.
    pub fn from_file(path: &std::path::Path) -> Result<SentencePiece> {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        SentencePiece::from_bytes(&bytes).with_context(|| format!("{} is not a SentencePiece model", path.display()))
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<SentencePiece> {
        let mut pieces = Vec::new();
        let mut model_type = 1;
        let mut normalizer = Normalizer {
            charsmap: None,
            add_dummy_prefix: true,
            remove_extra_whitespaces: true,
            escape_whitespaces: true,
        };
        let mut top = Proto { buf: bytes };
        while let Some((tag, field)) = top.next()? {
            match (tag, field) {
                (1, Field::Bytes(msg)) => {
                    let (mut text, mut score, mut kind) = (String::new(), 0f32, PieceKind::Normal);
                    let mut p = Proto { buf: msg };
                    while let Some((t, f)) = p.next()? {
                        match (t, f) {
                            (1, Field::Bytes(b)) => {
                                text = String::from_utf8(b.to_vec()).context("a piece is not UTF-8")?
                            }
                            (2, Field::Fixed32(bits)) => score = f32::from_bits(bits),
                            (3, Field::Varint(v)) => kind = PieceKind::from_proto(v),
                            _ => {}
                        }
                    }
                    pieces.push((text, score, kind));
                }
                (2, Field::Bytes(msg)) => {
                    let mut p = Proto { buf: msg };
                    while let Some((t, f)) = p.next()? {
                        if let (3, Field::Varint(v)) = (t, f) {
                            model_type = v;
                        }
                    }
                }
                (3, Field::Bytes(msg)) => {
                    let mut p = Proto { buf: msg };
                    while let Some((t, f)) = p.next()? {
                        match (t, f) {
                            (2, Field::Bytes(b)) if !b.is_empty() => normalizer.charsmap = Some(CharsMap::parse(b)?),
                            (3, Field::Varint(v)) => normalizer.add_dummy_prefix = v != 0,
                            (4, Field::Varint(v)) => normalizer.remove_extra_whitespaces = v != 0,
                            (5, Field::Varint(v)) => normalizer.escape_whitespaces = v != 0,
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        if model_type != 1 {
            bail!("only unigram SentencePiece models are supported (model type {model_type})");
        }
        if pieces.is_empty() {
            bail!("the model has no pieces");
        }
        let unk_id =
            pieces.iter().position(|p| p.2 == PieceKind::Unknown).context("the model has no unknown piece")? as u32;
        let min_score = pieces.iter().filter(|p| p.2 == PieceKind::Normal).map(|p| p.1).fold(f32::INFINITY, f32::min);
        let mut ids = HashMap::with_capacity(pieces.len());
        for (i, p) in pieces.iter().enumerate() {
            ids.entry(p.0.clone()).or_insert(i as u32);
        }
        let max_piece_len = pieces.iter().map(|p| p.0.len()).max().unwrap_or(1);
        Ok(SentencePiece { pieces, ids, max_piece_len, unk_id, unk_score: min_score - 10.0, normalizer })
    }

    pub fn len(&self) -> usize {
        self.pieces.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    /// The id of a piece, if the model has it.
    pub fn piece_id(&self, piece: &str) -> Option<u32> {
        self.ids.get(piece).copied()
    }

    /// The text of piece `id`.
    pub fn piece(&self, id: u32) -> Option<&str> {
        self.pieces.get(id as usize).map(|p| p.0.as_str())
    }

    pub fn unk_id(&self) -> u32 {
        self.unk_id
    }

    /// `text` as pieces: the best-scoring segmentation of its normalized form.
    pub fn encode(&self, text: &str) -> Vec<Token> {
        let normalized = self.normalizer.normalize(text);
        let s = normalized.as_str();
        let n = s.len();
        // best[i]: best score of a segmentation of s[..i] and where its last token starts.
        let mut best: Vec<Option<(f32, usize, u32)>> = vec![None; n + 1];
        best[0] = Some((0.0, 0, 0));
        let boundaries: Vec<usize> = s.char_indices().map(|(i, _)| i).chain([n]).collect();
        for (bi, &start) in boundaries.iter().enumerate() {
            let Some((base, _, _)) = best[start] else {
                continue;
            };
            if start == n {
                break;
            }
            let mut single_char_covered = false;
            let char_end = boundaries[bi + 1];
            for &end in &boundaries[bi + 1..] {
                if end - start > self.max_piece_len {
                    break;
                }
                let Some(&id) = self.ids.get(&s[start..end]) else {
                    continue;
                };
                let (_, score, kind) = &self.pieces[id as usize];
                let score = match kind {
                    PieceKind::Normal => *score,
                    // The reference scores user-defined pieces so that they always win.
                    PieceKind::UserDefined => 0.0,
                    _ => continue,
                };
                if end == char_end {
                    single_char_covered = true;
                }
                let total = base + score;
                if best[end].is_none_or(|(b, _, _)| total > b) {
                    best[end] = Some((total, start, id));
                }
            }
            if !single_char_covered {
                let total = base + self.unk_score;
                if best[char_end].is_none_or(|(b, _, _)| total > b) {
                    best[char_end] = Some((total, start, self.unk_id));
                }
            }
        }
        let mut tokens = Vec::new();
        let mut end = n;
        while end > 0 {
            let (_, start, id) = best[end].expect("every character boundary is reachable");
            tokens.push(Token { id, text: s[start..end].to_string() });
            end = start;
        }
        tokens.reverse();
        // Runs of unknown pieces become one, as the reference returns them.
        let mut merged: Vec<Token> = Vec::with_capacity(tokens.len());
        for t in tokens {
            match merged.last_mut() {
                Some(last) if last.id == self.unk_id && t.id == self.unk_id => last.text.push_str(&t.text),
                _ => merged.push(t),
            }
        }
        merged
    }

    /// Joins pieces back into text: `▁` becomes a space and the dummy prefix is dropped.
    pub fn decode_pieces<'a>(&self, pieces: impl IntoIterator<Item = &'a str>) -> String {
        let joined: String = pieces.into_iter().collect();
        let text = joined.replace('▁', " ");
        if self.normalizer.add_dummy_prefix {
            text.strip_prefix(' ').map(str::to_string).unwrap_or(text)
        } else {
            text
        }
    }
}
