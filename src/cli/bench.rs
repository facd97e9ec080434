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
//! times whole briefs (summary, zh, ru) of the seed article and of the first
//! 10 SummEval articles. A benchmark, not a test: it reports, it asserts
//! nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use std::sync::Arc;

use anyhow::Context;
use candle_core::quantized::{gguf_file, QMatMul};
use candle_core::Module;
use polybrief::config::Config;
use polybrief::engine::kernels::Q5_0Matrix;
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
    /// Runs per engine and model (alternating); the median is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// `table` or `json` (one object per model and line).
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
    /// Instead: time our Q5_0 kernel against candle's on the Q5_0 weights of
    /// one layer of the first model, in CPU time of one thread (figures
    /// that hold on a loaded machine); needs `--threads 1`.
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
    seed: f64,
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
const PROMPT_TEXT: &str = include_str!("../../examples/articles/bench-prose.txt");

/// llama.cpp's side of the benchmark, beside this crate's sources.
const LLAMA_CPP_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/llama_cpp_bench.py");

/// SummEval articles timed by `--briefs`.
const SUMMEVAL_BRIEFS: usize = 10;

pub fn run(args: Args, config: &Config) -> anyhow::Result<ExitCode> {
    if let Some(gguf) = &args.worker {
        return worker(gguf, args.prompt_ids.as_deref().unwrap_or(""), args.new_tokens);
    }
    let catalog = Catalog::load(config.models_dir.as_deref())?;
    let store = ModelStore::new(&config.cache_dir, config.offline);
    if args.kernels {
        let id = args.models.first().map_or("qwen2.5-coder-0.5b-instruct-q4_k_m", |s| s.as_str());
        return kernel_times(store.ensure(catalog.get(id)?)?.primary());
    }
    let ids: Vec<String> = if args.models.is_empty() {
        catalog.models().iter().filter(|m| m.format == "gguf").map(|m| m.id.clone()).collect()
    } else {
        args.models.clone()
    };
    let threads = candle_core::utils::get_num_threads();
    let runs = args.runs.max(1);
    if args.format != "json" {
        println!(
            "prompt {} tokens, {} new tokens, {threads} threads, median of {runs} alternating runs per engine",
            args.prompt_tokens, args.new_tokens
        );
        println!(
            "{:<36} {:<10} {:>12} {:>11} {:>12}",
            "model", "engine", "prefill t/s", "decode t/s", "peak RSS MB"
        );
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
                theirs.push(run_llama_cpp(
                    &args.python,
                    gguf,
                    &prompt_ids,
                    args.new_tokens,
                    threads,
                )?);
            }
        }
        let polybrief = median_speed(&ours);
        let llama_cpp = (!theirs.is_empty()).then(|| median_speed(&theirs));
        let ratio = llama_cpp.map(|l| Ratio {
            prefill: polybrief.prefill_tps / l.prefill_tps,
            decode: polybrief.decode_tps / l.decode_tps,
        });
        let brief_s =
            if args.briefs { Some(time_briefs(config, id, &args.eval_dir)?) } else { None };
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
        println!(
            "{:<36} {:<10} {:>11.2}x {:>10.2}x",
            r.model, "ratio", ratio.prefill, ratio.decode
        );
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
    let mut file =
        std::fs::File::open(gguf).with_context(|| format!("cannot open {}", gguf.display()))?;
    let content = gguf_file::Content::read(&mut file)
        .with_context(|| format!("{} is not a readable GGUF file", gguf.display()))?;
    let tokenizer = Tokenizer::from_gguf(&content)?;
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
        peak_rss_mb: peak_rss_mb().unwrap_or(f64::NAN),
    };
    println!("{}", serde_json::to_string(&speed)?);
    Ok(ExitCode::SUCCESS)
}

fn run_polybrief(
    gguf: &Path,
    prompt_ids: &str,
    new_tokens: usize,
    threads: usize,
) -> anyhow::Result<Speed> {
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
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("cannot run {what}"))?;
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
    let mut total = 0.0;
    for a in &articles {
        total += timed(a)?;
    }
    Ok(BriefSeconds { seed: seed_s, summeval10_mean: total / articles.len().max(1) as f64 })
}

/// `bench --kernels`: CPU time per product of candle's `QMatMul` and our
/// [`Q5_0Matrix`] on the Q5_0 weights of layer 0, one activation row
/// (decode) and 64 rows (prefill).
fn kernel_times(gguf: &Path) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        candle_core::utils::get_num_threads() == 1,
        "--kernels measures one thread's CPU time: pass --threads 1"
    );
    let mut file = std::fs::File::open(gguf)?;
    let content = gguf_file::Content::read(&mut file)?;
    let mut weights = Vec::new();
    for name in content.tensor_infos.keys().filter(|n| n.starts_with("blk.0.")) {
        let t = content.tensor(&mut file, name, &candle_core::Device::Cpu)?;
        if t.dtype() == candle_core::quantized::GgmlDType::Q5_0 {
            weights.push((name.clone(), Arc::new(t)));
        }
    }
    anyhow::ensure!(!weights.is_empty(), "{} has no Q5_0 weights in layer 0", gguf.display());
    weights.sort_by(|a, b| a.0.cmp(&b.0));
    println!(
        "{:<28} {:>4} {:>12} {:>12} {:>8}",
        "tensor", "rows", "candle ms", "ours ms", "speedup"
    );
    for m in [1, 64] {
        for (name, w) in &weights {
            let cols = w.shape().dims2()?.1;
            let x =
                candle_core::Tensor::randn(0f32, 1f32, (1, m, cols), &candle_core::Device::Cpu)?;
            let candle = QMatMul::from_arc(w.clone())?;
            let ours = Q5_0Matrix::new(w.clone()).context("not a Q5_0 matrix")?;
            let t_candle = cpu_ms_per_call(|| candle.forward(&x).map(drop))?;
            let t_ours = cpu_ms_per_call(|| ours.forward(&x).map(drop))?;
            println!(
                "{name:<28} {m:>4} {t_candle:>12.3} {t_ours:>12.3} {:>7.1}x",
                t_candle / t_ours
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// CPU milliseconds of this process per call of `f`, over at least 2 s of
/// CPU time (the kernel's clock ticks are 10 ms).
fn cpu_ms_per_call(f: impl Fn() -> candle_core::Result<()>) -> anyhow::Result<f64> {
    f()?;
    let start = process_cpu_ms()?;
    let mut calls = 0u64;
    loop {
        f()?;
        calls += 1;
        let spent = process_cpu_ms()? - start;
        if spent >= 2000.0 {
            return Ok(spent / calls as f64);
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

/// The process's peak resident set (Linux `VmHWM`).
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
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
