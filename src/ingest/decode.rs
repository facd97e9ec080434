//! Bytes to text: UTF-8 (BOM stripped), UTF-16 with a BOM, or a legacy
//! encoding guessed by `chardetng` and decoded by `encoding_rs`.
//!
//! Binary files and text that no encoding makes sense of are refused with a
//! message saying what to do, rather than passed on as mojibake.

use crate::InputError;

/// Text decoded from an input's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub text: String,
    /// Set when the input was not UTF-8, e.g. "decoded from windows-1252".
    pub note: Option<String>,
}

/// More than this share of control characters (other than tab, newline,
/// carriage return and form feed) means the input is not text.
const MAX_CONTROL_SHARE: f64 = 0.05;

/// Decodes `bytes` read from `source` (a path or `-`, used in messages).
pub fn decode(bytes: &[u8], source: &str) -> Result<Decoded, InputError> {
    if let Some((encoding, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, had_errors) = encoding.decode_without_bom_handling(&bytes[bom_len..]);
        if had_errors {
            return Err(InputError::new(
                source,
                format!(
                    "starts with a {} byte-order mark but is not valid {} after it; \
                     re-save the file as UTF-8",
                    encoding.name(),
                    encoding.name()
                ),
            ));
        }
        let note = (encoding != encoding_rs::UTF_8).then(|| format!("decoded from {}", encoding.name()));
        return finish(text.into_owned(), note, source);
    }
    if bytes.contains(&0) {
        return Err(InputError::new(
            source,
            "looks like a binary file (it contains NUL bytes), not text; \
             give a text, HTML or JSONL file (UTF-16 text needs a byte-order mark)",
        ));
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return finish(text.to_owned(), None, source);
    }
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(bytes, true);
    let encoding = detector.guess(None, chardetng::Utf8Detection::Deny);
    let (text, had_errors) = encoding.decode_without_bom_handling(bytes);
    if had_errors || !looks_like_text(&text) {
        return Err(InputError::new(
            source,
            format!(
                "is not UTF-8 and could not be decoded sensibly (best guess {} gives garbage); \
                 convert it to UTF-8, e.g. with `iconv -f ENCODING -t UTF-8`",
                encoding.name()
            ),
        ));
    }
    finish(text.into_owned(), Some(format!("decoded from {}", encoding.name())), source)
}

/// Refuses text that is mostly control characters and strips the few
/// stray ones a scraped page may carry.
fn finish(text: String, note: Option<String>, source: &str) -> Result<Decoded, InputError> {
    let is_stray_control = |c: char| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\x0c');
    let total = text.chars().count();
    let controls = text.chars().filter(|&c| is_stray_control(c)).count();
    if total > 0 && controls as f64 / total as f64 > MAX_CONTROL_SHARE {
        return Err(InputError::new(
            source,
            "looks like a binary file (mostly control characters), not text; \
             give a text, HTML or JSONL file",
        ));
    }
    let text = if controls > 0 { text.chars().filter(|&c| !is_stray_control(c)).collect() } else { text };
    Ok(Decoded { text, note })
}

/// A legacy decoding that yields C1 control characters or mostly symbols
/// among its non-ASCII characters picked the wrong encoding (or the bytes
/// are not text at all).
fn looks_like_text(text: &str) -> bool {
    let mut non_ascii = 0usize;
    let mut plausible = 0usize;
    for c in text.chars().filter(|c| !c.is_ascii()) {
        non_ascii += 1;
        let u = c as u32;
        if (0x80..=0x9F).contains(&u) {
            return false;
        }
        if c.is_alphabetic()
            || c.is_whitespace()
            || (0x2000..=0x206F).contains(&u) // general punctuation: quotes, dashes
            || (0x3000..=0x303F).contains(&u) // CJK punctuation
            || (0xFF00..=0xFFEF).contains(&u) // full-width forms
            || "«»¡¿°§©®€£¥·–—".contains(c)
        {
            plausible += 1;
        }
    }
    non_ascii < 10 || plausible as f64 / non_ascii as f64 >= 0.6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_with_and_without_bom() {
        assert_eq!(decode("Москва".as_bytes(), "a").unwrap(), Decoded { text: "Москва".into(), note: None });
        let mut with_bom = vec![0xEF, 0xBB, 0xBF];
        with_bom.extend_from_slice("héllo".as_bytes());
        assert_eq!(decode(&with_bom, "a").unwrap().text, "héllo");
    }

    #[test]
    fn utf16_with_bom() {
        let mut le = vec![0xFF, 0xFE];
        for u in "Мир 中".encode_utf16() {
            le.extend_from_slice(&u.to_le_bytes());
        }
        let d = decode(&le, "a").unwrap();
        assert_eq!(d.text, "Мир 中");
        assert_eq!(d.note.as_deref(), Some("decoded from UTF-16LE"));
    }

    #[test]
    fn legacy_encodings_are_detected() {
        let text = "Президент России Владимир Путин встретился в Москве с министром иностранных дел Китая.";
        let (koi8, _, _) = encoding_rs::KOI8_R.encode(text);
        let d = decode(&koi8, "a").unwrap();
        assert_eq!(d.text, text);
        // KOI8-U encodes Russian letters exactly as KOI8-R does.
        assert!(d.note.as_deref().is_some_and(|n| n.starts_with("decoded from KOI8")), "{:?}", d.note);

        let zh = "中国和俄罗斯在王毅外长访问莫斯科期间就一系列问题达成了广泛共识，双方同意继续协调与合作。";
        let (gbk, _, _) = encoding_rs::GBK.encode(zh);
        let d = decode(&gbk, "a").unwrap();
        assert_eq!(d.text, zh);
        assert_eq!(d.note.as_deref(), Some("decoded from GBK"));
    }

    #[test]
    fn binary_and_garbage_are_refused() {
        let err = decode(b"PK\x03\x04\x00\x00binary", "x.zip").unwrap_err();
        assert!(err.problem.contains("binary"), "{err}");
        let err = decode(&[1, 2, 3, 4, 5, 6, b'a', 7, 8], "x").unwrap_err();
        assert!(err.problem.contains("control characters"), "{err}");
        // A UTF-16 byte-order mark followed by a lone surrogate.
        let err = decode(&[0xFF, 0xFE, 0x00, 0xD8, 0x41, 0x00], "x").unwrap_err();
        assert!(err.problem.contains("not valid UTF-16LE"), "{err}");
    }

    #[test]
    fn random_bytes_without_controls_are_refused_as_garbage() {
        // Not UTF-8 and no NULs or control characters: only the check that a
        // legacy decoding gives mostly letters can catch it.
        let mut state: u32 = 12345;
        let bytes: Vec<u8> = (0..2000)
            .map(|_| {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
                match ((state >> 16) & 0xFF) as u8 {
                    b if b < 0x20 => b' ',
                    b => b,
                }
            })
            .collect();
        let err = decode(&bytes, "noise.txt").unwrap_err();
        assert!(err.problem.contains("could not be decoded sensibly"), "{err}");
    }

    #[test]
    fn stray_control_characters_are_dropped() {
        let d = decode("a long line of text with one stray \u{7} bell in it".as_bytes(), "a").unwrap();
        assert_eq!(d.text, "a long line of text with one stray  bell in it");
    }
}
