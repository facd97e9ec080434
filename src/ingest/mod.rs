//! Reading articles: files, folders, stdin, JSONL records and HTML pages,
//! decoded, cleaned of page furniture and given stable ids.
//!
//! [`ArticleReader`] yields one article at a time, so a batch of hundreds
//! never holds all texts at once, and a bad input becomes one
//! [`ArticleError`] in the stream instead of stopping the others.
//! [`read_article`] reads a single file.

pub mod clean;
pub mod decode;
pub mod html;
pub mod sentences;

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

pub use clean::{clean, Cleaned};
pub use sentences::{paragraphs, sentences};

use crate::lang::{guess_language, Language};
use crate::InputError;

/// The largest input we read, in bytes (10 MiB): a news article is a few
/// tens of kilobytes, so anything this big is the wrong file. Checked from
/// the file's metadata before reading it; stdin is read up to this many
/// bytes plus one; for JSONL the limit applies to each line (record).
pub const MAX_INPUT_BYTES: u64 = 10 * 1024 * 1024;

/// Extensions a folder is searched for, in the order of this list.
const FOLDER_EXTENSIONS: &[&str] = &["txt", "md", "html", "htm", "jsonl"];

/// One article, cleaned.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Article {
    /// Stable and filesystem-safe: the JSONL `id`, else the path (relative
    /// to the folder given) without its extension; unique within a run.
    pub id: String,
    /// Where it came from: a file path, `-` for stdin, or `file.jsonl:LINE`.
    pub source: String,
    pub title: Option<String>,
    pub url: Option<String>,
    pub date: Option<String>,
    /// The cleaned body: paragraphs separated by one blank line, headline
    /// first when known.
    pub text: String,
    /// What reading did that a user may want to know, e.g. "decoded from
    /// windows-1252" or "not English: looks like Russian".
    pub notes: Vec<String>,
}

/// An input of a batch that could not be read.
#[derive(Debug)]
pub struct ArticleError {
    /// The id the article would have had.
    pub id: String,
    /// Where it came from, as in [`Article::source`].
    pub source: String,
    pub error: InputError,
}

impl fmt::Display for ArticleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for ArticleError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// Reads one text or HTML file into an article whose id is the file name
/// without its extension. JSONL files and folders hold many articles: read
/// those with [`ArticleReader`].
pub fn read_article(path: &Path) -> Result<Article, InputError> {
    let source = path.display().to_string();
    if path.is_dir() {
        return Err(InputError::new(path, "is a folder; read folders with ArticleReader (or `polybrief clean DIR`)"));
    }
    if kind_of(path) == InputKind::Jsonl {
        return Err(InputError::new(path, "is a JSONL file of many articles; read it with ArticleReader"));
    }
    let bytes = read_limited(path)?;
    article_from_bytes(&bytes, kind_of(path), safe_id(&file_stem(path)), source, None)
}

/// The decoded text of a file (`-`: stdin) as it is, not cleaned: for
/// line-aligned segments, where every line must stay in its place.
pub fn read_text(path: &Path) -> Result<String, InputError> {
    let bytes = if path == Path::new("-") { read_at_most(std::io::stdin().lock(), path)? } else { read_limited(path)? };
    Ok(decode::decode(&bytes, &path.display().to_string())?.text)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InputKind {
    Text,
    Markdown,
    Html,
    Jsonl,
}

fn kind_of(path: &Path) -> InputKind {
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("html" | "htm") => InputKind::Html,
        Some("jsonl") => InputKind::Jsonl,
        Some("md" | "markdown") => InputKind::Markdown,
        _ => InputKind::Text,
    }
}

fn file_stem(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Makes `name` safe as a file name: letters, digits, `.`, `_` and `-`
/// stay, anything else becomes `-`; never empty, never hidden.
fn safe_id(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let c = if c.is_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '-' };
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    let out = out.trim_matches(['-', '.']).to_string();
    if out.is_empty() {
        "article".into()
    } else {
        out
    }
}

/// The id of a file found in a folder: its relative path without the
/// extension, folders joined by `__`.
fn id_in_folder(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path).with_extension("");
    let parts: Vec<String> = rel.components().map(|c| safe_id(&c.as_os_str().to_string_lossy())).collect();
    parts.join("__")
}

fn io_problem(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or folder; check the path".into(),
        std::io::ErrorKind::PermissionDenied => "cannot be read: permission denied".into(),
        _ => format!("cannot be read: {e}"),
    }
}

fn too_big(size: u64) -> String {
    format!(
        "is {size} bytes, over the limit of {MAX_INPUT_BYTES} bytes (10 MiB) for one article; \
         pass the article alone, not a dump or archive"
    )
}

/// Reads a file after checking its size, so an oversized file is refused
/// without being loaded.
fn read_limited(path: &Path) -> Result<Vec<u8>, InputError> {
    let meta = std::fs::metadata(path).map_err(|e| InputError::new(path, io_problem(&e)))?;
    if meta.len() > MAX_INPUT_BYTES {
        return Err(InputError::new(path, too_big(meta.len())));
    }
    let file = File::open(path).map_err(|e| InputError::new(path, io_problem(&e)))?;
    read_at_most(file, path)
}

/// Reads up to the limit and refuses a stream that goes beyond it (stdin,
/// or a file that grew after its size was checked).
fn read_at_most(reader: impl Read, name: &Path) -> Result<Vec<u8>, InputError> {
    let mut bytes = Vec::new();
    reader.take(MAX_INPUT_BYTES + 1).read_to_end(&mut bytes).map_err(|e| InputError::new(name, io_problem(&e)))?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(InputError::new(name, too_big(bytes.len() as u64)));
    }
    Ok(bytes)
}

/// Fields a JSONL record may give beside the body.
#[derive(Debug, Default)]
struct Metadata {
    title: Option<String>,
    url: Option<String>,
    date: Option<String>,
}

fn article_from_bytes(
    bytes: &[u8],
    kind: InputKind,
    id: String,
    source: String,
    meta: Option<Metadata>,
) -> Result<Article, InputError> {
    let decoded = decode::decode(bytes, &source)?;
    let notes: Vec<String> = decoded.note.into_iter().collect();
    let body = match kind {
        InputKind::Html => Body::Html(decoded.text),
        InputKind::Markdown => Body::Text(strip_heading_marks(&decoded.text)),
        InputKind::Text | InputKind::Jsonl => Body::Text(decoded.text),
    };
    build_article(body, id, source, meta.unwrap_or_default(), notes)
}

/// Markdown headings ("# Title") read as plain lines, so the headline is
/// recognised as one.
fn strip_heading_marks(text: &str) -> String {
    text.lines()
        .map(|line| {
            let hashes = line.len() - line.trim_start_matches('#').len();
            if (1..=6).contains(&hashes) && line[hashes..].starts_with(' ') {
                line[hashes..].trim_start()
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

enum Body {
    Text(String),
    Html(String),
}

/// Cleans a body into an article: HTML main content, furniture removed,
/// headline first, language checked.
fn build_article(
    body: Body,
    id: String,
    source: String,
    meta: Metadata,
    mut notes: Vec<String>,
) -> Result<Article, InputError> {
    let Metadata { mut title, mut url, mut date } = meta;
    let text = match body {
        Body::Text(text) => text,
        Body::Html(html) => {
            if html.trim().is_empty() {
                return Err(InputError::new(&source, "is empty; give a page with the article in it"));
            }
            let page = html::extract(&html, &source)?;
            notes.push("html main content extracted".into());
            title = title.or(page.title);
            url = url.or(page.url);
            date = date.or(page.date);
            page.text
        }
    };
    if text.trim().is_empty() {
        return Err(InputError::new(&source, "is empty (or only whitespace); give the article's text"));
    }
    let cleaned = clean::clean(&text);
    if !cleaned.has_prose {
        return Err(InputError::new(
            &source,
            "has no article text left once page furniture (menus, ads, captions) is removed: \
             not one sentence of prose; check that it holds a news article",
        ));
    }
    let title = title.map(|t| clean::clean(&t).text.replace("\n\n", " ")).filter(|t| !t.is_empty()).or(cleaned.title);
    let mut text = cleaned.text;
    if let Some(t) = &title {
        let first = paragraphs(&text).first().map(|p| p.to_lowercase()).unwrap_or_default();
        if first != t.to_lowercase() {
            text = format!("{t}\n\n{text}");
        }
    }
    match guess_language(&text) {
        Language::English => {}
        Language::Unknown => notes.push("language unclear: too little text to tell".into()),
        other => notes.push(format!("not English: looks like {other}")),
    }
    Ok(Article { id, source, title, url, date, text, notes })
}

/// An input waiting to be read.
enum Pending {
    Stdin,
    File { path: PathBuf, id: String },
    Folder(PathBuf),
    Failed(ArticleError),
}

/// A JSONL file being read one line at a time.
struct JsonlFile {
    path: PathBuf,
    reader: BufReader<File>,
    line_no: usize,
    /// Non-blank lines seen, good or bad: a file with none is an error.
    records: usize,
    stem: String,
}

/// Reads articles from files, folders (recursively), JSONL files and stdin
/// (`-`), one at a time, in the order given (folders in sorted order).
pub struct ArticleReader {
    pending: VecDeque<Pending>,
    jsonl: Option<JsonlFile>,
    used_ids: HashSet<String>,
}

impl ArticleReader {
    /// `inputs` are paths; `-` means stdin when `allow_stdin` is true.
    pub fn new(inputs: &[PathBuf], allow_stdin: bool) -> ArticleReader {
        let pending = inputs
            .iter()
            .map(|p| {
                if p.as_os_str() == "-" {
                    if allow_stdin {
                        Pending::Stdin
                    } else {
                        Pending::Failed(ArticleError {
                            id: "stdin".into(),
                            source: "-".into(),
                            error: InputError::new("-", "stdin is not accepted here; give a file"),
                        })
                    }
                } else if p.is_dir() {
                    Pending::Folder(p.clone())
                } else {
                    Pending::File { path: p.clone(), id: safe_id(&file_stem(p)) }
                }
            })
            .collect();
        ArticleReader { pending, jsonl: None, used_ids: HashSet::new() }
    }

    /// `base`, or `base-2`, `base-3`, ... if already used in this run.
    fn unique_id(&mut self, base: String) -> String {
        let mut id = base.clone();
        let mut n = 2;
        while self.used_ids.contains(&id) {
            id = format!("{base}-{n}");
            n += 1;
        }
        self.used_ids.insert(id.clone());
        id
    }

    fn read_stdin(&mut self) -> Result<Article, ArticleError> {
        let id = self.unique_id("stdin".into());
        let fail = |error| ArticleError { id: id.clone(), source: "-".into(), error };
        let bytes = read_at_most(std::io::stdin().lock(), Path::new("-")).map_err(fail)?;
        article_from_bytes(&bytes, InputKind::Text, id.clone(), "-".into(), None).map_err(fail)
    }

    fn read_file(&mut self, path: &Path, id: String) -> Result<Article, ArticleError> {
        let id = self.unique_id(id);
        let source = path.display().to_string();
        let fail = |error| ArticleError { id: id.clone(), source: source.clone(), error };
        let bytes = read_limited(path).map_err(fail)?;
        article_from_bytes(&bytes, kind_of(path), id.clone(), source.clone(), None).map_err(fail)
    }

    /// The readable files under `dir`, sorted, as pending inputs.
    fn expand_folder(&mut self, dir: &Path) -> Result<(), ArticleError> {
        let mut files = Vec::new();
        let mut failures = Vec::new();
        walk(dir, &mut files, &mut failures);
        if files.is_empty() && failures.is_empty() {
            return Err(ArticleError {
                id: safe_id(&file_stem(dir)),
                source: dir.display().to_string(),
                error: InputError::new(
                    dir,
                    format!(
                        "folder has no article files (searched recursively for .{})",
                        FOLDER_EXTENSIONS.join(", .")
                    ),
                ),
            });
        }
        for failure in failures.into_iter().rev() {
            self.pending.push_front(Pending::Failed(failure));
        }
        for path in files.into_iter().rev() {
            let id = id_in_folder(dir, &path);
            self.pending.push_front(Pending::File { path, id });
        }
        Ok(())
    }

    fn open_jsonl(&mut self, path: &Path) -> Result<(), ArticleError> {
        let fail = |error| ArticleError { id: safe_id(&file_stem(path)), source: path.display().to_string(), error };
        let file = File::open(path).map_err(|e| fail(InputError::new(path, io_problem(&e))))?;
        self.jsonl = Some(JsonlFile {
            path: path.to_path_buf(),
            reader: BufReader::new(file),
            line_no: 0,
            records: 0,
            stem: file_stem(path),
        });
        Ok(())
    }

    /// The next record of the open JSONL file, `None` at its end.
    fn next_jsonl_record(&mut self) -> Option<Result<Article, ArticleError>> {
        let jsonl = self.jsonl.as_mut()?;
        loop {
            jsonl.line_no += 1;
            let line_no = jsonl.line_no;
            let source = format!("{}:{}", jsonl.path.display(), line_no);
            let fallback_id = safe_id(&format!("{}-{}", jsonl.stem, line_no));
            let mut line = Vec::new();
            let read = (&mut jsonl.reader).take(MAX_INPUT_BYTES + 1).read_until(b'\n', &mut line);
            let fail = |id: String, problem: String| {
                Err(ArticleError { id, source: source.clone(), error: InputError::new(&source, problem) })
            };
            match read {
                Err(e) => {
                    self.jsonl = None;
                    return Some(fail(fallback_id, io_problem(&e)));
                }
                Ok(0) if jsonl.records == 0 => {
                    let path = jsonl.path.clone();
                    self.jsonl = None;
                    return Some(Err(ArticleError {
                        id: safe_id(&file_stem(&path)),
                        source: path.display().to_string(),
                        error: InputError::new(
                            &path,
                            "has no records; each line must be a JSON object with \"text\" or \"html\"",
                        ),
                    }));
                }
                Ok(0) => {
                    self.jsonl = None;
                    return None;
                }
                Ok(_) => {}
            }
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            jsonl.records += 1;
            if line.len() as u64 > MAX_INPUT_BYTES {
                skip_rest_of_line(&mut jsonl.reader);
                return Some(fail(fallback_id, format!("this record {}", too_big(line.len() as u64))));
            }
            let Ok(text) = std::str::from_utf8(&line) else {
                return Some(fail(fallback_id, "is not UTF-8; JSONL must be UTF-8".into()));
            };
            let record = match parse_record(text) {
                Ok(r) => r,
                Err(problem) => return Some(fail(fallback_id, problem)),
            };
            let id = self.unique_id(record.id.map(|id| safe_id(&id)).unwrap_or(fallback_id));
            let result = build_article(record.body, id.clone(), source.clone(), record.meta, Vec::new());
            return Some(result.map_err(|error| ArticleError { id, source, error }));
        }
    }
}

/// Discards input up to and including the next newline without holding it.
fn skip_rest_of_line(reader: &mut impl BufRead) {
    loop {
        let (done, used) = match reader.fill_buf() {
            Ok([]) | Err(_) => return,
            Ok(buf) => match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (true, i + 1),
                None => (false, buf.len()),
            },
        };
        reader.consume(used);
        if done {
            return;
        }
    }
}

/// A parsed JSONL line.
struct Record {
    id: Option<String>,
    body: Body,
    meta: Metadata,
}

fn parse_record(line: &str) -> Result<Record, String> {
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("not valid JSON ({e}); each line must be one JSON object"))?;
    let Some(obj) = value.as_object() else {
        return Err("is not a JSON object; each line must be an object with \"id\" and \"text\" or \"html\"".into());
    };
    let string = |key: &str| -> Result<Option<String>, String> {
        match obj.get(key) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
            Some(serde_json::Value::Number(n)) if key == "id" => Ok(Some(n.to_string())),
            Some(_) => Err(format!("field \"{key}\" must be a string")),
        }
    };
    let body = match (string("text")?, string("html")?) {
        (Some(text), _) => Body::Text(text),
        (None, Some(html)) => Body::Html(html),
        (None, None) => return Err("has neither \"text\" nor \"html\"; give the article body in one of them".into()),
    };
    Ok(Record {
        id: string("id")?,
        body,
        meta: Metadata { title: string("title")?, url: string("url")?, date: string("date")? },
    })
}

/// Collects the article files under `dir` depth-first in sorted order,
/// skipping hidden entries.
fn walk(dir: &Path, files: &mut Vec<PathBuf>, failures: &mut Vec<ArticleError>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            failures.push(ArticleError {
                id: safe_id(&file_stem(dir)),
                source: dir.display().to_string(),
                error: InputError::new(dir, io_problem(&e)),
            });
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
        .collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            walk(&path, files, failures);
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| FOLDER_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        {
            files.push(path);
        }
    }
}

impl Iterator for ArticleReader {
    type Item = Result<Article, ArticleError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.jsonl.is_some() {
                if let Some(record) = self.next_jsonl_record() {
                    return Some(record);
                }
            }
            match self.pending.pop_front()? {
                Pending::Stdin => return Some(self.read_stdin()),
                Pending::Failed(error) => return Some(Err(error)),
                Pending::Folder(dir) => {
                    if let Err(e) = self.expand_folder(&dir) {
                        return Some(Err(e));
                    }
                }
                Pending::File { path, id } => {
                    if kind_of(&path) == InputKind::Jsonl {
                        if let Err(e) = self.open_jsonl(&path) {
                            return Some(Err(e));
                        }
                    } else {
                        return Some(self.read_file(&path, id));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_filesystem_safe() {
        assert_eq!(safe_id("World news: China/Russia (2025)"), "World-news-China-Russia-2025");
        assert_eq!(safe_id("../.."), "article");
        assert_eq!(safe_id("新闻 1"), "新闻-1");
        assert_eq!(id_in_folder(Path::new("in"), Path::new("in/asia/china.v2.txt")), "asia__china.v2");
    }

    #[test]
    fn records_need_a_body() {
        assert!(parse_record("{\"id\": \"a\"}").err().unwrap().contains("neither \"text\" nor \"html\""));
        assert!(parse_record("{\"id\": 1, \"text\": 5}").err().unwrap().contains("\"text\" must be a string"));
        assert!(parse_record("[1]").err().unwrap().contains("not a JSON object"));
        assert!(parse_record("{oops").err().unwrap().contains("not valid JSON"));
        assert_eq!(parse_record("{\"id\": 7, \"text\": \"x\"}").unwrap().id.as_deref(), Some("7"));
    }
}
