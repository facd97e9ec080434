//! Checks on model output: is it in the right language and script, and does
//! it keep to the facts (numbers) of its source, is it about as long as it
//! should be (translations). A failed check makes the pipeline ask once more, saying what
//! failed, then flag the output.

use serde::Serialize;

use super::amounts::{amounts, numbers, same_value};
use super::glossary::Glossary;
use super::typography::chinese_amount;
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
            (!missing.is_empty()).then(|| format!("numbers not in the article: {}", missing.join(", "))),
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

    let left = untranslated_words(text, code, glossary);
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
    let found: Vec<&str> = comments
        .iter()
        .filter(|w| !about_translating && lower.contains(&w.to_lowercase()))
        .map(|w| w.as_str())
        .collect();
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
/// example sentence on Everton. The stretch is 24 characters in Chinese
/// (a clause) and 40 in alphabetic scripts, where 24 are three words that
/// any rendering on the same subject may share with an example
/// ("программного обеспечения").
pub fn copied_check(text: &str, code: &str, source: &str, examples: &str) -> Check {
    let stretch = if crate::lang::han_share(text) > 0.5 { 24 } else { 40 };
    let example_source = !source.trim().is_empty() && examples.contains(source.trim());
    // Byte offsets of every character, and the end: windows of stretch + 1
    // offsets are slices of `stretch` characters.
    let bounds: Vec<usize> = text.char_indices().map(|(i, _)| i).chain([text.len()]).collect();
    let copied = if example_source {
        None
    } else {
        bounds.windows(stretch + 1).map(|w| &text[w[0]..w[stretch]]).find(|w| examples.contains(w))
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
fn untranslated_words<'a>(text: &'a str, code: &str, glossary: &Glossary) -> Vec<&'a str> {
    let mut words: Vec<&str> =
        lang::latin_words_in(text).into_iter().filter(|w| !may_stay_latin(w, code, glossary)).collect();
    words.dedup();
    words
}

/// Whether a Latin word may appear as it is in a Chinese or Russian
/// rendering (language `code`): a code with digits ("G20"), a capitalised
/// name the glossary does not render in other words, or a single letter.
pub fn may_stay_latin(word: &str, code: &str, glossary: &Glossary) -> bool {
    if word.chars().any(|c| c.is_ascii_digit()) {
        return true;
    }
    let lower = word.chars().all(|c| !c.is_uppercase());
    !((lower && word.chars().count() >= 2) || glossary.knows(word, code))
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
        "zh" => (
            text.chars().filter(|c| lang::script_of(*c) == Some(lang::Script::Han)).count(),
            "Chinese characters",
            0.6,
            4.0,
        ),
        "ru" => (text.split_whitespace().count(), "words", 0.45, 2.0),
        _ => return None,
    };
    let ratio = units as f64 / english as f64;
    (ratio < low || ratio > high).then(|| {
        format!("{units} {what} for {english} English words: too {}", if ratio < low { "short" } else { "long" })
    })
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
            ("zh", v) if v >= 1e4 && a.raw.split_whitespace().count() > 1 => {
                format!("{} ({})", a.raw, chinese_amount(v))
            }
            _ => a.raw,
        })
        .collect();
    missing.dedup();
    missing
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
    let mut missing: Vec<String> =
        numbers(text).map(|r| &text[r]).filter(|raw| !known.contains(&normalised(raw))).map(str::to_string).collect();
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
        let sentences =
            crate::ingest::sentences::paragraphs(t).into_iter().flat_map(crate::ingest::sentences::sentences);
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
    fn brands_are_told_from_surnames_by_their_spelling() {
        for brand in ["EverGrow", "FedEx", "CoinMarketCap", "YouTube", "iPhone", "dApp"] {
            assert!(brand_spelling(brand), "{brand}");
        }
        for word in ["McCarthy", "MacArthur", "DeBerry", "DiCaprio", "LeBron", "Twitter", "NATO", "G20", "Dallas"] {
            assert!(!brand_spelling(word), "{word}");
        }
    }

    #[test]
    fn amounts_must_keep_their_value() {
        let g = Glossary::builtin();
        let en =
            "The study will cost 24 million euros, and the tunnel 13 billion, the ministers said on 12 March 2024.";
        let kept = |text: &str, code: &str| {
            translation_checks(text, code, en, g).into_iter().find(|c| c.name == "numbers_kept").unwrap()
        };
        assert!(kept("部长们于2024年3月12日表示，这项研究将耗资2400万欧元，隧道将耗资130亿欧元。", "zh").passed);
        let wrong = kept("部长们于2024年3月12日表示，这项研究将耗资2.4亿欧元，隧道将耗资130亿欧元。", "zh");
        assert_eq!(wrong.detail.as_deref(), Some("numbers of the English missing or changed: 24 million (2400万)"));
        assert!(kept("Министры заявили 12 марта 2024 года, что исследование обойдётся в 24 млн евро, а туннель — в 13 миллиардов.", "ru").passed);
        assert!(kept("Министры заявили 12 марта 2024 года, что исследование обойдётся в 24 000 000 евро, а туннель — в 13 млрд.", "ru").passed);
        let wrong = kept(
            "Министры заявили 12 марта 2024 года, что исследование обойдётся в 24 млн евро, а туннель — в 13 млн.",
            "ru",
        );
        assert!(wrong.detail.unwrap().ends_with(": 13 billion"));
        // Decimal commas, numbers inside names, clock times and small
        // numbers written as words are no changes.
        let en = "Rates rose to 0.25% at 7.30pm as COVID-19 cases hit 1,200 in two of the 5 regions.";
        let kept = translation_checks(
            "В 19:30 ставка выросла до 0,25%, когда число случаев COVID достигло 1200 в двух из пяти регионов.",
            "ru",
            en,
            g,
        );
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
        assert!(
            copied_check("Банк Англии в четверг повысил ставку.", "ru", "The Bank of England raised rates.", examples)
                .passed
        );
        let check = copied_check(
            "Верховный тренер «Эвертона» Шон Дайч заявил в пятницу, что игроки.",
            "ru",
            "EverGrow is big.",
            examples,
        );
        assert!(!check.passed && check.detail.unwrap().contains("тренер «Эвертона»"));
        // A short shared name is not a copy, nor a phrase of a few words.
        assert!(copied_check("Шон Дайч ушёл.", "ru", "Sean Dyche left.", examples).passed);
        let software = "Дайч — разработчик программного обеспечения.";
        let examples = "пресс-секретарь компании-разработчика программного обеспечения Zendesk.";
        assert!(copied_check(software, "ru", "Dyche is a software developer.", examples).passed);
        // Chinese copies are caught in fewer characters.
        let examples = "英国央行周四将利率上调至0.25%，这是三年多来的首次加息。";
        let check =
            copied_check("英国央行周四将利率上调至0.25%，这是三年多来的首次加息。", "zh", "Rates rose.", examples);
        assert!(!check.passed);
    }

    #[test]
    fn far_too_short_or_long_renderings_fail() {
        let en = "The central bank raised its key rate by half a point on Friday, the third rise this year.";
        assert_eq!(failed("央行加息。", "zh", en)[0].0, "length");
        let long = "Центральный банк повысил ключевую ставку. ".repeat(12);
        assert_eq!(failed(&long, "ru", en)[0].0, "length");
        assert!(failed(
            "Центральный банк в пятницу повысил ключевую ставку на полпункта, это третье повышение в этом году.",
            "ru",
            en
        )
        .is_empty());
    }
}
