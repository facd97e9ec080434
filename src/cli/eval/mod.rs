//! `polybrief eval`: score outputs against references with metrics equal to
//! the Python reference packages, optionally beside other systems' outputs.
//!
//! - `eval summaries`: ROUGE-1/2/L/Lsum (rouge-score 0.1.2, Porter stemmer),
//!   mean precision, recall and F1 over documents, 0-100.
//! - `eval translations`: corpus BLEU and chrF (sacrebleu 2.6.0), 0-100.
//!
//! Inputs are text files with one document or segment per line, all
//! line-aligned. `--compare DIR` scores every file in DIR the same way and
//! ranks them with ours (by ROUGE-1 F1 or by BLEU).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use polybrief::config::Config;
use polybrief::eval::{Bleu, BleuScore, BleuTokenizer, Chrf, Rouge, RougeScores, Score};
use polybrief::InputError;
use serde_json::{json, Value};

mod run;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: EvalCommand,
}

#[derive(Debug, clap::Subcommand)]
enum EvalCommand {
    /// ROUGE of summaries (one document per line) against references.
    ///
    /// Equal to rouge-score 0.1.2 with the Porter stemmer; scores are the
    /// mean over documents of precision, recall and F1, on a 0-100 scale.
    /// For ROUGE-Lsum each line is split into sentences after ".", "!" or
    /// "?" followed by a space, as the SummEval tables in shared/eval were.
    Summaries(SummariesArgs),
    /// BLEU and chrF of translations (one segment per line) against references.
    ///
    /// Equal to sacrebleu 2.6.0 with its defaults: corpus BLEU (tokenizer zh
    /// for --lang zh, else 13a; exp smoothing) and corpus chrF (character
    /// 6-grams, beta 2), 0-100.
    Translations(TranslationsArgs),
    /// Run polybrief on a shared test set, then score it beside the set's
    /// systems (with `eval summaries`/`eval translations`).
    Run(run::RunArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Table,
    Json,
}

#[derive(Debug, clap::Args)]
struct SummariesArgs {
    /// The summaries to score, one document per line.
    #[arg(long, value_name = "FILE")]
    hyp: PathBuf,
    /// A reference file, line-aligned with --hyp. Repeat for several
    /// references: each ROUGE type then takes the best one per document.
    #[arg(long = "ref", value_name = "FILE", required = true)]
    refs: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Also score every file in DIR (other systems' outputs) and rank all
    /// by ROUGE-1 F1.
    #[arg(long, value_name = "DIR")]
    compare: Option<PathBuf>,
    /// Score without the Porter stemmer (the shared tables use it).
    #[arg(long)]
    no_stemmer: bool,
}

#[derive(Debug, clap::Args)]
struct TranslationsArgs {
    /// The translations to score, one segment per line.
    #[arg(long, value_name = "FILE")]
    hyp: PathBuf,
    /// A reference file, line-aligned with --hyp. Repeat for several
    /// references (multi-reference BLEU and chrF).
    #[arg(long = "ref", value_name = "FILE", required = true)]
    refs: Vec<PathBuf>,
    /// Target language: `zh` selects sacrebleu's zh tokenizer for BLEU,
    /// any other code its 13a tokenizer.
    #[arg(long, value_name = "CODE")]
    lang: String,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Also score every file in DIR (other systems' outputs) and rank all
    /// by BLEU.
    #[arg(long, value_name = "DIR")]
    compare: Option<PathBuf>,
}

pub fn run(args: Args, config: &Config) -> anyhow::Result<ExitCode> {
    match args.command {
        EvalCommand::Summaries(args) => summaries(args)?,
        EvalCommand::Translations(args) => translations(args)?,
        EvalCommand::Run(args) => return run::run(args, config),
    }
    Ok(ExitCode::SUCCESS)
}

// ------------------------------------------------------------------ inputs

/// A text file's lines (one document or segment each).
fn read_lines(path: &Path) -> anyhow::Result<Vec<String>> {
    let bytes = std::fs::read(path).map_err(|e| InputError::new(path, format!("cannot read it: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        InputError::new(path, format!("is not UTF-8 text (invalid byte at offset {})", e.utf8_error().valid_up_to()))
    })?;
    let text = text.strip_suffix('\n').unwrap_or(&text);
    if text.is_empty() {
        return Err(InputError::new(path, "is empty; expected one document or segment per line").into());
    }
    // Python's text mode reads CRLF files as LF ones.
    Ok(text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l).to_string()).collect())
}

/// The hypothesis and reference files, checked to be line-aligned.
fn read_aligned(hyp: &Path, refs: &[PathBuf]) -> anyhow::Result<(Vec<String>, Vec<Vec<String>>)> {
    let hyps = read_lines(hyp)?;
    let mut streams = Vec::with_capacity(refs.len());
    for path in refs {
        let lines = read_lines(path)?;
        check_same_length(path, lines.len(), hyp, hyps.len())?;
        streams.push(lines);
    }
    Ok((hyps, streams))
}

fn check_same_length(path: &Path, len: usize, hyp: &Path, hyp_len: usize) -> anyhow::Result<()> {
    if len != hyp_len {
        return Err(InputError::new(
            path,
            format!(
                "has {len} lines but {} has {hyp_len}; the files must be line-aligned (one document or segment per line)",
                hyp.display()
            ),
        )
        .into());
    }
    Ok(())
}

/// The other systems' output files in `dir` (sorted, hidden files and
/// `hyp` itself left out), each read and checked against `len` lines.
fn read_compare_dir(dir: &Path, hyp: &Path, len: usize) -> anyhow::Result<Vec<(String, Vec<String>)>> {
    let entries = std::fs::read_dir(dir).map_err(|e| InputError::new(dir, format!("cannot list it: {e}")))?;
    let ours = std::fs::canonicalize(hyp).ok();
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| InputError::new(dir, format!("cannot list it: {e}")))?.path();
        let hidden = path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if path.is_file() && !hidden && std::fs::canonicalize(&path).ok() != ours {
            paths.push(path);
        }
    }
    if paths.is_empty() {
        return Err(InputError::new(dir, "has no system output files to compare with").into());
    }
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let lines = read_lines(&path)?;
            check_same_length(&path, lines.len(), hyp, len)?;
            Ok((system_name(&path), lines))
        })
        .collect()
}

/// A system's display name: its file name without the extension.
fn system_name(path: &Path) -> String {
    path.file_stem().unwrap_or(path.as_os_str()).to_string_lossy().into_owned()
}

/// A scored system: ours or one from `--compare`.
struct Row<T> {
    system: String,
    ours: bool,
    scores: T,
}

/// Rows sorted by `key`, best first (ties by name).
fn rank<T>(rows: &mut [Row<T>], key: impl Fn(&T) -> f64) {
    rows.sort_by(|a, b| key(&b.scores).total_cmp(&key(&a.scores)).then_with(|| a.system.cmp(&b.system)));
}

/// Width of the system-name column: the longest name, at least 6.
fn name_width<T>(rows: &[Row<T>]) -> usize {
    rows.iter().map(|r| r.system.len()).max().unwrap_or(0).max(6)
}

fn mark(row_is_ours: bool) -> &'static str {
    if row_is_ours {
        "*"
    } else {
        " "
    }
}

fn json_text(value: &Value) -> String {
    serde_json::to_string_pretty(value).expect("JSON values always serialize") + "\n"
}

// --------------------------------------------------------------- summaries

fn summaries(args: SummariesArgs) -> anyhow::Result<()> {
    let (hyps, refs) = read_aligned(&args.hyp, &args.refs)?;
    let rouge = Rouge::new(!args.no_stemmer);
    let ours = rouge.score_documents(&hyps, &refs);
    let mut rows = vec![Row { system: system_name(&args.hyp), ours: true, scores: ours }];
    if let Some(dir) = &args.compare {
        for (system, lines) in read_compare_dir(dir, &args.hyp, hyps.len())? {
            rows.push(Row { system, ours: false, scores: rouge.score_documents(&lines, &refs) });
        }
        rank(&mut rows, |s: &RougeScores| s.rouge1.fmeasure);
    }

    let stemmer = if args.no_stemmer { "no stemmer" } else { "Porter stemmer" };
    let mut report = String::new();
    match args.format {
        Format::Json => {
            let mut out = rouge_json(&ours);
            out["documents"] = json!(hyps.len());
            out["references"] = json!(refs.len());
            out["stemmer"] = json!(!args.no_stemmer);
            if args.compare.is_some() {
                out["compare"] = rows
                    .iter()
                    .map(|row| {
                        let mut entry = rouge_json(&row.scores);
                        entry["system"] = json!(row.system);
                        entry["ours"] = json!(row.ours);
                        entry
                    })
                    .collect();
            }
            report = json_text(&out);
        }
        Format::Table if args.compare.is_none() => {
            writeln!(
                report,
                "ROUGE of {}: {} documents, {} reference(s), {stemmer}, rouge-score 0.1.2; Lsum splits sentences after . ! ?",
                args.hyp.display(),
                hyps.len(),
                refs.len()
            )?;
            writeln!(report, "{:<10} {:>6} {:>6} {:>6}", "", "P", "R", "F")?;
            for (name, score) in ours.by_name() {
                writeln!(
                    report,
                    "{name:<10} {:>6.2} {:>6.2} {:>6.2}",
                    score.precision * 100.0,
                    score.recall * 100.0,
                    score.fmeasure * 100.0
                )?;
            }
        }
        Format::Table => {
            writeln!(
                report,
                "ROUGE F1, {} documents, {} reference(s), {stemmer}; ranked by ROUGE-1; * = {}",
                hyps.len(),
                refs.len(),
                args.hyp.display()
            )?;
            let width = name_width(&rows);
            writeln!(report, "  {:<width$} {:>6} {:>6} {:>6} {:>6}", "system", "R1", "R2", "RL", "RLsum")?;
            for row in &rows {
                let f = row.scores.by_name().map(|(_, s)| s.fmeasure * 100.0);
                writeln!(
                    report,
                    "{} {:<width$} {:>6.2} {:>6.2} {:>6.2} {:>6.2}",
                    mark(row.ours),
                    row.system,
                    f[0],
                    f[1],
                    f[2],
                    f[3]
                )?;
            }
        }
    }
    super::print_stdout(&report)
}

/// `{"rouge1": {"p", "r", "f"}, ...}` on the 0-100 scale.
fn rouge_json(scores: &RougeScores) -> Value {
    let triple = |s: Score| json!({"p": s.precision * 100.0, "r": s.recall * 100.0, "f": s.fmeasure * 100.0});
    let mut out = serde_json::Map::new();
    for (name, score) in scores.by_name() {
        out.insert(name.to_string(), triple(score));
    }
    Value::Object(out)
}

// ------------------------------------------------------------ translations

/// Corpus BLEU and chrF of one system.
struct TranslationScores {
    bleu: BleuScore,
    chrf: f64,
}

fn translations(args: TranslationsArgs) -> anyhow::Result<()> {
    if matches!(args.lang.as_str(), "ja" | "ko") {
        return Err(InputError::new(
            format!("--lang {}", args.lang),
            "sacrebleu tokenizes this language with MeCab, which polybrief does not have (it has the zh and 13a tokenizers); score it with sacrebleu itself",
        )
        .into());
    }
    let (hyps, refs) = read_aligned(&args.hyp, &args.refs)?;
    let bleu = Bleu::new(BleuTokenizer::for_language(&args.lang));
    let chrf = Chrf::new();
    let score = |lines: &[String]| TranslationScores {
        bleu: bleu.corpus_score(lines, &refs),
        chrf: chrf.corpus_score(lines, &refs),
    };
    let ours = score(&hyps);
    let mut rows = Vec::new();
    if let Some(dir) = &args.compare {
        for (system, lines) in read_compare_dir(dir, &args.hyp, hyps.len())? {
            rows.push(Row { system, ours: false, scores: score(&lines) });
        }
    }
    let bleu_signature = bleu.signature(refs.len());
    let chrf_signature = chrf.signature(refs.len());

    let mut report = String::new();
    match args.format {
        Format::Json => {
            let mut out = json!({
                "bleu": ours.bleu.score,
                "chrf": ours.chrf,
                "segments": hyps.len(),
                "references": refs.len(),
                "bleu_signature": bleu_signature,
                "chrf_signature": chrf_signature,
                "bleu_detail": ours.bleu,
            });
            if args.compare.is_some() {
                rows.push(Row { system: system_name(&args.hyp), ours: true, scores: ours });
                rank(&mut rows, |s: &TranslationScores| s.bleu.score);
                out["compare"] = rows
                    .iter()
                    .map(|row| json!({"system": row.system, "ours": row.ours, "bleu": row.scores.bleu.score, "chrf": row.scores.chrf}))
                    .collect();
            }
            report = json_text(&out);
        }
        Format::Table if args.compare.is_none() => {
            let b = &ours.bleu;
            writeln!(report, "{}: {} segments, {} reference(s)", args.hyp.display(), hyps.len(), refs.len())?;
            writeln!(
                report,
                "BLEU {:6.2}  {} (BP = {:.3} ratio = {:.3} hyp_len = {} ref_len = {})",
                b.score,
                b.precisions.map(|p| format!("{p:.1}")).join("/"),
                b.bp,
                if b.ref_len > 0 { b.sys_len as f64 / b.ref_len as f64 } else { 0.0 },
                b.sys_len,
                b.ref_len
            )?;
            writeln!(report, "chrF {:6.2}", ours.chrf)?;
            writeln!(report, "BLEU signature: {bleu_signature}")?;
            writeln!(report, "chrF signature: {chrf_signature}")?;
        }
        Format::Table => {
            rows.push(Row { system: system_name(&args.hyp), ours: true, scores: ours });
            rank(&mut rows, |s: &TranslationScores| s.bleu.score);
            writeln!(
                report,
                "{} segments, {} reference(s), BLEU tok:{}; ranked by BLEU; * = {}",
                hyps.len(),
                refs.len(),
                bleu.tokenizer().name(),
                args.hyp.display()
            )?;
            let width = name_width(&rows);
            writeln!(report, "  {:<width$} {:>6} {:>6}", "system", "BLEU", "chrF")?;
            for row in &rows {
                writeln!(
                    report,
                    "{} {:<width$} {:>6.2} {:>6.2}",
                    mark(row.ours),
                    row.system,
                    row.scores.bleu.score,
                    row.scores.chrf
                )?;
            }
        }
    }
    super::print_stdout(&report)
}
