//! chrF as `sacrebleu` 2.6.0 computes it with its defaults: character
//! n-grams of order 1..=6, no word n-grams, beta 2, whitespace removed
//! before n-grams are taken, case kept, no epsilon smoothing (orders that
//! cannot match are left out of the averages).
//!
//! Corpus chrF sums the per-segment counts and computes one score from the
//! sums; it is not the mean of sentence scores. With several references a
//! segment keeps the counts of the reference it scores best against.

use foldhash::{HashMap, HashMapExt};

use super::pystr;

const CHAR_ORDER: usize = 6;
const BETA: f64 = 2.0;

/// Per-order counts of one segment (or a sum of segments): for each
/// n = 1..=6, hypothesis n-grams, reference n-grams and matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChrfStats {
    pub hyp: [u64; CHAR_ORDER],
    pub reference: [u64; CHAR_ORDER],
    pub matched: [u64; CHAR_ORDER],
}

impl std::ops::AddAssign for ChrfStats {
    fn add_assign(&mut self, other: Self) {
        for n in 0..CHAR_ORDER {
            self.hyp[n] += other.hyp[n];
            self.reference[n] += other.reference[n];
            self.matched[n] += other.matched[n];
        }
    }
}

impl ChrfStats {
    /// The chrF score (0..=100) of these counts: sacrebleu's
    /// `_compute_f_score`, every float operation in the same order.
    pub fn score(&self) -> f64 {
        let factor = BETA * BETA;
        let (mut avg_prec, mut avg_rec) = (0.0f64, 0.0f64);
        let mut effective_order = 0;
        for n in 0..CHAR_ORDER {
            let (hyp, reference, matched) = (self.hyp[n], self.reference[n], self.matched[n]);
            if hyp > 0 && reference > 0 {
                avg_prec += matched as f64 / hyp as f64;
                avg_rec += matched as f64 / reference as f64;
                effective_order += 1;
            }
        }
        if effective_order == 0 {
            return 0.0;
        }
        avg_prec /= effective_order as f64;
        avg_rec /= effective_order as f64;
        if avg_prec + avg_rec == 0.0 {
            return 0.0;
        }
        let mut score = (1.0 + factor) * avg_prec * avg_rec;
        score /= factor * avg_prec + avg_rec;
        100.0 * score
    }
}

/// sacrebleu's `CHRF()` with default settings.
#[derive(Debug, Clone, Default)]
pub struct Chrf;

impl Chrf {
    pub fn new() -> Self {
        Chrf
    }

    /// sacrebleu's signature string for this configuration.
    pub fn signature(&self, num_refs: usize) -> String {
        format!("nrefs:{num_refs}|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0")
    }

    /// Counts of one segment against the reference it matches best.
    pub fn segment_stats<S: AsRef<str>>(&self, hypothesis: &str, references: &[S]) -> ChrfStats {
        let hyp_chars: Vec<char> = pystr::split(hypothesis).flat_map(str::chars).collect();
        let hyp_ngrams = char_ngrams(&hyp_chars);
        let mut best = ChrfStats::default();
        let mut best_score = -1.0;
        for reference in references {
            let ref_chars: Vec<char> = pystr::split(reference.as_ref()).flat_map(str::chars).collect();
            let ref_ngrams = char_ngrams(&ref_chars);
            let mut stats = ChrfStats::default();
            for n in 0..CHAR_ORDER {
                let (hyp, reference) = (&hyp_ngrams[n], &ref_ngrams[n]);
                let reference_total: u64 = reference.values().sum();
                // sacrebleu counts no hypothesis n-grams when the reference
                // has none of this order.
                stats.hyp[n] = if reference.is_empty() { 0 } else { hyp.values().sum() };
                stats.reference[n] = reference_total;
                stats.matched[n] =
                    hyp.iter().map(|(gram, &count)| reference.get(gram).map_or(0, |&r| count.min(r))).sum();
            }
            let score = stats.score();
            if score > best_score {
                best_score = score;
                best = stats;
            }
        }
        best
    }

    /// Per-segment counts of a corpus; `references` holds one stream per
    /// reference, each as long as `hypotheses`.
    ///
    /// # Panics
    /// If there is no reference stream or a stream's length differs from
    /// the number of hypotheses.
    pub fn corpus_stats<H, R, S>(&self, hypotheses: &[H], references: &[R]) -> Vec<ChrfStats>
    where
        H: AsRef<str>,
        R: AsRef<[S]>,
        S: AsRef<str>,
    {
        super::segments(hypotheses, references).map(|(hyp, refs)| self.segment_stats(hyp, &refs)).collect()
    }

    /// Corpus chrF (0..=100), see [`Chrf::corpus_stats`].
    pub fn corpus_score<H, R, S>(&self, hypotheses: &[H], references: &[R]) -> f64
    where
        H: AsRef<str>,
        R: AsRef<[S]>,
        S: AsRef<str>,
    {
        let mut total = ChrfStats::default();
        for stats in self.corpus_stats(hypotheses, references) {
            total += stats;
        }
        total.score()
    }

    /// chrF of one sentence (sacrebleu's `sentence_score`).
    pub fn sentence_score<S: AsRef<str>>(&self, hypothesis: &str, references: &[S]) -> f64 {
        self.segment_stats(hypothesis, references).score()
    }
}

fn char_ngrams(chars: &[char]) -> [HashMap<&[char], u64>; CHAR_ORDER] {
    std::array::from_fn(|n| {
        let mut counts = HashMap::new();
        if chars.len() > n {
            for gram in chars.windows(n + 1) {
                *counts.entry(gram).or_insert(0) += 1;
            }
        }
        counts
    })
}
