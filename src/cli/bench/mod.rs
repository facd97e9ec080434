//! `polybrief bench`: polybrief's engine beside llama.cpp on the same GGUF
//! file, the same prompt token ids and the same thread count.
//!
//! The workload is fixed: a prompt of N tokens cut from English news prose,
//! then M greedily decoded tokens. Each run of each engine is a child
//! process of its own (ours: a hidden `bench --worker` mode; llama.cpp:
//! `benches/llama_cpp_bench.py` through llama-cpp-python), so that peak RSS
//! is per engine and per model, and runs alternate (ours, theirs, ours...)
//! so that both see the same load on a shared machine. Medians are
//! reported, with the ratio polybrief / llama.cpp. With `--briefs` it also
//! times whole briefs (summary, zh, ru) of the seed article (the first
//! brief of a fresh process: model loading and any opening turns not saved by
//! an earlier run included) and of the first 10 SummEval articles (briefed
//! `--batch` at a time, as `brief` does a folder). With `--against-plain` it
//! times the default brief beside the plain single-prompt brief instead
//! ([`against_plain`]). With `--kernels` it times our matrix kernels
//! against candle's instead. A benchmark, not a test: it reports, it asserts
//! nothing.

mod against_plain;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use std::sync::Arc;

use anyhow::Context;
use candle_core::quantized::{gguf_file, QMatMul};
use candle_core::Module;
use polybrief::config::Config;
use polybrief::engine::qwen2::Linear;
use polybrief::engine::{Llm, Tokenizer};
use polybrief::ingest::{read_article, Article};
use polybrief::pipeline::{BriefOptions, BriefPipeline};
use polybrief::store::{Catalog, ModelStore};
use serde::{Deserialize, Serialize};

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
    /// Runs per engine and model (with --against-plain: per brief),
    /// alternating; the median is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// `table` or `json` (one object per model and line; with
    /// --against-plain, per brief).
    #[arg(long, default_value = "table")]
    format: String,
    /// Also time whole briefs (summary, zh, ru) of the seed article and of
    /// 10 SummEval articles with polybrief (takes minutes).
    #[arg(long)]
    briefs: bool,
    /// Measure polybrief only.
    #[arg(long)]
    no_llama_cpp: bool,
    /// Python interpreter with llama-cpp-python (benches/setup_llama_cpp.sh).
    #[arg(long, default_value = "python3")]
    python: String,
    /// The evaluation data (seed article, SummEval) for `--briefs`.
    #[arg(long, default_value = "../shared/eval")]
    eval_dir: PathBuf,
    /// Instead: time the default brief of `--article` beside `--beams 1`
    /// and the plain single-prompt brief (one-line prompts, greedy, no
    /// second attempt), each a `polybrief brief` process, `--runs` times.
    #[arg(long)]
    against_plain: bool,
    /// The article for `--against-plain` (default: examples/articles/rail-link.txt).
    #[arg(long, value_name = "FILE")]
    article: Option<PathBuf>,
    /// Instead: time our matrix kernels (Q5_0, Q8_0, Q4_K, Q6_K) against
    /// candle's on the weights of layer 0 (and the output projection) of
    /// each model, in CPU time and wall time per product at the configured
    /// thread count (with `--threads 1`, CPU time holds on a loaded machine).
    #[arg(long)]
    kernels: bool,
    /// Internal: one timed run of polybrief's engine on this GGUF file,
    /// printed as JSON (how the benchmark runs each engine in a process of
    /// its own).
    #[arg(long, hide = true, value_name = "GGUF", requires = "prompt_ids")]
    worker: Option<PathBuf>,
    /// Internal, with --worker: comma-separated prompt token ids.
    #[arg(long, hide = true)]
    prompt_ids: Option<String>,
}

/// One engine's median speed and its peak memory.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Speed {
    prefill_tps: f64,
    decode_tps: f64,
    peak_rss_mb: f64,
}

#[derive(Debug, Serialize)]
struct Ratio {
    prefill: f64,
    decode: f64,
}

/// Wall seconds of whole briefs.
#[derive(Debug, Serialize)]
struct BriefSeconds {
    /// The seed article, first brief of the process (model loading included).
    seed: f64,
    /// 10 SummEval articles briefed in groups of the default batch, per article.
    summeval10_mean: f64,
}

#[derive(Debug, Serialize)]
struct Row {
    model: String,
    threads: usize,
    prompt_tokens: usize,
    new_tokens: usize,
    runs: usize,
    polybrief: Speed,
    llama_cpp: Option<Speed>,
    ratio: Option<Ratio>,
    brief_s: Option<BriefSeconds>,
    /// 1-minute load average before and after the model's measurements:
    /// figures taken under load are slower for both engines.
    load_avg: [f64; 2],
}

/// Text to cut benchmark prompts from: English news prose, as in real use.
const PROMPT_TEXT: &str = include_str!("../../../examples/articles/bench-prose.txt");

/// llama.cpp's side of the benchmark, beside this crate's sources.
const LLAMA_CPP_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/llama_cpp_bench.py");

/// SummEval articles timed by `--briefs`.
const SUMMEVAL_BRIEFS: usize = 10;

pub fn run(args: Args, config: &Config) -> anyhow::Result<ExitCode> {
    if let Some(gguf) = &args.worker {
        return worker(gguf, args.prompt_ids.as_deref().unwrap_or(""), args.new_tokens);
    }
    // The briefs it runs find their model themselves.
    if args.against_plain {
        let article = args.article.clone().unwrap_or_else(against_plain::default_article);
        against_plain::run(config, &article, args.runs.max(1), args.format == "json")?;
        return Ok(ExitCode::SUCCESS);
    }
    let catalog = Catalog::load(config.models_dir.as_deref())?;
    let store = ModelStore::new(&config.cache_dir, config.offline);
    let ids: Vec<String> = if args.models.is_empty() {
        catalog.models().iter().filter(|m| m.format == "gguf").map(|m| m.id.clone()).collect()
    } else {
        args.models.clone()
    };
    if args.kernels {
        for id in &ids {
            kernel_times(id, store.ensure(catalog.get(id)?)?.primary())?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let threads = candle_core::utils::get_num_threads();
    let runs = args.runs.max(1);
    if args.format != "json" {
        println!(
            "prompt {} tokens, {} new tokens, {threads} threads, median of {runs} alternating runs per engine",
            args.prompt_tokens, args.new_tokens
        );
        println!("{:<36} {:<10} {:>12} {:>11} {:>12}", "model", "engine", "prefill t/s", "decode t/s", "peak RSS MB");
    }
    // Each model's result is printed as soon as it is measured (a JSON
    // object per line with --format json): a run of both models takes long.
    for id in &ids {
        let local = store.ensure(catalog.get(id)?)?;
        let gguf = local.primary();
        let load_before = load_average();
        let prompt = bench_prompt(gguf, args.prompt_tokens)?;
        let prompt_ids = prompt.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
        let mut ours = Vec::new();
        let mut theirs = Vec::new();
        for run in 0..runs {
            eprintln!("bench {id}: run {}/{runs}", run + 1);
            ours.push(run_polybrief(gguf, &prompt_ids, args.new_tokens, threads)?);
            if !args.no_llama_cpp {
                theirs.push(run_llama_cpp(&args.python, gguf, &prompt_ids, args.new_tokens, threads)?);
            }
        }
        let polybrief = median_speed(&ours);
        let llama_cpp = (!theirs.is_empty()).then(|| median_speed(&theirs));
        let ratio = llama_cpp.map(|l| Ratio {
            prefill: polybrief.prefill_tps / l.prefill_tps,
            decode: polybrief.decode_tps / l.decode_tps,
        });
        let brief_s = if args.briefs { Some(time_briefs(config, id, &args.eval_dir)?) } else { None };
        let row = Row {
            model: id.clone(),
            threads,
            prompt_tokens: prompt.len(),
            new_tokens: args.new_tokens,
            runs,
            polybrief,
            llama_cpp,
            ratio,
            brief_s,
            load_avg: [load_before, load_average()],
        };
        if args.format == "json" {
            println!("{}", serde_json::to_string(&row)?);
        } else {
            print_row(&row);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_row(r: &Row) {
    let line = |engine: &str, s: &Speed| {
        println!(
            "{:<36} {:<10} {:>12.1} {:>11.1} {:>12.0}",
            r.model, engine, s.prefill_tps, s.decode_tps, s.peak_rss_mb
        )
    };
    line("polybrief", &r.polybrief);
    if let Some(l) = &r.llama_cpp {
        line("llama.cpp", l);
    }
    if let Some(ratio) = &r.ratio {
        println!("{:<36} {:<10} {:>11.2}x {:>10.2}x", r.model, "ratio", ratio.prefill, ratio.decode);
    }
    if let Some(b) = &r.brief_s {
        println!(
            "{:<36} brief wall time: seed article {:.1} s, mean of {SUMMEVAL_BRIEFS} SummEval articles {:.1} s",
            r.model, b.seed, b.summeval10_mean
        );
    }
    println!("{:<36} load average {:.2} -> {:.2}", r.model, r.load_avg[0], r.load_avg[1]);
}

/// The first `n` tokens of the benchmark prose (repeated if need be), from
/// the model file's own tokenizer.
fn bench_prompt(gguf: &Path, n: usize) -> anyhow::Result<Vec<u32>> {
    let tokenizer = Tokenizer::from_gguf_file(gguf)?;
    let text = tokenizer.encode(PROMPT_TEXT, false);
    anyhow::ensure!(!text.is_empty() && n > 0, "empty benchmark prompt");
    Ok(text.iter().copied().cycle().take(n).collect())
}

/// `bench --worker`: loads the model, warms it up (candle repacks weights
/// on the first forward pass), then prints one measurement as JSON.
fn worker(gguf: &Path, prompt_ids: &str, new_tokens: usize) -> anyhow::Result<ExitCode> {
    let prompt: Vec<u32> = prompt_ids
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().with_context(|| format!("--prompt-ids: `{s}` is not a token id")))
        .collect::<anyhow::Result<_>>()?;
    anyhow::ensure!(!prompt.is_empty(), "--prompt-ids: no token ids given");
    let mut llm = Llm::load(gguf)?;
    llm.measure(&prompt[..prompt.len().min(8)], 1)?;
    let t = llm.measure(&prompt, new_tokens)?;
    let speed = Speed {
        prefill_tps: t.prefill_tps(),
        decode_tps: t.decode_tps(),
        peak_rss_mb: peak_rss_mb("self").unwrap_or(f64::NAN),
    };
    println!("{}", serde_json::to_string(&speed)?);
    Ok(ExitCode::SUCCESS)
}

fn run_polybrief(gguf: &Path, prompt_ids: &str, new_tokens: usize, threads: usize) -> anyhow::Result<Speed> {
    let exe = std::env::current_exe().context("cannot find the polybrief executable")?;
    let mut cmd = Command::new(exe);
    cmd.arg("bench")
        .arg("--worker")
        .arg(gguf)
        .arg("--prompt-ids")
        .arg(prompt_ids)
        .arg("--new-tokens")
        .arg(new_tokens.to_string())
        // candle sizes its thread pool from this variable.
        .env("RAYON_NUM_THREADS", threads.to_string());
    child_json(cmd, "polybrief bench --worker")
}

fn run_llama_cpp(
    python: &str,
    gguf: &Path,
    prompt_ids: &str,
    new_tokens: usize,
    threads: usize,
) -> anyhow::Result<Speed> {
    let mut cmd = Command::new(python);
    cmd.arg(LLAMA_CPP_SCRIPT)
        .arg("--model")
        .arg(gguf)
        .arg("--prompt-ids")
        .arg(prompt_ids)
        .arg("--new-tokens")
        .arg(new_tokens.to_string())
        .arg("--threads")
        .arg(threads.to_string());
    child_json(cmd, LLAMA_CPP_SCRIPT).context(
        "llama.cpp's side failed: install llama-cpp-python with benches/setup_llama_cpp.sh, \
         choose its interpreter with --python, or pass --no-llama-cpp",
    )
}

/// Runs `cmd` (stderr shown) and reads the JSON speed it prints last.
fn child_json(mut cmd: Command, what: &str) -> anyhow::Result<Speed> {
    let out =
        cmd.stdin(Stdio::null()).stderr(Stdio::inherit()).output().with_context(|| format!("cannot run {what}"))?;
    anyhow::ensure!(out.status.success(), "{what} failed ({})", out.status);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or("");
    serde_json::from_str(last).with_context(|| format!("{what} printed no timings: {stdout:?}"))
}

fn median_speed(runs: &[Speed]) -> Speed {
    Speed {
        prefill_tps: median(runs.iter().map(|r| r.prefill_tps).collect()),
        decode_tps: median(runs.iter().map(|r| r.decode_tps).collect()),
        peak_rss_mb: median(runs.iter().map(|r| r.peak_rss_mb).collect()),
    }
}

/// Wall time of whole briefs with model `id`: the seed article, then the
/// mean over the first SummEval articles.
fn time_briefs(config: &Config, id: &str, eval_dir: &Path) -> anyhow::Result<BriefSeconds> {
    let seed_path = eval_dir.join("seed/cna-china-russia-2025-12-03.txt");
    let summeval_path = eval_dir.join("summeval-cnndm/articles.txt");
    let seed = read_article(&seed_path)?;
    let summeval = std::fs::read_to_string(&summeval_path)
        .with_context(|| format!("cannot read {} (set --eval-dir)", summeval_path.display()))?;
    let articles: Vec<Article> = summeval
        .lines()
        .take(SUMMEVAL_BRIEFS)
        .enumerate()
        .map(|(i, line)| Article {
            id: format!("summeval-{}", i + 1),
            source: format!("{}:{}", summeval_path.display(), i + 1),
            title: None,
            url: None,
            date: None,
            text: line.to_string(),
            notes: Vec::new(),
        })
        .collect();
    let config = Config { model: Some(id.to_string()), ..config.clone() };
    let mut pipeline = BriefPipeline::load(&config, BriefOptions::default())?;
    let mut timed = |article: &Article| -> anyhow::Result<f64> {
        eprintln!("bench {id}: brief of {}", article.id);
        let start = Instant::now();
        pipeline.brief(article)?;
        Ok(start.elapsed().as_secs_f64())
    };
    let seed_s = timed(&seed)?;
    // A folder is briefed `--batch` articles at a time, as `brief` does.
    eprintln!("bench {id}: briefs of {} SummEval articles", articles.len());
    let start = Instant::now();
    for group in articles.chunks(BriefOptions::default().batch_size) {
        let group: Vec<&Article> = group.iter().collect();
        for brief in pipeline.briefs(&group) {
            brief?;
        }
    }
    let mean = start.elapsed().as_secs_f64() / articles.len().max(1) as f64;
    Ok(BriefSeconds { seed: seed_s, summeval10_mean: mean })
}

/// `bench --kernels`: CPU and wall time per product of candle's `QMatMul`
/// and of the kernel the engine uses, on the weights of layer 0 and the
/// output projection that have a kernel of ours, for one activation row
/// (decode) and 64 rows (prefill).
fn kernel_times(id: &str, gguf: &Path) -> anyhow::Result<()> {
    let mut file = std::fs::File::open(gguf).with_context(|| format!("cannot open {}", gguf.display()))?;
    let content = gguf_file::Content::read(&mut file)
        .with_context(|| format!("{} is not a readable GGUF file", gguf.display()))?;
    let mut names: Vec<&String> = content
        .tensor_infos
        .keys()
        .filter(|n| n.starts_with("blk.0.") && n.ends_with(".weight") || *n == "output.weight")
        .collect();
    names.sort();
    let threads = candle_core::utils::get_num_threads();
    println!("{id}: ms per product, {threads} thread(s)");
    println!(
        "{:<26} {:>6} {:>5} {:>11} {:>9} {:>11} {:>9} {:>8}",
        "tensor", "kernel", "rows", "candle cpu", "ours cpu", "candle wall", "ours wall", "cpu gain"
    );
    for name in names {
        let w = Arc::new(content.tensor(&mut file, name, &candle_core::Device::Cpu)?);
        if w.rank() != 2 {
            continue;
        }
        let ours = Linear::new(w.clone())?;
        if ours.kernel() == "candle" {
            continue;
        }
        let candle = QMatMul::from_arc(w.clone())?;
        let cols = w.shape().dims2()?.1;
        for m in [1, 64] {
            // Our Q6_K kernel leaves products of several rows to candle.
            if m > 1 && ours.kernel() == "Q6_K" {
                continue;
            }
            let x = candle_core::Tensor::randn(0f32, 1f32, (1, m, cols), &candle_core::Device::Cpu)?;
            let t_candle = time_per_call(|| candle.forward(&x).map(drop))?;
            let t_ours = time_per_call(|| ours.forward(&x).map(drop))?;
            println!(
                "{name:<26} {:>6} {m:>5} {:>11.3} {:>9.3} {:>11.3} {:>9.3} {:>7.2}x",
                ours.kernel(),
                t_candle.cpu_ms,
                t_ours.cpu_ms,
                t_candle.wall_ms,
                t_ours.wall_ms,
                t_candle.cpu_ms / t_ours.cpu_ms
            );
        }
    }
    println!("load average {:.2}", load_average());
    Ok(())
}

/// Milliseconds per call.
struct CallTime {
    /// CPU time of all this process's threads (spinning included).
    cpu_ms: f64,
    wall_ms: f64,
}

/// Time per call of `f`, over at least 2 s of CPU time (the kernel's clock
/// ticks are 10 ms).
fn time_per_call(f: impl Fn() -> candle_core::Result<()>) -> anyhow::Result<CallTime> {
    f()?;
    let start = process_cpu_ms()?;
    let wall = Instant::now();
    let mut calls = 0u64;
    loop {
        f()?;
        calls += 1;
        let spent = process_cpu_ms()? - start;
        if spent >= 2000.0 {
            let wall_ms = wall.elapsed().as_secs_f64() * 1000.0;
            return Ok(CallTime { cpu_ms: spent / calls as f64, wall_ms: wall_ms / calls as f64 });
        }
    }
}

/// User and system CPU time of this process (Linux `/proc/self/stat`).
fn process_cpu_ms() -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // Fields after the parenthesized command name; utime and stime are the
    // 14th and 15th fields of the line, in clock ticks of 10 ms.
    let rest = stat.rsplit_once(')').context("unreadable /proc/self/stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>()? + fields[12].parse::<f64>()?;
    Ok(ticks * 10.0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// The peak resident set (Linux `VmHWM`) of `process`: `self` or a pid.
fn peak_rss_mb(process: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{process}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// The 1-minute load average (Linux), NaN where unknown.
fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}
