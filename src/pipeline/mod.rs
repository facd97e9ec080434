//! The brief: an English summary of an article, then its renderings in the
//! requested languages, each output checked and, on a failed check, asked
//! for once more with what failed added to the prompt.
//!
//! Articles longer than the input budget are summarized section by section
//! and the section summaries summarized again, so nothing is cut silently;
//! the brief records which way was taken.
//!
//! A task may be given to a model made for it instead of the chat model
//! (`--summarizer`, `--translator`): anything that implements [`Summarizer`]
//! or [`Translator`] (the encoder-decoder models of [`crate::seq2seq`]). The
//! chat model is then loaded only if some task still needs it.

mod amounts;
pub mod checks;
pub mod glossary;
pub mod original_names;
pub mod prompts;
pub mod script;
pub mod speaker;
pub mod typography;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use crate::engine::{Conversation, GenerationOptions, Llm, Message, StopReason, TokenConstraint};
use crate::ingest::Article;
use checks::Check;
use glossary::Glossary;
pub use prompts::Prompts;
use prompts::TargetLanguage;

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
    /// The chat model summarizes the opening of an article: its whole
    /// sentences within this many words (0, the default: the whole article).
    pub summary_window_words: usize,
    /// At most this many model calls are decoded together.
    pub batch_size: usize,
    /// Hypotheses of the beam search that writes summaries and renderings
    /// (1: greedy decoding); unused when sampling. Renderings: `None` for
    /// each language's own width (`beams` in `prompts/translate.toml`, else
    /// `TRANSLATION_BEAMS`).
    pub summary_beams: usize,
    pub translation_beams: Option<usize>,
    pub generation: GenerationOptions,
}

/// Beam widths by default (measured in the README, "Quality"): a beam of 3
/// raised the renderings' chrF on two development slices of WMT22 news
/// (zh +1.1 and +1.2, ru +0.5 and +0.9; a beam of 2 lost to greedy) for
/// about twice their decoding time; for summaries it traded ROUGE-1 for
/// ROUGE-2 (-0.3, +0.6), which was not worth its time. A language may set
/// its own width (`beams` in `prompts/translate.toml`: 5 for Chinese).
pub const SUMMARY_BEAMS: usize = 1;
pub const TRANSLATION_BEAMS: usize = 3;

/// Words of an article's opening that the chat model summarizes by
/// default: 0, the whole article. A window of 250 words measured well on a
/// development slice (SummEval articles 51-70, ROUGE-1 / ROUGE-2 43.04 /
/// 15.43 to 44.72 / 16.66) but not on the other 80 articles (40.43 / 16.88
/// to 39.82 / 17.25), so it stays an option (`--summary-window`) for
/// faster summaries of long articles (README, "Quality").
pub const SUMMARY_WINDOW_WORDS: usize = 0;

impl Default for BriefOptions {
    fn default() -> Self {
        BriefOptions {
            langs: vec!["zh".into(), "ru".into()],
            summary_max_tokens: 256,
            translation_max_tokens: 512,
            input_budget_tokens: 3072,
            summary_window_words: SUMMARY_WINDOW_WORDS,
            batch_size: 4,
            summary_beams: SUMMARY_BEAMS,
            translation_beams: None,
            generation: GenerationOptions::default(),
        }
    }
}

/// One model answer that went through the checks.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub text: String,
    pub checks: Vec<Check>,
    /// 1, 2 when the first answer failed a check, 3 when a rendering was
    /// then still no translation at all.
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
    /// Tokens of what the summary was written from: the cleaned article,
    /// or its opening.
    pub tokens: usize,
    /// `direct`, or `sectioned` when it was over the budget.
    pub method: &'static str,
    pub sections: usize,
    /// Set when the summary was written from the article's opening only
    /// (the summary window): `tokens` and `sections` are then of the opening.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opening: Option<Opening>,
}

/// How much of an article the summary window let the model read.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Opening {
    /// Words of the article.
    pub words: usize,
    /// Words of its opening: whole sentences within the window.
    pub read_words: usize,
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
    // Boxed: a loaded model's struct is over a kilobyte, the pending variant a few words.
    Loaded(Box<Llm>),
    /// Fetched (if needed) and loaded from this manifest on first use.
    Pending {
        store: crate::store::ModelStore,
        manifest: Box<crate::store::Manifest>,
    },
}

/// Summarize and translate with the chat model, or with the task models given.
pub struct BriefPipeline {
    llm: LazyLlm,
    /// Shared so that a model call, which borrows the pipeline mutably, can
    /// still read them.
    prompts: Arc<Prompts>,
    model: ModelInfo,
    options: BriefOptions,
    summarizer: Option<Box<dyn Summarizer>>,
    translators: Vec<Box<dyn Translator>>,
    /// What the chat model's tokens hold, worked out when a rendering
    /// first needs it (see [`prompts::LatinWords`]).
    script_tables: Option<script::ScriptTables>,
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
        let prompts = Prompts::load(config.prompts_dir.as_deref(), config.glossary.as_deref())?;
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

    pub fn new(llm: Llm, prompts: Prompts, model: ModelInfo, options: BriefOptions) -> anyhow::Result<BriefPipeline> {
        Self::with_llm(LazyLlm::Loaded(Box::new(llm)), prompts, model, options)
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
            prompts: Arc::new(prompts),
            model,
            options,
            summarizer: None,
            translators: Vec::new(),
            script_tables: None,
        })
    }

    /// The chat model, loading it on first use.
    fn llm(&mut self) -> anyhow::Result<&mut Llm> {
        if let LazyLlm::Pending { store, manifest } = &self.llm {
            let local = store.ensure(manifest)?;
            let mut llm = Llm::load(local.primary())?;
            let dir = store.model_dir(&manifest.id).join("prompt-cache");
            llm.set_prompt_cache(crate::engine::PromptCache::new(&dir, &manifest.files[0].sha256));
            self.llm = LazyLlm::Loaded(Box::new(llm));
        }
        match &mut self.llm {
            LazyLlm::Loaded(llm) => Ok(&mut **llm),
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
        self.briefs(&[article]).pop().expect("one result per article")
    }

    /// The briefs of several articles: their summaries are decoded together,
    /// then all their renderings (see [`Llm::generate_batch`]); each brief is
    /// what [`BriefPipeline::brief`] gives for the article alone, but for
    /// its times. A failed article fails alone.
    pub fn briefs(&mut self, articles: &[&Article]) -> Vec<anyhow::Result<Brief>> {
        let start = Instant::now();
        let texts: Vec<&str> = articles.iter().map(|a| a.text.as_str()).collect();
        let summaries = self.summarize_articles(&texts);
        let langs = self.options.langs.clone();
        let items: Vec<(&str, &str)> = summaries
            .iter()
            .flat_map(|s| s.as_ref().ok())
            .flat_map(|(summary, _)| langs.iter().map(|l| (summary.text.as_str(), l.as_str())))
            .collect();
        let mut renderings = self.translate_batch(&items).into_iter();
        let task_models = self.task_models();
        let total = start.elapsed().as_millis() as u64;
        articles
            .iter()
            .zip(summaries)
            .map(|(article, summary)| {
                let (summary, input) = summary?;
                // Every rendering is taken, even after a failed one, so that
                // the next article gets its own.
                let steps: Vec<anyhow::Result<Step>> =
                    langs.iter().map(|_| renderings.next().expect("one rendering per language")).collect();
                let mut tokens = TokenCounts::default();
                let mut timings = BTreeMap::new();
                let mut checks = Vec::new();
                let mut translations = BTreeMap::new();
                let mut add = |name: &str, step: &Step| {
                    tokens.prompt += step.prompt_tokens;
                    tokens.generated += step.generated_tokens;
                    timings.insert(name.to_string(), step.ms);
                    checks.extend(step.checks.iter().cloned());
                };
                add("summary", &summary);
                for (code, step) in langs.iter().zip(steps) {
                    let step = step?;
                    add(code, &step);
                    translations.insert(code.clone(), step.text);
                }
                timings.insert("total".into(), total);
                let status = if checks.iter().all(|c| c.passed) { "ok" } else { "flagged" };
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
                    checks,
                    status,
                    notes: article.notes.clone(),
                    task_models: task_models.clone(),
                })
            })
            .collect()
    }

    /// The summaries of several articles, each written from its opening
    /// ([`BriefOptions::summary_window_words`]). Openings within the input
    /// budget are decoded together (see [`Llm::generate_batch`]); each
    /// result is what the article gives alone. Openings over the budget are
    /// summarized section by section, then the section summaries combined.
    pub fn summarize_articles(&mut self, articles: &[&str]) -> Vec<anyhow::Result<(Step, InputReport)>> {
        if let Some(summarizer) = self.summarizer.as_mut() {
            return articles.iter().map(|a| summarizer.summarize(a)).collect();
        }
        let window = self.options.summary_window_words;
        let read: Vec<&str> = articles
            .iter()
            .map(|a| if window == 0 { a } else { crate::ingest::sentences::opening(a, window) })
            .collect();
        let tokens: Vec<usize> = match self.llm() {
            Ok(llm) => read.iter().map(|a| llm.count_tokens(a)).collect(),
            Err(e) => return articles.iter().map(|_| Err(anyhow::anyhow!("{e:#}"))).collect(),
        };
        let budget = self.options.input_budget_tokens;
        let direct: Vec<usize> = (0..articles.len()).filter(|&i| tokens[i] <= budget).collect();
        // Numbers and names are checked against the whole article.
        let tasks: Vec<Task> =
            direct.iter().map(|&i| Task::Summary { text: read[i], source: articles[i], combine: false }).collect();
        let mut direct_steps = self.run_tasks(&tasks).into_iter();
        (0..articles.len())
            .map(|i| {
                let opening = (read[i].len() < articles[i].trim_end().len()).then(|| Opening {
                    words: articles[i].split_whitespace().count(),
                    read_words: read[i].split_whitespace().count(),
                });
                let (step, method, sections) = if tokens[i] <= budget {
                    (direct_steps.next().expect("one step per direct article")?, "direct", 1)
                } else {
                    let (step, sections) = self.summarize_sectioned(read[i], articles[i])?;
                    (step, "sectioned", sections)
                };
                Ok((step, InputReport { tokens: tokens[i], method, sections, opening }))
            })
            .collect()
    }

    /// Sections of `text` summarized one by one, then their summaries
    /// combined; checked against `article`. Returns the summary and the
    /// number of sections.
    fn summarize_sectioned(&mut self, text: &str, article: &str) -> anyhow::Result<(Step, usize)> {
        let sections = self.sections(text)?;
        let mut partial = Vec::new();
        let (mut prompt_tokens, mut generated_tokens, mut ms) = (0, 0, 0);
        for section in &sections {
            let step = self.run_task(Task::Summary { text: section, source: section, combine: false })?;
            prompt_tokens += step.prompt_tokens;
            generated_tokens += step.generated_tokens;
            ms += step.ms;
            partial.push(step.text);
        }
        let combined = partial.join("\n\n");
        let mut step = self.run_task(Task::Summary { text: &combined, source: article, combine: true })?;
        step.prompt_tokens += prompt_tokens;
        step.generated_tokens += generated_tokens;
        step.ms += ms;
        Ok((step, sections.len()))
    }

    /// The summaries of `texts` (`lang` none) or their renderings in the
    /// language with code `lang`, decoded together: one step per text, as
    /// `summarize`, `translate` and `eval run` write them.
    pub fn segments(&mut self, texts: &[&str], lang: Option<&str>) -> Vec<anyhow::Result<Step>> {
        match lang {
            None => self.summarize_articles(texts).into_iter().map(|r| r.map(|(step, _)| step)).collect(),
            Some(lang) => {
                let items: Vec<(&str, &str)> = texts.iter().map(|t| (*t, lang)).collect();
                self.translate_batch(&items)
            }
        }
    }

    /// Several `(text, language code)` renderings. Those for the chat model
    /// are decoded together (see [`Llm::generate_batch`]); each result is
    /// what the item gives alone.
    pub fn translate_batch(&mut self, items: &[(&str, &str)]) -> Vec<anyhow::Result<Step>> {
        let by_translator: Vec<Option<usize>> =
            items.iter().map(|(_, lang)| self.translators.iter().position(|t| t.serves(lang))).collect();
        let tasks: Vec<Task> = items
            .iter()
            .zip(&by_translator)
            .filter(|(_, t)| t.is_none())
            .map(|(&(text, lang), _)| Task::Translation { text, lang })
            .collect();
        let mut llm_steps = self.run_tasks(&tasks).into_iter();
        items
            .iter()
            .zip(by_translator)
            .map(|(&(text, lang), translator)| match translator {
                Some(t) => self.translators[t].translate(text, lang),
                None => llm_steps.next().expect("one step per chat-model item"),
            })
            .collect()
    }

    fn run_task(&mut self, task: Task) -> anyhow::Result<Step> {
        self.run_tasks(&[task]).pop().expect("one result per task")
    }

    /// Runs the tasks with the chat model, decoded together: asks, checks,
    /// and asks once more, naming what failed, for those that failed a
    /// check. If a batch fails as a whole, its tasks are run one by one so
    /// that the error belongs to the task that caused it.
    fn run_tasks(&mut self, tasks: &[Task]) -> Vec<anyhow::Result<Step>> {
        let mut results = Vec::with_capacity(tasks.len());
        for batch in tasks.chunks(self.options.batch_size.max(1)) {
            match self.run_checked(batch) {
                Ok(steps) => results.extend(steps.into_iter().map(Ok)),
                Err(e) if batch.len() == 1 => results.push(Err(e)),
                Err(_) => {
                    for task in batch {
                        results.push(self.run_checked(std::slice::from_ref(task)).map(|mut s| s.remove(0)));
                    }
                }
            }
        }
        results
    }

    fn run_checked(&mut self, tasks: &[Task]) -> anyhow::Result<Vec<Step>> {
        let prompts = Arc::clone(&self.prompts);
        // A batch holds one kind of task, so one token limit serves; each
        // has its beam width (a brief's Chinese and Russian may differ).
        let max_new_tokens = tasks.iter().map(|t| t.max_tokens(&self.options)).max().unwrap_or(0);
        let options = GenerationOptions { max_new_tokens, ..self.options.generation.clone() };
        let mut conversations = Vec::with_capacity(tasks.len());
        for task in tasks {
            let constraint = self.constraint(task, &prompts)?;
            let beams = Some(task.beams(&self.options, &prompts));
            conversations.push(Conversation { messages: task.messages(&prompts, None)?, constraint, beams });
        }
        let first = self.llm()?.generate_batch(&conversations, &options)?;
        let mut steps: Vec<Step> =
            tasks.iter().zip(&first).map(|(task, generation)| task.step(generation, &prompts, 1)).collect();

        // Those that failed a check are asked again, with what failed said
        // in the user turn (the opening turns' keys and values are reused).
        // Measured against a follow-up turn that shows the model its first
        // answer: the 1.5B then mostly repeats that answer. A rendering that
        // is then still no translation at all is asked for a third time,
        // plainly (see [`Task::retry_messages`]).
        for attempt in [2, 3] {
            let mut todo = Vec::new();
            let mut retries = Vec::new();
            for (i, task) in tasks.iter().enumerate() {
                if steps[i].passed() || steps[i].attempts + 1 != attempt {
                    continue;
                }
                if let Some(messages) = task.retry_messages(&prompts, &steps[i], attempt)? {
                    todo.push(i);
                    retries.push(Conversation {
                        messages,
                        constraint: conversations[i].constraint.clone(),
                        beams: conversations[i].beams,
                    });
                }
            }
            if todo.is_empty() {
                break;
            }
            let generations = self.llm()?.generate_batch(&retries, &options)?;
            for (&i, generation) in todo.iter().zip(&generations) {
                let mut retry = tasks[i].step(generation, &prompts, attempt);
                let earlier = &steps[i];
                retry.prompt_tokens += earlier.prompt_tokens;
                retry.generated_tokens += earlier.generated_tokens;
                retry.ms += earlier.ms;
                // A retry that fails more checks than the answer before it
                // does not replace it (its costs still count).
                if failures(earlier) < failures(&retry) {
                    retry.text = earlier.text.clone();
                    retry.checks = earlier.checks.clone();
                }
                steps[i] = retry;
            }
        }
        Ok(steps)
    }

    /// What a rendering of `task` may not contain (its language's
    /// [`prompts::LatinWords`] rule), if anything.
    fn constraint(&mut self, task: &Task, prompts: &Prompts) -> anyhow::Result<Option<Arc<dyn TokenConstraint>>> {
        let Task::Translation { text, lang } = *task else { return Ok(None) };
        let latin = prompts.language(lang)?.latin;
        if latin == prompts::LatinWords::Any {
            return Ok(None);
        }
        self.llm()?;
        let LazyLlm::Loaded(llm) = &self.llm else { unreachable!("loaded above") };
        let tables = self.script_tables.get_or_insert_with(|| script::ScriptTables::new(llm.tokenizer()));
        Ok(Some(Arc::new(tables.constraint(llm.tokenizer(), text, lang, latin, &prompts.glossary))))
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

/// One model call of a brief, with what its answer is checked against.
#[derive(Debug, Clone, Copy)]
enum Task<'a> {
    /// A summary of `text`, whose numbers must occur in `source` (the
    /// article); `combine`: `text` is section summaries to combine.
    Summary {
        text: &'a str,
        source: &'a str,
        combine: bool,
    },
    Translation {
        text: &'a str,
        lang: &'a str,
    },
}

impl Task<'_> {
    /// The text the answer renders or sums up.
    fn source(&self) -> &str {
        match self {
            Task::Summary { source, .. } => source,
            Task::Translation { text, .. } => text,
        }
    }

    /// `summary` or the language code, as the checks name it.
    fn output(&self) -> &str {
        match self {
            Task::Summary { .. } => "summary",
            Task::Translation { lang, .. } => lang,
        }
    }

    fn max_tokens(&self, options: &BriefOptions) -> usize {
        match self {
            Task::Summary { .. } => options.summary_max_tokens,
            Task::Translation { .. } => options.translation_max_tokens,
        }
    }

    fn beams(&self, options: &BriefOptions, prompts: &Prompts) -> usize {
        match self {
            Task::Summary { .. } => options.summary_beams,
            Task::Translation { lang, .. } => options.translation_beams.unwrap_or_else(|| {
                prompts.language(lang).ok().and_then(|target| target.beams).unwrap_or(TRANSLATION_BEAMS)
            }),
        }
    }

    /// The prompt; `failed` says what was wrong with a first answer.
    fn messages(&self, prompts: &Prompts, failed: Option<&str>) -> anyhow::Result<Vec<Message>> {
        match *self {
            Task::Summary { text, combine, .. } => prompts.summary_messages(text, combine, failed),
            Task::Translation { text, lang } => prompts.translation_messages(text, lang, failed),
        }
    }

    /// The prompt for attempt number `attempt` (2 or 3) after `earlier`
    /// failed a check, if there is one (none without a `retry` template in
    /// the prompt file). The second attempt is told what
    /// failed, before the text. A rendering that is after that still no
    /// translation at all (the `comment` or `copied` check) gets a third,
    /// with the plain prompt: the 1.5B sometimes gave the second attempt's
    /// note and instructions back again ("Весь текст полностью, каждое
    /// слово на русском языке"), and translated when asked plainly, but
    /// worse than with the full prompt, so plainly only when that failed
    /// (README, "Quality").
    fn retry_messages(
        &self,
        prompts: &Prompts,
        earlier: &Step,
        attempt: usize,
    ) -> anyhow::Result<Option<Vec<Message>>> {
        if attempt == 2 {
            let retry = match self {
                Task::Summary { .. } => &prompts.summarize.retry,
                Task::Translation { .. } => &prompts.translate.retry,
            };
            return match retry {
                Some(_) => self.messages(prompts, Some(&failed_checks(earlier))).map(Some),
                None => Ok(None),
            };
        }
        let Task::Translation { text, lang } = *self else { return Ok(None) };
        if earlier.checks.iter().any(|c| !c.passed && NO_TRANSLATION_CHECKS.contains(&c.name)) {
            return prompts.plain_translation_messages(text, lang);
        }
        Ok(None)
    }

    /// The model's answer, cleaned (summaries cut to length) and checked.
    fn step(&self, generation: &crate::engine::Generation, prompts: &Prompts, attempts: usize) -> Step {
        let mut text = clean_answer(&generation.text, self.source());
        // A rendering's language, its code and its English. The language was
        // checked when the prompt was made.
        let translation = match *self {
            Task::Translation { text, lang } => prompts.language(lang).ok().map(|target| (target, lang, text)),
            Task::Summary { .. } => None,
        };
        let target = translation.map(|(target, ..)| target);
        let mut repaired = Vec::new();
        if let Some((target, lang, source)) = translation {
            (text, repaired) = target.typeset(&text, lang, source);
        }
        let mut cut = None;
        if let Task::Summary { .. } = self {
            let words = text.split_whitespace().count();
            text = crate::ingest::sentences::opening(&text, SUMMARY_MAX_WORDS).to_string();
            let kept = text.split_whitespace().count();
            cut = (kept < words).then(|| format!("cut from {words} to {kept} words after a whole sentence"));
        }
        let mut checks = self.checks(&text, &prompts.glossary, target);
        // The check judged the repaired text; its detail says what was repaired.
        if !repaired.is_empty() {
            if let Some(check) = checks.iter_mut().find(|c| c.name == "numbers_kept") {
                let note = format!("amounts put right: {}", repaired.join(", "));
                check.detail = Some(match check.detail.take() {
                    Some(failed) => format!("{failed}; {note}"),
                    None => note,
                });
            }
        }
        if let Some(detail) = cut {
            checks.push(Check { name: "length", output: "summary".into(), passed: true, detail: Some(detail) });
        }
        checks.push(checks::complete_check(self.output(), generation.stop == StopReason::MaxTokens));
        // After the checks: they judge the model's own rendering.
        if let Some((target, lang, source)) = translation {
            text = target.with_original_names(&text, source, lang, &prompts.glossary).into_owned();
        }
        Step {
            text,
            checks,
            attempts,
            prompt_tokens: generation.prompt_tokens,
            generated_tokens: generation.generated_tokens,
            ms: generation.prefill_ms + generation.decode_ms,
        }
    }

    /// The checks of `answer`; `target` is a rendering's language.
    fn checks(&self, answer: &str, glossary: &Glossary, target: Option<&TargetLanguage>) -> Vec<Check> {
        match *self {
            Task::Summary { source, .. } => checks::summary_checks(answer, source),
            Task::Translation { text, lang } => {
                let mut checks = checks::translation_checks(answer, lang, text, glossary);
                if let Some(target) = target {
                    checks.push(checks::comment_check(answer, lang, text, &target.comments));
                    checks.push(checks::copied_check(answer, lang, text, &target.example_text()));
                }
                checks
            }
        }
    }
}

/// Checks whose failure means the answer is no translation at all.
const NO_TRANSLATION_CHECKS: [&str; 2] = ["comment", "copied"];

fn failures(step: &Step) -> usize {
    step.checks.iter().filter(|c| !c.passed).count()
}

/// What the failed checks of `step` found, for the retry prompt.
fn failed_checks(step: &Step) -> String {
    let reasons: Vec<String> = step
        .checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.detail.clone().unwrap_or_else(|| c.name.to_string()))
        .collect();
    reasons.join("; ")
}

/// Most words of a summary. SummEval's news highlights run 45 words
/// (median) to 72 (9 in 10); the model's longer answers are mostly the
/// article's lead copied out, and cutting them after 70 words scored best
/// on a dev slice (README, "Quality").
pub const SUMMARY_MAX_WORDS: usize = 70;

/// The answer without the wrapping a chat model likes to add: a lead-in
/// line ("Here is the summary:", "Вот перевод текста:") and anything
/// before it, comments after the answer, the prompt's tags, Markdown
/// emphasis, the prompt's list of names repeated, quotation marks around
/// the whole answer. `source` is the text the answer renders or sums up:
/// lead-in lines and quotation marks of its own are not taken for wrapping.
pub fn clean_answer(answer: &str, source: &str) -> String {
    let mut text = answer.trim();
    for tag in ECHOED_TAGS {
        text = text.trim_start_matches(tag).trim_end_matches(tag).trim();
    }
    let mut lines: Vec<&str> = text.lines().collect();
    let mut chatty = false;
    // A lead-in first line ("Вот перевод текста:") goes unless the source
    // opens with one too: a summary of an article with a "Key points:" line
    // further down still loses its "Here is the summary:".
    if lines.len() > 1 && is_lead_in(lines[0]) && !source.lines().next().is_some_and(is_lead_in) {
        lines.remove(0);
        chatty = true;
    }
    // A lead-in further down ("Here is the corrected translation:") starts
    // the answer again, and what came before it goes with it, unless the
    // source has such lines anywhere (then they may be renderings of them).
    if !source.lines().any(is_lead_in) {
        if let Some(last) = lines.iter().rposition(|l| is_lead_in(l)) {
            if last + 1 < lines.len() {
                lines.drain(..=last);
                chatty = true;
            }
        }
    }
    // The translate prompt lists names as "English = rendering"; the model
    // sometimes repeats that list after its answer.
    lines.retain(|line| !is_name_listing(line));
    let mut text = lines.join("\n");
    // After a lead-in, paragraphs beyond the source's count are the model's
    // comments on its answer ("Если у вас есть вопросы...").
    if chatty {
        let keep = crate::ingest::sentences::paragraphs(source).len().max(1);
        let paragraphs = crate::ingest::sentences::paragraphs(&text);
        if paragraphs.len() > keep {
            text = paragraphs[..keep].join("\n\n");
        }
    }
    let text = text.trim().trim_matches('*').trim();
    unquote(text, source).to_string()
}

/// The prompts' tags around the input, which answers sometimes repeat.
pub(crate) const ECHOED_TAGS: [&str; 4] = ["<text>", "</text>", "<article>", "</article>"];

/// A line that announces what follows: short, ending in a colon.
fn is_lead_in(line: &str) -> bool {
    let line = line.trim().trim_matches('*');
    (line.ends_with(':') || line.ends_with('：')) && line.split_whitespace().count() <= 12
}

/// A line such as "Beijing = Пекин" or "Польша = Польша; Германия =
/// Германия": short names paired by " = ".
fn is_name_listing(line: &str) -> bool {
    let short = |s: &str| {
        let s = s.trim().trim_end_matches(['.', '。']);
        !s.is_empty() && s.split_whitespace().count() <= 6 && !s.contains(['.', '。', '!', '?', ',', '，'])
    };
    let pair = |p: &str| matches!(p.split_once(" = "), Some((a, b)) if short(a) && short(b));
    line.split([';', '；']).all(pair)
}

/// `text` without quotation marks around the whole of it, unless `source`
/// is quoted too: a rendering of an unquoted sentence is not a quotation.
/// With quotes inside (titles), the outer pair goes only if what is inside
/// holds as many quotation marks as the source: then the pair was added.
fn unquote<'t>(text: &'t str, source: &str) -> &'t str {
    const PAIRS: [(char, char); 4] = [('"', '"'), ('«', '»'), ('“', '”'), ('「', '」')];
    if source.trim().starts_with(['"', '“', '«']) {
        return text;
    }
    let marks = |s: &str| s.chars().filter(|c| PAIRS.iter().any(|&(o, q)| *c == o || *c == q)).count();
    for (open, close) in PAIRS {
        let inner = text.strip_prefix(open).and_then(|t| t.strip_suffix(close));
        if let Some(inner) = inner.filter(|inner| !inner.contains([open, close]) || marks(inner) == marks(source)) {
            return inner.trim();
        }
    }
    text
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

#[cfg(test)]
mod tests {
    use super::{clean_answer, BriefOptions, Prompts, Step, StopReason, Task, TRANSLATION_BEAMS};

    /// A model answer `text` that ended its turn, at no cost.
    fn finished_answer(text: &str) -> crate::engine::Generation {
        crate::engine::Generation {
            text: text.into(),
            prompt_tokens: 0,
            generated_tokens: 0,
            drafted_tokens: 0,
            prefill_ms: 0,
            decode_ms: 0,
            stop: StopReason::EndOfTurn,
        }
    }

    #[test]
    fn an_assistant_reply_instead_of_a_rendering_fails_the_built_in_comment_check() {
        // Replies the 1.5B gave in the eighth session's full en-ru run, which
        // the built-in `comments` then let through.
        let prompts = Prompts::load(None, None).unwrap();
        let ru = prompts.language("ru").ok();
        let task = Task::Translation { text: "May the family be well.", lang: "ru" };
        let failed =
            |answer: &str| task.checks(answer, &prompts.glossary, ru).iter().any(|c| c.name == "comment" && !c.passed);
        assert!(failed(
            "Мы рады вам помочь! Пожалуйста, предоставьте текст, который вы хотите перевести на русский язык."
        ));
        assert!(failed("Пусть семья будет здорова. Конечно, я перевел текст на русский язык."));
        // The retry's note translated (fifteenth session, news line 479).
        assert!(failed("Первым переводом не было принято: числа английского пропущены или изменены: 10."));
        assert!(!failed("Пусть у семьи всё будет хорошо."));
    }

    #[test]
    fn a_rendering_that_is_no_translation_is_asked_for_plainly() {
        let prompts = Prompts::load(None, None).unwrap();
        let task = Task::Translation { text: "EverGrow is very different from Shiba Inu.", lang: "ru" };
        let step = |answer: &str| Step {
            text: answer.into(),
            checks: task.checks(answer, &prompts.glossary, prompts.language("ru").ok()),
            attempts: 1,
            prompt_tokens: 0,
            generated_tokens: 0,
            ms: 0,
        };
        // The instructions given back: asked again with what failed, then,
        // if still so, with the plain prompt: the text alone.
        let echo = step("Весь текст полностью, каждое слово на русском языке.");
        assert!(!echo.passed());
        let second = task.retry_messages(&prompts, &echo, 2).unwrap().unwrap();
        let asked = &second.last().unwrap().content;
        assert!(asked.contains("comment") || asked.contains("talks about"), "{asked}");
        assert!(second.iter().any(|m| m.content.contains("Everton")), "the examples are given again");
        let plain = task.retry_messages(&prompts, &echo, 3).unwrap().unwrap();
        assert_eq!(plain[1].content, "EverGrow is very different from Shiba Inu.");
        assert!(!plain[0].content.contains("Everton"), "no examples to copy");
        // A translation that failed another check gets no third attempt.
        let latin = step("EverGrow очень отличается от Shiba Inu, crypto.");
        let failed: Vec<&str> = latin.checks.iter().filter(|c| !c.passed).map(|c| c.name).collect();
        assert!(failed.contains(&"untranslated") && !failed.contains(&"comment"), "{failed:?}");
        assert!(task.retry_messages(&prompts, &latin, 2).unwrap().unwrap().last().unwrap().content.contains("crypto"));
        assert!(task.retry_messages(&prompts, &latin, 3).unwrap().is_none());
        // Nor does a prompt file without a plain prompt.
        let mut without = prompts.clone();
        without.translate.plain = None;
        assert!(task.retry_messages(&without, &echo, 3).unwrap().is_none());
        // And one without `retry` asks once: no second attempt either.
        without.translate.retry = None;
        assert!(task.retry_messages(&without, &latin, 2).unwrap().is_none());
        without.summarize.retry = None;
        let summary = Task::Summary { text: "Sales rose.", source: "Sales rose.", combine: false };
        assert!(summary.retry_messages(&without, &latin, 2).unwrap().is_none());
        assert!(summary.retry_messages(&prompts, &latin, 2).unwrap().is_some());
    }

    #[test]
    fn a_chinese_amount_at_the_wrong_scale_is_put_right_and_said_so() {
        let prompts = Prompts::load(None, None).unwrap();
        let task = Task::Translation { text: "Its value sank to $300 million.", lang: "zh" };
        let generation = finished_answer("其价值跌至 300 亿美元。");
        let step = task.step(&generation, &prompts, 1);
        assert_eq!(step.text, "其价值跌至 3亿美元。");
        let kept = step.checks.iter().find(|c| c.name == "numbers_kept").unwrap();
        assert!(kept.passed && kept.detail.as_deref() == Some("amounts put right: 300 亿 -> 3亿"), "{kept:?}");
    }

    #[test]
    fn each_language_has_its_beam_width_unless_one_is_given() {
        let prompts = Prompts::load(None, None).unwrap();
        let width = |lang, options: &BriefOptions| Task::Translation { text: "Hello.", lang }.beams(options, &prompts);
        let defaults = BriefOptions::default();
        assert_eq!(width("zh", &defaults), prompts.language("zh").unwrap().beams.unwrap());
        assert_eq!(width("ru", &defaults), TRANSLATION_BEAMS);
        let given = BriefOptions { translation_beams: Some(2), ..BriefOptions::default() };
        assert_eq!((width("zh", &given), width("ru", &given)), (2, 2));
    }

    #[test]
    fn long_summaries_are_cut_after_a_whole_sentence() {
        let prompts = Prompts::load(None, None).unwrap();
        let article = "Ten people were hurt. The fire began at noon.";
        let task = Task::Summary { text: article, source: article, combine: false };
        let sentence = "Ten people were hurt when a fire began at noon in the old mill on the river.";
        let answer = [sentence; 6].join(" ");
        let generation = finished_answer(&answer);
        let step = task.step(&generation, &prompts, 1);
        // 17 words a sentence: four fit in 70.
        assert_eq!(step.text, [sentence; 4].join(" "));
        let length = step.checks.iter().find(|c| c.name == "length").expect("the cut is noted");
        assert!(length.passed && length.detail.as_deref() == Some("cut from 102 to 68 words after a whole sentence"));
    }

    #[test]
    fn lead_ins_and_tags_are_dropped() {
        let src = "A did B. C did D.";
        assert_eq!(clean_answer("Here is the summary:\nA did B.", src), "A did B.");
        assert_eq!(clean_answer("<text>\n中国。\n</text>", src), "中国。");
        assert_eq!(clean_answer("A did B.\nC did D.", src), "A did B.\nC did D.");
        assert_eq!(clean_answer("Only: one line", src), "Only: one line");
        assert_eq!(clean_answer("Путин прибыл в Пекин.\nПекин = Пекин\nBeijing = Пекин", src), "Путин прибыл в Пекин.");
        assert_eq!(clean_answer("Польша = Польша; Германия = Германия.", src), "");
        assert_eq!(clean_answer("x = 3, they said, is the answer.", src), "x = 3, they said, is the answer.");
    }

    #[test]
    fn a_chat_models_wrapping_is_dropped_but_the_sources_own_kept() {
        let src = "Crowds were seen in Bristol.";
        // A first attempt, a lead-in, the answer again: the last one counts.
        let answer = "Толпы видели.\nВот исправленный перевод:\n\nТолпы видели в Бристоле.";
        assert_eq!(clean_answer(answer, src), "Толпы видели в Бристоле.");
        // Comments after the answer go; so do quotes around all of it.
        let answer = "Вот перевод текста:\n\n«Толпы видели в Бристоле.»\n\nЕсли у вас есть вопросы, пишите.";
        assert_eq!(clean_answer(answer, src), "Толпы видели в Бристоле.");
        // A quoted source keeps its quotes; a source with a lead-in line of
        // its own keeps the lines before a colon.
        assert_eq!(clean_answer("«Мы уйдём.»", "\"We will leave.\""), "«Мы уйдём.»");
        assert_eq!(clean_answer("«Да», — сказал он, «нет».", src), "«Да», — сказал он, «нет».");
        // Quotes around an answer with quoted titles inside go too; titles
        // that happen to open and close the rendering stay.
        let titles = "Her films include \"Dune\" and \"Heat\".";
        assert_eq!(
            clean_answer("\"Её фильмы: \"Дюна\" и \"Схватка\".\"", titles),
            "Её фильмы: \"Дюна\" и \"Схватка\"."
        );
        assert_eq!(clean_answer("\"Дюна\" и \"Схватка\"", titles), "\"Дюна\" и \"Схватка\"");
        // A lead-in of the answer's own goes even when the source has a
        // lead-in line further down.
        let with_key_points = "Markets fell.\nKey points:\nOil rose.";
        assert_eq!(
            clean_answer("Вот перевод:\nРынки упали.\nГлавное:\nНефть выросла.", with_key_points),
            "Рынки упали.\nГлавное:\nНефть выросла."
        );
        let listing = "He said:\nWe will leave.";
        assert_eq!(clean_answer("Он сказал:\nМы уйдём.", listing), "Он сказал:\nМы уйдём.");
    }
}
