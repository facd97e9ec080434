//! Sentences with their speaker at the end, turned around before a
//! rendering: `"We will act," he said.` is given to the model as
//! `He said: "We will act."`, and `Prices rose, the agency said.` as
//! `The agency said: Prices rose.`
//!
//! Why: asked for Chinese, the 1.5B model rendered such a sentence as the
//! quotation alone, without its quotation marks and without who said it
//! ("所以我们要采取行动。" for `"So we have to act," he said.`), whatever the
//! prompt said; with the speaker first it keeps both (README, "Quality").
//! Languages opt in with `speaker_first` in `prompts/translate.toml`.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

/// `"Q," speaker said.` (the opening mark may be in an earlier sentence).
static QUOTE_THEN_SPEAKER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"^["“]?([^"“”]+?)([,.?!…]*)["”]\s+([^"“”]+?)\.?$"#).expect("valid expression"));

/// `"Q," speaker said, "R."`: one quotation split by its speaker.
static SPLIT_QUOTE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^["“]([^"“”]+?),["”]\s+([^"“”]+?),\s+["“]([^"“”]+)["”]$"#).expect("valid expression")
});

/// `Clause, speaker said.`: reported speech with its speaker last, the
/// verb at the end (or followed by when: "on Monday", "last week").
static CLAUSE_THEN_SPEAKER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"^([^"“”]+),\s+([^,"“”]{2,80}?\s+(?:(?:has|have|had)\s+)?(?:said|says|told \w+|wrote|added|announced|reported|stated|confirmed|warned|explained|noted|insisted|claimed|tweeted)(?:\s+(?:on|in|at|last|this)\s+[\w.]+(?:\s+\w+)?)?)\.$"#,
    )
    .expect("valid expression")
});

/// First words of a clause that is no speaker ("…, where Macron said so.").
const NOT_A_SPEAKER: [&str; 17] = [
    "where", "which", "who", "whom", "whose", "that", "when", "as", "while", "and", "but", "if", "because", "although",
    "after", "before", "since",
];

/// Verbs that make the words after a quotation its speaker.
static SPEECH_VERB: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\b(said|says|told|tells|wrote|writes|added|adds|asked|asks|explained|insisted|stated|continued|noted|argued|warned|replied|tweeted|posted|declared|admitted|claimed|recalled|remarked|announced|concluded|acknowledged|urged|confirmed)\b",
    )
    .expect("valid expression")
});

/// The longest speaker turned around, in words: longer, it is more likely a
/// sentence of its own than who said the quotation.
const MAX_SPEAKER_WORDS: usize = 30;

/// The same for reported speech, whose speaker has no quotation marks to
/// set it apart, so less is taken ("the country's Foreign Trade Minister
/// Thani bin Ahmed Al Zeyoudi announced" is 11 words).
const MAX_REPORTER_WORDS: usize = 12;

/// `text` with every sentence whose speaker comes last (after a quotation,
/// or after reported speech) turned around: speaker, colon, what was said;
/// `text` itself when there is none. Paragraph breaks are kept; within a
/// paragraph that changes, sentences are joined by single spaces.
pub fn speaker_first(text: &str) -> Cow<'_, str> {
    use crate::ingest::sentences::{paragraphs, sentences};
    let mut changed = false;
    let paragraphs: Vec<String> = paragraphs(text)
        .into_iter()
        .map(|p| {
            let originals = sentences(p);
            let turned: Vec<Option<String>> = originals.iter().map(|s| turn_around(s)).collect();
            if turned.iter().all(Option::is_none) {
                return p.to_string();
            }
            changed = true;
            turned
                .into_iter()
                .zip(originals)
                .map(|(t, s)| t.unwrap_or_else(|| s.to_string()))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    if changed {
        Cow::Owned(paragraphs.join("\n\n"))
    } else {
        Cow::Borrowed(text)
    }
}

/// One sentence with its speaker first, if its speaker comes last.
fn turn_around(sentence: &str) -> Option<String> {
    let is_speaker = |s: &str| {
        SPEECH_VERB.is_match(s)
            && s.split_whitespace().count() <= MAX_SPEAKER_WORDS
            && !s.contains(". ")
            && !s.contains("? ")
            && !s.contains("! ")
    };
    if let Some(c) = SPLIT_QUOTE.captures(sentence) {
        let (first, speaker, rest) = (&c[1], &c[2], &c[3]);
        return is_speaker(speaker).then(|| format!("{}: \"{first}, {rest}\"", capitalized(speaker)));
    }
    if let Some(c) = QUOTE_THEN_SPEAKER.captures(sentence) {
        let (quote, ending, speaker) = (&c[1], &c[2], &c[3]);
        // A comma ends the quotation only because the speaker follows.
        let ending = if ending.is_empty() || ending == "," { "." } else { ending };
        return is_speaker(speaker).then(|| format!("{}: \"{quote}{ending}\"", capitalized(speaker)));
    }
    let c = CLAUSE_THEN_SPEAKER.captures(sentence)?;
    let (clause, speaker) = (&c[1], &c[2]);
    let first = speaker.split_whitespace().next()?.to_lowercase();
    let short = speaker.split_whitespace().count() <= MAX_REPORTER_WORDS;
    (short && !NOT_A_SPEAKER.contains(&first.as_str())).then(|| format!("{}: {clause}.", capitalized(speaker)))
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::speaker_first;

    #[test]
    fn a_quotation_followed_by_its_speaker_is_turned_around() {
        assert_eq!(speaker_first(r#""We will act," he said."#), r#"He said: "We will act.""#);
        assert_eq!(
            speaker_first(r#""Is it over?" asked Maria Lopez, the mayor of Leon."#),
            r#"Asked Maria Lopez, the mayor of Leon: "Is it over?""#
        );
        // The quotation's opening mark in the sentence before.
        assert_eq!(
            speaker_first(r#"Nobody will be left behind," the minister said."#),
            r#"The minister said: "Nobody will be left behind.""#
        );
        // One quotation split by its speaker.
        assert_eq!(
            speaker_first(r#""Prices are rising," she told reporters, "and wages are not.""#),
            r#"She told reporters: "Prices are rising, and wages are not.""#
        );
        // Reported speech, its speaker and verb last.
        assert_eq!(speaker_first("Prices rose by 5%, the agency said."), "The agency said: Prices rose by 5%.");
        assert_eq!(
            speaker_first("Aid will be sent to Chad, Liz Truss has announced."),
            "Liz Truss has announced: Aid will be sent to Chad."
        );
        assert_eq!(
            speaker_first("Trade grew, the minister said last week."),
            "The minister said last week: Trade grew."
        );
        // Only the sentence that is such a quotation changes; paragraphs stay.
        assert_eq!(
            speaker_first("Rain fell on Monday. \"It was a flood,\" a farmer said.\n\nRoads reopened."),
            "Rain fell on Monday. A farmer said: \"It was a flood.\"\n\nRoads reopened."
        );
    }

    #[test]
    fn other_sentences_are_left_as_they_are() {
        for text in [
            "He said, \"We will act.\"",
            "\"We will act.\"",
            "The film \"Dune\" opened in Paris.",
            // The words after the quotation are no speaker.
            "\"Dune\" and \"Heat\" opened on Friday.",
            "\"Dune\" opened in Paris on Friday.",
            // A clause whose verb is not its end, or that is no speaker.
            "They met in Paris, where Macron said the deal was done.",
            "Prices rose, which the agency said was expected.",
            "The man said nothing, and left.",
        ] {
            assert!(matches!(speaker_first(text), std::borrow::Cow::Borrowed(t) if t == text), "{text}");
        }
    }
}
