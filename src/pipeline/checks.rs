//! Checks on model output: is it in the right language and script, and does
//! it keep to the facts (numbers) of its source, is it about as long as it
//! should be (translations). A failed check makes the pipeline ask once more, saying what
//! failed, then flag the output.

use serde::Serialize;

use super::glossary::Glossary;
use crate::lang;

/// Share of letters that must be in the target script.
pub const MIN_SCRIPT_SHARE: f64 = 0.7;

/// The outcome of one check on one output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// What was checked: `english`, `numbers_in_article`,
    /// `names_in_article`, `script`, `untranslated`, `mixed_script`,
    /// `numbers_kept`, `length`, `comment`, `copied`, `complete`.
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
    let names = names_missing_from(summary, article);
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
        Check::new(
            "names_in_article",
            "summary",
            names.is_empty(),
            (!names.is_empty()).then(|| format!("names not in the article: {}", names.join(", "))),
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
    let changed = amounts_missing(text, code, source);
    checks.push(Check::new(
        "numbers_kept",
        code,
        changed.is_empty(),
        (!changed.is_empty()).then(|| format!("numbers of the English missing or changed: {}", changed.join(", "))),
    ));
    if let Some(problem) = length_problem(text, code, source) {
        checks.push(Check::new("length", code, false, Some(problem)));
    } else {
        checks.push(Check::new("length", code, true, None));
    }
    checks
}

/// Whether the rendering `text` of `source` in language `code` talks about
/// translating (one of the language's `comments` words, "перевод",
/// "翻译", while the English does not): the chat model commenting on its
/// answer, or refusing, instead of giving it.
pub fn comment_check(text: &str, code: &str, source: &str, comments: &[String]) -> Check {
    let lower = text.to_lowercase();
    let about_translating = source.to_lowercase().contains("translat");
    let found: Vec<&str> =
        comments.iter().filter(|w| !about_translating && lower.contains(&w.to_lowercase())).map(|w| w.as_str()).collect();
    // A lead-in ("Вот текст на русском языке:") with nothing after it.
    let ends_in_lead_in = |s: &str| s.lines().last().is_some_and(super::is_lead_in);
    let lead_in_only = ends_in_lead_in(text) && !ends_in_lead_in(source);
    let detail = if !found.is_empty() {
        Some(format!("the answer talks about the translation ({}) instead of only giving it", found.join(", ")))
    } else {
        lead_in_only.then(|| "the answer announces a translation but does not give it".to_string())
    };
    Check::new("comment", code, detail.is_none(), detail)
}

/// Whether the rendering `text` of `source` copies a stretch of
/// `examples` (the prompt's example sentences), unless the source is one
/// of them: given a headline on "EverGrow", the 1.5B answered with its
/// example sentence on Everton.
pub fn copied_check(text: &str, code: &str, source: &str, examples: &str) -> Check {
    const STRETCH: usize = 24;
    let example_source = !source.trim().is_empty() && examples.contains(source.trim());
    // Byte offsets of every character, and the end: windows of STRETCH + 1
    // offsets are slices of STRETCH characters.
    let bounds: Vec<usize> = text.char_indices().map(|(i, _)| i).chain([text.len()]).collect();
    let copied = if example_source {
        None
    } else {
        bounds.windows(STRETCH + 1).map(|w| &text[w[0]..w[STRETCH]]).find(|w| examples.contains(w))
    };
    Check::new(
        "copied",
        code,
        copied.is_none(),
        copied.map(|w| format!("the answer copies the prompt's example (\"{w}\") instead of translating the text")),
    )
}

/// Latin words in a Chinese or Russian rendering that should have been
/// translated: ordinary lower-case words, and names the glossary renders.
/// Acronyms, codes with digits ("G20") and other capitalised names (brands
/// and titles often stay in Latin letters) are let through.
fn untranslated_words<'a>(text: &'a str, glossary: &Glossary) -> Vec<&'a str> {
    let mut words: Vec<&str> =
        lang::latin_words_in(text).into_iter().filter(|w| !may_stay_latin(w, glossary)).collect();
    words.dedup();
    words
}

/// Whether a Latin word may appear as it is in a Chinese or Russian
/// rendering: a code with digits ("G20"), a capitalised name the glossary
/// does not render, or a single letter.
pub fn may_stay_latin(word: &str, glossary: &Glossary) -> bool {
    if word.chars().any(|c| c.is_ascii_digit()) {
        return true;
    }
    let lower = word.chars().all(|c| !c.is_uppercase());
    !((lower && word.chars().count() >= 2) || glossary.knows(word))
}

/// Whether `word` is spelt as brands are, with a capital after a lower-case
/// letter inside it ("EverGrow", "FedEx", "YouTube", "iPhone"): Russian news
/// keeps such names in Latin letters. Surnames spelt so ("McCarthy",
/// "DeBerry", "DiCaprio") are people's names, not brands.
pub fn brand_spelling(word: &str) -> bool {
    const SURNAME_PREFIXES: [&str; 10] = ["Mc", "Mac", "De", "Di", "Da", "Du", "Le", "La", "Van", "Von"];
    let surname = SURNAME_PREFIXES
        .iter()
        .any(|p| word.strip_prefix(p).is_some_and(|rest| rest.starts_with(|c: char| c.is_uppercase())));
    !surname && word.chars().zip(word.chars().skip(1)).any(|(a, b)| a.is_lowercase() && b.is_uppercase())
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

/// Amounts written in digits in the English `source` that the rendering
/// `text` (language `code`) does not give with the same value, each as
/// written in English with, for Chinese, its usual form there ("24 million
/// (2400万)"): a rendering that turns 24 million into 2.4亿 is wrong
/// however fluent. Numbers under 10 without a decimal or scale are skipped
/// (often written as words), as are those inside names ("COVID-19", "F-16")
/// and clock times.
fn amounts_missing(text: &str, code: &str, source: &str) -> Vec<String> {
    let found: Vec<f64> = amounts(text, code).into_iter().flat_map(|a| a.values).collect();
    let mut missing: Vec<String> = amounts(source, "en")
        .into_iter()
        .filter(|a| a.significant)
        .filter(|a| !found.iter().any(|f| a.values.iter().any(|v| same_value(*f, *v))))
        .map(|a| match (code, a.values[0]) {
            ("zh", v) if v >= 1e4 && a.raw.split_whitespace().count() > 1 => format!("{} ({})", a.raw, chinese_amount(v)),
            _ => a.raw,
        })
        .collect();
    missing.dedup();
    missing
}

/// `text`, a Chinese rendering of `source`, with each amount written at
/// the wrong scale put right, and what was changed ("300 亿 -> 3亿"): the
/// 1.5B keeps the digits of "300 million" but writes them with 亿 (10^8),
/// and told so in a retry mostly does it again (README, "Quality"). An
/// English amount with a scale word is put right only when the rendering
/// lacks its value and has exactly one amount with its digits, whose value
/// the English does not have.
pub fn repair_amounts(text: &str, source: &str) -> (String, Vec<String>) {
    let english = amounts(source, "en");
    let chinese = amounts(text, "zh");
    let has_value = |list: &[Amount], v: f64| list.iter().any(|a| a.values.iter().any(|x| same_value(*x, v)));
    let mut fixes: Vec<(std::ops::Range<usize>, String)> = Vec::new();
    for a in english.iter().filter(|a| a.scaled && a.values[0] >= 1e4) {
        let v = a.values[0];
        if has_value(&chinese, v) {
            continue;
        }
        let same_digits: Vec<&Amount> = chinese.iter().filter(|c| same_value(c.base, a.base)).collect();
        if let [c] = same_digits[..] {
            if !has_value(&english, c.values[0]) && !fixes.iter().any(|(span, _)| *span == c.span) {
                fixes.push((c.span.clone(), chinese_amount(v)));
            }
        }
    }
    fixes.sort_by_key(|(span, _)| span.start);
    let mut out = String::with_capacity(text.len());
    let mut notes = Vec::new();
    let mut at = 0;
    for (span, right) in fixes {
        out.push_str(&text[at..span.start]);
        out.push_str(&right);
        notes.push(format!("{} -> {right}", &text[span.clone()]));
        at = span.end;
    }
    out.push_str(&text[at..]);
    (out, notes)
}

/// `text`, a Chinese rendering, with numbers under ten thousand written
/// without the English thousands separator ("2,000英尺" as 2000英尺), as
/// all four Chinese references of the shared WMT sets mostly write them.
/// Larger numbers keep their groups: the references write them grouped,
/// plain or in 万, with no clear habit (README, "Quality").
pub fn chinese_digit_groups(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for a in amounts(text, "zh") {
        let written = &text[a.span.clone()];
        if a.scaled || !thousands_groups(written) || a.base >= 1e4 {
            continue;
        }
        out.push_str(&text[at..a.span.start]);
        out.push_str(&written.replace(',', ""));
        at = a.span.end;
    }
    out.push_str(&text[at..]);
    out
}

/// `text`, a Russian rendering of `source`, with the numbers it copied from
/// the English in thousands groups ("4,000", "6,152,524") written as
/// Russian writes them, in groups parted by spaces ("4 000"), as the WMT22
/// Russian reference always does. Only a number written exactly so in the
/// English is changed: in Russian "1,686" may also be a decimal.
pub fn russian_digit_groups(text: &str, source: &str) -> String {
    let english: Vec<&str> = numbers(source).map(|r| &source[r]).collect();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for span in numbers(text) {
        let written = &text[span.clone()];
        if !thousands_groups(written) || !english.contains(&written) {
            continue;
        }
        out.push_str(&text[at..span.start]);
        out.push_str(&written.replace(',', " "));
        at = span.end;
    }
    out.push_str(&text[at..]);
    out
}

/// `text`, a rendering in language `code`, with the currency sign before
/// each amount ("$300 миллионов") replaced by the currency's name after it
/// ("300 миллионов долларов"), as Russian news writes amounts; the model
/// keeps the English sign. `names` maps a sign to the name's three forms:
/// after a number ending in 1, after one ending in 2 to 4 (or a decimal),
/// and after the others (11 to 14 among them) or a scale word. A sign
/// glued to letters ("US$") or an amount in spaced digit groups ("$1 200")
/// is left alone.
pub fn name_currencies(text: &str, code: &str, names: &std::collections::BTreeMap<String, [String; 3]>) -> String {
    let mut out = String::with_capacity(text.len() + 32);
    let mut at = 0;
    for a in amounts(text, code).into_iter().filter(|a| !a.span.is_empty()) {
        let before = text[..a.span.start].trim_end_matches([' ', '\u{a0}']);
        let Some((sign, forms)) = names.iter().find(|(sign, _)| before.ends_with(sign.as_str())) else { continue };
        let sign_at = before.len() - sign.len();
        let glued = text[..sign_at].chars().next_back().is_some_and(char::is_alphanumeric);
        let after = &text[a.span.end..];
        let grouped = after.strip_prefix([' ', '\u{a0}']).is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()));
        if sign_at < at || glued || grouped {
            continue;
        }
        // "$4,000" copied from the English is four thousand (долларов), not
        // 4 with a Russian decimal comma (доллара).
        let base = match (a.scaled, thousands_groups(&text[a.span.clone()])) {
            (false, true) => a.values.last().copied().unwrap_or(a.base),
            _ => a.base,
        };
        let whole = base.fract() == 0.0 && base < 1e15;
        let form = match (a.scaled, whole, base as u64 % 10, base as u64 % 100) {
            (true, ..) | (false, true, _, 11..=14) => &forms[2],
            (false, false, ..) | (false, true, 2..=4, _) => &forms[1],
            (false, true, 1, _) => &forms[0],
            _ => &forms[2],
        };
        out.push_str(&text[at..sign_at]);
        out.push_str(&text[a.span.clone()]);
        out.push(' ');
        out.push_str(form);
        at = a.span.end;
    }
    out.push_str(&text[at..]);
    out
}

/// Whether `written` is a number in English thousands groups: "2,000",
/// "6,152,524"; not "1,5" (a Russian decimal) nor "2000".
fn thousands_groups(written: &str) -> bool {
    let mut parts = written.split(',');
    let head = parts.next().unwrap_or_default();
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    written.contains(',') && (1..=3).contains(&head.len()) && digits(head) && parts.all(|g| g.len() == 3 && digits(g))
}

fn same_value(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// `v` the way Chinese news writes it: 2400万, 2.4亿.
fn chinese_amount(v: f64) -> String {
    let (n, unit) = if v >= 1e8 { (v / 1e8, "亿") } else { (v / 1e4, "万") };
    let n = format!("{n:.4}");
    format!("{}{unit}", n.trim_end_matches('0').trim_end_matches('.'))
}

/// A number written in digits, with the scale word after it.
struct Amount {
    /// As written, with its scale word ("24 million").
    raw: String,
    /// Where it is in the text, scale word included.
    span: std::ops::Range<usize>,
    /// The number without its scale (24 for "24 million").
    base: f64,
    /// Whether a scale word follows.
    scaled: bool,
    /// The values it may stand for (a Russian "1,5" is 1.5 or 1500).
    values: Vec<f64>,
    /// Worth checking in a rendering: at least 10, or with a decimal or scale.
    significant: bool,
}

/// The amounts of `text`, written in language `code` (`en`, `zh`, `ru`).
fn amounts(text: &str, code: &str) -> Vec<Amount> {
    let mut out = Vec::new();
    for range in numbers(text) {
        let (start, end, raw) = (range.start, range.end, &text[range]);
        if code == "en" && (in_name(text, start, end) || clock_time(text, start, end)) {
            continue;
        }
        let (scale, scale_len) = scale_after(&text[end..], code);
        let scale_text = text[end..end + scale_len].trim();
        let mut bases = Vec::new();
        match code {
            // A Russian comma is a decimal comma, or (in digit groups of
            // three) a thousands separator.
            "ru" => {
                bases.push(raw.replace(',', ".").parse::<f64>().ok());
                bases.push(raw.replace(',', "").parse::<f64>().ok());
            }
            _ => bases.push(raw.replace(',', "").parse::<f64>().ok()),
        }
        let bases: Vec<f64> = bases.into_iter().flatten().collect();
        let Some(&base) = bases.first() else { continue };
        let values: Vec<f64> = bases.iter().map(|b| b * scale).collect();
        let significant = values[0] >= 10.0 || raw.contains('.') || scale > 1.0;
        let raw = if scale_text.is_empty() { raw.to_string() } else { format!("{raw} {scale_text}") };
        out.push(Amount { raw, span: start..end + scale_len, base, scaled: scale > 1.0, values, significant });
    }
    if code == "ru" {
        // "1 200 000": digit groups of three after a space are one number.
        let joined = spaced_digit_groups(text);
        out.extend(joined.into_iter().map(|v| Amount {
            raw: String::new(),
            span: 0..0,
            base: v,
            scaled: false,
            values: vec![v],
            significant: false,
        }));
    }
    out
}

/// The number at `start..end` of English `text` is part of a name or code:
/// "COVID-19", "G20", "F-16", "1990s", "83rd" (but "16million" is not).
fn in_name(text: &str, start: usize, end: usize) -> bool {
    let mut before = text[..start].chars().rev();
    let letter_before = match before.next() {
        Some('-') => before.next().is_some_and(|c| c.is_ascii_alphabetic()),
        c => c.is_some_and(|c| c.is_ascii_alphabetic()),
    };
    let after = text[end..].to_ascii_lowercase();
    let letter_after = after.starts_with(|c: char| c.is_ascii_alphabetic())
        && !["bn", "mn", "tn", "million", "billion", "trillion"].iter().any(|s| after.starts_with(s));
    letter_before || letter_after
}

/// The number at `start..end` of English `text` is part of a clock time.
fn clock_time(text: &str, start: usize, end: usize) -> bool {
    let after = text[end..].trim_start().to_ascii_lowercase();
    text[..start].ends_with(':')
        || text[end..].starts_with(':')
        || ["am", "pm", "a.m", "p.m"].iter().any(|s| after.starts_with(s))
}

/// The factor of the scale word right after a number ("million", "万",
/// "млн") and its length in bytes, spaces before it included; 1 and 0 if
/// there is none.
fn scale_after(after: &str, code: &str) -> (f64, usize) {
    let trimmed = after.trim_start_matches([' ', '\u{a0}', '\u{202f}']);
    let spaces = after.len() - trimmed.len();
    match code {
        "zh" => {
            // "2400万", "2.4亿", "20多万", "百万" = 百 x 万; the model
            // sometimes puts a space before it ("300 亿").
            let mut factor = 1.0;
            let mut len = 0;
            for c in trimmed.chars() {
                let f = match c {
                    '十' => 10.0,
                    '百' => 100.0,
                    '千' => 1e3,
                    '万' => 1e4,
                    '亿' => 1e8,
                    '多' | '余' => 1.0,
                    _ => break,
                };
                factor *= f;
                len += c.len_utf8();
            }
            if factor > 1.0 {
                (factor, spaces + len)
            } else {
                (1.0, 0)
            }
        }
        _ => {
            let word: String = trimmed.chars().take_while(|c| c.is_alphabetic()).collect();
            let lower = word.to_lowercase();
            let factor = match code {
                "ru" => match lower.as_str() {
                    w if w.starts_with("тыс") => 1e3,
                    w if w.starts_with("млн") || w.starts_with("миллион") => 1e6,
                    w if w.starts_with("млрд") || w.starts_with("миллиард") => 1e9,
                    w if w.starts_with("трлн") || w.starts_with("триллион") => 1e12,
                    _ => 1.0,
                },
                _ => match lower.as_str() {
                    "thousand" => 1e3,
                    "million" | "mn" => 1e6,
                    "billion" | "bn" => 1e9,
                    "trillion" | "tn" => 1e12,
                    _ => 1.0,
                },
            };
            if factor > 1.0 {
                (factor, spaces + word.len())
            } else {
                (1.0, 0)
            }
        }
    }
}

/// Numbers written in digit groups separated by spaces ("1 200 000"), as
/// Russian writes thousands.
fn spaced_digit_groups(text: &str) -> Vec<f64> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() || (i > 0 && chars[i - 1].is_ascii_digit()) {
            i += 1;
            continue;
        }
        let mut digits = String::new();
        let mut groups = 0;
        let mut j = i;
        while j < chars.len() && chars[j].is_ascii_digit() {
            digits.push(chars[j]);
            j += 1;
        }
        while j + 3 < chars.len()
            && matches!(chars[j], ' ' | '\u{a0}' | '\u{202f}')
            && chars[j + 1..j + 4].iter().all(|c| c.is_ascii_digit())
            && chars.get(j + 4).is_none_or(|c| !c.is_ascii_digit())
        {
            digits.extend(&chars[j + 1..j + 4]);
            groups += 1;
            j += 4;
        }
        if groups > 0 {
            if let Ok(v) = digits.parse::<f64>() {
                out.push(v);
            }
        }
        i = j.max(i + 1);
    }
    out
}

/// A check that the output was not cut by the token limit.
pub fn complete_check(output: &str, cut: bool) -> Check {
    Check::new("complete", output, !cut, cut.then(|| "stopped at the token limit".to_string()))
}

/// Numbers written in `text` that do not occur in `source`, as written.
///
/// Thousands separators are ignored ("1,200" matches "1200").
pub fn numbers_missing_from(text: &str, source: &str) -> Vec<String> {
    let normalised = |raw: &str| raw.replace(',', "");
    let known: std::collections::HashSet<String> = numbers(source).map(|r| normalised(&source[r])).collect();
    let mut missing: Vec<String> = numbers(text)
        .map(|r| &text[r])
        .filter(|raw| !known.contains(&normalised(raw)))
        .map(str::to_string)
        .collect();
    missing.dedup();
    missing
}

/// Capitalised words of `text` (a summary) that its `source` does not
/// have: invented or misspelt names. A word passes if the source has it or
/// a word it begins ("Dutch" for "Dutchman"), or the country or people it
/// is the adjective of ("Mexican" for "Mexico", "Dutch" for "Netherlands").
/// Words that open a sentence (as `ingest::sentences` splits them) are not
/// judged, most are ordinary words; dots are ignored ("U.S." = "US").
pub fn names_missing_from(text: &str, source: &str) -> Vec<String> {
    // Each word without edge punctuation, possessive or dots, and whether
    // it opens a sentence.
    let words = |t: &str| -> Vec<(String, bool)> {
        let sentences = crate::ingest::sentences::paragraphs(t).into_iter().flat_map(crate::ingest::sentences::sentences);
        sentences
            .flat_map(|sentence| sentence.split_whitespace().enumerate())
            .map(|(position, raw)| {
                let word = raw.trim_matches(|c: char| !c.is_alphanumeric());
                let word = word.strip_suffix("'s").or_else(|| word.strip_suffix("’s")).unwrap_or(word);
                (word.replace('.', ""), position == 0)
            })
            .collect()
    };
    let known: std::collections::HashSet<String> = words(source).into_iter().map(|(w, _)| w).collect();
    let capitalised: Vec<&String> = known.iter().filter(|w| w.starts_with(char::is_uppercase)).collect();
    let begins_known = |stem: &str| capitalised.iter().any(|k| k.starts_with(stem));
    let adjective_of_known = |w: &str| {
        if let Some((_, place)) = IRREGULAR_DEMONYMS.iter().find(|(d, _)| *d == w) {
            return place.split('|').any(|p| known.contains(p));
        }
        ["ians", "ian", "ans", "an", "ese", "ish", "is", "i", "s"]
            .iter()
            .any(|suffix| w.strip_suffix(suffix).is_some_and(|stem| stem.chars().count() >= 4 && begins_known(stem)))
    };
    let mut missing: Vec<String> = words(text)
        .into_iter()
        .filter(|(w, opens)| !opens && w.starts_with(char::is_uppercase))
        .filter(|(w, _)| !begins_known(w) && !adjective_of_known(w))
        .map(|(w, _)| w)
        .collect();
    missing.dedup();
    missing
}

/// Adjectives of countries that are not their name plus a suffix, with the
/// names they may stand for.
const IRREGULAR_DEMONYMS: &[(&str, &str)] = &[
    ("Dutch", "Netherlands|Holland"),
    ("French", "France"),
    ("Welsh", "Wales"),
    ("Swiss", "Switzerland"),
    ("Scottish", "Scotland"),
    ("Scots", "Scotland"),
    ("Irish", "Ireland"),
    ("British", "Britain|UK|England"),
    ("Greek", "Greece"),
    ("Thai", "Thailand"),
    ("Filipino", "Philippines"),
    ("Spanish", "Spain"),
    ("Danish", "Denmark"),
    ("Swedish", "Sweden"),
    ("Polish", "Poland"),
    ("Finnish", "Finland"),
    ("Turkish", "Turkey"),
    ("Saudi", "Arabia"),
];

/// Where each number written in digits is in `text` (byte ranges).
fn numbers(text: &str) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
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
        Some(start..i)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_signs_become_names_after_the_amount() {
        let names: std::collections::BTreeMap<String, [String; 3]> = [
            ("$".to_string(), ["доллар", "доллара", "долларов"].map(String::from)),
            ("£".to_string(), ["фунт стерлингов", "фунта стерлингов", "фунтов стерлингов"].map(String::from)),
        ]
        .into();
        let named = |t: &str| name_currencies(t, "ru", &names);
        assert_eq!(named("упал ниже $300 миллионов в цене"), "упал ниже 300 миллионов долларов в цене");
        assert_eq!(named("за $6,9 млрд и £75 млн."), "за 6,9 млрд долларов и 75 млн фунтов стерлингов.");
        assert_eq!(named("за £25 ($33) и $ 21, $1, $2,5, $12"), "за 25 фунтов стерлингов (33 доллара) и 21 доллар, 1 доллар, 2,5 доллара, 12 долларов");
        assert_eq!(named("$4,000 и $1,001"), "4,000 долларов и 1,001 доллар");
        // Left alone: no sign, a sign glued to letters, spaced digit groups.
        for text in ["выросли на 300 долларов", "US$5 млн", "$1 200 в месяц", "€5"] {
            assert_eq!(named(text), text);
        }
    }

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
    fn amounts_at_the_wrong_scale_are_put_right_when_it_is_clear_which() {
        let en = "The coin sank below $300 million, a tenth of its $3 billion peak, in 2021.";
        let (text, notes) = repair_amounts("该币跌至 300 亿美元以下，是其30亿美元峰值的十分之一，时间是2021年。", en);
        assert_eq!(text, "该币跌至 3亿美元以下，是其30亿美元峰值的十分之一，时间是2021年。");
        assert_eq!(notes, ["300 亿 -> 3亿"]);
        let checked = translation_checks(&text, "zh", en, Glossary::builtin());
        assert!(checked.iter().any(|c| c.name == "numbers_kept" && c.passed), "{checked:?}");
        // Other digits ("7400万" for 34 million), two amounts with the same
        // digits, or a value the English has: left for the check to flag.
        for (zh, en) in [
            ("耗资7400万英镑。", "It cost £34 million."),
            ("从20亿增至20万亿。", "It grew from $20 billion to $20 trillion."),
            ("30亿美元，后来又是300亿美元。", "$3 billion, later $30 billion."),
        ] {
            let (text, notes) = repair_amounts(zh, en);
            assert!(text == zh && notes.is_empty(), "{zh} -> {text}");
        }
    }

    #[test]
    fn chinese_numbers_under_ten_thousand_lose_their_separator() {
        assert_eq!(
            chinese_digit_groups("在2,000英尺以上，约17,500名士兵，共109,990,742剂，2,000万美元，1,5。"),
            "在2000英尺以上，约17,500名士兵，共109,990,742剂，2,000万美元，1,5。"
        );
    }

    #[test]
    fn brands_are_told_from_surnames_by_their_spelling() {
        for brand in ["EverGrow", "FedEx", "CoinMarketCap", "YouTube", "iPhone", "dApp"] {
            assert!(brand_spelling(brand), "{brand}");
        }
        for word in ["McCarthy", "MacArthur", "DeBerry", "DiCaprio", "LeBron", "Twitter", "NATO", "G20", "Dallas"] {
            assert!(!brand_spelling(word), "{word}");
        }
    }

    #[test]
    fn russian_numbers_copied_with_english_groups_get_spaced_groups() {
        let en = "Nearly 4,000 firms, 6,152,524 cases, a 1.5% rise and 1,5 as a code.";
        assert_eq!(
            russian_digit_groups("Почти 4,000 фирм, 6,152,524 случаев, рост на 1,5% и код 1,5; 2,500 лет.", en),
            "Почти 4 000 фирм, 6 152 524 случаев, рост на 1,5% и код 1,5; 2,500 лет."
        );
    }

    #[test]
    fn amounts_must_keep_their_value() {
        let g = Glossary::builtin();
        let en = "The study will cost 24 million euros, and the tunnel 13 billion, the ministers said on 12 March 2024.";
        let kept = |text: &str, code: &str| {
            translation_checks(text, code, en, g).into_iter().find(|c| c.name == "numbers_kept").unwrap()
        };
        assert!(kept("部长们于2024年3月12日表示，这项研究将耗资2400万欧元，隧道将耗资130亿欧元。", "zh").passed);
        let wrong = kept("部长们于2024年3月12日表示，这项研究将耗资2.4亿欧元，隧道将耗资130亿欧元。", "zh");
        assert_eq!(wrong.detail.as_deref(), Some("numbers of the English missing or changed: 24 million (2400万)"));
        assert!(kept("Министры заявили 12 марта 2024 года, что исследование обойдётся в 24 млн евро, а туннель — в 13 миллиардов.", "ru").passed);
        assert!(kept("Министры заявили 12 марта 2024 года, что исследование обойдётся в 24 000 000 евро, а туннель — в 13 млрд.", "ru").passed);
        let wrong = kept("Министры заявили 12 марта 2024 года, что исследование обойдётся в 24 млн евро, а туннель — в 13 млн.", "ru");
        assert!(wrong.detail.unwrap().ends_with(": 13 billion"));
        // Decimal commas, numbers inside names, clock times and small
        // numbers written as words are no changes.
        let en = "Rates rose to 0.25% at 7.30pm as COVID-19 cases hit 1,200 in two of the 5 regions.";
        let kept = translation_checks("В 19:30 ставка выросла до 0,25%, когда число случаев COVID достигло 1200 в двух из пяти регионов.", "ru", en, g);
        assert!(kept.iter().all(|c| c.name != "numbers_kept" || c.passed), "{kept:?}");
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
    fn names_not_in_the_article_are_named() {
        let article = "Mexico City police said on Monday that Juan Perez, 34, was arrested in the U.S. \
                       after a chase. The Dutch-born coach of Ajax praised officers from the Netherlands.";
        let ok = "Police in Mexico arrested Juan Perez in the US. Mexican and Dutch officers helped. \
                  The coach's side Ajax was not involved.";
        assert_eq!(names_missing_from(ok, article), Vec::<String>::new());
        let invented = "Police arrested Juan Lopez after a chase, with help from French and Texas officers.";
        assert_eq!(names_missing_from(invented, article), vec!["Lopez", "French", "Texas"]);
    }

    #[test]
    fn latin_letters_inside_russian_words_fail() {
        let en = "Moscow said on Tuesday that the talks would go on next week.";
        let f = failed("Мoсква заявила во вторник, что переговоры продолжатся на следующей неделе.", "ru", en);
        assert_eq!(f[0].0, "mixed_script");
        assert!(f[0].1.contains("Мoсква"), "{f:?}");
    }

    #[test]
    fn comments_on_the_translation_fail_unless_the_english_speaks_of_translating() {
        let words = ["перевод".to_string(), "не могу выполнить".to_string()];
        let en = "Crowds were seen in Bristol.";
        assert!(comment_check("Толпы видели в Бристоле.", "ru", en, &words).passed);
        let check = comment_check("Вот перевод текста: толпы видели.", "ru", en, &words);
        assert!(!check.passed && check.detail.unwrap().contains("перевод"));
        assert!(!comment_check("Извините, но я не могу выполнить эту задачу.", "ru", en, &words).passed);
        let en = "The book was translated into Russian.";
        assert!(comment_check("Книга вышла в переводе на русский.", "ru", en, &words).passed);
        let check = comment_check("Конечно, вот текст на русском языке:", "ru", "Crowds were seen.", &words);
        assert!(!check.passed && check.detail.unwrap().contains("does not give it"));
        assert!(comment_check("Он сказал:", "ru", "He said:", &words).passed);
    }

    #[test]
    fn renderings_that_copy_an_example_fail() {
        let examples = "Russian: Главный тренер «Эвертона» Шон Дайч заявил в пятницу, что два игрока пропустят матч.";
        assert!(copied_check("Банк Англии в четверг повысил ставку.", "ru", "The Bank of England raised rates.", examples).passed);
        let check = copied_check("Верховный тренер «Эвертона» Шон Дайч заявил в пятницу, что игроки.", "ru", "EverGrow is big.", examples);
        assert!(!check.passed && check.detail.unwrap().contains("тренер «Эвертона»"));
        // A short shared name is not a copy.
        assert!(copied_check("Шон Дайч ушёл.", "ru", "Sean Dyche left.", examples).passed);
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
