//! Evaluation metrics that give the same numbers as the Python reference
//! implementations: ROUGE as `rouge-score` 0.1.2 computes it, BLEU and chrF
//! as `sacrebleu` 2.6.0 computes them.
//!
//! Published numbers are only comparable when every detail matches
//! (tokenizers, stemmer, smoothing, how statistics are aggregated), so each
//! module follows its reference line by line in behaviour and is tested
//! against it (`tests/metrics_parity.rs`) on the shared evaluation data.

pub mod bleu;
pub mod chrf;
pub mod porter;
mod pystr;
pub mod rouge;

pub use bleu::{Bleu, BleuScore, BleuStats, BleuTokenizer};
pub use chrf::{Chrf, ChrfStats};
pub use rouge::{Rouge, RougeScores, Score};

/// Every reference stream must have one segment per hypothesis.
pub(crate) fn check_streams(hypotheses: usize, stream_lens: impl Iterator<Item = usize>) {
    let mut streams = 0;
    for (k, len) in stream_lens.enumerate() {
        assert_eq!(
            len, hypotheses,
            "reference stream {k} has {len} segments, hypotheses have {hypotheses}"
        );
        streams += 1;
    }
    assert!(streams > 0, "scoring needs at least one reference stream");
}
