//! `polybrief translate`: English text into one language.
//!
//! A whole article is translated paragraph by paragraph, so that no answer
//! is cut by the token limit; with `--lines` each line is one segment.

use std::process::ExitCode;

use polybrief::config::Config;
use polybrief::pipeline::Step;

use super::task::{self, SegmentArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Target language code (zh, ru).
    #[arg(long, value_name = "LANG")]
    to: String,
    #[command(flatten)]
    segments: SegmentArgs,
}

pub fn run(args: Args, config: &Config) -> anyhow::Result<ExitCode> {
    let lang = args.to.clone();
    let options =
        polybrief::pipeline::BriefOptions { langs: vec![lang.clone()], ..args.segments.generation.brief_options() };
    // An unknown language is bad usage: say so before loading a model.
    polybrief::pipeline::Prompts::load(config.prompts_dir.as_deref(), config.glossary.as_deref())?
        .language(&lang)
        .map_err(|e| polybrief::InputError::new("--to", e.to_string()))?;
    task::run(&args.segments, options, config, "translating", |p, texts| {
        // Every paragraph of every text, translated in batches, then joined
        // back per text.
        let paragraphs: Vec<Vec<&str>> = texts.iter().map(|t| polybrief::ingest::sentences::paragraphs(t)).collect();
        let all: Vec<&str> = paragraphs.iter().flatten().copied().collect();
        let mut steps = p.segments(&all, Some(&lang)).into_iter();
        paragraphs
            .iter()
            .map(|ps| {
                let parts: Vec<anyhow::Result<Step>> = steps.by_ref().take(ps.len()).collect();
                join_paragraphs(parts)
            })
            .collect()
    })
}

/// One step of a text's translated paragraphs: texts joined by blank lines,
/// counts added; the first error if any paragraph failed.
fn join_paragraphs(parts: Vec<anyhow::Result<Step>>) -> anyhow::Result<Step> {
    let mut joined: Option<Step> = None;
    for step in parts {
        let step = step?;
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
}
