//! Corpus BLEU as `sacrebleu` 2.6.0 computes it with its defaults: mixed
//! case, n-grams up to 4, `exp` smoothing (mteval-v13a's), no effective
//! order, statistics summed over segments before the score is taken.
//!
//! Two tokenizers: `13a` (mteval-v13a, the default and what WMT uses for
//! Russian) and `zh` (Chinese characters split apart, the rest as `13a`).
//! `zh` copies a sacrebleu quirk on purpose: its range table writes
//! Extension B as the string literals `'\u20000'`..`'\u2a6d6'`, which Python
//! reads as U+2000 followed by `'0'`, so the range compares as
//! U+2001..=U+2A6D (general punctuation, symbols, arrows ... all split
//! apart) and real Extension B characters are not split. Likewise
//! `'\u2f800'`..`'\u2fa1d'` acts as U+2F81..=U+2FA1.

use foldhash::{HashMap, HashMapExt};
use std::ops::AddAssign;

use super::pystr;

const MAX_ORDER: usize = 4;

/// Which sacrebleu tokenizer BLEU applies to hypotheses and references.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BleuTokenizer {
    /// sacrebleu's `13a` (mteval-v13a).
    Mteval13a,
    /// sacrebleu's `zh`.
    Zh,
}

impl BleuTokenizer {
    /// The tokenizer sacrebleu picks for a target language: `zh` for
    /// Chinese, `13a` otherwise (sacrebleu would use MeCab for `ja` and
    /// `ko`, which we do not have; callers should refuse those).
    pub fn for_language(lang: &str) -> Self {
        if lang == "zh" {
            BleuTokenizer::Zh
        } else {
            BleuTokenizer::Mteval13a
        }
    }

    /// sacrebleu's name for it, as in signatures (`tok:13a`).
    pub fn name(self) -> &'static str {
        match self {
            BleuTokenizer::Mteval13a => "13a",
            BleuTokenizer::Zh => "zh",
        }
    }

    /// The tokenized line, tokens separated by single spaces.
    pub fn tokenize(self, line: &str) -> String {
        match self {
            BleuTokenizer::Mteval13a => tokenize_13a(line),
            BleuTokenizer::Zh => tokenize_zh(line),
        }
    }
}

fn tokenize_13a(line: &str) -> String {
    let mut line = line.replace("<skipped>", "").replace("-\n", "").replace('\n', " ");
    if line.contains('&') {
        // One after the other, as sacrebleu does: "&amp;lt;" ends as "<".
        line = line.replace("&quot;", "\"").replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">");
    }
    split_punctuation(&format!(" {line} "))
}

fn tokenize_zh(line: &str) -> String {
    let mut spaced = String::with_capacity(line.len() * 2);
    for c in pystr::strip(line).chars() {
        if is_chinese_char(c) {
            spaced.push(' ');
            spaced.push(c);
            spaced.push(' ');
        } else {
            spaced.push(c);
        }
    }
    split_punctuation(&spaced)
}

/// sacrebleu's `_UCODE_RANGES` as Python actually compares them (see the
/// module doc for the two ranges that differ from what they say).
fn is_chinese_char(c: char) -> bool {
    const RANGES: [(u32, u32); 22] = [
        (0x3400, 0x4DB5),
        (0x4E00, 0x9FA5),
        (0x9FA6, 0x9FBB),
        (0xF900, 0xFA2D),
        (0xFA30, 0xFA6A),
        (0xFA70, 0xFAD9),
        (0x2001, 0x2A6D), // written '\u20000'..'\u2a6d6'
        (0x2F81, 0x2FA1), // written '\u2f800'..'\u2fa1d'
        (0xFF00, 0xFFEF),
        (0x2E80, 0x2EFF),
        (0x3000, 0x303F),
        (0x31C0, 0x31EF),
        (0x2F00, 0x2FDF),
        (0x2FF0, 0x2FFF),
        (0x3100, 0x312F),
        (0x31A0, 0x31BF),
        (0xFE10, 0xFE1F),
        (0xFE30, 0xFE4F),
        (0x2600, 0x26FF),
        (0x2700, 0x27BF),
        (0x3200, 0x32FF),
        (0x3300, 0x33FF),
    ];
    let c = c as u32;
    RANGES.iter().any(|&(start, end)| start <= c && c <= end)
}

/// sacrebleu's `TokenizerRegexp`: the four substitutions of mteval-v13a,
/// then whitespace collapsed. The substitutions are two-character patterns
/// applied left to right without overlap, like Python's `re.sub`.
fn split_punctuation(line: &str) -> String {
    fn is_symbol(c: char) -> bool {
        matches!(c, '{'..='~' | '['..='`' | ' '..='&' | '('..='+' | ':'..='@' | '/')
    }
    let is_digit = |c: char| c.is_ascii_digit();
    let is_stop = |c: char| c == '.' || c == ',';

    let mut spaced = String::with_capacity(line.len() * 2);
    for c in line.chars() {
        if is_symbol(c) {
            spaced.push(' ');
            spaced.push(c);
            spaced.push(' ');
        } else {
            spaced.push(c);
        }
    }
    // Period and comma apart unless preceded by a digit.
    let spaced = substitute_pairs(
        &spaced,
        |a, b| !is_digit(a) && is_stop(b),
        |a, b, out| {
            out.extend([a, ' ', b, ' ']);
        },
    );
    // ... and unless followed by a digit.
    let spaced = substitute_pairs(
        &spaced,
        |a, b| is_stop(a) && !is_digit(b),
        |a, b, out| {
            out.extend([' ', a, ' ', b]);
        },
    );
    // A dash after a digit.
    let spaced = substitute_pairs(
        &spaced,
        |a, b| is_digit(a) && b == '-',
        |a, b, out| {
            out.extend([a, ' ', b, ' ']);
        },
    );
    let mut tokens = pystr::split(&spaced);
    let mut out = String::with_capacity(spaced.len());
    if let Some(first) = tokens.next() {
        out.push_str(first);
        for token in tokens {
            out.push(' ');
            out.push_str(token);
        }
    }
    out
}

/// `re.sub` for a pattern of two single-character classes.
fn substitute_pairs(
    text: &str,
    matches: impl Fn(char, char) -> bool,
    replace: impl Fn(char, char, &mut String),
) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    let mut i = 0;
    while i < chars.len() {
        if i + 1 < chars.len() && matches(chars[i], chars[i + 1]) {
            replace(chars[i], chars[i + 1], &mut out);
            i += 2;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// A segment's sufficient statistics; corpus BLEU sums them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BleuStats {
    /// Hypothesis length in tokens.
    pub sys_len: u64,
    /// Length of the reference closest in length (the shorter on ties).
    pub ref_len: u64,
    /// Clipped n-gram matches, n = 1..=4.
    pub correct: [u64; MAX_ORDER],
    /// Hypothesis n-grams, n = 1..=4.
    pub total: [u64; MAX_ORDER],
}

impl AddAssign for BleuStats {
    fn add_assign(&mut self, other: Self) {
        self.sys_len += other.sys_len;
        self.ref_len += other.ref_len;
        for n in 0..MAX_ORDER {
            self.correct[n] += other.correct[n];
            self.total[n] += other.total[n];
        }
    }
}

/// A BLEU score with the numbers behind it (sacrebleu's `BLEUScore`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BleuScore {
    /// 0..=100.
    pub score: f64,
    pub counts: [u64; MAX_ORDER],
    pub totals: [u64; MAX_ORDER],
    /// n-gram precisions in percent, after smoothing.
    pub precisions: [f64; MAX_ORDER],
    /// Brevity penalty.
    pub bp: f64,
    pub sys_len: u64,
    pub ref_len: u64,
}

/// sacrebleu's `BLEU()` with the given tokenizer.
#[derive(Debug, Clone)]
pub struct Bleu {
    tokenizer: BleuTokenizer,
    effective_order: bool,
}

impl Bleu {
    pub fn new(tokenizer: BleuTokenizer) -> Self {
        Bleu { tokenizer, effective_order: false }
    }

    /// Average only over the n-gram orders the hypothesis has (sacrebleu's
    /// `effective_order=True`, which its `sentence_bleu` uses).
    pub fn with_effective_order(mut self, effective_order: bool) -> Self {
        self.effective_order = effective_order;
        self
    }

    pub fn tokenizer(&self) -> BleuTokenizer {
        self.tokenizer
    }

    /// sacrebleu's signature string for this configuration.
    pub fn signature(&self, num_refs: usize) -> String {
        format!(
            "nrefs:{num_refs}|case:mixed|eff:{}|tok:{}|smooth:exp|version:2.6.0",
            if self.effective_order { "yes" } else { "no" },
            self.tokenizer.name()
        )
    }

    /// Statistics of one segment against its references.
    pub fn segment_stats<S: AsRef<str>>(&self, hypothesis: &str, references: &[S]) -> BleuStats {
        let hyp_tokens = self.tokenizer.tokenize(pystr::rstrip(hypothesis));
        let ref_tokens: Vec<String> =
            references.iter().map(|r| self.tokenizer.tokenize(pystr::rstrip(r.as_ref()))).collect();

        let mut ids: HashMap<&str, u32> = HashMap::new();
        let hyp = token_ids(&hyp_tokens, &mut ids);
        let mut ref_ngrams: HashMap<u128, u64> = HashMap::new();
        let mut ref_lens = Vec::with_capacity(ref_tokens.len());
        for r in &ref_tokens {
            let tokens = token_ids(r, &mut ids);
            ref_lens.push(tokens.len() as u64);
            for (gram, count) in ngram_counts(&tokens) {
                let kept = ref_ngrams.entry(gram).or_insert(0);
                *kept = (*kept).max(count);
            }
        }

        let mut stats = BleuStats {
            sys_len: hyp.len() as u64,
            ref_len: closest_ref_len(hyp.len() as u64, &ref_lens),
            ..Default::default()
        };
        for (gram, count) in ngram_counts(&hyp) {
            let n = order_of(gram);
            stats.total[n - 1] += count;
            if let Some(&in_ref) = ref_ngrams.get(&gram) {
                stats.correct[n - 1] += count.min(in_ref);
            }
        }
        stats
    }

    /// Corpus BLEU. `references` holds one stream per reference (each as
    /// long as `hypotheses`), as sacrebleu's `corpus_score` takes them.
    ///
    /// # Panics
    /// If there is no reference stream or a stream's length differs from
    /// the number of hypotheses.
    pub fn corpus_score<H, R, S>(&self, hypotheses: &[H], references: &[R]) -> BleuScore
    where
        H: AsRef<str>,
        R: AsRef<[S]>,
        S: AsRef<str>,
    {
        let mut total = BleuStats::default();
        for stats in self.corpus_stats(hypotheses, references) {
            total += stats;
        }
        self.score_from_stats(&total)
    }

    /// Per-segment statistics of a corpus (see [`Bleu::corpus_score`]).
    pub fn corpus_stats<H, R, S>(&self, hypotheses: &[H], references: &[R]) -> Vec<BleuStats>
    where
        H: AsRef<str>,
        R: AsRef<[S]>,
        S: AsRef<str>,
    {
        super::segments(hypotheses, references).map(|(hyp, refs)| self.segment_stats(hyp, &refs)).collect()
    }

    /// BLEU of one sentence (sacrebleu's `sentence_score`).
    pub fn sentence_score<S: AsRef<str>>(&self, hypothesis: &str, references: &[S]) -> BleuScore {
        self.score_from_stats(&self.segment_stats(hypothesis, references))
    }

    /// The score from (summed) statistics: sacrebleu's `compute_bleu` with
    /// `exp` smoothing, every float operation in the same order.
    pub fn score_from_stats(&self, stats: &BleuStats) -> BleuScore {
        let (sys_len, ref_len) = (stats.sys_len, stats.ref_len);
        let mut bp = 1.0;
        if sys_len < ref_len {
            bp = if sys_len > 0 { (1.0 - ref_len as f64 / sys_len as f64).exp() } else { 0.0 };
        }
        let mut precisions = [0.0f64; MAX_ORDER];
        let mut score =
            BleuScore { score: 0.0, counts: stats.correct, totals: stats.total, precisions, bp, sys_len, ref_len };
        if stats.correct.iter().all(|&c| c == 0) {
            return score;
        }
        let mut smooth = 1.0f64;
        let mut eff_order = MAX_ORDER;
        for (n, precision) in precisions.iter_mut().enumerate() {
            let (correct, total) = (stats.correct[n], stats.total[n]);
            if total == 0 {
                break;
            }
            if self.effective_order {
                eff_order = n + 1;
            }
            *precision = if correct == 0 {
                smooth *= 2.0;
                100.0 / (smooth * total as f64)
            } else {
                100.0 * correct as f64 / total as f64
            };
        }
        // sacrebleu's my_log floors log(0) at -9999999999.
        let log_sum: f64 = precisions[..eff_order].iter().map(|&p| if p == 0.0 { -9999999999.0 } else { p.ln() }).sum();
        score.score = bp * (log_sum / eff_order as f64).exp();
        score.precisions = precisions;
        score
    }
}

fn closest_ref_len(hyp_len: u64, ref_lens: &[u64]) -> u64 {
    let mut best: Option<(u64, u64)> = None; // (distance, length)
    for &len in ref_lens {
        let diff = hyp_len.abs_diff(len);
        best = match best {
            Some((d, l)) if d < diff || (d == diff && l <= len) => Some((d, l)),
            _ => Some((diff, len)),
        };
    }
    best.map_or(0, |(_, len)| len)
}

fn token_ids<'a>(line: &'a str, ids: &mut HashMap<&'a str, u32>) -> Vec<u32> {
    line.split(' ')
        .filter(|t| !t.is_empty())
        .map(|t| {
            let next = ids.len() as u32;
            *ids.entry(t).or_insert(next)
        })
        .collect()
}

/// n-grams (n = 1..=4) of token ids packed into one key: ids are stored
/// plus one so that the unused slots (0) tell the order.
fn ngram_counts(tokens: &[u32]) -> HashMap<u128, u64> {
    let mut counts = HashMap::with_capacity(tokens.len() * MAX_ORDER);
    for n in 1..=MAX_ORDER.min(tokens.len()) {
        for gram in tokens.windows(n) {
            let key = gram.iter().fold(0u128, |key, &id| (key << 32) | (id as u128 + 1));
            *counts.entry(key).or_insert(0) += 1;
        }
    }
    counts
}

fn order_of(key: u128) -> usize {
    (128 - key.leading_zeros() as usize).div_ceil(32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zh_range_quirk() {
        // U+2014 EM DASH falls in the mis-written Extension B range.
        assert_eq!(BleuTokenizer::Zh.tokenize("a—b"), "a — b");
        // A real Extension B character is not split from its neighbours.
        assert_eq!(BleuTokenizer::Zh.tokenize("a\u{20000}b"), "a\u{20000}b");
        assert_eq!(BleuTokenizer::Zh.tokenize("我们"), "我 们");
    }

    #[test]
    fn thirteen_a_splits_punctuation_but_not_numbers() {
        assert_eq!(
            BleuTokenizer::Mteval13a.tokenize("Hello, world. 3.5 and 1,000 x-y 5-6"),
            "Hello , world . 3.5 and 1,000 x-y 5 - 6"
        );
        assert_eq!(BleuTokenizer::Mteval13a.tokenize("a &amp;lt; b"), "a < b");
    }

    #[test]
    fn ngram_key_order() {
        for n in 1..=4 {
            let tokens: Vec<u32> = (0..n as u32).map(|i| i * 7).collect();
            let counts = ngram_counts(&tokens);
            assert!(counts.keys().any(|&k| order_of(k) == n));
        }
    }
}
