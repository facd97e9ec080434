//! The brief: an English summary of an article, then its renderings in the
//! requested languages, each output checked and, on a failed check, asked
//! for once more with a stricter prompt.
//!
//! Articles longer than the input budget are summarized section by section
//! and the section summaries summarized again, so nothing is cut silently;
//! the brief records which way was taken.
//!
//! A task may be given to a model made for it instead of the chat model
//! (`--summarizer`, `--translator`): anything that implements [`Summarizer`]
//! or [`Translator`] (the encoder-decoder models of [`crate::seq2seq`]). The
//! chat model is then loaded only if some task still needs it.

pub mod checks;
pub mod prompts;

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Serialize;

use crate::engine::{GenerationOptions, Llm, Message, StopReason};
use crate::ingest::Article;
use checks::Check;
pub use prompts::Prompts;

/// What model made a brief.
#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    pub id: String,
    pub sha256: String,
}

/// Settings of the pipeline.
#[derive(Debug, Clone)]
pub struct BriefOptions {
    /// Language codes of the renderings, in order (`zh`, `ru`).
    pub langs: Vec<String>,
    pub summary_max_tokens: usize,
    pub translation_max_tokens: usize,
    /// Articles over this many tokens are summarized in sections.
    pub input_budget_tokens: usize,
    pub generation: GenerationOptions,
}

impl Default for BriefOptions {
    fn default() -> Self {
        BriefOptions {
            langs: vec!["zh".into(), "ru".into()],
            summary_max_tokens: 256,
            translation_max_tokens: 512,
            input_budget_tokens: 3072,
            generation: GenerationOptions::default(),
        }
    }
}

/// One model answer that went through the checks.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub text: String,
    pub checks: Vec<Check>,
    /// 1, or 2 when the first answer failed a check.
    pub attempts: usize,
    pub prompt_tokens: usize,
    pub generated_tokens: usize,
    pub ms: u64,
}

impl Step {
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }
}

/// How the article was fed to the model.
#[derive(Debug, Clone, Serialize)]
pub struct InputReport {
    /// Tokens of the cleaned article.
    pub tokens: usize,
    /// `direct`, or `sectioned` when it was over the budget.
    pub method: &'static str,
    pub sections: usize,
}

/// Token counts of a brief, summed over every model call.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TokenCounts {
    pub prompt: usize,
    pub generated: usize,
}

/// A finished brief.
#[derive(Debug, Clone, Serialize)]
pub struct Brief {
    pub id: String,
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub summary: String,
    pub translations: BTreeMap<String, String>,
    pub model: ModelInfo,
    pub input: InputReport,
    pub tokens: TokenCounts,
    pub timings_ms: BTreeMap<String, u64>,
    pub checks: Vec<Check>,
    /// `ok` when every check passed, else `flagged`.
    pub status: &'static str,
    pub notes: Vec<String>,
    /// Tasks done by a model other than `model` (`summary`, `zh`, ...) and its id.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub task_models: BTreeMap<String, String>,
}

/// A model that writes the English summary of an article.
pub trait Summarizer {
    /// The model id, recorded in the brief.
    fn id(&self) -> &str;
    fn summarize(&mut self, article: &str) -> anyhow::Result<(Step, InputReport)>;
}

/// A model that renders English text in other languages.
pub trait Translator {
    /// The model id, recorded in the brief.
    fn id(&self) -> &str;
    /// True if it can translate into the language with code `lang`.
    fn serves(&self, lang: &str) -> bool;
    fn translate(&mut self, text: &str, lang: &str) -> anyhow::Result<Step>;
}

/// The chat model, loaded when a task first needs it.
enum LazyLlm {
    Loaded(Llm),
    /// Fetched (if needed) and loaded from this manifest on first use.
    Pending { store: crate::store::ModelStore, manifest: Box<crate::store::Manifest> },
}

/// Summarize and translate with the chat model, or with the task models given.
pub struct BriefPipeline {
    llm: LazyLlm,
    /// Shared with the closures of each model call, which cannot borrow
    /// `self` while the model runs.
    prompts: std::sync::Arc<Prompts>,
    model: ModelInfo,
    options: BriefOptions,
    summarizer: Option<Box<dyn Summarizer>>,
    translators: Vec<Box<dyn Translator>>,
}

impl BriefPipeline {
    pub fn new(
        llm: Llm,
        prompts: Prompts,
        model: ModelInfo,
        options: BriefOptions,
    ) -> anyhow::Result<BriefPipeline> {
        Self::with_llm(LazyLlm::Loaded(llm), prompts, model, options)
    }

    /// The one constructor: checks that the prompts know every language.
    fn with_llm(
        llm: LazyLlm,
        prompts: Prompts,
        model: ModelInfo,
        options: BriefOptions,
    ) -> anyhow::Result<BriefPipeline> {
        for code in &options.langs {
            prompts.language(code)?;
        }
        Ok(BriefPipeline {
            llm,
            prompts: std::sync::Arc::new(prompts),
            model,
            options,
            summarizer: None,
            translators: Vec::new(),
        })
    }

    /// The chat model, loading it on first use.
    fn llm(&mut self) -> anyhow::Result<&mut Llm> {
        if let LazyLlm::Pending { store, manifest } = &self.llm {
            let local = store.ensure(manifest)?;
            self.llm = LazyLlm::Loaded(Llm::load(local.primary())?);
        }
        match &mut self.llm {
            LazyLlm::Loaded(llm) => Ok(llm),
            LazyLlm::Pending { .. } => unreachable!("loaded above"),
        }
    }

    /// Gives summaries to `summarizer` instead of the chat model.
    pub fn set_summarizer(&mut self, summarizer: Box<dyn Summarizer>) {
        self.summarizer = Some(summarizer);
    }

    /// Gives the languages `translator` serves to it instead of the chat model.
    pub fn add_translator(&mut self, translator: Box<dyn Translator>) {
        self.translators.push(translator);
    }

    /// Which model does each task other than the chat model: `summary` or a
    /// language code, to a model id.
    pub fn task_models(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        if let Some(s) = &self.summarizer {
            out.insert("summary".to_string(), s.id().to_string());
        }
        for code in &self.options.langs {
            if let Some(t) = self.translators.iter().find(|t| t.serves(code)) {
                out.insert(code.clone(), t.id().to_string());
            }
        }
        out
    }

    pub fn options(&self) -> &BriefOptions {
        &self.options
    }

    pub fn model(&self) -> &ModelInfo {
        &self.model
    }

    /// The whole brief of one article.
    pub fn brief(&mut self, article: &Article) -> anyhow::Result<Brief> {
        let start = Instant::now();
        let (summary, input) = self.summarize_article(&article.text)?;
        let mut tokens = TokenCounts::default();
        let mut timings = BTreeMap::new();
        let mut all_checks = Vec::new();
        let mut add = |name: &str, step: &Step, checks: &mut Vec<Check>| {
            tokens.prompt += step.prompt_tokens;
            tokens.generated += step.generated_tokens;
            timings.insert(name.to_string(), step.ms);
            checks.extend(step.checks.iter().cloned());
        };
        add("summary", &summary, &mut all_checks);

        let mut translations = BTreeMap::new();
        for code in self.options.langs.clone() {
            let step = self.translate(&summary.text, &code)?;
            add(&code, &step, &mut all_checks);
            translations.insert(code, step.text);
        }
        timings.insert("total".into(), start.elapsed().as_millis() as u64);
        let status = if all_checks.iter().all(|c| c.passed) { "ok" } else { "flagged" };
        Ok(Brief {
            id: article.id.clone(),
            source: article.source.clone(),
            title: article.title.clone(),
            summary: summary.text,
            translations,
            model: self.model.clone(),
            input,
            tokens,
            timings_ms: timings,
            checks: all_checks,
            status,
            notes: article.notes.clone(),
            task_models: self.task_models(),
        })
    }

    /// The English summary of `article`, sectioned when over the budget.
    pub fn summarize_article(&mut self, article: &str) -> anyhow::Result<(Step, InputReport)> {
        if let Some(summarizer) = self.summarizer.as_mut() {
            return summarizer.summarize(article);
        }
        let tokens = self.llm()?.count_tokens(article);
        if tokens <= self.options.input_budget_tokens {
            let step = self.summarize(article, article, false)?;
            return Ok((step, InputReport { tokens, method: "direct", sections: 1 }));
        }
        let sections = self.sections(article)?;
        let mut partial = Vec::new();
        let (mut prompt_tokens, mut generated_tokens, mut ms) = (0, 0, 0);
        for section in &sections {
            let step = self.summarize(section, section, false)?;
            prompt_tokens += step.prompt_tokens;
            generated_tokens += step.generated_tokens;
            ms += step.ms;
            partial.push(step.text);
        }
        let mut step = self.summarize(&partial.join("\n\n"), article, true)?;
        step.prompt_tokens += prompt_tokens;
        step.generated_tokens += generated_tokens;
        step.ms += ms;
        Ok((step, InputReport { tokens, method: "sectioned", sections: sections.len() }))
    }

    /// Summary of `text`, checked against `source` (the article).
    fn summarize(&mut self, text: &str, source: &str, combine: bool) -> anyhow::Result<Step> {
        let max_tokens = self.options.summary_max_tokens;
        let prompts = std::sync::Arc::clone(&self.prompts);
        self.run_checked(
            |failed| prompts.summary_messages(text, failed, combine),
            max_tokens,
            |answer| checks::summary_checks(answer, source),
            "summary",
        )
    }

    /// `text` rendered in the language with code `lang`.
    pub fn translate(&mut self, text: &str, lang: &str) -> anyhow::Result<Step> {
        if let Some(translator) = self.translators.iter_mut().find(|t| t.serves(lang)) {
            return translator.translate(text, lang);
        }
        let max_tokens = self.options.translation_max_tokens;
        let prompts = std::sync::Arc::clone(&self.prompts);
        self.run_checked(
            |failed| prompts.translation_messages(text, lang, failed),
            max_tokens,
            |answer| checks::translation_checks(answer, lang),
            lang,
        )
    }

    /// Asks, checks, and asks once more naming what failed.
    fn run_checked(
        &mut self,
        messages: impl Fn(Option<&str>) -> anyhow::Result<Vec<Message>>,
        max_new_tokens: usize,
        check: impl Fn(&str) -> Vec<Check>,
        output: &str,
    ) -> anyhow::Result<Step> {
        let options = GenerationOptions { max_new_tokens, ..self.options.generation.clone() };
        let mut step: Option<Step> = None;
        for attempt in 1..=2 {
            let failed = step.as_ref().map(|s: &Step| {
                let reasons: Vec<String> = s
                    .checks
                    .iter()
                    .filter(|c| !c.passed)
                    .map(|c| c.detail.clone().unwrap_or_else(|| c.name.to_string()))
                    .collect();
                reasons.join("; ")
            });
            let generation = self.llm()?.generate(&messages(failed.as_deref())?, &options)?;
            let text = clean_answer(&generation.text);
            let mut checks = check(&text);
            checks.push(checks::complete_check(output, generation.stop == StopReason::MaxTokens));
            let previous = step.take();
            let new = Step {
                text,
                checks,
                attempts: attempt,
                prompt_tokens: generation.prompt_tokens
                    + previous.as_ref().map_or(0, |s| s.prompt_tokens),
                generated_tokens: generation.generated_tokens
                    + previous.as_ref().map_or(0, |s| s.generated_tokens),
                ms: generation.prefill_ms
                    + generation.decode_ms
                    + previous.as_ref().map_or(0, |s| s.ms),
            };
            let done = new.passed();
            step = Some(new);
            if done {
                break;
            }
        }
        Ok(step.expect("at least one attempt"))
    }

    /// Consecutive paragraph groups of `article`, each within the budget.
    fn sections(&mut self, article: &str) -> anyhow::Result<Vec<String>> {
        let budget = self.options.input_budget_tokens;
        let llm = self.llm()?;
        let mut pieces: Vec<String> = Vec::new();
        for paragraph in crate::ingest::sentences::paragraphs(article) {
            if llm.count_tokens(paragraph) <= budget {
                pieces.push(paragraph.to_string());
            } else {
                pieces.extend(crate::ingest::sentences::sentences(paragraph).iter().map(|s| s.to_string()));
            }
        }
        let mut sections = Vec::new();
        let mut current = String::new();
        let mut current_tokens = 0;
        for piece in pieces {
            let n = llm.count_tokens(&piece);
            if current_tokens + n > budget && !current.is_empty() {
                sections.push(std::mem::take(&mut current));
                current_tokens = 0;
            }
            if !current.is_empty() {
                current.push_str("\n\n");
            }
            current.push_str(&piece);
            current_tokens += n;
        }
        if !current.is_empty() {
            sections.push(current);
        }
        Ok(sections)
    }
}

/// The answer without the wrapping a chat model likes to add: a lead-in
/// line ("Here is the summary:"), the prompt's tags, Markdown emphasis.
pub fn clean_answer(answer: &str) -> String {
    let mut text = answer.trim();
    for tag in ["<text>", "</text>", "<article>", "</article>"] {
        text = text.trim_start_matches(tag).trim_end_matches(tag).trim();
    }
    let mut lines: Vec<&str> = text.lines().collect();
    if lines.len() > 1 {
        let first = lines[0].trim().trim_matches('*');
        let lead_in = (first.ends_with(':') || first.ends_with('：'))
            && first.split_whitespace().count() <= 12;
        if lead_in {
            lines.remove(0);
        }
    }
    let text = lines.join("\n");
    text.trim().trim_matches('*').trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::clean_answer;

    #[test]
    fn lead_ins_and_tags_are_dropped() {
        assert_eq!(clean_answer("Here is the summary:\nA did B."), "A did B.");
        assert_eq!(clean_answer("<text>\n中国。\n</text>"), "中国。");
        assert_eq!(clean_answer("A did B.\nC did D."), "A did B.\nC did D.");
        assert_eq!(clean_answer("Only: one line"), "Only: one line");
    }
}

impl BriefPipeline {
    /// The pipeline for the configured models: the chat model (`--model`,
    /// or the catalog's default), fetched and loaded when a task first needs
    /// it, and the task models of `--summarizer` and `--translator`, fetched
    /// and loaded now.
    pub fn load(config: &crate::config::Config, options: BriefOptions) -> anyhow::Result<Self> {
        let catalog = crate::store::Catalog::load(config.models_dir.as_deref())?;
        let manifest = catalog.get_or_default(config.model.as_deref())?;
        let store = crate::store::ModelStore::new(&config.cache_dir, config.offline);
        let prompts = Prompts::load(config.prompts_dir.as_deref())?;
        let model = ModelInfo { id: manifest.id.clone(), sha256: manifest.files[0].sha256.clone() };
        let llm = LazyLlm::Pending { store: store.clone(), manifest: Box::new(manifest.clone()) };
        let mut pipeline = Self::with_llm(llm, prompts, model, options)?;
        if let Some(id) = &config.summarizer {
            let m = task_manifest(&catalog, id, "summarize")?;
            let local = store.ensure(m)?;
            pipeline.set_summarizer(Box::new(crate::seq2seq::tasks::Seq2SeqSummarizer::load(m, &local)?));
        }
        for id in &config.translators {
            let m = task_manifest(&catalog, id, "translate")?;
            if !m.languages.iter().any(|l| pipeline.options.langs.contains(l)) {
                return Err(crate::InputError::new(
                    id,
                    format!(
                        "translates into {}, none of the requested languages ({})",
                        m.languages.join(", "),
                        pipeline.options.langs.join(", ")
                    ),
                )
                .into());
            }
            let local = store.ensure(m)?;
            pipeline.add_translator(Box::new(crate::seq2seq::tasks::Seq2SeqTranslator::load(m, &local)?));
        }
        Ok(pipeline)
    }
}

/// The manifest `id`, which must be made for `task`.
fn task_manifest<'a>(
    catalog: &'a crate::store::Catalog,
    id: &str,
    task: &str,
) -> anyhow::Result<&'a crate::store::Manifest> {
    let m = catalog.get(id)?;
    if !m.tasks.iter().any(|t| t == task) || m.format == "gguf" {
        return Err(crate::InputError::new(
            id,
            format!("is not an encoder-decoder model for the {task} task (its tasks: {})", m.tasks.join(", ")),
        )
        .into());
    }
    Ok(m)
}
