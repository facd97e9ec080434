//! Checks on model output: is it in the right language and script, and does
//! it keep to the facts (numbers) of its source. A failed check makes the
//! pipeline retry once with a stricter prompt, then flag the output.

use serde::Serialize;

use super::glossary::Glossary;
use crate::lang;

/// Share of letters that must be in the target script.
pub const MIN_SCRIPT_SHARE: f64 = 0.7;

/// The outcome of one check on one output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// What was checked: `english`, `numbers_in_article`, `script`,
    /// `untranslated`, `mixed_script`, `length`, `complete`.
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

/// Checks of `text`, the rendering of `source` in language `code`.
pub fn translation_checks(text: &str, code: &str, source: &str, glossary: &Glossary) -> Vec<Check> {
    let (share, script) = match code {
        "zh" => (lang::han_share(text), "Han"),
        "ru" => (lang::cyrillic_share(text), "Cyrillic"),
        _ => return Vec::new(),
    };
    let mut checks = Vec::new();
    let passed = share >= MIN_SCRIPT_SHARE;
    checks.push(Check::new("script", code, passed, Some(format!("{:.0}% of letters are {script}", share * 100.0))));

    let left = untranslated_words(text, glossary);
    checks.push(Check::new(
        "untranslated",
        code,
        left.is_empty(),
        (!left.is_empty()).then(|| format!("English words left untranslated: {}", left.join(", "))),
    ));
    if code == "ru" {
        let mixed = lang::mixed_script_words(text);
        checks.push(Check::new(
            "mixed_script",
            code,
            mixed.is_empty(),
            (!mixed.is_empty()).then(|| format!("Latin letters inside Russian words: {}", mixed.join(", "))),
        ));
    }
    if let Some(problem) = length_problem(text, code, source) {
        checks.push(Check::new("length", code, false, Some(problem)));
    } else {
        checks.push(Check::new("length", code, true, None));
    }
    checks
}

/// Latin words in a Chinese or Russian rendering that should have been
/// translated: ordinary lower-case words, and names the glossary renders.
/// Acronyms, codes with digits ("G20") and other capitalised names (brands
/// and titles often stay in Latin letters) are let through.
fn untranslated_words<'a>(text: &'a str, glossary: &Glossary) -> Vec<&'a str> {
    let mut words: Vec<&str> = lang::latin_words_in(text)
        .into_iter()
        .filter(|w| !w.chars().any(|c| c.is_ascii_digit()))
        .filter(|w| {
            let lower = w.chars().all(|c| !c.is_uppercase());
            (lower && w.chars().count() >= 2) || glossary.knows(w)
        })
        .collect();
    words.dedup();
    words
}

/// Says what is wrong if the rendering is far shorter or longer than its
/// source: a cut or summarised translation, or one with comments added.
/// The bounds are wide (typical news ratios are about 1.6 Han characters,
/// or 0.9 Russian words, per English word) and short texts are not judged.
fn length_problem(text: &str, code: &str, source: &str) -> Option<String> {
    let english = source.split_whitespace().count();
    if english < 8 {
        return None;
    }
    let (units, what, low, high) = match code {
        "zh" => (text.chars().filter(|c| lang::script_of(*c) == Some(lang::Script::Han)).count(), "Chinese characters", 0.6, 4.0),
        "ru" => (text.split_whitespace().count(), "words", 0.45, 2.0),
        _ => return None,
    };
    let ratio = units as f64 / english as f64;
    (ratio < low || ratio > high)
        .then(|| format!("{units} {what} for {english} English words: too {}", if ratio < low { "short" } else { "long" }))
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
        let g = Glossary::builtin();
        let en = "China and Russia signed a deal.";
        assert!(translation_checks("中国和俄罗斯签署了协议。", "zh", en, g)[0].passed);
        assert!(!translation_checks("China and Russia signed a deal.", "zh", en, g)[0].passed);
        assert!(translation_checks("Китай и Россия подписали соглашение.", "ru", en, g)[0].passed);
        assert!(!translation_checks("China i Rossiya", "ru", en, g)[0].passed);
    }

    fn failed(text: &str, code: &str, source: &str) -> Vec<(&'static str, String)> {
        translation_checks(text, code, source, Glossary::builtin())
            .into_iter()
            .filter(|c| !c.passed)
            .map(|c| (c.name, c.detail.unwrap_or_default()))
            .collect()
    }

    #[test]
    fn untranslated_words_are_named_but_kept_names_pass() {
        let en = "The postponement of the talks in Beijing gave Tesla momentum, G20 officials said.";
        let f = failed("会谈在Beijing的postponement给了Tesla动力，G20官员说，这是势头。", "zh", en);
        let untranslated = ("untranslated", "English words left untranslated: Beijing, postponement".to_string());
        assert!(f.contains(&untranslated), "{f:?}");
        assert!(failed("会谈在北京推迟，给了Tesla动力，G20官员说，这带来了新的势头和更多的机会。", "zh", en).is_empty());
    }

    #[test]
    fn latin_letters_inside_russian_words_fail() {
        let en = "Moscow said on Tuesday that the talks would go on next week.";
        let f = failed("Мoсква заявила во вторник, что переговоры продолжатся на следующей неделе.", "ru", en);
        assert_eq!(f[0].0, "mixed_script");
        assert!(f[0].1.contains("Мoсква"), "{f:?}");
    }

    #[test]
    fn far_too_short_or_long_renderings_fail() {
        let en = "The central bank raised its key rate by half a point on Friday, the third rise this year.";
        assert_eq!(failed("央行加息。", "zh", en)[0].0, "length");
        let long = "Центральный банк повысил ключевую ставку. ".repeat(12);
        assert_eq!(failed(&long, "ru", en)[0].0, "length");
        assert!(failed("Центральный банк в пятницу повысил ключевую ставку на полпункта, это третье повышение в этом году.", "ru", en).is_empty());
    }
}
