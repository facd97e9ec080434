//! `polybrief summarize`: the English summary alone.

use std::path::PathBuf;
use std::process::ExitCode;

use polybrief::config::Config;

use super::task::{self, TaskFormat};
use super::GenerationArgs;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Articles: files, folders, JSONL files, or `-` for stdin.
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,
    /// Every input line is one document; the output has one line per line.
    #[arg(long)]
    lines: bool,
    #[arg(long, value_enum, default_value = "text")]
    format: TaskFormat,
    #[command(flatten)]
    generation: GenerationArgs,
}

pub fn run(args: Args, config: &Config) -> anyhow::Result<ExitCode> {
    task::run(&args.inputs, args.lines, args.format, args.generation.brief_options(), config, "summarizing", |p, text| {
        Ok(p.summarize_article(text)?.0)
    })
}
