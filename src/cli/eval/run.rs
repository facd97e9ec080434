//! `polybrief eval run`: polybrief's output on a shared test set, scored
//! beside the systems that took part in it.
//!
//! The run folder holds the set cut to `--limit` (sources, references, the
//! systems' outputs on the same lines) and our output, written line by line
//! so that an interrupted run goes on where it stopped when run again.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use polybrief::config::Config;
use polybrief::pipeline::{BriefOptions, BriefPipeline};
use polybrief::InputError;

use super::{read_lines, summaries, translations, Format, SummariesArgs, TranslationsArgs};
use crate::cli::{Outcome, Progress};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SetName {
    /// SummEval: 100 CNN/DailyMail articles, original highlights, 16 systems.
    Summeval,
    /// WMT21 news: 1002 sentences, reference A, 29 en-zh / 9 en-ru systems.
    Wmt21,
    /// WMT22 general, news domain only: 511 sentences, reference A.
    Wmt22News,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The test set.
    #[arg(long, value_enum)]
    set: SetName,
    /// The shared evaluation data folder.
    #[arg(long, value_name = "DIR", default_value = "../shared/eval")]
    data: PathBuf,
    /// Only the first N documents or segments (of each language pair).
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// Target languages of the translation sets.
    #[arg(long, value_delimiter = ',', default_value = "zh,ru")]
    langs: Vec<String>,
    /// Where the run's files go.
    #[arg(long, value_name = "DIR", default_value = "polybrief-eval")]
    out: PathBuf,
    /// `table` or `json` scores.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    #[command(flatten)]
    generation: crate::cli::GenerationArgs,
}

/// One scored task of a set: its files in the shared data.
struct Task {
    /// Folder name of this task in the run folder.
    name: String,
    /// `None`: summarize; `Some(lang)`: translate into `lang`.
    lang: Option<String>,
    source: PathBuf,
    reference: PathBuf,
    systems: PathBuf,
    /// Keep only lines whose document is of this domain (docids.tsv).
    domain: Option<(PathBuf, &'static str)>,
}

fn tasks(args: &RunArgs) -> Vec<Task> {
    let d = &args.data;
    match args.set {
        SetName::Summeval => {
            let s = d.join("summeval-cnndm");
            vec![Task {
                name: "summeval".into(),
                lang: None,
                source: s.join("articles.txt"),
                reference: s.join("ref.original.txt"),
                systems: s.join("systems"),
                domain: None,
            }]
        }
        SetName::Wmt21 | SetName::Wmt22News => args
            .langs
            .iter()
            .map(|lang| {
                let (set, folder) = match args.set {
                    SetName::Wmt21 => ("wmt21", d.join(format!("wmt21-news/en-{lang}"))),
                    _ => ("wmt22-news", d.join(format!("wmt22-general/en-{lang}"))),
                };
                Task {
                    name: format!("{set}-en-{lang}"),
                    lang: Some(lang.clone()),
                    source: folder.join("source.en"),
                    reference: folder.join(format!("ref.A.{lang}")),
                    systems: folder.join("systems"),
                    domain: (args.set == SetName::Wmt22News).then(|| (folder.join("docids.tsv"), "news")),
                }
            })
            .collect(),
    }
}

pub fn run(args: RunArgs, config: &Config) -> anyhow::Result<ExitCode> {
    let options = BriefOptions { langs: Vec::new(), ..args.generation.brief_options() };
    let mut pipeline: Option<BriefPipeline> = None;
    for task in tasks(&args) {
        let mut outcome = Outcome::default();
        let dir = args.out.join(&task.name);
        let keep = selected_lines(&task, args.limit)?;
        let sources = write_cut(&task.source, &keep, &dir.join("source.en"))?;
        let reference = dir.join("reference.txt");
        write_cut(&task.reference, &keep, &reference)?;
        let systems = dir.join("systems");
        std::fs::create_dir_all(&systems)?;
        for entry in std::fs::read_dir(&task.systems)
            .map_err(|e| InputError::new(&task.systems, format!("cannot list it: {e}")))?
        {
            let path = entry?.path();
            if path.is_file() {
                write_cut(&path, &keep, &systems.join(path.file_name().expect("a file")))?;
            }
        }

        let model = polybrief::store::Catalog::load(config.models_dir.as_deref())?
            .get_or_default(config.model.as_deref())?
            .id
            .clone();
        let hyp = dir.join(format!("polybrief-{model}.txt"));
        // Lines of an earlier run are kept (it may have been interrupted),
        // up to the number this run scores.
        let mut earlier = if hyp.exists() { read_lines(&hyp).unwrap_or_default() } else { Vec::new() };
        earlier.truncate(sources.len());
        let done = earlier.len();
        let earlier: String = earlier.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(&hyp, earlier).with_context(|| format!("cannot write {}", hyp.display()))?;
        let mut out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&hyp)
            .with_context(|| format!("cannot write {}", hyp.display()))?;
        let verb = if task.lang.is_some() { "translating" } else { "summarizing" };
        let mut progress = Progress::new(sources.len(), verb);
        for i in 0..done.min(sources.len()) {
            progress.skipped(&format!("{}:{}", task.name, i + 1));
        }
        let todo: Vec<(usize, &String)> = sources.iter().enumerate().skip(done).collect();
        // Several lines decoded together; each output is what it would be alone.
        for chunk in todo.chunks(options.batch_size.max(1)) {
            if pipeline.is_none() {
                pipeline = Some(BriefPipeline::load(config, options.clone())?);
            }
            let p = pipeline.as_mut().expect("loaded");
            let texts: Vec<&str> = chunk.iter().map(|(_, s)| s.as_str()).collect();
            let steps = p.segments(&texts, task.lang.as_deref());
            for ((i, _), step) in chunk.iter().zip(steps) {
                let id = format!("{}:{}", task.name, i + 1);
                let step = step.with_context(|| id.clone())?;
                // One line per segment, written at once: a killed run leaves
                // only whole lines.
                let line = crate::cli::one_line(&step.text);
                out.write_all(format!("{line}\n").as_bytes())?;
                out.flush()?;
                progress.done(&id);
                outcome.done += 1;
            }
        }
        progress.finish(&outcome);

        match &task.lang {
            None => summaries(SummariesArgs {
                hyp: hyp.clone(),
                refs: vec![reference],
                format: args.format,
                compare: Some(systems),
                no_stemmer: false,
            })?,
            Some(lang) => translations(TranslationsArgs {
                hyp: hyp.clone(),
                refs: vec![reference],
                lang: lang.clone(),
                format: args.format,
                compare: Some(systems),
            })?,
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Indices of the lines of the task that are scored.
fn selected_lines(task: &Task, limit: Option<usize>) -> anyhow::Result<Vec<usize>> {
    let total = read_lines(&task.source)?.len();
    let mut keep: Vec<usize> = match &task.domain {
        None => (0..total).collect(),
        Some((docids, domain)) => read_lines(docids)?
            .iter()
            .enumerate()
            .filter(|(_, l)| l.split('\t').nth(1) == Some(domain))
            .map(|(i, _)| i)
            .collect(),
    };
    if let Some(limit) = limit {
        keep.truncate(limit);
    }
    Ok(keep)
}

/// Writes the lines `keep` of `from` to `to`; returns them.
fn write_cut(from: &Path, keep: &[usize], to: &Path) -> anyhow::Result<Vec<String>> {
    let lines = read_lines(from)?;
    let cut: Vec<String> =
        keep.iter()
            .map(|&i| {
                lines.get(i).cloned().ok_or_else(|| {
                    InputError::new(from, format!("has {} lines; line {} is missing", lines.len(), i + 1))
                })
            })
            .collect::<Result<_, _>>()?;
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(to, cut.join("\n") + "\n").with_context(|| format!("cannot write {}", to.display()))?;
    Ok(cut)
}
