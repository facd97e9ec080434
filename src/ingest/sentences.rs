//! Paragraphs and English sentences, as slices of the text they come from.
//!
//! Written here rather than taken from a crate: `unicode-segmentation`
//! implements the Unicode sentence-break rules (UAX #29), which know no
//! abbreviations and so break after "Mr.", "U.S." or "V." whenever a capital
//! follows. News text needs abbreviations, initials ("V. Stiviano",
//! "J.K. Rowling"), dates ("Dec. 2"), numbers ("No. 10", "$1.2 billion")
//! and quotes ending a sentence (`."`, `?'`) right.
//! Chinese full stops (。！？) end a sentence too, so translations can be
//! split the same way.

/// Paragraphs of `text`: runs of non-blank lines, trimmed. A blank line is
/// empty or whitespace only.
pub fn paragraphs(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut end = 0;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim().is_empty() {
            if let Some(s) = start.take() {
                out.push(text[s..end].trim());
            }
        } else {
            if start.is_none() {
                start = Some(offset);
            }
            end = offset + line.len();
        }
        offset += line.len();
    }
    if let Some(s) = start {
        out.push(text[s..end].trim());
    }
    out
}

/// Titles that always precede a name: a full stop after them never ends a sentence.
const TITLES: &[&str] = &[
    "Mr", "Mrs", "Ms", "Messrs", "Dr", "Prof", "Sen", "Sens", "Rep", "Reps", "Gov", "Gen", "Col", "Lt", "Sgt", "Capt",
    "Cmdr", "Adm", "Maj", "Brig", "Cpl", "Pvt", "Rev", "Hon", "Pres", "Supt", "Det", "Insp", "Mt", "Ft", "Fr", "Atty",
    "Gens",
];

/// Abbreviations that do not end a sentence when a number follows ("Dec. 2", "No. 10").
const BEFORE_NUMBER: &[&str] = &[
    "No", "Nos", "Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sep", "Sept", "Oct", "Nov", "Dec", "Art", "Vol",
    "pp", "p", "Fig", "Ch", "Sec", "Op", "Nr",
];

/// Abbreviations that may or may not end a sentence ("Apple Inc. The
/// company ..." but "Smith Jr. Johnson"): a boundary only before a word
/// that usually starts a sentence.
const AMBIGUOUS: &[&str] = &[
    "Inc", "Ltd", "Co", "Corp", "Jr", "Sr", "Bros", "etc", "vs", "approx", "Ave", "Blvd", "Rd", "Univ", "Dept", "Assn",
    "Plc", "plc", "Esq", "al", "St", // US state abbreviations in AP datelines: "AURORA, Colo. (AP) -".
    "Ala", "Ariz", "Ark", "Ca", "Cal", "Calif", "Colo", "Conn", "Del", "Fla", "Ga", "Ill", "Ind", "Kan", "Ky", "La",
    "Md", "Mass", "Mich", "Minn", "Miss", "Mo", "Mont", "Neb", "Nev", "Okla", "Ore", "Pa", "Tenn", "Tex", "Va", "Vt",
    "Wash", "Wis", "Wyo",
];

/// Words that commonly open a sentence, used after ambiguous abbreviations.
const SENTENCE_STARTERS: &[&str] = &[
    "The",
    "A",
    "An",
    "He",
    "She",
    "It",
    "They",
    "We",
    "I",
    "You",
    "But",
    "And",
    "In",
    "On",
    "This",
    "That",
    "These",
    "Those",
    "There",
    "His",
    "Her",
    "Their",
    "Its",
    "Our",
    "As",
    "At",
    "After",
    "Before",
    "When",
    "While",
    "If",
    "So",
    "Yet",
    "However",
    "Meanwhile",
    "Some",
    "Many",
    "Most",
    "Others",
    "For",
    "With",
    "By",
    "From",
    "Since",
    "Although",
    "Though",
    "Now",
    "Then",
    "Still",
    "Also",
    "What",
    "Who",
    "Why",
    "How",
    "Where",
    "Such",
    "Both",
    "Each",
    "All",
    "No",
    "Not",
    "Last",
    "Earlier",
    "Later",
    "Officials",
    "According",
];

fn is_closer(c: char) -> bool {
    matches!(c, '"' | '\'' | '”' | '’' | ')' | ']' | '»' | '」' | '』' | '）')
}

fn is_opener(c: char) -> bool {
    matches!(c, '"' | '\'' | '“' | '‘' | '(' | '[' | '«' | '「' | '『' | '（')
}

/// Whether `s` ends as a sentence does: a full stop, question or
/// exclamation mark or ellipsis (English or Chinese), perhaps inside closing
/// quotes or brackets (`He left."`). A headline does not.
pub fn ends_like_sentence(s: &str) -> bool {
    s.trim_end().trim_end_matches(is_closer).ends_with(['.', '!', '?', '…', '。', '！', '？'])
}

/// Sentences of one paragraph, trimmed, in order. Joined with single
/// spaces they give back the paragraph with the whitespace between
/// sentences normalised; no other character is lost.
pub fn sentences(paragraph: &str) -> Vec<&str> {
    let p = paragraph.trim();
    let chars: Vec<(usize, char)> = p.char_indices().collect();
    let n = chars.len();
    let byte_at = |i: usize| if i < n { chars[i].0 } else { p.len() };
    let mut out = Vec::new();
    let mut start = 0usize; // char index where the current sentence begins
    let mut i = 0;
    while i < n {
        let c = chars[i].1;
        if matches!(c, '。' | '！' | '？') {
            let mut k = i + 1;
            while k < n && (is_closer(chars[k].1) || matches!(chars[k].1, '。' | '！' | '？')) {
                k += 1;
            }
            let mut m = k;
            while m < n && chars[m].1.is_whitespace() {
                m += 1;
            }
            if m < n {
                out.push(p[byte_at(start)..byte_at(k)].trim());
                start = m;
            }
            i = m.max(i + 1);
            continue;
        }
        if !matches!(c, '.' | '!' | '?' | '…') {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < n && matches!(chars[j].1, '.' | '!' | '?' | '…') {
            j += 1;
        }
        let mut k = j;
        while k < n && is_closer(chars[k].1) {
            k += 1;
        }
        if k == n || !chars[k].1.is_whitespace() {
            i = k.max(i + 1);
            continue;
        }
        let mut m = k;
        while m < n && chars[m].1.is_whitespace() {
            m += 1;
        }
        if m == n {
            break;
        }
        let terminator = &p[byte_at(i)..byte_at(j)];
        let word_before = word_ending_at(p, byte_at(start), byte_at(i));
        let next_word = word_starting_at(p, byte_at(m));
        if ends_sentence(terminator, word_before, next_word) {
            out.push(p[byte_at(start)..byte_at(k)].trim());
            start = m;
        }
        i = m;
    }
    if start < n {
        out.push(p[byte_at(start)..].trim());
    }
    out
}

/// The word just before byte `end`, without leading opening punctuation.
fn word_ending_at(p: &str, floor: usize, end: usize) -> &str {
    let before = &p[floor..end];
    let word = before.rsplit(char::is_whitespace).next().unwrap_or("");
    word.trim_start_matches(|c: char| is_opener(c) || c == '—' || c == '-')
}

/// The word starting at byte `start` (up to the next whitespace), after
/// any list marker or quoted-reply mark: "- Plug in", "*Note", "> Also".
fn word_starting_at(p: &str, start: usize) -> &str {
    let rest = p[start..].trim_start_matches(|c: char| matches!(c, '*' | '-' | '>' | '•') || c.is_whitespace());
    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    &rest[..end]
}

fn ends_sentence(terminator: &str, word_before: &str, next_word: &str) -> bool {
    let next = next_word.trim_start_matches(is_opener);
    let Some(first) = next.chars().next() else {
        return false;
    };
    if first.is_lowercase() || !(first.is_alphanumeric()) {
        return false;
    }
    if terminator != "." {
        return true;
    }
    let next_bare = next.trim_end_matches(|c: char| !c.is_alphanumeric());
    let starts_sentence = SENTENCE_STARTERS.contains(&next_bare);
    let mut letters = word_before.chars();
    // A single capital letter is an initial: "V. Stiviano", "George W. Bush".
    if let (Some(c), None) = (letters.next(), letters.next()) {
        if c.is_uppercase() {
            return false;
        }
    }
    // Dotted abbreviations: "U.S.", "J.K.", "a.m.", "e.g.".
    if word_before.contains('.') && word_before.split('.').all(|part| part.chars().count() <= 2) {
        return starts_sentence;
    }
    if TITLES.contains(&word_before) {
        return false;
    }
    if BEFORE_NUMBER.contains(&word_before) && first.is_ascii_digit() {
        return false;
    }
    if AMBIGUOUS.contains(&word_before) {
        return starts_sentence;
    }
    true
}

/// The opening of `text`: its whole sentences from the start that fit in
/// `max_words` words, as a slice of `text` (paragraph breaks kept); at
/// least the first sentence, however long.
pub fn opening(text: &str, max_words: usize) -> &str {
    let mut end = 0;
    let mut words = 0;
    for sentence in paragraphs(text).into_iter().flat_map(sentences) {
        let n = sentence.split_whitespace().count();
        if words > 0 && words + n > max_words {
            break;
        }
        words += n;
        // Sentences are slices of `text`: where this one ends in it.
        end = sentence.as_ptr() as usize - text.as_ptr() as usize + sentence.len();
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_split_on_blank_lines() {
        let text = "\n  Title line\n\nFirst para\ncontinues here.\n \t\nSecond.\n\n\n";
        assert_eq!(paragraphs(text), vec!["Title line", "First para\ncontinues here.", "Second."]);
        assert!(paragraphs(" \n\n ").is_empty());
    }

    #[test]
    fn abbreviations_do_not_end_sentences() {
        let p = "Mr. Smith met Dr. Jones in the U.S. capital on Dec. 2 at No. 10 Downing St. in London. \
                 They talked.";
        assert_eq!(
            sentences(p),
            vec![
                "Mr. Smith met Dr. Jones in the U.S. capital on Dec. 2 at No. 10 Downing St. in London.",
                "They talked."
            ]
        );
    }

    #[test]
    fn initials_decimals_quotes_and_ellipses() {
        let p = "A judge ordered V. Stiviano to pay $2.6 million. J.K. Rowling agreed, at 3.5 percent. \
                 \"It is a victory,\" he said. \"Is it?\" she asked. 'Who knows?' Nobody... Then silence.";
        assert_eq!(
            sentences(p),
            vec![
                "A judge ordered V. Stiviano to pay $2.6 million.",
                "J.K. Rowling agreed, at 3.5 percent.",
                "\"It is a victory,\" he said.",
                "\"Is it?\" she asked.",
                "'Who knows?'",
                "Nobody...",
                "Then silence."
            ]
        );
    }

    #[test]
    fn dotted_abbreviation_ends_a_sentence_before_a_common_opener() {
        let p = "The firm moved to the U.S. The move cost $1.2 billion. It opened at 9 a.m. Monday.";
        assert_eq!(
            sentences(p),
            vec!["The firm moved to the U.S.", "The move cost $1.2 billion.", "It opened at 9 a.m. Monday."]
        );
    }

    #[test]
    fn chinese_full_stops_end_sentences() {
        assert_eq!(
            sentences("中国和俄罗斯达成共识。王毅说：“继续合作！”双方同意。"),
            vec!["中国和俄罗斯达成共识。", "王毅说：“继续合作！”", "双方同意。"]
        );
    }

    #[test]
    fn no_text_is_lost() {
        let p = "  One.  Two?\nThree!  ";
        let s = sentences(p);
        assert_eq!(s, vec!["One.", "Two?", "Three!"]);
        assert_eq!(sentences(""), Vec::<&str>::new());
    }

    #[test]
    fn the_opening_is_whole_sentences_within_the_words() {
        let text = "One two three four. Five six seven.\n\nEight nine. Ten eleven twelve.";
        assert_eq!(opening(text, 8), "One two three four. Five six seven.");
        assert_eq!(opening(text, 9), "One two three four. Five six seven.\n\nEight nine.");
        assert_eq!(opening(text, 12), text);
        // At least the first sentence, however long.
        assert_eq!(opening(text, 2), "One two three four.");
        assert_eq!(opening("", 5), "");
    }
}
