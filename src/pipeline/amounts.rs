//! Numbers and amounts as English, Chinese and Russian texts write them:
//! where each number is, the scale word after it ("24 million", 2400万,
//! "24 млн") and the values it may stand for (a Russian "1,5" is 1.5 or
//! 1500). The checks compare a rendering's amounts with the English
//! (`checks`), and typesetting rewrites them (`typography`).

/// Whether `written` is a number in English thousands groups: "2,000",
/// "6,152,524"; not "1,5" (a Russian decimal) nor "2000".
pub(super) fn thousands_groups(written: &str) -> bool {
    let mut parts = written.split(',');
    let head = parts.next().unwrap_or_default();
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    written.contains(',') && (1..=3).contains(&head.len()) && digits(head) && parts.all(|g| g.len() == 3 && digits(g))
}

/// Whether `a` and `b` are the same value, but for rounding.
pub(super) fn same_value(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// A number written in digits, with the scale word after it.
pub(super) struct Amount {
    /// As written, with its scale word ("24 million").
    pub(super) raw: String,
    /// Where it is in the text, scale word included.
    pub(super) span: std::ops::Range<usize>,
    /// The number without its scale (24 for "24 million").
    pub(super) base: f64,
    /// Whether a scale word follows.
    pub(super) scaled: bool,
    /// The values it may stand for (a Russian "1,5" is 1.5 or 1500).
    pub(super) values: Vec<f64>,
    /// Worth checking in a rendering: at least 10, or with a decimal or scale.
    pub(super) significant: bool,
}

/// The amounts of `text`, written in language `code` (`en`, `zh`, `ru`).
pub(super) fn amounts(text: &str, code: &str) -> Vec<Amount> {
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

/// Where each number written in digits is in `text` (byte ranges).
pub(super) fn numbers(text: &str) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
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
            let joins_digits = (b == b',' || b == b'.') && i + 1 < bytes.len() && bytes[i + 1].is_ascii_digit();
            if b.is_ascii_digit() || joins_digits {
                i += 1;
            } else {
                break;
            }
        }
        Some(start..i)
    })
}
