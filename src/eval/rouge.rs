//! ROUGE-1, ROUGE-2, ROUGE-L and ROUGE-Lsum as `rouge-score` 0.1.2
//! computes them (Google's reimplementation of ROUGE-1.5.5).
//!
//! - Tokens: the text is lowercased, every run of characters outside
//!   `[a-z0-9]` separates tokens, and with the stemmer on, tokens longer
//!   than 3 characters go through NLTK's Porter stemmer ([`super::porter`]).
//! - ROUGE-L is the LCS over the whole texts; ROUGE-Lsum is the
//!   summary-level LCS over sentences, which are the text's newline-separated
//!   lines. One-line documents need [`sentence_per_line`] first.
//! - With several references, each ROUGE type takes the reference with the
//!   best F1 for that type (rouge-score's `score_multi`).

use foldhash::{HashMap, HashMapExt};

use super::porter;

/// Precision, recall and F1 of one ROUGE type, each in 0..=1.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct Score {
    pub precision: f64,
    pub recall: f64,
    pub fmeasure: f64,
}

impl Score {
    fn new(precision: f64, recall: f64) -> Self {
        // Same expression and order as rouge-score, so the bits agree.
        let fmeasure = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
        Score { precision, recall, fmeasure }
    }
}

/// The four ROUGE types of one hypothesis.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct RougeScores {
    pub rouge1: Score,
    pub rouge2: Score,
    #[serde(rename = "rougeL")]
    pub rouge_l: Score,
    #[serde(rename = "rougeLsum")]
    pub rouge_lsum: Score,
}

impl RougeScores {
    /// The scores by rouge-score's names, in its usual order.
    pub fn by_name(&self) -> [(&'static str, Score); 4] {
        [("rouge1", self.rouge1), ("rouge2", self.rouge2), ("rougeL", self.rouge_l), ("rougeLsum", self.rouge_lsum)]
    }
}

/// A ROUGE scorer, configured like `RougeScorer(types, use_stemmer)`.
#[derive(Debug, Clone)]
pub struct Rouge {
    stemmer: bool,
}

impl Rouge {
    /// `stemmer`: apply the Porter stemmer (the shared tables use it).
    pub fn new(stemmer: bool) -> Self {
        Rouge { stemmer }
    }

    /// rouge-score's tokens of `text`.
    pub fn tokenize(&self, text: &str) -> Vec<String> {
        let mut tokens = Vec::new();
        for_each_word(text, |word| tokens.push(self.normalize(word)));
        tokens.retain(|t| !t.is_empty());
        tokens
    }

    /// A lowercase `[a-z0-9]+` word as a token: stemmed when longer than 3
    /// characters and the stemmer is on.
    fn normalize(&self, word: &str) -> String {
        if self.stemmer && word.len() > 3 {
            porter::stem(word)
        } else {
            word.to_string()
        }
    }

    /// Scores `hypothesis` against one or more references; with several,
    /// each type keeps the reference with the highest F1 (the first on ties).
    ///
    /// # Panics
    /// If `references` is empty.
    pub fn score<S: AsRef<str>>(&self, hypothesis: &str, references: &[S]) -> RougeScores {
        assert!(!references.is_empty(), "ROUGE needs at least one reference");
        let mut vocab = Vocabulary::default();
        let hyp = Prepared::new(self, hypothesis, &mut vocab);
        let mut best: Option<RougeScores> = None;
        for reference in references {
            let reference = Prepared::new(self, reference.as_ref(), &mut vocab);
            let scores = RougeScores {
                rouge1: ngram_score(&reference.tokens, &hyp.tokens, 1),
                rouge2: ngram_score(&reference.tokens, &hyp.tokens, 2),
                rouge_l: lcs_score(&reference.tokens, &hyp.tokens),
                rouge_lsum: summary_lcs_score(&reference.sentences, &hyp.sentences, vocab.len()),
            };
            best = Some(match best {
                None => scores,
                Some(b) => RougeScores {
                    rouge1: better(b.rouge1, scores.rouge1),
                    rouge2: better(b.rouge2, scores.rouge2),
                    rouge_l: better(b.rouge_l, scores.rouge_l),
                    rouge_lsum: better(b.rouge_lsum, scores.rouge_lsum),
                },
            });
        }
        best.expect("at least one reference")
    }

    /// Mean scores over documents given one per line: `hypotheses[i]` is
    /// scored against `references[k][i]` for every reference stream `k`,
    /// after [`sentence_per_line`] on each text (for ROUGE-Lsum). This is
    /// how the shared SummEval tables were computed.
    ///
    /// # Panics
    /// If there is no reference stream, a stream's length differs from the
    /// number of hypotheses, or there are no hypotheses.
    pub fn score_documents<H, R, S>(&self, hypotheses: &[H], references: &[R]) -> RougeScores
    where
        H: AsRef<str>,
        R: AsRef<[S]>,
        S: AsRef<str>,
    {
        super::check_streams(hypotheses.len(), references.iter().map(|r| r.as_ref().len()));
        assert!(!hypotheses.is_empty(), "ROUGE needs at least one document");
        let mut sums = [[0.0f64; 3]; 4];
        for (i, hyp) in hypotheses.iter().enumerate() {
            let refs: Vec<String> = references.iter().map(|r| sentence_per_line(r.as_ref()[i].as_ref())).collect();
            let scores = self.score(&sentence_per_line(hyp.as_ref()), &refs);
            for (sum, (_, score)) in sums.iter_mut().zip(scores.by_name()) {
                sum[0] += score.precision;
                sum[1] += score.recall;
                sum[2] += score.fmeasure;
            }
        }
        let n = hypotheses.len() as f64;
        let mean = |s: [f64; 3]| Score { precision: s[0] / n, recall: s[1] / n, fmeasure: s[2] / n };
        RougeScores { rouge1: mean(sums[0]), rouge2: mean(sums[1]), rouge_l: mean(sums[2]), rouge_lsum: mean(sums[3]) }
    }
}

/// numpy's argmax keeps the first maximum.
fn better(kept: Score, candidate: Score) -> Score {
    if candidate.fmeasure > kept.fmeasure {
        candidate
    } else {
        kept
    }
}

/// Puts each sentence of a one-line document on its own line, for
/// ROUGE-Lsum: a space that follows `.`, `!` or `?` becomes a newline.
///
/// This is how the shared SummEval tables were made: it reproduces all 64
/// of their ROUGE-Lsum values, where NLTK's Punkt splitter and splitting
/// only at a free-standing " . " each miss some.
pub fn sentence_per_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut after_stop = false;
    for c in text.chars() {
        out.push(if c == ' ' && after_stop { '\n' } else { c });
        after_stop = matches!(c, '.' | '!' | '?');
    }
    out
}

/// Calls `f` with each word of `text` in rouge-score's sense: the text is
/// lowercased, and every run of characters outside `[a-z0-9]` separates.
fn for_each_word(text: &str, mut f: impl FnMut(&str)) {
    // Lowercasing first matters beyond ASCII: 'İ' and the Kelvin sign
    // lowercase to ASCII letters, as in Python.
    let lower = text.to_lowercase();
    lower
        .split(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit()))
        .filter(|word| !word.is_empty())
        .for_each(&mut f);
}

/// Token ids shared by the texts of one scoring call, so comparisons and
/// counts work on integers; each distinct word is stemmed once.
#[derive(Default)]
struct Vocabulary {
    ids: HashMap<String, u32>,
    /// word -> id of its token (`None` if it normalizes to nothing).
    words: HashMap<String, Option<u32>>,
}

impl Vocabulary {
    fn id_of_word(&mut self, rouge: &Rouge, word: &str) -> Option<u32> {
        if let Some(&id) = self.words.get(word) {
            return id;
        }
        let token = rouge.normalize(word);
        let id = (!token.is_empty()).then(|| {
            let next = self.ids.len() as u32;
            *self.ids.entry(token).or_insert(next)
        });
        self.words.insert(word.to_string(), id);
        id
    }

    fn len(&self) -> usize {
        self.ids.len()
    }
}

/// A text tokenized whole (ROUGE-1/2/L) and by lines (ROUGE-Lsum).
struct Prepared {
    tokens: Vec<u32>,
    sentences: Vec<Vec<u32>>,
}

impl Prepared {
    fn new(rouge: &Rouge, text: &str, vocab: &mut Vocabulary) -> Self {
        let mut tokens = Vec::new();
        let mut sentences = Vec::new();
        // A newline always separates words, so the whole text's tokens are
        // its lines' tokens in order.
        for line in text.split('\n') {
            let mut ids = Vec::new();
            for_each_word(line, |word| ids.extend(vocab.id_of_word(rouge, word)));
            tokens.extend_from_slice(&ids);
            // rouge-score drops empty lines but keeps lines without tokens.
            if !line.is_empty() {
                sentences.push(ids);
            }
        }
        Prepared { tokens, sentences }
    }
}

fn ngram_counts(tokens: &[u32], n: usize) -> HashMap<&[u32], u32> {
    let mut counts = HashMap::new();
    if tokens.len() >= n {
        for gram in tokens.windows(n) {
            *counts.entry(gram).or_insert(0) += 1;
        }
    }
    counts
}

fn ngram_score(target: &[u32], prediction: &[u32], n: usize) -> Score {
    let target_counts = ngram_counts(target, n);
    let prediction_counts = ngram_counts(prediction, n);
    let overlap: u32 =
        target_counts.iter().map(|(gram, &count)| count.min(prediction_counts.get(gram).copied().unwrap_or(0))).sum();
    let target_total = target.len().saturating_sub(n - 1);
    let prediction_total = prediction.len().saturating_sub(n - 1);
    Score::new(overlap as f64 / prediction_total.max(1) as f64, overlap as f64 / target_total.max(1) as f64)
}

/// Length of the longest common subsequence, in O(len(b)) memory.
fn lcs_length(a: &[u32], b: &[u32]) -> usize {
    let mut row = vec![0usize; b.len() + 1];
    for &x in a {
        let mut diagonal = 0;
        for (j, &y) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if x == y { diagonal + 1 } else { above.max(row[j]) };
            diagonal = above;
        }
    }
    row[b.len()]
}

fn lcs_score(target: &[u32], prediction: &[u32]) -> Score {
    if target.is_empty() || prediction.is_empty() {
        return Score::default();
    }
    let lcs = lcs_length(target, prediction) as f64;
    Score::new(lcs / prediction.len() as f64, lcs / target.len() as f64)
}

/// Indices into `reference` of one LCS with `candidate`, chosen by
/// rouge-score's backtracking (its tie-breaking decides which tokens enter
/// the union, so it is kept exactly).
fn lcs_indices(reference: &[u32], candidate: &[u32], out: &mut Vec<usize>) {
    let cols = candidate.len() + 1;
    let mut table = vec![0u32; (reference.len() + 1) * cols];
    for i in 1..=reference.len() {
        for j in 1..=candidate.len() {
            table[i * cols + j] = if reference[i - 1] == candidate[j - 1] {
                table[(i - 1) * cols + j - 1] + 1
            } else {
                table[(i - 1) * cols + j].max(table[i * cols + j - 1])
            };
        }
    }
    let (mut i, mut j) = (reference.len(), candidate.len());
    while i > 0 && j > 0 {
        if reference[i - 1] == candidate[j - 1] {
            out.push(i - 1);
            i -= 1;
            j -= 1;
        } else if table[i * cols + j - 1] > table[(i - 1) * cols + j] {
            j -= 1;
        } else {
            i -= 1;
        }
    }
}

/// Summary-level LCS (ROUGE paper, section 3.2) with ROUGE-1.5.5's guard
/// against counting a token more often than it occurs on either side.
fn summary_lcs_score(reference: &[Vec<u32>], candidate: &[Vec<u32>], vocab_len: usize) -> Score {
    if reference.is_empty() || candidate.is_empty() {
        return Score::default();
    }
    let m: usize = reference.iter().map(Vec::len).sum();
    let n: usize = candidate.iter().map(Vec::len).sum();
    if m == 0 || n == 0 {
        return Score::default();
    }
    let mut left_in_reference = vec![0u32; vocab_len];
    let mut left_in_candidate = vec![0u32; vocab_len];
    for &t in reference.iter().flatten() {
        left_in_reference[t as usize] += 1;
    }
    for &t in candidate.iter().flatten() {
        left_in_candidate[t as usize] += 1;
    }
    let mut hits = 0usize;
    let mut union = Vec::new();
    for sentence in reference {
        union.clear();
        for c in candidate {
            lcs_indices(sentence, c, &mut union);
        }
        union.sort_unstable();
        union.dedup();
        for &i in &union {
            let t = sentence[i] as usize;
            if left_in_candidate[t] > 0 && left_in_reference[t] > 0 {
                hits += 1;
                left_in_candidate[t] -= 1;
                left_in_reference[t] -= 1;
            }
        }
    }
    Score::new(hits as f64 / n as f64, hits as f64 / m as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_lowercase_alphanumeric_runs() {
        let rouge = Rouge::new(false);
        assert_eq!(
            rouge.tokenize("The U.S.-based  firm's CEO, 42!"),
            ["the", "u", "s", "based", "firm", "s", "ceo", "42"]
        );
        assert_eq!(rouge.tokenize("İstanbul"), ["i", "stanbul"]);
    }

    #[test]
    fn lcs_of_known_strings() {
        assert_eq!(lcs_length(&[1, 2, 3, 4, 5], &[2, 4, 5, 1]), 3);
        assert_eq!(lcs_length(&[], &[1]), 0);
    }

    #[test]
    fn sentence_breaks_follow_stops() {
        assert_eq!(sentence_per_line("A b . C d ! E u.s. f ? g"), "A b .\nC d !\nE u.s.\nf ?\ng");
    }
}
