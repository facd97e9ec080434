//! The Porter stemmer exactly as `rouge-score` uses it: NLTK's
//! `PorterStemmer` in its default `NLTK_EXTENSIONS` mode (rouge-score 0.1.2
//! builds `nltk.stem.porter.PorterStemmer()`; it has no copy of its own).
//!
//! NLTK's mode differs from Martin Porter's published versions in a few
//! places, all kept here: a table of irregular forms, `-ies`/`-ied` on
//! four-letter words, `y -> i` only after a consonant that is not the whole
//! stem, `-alli` handled before the other step-2 rules, `-fulli` and `-logi`,
//! and a two-letter vowel-consonant stem counting as "cvc".
//!
//! Steps follow the paper's names (1a, 1b, ...). Rules inside a step are
//! tried in order and the first suffix that matches decides, whether or not
//! its condition holds: that is how NLTK applies rule lists.

/// Stem one word. The word is lowercased first, as NLTK does.
pub fn stem(word: &str) -> String {
    let lower = word.to_lowercase();
    if let Some(fixed) = irregular_form(&lower) {
        return fixed.to_string();
    }
    // NLTK tests the length of the word as given, before lowercasing.
    if word.chars().count() <= 2 {
        return lower;
    }
    let mut w: Vec<char> = lower.chars().collect();
    step1a(&mut w);
    step1b(&mut w);
    step1c(&mut w);
    step2(&mut w);
    step3(&mut w);
    step4(&mut w);
    step5a(&mut w);
    step5b(&mut w);
    w.into_iter().collect()
}

/// NLTK's table of words the rules would stem badly.
fn irregular_form(word: &str) -> Option<&'static str> {
    Some(match word {
        "sky" | "skies" => "sky",
        "dying" => "die",
        "lying" => "lie",
        "tying" => "tie",
        "news" => "news",
        "innings" | "inning" => "inning",
        "outings" | "outing" => "outing",
        "cannings" | "canning" => "canning",
        "howe" => "howe",
        "proceed" => "proceed",
        "exceed" => "exceed",
        "succeed" => "succeed",
        _ => return None,
    })
}

fn is_vowel(c: char) -> bool {
    matches!(c, 'a' | 'e' | 'i' | 'o' | 'u')
}

/// The paper's consonant: not a vowel, and `y` only when it follows a vowel
/// (or starts the word). A run of `y`s alternates.
fn is_consonant(w: &[char], i: usize) -> bool {
    let mut i = i;
    let mut negate = false;
    while i > 0 && w[i] == 'y' {
        negate = !negate;
        i -= 1;
    }
    // A `y` at index 0 counts as a consonant, like any non-vowel.
    is_vowel(w[i]) == negate
}

/// The paper's measure m: the number of vowel-run -> consonant-run changes.
fn measure(stem: &[char]) -> usize {
    let mut m = 0;
    let mut previous_vowel = false;
    for i in 0..stem.len() {
        let consonant = is_consonant(stem, i);
        if consonant && previous_vowel {
            m += 1;
        }
        previous_vowel = !consonant;
    }
    m
}

fn contains_vowel(stem: &[char]) -> bool {
    (0..stem.len()).any(|i| !is_consonant(stem, i))
}

/// Condition *d: ends with a double consonant.
fn ends_double_consonant(w: &[char]) -> bool {
    let n = w.len();
    n >= 2 && w[n - 1] == w[n - 2] && is_consonant(w, n - 1)
}

/// Condition *o: ends consonant-vowel-consonant, the last not w, x or y;
/// NLTK also accepts a two-letter vowel-consonant word.
fn ends_cvc(w: &[char]) -> bool {
    let n = w.len();
    (n >= 3
        && is_consonant(w, n - 3)
        && !is_consonant(w, n - 2)
        && is_consonant(w, n - 1)
        && !matches!(w[n - 1], 'w' | 'x' | 'y'))
        || (n == 2 && !is_consonant(w, 0) && is_consonant(w, 1))
}

fn ends_with(w: &[char], suffix: &str) -> bool {
    let k = suffix.len();
    w.len() >= k && w[w.len() - k..].iter().copied().eq(suffix.chars())
}

fn replace_suffix(w: &mut Vec<char>, suffix_len: usize, replacement: &str) {
    w.truncate(w.len() - suffix_len);
    w.extend(replacement.chars());
}

/// A rule's condition, given the stem left after removing the suffix and
/// the whole word.
type Condition = fn(stem: &[char], word: &[char]) -> bool;

fn always(_: &[char], _: &[char]) -> bool {
    true
}

fn m_gt0(stem: &[char], _: &[char]) -> bool {
    measure(stem) > 0
}

fn m_gt1(stem: &[char], _: &[char]) -> bool {
    measure(stem) > 1
}

/// Applies the first rule whose suffix matches (if its condition holds).
fn apply_rules(w: &mut Vec<char>, rules: &[(&str, &str, Condition)]) {
    for &(suffix, replacement, condition) in rules {
        if ends_with(w, suffix) {
            let stem_len = w.len() - suffix.len();
            if condition(&w[..stem_len], w) {
                replace_suffix(w, suffix.len(), replacement);
            }
            return;
        }
    }
}

fn step1a(w: &mut Vec<char>) {
    if ends_with(w, "ies") && w.len() == 4 {
        replace_suffix(w, 3, "ie");
        return;
    }
    apply_rules(w, &[("sses", "ss", always), ("ies", "i", always), ("ss", "ss", always), ("s", "", always)]);
}

fn step1b(w: &mut Vec<char>) {
    if ends_with(w, "ied") {
        let replacement = if w.len() == 4 { "ie" } else { "i" };
        replace_suffix(w, 3, replacement);
        return;
    }
    if ends_with(w, "eed") {
        if measure(&w[..w.len() - 3]) > 0 {
            replace_suffix(w, 3, "ee");
        }
        return;
    }
    let removed =
        ["ed", "ing"].into_iter().find(|suffix| ends_with(w, suffix) && contains_vowel(&w[..w.len() - suffix.len()]));
    let Some(suffix) = removed else { return };
    w.truncate(w.len() - suffix.len());

    // Tidy the stem so later steps see -ate, -ble, -ize and single letters.
    for (end, replacement) in [("at", "ate"), ("bl", "ble"), ("iz", "ize")] {
        if ends_with(w, end) {
            replace_suffix(w, end.len(), replacement);
            return;
        }
    }
    if ends_double_consonant(w) {
        if !matches!(w[w.len() - 1], 'l' | 's' | 'z') {
            w.pop();
        }
        return;
    }
    if measure(w) == 1 && ends_cvc(w) {
        w.push('e');
    }
}

fn step1c(w: &mut Vec<char>) {
    // NLTK: y -> i only after a consonant, and not when that consonant is
    // the whole stem ("spy" -> "spi", but "by" stays).
    if ends_with(w, "y") {
        let stem = &w[..w.len() - 1];
        if stem.len() > 1 && is_consonant(stem, stem.len() - 1) {
            replace_suffix(w, 1, "i");
        }
    }
}

fn step2(w: &mut Vec<char>) {
    if ends_with(w, "alli") && measure(&w[..w.len() - 4]) > 0 {
        replace_suffix(w, 4, "al");
        step2(w);
        return;
    }
    apply_rules(
        w,
        &[
            ("ational", "ate", m_gt0),
            ("tional", "tion", m_gt0),
            ("enci", "ence", m_gt0),
            ("anci", "ance", m_gt0),
            ("izer", "ize", m_gt0),
            ("bli", "ble", m_gt0),
            ("alli", "al", m_gt0),
            ("entli", "ent", m_gt0),
            ("eli", "e", m_gt0),
            ("ousli", "ous", m_gt0),
            ("ization", "ize", m_gt0),
            ("ation", "ate", m_gt0),
            ("ator", "ate", m_gt0),
            ("alism", "al", m_gt0),
            ("iveness", "ive", m_gt0),
            ("fulness", "ful", m_gt0),
            ("ousness", "ous", m_gt0),
            ("aliti", "al", m_gt0),
            ("iviti", "ive", m_gt0),
            ("biliti", "ble", m_gt0),
            ("fulli", "ful", m_gt0),
            // NLTK measures the word less "ogi" here (the stem keeps its "l").
            ("logi", "log", |_, word| measure(&word[..word.len() - 3]) > 0),
        ],
    );
}

fn step3(w: &mut Vec<char>) {
    apply_rules(
        w,
        &[
            ("icate", "ic", m_gt0),
            ("ative", "", m_gt0),
            ("alize", "al", m_gt0),
            ("iciti", "ic", m_gt0),
            ("ical", "ic", m_gt0),
            ("ful", "", m_gt0),
            ("ness", "", m_gt0),
        ],
    );
}

fn step4(w: &mut Vec<char>) {
    apply_rules(
        w,
        &[
            ("al", "", m_gt1),
            ("ance", "", m_gt1),
            ("ence", "", m_gt1),
            ("er", "", m_gt1),
            ("ic", "", m_gt1),
            ("able", "", m_gt1),
            ("ible", "", m_gt1),
            ("ant", "", m_gt1),
            ("ement", "", m_gt1),
            ("ment", "", m_gt1),
            ("ent", "", m_gt1),
            ("ion", "", |stem, _| measure(stem) > 1 && matches!(stem.last(), Some('s' | 't'))),
            ("ou", "", m_gt1),
            ("ism", "", m_gt1),
            ("ate", "", m_gt1),
            ("iti", "", m_gt1),
            ("ous", "", m_gt1),
            ("ive", "", m_gt1),
            ("ize", "", m_gt1),
        ],
    );
}

fn step5a(w: &mut Vec<char>) {
    if ends_with(w, "e") {
        let stem = &w[..w.len() - 1];
        let m = measure(stem);
        if m > 1 || (m == 1 && !ends_cvc(stem)) {
            w.pop();
        }
    }
}

fn step5b(w: &mut Vec<char>) {
    if ends_with(w, "ll") && measure(&w[..w.len() - 1]) > 1 {
        w.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Examples printed in Porter's paper for each step; NLTK agrees on all.
    // The full comparison with NLTK runs in tests/metrics_parity.rs.
    #[test]
    fn paper_examples() {
        for (word, expected) in [
            ("caresses", "caress"),
            ("ponies", "poni"),
            ("cats", "cat"),
            ("agreed", "agre"),
            ("plastered", "plaster"),
            ("motoring", "motor"),
            ("hopping", "hop"),
            ("falling", "fall"),
            ("filing", "file"),
            ("happy", "happi"),
            ("relational", "relat"),
            ("hopefulness", "hope"),
            ("adjustment", "adjust"),
            ("controlling", "control"),
        ] {
            assert_eq!(stem(word), expected, "{word}");
        }
    }

    #[test]
    fn nltk_extensions() {
        assert_eq!(stem("dying"), "die");
        assert_eq!(stem("ties"), "tie");
        assert_eq!(stem("spied"), "spi");
        assert_eq!(stem("enjoy"), "enjoy");
        assert_eq!(stem("by"), "by");
    }
}
