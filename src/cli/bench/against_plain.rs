//! `polybrief bench --against-plain`: the default brief beside the plain
//! single-prompt brief, the yardstick of the quality issue ("a brief takes
//! no more than 1.5 times the time of the plain single-prompt brief").
//!
//! Three ways of briefing the same article, each the `polybrief brief`
//! command a user runs, in a process of its own (model loading included,
//! and the opening turns saved by an earlier run read back, as after the
//! first brief of a build): the default; `--beams 1` (the same prompts,
//! checks and steps, renderings decoded greedily); and plain, `--beams 1`
//! with one-line prompts, no examples, no language options and no second
//! attempt. One warm-up run of each, then runs that alternate (default,
//! greedy, plain, default...) so that all three see the same load; medians
//! and the ratio to plain are reported, with each run's peak RSS.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use polybrief::config::Config;
use serde::Serialize;

/// The plain brief's prompts: what a user would first try.
const PLAIN_SUMMARIZE: &str = r#"system = "You are a helpful assistant."
user = """Summarize this news article in a few sentences:

{{ article }}"""
combine = """Summarize this news article in a few sentences:

{{ article }}"""
"#;

const PLAIN_TRANSLATE: &str = r#"system = "You are a helpful assistant."
user = """Translate into {{ language }}:

{{ text }}"""

[languages.zh]
name = "Simplified Chinese"

[languages.ru]
name = "Russian"
"#;

/// One way of briefing: its name, the settings its process runs with and
/// the arguments after `brief`.
struct Variant {
    name: &'static str,
    config: Config,
    after: Vec<String>,
}

/// One timed brief.
struct Run {
    seconds: f64,
    peak_rss_mb: f64,
}

/// One brief's figures, as `--format json` prints them (one line each).
#[derive(Debug, Serialize)]
struct BriefFigures<'a> {
    brief: &'a str,
    median_s: f64,
    ratio_to_plain: f64,
    peak_rss_mb: f64,
    runs_s: Vec<f64>,
}

/// `json`: one object per brief and line; otherwise a table.
pub fn run(config: &Config, article: &Path, runs: usize, json: bool) -> anyhow::Result<()> {
    anyhow::ensure!(article.is_file(), "no article at {} (give one with --article FILE)", article.display());
    // Holds the plain brief's prompts and each brief's config file.
    let folder = std::env::temp_dir().join(format!("polybrief-bench-{}", std::process::id()));
    std::fs::create_dir_all(&folder).with_context(|| format!("cannot create {}", folder.display()))?;
    std::fs::write(folder.join("summarize.toml"), PLAIN_SUMMARIZE)?;
    std::fs::write(folder.join("translate.toml"), PLAIN_TRANSLATE)?;
    let greedy = vec!["--beams".to_string(), "1".to_string()];
    // The default and greedy briefs run with the user's settings, however
    // given (flags, environment, config file); plain with its own prompts
    // and the chat model for every task.
    let plain =
        Config { prompts_dir: Some(folder.clone()), summarizer: None, translators: Vec::new(), ..config.clone() };
    let variants = [
        Variant { name: "default", config: config.clone(), after: Vec::new() },
        Variant { name: "--beams 1", config: config.clone(), after: greedy.clone() },
        Variant { name: "plain", config: plain, after: greedy },
    ];
    let result = measure(&folder, article, runs, &variants);
    let _ = std::fs::remove_dir_all(&folder);
    let times = result?;

    let plain = super::median(times[2].iter().map(|r| r.seconds).collect());
    let figures = variants.iter().zip(&times).map(|(variant, runs)| {
        let median_s = super::median(runs.iter().map(|r| r.seconds).collect());
        BriefFigures {
            brief: variant.name,
            median_s,
            ratio_to_plain: median_s / plain,
            peak_rss_mb: super::median(runs.iter().map(|r| r.peak_rss_mb).collect()),
            runs_s: runs.iter().map(|r| r.seconds).collect(),
        }
    });
    if json {
        for s in figures {
            println!("{}", serde_json::to_string(&s)?);
        }
        return Ok(());
    }
    println!("brief of {} ({} runs each after a warm-up run, alternating)", article.display(), runs);
    println!("{:<10} {:>9} {:>7} {:>13}  runs (s)", "brief", "median s", "ratio", "peak RSS MB");
    for s in figures {
        let each: Vec<String> = s.runs_s.iter().map(|t| format!("{t:.1}")).collect();
        println!(
            "{:<10} {:>9.1} {:>7.2} {:>13.0}  {}",
            s.brief,
            s.median_s,
            s.ratio_to_plain,
            s.peak_rss_mb,
            each.join(", ")
        );
    }
    Ok(())
}

/// Each variant's timed runs, after a warm-up run of each. Each variant's
/// settings go to its process as a config file written in `folder`, with
/// the environment variables that would override it removed.
fn measure(folder: &Path, article: &Path, runs: usize, variants: &[Variant]) -> anyhow::Result<Vec<Vec<Run>>> {
    let exe = std::env::current_exe().context("cannot find the polybrief executable")?;
    let mut config_files = Vec::new();
    for (i, v) in variants.iter().enumerate() {
        let file = folder.join(format!("config-{i}.toml"));
        std::fs::write(&file, v.config.to_file_text()?).with_context(|| format!("cannot write {}", file.display()))?;
        config_files.push(file);
    }
    let brief = |v: &Variant, config_file: &Path| -> anyhow::Result<Run> {
        let mut cmd = Command::new(&exe);
        for var in polybrief::config::ENV_VARS {
            cmd.env_remove(var);
        }
        cmd.arg("--config").arg(config_file).arg("brief").args(&v.after).arg(article);
        timed(cmd).with_context(|| format!("the {} brief failed", v.name))
    };
    for (v, file) in variants.iter().zip(&config_files) {
        eprintln!("bench: warm-up brief, {}", v.name);
        brief(v, file)?;
    }
    let mut times: Vec<Vec<Run>> = variants.iter().map(|_| Vec::new()).collect();
    for run in 0..runs {
        for ((v, file), t) in variants.iter().zip(&config_files).zip(&mut times) {
            eprintln!("bench: run {}/{runs}, {}", run + 1, v.name);
            t.push(brief(v, file)?);
        }
    }
    Ok(times)
}

/// Runs `cmd` to its end: wall time, and its peak RSS, read from
/// `/proc` while it runs (the high-water mark only rises).
fn timed(mut cmd: Command) -> anyhow::Result<Run> {
    let start = Instant::now();
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().context("cannot start polybrief")?;
    let pid = child.id().to_string();
    // Read as it comes, so that a full pipe never stops the brief.
    let mut pipe = child.stderr.take().context("no stderr pipe")?;
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut pipe, &mut text);
        text
    });
    let mut peak_rss_mb = f64::NAN;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if let Some(mb) = super::peak_rss_mb(&pid) {
            peak_rss_mb = mb;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let seconds = start.elapsed().as_secs_f64();
    let stderr = stderr.join().unwrap_or_default();
    anyhow::ensure!(status.success(), "{status}: {}", stderr.trim());
    Ok(Run { seconds, peak_rss_mb })
}

/// The article briefed when none is given: the README's example.
pub fn default_article() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/articles/rail-link.txt"))
}
