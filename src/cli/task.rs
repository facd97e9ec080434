//! What `summarize` and `translate` share: inputs as whole articles or as
//! line-aligned segments (`--lines`, for evaluation), one model step per
//! segment, output in input order.

use std::path::PathBuf;
use std::process::ExitCode;

use polybrief::config::Config;
use polybrief::ingest::ArticleReader;
use polybrief::pipeline::{BriefOptions, BriefPipeline, Step};
use polybrief::InputError;
use serde::Serialize;

use super::{one_line, print_stdout, Outcome, Progress};

/// What `summarize` and `translate` take besides their own options.
#[derive(Debug, clap::Args)]
pub struct SegmentArgs {
    /// Inputs: files, folders, JSONL files, or `-` for stdin.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// Every input line is one segment; the output has one line per line.
    #[arg(long)]
    pub lines: bool,
    #[arg(long, value_enum, default_value = "text")]
    pub format: TaskFormat,
    #[command(flatten)]
    pub generation: super::GenerationArgs,
}

/// How segments are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TaskFormat {
    /// The output text; with --lines exactly one line per input line.
    Text,
    /// One JSON object per segment and line.
    Jsonl,
}

#[derive(Debug, Serialize)]
struct Record<'a> {
    id: &'a str,
    text: &'a str,
    checks: &'a [polybrief::pipeline::checks::Check],
    ms: u64,
}

/// Runs `step` on every segment of the inputs, `options.batch_size`
/// segments at a time (their model calls are decoded together), and writes
/// the outputs in input order.
pub fn run(
    args: &SegmentArgs,
    options: BriefOptions,
    config: &Config,
    verb: &'static str,
    mut step: impl FnMut(&mut BriefPipeline, &[&str]) -> Vec<anyhow::Result<Step>>,
) -> anyhow::Result<ExitCode> {
    let (lines, format) = (args.lines, args.format);
    let segments = if lines { line_segments(&args.inputs)? } else { article_segments(&args.inputs) };
    let mut progress = Progress::new(segments.len(), verb);
    let mut outcome = Outcome::default();
    let mut pipeline: Option<BriefPipeline> = None;
    let mut segments = segments.into_iter();
    loop {
        let chunk: Vec<Segment> = segments.by_ref().take(options.batch_size.max(1)).collect();
        if chunk.is_empty() {
            break;
        }
        // An empty line stays an empty line: alignment matters more.
        let texts: Vec<&str> = chunk
            .iter()
            .filter_map(|(_, s)| s.as_ref().ok().map(String::as_str).filter(|t| !t.trim().is_empty()))
            .collect();
        let steps: Vec<anyhow::Result<Step>> = if texts.is_empty() {
            Vec::new()
        } else {
            if pipeline.is_none() {
                pipeline = Some(BriefPipeline::load(config, options.clone())?);
            }
            step(pipeline.as_mut().expect("loaded"), &texts)
        };
        let mut steps = steps.into_iter();
        for (id, segment) in chunk {
            let result = match segment {
                Err(e) => Err(anyhow::Error::new(e)),
                Ok(text) if text.trim().is_empty() => Ok(None),
                Ok(_) => steps.next().expect("one step per text").map(Some),
            };
            write_result(&id, result, lines, format, &mut progress, &mut outcome)?;
        }
    }
    progress.finish(&outcome);
    Ok(outcome.exit_code())
}

/// Prints one segment's output (or keeps the line for a failed one) and
/// counts it.
fn write_result(
    id: &str,
    result: anyhow::Result<Option<Step>>,
    lines: bool,
    format: TaskFormat,
    progress: &mut Progress,
    outcome: &mut Outcome,
) -> anyhow::Result<()> {
    match result {
        Ok(out) => {
            let text = out.as_ref().map_or(String::new(), |s| s.text.clone());
            match format {
                TaskFormat::Text if lines => print_stdout(&format!("{}\n", one_line(&text)))?,
                TaskFormat::Text => print_stdout(&format!("{text}\n\n"))?,
                TaskFormat::Jsonl => {
                    let record = Record {
                        id,
                        text: &text,
                        checks: out.as_ref().map_or(&[], |s| &s.checks),
                        ms: out.as_ref().map_or(0, |s| s.ms),
                    };
                    print_stdout(&(serde_json::to_string(&record)? + "\n"))?
                }
            }
            progress.done(id);
            outcome.done += 1;
        }
        Err(e) => {
            // Keep line alignment: a failed segment leaves an empty line.
            if lines && format == TaskFormat::Text {
                print_stdout("\n")?;
            }
            if format == TaskFormat::Jsonl {
                let record = serde_json::json!({ "id": id, "error": format!("{e:#}") });
                print_stdout(&(record.to_string() + "\n"))?;
            }
            progress.failed(id, &format!("{e:#}"));
            if polybrief::error::is_input_error(&e) {
                outcome.input_errors += 1;
            } else {
                outcome.runtime_errors += 1;
            }
        }
    }
    Ok(())
}

type Segment = (String, Result<String, InputError>);

fn article_segments(inputs: &[PathBuf]) -> Vec<Segment> {
    ArticleReader::new(inputs, true)
        .map(|item| match item {
            Ok(article) => (article.id, Ok(article.text)),
            Err(e) => (e.id, Err(e.error)),
        })
        .collect()
}

/// Every line of every input, ids `FILE:LINE`. A file that cannot be read
/// stops the run: a missing file would silently shift the alignment.
fn line_segments(inputs: &[PathBuf]) -> anyhow::Result<Vec<Segment>> {
    let mut segments = Vec::new();
    for input in inputs {
        let text = polybrief::ingest::read_text(input)?;
        for (i, line) in text.lines().enumerate() {
            segments.push((format!("{}:{}", input.display(), i + 1), Ok(line.to_string())));
        }
    }
    Ok(segments)
}
