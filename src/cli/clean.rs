//! `polybrief clean`: print articles with the page furniture removed.
//!
//! Accepts what every command accepts: files, folders, JSONL files and `-`
//! for stdin. Notes (encoding, language) and unreadable inputs go to
//! stderr; the articles go to stdout as text or one JSON object per line.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use polybrief::config::Config;
use polybrief::ingest::ArticleReader;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// The cleaned text; a `# id` line before each article when there are several.
    Text,
    /// One JSON object per line: id, source, title, url, date, text, notes.
    Json,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Article files (.txt, .md, .html, .jsonl, ...), folders, or `-` for stdin.
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

pub fn run(args: Args, _config: &Config) -> anyhow::Result<ExitCode> {
    // A single plain file prints bare text; anything that may hold several
    // articles gets a header per article.
    let several = args.inputs.len() > 1
        || args.inputs.iter().any(|p| p.is_dir() || p.extension().is_some_and(|e| e.eq_ignore_ascii_case("jsonl")));
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut read = 0usize;
    let mut errors = Vec::new();
    for item in ArticleReader::new(&args.inputs, true) {
        match item {
            Ok(article) => {
                for note in &article.notes {
                    eprintln!("polybrief: note: {}: {note}", article.source);
                }
                match args.format {
                    Format::Json => writeln!(out, "{}", serde_json::to_string(&article)?)?,
                    Format::Text => {
                        if several {
                            if read > 0 {
                                writeln!(out)?;
                            }
                            writeln!(out, "# {}\n", article.id)?;
                        }
                        writeln!(out, "{}", article.text)?;
                    }
                }
                read += 1;
            }
            Err(e) => {
                eprintln!("polybrief: error: {e}");
                errors.push(e);
            }
        }
    }
    out.flush()?;
    Ok(match (read, errors.len()) {
        (_, 0) => ExitCode::SUCCESS,
        (0, _) => ExitCode::from(2), // nothing readable: the input's fault
        _ => ExitCode::from(1),      // a batch with some failures
    })
}
