//! Command-line interface: one module per subcommand, as in cargo.
//!
//! Exit codes: 0 success; 1 a runtime failure (model fetch, inference, or
//! some articles of a batch failed); 2 bad input or bad usage.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use polybrief::config::{Config, FlagLayer};

mod clean;
mod eval;
mod models;

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
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print a scraped article with the page furniture removed.
    Clean(clean::Args),
    /// List, fetch, verify and manage models.
    Models(models::Args),
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
    })?;
    match cli.command {
        Command::Clean(args) => clean::run(args, &config),
        Command::Models(args) => models::run(args, &config),
        Command::Eval(args) => eval::run(args, &config),
    }
}
