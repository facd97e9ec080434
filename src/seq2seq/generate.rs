//! Decoding for encoder-decoder models: greedy and beam search, with the settings of a model's
//! `generation_config.json` (or `config.json`), equal to `transformers`' `generate`.
//!
//! Inputs of different lengths are padded into one batch (the encoder masks the padding); beams of
//! all inputs run as the rows of one decoder batch, whose cached keys and values are reordered when
//! beams are reselected. Each input's result is what it gives alone.
//!
//! The beam search follows `transformers` 5 exactly: at each step the `2 * num_beams` best
//! continuations of an input are taken; those ending (end token or maximum length) among the best
//! `num_beams` become finished hypotheses, scored by their summed log-probabilities divided by
//! `generated_len ^ length_penalty`; the others continue. An input stops when `early_stopping` says
//! so (`true`: `num_beams` hypotheses finished; `false`: no running beam can beat the worst
//! finished one at its current length; `never`: nor at the maximum length).

use candle_core::{DType, Device, Result, Tensor};
use serde_json::Value;

use super::{DecoderState, EncoderDecoder};

/// When beam search stops for an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EarlyStopping {
    True,
    False,
    Never,
}

/// Decoding settings, named as in `transformers`' `GenerationConfig`.
#[derive(Debug, Clone)]
pub struct GenerationConfig {
    pub decoder_start_token_id: u32,
    pub eos_token_id: u32,
    pub pad_token_id: u32,
    /// Upper bound on the output length, the start token included.
    pub max_length: usize,
    /// The end token is forbidden while the output (start token included) is shorter.
    pub min_length: usize,
    pub num_beams: usize,
    pub length_penalty: f64,
    /// No n-gram of this size occurs twice in an output (0: off).
    pub no_repeat_ngram_size: usize,
    pub early_stopping: EarlyStopping,
    /// Tokens never generated.
    pub bad_token_ids: Vec<u32>,
    /// Token forced as the first generated one.
    pub forced_bos_token_id: Option<u32>,
    /// Token forced when the maximum length is about to be reached.
    pub forced_eos_token_id: Option<u32>,
}

fn id_field(v: &Value, key: &str) -> Option<u32> {
    match v.get(key)? {
        Value::Number(n) => n.as_u64().map(|n| n as u32),
        // Some configs list several end tokens; the first is the model's own.
        Value::Array(a) => a.first()?.as_u64().map(|n| n as u32),
        _ => None,
    }
}

impl GenerationConfig {
    /// The settings of `config.json` overridden by those of `generation_config.json` (either may be
    /// `Value::Null`), with `transformers`' defaults for what neither sets.
    pub fn from_hub(config: &Value, generation: &Value) -> anyhow::Result<GenerationConfig> {
        let get = |key: &str| generation.get(key).filter(|v| !v.is_null()).or(config.get(key)).cloned();
        let merged = {
            let mut m = serde_json::Map::new();
            for key in
                ["decoder_start_token_id", "eos_token_id", "pad_token_id", "forced_bos_token_id", "forced_eos_token_id"]
            {
                if let Some(v) = get(key) {
                    m.insert(key.into(), v);
                }
            }
            Value::Object(m)
        };
        let need =
            |key: &str| id_field(&merged, key).ok_or_else(|| anyhow::anyhow!("the model's config sets no {key}"));
        let usize_or = |key: &str, default: usize| get(key).and_then(|v| v.as_u64()).map_or(default, |n| n as usize);
        let early_stopping = match get("early_stopping") {
            Some(Value::Bool(true)) => EarlyStopping::True,
            Some(Value::String(s)) if s == "never" => EarlyStopping::Never,
            _ => EarlyStopping::False,
        };
        let mut bad_token_ids = Vec::new();
        if let Some(Value::Array(lists)) = get("bad_words_ids") {
            for list in lists {
                match list.as_array().map(|a| a.as_slice()) {
                    Some([one]) => bad_token_ids.extend(one.as_u64().map(|n| n as u32)),
                    _ => anyhow::bail!("bad_words_ids of more than one token are not supported: {list}"),
                }
            }
        }
        let eos = need("eos_token_id")?;
        Ok(GenerationConfig {
            decoder_start_token_id: need("decoder_start_token_id")?,
            eos_token_id: eos,
            pad_token_id: id_field(&merged, "pad_token_id").unwrap_or(eos),
            max_length: usize_or("max_length", 20),
            min_length: usize_or("min_length", 0),
            num_beams: usize_or("num_beams", 1).max(1),
            length_penalty: get("length_penalty").and_then(|v| v.as_f64()).unwrap_or(1.0),
            no_repeat_ngram_size: usize_or("no_repeat_ngram_size", 0),
            early_stopping,
            bad_token_ids,
            // Older BART configs (bart-large-cnn, distilbart) say this instead.
            forced_bos_token_id: id_field(&merged, "forced_bos_token_id").or_else(|| {
                get("force_bos_token_to_be_generated")
                    .and_then(|v| v.as_bool())
                    .filter(|&yes| yes)
                    .and_then(|_| id_field(config, "bos_token_id"))
            }),
            forced_eos_token_id: id_field(&merged, "forced_eos_token_id"),
        })
    }

    /// Changes `scores` (logits, or log-probabilities in beam search) of the token after `seq`.
    fn process(&self, seq: &[u32], scores: &mut [f32]) {
        let cur_len = seq.len();
        let n = self.no_repeat_ngram_size;
        if n > 0 && cur_len + 1 >= n {
            let tail = &seq[cur_len + 1 - n..];
            for w in seq.windows(n) {
                if &w[..n - 1] == tail {
                    scores[w[n - 1] as usize] = f32::NEG_INFINITY;
                }
            }
        }
        for &id in &self.bad_token_ids {
            scores[id as usize] = f32::NEG_INFINITY;
        }
        if cur_len < self.min_length {
            scores[self.eos_token_id as usize] = f32::NEG_INFINITY;
        }
        let force = |scores: &mut [f32], id: u32| {
            scores.fill(f32::NEG_INFINITY);
            scores[id as usize] = 0.0;
        };
        if let (1, Some(bos)) = (cur_len, self.forced_bos_token_id) {
            force(scores, bos);
        }
        if let Some(eos) = self.forced_eos_token_id {
            if cur_len + 1 == self.max_length {
                force(scores, eos);
            }
        }
    }
}

/// Pads `inputs` on the right into ids and a 0/1 mask, both (batch, width).
pub fn pad_batch(inputs: &[Vec<u32>], pad: u32, device: &Device) -> Result<(Tensor, Tensor)> {
    let width = inputs.iter().map(Vec::len).max().unwrap_or(0).max(1);
    let mut ids = Vec::with_capacity(inputs.len() * width);
    let mut mask = Vec::with_capacity(inputs.len() * width);
    for input in inputs {
        ids.extend(input.iter().copied().chain(std::iter::repeat(pad)).take(width));
        mask.extend((0..width).map(|i| u8::from(i < input.len())));
    }
    Ok((Tensor::from_vec(ids, (inputs.len(), width), device)?, Tensor::from_vec(mask, (inputs.len(), width), device)?))
}

/// The output of every input (start token first, end token last unless cut at `max_length`).
pub fn generate<M: EncoderDecoder + ?Sized>(
    model: &M,
    inputs: &[Vec<u32>],
    pad: u32,
    cfg: &GenerationConfig,
    device: &Device,
) -> Result<Vec<Vec<u32>>> {
    if inputs.is_empty() {
        return Ok(Vec::new());
    }
    let (ids, mask) = pad_batch(inputs, pad, device)?;
    let encoded = model.encode(&ids, &mask)?;
    let k = cfg.num_beams;
    let rows: Vec<u32> = (0..inputs.len() as u32).flat_map(|i| std::iter::repeat_n(i, k)).collect();
    let rows = Tensor::new(rows.as_slice(), device)?;
    let mut state = model.start(&encoded.index_select(&rows, 0)?, &mask.index_select(&rows, 0)?)?;
    if k == 1 {
        greedy(model, &mut state, inputs.len(), cfg, device)
    } else {
        beam_search(model, &mut state, inputs.len(), cfg, device)
    }
}

/// The logits of the next token for each row, fed the last token of each sequence.
fn step<M: EncoderDecoder + ?Sized>(
    model: &M,
    state: &mut DecoderState,
    last: &[u32],
    device: &Device,
) -> Result<Vec<Vec<f32>>> {
    let input = Tensor::from_vec(last.to_vec(), (last.len(), 1), device)?;
    model.decode(&input, state)?.squeeze(1)?.to_dtype(DType::F32)?.to_vec2()
}

fn greedy<M: EncoderDecoder + ?Sized>(
    model: &M,
    state: &mut DecoderState,
    n: usize,
    cfg: &GenerationConfig,
    device: &Device,
) -> Result<Vec<Vec<u32>>> {
    let mut seqs = vec![vec![cfg.decoder_start_token_id]; n];
    let mut done = vec![false; n];
    let mut cur_len = 1;
    while cur_len < cfg.max_length && done.iter().any(|d| !d) {
        let last: Vec<u32> = seqs.iter().map(|s| *s.last().unwrap()).collect();
        let logits = step(model, state, &last, device)?;
        for (i, mut scores) in logits.into_iter().enumerate() {
            if done[i] {
                continue;
            }
            cfg.process(&seqs[i], &mut scores);
            let next = argmax(&scores);
            seqs[i].push(next);
            done[i] = next == cfg.eos_token_id;
        }
        cur_len += 1;
    }
    Ok(seqs)
}

/// The first index of the largest value, as `torch.argmax`.
fn argmax(v: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best as u32
}

fn log_softmax(v: &mut [f32]) {
    let max = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f32 = v.iter().map(|&x| (x - max).exp()).sum();
    let log_sum = sum.ln();
    for x in v.iter_mut() {
        *x = *x - max - log_sum;
    }
}

/// The `k` best of `scored` (value, tag), best first; earlier entries win ties.
fn top_k<T: Copy>(mut scored: Vec<(f32, usize, T)>, k: usize) -> Vec<(f32, usize, T)> {
    let better = |a: &(f32, usize, T), b: &(f32, usize, T)| {
        b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal).then(a.1.cmp(&b.1))
    };
    if scored.len() > k {
        scored.select_nth_unstable_by(k - 1, better);
        scored.truncate(k);
    }
    scored.sort_by(better);
    scored
}

/// One input's beams.
struct Beams {
    /// Running sequences and their summed log-probabilities.
    running: Vec<(Vec<u32>, f32)>,
    /// Finished hypotheses: sequence, normalized score, and whether the slot is really filled.
    finished: Vec<(Vec<u32>, f32, bool)>,
    /// The early-stop heuristic still sees room for improvement.
    improvable: bool,
    active: bool,
}

const DEAD: f32 = -1.0e9;

fn beam_search<M: EncoderDecoder + ?Sized>(
    model: &M,
    state: &mut DecoderState,
    n: usize,
    cfg: &GenerationConfig,
    device: &Device,
) -> Result<Vec<Vec<u32>>> {
    let k = cfg.num_beams;
    let start = vec![cfg.decoder_start_token_id];
    let mut items: Vec<Beams> = (0..n)
        .map(|_| Beams {
            running: (0..k).map(|j| (start.clone(), if j == 0 { 0.0 } else { DEAD })).collect(),
            finished: vec![(start.clone(), DEAD, false); k],
            improvable: true,
            active: true,
        })
        .collect();
    let lp = cfg.length_penalty;
    let mut cur_len = 1;
    while cur_len < cfg.max_length && items.iter().any(|b| b.active) {
        let last: Vec<u32> = items.iter().flat_map(|b| b.running.iter().map(|(s, _)| *s.last().unwrap())).collect();
        let logits = step(model, state, &last, device)?;
        let mut reorder: Vec<u32> = (0..(n * k) as u32).collect();
        for (i, item) in items.iter_mut().enumerate() {
            if !item.active {
                continue;
            }
            // Candidates: (summed log-prob, flat index, (beam, token)).
            let mut scored = Vec::new();
            for (j, (seq, score)) in item.running.iter().enumerate() {
                let mut row = logits[i * k + j].clone();
                log_softmax(&mut row);
                cfg.process(seq, &mut row);
                let vocab = row.len();
                scored.extend(row.iter().enumerate().map(|(t, &lp)| (lp + score, j * vocab + t, (j, t as u32))));
            }
            let candidates = top_k(scored, 2 * k);
            let ends = |t: u32| t == cfg.eos_token_id || cur_len + 1 >= cfg.max_length;
            let all_end = candidates.iter().all(|c| ends(c.2 .1));

            // Beams that go on: the best candidates that did not end.
            let going: Vec<(f32, usize, (usize, u32))> = candidates
                .iter()
                .enumerate()
                .map(|(r, c)| (c.0 + if ends(c.2 .1) { DEAD } else { 0.0 }, r, c.2))
                .collect();
            let going = top_k(going, k);

            // Finished hypotheses: the best of the old ones and those that just ended among the
            // best `k` candidates.
            let norm = ((cur_len + 1 - 1) as f64).powf(lp) as f32;
            let full = item.finished.iter().all(|f| f.2) && cfg.early_stopping == EarlyStopping::True;
            let mut merged: Vec<(f32, usize, (usize, bool))> =
                item.finished.iter().enumerate().map(|(s, f)| (f.1, s, (s, f.2))).collect();
            for (r, c) in candidates.iter().enumerate() {
                let just_ended = ends(c.2 .1) && r < k;
                let mut score = c.0 / norm;
                if full {
                    score += DEAD;
                }
                if !item.improvable {
                    score += DEAD;
                }
                if !just_ended {
                    score += DEAD;
                }
                merged.push((score, k + r, (k + r, just_ended)));
            }
            let kept = top_k(merged, k);
            let seq_of = |(j, t): (usize, u32)| {
                let mut s = item.running[j].0.clone();
                s.push(t);
                s
            };
            let finished: Vec<(Vec<u32>, f32, bool)> = kept
                .iter()
                .map(|&(score, _, (slot, flag))| {
                    let seq = if slot < k { item.finished[slot].0.clone() } else { seq_of(candidates[slot - k].2) };
                    (seq, score, flag)
                })
                .collect();
            let running: Vec<(Vec<u32>, f32)> = going.iter().map(|&(score, _, bt)| (seq_of(bt), score)).collect();
            for (j, &(_, _, (beam, _))) in going.iter().enumerate() {
                reorder[i * k + j] = (i * k + beam) as u32;
            }
            item.finished = finished;
            item.running = running;

            // Can a running beam still beat the worst finished hypothesis?
            let best_len = match cfg.early_stopping {
                EarlyStopping::Never if lp > 0.0 => cfg.max_length - 1,
                _ => cur_len + 1 - 1,
            };
            let best_possible = item.running[0].1 / (best_len as f64).powf(lp) as f32;
            let worst = item.finished.iter().map(|f| f.1).fold(f32::INFINITY, f32::min);
            item.improvable &= item.finished.iter().any(|f| best_possible > if f.2 { worst } else { DEAD });
            let full = item.finished.iter().all(|f| f.2) && cfg.early_stopping == EarlyStopping::True;
            item.active = item.improvable && !full && !all_end;
        }
        state.reorder(&Tensor::new(reorder.as_slice(), device)?)?;
        cur_len += 1;
    }
    Ok(items
        .into_iter()
        .map(|b| match b.finished.into_iter().find(|f| f.2) {
            Some(f) => f.0,
            None => b.running.into_iter().next().map(|r| r.0).unwrap_or_default(),
        })
        .collect())
}
