//! Command-line interface: one module per subcommand, as in cargo.
//!
//! Exit codes: 0 success; 1 a runtime failure (model fetch, inference, or
//! some articles of a batch failed); 2 bad input or bad usage.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use polybrief::config::{Config, FlagLayer};
use polybrief::engine::GenerationOptions;
use polybrief::pipeline::BriefOptions;

mod bench;
mod brief;
mod clean;
mod eval;
mod models;
mod summarize;
mod task;
mod translate;

#[derive(Debug, Parser)]
#[command(name = "polybrief", version, about = "Trilingual news briefs on the CPU")]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// Settings shared by every subcommand; layered over env and config file
/// by [`Config::load`].
#[derive(Debug, clap::Args)]
struct GlobalArgs {
    /// Config file (default: $XDG_CONFIG_HOME/polybrief/config.toml).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
    /// Folder for verified model files (env POLYBRIEF_CACHE).
    #[arg(long, global = true, value_name = "DIR")]
    cache_dir: Option<std::path::PathBuf>,
    /// Never use the network; fail naming what is missing from the cache.
    #[arg(long, global = true)]
    offline: bool,
    /// Model id from `polybrief models list` (env POLYBRIEF_MODEL).
    #[arg(long, global = true, value_name = "ID")]
    model: Option<String>,
    /// CPU threads for inference (default: all cores).
    #[arg(long, global = true, value_name = "N")]
    threads: Option<usize>,
    /// Folder of prompt templates overriding the built-in ones.
    #[arg(long, global = true, value_name = "DIR")]
    prompts: Option<std::path::PathBuf>,
    /// Names and their zh/ru renderings (TSV: en, zh, ru), used before the
    /// built-in glossary (env POLYBRIEF_GLOSSARY).
    #[arg(long, global = true, value_name = "FILE")]
    glossary: Option<std::path::PathBuf>,
    /// Folder of extra model manifests, `*.toml` beside the built-in ones
    /// (env POLYBRIEF_MODELS_DIR).
    #[arg(long, global = true, value_name = "DIR")]
    models_dir: Option<std::path::PathBuf>,
    /// Encoder-decoder model that writes the summaries instead of the chat
    /// model (e.g. distilbart-cnn-12-6, flan-t5-base).
    #[arg(long, global = true, value_name = "MODEL")]
    summarizer: Option<String>,
    /// Encoder-decoder model that translates into the languages it is made
    /// for (e.g. opus-mt-en-ru); repeat for several.
    #[arg(long = "translator", global = true, value_name = "MODEL")]
    translators: Vec<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// English summary plus Chinese and Russian renderings of each article.
    Brief(brief::Args),
    /// English summary of each article (or of each line, with --lines).
    Summarize(summarize::Args),
    /// Translation of each article (or of each line, with --lines).
    Translate(translate::Args),
    /// Print a scraped article with the page furniture removed.
    Clean(clean::Args),
    /// List, fetch, verify and manage models.
    Models(models::Args),
    /// Speed beside llama.cpp on the same GGUF: prefill, decode, peak RSS, briefs.
    Bench(bench::Args),
    /// Score outputs against references (ROUGE, BLEU, chrF).
    Eval(eval::Args),
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("polybrief: error: {err:#}");
            if polybrief::error::is_input_error(&err) {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let g = cli.global;
    let config = Config::load(&FlagLayer {
        config: g.config,
        cache_dir: g.cache_dir,
        offline: g.offline,
        model: g.model,
        threads: g.threads,
        prompts_dir: g.prompts,
        glossary: g.glossary,
        models_dir: g.models_dir,
        summarizer: g.summarizer,
        translators: g.translators,
    })?;
    if let Some(n) = config.threads {
        // candle sizes its thread pool from this variable, read once at the
        // first tensor operation: set it before any.
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
    }
    match cli.command {
        Command::Brief(args) => brief::run(args, &config),
        Command::Summarize(args) => summarize::run(args, &config),
        Command::Translate(args) => translate::run(args, &config),
        Command::Clean(args) => clean::run(args, &config),
        Command::Models(args) => models::run(args, &config),
        Command::Eval(args) => eval::run(args, &config),
        Command::Bench(args) => bench::run(args, &config),
    }
}

/// Decoding flags shared by the commands that run the model.
#[derive(Debug, Clone, clap::Args)]
struct GenerationArgs {
    /// Sample at this temperature instead of greedy decoding.
    #[arg(long, value_name = "T")]
    temperature: Option<f64>,
    /// Nucleus sampling threshold (with --temperature).
    #[arg(long, value_name = "P", requires = "temperature")]
    top_p: Option<f64>,
    /// Seed for sampling.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Articles longer than this many tokens are summarized in sections.
    #[arg(long, value_name = "TOKENS", default_value_t = BriefOptions::default().input_budget_tokens)]
    input_budget: usize,
    /// Summarize only the opening of each article: its whole sentences
    /// within this many words (0: the whole article). Faster for long
    /// articles; measured in the README, "Quality".
    #[arg(long, value_name = "WORDS", default_value_t = BriefOptions::default().summary_window_words)]
    summary_window: usize,
    /// Decode up to N model calls together (segments, articles, the
    /// languages of a brief); each output is what it would be alone.
    #[arg(long, value_name = "N", default_value_t = BriefOptions::default().batch_size as u64,
          value_parser = clap::value_parser!(u64).range(1..=64))]
    batch: u64,
    /// Greedy decoding: check up to N tokens drafted from the article and
    /// the reply so far in each step (0: one token per step). Only the
    /// speed changes.
    #[arg(long, value_name = "N", default_value_t = polybrief::engine::DRAFT_TOKENS as u64,
          value_parser = clap::value_parser!(u64).range(0..=16))]
    draft_tokens: u64,
    /// Beam search with N hypotheses for summaries and renderings (1:
    /// greedy decoding). Default: 1 for summaries; for renderings, 5 for
    /// Chinese and 3 for Russian (`beams` in prompts/translate.toml).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=8),
          conflicts_with = "temperature")]
    beams: Option<u64>,
}

impl GenerationArgs {
    fn brief_options(&self) -> BriefOptions {
        let defaults = BriefOptions::default();
        BriefOptions {
            input_budget_tokens: self.input_budget,
            summary_window_words: self.summary_window,
            batch_size: self.batch as usize,
            summary_beams: self.beams.map_or(defaults.summary_beams, |n| n as usize),
            translation_beams: self.beams.map(|n| n as usize).or(defaults.translation_beams),
            generation: GenerationOptions {
                temperature: self.temperature,
                top_p: self.top_p,
                seed: self.seed,
                draft_tokens: self.draft_tokens as usize,
                ..defaults.generation.clone()
            },
            ..defaults
        }
    }
}

/// Counts of a batch, and the exit code they make.
#[derive(Debug, Default)]
struct Outcome {
    done: usize,
    skipped: usize,
    input_errors: usize,
    runtime_errors: usize,
}

impl Outcome {
    /// 0 when all went well; 2 when only inputs were bad; 1 otherwise.
    fn exit_code(&self) -> ExitCode {
        if self.runtime_errors > 0 {
            ExitCode::from(1)
        } else if self.input_errors > 0 {
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        }
    }
}

/// Progress of a batch on stderr: a bar on a terminal, log lines otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    total: usize,
    seen: usize,
    verb: &'static str,
    start: std::time::Instant,
}

impl Progress {
    fn new(total: usize, verb: &'static str) -> Progress {
        use std::io::IsTerminal;
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(total as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{msg:>10} [{bar:30}] {pos}/{len} {per_sec} ETA {eta} {prefix}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar.set_message(verb);
            bar
        });
        Progress { bar, total, seen: 0, verb, start: std::time::Instant::now() }
    }

    fn log(&mut self, id: &str, what: &str) {
        self.seen += 1;
        match &self.bar {
            Some(bar) => {
                bar.set_prefix(id.to_string());
                bar.inc(1);
                if what.starts_with("failed") {
                    bar.println(format!("{id}: {what}"));
                }
            }
            // One input: a plain error line, as for any other command.
            None if self.total == 1 && what.starts_with("failed: ") => {
                eprintln!("polybrief: error: {}", &what["failed: ".len()..])
            }
            None => eprintln!(
                "polybrief: [{}/{}] {id}: {what} ({:.1} s)",
                self.seen,
                self.total,
                self.start.elapsed().as_secs_f64()
            ),
        }
    }

    fn done(&mut self, id: &str) {
        self.log(id, "done");
    }
    fn skipped(&mut self, id: &str) {
        self.log(id, "skipped, output exists");
    }
    fn failed(&mut self, id: &str, why: &str) {
        self.log(id, &format!("failed: {why}"));
    }

    fn finish(&mut self, o: &Outcome) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if self.total > 1 || o.input_errors + o.runtime_errors > 0 {
            eprintln!(
                "polybrief: {} {}: {} done, {} skipped, {} failed in {:.1} s",
                self.verb,
                self.total,
                o.done,
                o.skipped,
                o.input_errors + o.runtime_errors,
                self.start.elapsed().as_secs_f64()
            );
        }
    }
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth a trace.
fn print_stdout(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        other => Ok(other?),
    }
}

/// `text` on one line, whitespace runs made single spaces: one output line
/// per input line, as evaluation needs.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
