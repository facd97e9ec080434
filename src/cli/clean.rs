//! `polybrief clean` (placeholder until its module lands).

use std::process::ExitCode;

use polybrief::config::Config;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args, _config: &Config) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`polybrief clean` is not built yet")
}
