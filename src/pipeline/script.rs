//! Keeping a Chinese or Russian rendering in its script while it is
//! decoded: no English word left in Latin letters (the names, acronyms and
//! codes of the English text excepted) and no word that mixes Latin and
//! Cyrillic letters ("Гilded").
//!
//! The checks find both after the fact, but a retry rarely fixed them: the
//! 1.5B model wrote "momentum" or "interim" again. Banning those tokens
//! makes it write the word in the target language at the first attempt
//! (measured in the README, "Quality").

use std::collections::HashSet;
use std::sync::Arc;

use super::checks;
use super::glossary::Glossary;
use super::prompts::LatinWords;
use crate::engine::{TokenConstraint, Tokenizer};

/// Which script a token starts or ends with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edge {
    Latin,
    Cyrillic,
    Other,
}

/// What the tokens of one model's vocabulary hold, worked out once.
pub struct ScriptTables {
    /// Tokens with an ASCII letter anywhere.
    latin: Vec<u32>,
    /// Tokens that start with a Cyrillic letter.
    starts_cyrillic: Vec<u32>,
    /// The script each token ends with, by id.
    ends: Arc<Vec<Edge>>,
}

impl ScriptTables {
    pub fn new(tokenizer: &Tokenizer) -> ScriptTables {
        let mut latin = Vec::new();
        let mut starts_cyrillic = Vec::new();
        let mut ends = Vec::with_capacity(tokenizer.vocab_size());
        for id in 0..tokenizer.vocab_size() as u32 {
            let bytes = tokenizer.token_bytes(id);
            if bytes.iter().any(u8::is_ascii_alphabetic) {
                latin.push(id);
            }
            if first_edge(bytes) == Edge::Cyrillic {
                starts_cyrillic.push(id);
            }
            ends.push(last_edge(bytes));
        }
        ScriptTables { latin, starts_cyrillic, ends: Arc::new(ends) }
    }

    /// The constraint for a rendering of `source` in `lang`: Latin letters
    /// only in tokens that spell a word of `source` that `latin` lets stay
    /// in Latin letters (and the prompt's tags), and never glued to a
    /// Cyrillic letter.
    pub fn constraint(
        &self,
        tokenizer: &Tokenizer,
        source: &str,
        lang: &str,
        latin: LatinWords,
        glossary: &Glossary,
    ) -> KeptLatin {
        // Only the `acronyms` rule asks the glossary which names stay Latin.
        let kept_by_glossary = match latin {
            LatinWords::Acronyms => glossary.latin_kept_in(source, lang),
            LatinWords::Any | LatinWords::Names => Vec::new(),
        };
        let keep = |w: &&str| match latin {
            LatinWords::Any => true,
            // The rule the `untranslated` check applies.
            LatinWords::Names => checks::may_stay_latin(w, lang, glossary),
            LatinWords::Acronyms => {
                w.chars().any(|c| c.is_ascii_digit())
                    || w.chars().all(|c| !c.is_alphabetic() || c.is_uppercase())
                    || checks::brand_spelling(w)
                    || kept_by_glossary.iter().any(|k| k == w)
            }
        };
        // The model may echo the prompt's tags (cleaned off afterwards);
        // banned, they come out translated ("<текст>").
        let mut kept: HashSet<u32> = super::ECHOED_TAGS.iter().flat_map(|t| tokenizer.encode(t, false)).collect();
        let words = crate::lang::latin_words_in(source).into_iter().filter(|w| w.chars().count() > 1);
        for word in words.filter(keep) {
            kept.extend(tokenizer.encode(word, false));
            kept.extend(tokenizer.encode(&format!(" {word}"), false));
        }
        let always: Vec<u32> = self.latin.iter().copied().filter(|id| !kept.contains(id)).collect();
        let mut after_cyrillic = always.clone();
        after_cyrillic.extend(kept.iter().copied().filter(|&id| first_edge(tokenizer.token_bytes(id)) == Edge::Latin));
        let mut after_latin = always.clone();
        after_latin.extend(&self.starts_cyrillic);
        KeptLatin { ends: Arc::clone(&self.ends), always, after_cyrillic, after_latin }
    }
}

/// See [`ScriptTables::constraint`].
pub struct KeptLatin {
    ends: Arc<Vec<Edge>>,
    /// Banned everywhere: the Latin tokens that spell no kept word.
    always: Vec<u32>,
    /// Banned right after a Cyrillic letter: also the kept words' tokens
    /// that start with a Latin letter.
    after_cyrillic: Vec<u32>,
    /// Banned right after a Latin letter: also the tokens that start with
    /// a Cyrillic letter.
    after_latin: Vec<u32>,
}

impl TokenConstraint for KeptLatin {
    fn banned(&self, reply: &[u32]) -> &[u32] {
        match reply.last().and_then(|&id| self.ends.get(id as usize)) {
            Some(Edge::Cyrillic) => &self.after_cyrillic,
            Some(Edge::Latin) => &self.after_latin,
            _ => &self.always,
        }
    }
}

/// Cyrillic letters (U+0400 to U+047F) are two bytes in UTF-8 whose first
/// byte is 0xD0 or 0xD1.
fn is_cyrillic_lead(b: u8) -> bool {
    matches!(b, 0xD0 | 0xD1)
}

fn first_edge(bytes: &[u8]) -> Edge {
    match bytes.first() {
        Some(b) if b.is_ascii_alphabetic() => Edge::Latin,
        Some(&b) if is_cyrillic_lead(b) => Edge::Cyrillic,
        _ => Edge::Other,
    }
}

fn last_edge(bytes: &[u8]) -> Edge {
    match bytes {
        [.., b] if b.is_ascii_alphabetic() => Edge::Latin,
        [.., lead, 0x80..=0xBF] if is_cyrillic_lead(*lead) => Edge::Cyrillic,
        _ => Edge::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_of_tokens() {
        assert_eq!(first_edge(b"ilded"), Edge::Latin);
        assert_eq!(first_edge(" Гил".as_bytes()), Edge::Other);
        assert_eq!(first_edge("ою".as_bytes()), Edge::Cyrillic);
        assert_eq!(last_edge("Дo".as_bytes()), Edge::Latin);
        assert_eq!(last_edge("вн".as_bytes()), Edge::Cyrillic);
        assert_eq!(last_edge("в,".as_bytes()), Edge::Other);
        // Half a character: not judged.
        assert_eq!(last_edge(&"д".as_bytes()[..1]), Edge::Other);
    }
}
