//! `polybrief translate`: English text into one language.
//!
//! A whole article is translated paragraph by paragraph, so that no answer
//! is cut by the token limit; with `--lines` each line is one segment.

use std::path::PathBuf;
use std::process::ExitCode;

use polybrief::config::Config;

use super::task::{self, TaskFormat};
use super::GenerationArgs;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Target language code (zh, ru).
    #[arg(long, value_name = "LANG")]
    to: String,
    /// Texts: files, folders, JSONL files, or `-` for stdin.
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,
    /// Every input line is one segment; the output has one line per line.
    #[arg(long)]
    lines: bool,
    #[arg(long, value_enum, default_value = "text")]
    format: TaskFormat,
    #[command(flatten)]
    generation: GenerationArgs,
}

pub fn run(args: Args, config: &Config) -> anyhow::Result<ExitCode> {
    let lang = args.to.clone();
    let options = polybrief::pipeline::BriefOptions {
        langs: vec![lang.clone()],
        ..args.generation.brief_options()
    };
    task::run(&args.inputs, args.lines, args.format, options, config, "translating", |p, text| {
        let mut joined: Option<polybrief::pipeline::Step> = None;
        for paragraph in polybrief::ingest::sentences::paragraphs(text) {
            let step = p.translate(paragraph, &lang)?;
            joined = Some(match joined {
                None => step,
                Some(mut acc) => {
                    acc.text = format!("{}\n\n{}", acc.text, step.text);
                    acc.checks.extend(step.checks);
                    acc.attempts = acc.attempts.max(step.attempts);
                    acc.prompt_tokens += step.prompt_tokens;
                    acc.generated_tokens += step.generated_tokens;
                    acc.ms += step.ms;
                    acc
                }
            });
        }
        joined.ok_or_else(|| anyhow::anyhow!("nothing to translate"))
    })
}
