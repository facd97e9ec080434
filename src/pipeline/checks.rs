//! Checks on model output: is it in the right language and script, and does
//! it keep to the facts (numbers) of its source. A failed check makes the
//! pipeline retry once with a stricter prompt, then flag the output.

use serde::Serialize;

use crate::lang;

/// Share of letters that must be in the target script.
pub const MIN_SCRIPT_SHARE: f64 = 0.7;

/// The outcome of one check on one output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// What was checked: `english`, `script`, `numbers_in_article`, `complete`.
    pub name: &'static str,
    /// Which output: `summary` or a language code.
    pub output: String,
    pub passed: bool,
    /// Why it failed (or the measured value), for people reading the output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Check {
    fn new(name: &'static str, output: &str, passed: bool, detail: Option<String>) -> Check {
        Check { name, output: output.to_string(), passed, detail }
    }
}

/// Checks of an English summary against its article.
pub fn summary_checks(summary: &str, article: &str) -> Vec<Check> {
    let language = lang::guess_language(summary);
    let english = language == lang::Language::English;
    let missing = numbers_missing_from(summary, article);
    vec![
        Check::new(
            "english",
            "summary",
            english,
            (!english).then(|| format!("the summary looks like {language:?}, not English")),
        ),
        Check::new(
            "numbers_in_article",
            "summary",
            missing.is_empty(),
            (!missing.is_empty())
                .then(|| format!("numbers not in the article: {}", missing.join(", "))),
        ),
    ]
}

/// Checks of a rendering in language `code`.
pub fn translation_checks(text: &str, code: &str) -> Vec<Check> {
    let share = match code {
        "zh" => Some(lang::han_share(text)),
        "ru" => Some(lang::cyrillic_share(text)),
        _ => None,
    };
    let mut checks = Vec::new();
    if let Some(share) = share {
        let script = if code == "zh" { "Han" } else { "Cyrillic" };
        let passed = share >= MIN_SCRIPT_SHARE;
        checks.push(Check::new(
            "script",
            code,
            passed,
            Some(format!("{:.0}% of letters are {script}", share * 100.0)),
        ));
    }
    checks
}

/// A check that the output was not cut by the token limit.
pub fn complete_check(output: &str, cut: bool) -> Check {
    Check::new("complete", output, !cut, cut.then(|| "stopped at the token limit".to_string()))
}

/// Numbers written in `text` that do not occur in `source`, as written.
///
/// Thousands separators are ignored ("1,200" matches "1200").
pub fn numbers_missing_from(text: &str, source: &str) -> Vec<String> {
    let known: std::collections::HashSet<String> = numbers(source).map(|(_, n)| n).collect();
    let mut missing: Vec<String> = numbers(text)
        .filter(|(_, n)| !known.contains(n))
        .map(|(raw, _)| raw.to_string())
        .collect();
    missing.dedup();
    missing
}

/// Each number in `text`: as written, and normalised.
fn numbers(text: &str) -> impl Iterator<Item = (&str, String)> {
    let bytes = text.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < bytes.len() && !bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i >= bytes.len() {
            return None;
        }
        let start = i;
        while i < bytes.len() {
            let b = bytes[i];
            let joins_digits = (b == b',' || b == b'.')
                && i + 1 < bytes.len()
                && bytes[i + 1].is_ascii_digit();
            if b.is_ascii_digit() || joins_digits {
                i += 1;
            } else {
                break;
            }
        }
        let raw = &text[start..i];
        Some((raw, raw.replace(',', "")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_found_and_compared() {
        let article = "Sales rose 3.5 percent to 1,200 units in 2024.";
        assert!(numbers_missing_from("Sales hit 1200 units, up 3.5%.", article).is_empty());
        assert_eq!(numbers_missing_from("In 2025 sales rose 4 percent.", article), ["2025", "4"]);
        assert!(numbers_missing_from("No numbers here.", article).is_empty());
        // A full stop after a number is not a decimal point.
        assert!(numbers_missing_from("It happened in 2024.", article).is_empty());
    }

    #[test]
    fn script_checks_measure_the_share() {
        assert!(translation_checks("中国和俄罗斯签署了协议。", "zh")[0].passed);
        assert!(!translation_checks("China and Russia signed a deal.", "zh")[0].passed);
        assert!(translation_checks("Китай и Россия подписали соглашение.", "ru")[0].passed);
        assert!(!translation_checks("China i Rossiya", "ru")[0].passed);
    }
}
