//! Names and their standard renderings (`prompts/glossary.tsv`, plus a
//! user's `--glossary FILE`): the translate prompt lists the entries whose
//! English form occurs in the text, so that a name comes out the same in
//! every sentence, and the checks can tell a known name left in Latin
//! letters from one the target language keeps in Latin.
//!
//! The format is a tab-separated table with a header: `en`, then one column
//! per language code; English alternatives are separated by ` | `; lines
//! starting with `#` are comments.

use std::collections::BTreeMap;
use std::path::Path;

use crate::InputError;

pub const BUILTIN: &str = include_str!("../../prompts/glossary.tsv");

/// One name: its English forms and its rendering per language code.
#[derive(Debug, Clone, PartialEq)]
pub struct GlossaryEntry {
    pub english: Vec<String>,
    pub renderings: BTreeMap<String, String>,
}

/// A name found in a text, with its rendering in one language.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NameRendering {
    /// The English form as it occurs in the text.
    pub en: String,
    pub target: String,
}

#[derive(Debug, Clone, Default)]
pub struct Glossary {
    entries: Vec<GlossaryEntry>,
}

impl Glossary {
    /// Parses a glossary table; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Glossary, InputError> {
        let mut lines =
            text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
        let Some((_, header)) = lines.next() else {
            return Ok(Glossary::default());
        };
        let columns: Vec<&str> = header.split('\t').map(str::trim).collect();
        if columns.first() != Some(&"en") || columns.len() < 2 {
            return Err(InputError::new(
                origin,
                format!("the header must be `en` then language codes, separated by tabs; found `{header}`"),
            ));
        }
        let mut entries = Vec::new();
        for (i, line) in lines {
            let cells: Vec<&str> = line.split('\t').map(str::trim).collect();
            if cells.len() > columns.len() {
                return Err(InputError::new(
                    origin,
                    format!("line {}: {} cells, but the header has {} columns", i + 1, cells.len(), columns.len()),
                ));
            }
            let english: Vec<String> =
                cells[0].split('|').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
            if english.is_empty() {
                return Err(InputError::new(origin, format!("line {}: no English form", i + 1)));
            }
            let renderings = columns[1..]
                .iter()
                .zip(&cells[1..])
                .filter(|(_, cell)| !cell.is_empty())
                .map(|(code, cell)| (code.to_string(), cell.to_string()))
                .collect();
            entries.push(GlossaryEntry { english, renderings });
        }
        Ok(Glossary { entries })
    }

    /// The built-in glossary alone.
    pub fn builtin() -> &'static Glossary {
        static BUILT: std::sync::OnceLock<Glossary> = std::sync::OnceLock::new();
        BUILT.get_or_init(|| Glossary::parse(BUILTIN, "built-in prompts/glossary.tsv").expect("tested"))
    }

    /// The built-in glossary (or `glossary.tsv` from the prompts folder in
    /// its place), with the entries of `extra` before it: for the languages
    /// it renders, an entry of `extra` wins over one sharing an English form.
    pub fn load(prompts_dir: Option<&Path>, extra: Option<&Path>) -> Result<Glossary, InputError> {
        let mut glossary = match prompts_dir.map(|d| d.join("glossary.tsv")).filter(|p| p.exists()) {
            Some(path) => Glossary::parse(&crate::ingest::read_text(&path)?, &path.display().to_string())?,
            None => Glossary::parse(BUILTIN, "built-in prompts/glossary.tsv")?,
        };
        if let Some(path) = extra {
            let mut added = Glossary::parse(&crate::ingest::read_text(path)?, &path.display().to_string())?;
            added.entries.append(&mut glossary.entries);
            glossary = added;
        }
        Ok(glossary)
    }

    /// The entries with a rendering in `lang` whose English form occurs in
    /// `text` as whole words, in order of first occurrence; each once. An
    /// occurrence inside a longer name of the glossary does not count:
    /// "Northern Ireland" is not Ireland, nor "New Mexico" Mexico.
    pub fn names_in(&self, text: &str, lang: &str) -> Vec<NameRendering> {
        // Every whole-word occurrence of every English form, found once:
        // (entry, form, byte offset).
        let occurrences: Vec<(usize, &String, usize)> = self
            .entries
            .iter()
            .enumerate()
            .flat_map(|(i, e)| e.english.iter().map(move |form| (i, form)))
            .flat_map(|(i, form)| word_occurrences(text, form).map(move |at| (i, form, at)))
            .collect();
        let in_longer_name = |at: usize, len: usize| {
            occurrences
                .iter()
                .any(|&(_, form, start)| start <= at && at + len <= start + form.len() && form.len() > len)
        };
        let mut found: Vec<(usize, NameRendering)> = Vec::new();
        // English forms taken by an earlier entry with this language.
        let mut claimed: std::collections::HashSet<&str> = std::collections::HashSet::new();
        for (i, entry) in self.entries.iter().enumerate() {
            let Some(target) = entry.renderings.get(lang) else { continue };
            if entry.english.iter().any(|f| claimed.contains(f.as_str())) {
                continue;
            }
            claimed.extend(entry.english.iter().map(String::as_str));
            // The longest form that occurs, so "Vladimir Putin" wins over
            // "Putin"; among equally long ones, the entry's first.
            let first =
                occurrences.iter().filter(|&&(e, form, at)| e == i && !in_longer_name(at, form.len())).min_by_key(
                    |&&(_, form, at)| (std::cmp::Reverse(form.len()), entry.english.iter().position(|f| f == form), at),
                );
            if let Some(&(_, form, at)) = first {
                found.push((at, NameRendering { en: form.to_string(), target: target.clone() }));
            }
        }
        found.sort_by_key(|(at, _)| *at);
        found.into_iter().map(|(_, n)| n).collect()
    }

    /// True if `word` is one of the English forms of an entry that renders
    /// it in `lang` in other words: a name to translate, not one to keep in
    /// Latin letters.
    pub fn knows(&self, word: &str, lang: &str) -> bool {
        self.entries.iter().any(|e| {
            e.english.iter().any(|f| f == word)
                && e.renderings.get(lang).is_some_and(|r| word_occurrences(r, word).next().is_none())
        })
    }

    /// The Latin words of the renderings in `lang` of the names found in
    /// `text`: names that the language's news keeps as the English writes
    /// them ("Twitter", "Shiba Inu" in Russian), which decoding must then
    /// let through.
    pub fn latin_kept_in(&self, text: &str, lang: &str) -> Vec<String> {
        let names = self.names_in(text, lang);
        names.iter().flat_map(|n| crate::lang::latin_words_in(&n.target)).map(str::to_string).collect()
    }
}

/// Byte offsets of the occurrences of `form` in `text` that are not part
/// of a longer word.
fn word_occurrences<'t>(text: &'t str, form: &'t str) -> impl Iterator<Item = usize> + 't {
    let is_word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric());
    text.match_indices(form)
        .map(|(at, _)| at)
        .filter(move |&at| !is_word(text[..at].chars().next_back()) && !is_word(text[at + form.len()..].chars().next()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_glossary_parses_and_finds_names() {
        let g = Glossary::parse(BUILTIN, "builtin").unwrap();
        let names = g.names_in("Putin met Xi Jinping in Beijing; Putinism is not a name.", "zh");
        let pairs: Vec<(&str, &str)> = names.iter().map(|n| (n.en.as_str(), n.target.as_str())).collect();
        assert_eq!(pairs, [("Putin", "普京"), ("Xi Jinping", "习近平"), ("Beijing", "北京")]);
        assert!(g.knows("Beijing", "zh") && g.knows("Beijing", "ru") && !g.knows("Tesla", "zh"));
        // Russian news keeps these in Latin letters; Chinese has no entry.
        assert!(!g.knows("Twitter", "ru") && !g.knows("Twitter", "zh"));
        let kept = g.latin_kept_in("Shiba Inu fell, Twitter users said in Beijing.", "ru");
        assert_eq!(kept, ["Shiba", "Inu", "Twitter"]);
        assert!(g.latin_kept_in("Shiba Inu fell, Twitter users said.", "zh").is_empty());
    }

    #[test]
    fn a_name_inside_a_longer_name_is_not_found() {
        let g = Glossary::parse("en\tzh\tru\nIreland\t爱尔兰\tИрландия\nNorthern Ireland\t\tСеверная Ирландия\nNew York\t纽约\tНью-Йорк\nNew York Times\t\tNew York Times\n", "g.tsv").unwrap();
        let found =
            |text: &str, lang: &str| -> Vec<String> { g.names_in(text, lang).into_iter().map(|n| n.target).collect() };
        assert_eq!(found("Talks in Northern Ireland resumed.", "ru"), ["Северная Ирландия"]);
        assert_eq!(found("Ireland and Northern Ireland met.", "ru"), ["Ирландия", "Северная Ирландия"]);
        // In a language without the longer name's rendering, neither is listed.
        assert!(found("Talks in Northern Ireland resumed.", "zh").is_empty());
        assert!(found("The New York Times said so.", "zh").is_empty());
        assert_eq!(found("The New York Times said so in New York.", "zh"), ["纽约"]);
    }

    #[test]
    fn bad_tables_are_refused_with_the_line() {
        let e = Glossary::parse("zh\tru\nx\ty\n", "g.tsv").unwrap_err();
        assert!(e.to_string().contains("header"), "{e}");
        let e = Glossary::parse("en\tzh\nA\tB\tC\n", "g.tsv").unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
    }

    #[test]
    fn a_user_file_overrides_an_english_form() {
        let folder = tempfile::tempdir().unwrap();
        let dir = folder.path();
        let extra = dir.join("mine.tsv");
        std::fs::write(&extra, "en\tru\nBeijing\tБэйцзин\nAcme Corp\tАкме\n").unwrap();
        let g = Glossary::load(None, Some(&extra)).unwrap();
        let ru = g.names_in("Acme Corp opened in Beijing.", "ru");
        assert_eq!(ru[0].target, "Акме");
        assert_eq!(ru[1].target, "Бэйцзин");
        // Languages the user file does not render keep the built-in entry.
        assert_eq!(g.names_in("Beijing", "zh")[0].target, "北京");
    }
}
