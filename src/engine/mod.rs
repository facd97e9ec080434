//! Running a chat model on the CPU.
//!
//! [`Llm`] is one loaded GGUF model: candle-transformers' quantized Qwen2
//! weights, the [`tokenizer::Tokenizer`] built from the file's own metadata
//! and its [`chat::ChatTemplate`]. [`Llm::generate`] turns a conversation
//! into the assistant's reply; decoding is greedy unless a temperature is
//! given, so the same input gives the same output.

pub mod beam;
pub mod chat;
pub mod draft;
pub mod kernels;
pub mod prompt_cache;
pub mod qwen2;
pub mod tokenizer;

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use candle_core::quantized::gguf_file;
use candle_core::{Device, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling};
use serde::Serialize;

pub use chat::{ChatTemplate, Message, PromptPiece};
pub use prompt_cache::PromptCache;
pub use tokenizer::Tokenizer;

/// How to decode.
#[derive(Debug, Clone)]
pub struct GenerationOptions {
    /// Upper bound on generated tokens.
    pub max_new_tokens: usize,
    /// `None` (the default) decodes greedily.
    pub temperature: Option<f64>,
    /// Nucleus sampling, only with a temperature.
    pub top_p: Option<f64>,
    /// Seed for sampling; unused when greedy.
    pub seed: u64,
    /// Greedy decoding only: tokens drafted from the text so far and checked
    /// in one step ([`draft`]); 0 decodes one token per step. The reply is
    /// the same either way.
    pub draft_tokens: usize,
    /// Beam search with this many hypotheses when above 1 and not sampling
    /// ([`beam`]); drafts are then not used.
    pub beams: usize,
}

/// Drafted tokens per step by default. Longer drafts are kept less often
/// and cost a row each (measured in the README, "Speed").
pub const DRAFT_TOKENS: usize = 2;

impl Default for GenerationOptions {
    fn default() -> Self {
        GenerationOptions {
            max_new_tokens: 512,
            temperature: None,
            top_p: None,
            seed: 42,
            draft_tokens: DRAFT_TOKENS,
            beams: 1,
        }
    }
}

impl GenerationOptions {
    /// Tokens to draft per step: none when sampling, whose choices a draft
    /// cannot be checked against.
    fn drafts(&self) -> usize {
        match self.temperature {
            Some(t) if t > 0.0 => 0,
            _ => self.draft_tokens,
        }
    }
}

/// A conversation to answer, and what its reply may not contain.
#[derive(Clone, Default)]
pub struct Conversation {
    pub messages: Vec<Message>,
    pub constraint: Option<Arc<dyn TokenConstraint>>,
    /// This conversation's beam width instead of `GenerationOptions::beams`:
    /// a brief's Chinese and Russian renderings are decoded together, each
    /// with its language's width.
    pub beams: Option<usize>,
}

impl From<Vec<Message>> for Conversation {
    fn from(messages: Vec<Message>) -> Self {
        Conversation { messages, constraint: None, beams: None }
    }
}

/// Tokens a reply may not take next: their logits are set to minus
/// infinity before sampling (greedy decoding takes the best of the rest).
pub trait TokenConstraint: Send + Sync {
    /// The banned tokens after the reply's tokens so far.
    fn banned(&self, reply: &[u32]) -> &[u32];
}

/// Why decoding stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The model ended its turn.
    EndOfTurn,
    /// `max_new_tokens` was reached: the text may be cut.
    MaxTokens,
    /// The output started repeating itself; the repeats were dropped.
    RepetitionLoop,
}

/// The assistant's reply and what it cost.
#[derive(Debug, Clone, Serialize)]
pub struct Generation {
    pub text: String,
    pub prompt_tokens: usize,
    pub generated_tokens: usize,
    /// Tokens of the reply that were drafted and checked several in a step.
    pub drafted_tokens: usize,
    pub prefill_ms: u64,
    pub decode_ms: u64,
    pub stop: StopReason,
}

/// Prompts are fed in slices of this many tokens: the attention scores of
/// one slice stay small however long the article is.
const PREFILL_CHUNK: usize = 512;

/// Openings kept for reuse: a brief has three (summary, zh, ru), which
/// hold about 46 MB of keys/values with the 1.5B model.
const OPENINGS_KEPT: usize = 4;

/// A loaded chat model.
pub struct Llm {
    model: qwen2::Qwen2,
    /// One key/value cache per sequence of the largest batch so far, kept
    /// so that their memory is reused.
    caches: Vec<qwen2::KvCache>,
    /// The last openings computed (see [`Llm::encode_chat_turns`]), oldest
    /// first, each with the cache after it: prompts that share one (every
    /// sentence of a translation run, every article of a brief) start from
    /// a copy.
    openings: Vec<(Vec<u32>, qwen2::KvCache)>,
    /// Where openings are saved for later runs, if anywhere.
    prompt_cache: Option<PromptCache>,
    tokenizer: Tokenizer,
    template: ChatTemplate,
    end_tokens: Vec<u32>,
    context_length: usize,
}

impl Llm {
    /// Loads a Qwen2-family GGUF file.
    pub fn load(path: &Path) -> anyhow::Result<Llm> {
        let device = Device::Cpu;
        let mut file =
            std::fs::File::open(path).with_context(|| format!("cannot open model file {}", path.display()))?;
        let content = gguf_file::Content::read(&mut file)
            .with_context(|| format!("{} is not a readable GGUF file", path.display()))?;
        let arch = metadata_str(&content, "general.architecture")?;
        anyhow::ensure!(arch == "qwen2", "{} is a {arch} model; this engine runs qwen2 models", path.display());
        let tokenizer = Tokenizer::from_gguf(&content)?;
        let template = ChatTemplate::new(metadata_str(&content, "tokenizer.chat_template")?);
        let end_tokens = tokenizer.eos_ids().to_vec();
        let model = qwen2::Qwen2::from_gguf(content, &mut file, &device)
            .with_context(|| format!("cannot load the weights in {}", path.display()))?;
        let context_length = model.config().context_length;
        let caches = vec![model.new_cache()];
        Ok(Llm {
            model,
            caches,
            openings: Vec::new(),
            prompt_cache: None,
            tokenizer,
            template,
            end_tokens,
            context_length,
        })
    }

    /// Saves each opening computed into `cache`, and reads it from
    /// there instead of computing it (see [`prompt_cache`]).
    pub fn set_prompt_cache(&mut self, cache: PromptCache) {
        self.prompt_cache = Some(cache);
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// Token ids of a conversation, ending with the assistant's turn opening.
    pub fn encode_chat(&self, messages: &[Message]) -> anyhow::Result<Vec<u32>> {
        Ok(self.encode_chat_turns(messages)?.0)
    }

    /// Token ids of a conversation, and how many of them make up its
    /// opening: every turn before the last message, that is the system turn
    /// and any example turns after it (0 if it opens with no system turn).
    /// That is the part many prompts share (every sentence of a translation
    /// run asks for its language with the same opening).
    fn encode_chat_turns(&self, messages: &[Message]) -> anyhow::Result<(Vec<u32>, usize)> {
        let has_system = messages.len() > 1 && messages[0].role == "system";
        let mut ids = Vec::new();
        let (mut contents, mut opening) = (0, 0);
        for piece in self.template.render(messages)? {
            match piece {
                PromptPiece::Template(t) => {
                    ids.extend(self.tokenizer.encode(&t, true));
                    // The template text after the last but one content closes its turn.
                    if has_system && contents == messages.len() - 1 && opening == 0 {
                        opening = ids.len();
                    }
                }
                PromptPiece::Content(c) => {
                    ids.extend(self.tokenizer.encode(&c, false));
                    contents += 1;
                }
            }
        }
        Ok((ids, opening))
    }

    /// Number of tokens `text` takes as plain content.
    pub fn count_tokens(&self, text: &str) -> usize {
        self.tokenizer.encode(text, false).len()
    }

    /// The assistant's reply to `messages`.
    pub fn generate(&mut self, messages: &[Message], options: &GenerationOptions) -> anyhow::Result<Generation> {
        let mut replies = self.generate_batch(&[Conversation::from(messages.to_vec())], options)?;
        Ok(replies.pop().expect("one reply per conversation"))
    }

    /// The assistant's replies to several conversations, decoded together:
    /// each step feeds one token of every unfinished conversation through
    /// the model at once, which costs little more than one (decode is bound
    /// by reading the weights). Each reply is exactly what [`Llm::generate`]
    /// gives for its conversation alone. Prompts are computed one after the
    /// other; `decode_ms` of a reply runs from the start of the joint
    /// decoding to its end, so the replies' times overlap.
    pub fn generate_batch(
        &mut self,
        conversations: &[Conversation],
        options: &GenerationOptions,
    ) -> anyhow::Result<Vec<Generation>> {
        let widest = conversations.iter().map(|c| c.beams.unwrap_or(options.beams)).max().unwrap_or(1);
        if widest > 1 && options.temperature.is_none() {
            return self.generate_beams(conversations, options, options.beams);
        }
        let mut runs = Vec::with_capacity(conversations.len());
        for (i, conversation) in conversations.iter().enumerate() {
            let (prompt, opening) = self.encode_prompt(conversation, options)?;
            let start = Instant::now();
            let logits = self.prefill(i, &prompt, opening)?;
            let mut run = Run {
                sampler: sampler(options),
                constraint: conversation.constraint.as_deref(),
                next: 0,
                prompt_tokens: prompt.len(),
                tokens: prompt,
                drafted: 0,
                drafted_kept: 0,
                prefill_ms: 0,
                decode_ms: 0,
                stop: None,
            };
            run.next = run.sample(&logits)?;
            run.prefill_ms = start.elapsed().as_millis() as u64;
            runs.push(run);
        }

        let start = Instant::now();
        let draft_tokens = options.drafts();
        loop {
            for run in runs.iter_mut().filter(|r| r.stop.is_none()) {
                run.stop = run.accept(&self.end_tokens, options.max_new_tokens);
                if run.stop.is_some() {
                    run.decode_ms = start.elapsed().as_millis() as u64;
                }
            }
            let active: Vec<usize> = (0..runs.len()).filter(|&i| runs[i].stop.is_none()).collect();
            // Each active run feeds its accepted `next` (the last of its
            // tokens) and a draft of what may follow, never past its limit.
            let fed: Vec<Vec<u32>> = active
                .iter()
                .map(|&i| {
                    let run = &runs[i];
                    let room = options.max_new_tokens.saturating_sub(run.reply().len());
                    let draft = match run.drafts_pay() {
                        true => draft::lookup(&run.tokens, draft_tokens.min(room)),
                        false => &[],
                    };
                    [&[run.next][..], draft].concat()
                })
                .collect();
            let logits = match active.as_slice() {
                [] => break,
                [i] if fed[0].len() == 1 => self.model.forward(&mut self.caches[*i], &fed[0])?.unsqueeze(0)?,
                _ => {
                    let mut caches: Vec<&mut qwen2::KvCache> = self
                        .caches
                        .iter_mut()
                        .enumerate()
                        .filter(|(i, _)| active.contains(i))
                        .map(|(_, c)| c)
                        .collect();
                    let fed: Vec<&[u32]> = fed.iter().map(Vec::as_slice).collect();
                    self.model.forward_batch(&mut caches, &fed)?
                }
            };
            let mut row = 0;
            for (&i, fed) in active.iter().zip(&fed) {
                let run = &mut runs[i];
                let position = self.caches[i].position() - fed.len();
                // Drafted tokens are kept while each is the one the model
                // chooses after the tokens before it.
                let mut kept = 1;
                run.next = run.sample(&logits.get(row)?)?;
                for (j, &drafted) in fed.iter().enumerate().skip(1) {
                    if run.next != drafted {
                        break;
                    }
                    run.stop = run.accept(&self.end_tokens, options.max_new_tokens);
                    if run.stop.is_some() {
                        run.decode_ms = start.elapsed().as_millis() as u64;
                        break;
                    }
                    kept += 1;
                    run.next = run.sample(&logits.get(row + j)?)?;
                }
                run.drafted += fed.len() - 1;
                run.drafted_kept += kept - 1;
                self.caches[i].truncate(position + kept);
                row += fed.len();
            }
        }
        Ok(runs
            .into_iter()
            .map(|run| Generation {
                text: self.tokenizer.decode(run.reply()).trim().to_string(),
                prompt_tokens: run.prompt_tokens,
                generated_tokens: run.reply().len(),
                drafted_tokens: run.drafted_kept,
                prefill_ms: run.prefill_ms,
                decode_ms: run.decode_ms,
                stop: run.stop.expect("every run stopped"),
            })
            .collect())
    }

    /// The tokens of `conversation` and the length of its opening
    /// ([`Llm::encode_chat_turns`]), if they leave room in the context for
    /// `options.max_new_tokens`.
    fn encode_prompt(
        &self,
        conversation: &Conversation,
        options: &GenerationOptions,
    ) -> anyhow::Result<(Vec<u32>, usize)> {
        let (prompt, opening) = self.encode_chat_turns(&conversation.messages)?;
        anyhow::ensure!(
            prompt.len() + options.max_new_tokens <= self.context_length,
            "the prompt takes {} tokens; with {} new tokens that is over the model's context of {}",
            prompt.len(),
            options.max_new_tokens,
            self.context_length
        );
        Ok((prompt, opening))
    }

    /// Puts `prompt` into the emptied cache number `slot` and returns the
    /// logits after its last token.
    ///
    /// The first `opening` tokens (see [`Llm::encode_chat_turns`]) are
    /// always computed as a slice of their own, so their keys and values are
    /// the same bits whether they are computed now or copied from the
    /// previous prompt with the same opening: the output never depends on
    /// what ran before. Other prefixes are not reused: keys computed in a
    /// slice of another length differ in the last bits, which tipped greedy
    /// choices (measured on the 1.5B).
    fn prefill(&mut self, slot: usize, prompt: &[u32], opening: usize) -> anyhow::Result<Tensor> {
        anyhow::ensure!(!prompt.is_empty(), "empty prompt");
        anyhow::ensure!(opening < prompt.len(), "a prompt must go on after its opening turns");
        while self.caches.len() <= slot {
            self.caches.push(self.model.new_cache());
        }
        let (head, rest) = prompt.split_at(opening);
        if head.is_empty() {
            self.caches[slot].clear();
        } else {
            self.caches[slot] = self.opening_cache(head)?;
        }
        let cache = &mut self.caches[slot];
        let mut logits = None;
        for chunk in rest.chunks(PREFILL_CHUNK) {
            logits = Some(self.model.forward(cache, chunk)?);
        }
        Ok(logits.expect("at least one token fed"))
    }
}

impl Llm {
    /// The cache after the opening `head`: copied from memory, read
    /// from the prompt cache folder, or computed (and then saved there);
    /// kept in memory for the next prompt either way.
    fn opening_cache(&mut self, head: &[u32]) -> anyhow::Result<qwen2::KvCache> {
        if let Some(i) = self.openings.iter().position(|(tokens, _)| tokens == head) {
            // Most recently used last.
            let entry = self.openings.remove(i);
            let copy = entry.1.deep_copy()?;
            self.openings.push(entry);
            return Ok(copy);
        }
        let n_layer = self.model.config().n_layer;
        let cache = match self.prompt_cache.as_ref().and_then(|saved| saved.load(head, n_layer, &Device::Cpu)) {
            Some(cache) => cache,
            None => {
                let mut cache = self.model.new_cache();
                for chunk in head.chunks(PREFILL_CHUNK) {
                    self.model.forward(&mut cache, chunk)?;
                }
                if let Some(saved) = &self.prompt_cache {
                    // A cache that cannot be written only costs time later.
                    let _ = saved.save(head, &cache);
                }
                cache
            }
        };
        if self.openings.len() == OPENINGS_KEPT {
            self.openings.remove(0);
        }
        self.openings.push((head.to_vec(), cache.deep_copy()?));
        Ok(cache)
    }
}

/// The sampler `options` ask for; greedy unless a temperature is given.
fn sampler(options: &GenerationOptions) -> LogitsProcessor {
    let sampling = match options.temperature {
        None => Sampling::ArgMax,
        Some(t) if t <= 0.0 => Sampling::ArgMax,
        Some(temperature) => match options.top_p {
            Some(p) => Sampling::TopP { p, temperature },
            None => Sampling::All { temperature },
        },
    };
    LogitsProcessor::from_sampling(options.seed, sampling)
}

/// One conversation being decoded by [`Llm::generate_batch`].
struct Run<'c> {
    sampler: LogitsProcessor,
    constraint: Option<&'c dyn TokenConstraint>,
    /// The token sampled last, not yet accepted.
    next: u32,
    /// The prompt, then the reply's accepted tokens: where drafts are
    /// looked up.
    tokens: Vec<u32>,
    prompt_tokens: usize,
    /// Drafted tokens fed so far, and how many of them were kept.
    drafted: usize,
    drafted_kept: usize,
    prefill_ms: u64,
    decode_ms: u64,
    stop: Option<StopReason>,
}

impl Run<'_> {
    /// The reply's accepted tokens.
    fn reply(&self) -> &[u32] {
        &self.tokens[self.prompt_tokens..]
    }

    /// Whether drafting still pays for this reply: a drafted token costs a
    /// row more in the step's products (0.4 of a one-row step for the 1.5B),
    /// so drafts pay while about half their tokens are kept. Summaries copy
    /// phrases of their article and keep most; translations keep few.
    fn drafts_pay(&self) -> bool {
        // Counted as if 3 of 4 earlier drafted tokens had been kept, so that
        // a reply tries drafting before it has kept anything.
        2 * (self.drafted_kept + 3) >= self.drafted + 4
    }

    /// The next token after `logits`, never a banned one.
    fn sample(&mut self, logits: &Tensor) -> candle_core::Result<u32> {
        let banned = self.constraint.map_or(&[][..], |c| c.banned(self.reply()));
        if banned.is_empty() {
            return self.sampler.sample(logits);
        }
        let mut values = logits.to_dtype(candle_core::DType::F32)?.to_vec1::<f32>()?;
        for &id in banned {
            if let Some(v) = values.get_mut(id as usize) {
                *v = f32::NEG_INFINITY;
            }
        }
        self.sampler.sample(&Tensor::new(values, logits.device())?)
    }

    /// Takes `next` into the reply; says why decoding stops, if it does.
    fn accept(&mut self, end_tokens: &[u32], max_new_tokens: usize) -> Option<StopReason> {
        if end_tokens.contains(&self.next) {
            return Some(StopReason::EndOfTurn);
        }
        self.tokens.push(self.next);
        if let Some(keep) = repetition_loop_start(self.reply()) {
            self.tokens.truncate(self.prompt_tokens + keep);
            return Some(StopReason::RepetitionLoop);
        }
        (self.reply().len() >= max_new_tokens).then_some(StopReason::MaxTokens)
    }
}

/// Speed of one run of [`Llm::measure`].
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Throughput {
    pub prompt_tokens: usize,
    pub generated_tokens: usize,
    pub prefill_ms: f64,
    pub decode_ms: f64,
}

impl Throughput {
    pub fn prefill_tps(&self) -> f64 {
        self.prompt_tokens as f64 / (self.prefill_ms / 1000.0)
    }
    pub fn decode_tps(&self) -> f64 {
        self.generated_tokens as f64 / (self.decode_ms / 1000.0)
    }
}

impl Llm {
    /// Feeds `prompt` and decodes exactly `new_tokens` greedily, end tokens
    /// or not: the fixed workload of a speed benchmark. The cache is cleared
    /// first, so the whole prompt is computed.
    pub fn measure(&mut self, prompt: &[u32], new_tokens: usize) -> anyhow::Result<Throughput> {
        let mut sampler = LogitsProcessor::from_sampling(0, Sampling::ArgMax);
        let start = Instant::now();
        let mut next = sampler.sample(&self.prefill(0, prompt, 0)?)?;
        let prefill_ms = start.elapsed().as_secs_f64() * 1000.0;
        let start = Instant::now();
        for _ in 0..new_tokens {
            let logits = self.model.forward(&mut self.caches[0], &[next])?;
            next = sampler.sample(&logits)?;
        }
        Ok(Throughput {
            prompt_tokens: prompt.len(),
            generated_tokens: new_tokens,
            prefill_ms,
            decode_ms: start.elapsed().as_secs_f64() * 1000.0,
        })
    }
}

impl Llm {
    /// `n` tokens decoded greedily after `prompt`, end tokens included: the
    /// raw output, for comparing engines token for token.
    pub fn greedy_tokens(&mut self, prompt: &[u32], n: usize) -> anyhow::Result<Vec<u32>> {
        let mut sampler = LogitsProcessor::from_sampling(0, Sampling::ArgMax);
        let mut out = vec![sampler.sample(&self.prefill(0, prompt, 0)?)?];
        while out.len() < n {
            let last = *out.last().expect("non-empty");
            let logits = self.model.forward(&mut self.caches[0], &[last])?;
            out.push(sampler.sample(&logits)?);
        }
        Ok(out)
    }
}

fn metadata_str<'a>(content: &'a gguf_file::Content, key: &str) -> anyhow::Result<&'a str> {
    content
        .metadata
        .get(key)
        .with_context(|| format!("the model file has no `{key}`"))?
        .to_string()
        .map(|s| s.as_str())
        .with_context(|| format!("`{key}` in the model file is not a string"))
}

/// If the tail of `tokens` is one block repeated (a decoding loop), the
/// length to keep: everything up to the end of the loop's first copy.
///
/// Short blocks must repeat more often before they count, so that lists and
/// rhythmic prose are not cut: the repeated tail must span at least 32
/// tokens and hold at least 3 copies.
pub fn repetition_loop_start(tokens: &[u32]) -> Option<usize> {
    const MIN_SPAN: usize = 32;
    const MAX_PERIOD: usize = 64;
    let n = tokens.len();
    for period in 1..=MAX_PERIOD {
        let span = (3 * period).max(MIN_SPAN);
        if span > n {
            break;
        }
        let repeats = |i: usize| tokens[i] == tokens[i + period];
        if (n - span..n - period).all(repeats) {
            // Walk back to where the loop began.
            let mut start = n - span;
            while start > 0 && repeats(start - 1) {
                start -= 1;
            }
            return Some(start + period);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loops_are_cut_after_first_copy() {
        let mut t: Vec<u32> = (100..110).collect();
        let block = [1, 2, 3, 4, 5];
        for _ in 0..8 {
            t.extend_from_slice(&block);
        }
        // Kept: the text before the loop and one copy of the block.
        assert_eq!(repetition_loop_start(&t), Some(15));
    }

    #[test]
    fn ordinary_text_is_not_a_loop() {
        let t: Vec<u32> = (0..200).map(|i| (i * 7919 % 1000) as u32).collect();
        assert_eq!(repetition_loop_start(&t), None);
        // Three copies of a short phrase within 32 tokens are not enough.
        let mut t: Vec<u32> = (500..520).collect();
        t.extend([1, 2, 1, 2, 1, 2]);
        assert_eq!(repetition_loop_start(&t), None);
    }
}
