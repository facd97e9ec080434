//! `polybrief brief`: the trilingual brief of every input article.
//!
//! Batches never lose work: each article's output lands by atomic rename
//! in `--out DIR`, a failed article becomes an error record while the others
//! go on, and `--resume` skips articles whose output is already there.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use polybrief::config::Config;
use polybrief::ingest::{Article, ArticleReader};
use polybrief::pipeline::{BriefOptions, BriefPipeline};
use polybrief::render::{self, ErrorRecord, Format};

use super::{GenerationArgs, Outcome, Progress};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Articles: files, folders (recursive), JSONL files, or `-` for stdin.
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Renderings to make, comma-separated language codes.
    #[arg(long, value_delimiter = ',', default_value = "zh,ru")]
    langs: Vec<String>,
    /// Write one file per article into DIR (atomically) instead of stdout.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// With --out: skip articles whose output file already exists.
    #[arg(long, requires = "out")]
    resume: bool,
    #[command(flatten)]
    generation: GenerationArgs,
}

pub fn run(args: Args, config: &Config) -> anyhow::Result<ExitCode> {
    let langs: Vec<String> = args.langs.iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
    let options = BriefOptions { langs: langs.clone(), ..args.generation.brief_options() };
    if let Some(out) = &args.out {
        std::fs::create_dir_all(out).with_context(|| format!("cannot create output folder {}", out.display()))?;
        remove_stale_temporaries(out);
    }
    let items: Vec<_> = ArticleReader::new(&args.inputs, true).collect();
    let mut run = Run {
        args: &args,
        config,
        options: options.clone(),
        langs: &langs,
        pipeline: None,
        pending: Vec::new(),
        progress: Progress::new(items.len(), "briefing"),
        outcome: Outcome::default(),
    };
    for item in items {
        let article = match item {
            Ok(article) => article,
            Err(e) => {
                // Articles before it are written first: outputs keep the input order.
                run.flush()?;
                let record = ErrorRecord { id: e.id.clone(), source: e.source.clone(), error: e.error.to_string() };
                emit_error(&args, &record)?;
                run.progress.failed(&record.id, &record.error);
                run.outcome.input_errors += 1;
                continue;
            }
        };
        let target = args.out.as_ref().map(|dir| output_path(dir, &article.id, args.format));
        if args.resume && target.as_ref().is_some_and(|t| t.exists()) {
            run.progress.skipped(&article.id);
            run.outcome.skipped += 1;
            continue;
        }
        run.pending.push((article, target));
        if run.pending.len() >= options.batch_size.max(1) {
            run.flush()?;
        }
    }
    run.flush()?;
    run.progress.finish(&run.outcome);
    Ok(run.outcome.exit_code())
}

/// A `brief` run: articles are briefed `--batch` at a time.
struct Run<'a> {
    args: &'a Args,
    config: &'a Config,
    options: BriefOptions,
    langs: &'a [String],
    /// Loaded for the first article to brief (not for a run that only skips).
    pipeline: Option<BriefPipeline>,
    /// Articles to brief, each with its output file (with `--out`).
    pending: Vec<(Article, Option<PathBuf>)>,
    progress: Progress,
    outcome: Outcome,
}

impl Run<'_> {
    /// Briefs the pending articles together and writes each result.
    fn flush(&mut self) -> anyhow::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        if self.pipeline.is_none() {
            self.pipeline = Some(BriefPipeline::load(self.config, self.options.clone())?);
        }
        let pipeline = self.pipeline.as_mut().expect("loaded above");
        let pending = std::mem::take(&mut self.pending);
        let articles: Vec<&Article> = pending.iter().map(|(article, _)| article).collect();
        for ((article, target), brief) in pending.iter().zip(pipeline.briefs(&articles)) {
            let args = self.args;
            let written = brief.and_then(|brief| {
                let text = render::brief(&brief, self.langs, args.format);
                match target {
                    Some(path) => write_atomically(path, text.as_bytes()),
                    None => super::print_stdout(&text),
                }
            });
            match written {
                Ok(()) => {
                    if let Some(dir) = &args.out {
                        // An error record from an earlier run is now out of date.
                        let _ = std::fs::remove_file(dir.join(format!("{}.error.json", file_stem(&article.id))));
                    }
                    self.progress.done(&article.id);
                    self.outcome.done += 1;
                }
                Err(e) => {
                    let record =
                        ErrorRecord { id: article.id.clone(), source: article.source.clone(), error: format!("{e:#}") };
                    emit_error(args, &record)?;
                    self.progress.failed(&record.id, &record.error);
                    self.outcome.runtime_errors += 1;
                }
            }
        }
        Ok(())
    }
}

/// Error records go where the briefs go: a `ID.error.json` file in the
/// output folder (which `--resume` retries), or stdout in JSON formats.
fn emit_error(args: &Args, record: &ErrorRecord) -> anyhow::Result<()> {
    match &args.out {
        Some(dir) => {
            let path = dir.join(format!("{}.error.json", file_stem(&record.id)));
            write_atomically(&path, render::error(record, Format::Json).as_bytes())
        }
        None if matches!(args.format, Format::Json | Format::Jsonl) => {
            super::print_stdout(&render::error(record, args.format))
        }
        None => Ok(()),
    }
}

fn output_path(dir: &Path, id: &str, format: Format) -> PathBuf {
    dir.join(format!("{}.{}", file_stem(id), format.extension()))
}

/// Ids may hold path separators (they come from relative paths).
fn file_stem(id: &str) -> String {
    id.chars().map(|c| if c == '/' || c == '\\' || c == '\0' { '_' } else { c }).collect()
}

/// Writes `path` so that it is either absent or complete, never partial:
/// the bytes go to a hidden temporary beside it, then are renamed over it.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().context("output path has no file name")?.to_string_lossy();
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut file = std::fs::File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Temporaries left by a run that was killed mid-write.
fn remove_stale_temporaries(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.ends_with(".tmp") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}
