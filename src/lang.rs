//! Which scripts a text is written in and which language it most likely is.
//!
//! The pipeline checks that a Chinese rendering is in Han characters and a
//! Russian one in Cyrillic, and ingest warns when an article is not English.
//! Script shares come from Unicode block ranges; for Latin-script text a
//! small stopword list per language tells English from French, German,
//! Spanish and the like (script alone cannot).

use std::fmt;

/// The scripts we tell apart; everything else alphabetic is `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    Han,
    Cyrillic,
    Latin,
    Other,
}

/// The script of a letter, or `None` for a character that is not a letter
/// (digits, punctuation, spaces, symbols).
pub fn script_of(c: char) -> Option<Script> {
    if !c.is_alphabetic() {
        return None;
    }
    let u = c as u32;
    let script = match u {
        0x4E00..=0x9FFF
        | 0x3400..=0x4DBF
        | 0xF900..=0xFAFF
        | 0x20000..=0x2A6DF
        | 0x2A700..=0x2EBEF
        | 0x30000..=0x3134F
        | 0x3005
        | 0x3007 => Script::Han,
        0x0400..=0x052F | 0x1C80..=0x1C8F | 0x2DE0..=0x2DFF | 0xA640..=0xA69F => Script::Cyrillic,
        0x41..=0x5A
        | 0x61..=0x7A
        | 0xAA
        | 0xBA
        | 0xC0..=0x24F
        | 0x1E00..=0x1EFF
        | 0x2C60..=0x2C7F
        | 0xA720..=0xA7FF
        | 0xFF21..=0xFF3A
        | 0xFF41..=0xFF5A
        | 0x250..=0x2AF => Script::Latin,
        _ => Script::Other,
    };
    Some(script)
}

/// Letters of a text counted by script. Digits, punctuation and symbols
/// are not letters and are not counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScriptCounts {
    pub han: usize,
    pub cyrillic: usize,
    pub latin: usize,
    pub other: usize,
}

impl ScriptCounts {
    pub fn of(text: &str) -> ScriptCounts {
        let mut counts = ScriptCounts::default();
        for c in text.chars() {
            match script_of(c) {
                Some(Script::Han) => counts.han += 1,
                Some(Script::Cyrillic) => counts.cyrillic += 1,
                Some(Script::Latin) => counts.latin += 1,
                Some(Script::Other) => counts.other += 1,
                None => {}
            }
        }
        counts
    }

    /// All letters counted.
    pub fn letters(&self) -> usize {
        self.han + self.cyrillic + self.latin + self.other
    }

    fn share(&self, n: usize) -> f64 {
        match self.letters() {
            0 => 0.0,
            total => n as f64 / total as f64,
        }
    }
}

/// Share of the letters of `text` that are Han characters (0 when no letters).
pub fn han_share(text: &str) -> f64 {
    let c = ScriptCounts::of(text);
    c.share(c.han)
}

/// Share of the letters of `text` that are Cyrillic (0 when no letters).
pub fn cyrillic_share(text: &str) -> f64 {
    let c = ScriptCounts::of(text);
    c.share(c.cyrillic)
}

/// Share of the letters of `text` that are Latin (0 when no letters).
pub fn latin_share(text: &str) -> f64 {
    let c = ScriptCounts::of(text);
    c.share(c.latin)
}

/// A best guess at the language of a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Language {
    English,
    Chinese,
    Russian,
    /// Another language or script, named as well as we can ("French",
    /// "Arabic script", "a Latin-script language").
    Other(String),
    /// Too little text to tell.
    Unknown,
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Language::English => f.write_str("English"),
            Language::Chinese => f.write_str("Chinese"),
            Language::Russian => f.write_str("Russian"),
            Language::Other(name) => f.write_str(name),
            Language::Unknown => f.write_str("unknown"),
        }
    }
}

/// Frequent short words per Latin-script language. Frequent function words
/// make up a third or more of running text, so even a short paragraph has
/// enough of them; the lists avoid words shared by several languages where
/// they can.
const STOPWORDS: &[(&str, &[&str])] = &[
    (
        "English",
        &[
            "the", "and", "of", "to", "in", "is", "that", "for", "it", "was", "on", "with", "as", "his", "her", "by",
            "at", "from", "be", "this", "have", "are", "were", "which", "an", "has", "said", "not", "but", "they",
            "he", "she", "their", "will", "would", "been", "who", "or", "its", "after", "had", "we", "you", "than",
            "more", "about", "into", "over", "also", "a",
        ],
    ),
    (
        "French",
        &[
            "le", "la", "les", "des", "du", "et", "est", "une", "un", "dans", "pour", "qui", "sur", "au", "aux", "pas",
            "par", "avec", "ce", "cette", "sont", "il", "elle", "ont", "été", "mais", "ses", "leur", "plus", "ne",
            "se", "à", "a", "que",
        ],
    ),
    (
        "German",
        &[
            "der", "die", "das", "und", "ist", "nicht", "ein", "eine", "zu", "den", "dem", "mit", "von", "sich", "auf",
            "für", "im", "des", "auch", "es", "wird", "wurde", "sie", "er", "bei", "aus", "nach", "wie", "sind", "hat",
            "dass", "oder", "einen", "einer",
        ],
    ),
    (
        "Spanish",
        &[
            "el", "los", "las", "del", "y", "es", "una", "por", "con", "para", "que", "se", "lo", "su", "sus", "al",
            "como", "pero", "más", "fue", "está", "han", "ha", "entre", "sobre", "este", "esta", "en", "de", "la",
        ],
    ),
    (
        "Italian",
        &[
            "il", "gli", "della", "delle", "di", "che", "è", "e", "per", "con", "non", "una", "sono", "nel", "nella",
            "alla", "anche", "più", "come", "ma", "ha", "dei", "degli", "un", "la",
        ],
    ),
    (
        "Portuguese",
        &[
            "o", "os", "as", "da", "do", "das", "dos", "e", "em", "um", "uma", "não", "para", "com", "que", "por",
            "mais", "foi", "ao", "na", "no", "é", "são", "seu", "sua", "de",
        ],
    ),
    (
        "Dutch",
        &[
            "de", "het", "een", "en", "van", "is", "niet", "dat", "op", "te", "zijn", "met", "voor", "er", "aan",
            "ook", "als", "bij", "door", "wordt", "werd", "naar", "worden", "heeft", "hij",
        ],
    ),
];

/// A language needs at least this share of its stopwords among the words
/// (running English has 40% or more; a headline may have none).
const MIN_STOPWORD_RATE: f64 = 0.05;
/// A language other than English needs at least this many stopword hits:
/// one short word ("no", "un", "op") is as likely an English word or name.
const MIN_OTHER_HITS: usize = 2;
/// Text this long with no language's stopwords is not English, whatever it is.
const MIN_WORDS_FOR_UNKNOWN_LATIN: usize = 30;
/// Shares of letters above which a text is taken for Chinese or Russian. A
/// Han character carries about a word where Latin spells one in five
/// letters or so, so Chinese keeping English names has a low Han share;
/// Cyrillic and Latin words are of a length.
const MIN_HAN_SHARE: f64 = 0.2;
const MIN_CYRILLIC_SHARE: f64 = 0.35;

/// Guesses the language of `text` from the shares of its scripts and, for
/// Latin-script text, from how often each language's stopwords occur.
pub fn guess_language(text: &str) -> Language {
    let counts = ScriptCounts::of(text);
    let letters = counts.letters();
    if letters == 0 {
        return Language::Unknown;
    }
    if counts.share(counts.han) >= MIN_HAN_SHARE {
        let kana = text.chars().filter(|c| matches!(*c as u32, 0x3040..=0x30FF)).count();
        if kana * 10 > counts.han {
            return Language::Other("Japanese".into());
        }
        return Language::Chinese;
    }
    if counts.share(counts.cyrillic) >= MIN_CYRILLIC_SHARE {
        let ukrainian = text.chars().filter(|c| matches!(c, 'і' | 'ї' | 'є' | 'ґ' | 'І' | 'Ї' | 'Є' | 'Ґ')).count();
        if ukrainian * 100 > counts.cyrillic {
            return Language::Other("Ukrainian".into());
        }
        return Language::Russian;
    }
    if counts.share(counts.latin) >= 0.5 {
        return guess_latin_language(text);
    }
    let largest = [
        (counts.han, Script::Han),
        (counts.cyrillic, Script::Cyrillic),
        (counts.latin, Script::Latin),
        (counts.other, Script::Other),
    ]
    .into_iter()
    .max_by_key(|(n, _)| *n)
    .map(|(_, s)| s)
    .unwrap_or(Script::Other);
    match largest {
        Script::Han => Language::Chinese,
        Script::Cyrillic => Language::Russian,
        Script::Latin => guess_latin_language(text),
        Script::Other => Language::Other(other_script_name(text).into()),
    }
}

fn guess_latin_language(text: &str) -> Language {
    let words: Vec<String> = text
        .split(|c: char| !(c.is_alphabetic() || c == '\''))
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase())
        .collect();
    if words.is_empty() {
        return Language::Unknown;
    }
    let mut best: Option<(&str, usize)> = None;
    for (name, list) in STOPWORDS {
        let hits = words.iter().filter(|w| list.contains(&w.as_str())).count();
        let needed = if *name == "English" { 1 } else { MIN_OTHER_HITS };
        // Strictly more: English is listed first and wins ties.
        if hits >= needed && best.is_none_or(|(_, h)| hits > h) {
            best = Some((name, hits));
        }
    }
    match best {
        Some((name, hits)) if hits as f64 / words.len() as f64 >= MIN_STOPWORD_RATE => {
            if name == "English" {
                Language::English
            } else {
                Language::Other(name.into())
            }
        }
        _ if words.len() >= MIN_WORDS_FOR_UNKNOWN_LATIN => Language::Other("a Latin-script language".into()),
        _ => Language::Unknown,
    }
}

/// Names the most frequent non-Han, non-Cyrillic, non-Latin script.
fn other_script_name(text: &str) -> &'static str {
    const BLOCKS: &[(u32, u32, &str)] = &[
        (0x0370, 0x03FF, "Greek script"),
        (0x0590, 0x05FF, "Hebrew script"),
        (0x0600, 0x06FF, "Arabic script"),
        (0x0900, 0x097F, "Devanagari script"),
        (0x0E00, 0x0E7F, "Thai script"),
        (0x3040, 0x30FF, "Japanese"),
        (0xAC00, 0xD7AF, "Korean"),
        (0x1100, 0x11FF, "Korean"),
    ];
    let mut counts = vec![0usize; BLOCKS.len()];
    for c in text.chars() {
        let u = c as u32;
        if let Some(i) = BLOCKS.iter().position(|(lo, hi, _)| (*lo..=*hi).contains(&u)) {
            counts[i] += 1;
        }
    }
    match counts.iter().enumerate().max_by_key(|(_, n)| **n) {
        Some((i, n)) if *n > 0 => BLOCKS[i].2,
        _ => "an unrecognised script",
    }
}

fn is_latin_letter(c: char) -> bool {
    script_of(c) == Some(Script::Latin)
}

/// Runs of Latin letters (with digits and inner `-`, `'`, `.` joining them,
/// as in "G20", "COVID-19", "U.S") in a text, e.g. names left untranslated
/// in a Chinese rendering. A run must hold at least one Latin letter.
pub fn latin_words_in(text: &str) -> Vec<&str> {
    let mut words = Vec::new();
    let mut start: Option<usize> = None;
    let mut end = 0;
    let is_part = |c: char| is_latin_letter(c) || c.is_ascii_digit();
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if is_part(c) {
            if start.is_none() {
                start = Some(i);
            }
            end = i + c.len_utf8();
        } else if start.is_some() && matches!(c, '-' | '\'' | '’' | '.') {
            // A joiner only counts when a word character follows it.
            if !chars.peek().is_some_and(|(_, n)| is_part(*n)) {
                push_run(text, &mut words, start.take(), end);
            }
        } else {
            push_run(text, &mut words, start.take(), end);
        }
    }
    push_run(text, &mut words, start, end);
    words
}

fn push_run<'a>(text: &'a str, words: &mut Vec<&'a str>, start: Option<usize>, end: usize) {
    if let Some(s) = start {
        let w = &text[s..end];
        if w.chars().any(is_latin_letter) {
            words.push(w);
        }
    }
}

/// Words that mix Cyrillic and Latin letters, such as "Мoсква" written
/// with a Latin "o": a sign of a broken or spoofed rendering.
pub fn mixed_script_words(text: &str) -> Vec<&str> {
    text.split(|c: char| !(c.is_alphanumeric() || is_combining_mark(c)))
        .filter(|w| {
            let mut cyr = false;
            let mut lat = false;
            for c in w.chars() {
                match script_of(c) {
                    Some(Script::Cyrillic) => cyr = true,
                    Some(Script::Latin) => lat = true,
                    _ => {}
                }
            }
            cyr && lat
        })
        .collect()
}

fn is_combining_mark(c: char) -> bool {
    matches!(c as u32, 0x0300..=0x036F)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_letters_by_script_and_ignores_digits_and_punctuation() {
        let c = ScriptCounts::of("Путин, 习近平 and Trump: 2025!");
        assert_eq!(c, ScriptCounts { han: 3, cyrillic: 5, latin: 8, other: 0 });
        assert_eq!(ScriptCounts::of("2025, 3.5% — !?").letters(), 0);
        assert_eq!(ScriptCounts::of("한국어 ελληνικά").other, 11);
    }

    #[test]
    fn shares_are_fractions_of_letters() {
        assert_eq!(han_share("中国ab"), 0.5);
        assert_eq!(cyrillic_share("Москва"), 1.0);
        assert_eq!(latin_share("Москва"), 0.0);
        assert_eq!(latin_share("123"), 0.0);
        assert!((latin_share("Putin Путин") - 0.5).abs() < 1e-9);
    }

    #[test]
    fn guesses_the_three_languages_of_a_brief() {
        assert_eq!(
            guess_language("China and Russia reached a broad consensus on a range of issues during the visit."),
            Language::English
        );
        assert_eq!(guess_language("中国和俄罗斯在王毅访问莫斯科期间就一系列问题达成了广泛共识。"), Language::Chinese);
        // English names inside Chinese or Russian do not make it English.
        assert_eq!(guess_language("我们通过 Royal Mail International Signed For 寄送所有包裹。"), Language::Chinese);
        assert_eq!(
            guess_language("Основной способ доставки посылок сейчас Royal Mail International."),
            Language::Russian
        );
        // Latin names inside Chinese do not make it English.
        assert_eq!(guess_language("美国总统特朗普(Donald Trump)的特使Steve Witkoff访问了莫斯科。"), Language::Chinese);
        assert_eq!(
            guess_language(
                "Китай и Россия достигли широкого консенсуса по ряду вопросов во время визита Ван И в Москву."
            ),
            Language::Russian
        );
    }

    #[test]
    fn tells_other_latin_languages_from_english() {
        let fr = "La Chine et la Russie ont atteint un large consensus sur une série de questions pendant la visite du ministre.";
        let de = "China und Russland haben sich während des Besuchs des Ministers auf eine Reihe von Fragen geeinigt, wie es hieß.";
        let es = "China y Rusia alcanzaron un amplio consenso sobre una serie de temas durante la visita del ministro a Moscú.";
        assert_eq!(guess_language(fr), Language::Other("French".into()));
        assert_eq!(guess_language(de), Language::Other("German".into()));
        assert_eq!(guess_language(es), Language::Other("Spanish".into()));
    }

    #[test]
    fn other_scripts_and_empty_text() {
        assert_eq!(guess_language("Η Κίνα και η Ρωσία συμφώνησαν"), Language::Other("Greek script".into()));
        assert_eq!(guess_language("中国とロシアは合意に達しました"), Language::Other("Japanese".into()));
        assert_eq!(guess_language("Китай і Україна обговорили питання"), Language::Other("Ukrainian".into()));
        assert_eq!(guess_language("  2025 — 3.5% "), Language::Unknown);
        assert_eq!(guess_language("Xinhua Beijing"), Language::Unknown);
        // One stopword of another language in a short English line is no evidence.
        assert_eq!(guess_language("Owner says no."), Language::Unknown);
        assert_eq!(guess_language("Senior UN official skips Pakistan visit"), Language::Unknown);
    }

    #[test]
    fn finds_latin_words_in_chinese() {
        assert_eq!(
            latin_words_in("特朗普的特使Steve Witkoff与G20、COVID-19和U.S.官员会面。"),
            vec!["Steve", "Witkoff", "G20", "COVID-19", "U.S"]
        );
        assert!(latin_words_in("中国和俄罗斯 2025 年").is_empty());
        assert_eq!(latin_words_in("é-"), vec!["é"]);
    }

    #[test]
    fn finds_words_mixing_cyrillic_and_latin() {
        // "Мoсква" with a Latin o, "Kрeмль" with Latin K and e.
        let text = "В Мoсква прошли переговоры, Kрeмль заявил; Москва и Kremlin не смешаны.";
        assert_eq!(mixed_script_words(text), vec!["Мoсква", "Kрeмль"]);
        assert!(mixed_script_words("Москва Moscow").is_empty());
    }
}
