//! `polybrief bench`: prefill and decode speed of each model on a fixed
//! workload (a prompt of N tokens cut from the seed article's text, then M
//! greedily decoded tokens), median of several runs. A benchmark, not a
//! test: it prints numbers and asserts nothing.

use std::process::ExitCode;

use polybrief::config::Config;
use polybrief::engine::{Llm, Throughput};
use polybrief::store::{Catalog, ModelStore};
use serde::Serialize;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Models to measure (default: every qwen2 model in the catalog).
    #[arg(long, value_delimiter = ',', value_name = "ID,...")]
    models: Vec<String>,
    /// Prompt length in tokens.
    #[arg(long, default_value_t = 512)]
    prompt_tokens: usize,
    /// Tokens to decode after the prompt.
    #[arg(long, default_value_t = 128)]
    new_tokens: usize,
    /// Runs per model; the median is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// `table` or `json`.
    #[arg(long, default_value = "table")]
    format: String,
}

#[derive(Debug, Serialize)]
struct Row {
    model: String,
    threads: usize,
    prefill_tps: f64,
    decode_tps: f64,
    peak_rss_mb: f64,
    load_ms: f64,
}

/// Text to cut benchmark prompts from: English news prose, as in real use.
const PROMPT_TEXT: &str = include_str!("../../examples/articles/bench-prose.txt");

pub fn run(args: Args, config: &Config) -> anyhow::Result<ExitCode> {
    let catalog = Catalog::load(config.models_dir.as_deref())?;
    let store = ModelStore::new(&config.cache_dir, config.offline);
    let ids: Vec<String> = if args.models.is_empty() {
        catalog.models().iter().filter(|m| m.format == "gguf").map(|m| m.id.clone()).collect()
    } else {
        args.models.clone()
    };
    let threads = candle_core::utils::get_num_threads();
    let mut rows = Vec::new();
    for id in &ids {
        let manifest = catalog.get(id)?;
        let local = store.ensure(manifest)?;
        let start = std::time::Instant::now();
        let mut llm = Llm::load(local.primary())?;
        let load_ms = start.elapsed().as_secs_f64() * 1000.0;
        let mut prompt = Vec::new();
        while prompt.len() < args.prompt_tokens {
            prompt.extend(llm.tokenizer().encode(PROMPT_TEXT, false));
        }
        prompt.truncate(args.prompt_tokens);
        let mut runs: Vec<Throughput> = Vec::new();
        for _ in 0..args.runs.max(1) {
            runs.push(llm.measure(&prompt, args.new_tokens)?);
        }
        rows.push(Row {
            model: id.clone(),
            threads,
            prefill_tps: median(runs.iter().map(|r| r.prefill_tps()).collect()),
            decode_tps: median(runs.iter().map(|r| r.decode_tps()).collect()),
            peak_rss_mb: peak_rss_mb().unwrap_or(f64::NAN),
            load_ms,
        });
        drop(llm);
    }
    if args.format == "json" {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        println!(
            "prompt {} tokens, {} new tokens, {} threads, median of {} runs",
            args.prompt_tokens, args.new_tokens, threads, args.runs
        );
        println!("{:<40} {:>12} {:>11} {:>13} {:>9}", "model", "prefill t/s", "decode t/s", "peak RSS MB", "load s");
        for r in &rows {
            println!(
                "{:<40} {:>12.1} {:>11.1} {:>13.0} {:>9.1}",
                r.model, r.prefill_tps, r.decode_tps, r.peak_rss_mb, r.load_ms / 1000.0
            );
        }
        println!("(peak RSS is of the whole process so far: measure one model per run to compare memory)");
    }
    Ok(ExitCode::SUCCESS)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// The process's peak resident set (Linux `VmHWM`).
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
