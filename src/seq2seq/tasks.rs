//! The encoder-decoder models as the pipeline's [`Summarizer`] and [`Translator`].
//!
//! Translation goes sentence by sentence (what Marian models are trained on), in padded batches;
//! a multi-target model gets the target-language token from its own vocabulary. Summaries of
//! articles longer than the model's input limit are made section by section and summarized again,
//! as the chat pipeline does, so nothing is cut silently. Outputs go through the same checks as
//! the chat model's.

use std::time::Instant;

use anyhow::Result;

use super::{Seq2Seq, Seq2SeqTokenizer};
use crate::ingest::sentences::{paragraphs, sentences};
use crate::pipeline::{checks, InputReport, Step, Summarizer, Translator};
use crate::store::{LocalModel, Manifest};

/// Sentences translated in one batch.
const BATCH: usize = 8;

/// What one batch of generations gives back.
struct Outputs {
    texts: Vec<String>,
    prompt_tokens: usize,
    generated_tokens: usize,
    /// Some output stopped at the length limit instead of its end token.
    cut: bool,
}

fn run(model: &Seq2Seq, texts: &[String]) -> Result<Outputs> {
    let inputs: Vec<Vec<u32>> = texts.iter().map(|t| model.tokenizer().encode(t)).collect();
    let outputs = model.generate_ids(&inputs, model.generation_config())?;
    let eos = model.generation_config().eos_token_id;
    Ok(Outputs {
        texts: outputs.iter().map(|ids| model.tokenizer().decode(ids)).collect(),
        prompt_tokens: inputs.iter().map(Vec::len).sum(),
        // Less the start token of each output.
        generated_tokens: outputs.iter().map(|o| o.len().saturating_sub(1)).sum(),
        cut: outputs.iter().any(|o| o.last() != Some(&eos)),
    })
}

/// `text` split at spaces into pieces the model can take whole.
fn fitting(model: &Seq2Seq, text: &str, prefix: &str) -> Vec<String> {
    let with_prefix = format!("{prefix}{text}");
    if model.tokenizer().encode(&with_prefix).len() <= model.max_input_tokens() {
        return vec![with_prefix];
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.len() < 2 {
        // One huge word: let the length error name the problem.
        return vec![with_prefix];
    }
    let (a, b) = words.split_at(words.len() / 2);
    let mut out = fitting(model, &a.join(" "), prefix);
    out.extend(fitting(model, &b.join(" "), prefix));
    out
}

/// A translation model (Marian) for the languages its manifest names.
pub struct Seq2SeqTranslator {
    id: String,
    languages: Vec<String>,
    model: Seq2Seq,
}

impl Seq2SeqTranslator {
    pub fn load(manifest: &Manifest, local: &LocalModel) -> Result<Seq2SeqTranslator> {
        let model = Seq2Seq::load(&local.dir)?;
        Ok(Seq2SeqTranslator { id: manifest.id.clone(), languages: manifest.languages.clone(), model })
    }

    /// What goes before each sentence: the target-language token of a multi-target model.
    fn prefix(&self, lang: &str) -> Result<String> {
        let Seq2SeqTokenizer::Marian(tok) = self.model.tokenizer() else {
            return Ok(String::new());
        };
        if tok.language_tokens().is_empty() {
            return Ok(String::new());
        }
        match tok.language_token(lang) {
            Some(token) => Ok(format!("{token} ")),
            None => anyhow::bail!(
                "model {} has no target-language token for {lang}; it knows {}",
                self.id,
                tok.language_tokens().join(" ")
            ),
        }
    }
}

impl Translator for Seq2SeqTranslator {
    fn id(&self) -> &str {
        &self.id
    }

    fn serves(&self, lang: &str) -> bool {
        self.languages.iter().any(|l| l == lang)
    }

    fn translate(&mut self, text: &str, lang: &str) -> Result<Step> {
        let start = Instant::now();
        let prefix = self.prefix(lang)?;
        // Chinese is written without spaces between sentences.
        let joiner = if lang == "zh" { "" } else { " " };
        let (mut prompt_tokens, mut generated_tokens, mut cut) = (0, 0, false);
        let mut rendered = Vec::new();
        for paragraph in paragraphs(text) {
            let pieces: Vec<String> =
                sentences(paragraph).iter().flat_map(|s| fitting(&self.model, s, &prefix)).collect();
            let mut out = Vec::with_capacity(pieces.len());
            for batch in pieces.chunks(BATCH) {
                let o = run(&self.model, batch)?;
                prompt_tokens += o.prompt_tokens;
                generated_tokens += o.generated_tokens;
                cut |= o.cut;
                out.extend(o.texts);
            }
            rendered.push(out.join(joiner));
        }
        let source = text;
        let text = rendered.join("\n\n");
        let glossary = crate::pipeline::glossary::Glossary::builtin();
        let mut checks = checks::translation_checks(&text, lang, source, glossary);
        checks.push(checks::complete_check(lang, cut));
        Ok(Step { text, checks, attempts: 1, prompt_tokens, generated_tokens, ms: start.elapsed().as_millis() as u64 })
    }
}

/// A summarization model (BART, T5).
pub struct Seq2SeqSummarizer {
    id: String,
    model: Seq2Seq,
}

impl Seq2SeqSummarizer {
    pub fn load(manifest: &Manifest, local: &LocalModel) -> Result<Seq2SeqSummarizer> {
        Ok(Seq2SeqSummarizer { id: manifest.id.clone(), model: Seq2Seq::load(&local.dir)? })
    }

    /// T5 models are told the task in the text.
    fn prefix(&self) -> &'static str {
        if self.model.family() == "t5" {
            "summarize: "
        } else {
            ""
        }
    }

    /// Consecutive sentences of `text` grouped into sections the model takes whole.
    fn sections(&self, text: &str) -> Vec<String> {
        let limit = self.model.max_input_tokens();
        let count = |s: &str| self.model.tokenizer().encode(&format!("{}{s}", self.prefix())).len();
        let mut sections = Vec::new();
        let mut current = String::new();
        for paragraph in paragraphs(text) {
            for sentence in sentences(paragraph) {
                for piece in fitting(&self.model, sentence, "") {
                    let joined = if current.is_empty() { piece.clone() } else { format!("{current} {piece}") };
                    if count(&joined) > limit && !current.is_empty() {
                        sections.push(std::mem::replace(&mut current, piece));
                    } else {
                        current = joined;
                    }
                }
            }
        }
        if !current.is_empty() {
            sections.push(current);
        }
        sections
    }
}

impl Summarizer for Seq2SeqSummarizer {
    fn id(&self) -> &str {
        &self.id
    }

    fn summarize(&mut self, article: &str) -> Result<(Step, InputReport)> {
        let start = Instant::now();
        let prefix = self.prefix();
        let tokens = self.model.tokenizer().encode(&format!("{prefix}{article}")).len();
        let sections = self.sections(article);
        let with_prefix = |texts: &[String]| texts.iter().map(|t| format!("{prefix}{t}")).collect::<Vec<_>>();
        let mut o = run(&self.model, &with_prefix(&sections))?;
        let method = if sections.len() > 1 {
            // The section summaries, summarized again when they fit in one input.
            let joined = o.texts.join(" ");
            if self.sections(&joined).len() == 1 {
                let again = run(&self.model, &with_prefix(&[joined]))?;
                o = Outputs {
                    texts: again.texts,
                    prompt_tokens: o.prompt_tokens + again.prompt_tokens,
                    generated_tokens: o.generated_tokens + again.generated_tokens,
                    cut: again.cut,
                };
            }
            "sectioned"
        } else {
            "direct"
        };
        let text = o.texts.join(" ").trim().to_string();
        let mut checks = checks::summary_checks(&text, article);
        checks.push(checks::complete_check("summary", o.cut));
        let step = Step {
            text,
            checks,
            attempts: 1,
            prompt_tokens: o.prompt_tokens,
            generated_tokens: o.generated_tokens,
            ms: start.elapsed().as_millis() as u64,
        };
        Ok((step, InputReport { tokens, method, sections: sections.len(), opening: None }))
    }
}
