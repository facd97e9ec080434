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

/// Each hypothesis with its references, from one reference stream per
/// reference (the layout sacrebleu takes), checked by [`check_streams`].
pub(crate) fn segments<'a, H, R, S>(
    hypotheses: &'a [H],
    references: &'a [R],
) -> impl Iterator<Item = (&'a str, Vec<&'a str>)>
where
    H: AsRef<str>,
    R: AsRef<[S]>,
    S: AsRef<str> + 'a,
{
    check_streams(hypotheses.len(), references.iter().map(|r| r.as_ref().len()));
    hypotheses.iter().enumerate().map(move |(i, hyp)| {
        let refs = references.iter().map(|stream| stream.as_ref()[i].as_ref()).collect();
        (hyp.as_ref(), refs)
    })
}

/// Every reference stream must have one segment per hypothesis.
pub(crate) fn check_streams(hypotheses: usize, stream_lens: impl Iterator<Item = usize>) {
    let mut streams = 0;
    for (k, len) in stream_lens.enumerate() {
        assert_eq!(len, hypotheses, "reference stream {k} has {len} segments, hypotheses have {hypotheses}");
        streams += 1;
    }
    assert!(streams > 0, "scoring needs at least one reference stream");
}
