//! `polybrief summarize`: the English summary alone.

use std::process::ExitCode;

use polybrief::config::Config;

use super::task::{self, SegmentArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    segments: SegmentArgs,
}

pub fn run(args: Args, config: &Config) -> anyhow::Result<ExitCode> {
    let options = args.segments.generation.brief_options();
    task::run(&args.segments, options, config, "summarizing", |p, texts| p.segments(texts, None))
}
