//! Python `str` whitespace rules, which the reference metrics rely on
//! through `str.split()`, `str.strip()` and `str.rstrip()`.
//!
//! Python's set differs from Rust's `char::is_whitespace`: it also counts
//! the separators U+001C..U+001F as whitespace.

/// True for exactly the characters for which Python's `str.isspace()` is true.
pub(crate) fn is_space(c: char) -> bool {
    matches!(
        c,
        '\t'..='\r'
            | '\u{1c}'..='\u{20}'
            | '\u{85}'
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}'
    )
}

/// Python's `s.split()`: runs of whitespace separate, no empty pieces.
pub(crate) fn split(s: &str) -> impl Iterator<Item = &str> {
    s.split(is_space).filter(|piece| !piece.is_empty())
}

/// Python's `s.strip()`.
pub(crate) fn strip(s: &str) -> &str {
    s.trim_matches(is_space)
}

/// Python's `s.rstrip()`.
pub(crate) fn rstrip(s: &str) -> &str {
    s.trim_end_matches(is_space)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differs_from_rust_on_information_separators() {
        assert!(is_space('\u{1f}') && !'\u{1f}'.is_whitespace());
        assert_eq!(split(" a\u{1c}b\u{3000}c ").collect::<Vec<_>>(), ["a", "b", "c"]);
        assert!(!is_space('\u{200b}'));
    }
}
