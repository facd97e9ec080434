//! Output formats of briefs: plain text, Markdown, JSON, JSON Lines.
//!
//! JSON is the [`Brief`] as it is (documented in the
//! README); a failed article in a batch is an [`ErrorRecord`] in its place.

use serde::Serialize;

use crate::pipeline::Brief;

/// How briefs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Markdown,
    /// One pretty-printed JSON object per brief.
    Json,
    /// One compact JSON object per line.
    Jsonl,
}

impl Format {
    /// File extension for `--out DIR` files.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Text => "txt",
            Format::Markdown => "md",
            Format::Json => "json",
            Format::Jsonl => "jsonl",
        }
    }
}

/// What a batch writes for an article that could not be briefed.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorRecord {
    pub id: String,
    pub source: String,
    pub error: String,
}

/// The display name of a language code.
pub fn language_name(code: &str) -> &str {
    match code {
        "en" => "English",
        "zh" => "Chinese (简体中文)",
        "ru" => "Russian (русский)",
        other => other,
    }
}

/// `brief` in `format`, ending with a newline. `langs` gives the order of
/// the renderings.
pub fn brief(brief: &Brief, langs: &[String], format: Format) -> String {
    match format {
        Format::Json => serde_json::to_string_pretty(brief).expect("a brief serializes") + "\n",
        Format::Jsonl => serde_json::to_string(brief).expect("a brief serializes") + "\n",
        Format::Text | Format::Markdown => {
            let md = format == Format::Markdown;
            let mut out = String::new();
            let heading = brief.title.as_deref().unwrap_or(&brief.id);
            if md {
                out += &format!("## {heading}\n\n");
            } else {
                out += &format!("== {heading} ==\n\n");
            }
            let mut section = |name: &str, text: &str| {
                if md {
                    out += &format!("**{name}**\n\n{text}\n\n");
                } else {
                    out += &format!("{name}:\n{text}\n\n");
                }
            };
            section(language_name("en"), &brief.summary);
            for code in langs {
                if let Some(text) = brief.translations.get(code) {
                    section(language_name(code), text);
                }
            }
            let failed: Vec<String> = brief
                .checks
                .iter()
                .filter(|c| !c.passed)
                .map(|c| format!("{} {}: {}", c.output, c.name, c.detail.as_deref().unwrap_or("failed")))
                .collect();
            for note in &brief.notes {
                out += &if md { format!("> Note: {note}\n") } else { format!("note: {note}\n") };
            }
            if !failed.is_empty() {
                let text = format!("check failed: {}", failed.join("; "));
                out += &if md { format!("> **Warning**: {text}\n") } else { format!("WARNING {text}\n") };
            }
            out.trim_end().to_string() + "\n"
        }
    }
}

/// An error record in `format`.
pub fn error(record: &ErrorRecord, format: Format) -> String {
    match format {
        Format::Json => serde_json::to_string_pretty(record).expect("serializes") + "\n",
        Format::Jsonl => serde_json::to_string(record).expect("serializes") + "\n",
        Format::Text => format!("== {} ==\n\nERROR {}\n", record.id, record.error),
        Format::Markdown => format!("## {}\n\n> **Error**: {}\n", record.id, record.error),
    }
}
