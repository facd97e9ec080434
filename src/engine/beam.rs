//! Beam search: at each step the `width` most probable continuations of a
//! reply are kept instead of one, and the reply is the finished one with the
//! best log-probability per token.
//!
//! Greedy decoding commits to each token as it comes; the small chat models
//! then sometimes write themselves into a corner (a garbled name they must
//! finish, a clause they cannot end well). Keeping a few hypotheses lets a
//! slightly less probable token win when what follows it is more probable.
//! Every hypothesis of every conversation is one row of the same batched
//! step ([`super::qwen2::Qwen2::forward_batch`]), so the weights are still
//! read once per step.

use std::time::Instant;

use super::qwen2::KvCache;
use super::{repetition_loop_start, Conversation, Generation, GenerationOptions, Llm, StopReason, TokenConstraint};

/// One hypothesis: a reply so far, its log-probability, and the cache that
/// holds the prompt and every token of it but the last.
struct Hypothesis {
    reply: Vec<u32>,
    logprob: f64,
    cache: KvCache,
}

/// The beam of one conversation.
struct Search<'c> {
    constraint: Option<&'c dyn TokenConstraint>,
    /// How many hypotheses it keeps.
    width: usize,
    prompt_tokens: usize,
    /// Unfinished hypotheses, each with the log-probabilities of its next token.
    alive: Vec<(Hypothesis, Vec<f32>)>,
    /// Finished replies with their log-probability and why they ended.
    finished: Vec<(Vec<u32>, f64, StopReason)>,
    /// Caches of this search's dropped hypotheses, each with the reply it
    /// holds after the prompt: a new hypothesis takes the one whose reply
    /// begins most like its own, and only the positions after are copied.
    spare: Vec<(KvCache, Vec<u32>)>,
    prefill_ms: u64,
    decode_ms: u64,
}

impl Llm {
    /// The replies to several conversations by beam search of `width`
    /// hypotheses each, or of a conversation's own `beams` (see the module
    /// docs); `options.max_new_tokens` bounds each reply, its temperature
    /// and drafts are not used.
    pub fn generate_beams(
        &mut self,
        conversations: &[Conversation],
        options: &GenerationOptions,
        width: usize,
    ) -> anyhow::Result<Vec<Generation>> {
        let mut searches = Vec::with_capacity(conversations.len());
        for conversation in conversations {
            let (prompt, opening) = self.encode_prompt(conversation, options)?;
            let start = Instant::now();
            let logits = self.prefill(0, &prompt, opening)?;
            // The hypothesis takes the prompt's cache; slot 0 gets a new one.
            let cache = std::mem::replace(&mut self.caches[0], self.model.new_cache());
            let first = Hypothesis { reply: Vec::new(), logprob: 0.0, cache };
            searches.push(Search {
                constraint: conversation.constraint.as_deref(),
                width: conversation.beams.unwrap_or(width).max(1),
                prompt_tokens: prompt.len(),
                alive: vec![(first, log_softmax(&logits.to_vec1::<f32>()?))],
                finished: Vec::new(),
                spare: Vec::new(),
                prefill_ms: start.elapsed().as_millis() as u64,
                decode_ms: 0,
            });
        }

        let start = Instant::now();
        // Caches of finished searches, reused (as memory only) by the others.
        let mut spare: Vec<KvCache> = Vec::new();
        loop {
            for search in searches.iter_mut().filter(|s| !s.alive.is_empty()) {
                search.expand(&self.end_tokens, options.max_new_tokens, &mut spare, || self.model.new_cache())?;
                if search.alive.is_empty() {
                    search.decode_ms = start.elapsed().as_millis() as u64;
                }
            }
            let mut caches: Vec<&mut KvCache> = Vec::new();
            let mut fed: Vec<[u32; 1]> = Vec::new();
            for search in searches.iter_mut() {
                for (h, _) in search.alive.iter_mut() {
                    fed.push([*h.reply.last().expect("an expanded hypothesis has a token")]);
                    caches.push(&mut h.cache);
                }
            }
            if fed.is_empty() {
                break;
            }
            let fed: Vec<&[u32]> = fed.iter().map(|t| &t[..]).collect();
            let logits = self.model.forward_batch(&mut caches, &fed)?;
            let mut row = 0;
            for search in searches.iter_mut() {
                for (_, next) in search.alive.iter_mut() {
                    *next = log_softmax(&logits.get(row)?.to_vec1::<f32>()?);
                    row += 1;
                }
            }
        }

        searches
            .into_iter()
            .map(|search| {
                let (reply, _, stop) = search
                    .finished
                    .into_iter()
                    .max_by(|a, b| per_token(a.1, a.0.len()).total_cmp(&per_token(b.1, b.0.len())))
                    .ok_or_else(|| anyhow::anyhow!("beam search found no reply: every token was banned"))?;
                Ok(Generation {
                    text: self.tokenizer.decode(&reply).trim().to_string(),
                    prompt_tokens: search.prompt_tokens,
                    generated_tokens: reply.len(),
                    drafted_tokens: 0,
                    prefill_ms: search.prefill_ms,
                    decode_ms: search.decode_ms,
                    stop,
                })
            })
            .collect()
    }
}

impl Search<'_> {
    /// One step: every alive hypothesis's `width` best next tokens are
    /// weighed together and the best `width` continuations kept; those that
    /// end (end of turn, token limit, a loop) move to `finished`. The search
    /// is over (`alive` empty) once it has `width` finished replies.
    fn expand(
        &mut self,
        end_tokens: &[u32],
        max_new_tokens: usize,
        spare: &mut Vec<KvCache>,
        new_cache: impl Fn() -> KvCache,
    ) -> anyhow::Result<()> {
        let width = self.width;
        let mut candidates: Vec<(usize, u32, f64)> = Vec::new();
        for (i, (h, next)) in self.alive.iter_mut().enumerate() {
            let repeats = repeated_ngram_ends(&h.reply, NO_REPEAT_NGRAM);
            // An empty reply is never an answer: no end token first.
            let ends: &[u32] = if h.reply.is_empty() { end_tokens } else { &[] };
            let constrained = self.constraint.map_or(&[][..], |c| c.banned(&h.reply));
            for &token in constrained.iter().chain(&repeats).chain(ends) {
                if let Some(lp) = next.get_mut(token as usize) {
                    *lp = f32::NEG_INFINITY;
                }
            }
            for (token, lp) in best(next, width) {
                candidates.push((i, token, h.logprob + lp as f64));
            }
        }
        // Highest first; ties by hypothesis, then token, so the order never
        // depends on the sort.
        candidates.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)).then(a.1.cmp(&b.1)));

        let parents: Vec<Hypothesis> = std::mem::take(&mut self.alive).into_iter().map(|(h, _)| h).collect();
        let mut chosen: Vec<(usize, Vec<u32>, f64)> = Vec::new();
        for (i, token, logprob) in candidates {
            if chosen.len() == width || self.finished.len() >= width {
                break;
            }
            let parent = &parents[i];
            if end_tokens.contains(&token) {
                self.finished.push((parent.reply.clone(), logprob, StopReason::EndOfTurn));
                continue;
            }
            let mut reply = parent.reply.clone();
            reply.push(token);
            if let Some(keep) = repetition_loop_start(&reply) {
                reply.truncate(keep);
                self.finished.push((reply, logprob, StopReason::RepetitionLoop));
            } else if reply.len() >= max_new_tokens {
                self.finished.push((reply, logprob, StopReason::MaxTokens));
            } else {
                chosen.push((i, reply, logprob));
            }
        }
        if self.finished.len() >= width {
            spare.extend(parents.into_iter().map(|h| h.cache));
            spare.extend(self.spare.drain(..).map(|(cache, _)| cache));
            return Ok(());
        }
        // Each kept hypothesis takes its parent's cache: the parent's last
        // child moves it, the others copy it into a spare cache. The caches
        // of parents without children are spare from now on.
        let mut children_left = vec![0usize; parents.len()];
        for (i, _, _) in &chosen {
            children_left[*i] += 1;
        }
        let mut caches: Vec<Option<(KvCache, Vec<u32>)>> = Vec::with_capacity(parents.len());
        for (h, children) in parents.into_iter().zip(&children_left) {
            if *children == 0 {
                self.spare.push((h.cache, h.reply));
                caches.push(None);
            } else {
                caches.push(Some((h.cache, h.reply)));
            }
        }
        for (i, reply, logprob) in chosen {
            children_left[i] -= 1;
            let cache = match children_left[i] {
                0 => caches[i].take().expect("a parent's cache is moved once, by its last child").0,
                _ => {
                    let (parent, held) = caches[i].as_ref().expect("kept until the last child");
                    // Every cache of this search holds the same prompt, and
                    // the same keys and values for the same reply tokens.
                    let closest = self
                        .spare
                        .iter()
                        .enumerate()
                        .map(|(s, (_, spare_reply))| (s, common_start(spare_reply, held)))
                        .max_by_key(|&(_, alike)| alike);
                    let (mut cache, same_before) = match closest {
                        Some((s, alike)) => (self.spare.swap_remove(s).0, self.prompt_tokens + alike),
                        None => (spare.pop().unwrap_or_else(&new_cache), 0),
                    };
                    cache.copy_from(parent, same_before)?;
                    cache
                }
            };
            // Every token but the last is in the cache; the last is fed next.
            debug_assert_eq!(cache.position() + 1, self.prompt_tokens + reply.len());
            self.alive.push((Hypothesis { reply, logprob, cache }, Vec::new()));
        }
        Ok(())
    }
}

/// How many tokens `a` and `b` begin with alike.
fn common_start(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// No sequence of this many tokens occurs twice in a beam's reply. Ranked
/// by log-probability per token, a reply that repeats itself is very
/// probable: without this the 1.5B's best-scored Russian replies included
/// a lead-in written three times over ("Вот перевод текста:" and nothing
/// else) and its Chinese a name twenty times over. Decoders of the
/// `transformers` family offer the same ban (`no_repeat_ngram_size`).
const NO_REPEAT_NGRAM: usize = 8;

/// The tokens that would complete, at the end of `reply`, an `n`-gram that
/// already occurs in it.
fn repeated_ngram_ends(reply: &[u32], n: usize) -> Vec<u32> {
    if n == 0 || reply.len() < n {
        return Vec::new();
    }
    let tail = &reply[reply.len() + 1 - n..];
    reply.windows(n).filter(|w| w[..n - 1] == *tail).map(|w| w[n - 1]).collect()
}

/// Log-probability per token: the score that ranks finished replies (as
/// length penalty 1.0 does in `transformers`).
fn per_token(logprob: f64, len: usize) -> f64 {
    logprob / len.max(1) as f64
}

/// The `n` most probable tokens (never an impossible one), best first.
fn best(logprobs: &[f32], n: usize) -> Vec<(u32, f32)> {
    let mut top: Vec<(u32, f32)> = Vec::with_capacity(n + 1);
    for (token, &lp) in logprobs.iter().enumerate() {
        if lp == f32::NEG_INFINITY || (top.len() == n && lp <= top[n - 1].1) {
            continue;
        }
        let at = top.iter().position(|&(_, v)| lp > v).unwrap_or(top.len());
        top.insert(at, (token as u32, lp));
        top.truncate(n);
    }
    top
}

/// `log(softmax(logits))`, in f64 sums for a vocabulary of 150,000.
fn log_softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = logits.iter().map(|&x| ((x - max) as f64).exp()).sum();
    let log_sum = sum.ln() as f32 + max;
    logits.iter().map(|&x| x - log_sum).collect()
}

#[cfg(test)]
mod tests {
    use super::{best, log_softmax, repeated_ngram_ends};

    #[test]
    fn best_tokens_skip_impossible_ones_and_come_in_order() {
        let lp = [-3.0, -0.5, -2.0, -0.1, -9.0];
        assert_eq!(best(&lp, 2), vec![(3, -0.1), (1, -0.5)]);
        let banned = [-3.0, -0.5, -2.0, f32::NEG_INFINITY, -9.0];
        assert_eq!(best(&banned, 3), vec![(1, -0.5), (2, -2.0), (0, -3.0)]);
    }

    #[test]
    fn a_repeated_ngram_cannot_be_completed() {
        // "1 2 3" occurred, and the reply ends in "1 2": 3 is banned.
        assert_eq!(repeated_ngram_ends(&[1, 2, 3, 4, 1, 2], 3), vec![3]);
        assert_eq!(repeated_ngram_ends(&[1, 2, 3, 4, 1, 5], 3), Vec::<u32>::new());
        // A token repeated: "7 7" seen, the tail "7" may not be followed by 7.
        assert_eq!(repeated_ngram_ends(&[7, 7, 8, 7], 2), vec![7, 8]);
        assert!(repeated_ngram_ends(&[1, 2], 3).is_empty());
    }

    #[test]
    fn log_softmax_sums_to_one() {
        let lp = log_softmax(&[1.0, 2.0, 3.0, -1.0]);
        let total: f64 = lp.iter().map(|&x| (x as f64).exp()).sum();
        assert!((total - 1.0).abs() < 1e-6);
        assert!(lp[2] > lp[1] && lp[1] > lp[0]);
    }
}
