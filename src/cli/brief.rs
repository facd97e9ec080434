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
        std::fs::create_dir_all(out)
            .with_context(|| format!("cannot create output folder {}", out.display()))?;
        remove_stale_temporaries(out);
    }
    let items: Vec<_> = ArticleReader::new(&args.inputs, true).collect();
    let mut progress = Progress::new(items.len(), "briefing");
    let mut outcome = Outcome::default();
    let mut pipeline: Option<BriefPipeline> = None;
    for item in items {
        let article = match item {
            Ok(article) => article,
            Err(e) => {
                let record = ErrorRecord { id: e.id.clone(), source: e.source.clone(), error: e.error.to_string() };
                emit_error(&args, &record)?;
                progress.failed(&record.id, &record.error);
                outcome.input_errors += 1;
                continue;
            }
        };
        let target = args.out.as_ref().map(|dir| output_path(dir, &article.id, args.format));
        if args.resume && target.as_ref().is_some_and(|t| t.exists()) {
            progress.skipped(&article.id);
            outcome.skipped += 1;
            continue;
        }
        if pipeline.is_none() {
            pipeline = Some(BriefPipeline::load(config, options.clone())?);
        }
        let pipeline = pipeline.as_mut().expect("loaded above");
        match brief_one(pipeline, &article, &langs, args.format, target.as_deref()) {
            Ok(()) => {
                if let Some(dir) = &args.out {
                    // An error record from an earlier run is now out of date.
                    let _ = std::fs::remove_file(dir.join(format!("{}.error.json", file_stem(&article.id))));
                }
                progress.done(&article.id);
                outcome.done += 1;
            }
            Err(e) => {
                let record = ErrorRecord { id: article.id.clone(), source: article.source.clone(), error: format!("{e:#}") };
                emit_error(&args, &record)?;
                progress.failed(&record.id, &record.error);
                outcome.runtime_errors += 1;
            }
        }
    }
    progress.finish(&outcome);
    Ok(outcome.exit_code())
}

fn brief_one(
    pipeline: &mut BriefPipeline,
    article: &Article,
    langs: &[String],
    format: Format,
    target: Option<&Path>,
) -> anyhow::Result<()> {
    let brief = pipeline.brief(article)?;
    let text = render::brief(&brief, langs, format);
    match target {
        Some(path) => write_atomically(path, text.as_bytes()),
        None => super::print_stdout(&text),
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
    let mut file = std::fs::File::create(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
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
