//! Cleaning of scraped text: page furniture out, story in.
//!
//! What counts as furniture is data, in `furniture.toml` (exact lines,
//! link-list headers, regular expressions and a few heuristics with their
//! thresholds); this module only applies it. Cleaning keeps the headline,
//! standfirst, dateline and every story paragraph, normalises whitespace,
//! joins hard-wrapped lines back into paragraphs and drops repeated lines.

use std::collections::HashSet;
use std::sync::OnceLock;

use regex::Regex;
use serde::Deserialize;

use super::sentences::{ends_like_sentence, sentences};

/// The rules file, embedded so the binary carries its own rules.
const FURNITURE_TOML: &str = include_str!("furniture.toml");

#[derive(Debug, Deserialize)]
struct FurnitureFile {
    heuristics: Heuristics,
    lines: LineLists,
    rule: Vec<RuleSpec>,
}

#[derive(Debug, Clone, Deserialize)]
struct Heuristics {
    nav_max_words: usize,
    nav_min_run: usize,
    kicker_max_words: usize,
    story_min_words: usize,
    sentence_min_words: usize,
}

#[derive(Debug, Deserialize)]
struct LineLists {
    exact: Vec<String>,
    link_list_headers: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct RuleSpec {
    name: String,
    regex: String,
    action: Action,
    max_words: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Action {
    Drop,
    DropWithNext,
}

#[derive(Debug)]
struct Rule {
    regex: Regex,
    action: Action,
    max_words: usize,
}

/// The compiled furniture rules.
#[derive(Debug)]
pub struct Furniture {
    exact: HashSet<String>,
    link_list_headers: HashSet<String>,
    rules: Vec<Rule>,
    heuristics: Heuristics,
}

impl Furniture {
    /// Parses and compiles a rules file in the format of `furniture.toml`.
    pub fn from_toml(source: &str) -> anyhow::Result<Furniture> {
        let file: FurnitureFile = toml::from_str(source)?;
        let rules = file
            .rule
            .into_iter()
            .map(|r| {
                let regex = Regex::new(&r.regex).map_err(|e| anyhow::anyhow!("rule {:?}: {e}", r.name))?;
                Ok(Rule { regex, action: r.action, max_words: r.max_words })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Furniture {
            exact: file.lines.exact.iter().map(|l| l.to_lowercase()).collect(),
            link_list_headers: file.lines.link_list_headers.iter().map(|l| l.to_lowercase()).collect(),
            rules,
            heuristics: file.heuristics,
        })
    }

    /// The built-in rules from `furniture.toml`.
    pub fn builtin() -> &'static Furniture {
        static BUILTIN: OnceLock<Furniture> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            Furniture::from_toml(FURNITURE_TOML).expect("the embedded furniture.toml is valid (unit-tested)")
        })
    }

    /// The first rule that marks `line` as furniture, if any.
    fn matching_rule(&self, line: &str, words: usize) -> Option<&Rule> {
        self.rules.iter().find(|r| words <= r.max_words && r.regex.is_match(line))
    }
}

/// A cleaned article text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cleaned {
    /// The headline, when the text starts with a line that reads as one.
    pub title: Option<String>,
    /// Paragraphs separated by one blank line, headline first if any.
    pub text: String,
    /// Some paragraph reads as a sentence of prose; without one the text is
    /// a menu, a list of links or a lone headline, not an article.
    pub has_prose: bool,
}

/// Cleans `text` with the built-in rules.
pub fn clean(text: &str) -> Cleaned {
    clean_with(text, Furniture::builtin())
}

/// One input line and what cleaning decided about it.
struct Line {
    text: String,
    /// Parts of the raw line separated by a tab or several spaces: a row
    /// of buttons ("Accept all   Manage preferences") comes out this way.
    parts: Vec<String>,
    /// Blank in the input: a paragraph break.
    blank: bool,
    keep: bool,
}

/// Cleans `text` with the given rules.
pub fn clean_with(text: &str, furniture: &Furniture) -> Cleaned {
    let h = &furniture.heuristics;
    // Old Mac line ends (a lone CR) are line ends too.
    let text = if text.contains('\r') {
        std::borrow::Cow::Owned(text.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        std::borrow::Cow::Borrowed(text)
    };
    let mut lines: Vec<Line> = text
        .lines()
        .map(|l| {
            let text = normalize_line(l);
            let blank = text.is_empty();
            let parts = split_wide_gaps(l.trim()).into_iter().map(normalize_line).collect();
            Line { text, parts, blank, keep: !blank }
        })
        .collect();

    drop_by_rules(&mut lines, furniture);
    drop_navigation_runs(&mut lines, h);
    drop_kickers(&mut lines, h);
    drop_repeats(&mut lines);

    let paragraphs = join_paragraphs(&lines);
    let title = paragraphs.first().filter(|p| looks_like_headline(p)).cloned();
    let has_prose = paragraphs
        .iter()
        .flat_map(|p| sentences(p))
        .any(|s| word_count(s) >= h.sentence_min_words && ends_like_sentence(s));
    Cleaned { title, text: paragraphs.join("\n\n"), has_prose }
}

/// Whitespace normalised: invisible characters removed, every run of
/// spaces (including no-break and other Unicode spaces) made one space.
fn normalize_line(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut pending_space = false;
    for c in line.chars() {
        if matches!(c, '\u{200B}' | '\u{FEFF}' | '\u{00AD}' | '\u{2060}') {
            continue;
        }
        if c.is_whitespace() {
            pending_space = true;
            continue;
        }
        if pending_space && !out.is_empty() {
            out.push(' ');
        }
        pending_space = false;
        out.push(c);
    }
    out
}

/// Splits at tabs and at runs of two or more spaces.
fn split_wide_gaps(line: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let wide = bytes[i] == b'\t' || (bytes[i] == b' ' && bytes.get(i + 1) == Some(&b' '));
        if wide {
            let mut j = i;
            while j < bytes.len() && (bytes[j] == b' ' || bytes[j] == b'\t') {
                j += 1;
            }
            parts.push(&line[start..i]);
            start = j;
            i = j;
        } else {
            i += 1;
        }
    }
    parts.push(&line[start..]);
    parts.retain(|p| !p.is_empty());
    parts
}

fn word_count(s: &str) -> usize {
    s.split_whitespace().count()
}

fn has_sentence_punctuation(s: &str) -> bool {
    s.chars().any(|c| matches!(c, '.' | '!' | '?' | ';' | ',' | '"' | '“' | '”' | ':'))
}

/// A line that is certainly story text: long and ending like a sentence.
fn is_story_line(s: &str, h: &Heuristics) -> bool {
    word_count(s) >= h.story_min_words && ends_like_sentence(s)
}

fn exact_key(s: &str) -> String {
    s.trim_end_matches([':', '|', ' ']).to_lowercase()
}

/// Exact lines, regex rules and link lists.
fn drop_by_rules(lines: &mut [Line], furniture: &Furniture) {
    let h = &furniture.heuristics;
    let mut i = 0;
    while i < lines.len() {
        if lines[i].blank {
            i += 1;
            continue;
        }
        let key = exact_key(&lines[i].text);
        let row_of_buttons =
            lines[i].parts.len() > 1 && lines[i].parts.iter().all(|p| furniture.exact.contains(&exact_key(p)));
        if furniture.exact.contains(&key) || row_of_buttons {
            lines[i].keep = false;
        } else if furniture.link_list_headers.contains(&key) {
            // The header and the links under it, up to the next story text.
            lines[i].keep = false;
            let mut j = i + 1;
            while j < lines.len() && (lines[j].blank || !is_story_line(&lines[j].text, h)) {
                lines[j].keep = false;
                j += 1;
            }
            i = j;
            continue;
        } else if let Some(rule) = furniture.matching_rule(&lines[i].text, word_count(&lines[i].text)) {
            lines[i].keep = false;
            if rule.action == Action::DropWithNext {
                // The paragraph after it: the rest of this block, or the
                // next block when this line ends its block.
                let mut j = i + 1;
                while j < lines.len() && lines[j].blank {
                    j += 1;
                }
                while j < lines.len() && !lines[j].blank {
                    lines[j].keep = false;
                    j += 1;
                }
                i = j;
                continue;
            }
        }
        i += 1;
    }
}

/// Runs of short unpunctuated lines: menus and section links.
fn drop_navigation_runs(lines: &mut [Line], h: &Heuristics) {
    let is_nav = |l: &Line| word_count(&l.text) <= h.nav_max_words && !has_sentence_punctuation(&l.text);
    let kept: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].keep).collect();
    let mut run_start = 0;
    while run_start < kept.len() {
        let mut run_end = run_start;
        while run_end < kept.len() && is_nav(&lines[kept[run_end]]) {
            run_end += 1;
        }
        if run_end - run_start >= h.nav_min_run {
            for &i in &kept[run_start..run_end] {
                lines[i].keep = false;
            }
        }
        run_start = run_end.max(run_start + 1);
    }
}

/// Section labels above the headline ("World", "Asia Pacific").
fn drop_kickers(lines: &mut [Line], h: &Heuristics) {
    for line in lines.iter_mut().filter(|l| l.keep) {
        if is_story_line(&line.text, h) {
            break;
        }
        let short = word_count(&line.text) <= h.kicker_max_words;
        if short && !has_sentence_punctuation(&line.text) && !line.text.chars().any(|c| c.is_ascii_digit()) {
            line.keep = false;
        }
    }
}

/// A line seen before (a repeated headline, byline or standfirst).
fn drop_repeats(lines: &mut [Line]) {
    let mut seen = HashSet::new();
    for line in lines.iter_mut().filter(|l| l.keep) {
        if !seen.insert(line.text.to_lowercase()) {
            line.keep = false;
        }
    }
}

/// Hard wrapping fills lines to a width of at most this many characters.
const MAX_WRAP_WIDTH: usize = 100;

/// Kept lines grouped into paragraphs: blank lines and dropped lines
/// separate paragraphs; inside one, hard-wrapped lines are joined.
fn join_paragraphs(lines: &[Line]) -> Vec<String> {
    let mut paragraphs = Vec::new();
    let mut block: Vec<&str> = Vec::new();
    for line in lines {
        if line.keep {
            block.push(&line.text);
        } else if !block.is_empty() {
            paragraphs.extend(unwrap_block(&block));
            block.clear();
        }
    }
    if !block.is_empty() {
        paragraphs.extend(unwrap_block(&block));
    }
    paragraphs
}

/// Lines of a block are one paragraph each unless they look hard-wrapped:
/// a line filling most of the block's width continues on the next line.
fn unwrap_block(block: &[&str]) -> Vec<String> {
    let width = block.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    if width > MAX_WRAP_WIDTH {
        return block.iter().map(|l| l.to_string()).collect();
    }
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    for (i, line) in block.iter().enumerate() {
        if current.is_empty() {
            current.push_str(line);
        } else if current.ends_with('-') && line.starts_with(char::is_lowercase) {
            current.push_str(line); // "well-" + "known"
        } else {
            current.push(' ');
            current.push_str(line);
        }
        let len = line.chars().count() as f64;
        let fills = len >= 0.6 * width as f64;
        let continues = fills && (!ends_like_sentence(line) || len >= 0.85 * width as f64);
        if !continues || i + 1 == block.len() {
            out.push(std::mem::take(&mut current));
        }
    }
    out
}

/// A headline: one short line that does not end like a sentence.
fn looks_like_headline(p: &str) -> bool {
    !p.contains('\n') && word_count(p) <= 25 && !p.trim_end().ends_with(['.', ',', ';', ':'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_rules_compile() {
        let f = Furniture::from_toml(FURNITURE_TOML).unwrap();
        assert!(f.rules.len() >= 10);
        assert!(f.exact.contains("advertisement"));
    }

    #[test]
    fn rows_of_buttons_are_furniture_but_rows_of_words_are_not() {
        assert_eq!(
            split_wide_gaps("Accept all   Manage preferences\tX"),
            vec!["Accept all", "Manage preferences", "X"]
        );
        let story = "The deal was agreed on Wednesday after talks that lasted through the night.";
        assert_eq!(clean(&format!("Accept all   Manage preferences\n\n{story}")).text, story);
        assert_eq!(
            clean(&format!("Accept all   the offers\n\n{story}")).text,
            format!("Accept all the offers\n\n{story}")
        );
    }

    #[test]
    fn whitespace_is_normalised() {
        assert_eq!(normalize_line("  a\u{a0}\u{a0}b\t c\u{200B}d  "), "a b cd");
        let story = "The council approved the budget on Monday after a long debate.";
        for ends in ["\n\n", "\r\n\r\n", "\r\r"] {
            let c = clean(&format!("Council passes budget{ends}{story}{ends}"));
            assert_eq!(c.text, format!("Council passes budget\n\n{story}"), "{ends:?}");
        }
    }

    #[test]
    fn hard_wrapped_lines_are_joined_and_short_lines_are_not() {
        let text = "Storm hits coast\n\n\
                    The storm reached the coast early on Tuesday, bringing winds of more\n\
                    than 150 kilometres an hour and cutting power to a well-\n\
                    known resort town.\n\
                    Officials said the damage was heavy.\n";
        let c = clean(text);
        assert_eq!(c.title.as_deref(), Some("Storm hits coast"));
        let paragraphs: Vec<&str> = c.text.split("\n\n").collect();
        assert_eq!(
            paragraphs,
            vec![
                "Storm hits coast",
                "The storm reached the coast early on Tuesday, bringing winds of more than 150 \
                 kilometres an hour and cutting power to a well-known resort town.",
                "Officials said the damage was heavy.",
            ]
        );
    }

    #[test]
    fn rules_apply_only_to_short_lines() {
        let long = "Officials said the website uses cookies to track visitors, and critics argued that \
                    the practice went far beyond what the law allowed for any public body in the country, \
                    a complaint the ministry rejected in a statement on Tuesday that ran to several pages \
                    and cited three earlier court rulings on data protection and privacy in public services.";
        assert!(clean(&format!("We use cookies to improve your experience.\n\n{long}")).text == long);
    }
}
