//! The prompt templates: `prompts/*.toml` and the glossary of names
//! (`prompts/glossary.tsv`), built into the binary, each file replaceable by
//! one of the same name in a user's folder (`--prompts DIR`). A target
//! language's options there also say how its renderings are set
//! ([`TargetLanguage::typeset`], with the steps of [`super::typography`]).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use serde::Deserialize;

use super::glossary::Glossary;
use super::typography::{self, Typography};
use crate::engine::Message;

const BUILTIN_SUMMARIZE: &str = include_str!("../../prompts/summarize.toml");
const BUILTIN_TRANSLATE: &str = include_str!("../../prompts/translate.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummarizePrompt {
    pub system: String,
    pub user: String,
    /// Added to the user turn of a second attempt when a summary failed a
    /// check; without it, a summary is asked for once.
    #[serde(default)]
    pub retry: Option<String>,
    pub combine: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TranslatePrompt {
    pub system: String,
    pub user: String,
    /// Put before the user turn of a second attempt when a rendering failed
    /// a check; without it, a rendering is asked for once.
    #[serde(default)]
    pub retry: Option<String>,
    /// Asked as a third attempt when the answer to `retry` was still no
    /// translation at all; without it, there is no third attempt.
    #[serde(default)]
    pub plain: Option<PlainPrompt>,
    pub languages: BTreeMap<String, TargetLanguage>,
}

/// A translation prompt without examples, names or notes: nothing in it
/// that the model could give back instead of a translation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlainPrompt {
    pub system: String,
    pub user: String,
}

/// A language the translate prompt knows, keyed by its code (`zh`, `ru`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetLanguage {
    /// The name the prompt uses ("Simplified Chinese").
    pub name: String,
    /// Extra instructions for this language.
    #[serde(default)]
    pub style: String,
    /// This language's own `system` and `user` templates (written in the
    /// language itself, say), used instead of the shared ones.
    #[serde(default)]
    pub system: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    /// Which words a rendering may write in Latin letters.
    #[serde(default)]
    pub latin: LatinWords,
    /// Opening and closing quotation marks: straight double quotes in a
    /// rendering are replaced by them, pair by pair.
    #[serde(default)]
    pub quotes: Option<(String, String)>,
    /// Words with which the chat model talks about its translation
    /// ("перевод") or refuses: a rendering holding one fails the `comment`
    /// check, unless the English speaks of translating.
    #[serde(default)]
    pub comments: Vec<String>,
    /// Give the model quotations followed by their speaker with the speaker
    /// first (see `speaker`).
    #[serde(default)]
    pub speaker_first: bool,
    /// Follow transliterated names with their English spelling in brackets
    /// at first mention (see `original_names`).
    #[serde(default)]
    pub original_names: bool,
    /// Currency signs whose amounts get the currency's name after them
    /// instead ("$300 миллионов" as "300 миллионов долларов"): the name's
    /// forms after 1, after 2 to 4, after other numbers (see
    /// `typography::name_currencies`).
    #[serde(default)]
    pub currencies: std::collections::BTreeMap<String, [String; 3]>,
    /// How this language writes what the model writes the English way:
    /// amounts and punctuation (see [`Typography`]).
    #[serde(default)]
    pub typography: Option<Typography>,
    /// Hypotheses of the beam search for this language's renderings,
    /// instead of the default (`pipeline::TRANSLATION_BEAMS`); `--beams`
    /// sets every width.
    #[serde(default)]
    pub beams: Option<usize>,
    /// Example renderings (English, this language), given to the model as
    /// earlier turns of the conversation, each asked with the user turn's
    /// template (without names) and answered: the model answers the text
    /// as it answered them.
    #[serde(default)]
    pub examples: Vec<(String, String)>,
}

impl TargetLanguage {
    /// Every example sentence the prompt gives, in the `style` or as turns,
    /// English and rendering: what an answer must not copy (see
    /// `checks::copied_check`).
    pub fn example_text(&self) -> String {
        let mut text = self.style.clone();
        for (english, rendering) in &self.examples {
            text.push_str(&format!("\n{english}\n{rendering}"));
        }
        text
    }

    /// `text` as the model is asked to render it.
    pub fn prompt_text<'t>(&self, text: &'t str) -> std::borrow::Cow<'t, str> {
        if self.speaker_first {
            super::speaker::speaker_first(text)
        } else {
            std::borrow::Cow::Borrowed(text)
        }
    }

    /// A rendering `text` in this language (`code`) of `source`, typeset as
    /// the language writes it: no full stop after a headline (in every
    /// language), its quotation marks, currencies named after
    /// amounts and its `typography`; with the amounts that were put right
    /// ("300 亿 -> 3亿"), for the `numbers_kept` check to report.
    pub fn typeset(&self, text: &str, code: &str, source: &str) -> (String, Vec<String>) {
        let text = typography::headline_stop(text, source);
        let mut text = match &self.quotes {
            Some((open, close)) => typography::quotation_marks(&text, open, close),
            None => text,
        };
        if !self.currencies.is_empty() {
            text = typography::name_currencies(&text, code, &self.currencies);
        }
        match self.typography {
            None => (text, Vec::new()),
            Some(Typography::Chinese) => {
                let (text, repaired) = typography::repair_amounts(&text, source);
                (typography::chinese_digit_groups(&text), repaired)
            }
            Some(Typography::Russian) => {
                let text = typography::russian_punctuation(&text);
                (typography::russian_digit_groups(&text, source), Vec::new())
            }
        }
    }

    /// A finished rendering in this language (`code`) of `source` with the
    /// original spelling of its people's names after them, if this language
    /// asks for it (see `original_names`); `glossary` gives known names.
    pub fn with_original_names<'t>(
        &self,
        rendering: &'t str,
        source: &str,
        code: &str,
        glossary: &Glossary,
    ) -> std::borrow::Cow<'t, str> {
        if self.original_names {
            super::original_names::bracketed_original_names(rendering, source, &glossary.names_in(source, code))
        } else {
            std::borrow::Cow::Borrowed(rendering)
        }
    }
}

/// Which words a rendering may write in Latin letters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LatinWords {
    /// Any (languages written in Latin letters).
    #[default]
    Any,
    /// Only the names, acronyms and codes of the English text (see
    /// `checks::may_stay_latin`): decoding never picks another token with
    /// Latin letters, so no English word is left untranslated.
    Names,
    /// Only the acronyms, codes and brand spellings of the English text
    /// ("NATO", "G20", "EverGrow"; see `checks::brand_spelling`), and names
    /// the glossary renders in Latin letters ("Twitter"): other names too
    /// are written in the target script.
    Acronyms,
}

/// Both prompt files and the glossary.
#[derive(Debug, Clone)]
pub struct Prompts {
    pub summarize: SummarizePrompt,
    pub translate: TranslatePrompt,
    pub glossary: Glossary,
}

impl Prompts {
    /// The built-in prompts, with files from `dir` taking their place, and
    /// the names of the `glossary` file before the built-in ones.
    pub fn load(dir: Option<&Path>, glossary: Option<&Path>) -> anyhow::Result<Prompts> {
        let read = |name: &str, builtin: &'static str| -> anyhow::Result<(String, String)> {
            if let Some(dir) = dir {
                let path = dir.join(name);
                if path.exists() {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("cannot read prompt file {}", path.display()))?;
                    return Ok((text, path.display().to_string()));
                }
            }
            Ok((builtin.to_string(), format!("built-in prompts/{name}")))
        };
        let (text, origin) = read("summarize.toml", BUILTIN_SUMMARIZE)?;
        let summarize: SummarizePrompt =
            toml::from_str(&text).with_context(|| format!("{origin} is not a valid prompt file"))?;
        let (text, origin) = read("translate.toml", BUILTIN_TRANSLATE)?;
        let translate: TranslatePrompt =
            toml::from_str(&text).with_context(|| format!("{origin} is not a valid prompt file"))?;
        let glossary = Glossary::load(dir, glossary)?;
        let prompts = Prompts { summarize, translate, glossary };
        // Render everything once so a broken template fails at start, not
        // after an hour of batch work.
        prompts.summary_messages("x", false, Some("x"))?;
        for code in prompts.translate.languages.keys() {
            prompts.translation_messages("x", code, Some("x"))?;
            prompts.plain_translation_messages("x", code)?;
        }
        Ok(prompts)
    }

    /// Messages asking for the summary of `article` (or, with `combine`, of
    /// section summaries); `failed` says what was wrong with a first answer.
    pub fn summary_messages(&self, article: &str, combine: bool, failed: Option<&str>) -> anyhow::Result<Vec<Message>> {
        let p = &self.summarize;
        let user_template = if combine { &p.combine } else { &p.user };
        let mut user = render(user_template, minijinja::context! { article })?;
        if let (Some(failed), Some(retry)) = (failed, &p.retry) {
            user.push_str("\n\n");
            user.push_str(&render(retry, minijinja::context! { failed })?);
        }
        Ok(vec![Message::system(p.system.clone()), Message::user(user)])
    }

    /// Messages asking for `text` in the language with code `lang`;
    /// `failed` says what was wrong with a first answer.
    pub fn translation_messages(&self, text: &str, lang: &str, failed: Option<&str>) -> anyhow::Result<Vec<Message>> {
        let p = &self.translate;
        let target = self.language(lang)?;
        let names = self.glossary.names_in(text, lang);
        let text = target.prompt_text(text);
        let vars = minijinja::context! { language => &target.name, style => &target.style, text, failed, names };
        let user_template = target.user.as_ref().unwrap_or(&p.user);
        let mut user = render(user_template, &vars)?;
        // What failed goes before the text: after it, the 1.5B sometimes
        // translated the note instead of the text.
        if let (Some(_), Some(retry)) = (failed, &p.retry) {
            user = format!("{}\n\n{user}", render(retry, &vars)?);
        }
        let system = render(target.system.as_ref().unwrap_or(&p.system), &vars)?;
        let mut messages = vec![Message::system(system)];
        for (english, rendering) in &target.examples {
            let vars = minijinja::context! { language => &target.name, text => target.prompt_text(english) };
            messages.push(Message::user(render(user_template, &vars)?));
            messages.push(Message::assistant(rendering.clone()));
        }
        messages.push(Message::user(user));
        Ok(messages)
    }

    /// Messages of the plain prompt asking for `text` in the language with
    /// code `lang`, if the translate prompt file has one.
    pub fn plain_translation_messages(&self, text: &str, lang: &str) -> anyhow::Result<Option<Vec<Message>>> {
        let Some(plain) = &self.translate.plain else { return Ok(None) };
        let target = self.language(lang)?;
        let vars = minijinja::context! { language => &target.name, text => target.prompt_text(text) };
        Ok(Some(vec![Message::system(render(&plain.system, &vars)?), Message::user(render(&plain.user, &vars)?)]))
    }

    /// The target language for `code`, or an error listing the known ones.
    pub fn language(&self, code: &str) -> anyhow::Result<&TargetLanguage> {
        self.translate.languages.get(code).with_context(|| {
            let known: Vec<&str> = self.translate.languages.keys().map(|s| s.as_str()).collect();
            format!("no translation prompt for language `{code}`; known: {}", known.join(", "))
        })
    }
}

fn render(template: &str, vars: impl serde::Serialize) -> anyhow::Result<String> {
    let env = minijinja::Environment::new();
    let text = env.render_str(template, vars).context("a prompt template does not render")?;
    Ok(text.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_prompts_render_with_the_article_inside() {
        let p = Prompts::load(None, None).unwrap();
        let m = p.summary_messages("ARTICLE BODY", false, None).unwrap();
        assert!(m[1].content.contains("ARTICLE BODY"));
        // What a first answer failed goes into the user turn: the system
        // turn stays the same, so its keys and values are reused.
        let retry = p.summary_messages("ARTICLE BODY", false, Some("numbers not in the article: 42")).unwrap();
        assert_eq!(retry[0], m[0]);
        assert!(
            retry[1].content.contains("ARTICLE BODY") && retry[1].content.contains("numbers not in the article: 42")
        );
        let m = p.translation_messages("Hello", "ru", None).unwrap();
        assert!(m[0].content.contains("Russian") && m.last().unwrap().content.contains("Hello"));
        let retry = p.translation_messages("Hello", "ru", Some("English words left untranslated: hello")).unwrap();
        assert!(
            retry[..m.len() - 1] == m[..m.len() - 1] && retry.last().unwrap().content.contains("untranslated: hello")
        );
        assert!(p.translation_messages("Hello", "xx", None).unwrap_err().to_string().contains("zh"));
    }

    #[test]
    fn a_language_with_its_own_turns_is_asked_in_them() {
        let p = Prompts::load(None, None).unwrap();
        // Chinese has its own system and user turns, in Chinese.
        let zh = p.translation_messages("Hello from Everton.", "zh", None).unwrap();
        assert!(zh[0].content.contains("简体中文") && !zh[0].content.contains("You are"), "{}", zh[0].content);
        assert!(zh[0].content.contains("埃弗顿主帅"), "the style with its examples is in it");
        assert!(zh[1].content.contains("Hello from Everton.") && zh[1].content.contains("翻译成简体中文"));
        let retry = p.translation_messages("Hello from Everton.", "zh", Some("x")).unwrap();
        assert!(retry[0] == zh[0] && retry[1].content.ends_with(&zh[1].content));
        // Russian has none: the shared turns.
        let ru = p.translation_messages("Hello", "ru", None).unwrap();
        assert!(ru[0].content.starts_with("You are") && ru[0].content.contains("Russian"));
        assert!(ru.last().unwrap().content.contains("Hello") && ru.last().unwrap().content.contains("into Russian"));
        // Chinese is given a quotation's speaker first, Russian the text as it is.
        let quoted = "\"We will act,\" he said.";
        let zh = p.translation_messages(quoted, "zh", None).unwrap();
        assert!(zh[1].content.contains("He said: \"We will act.\""), "{}", zh[1].content);
        assert!(p.plain_translation_messages(quoted, "zh").unwrap().unwrap()[1].content.contains("He said:"));
        assert!(p.translation_messages(quoted, "ru", None).unwrap().last().unwrap().content.contains(quoted));
    }

    #[test]
    fn examples_are_earlier_turns_asked_like_the_text() {
        let p = Prompts::load(None, None).unwrap();
        let ru = p.language("ru").unwrap();
        assert!(!ru.examples.is_empty(), "Russian is given its examples as turns");
        let m = p.translation_messages("Hello", "ru", None).unwrap();
        assert_eq!(m.len(), 2 + 2 * ru.examples.len());
        let roles: Vec<&str> = m.iter().map(|m| m.role.as_str()).collect();
        assert_eq!(roles[0], "system");
        for (i, (english, rendering)) in ru.examples.iter().enumerate() {
            let (asked, answered) = (&m[1 + 2 * i], &m[2 + 2 * i]);
            assert_eq!((asked.role.as_str(), answered.role.as_str()), ("user", "assistant"));
            // Asked with the same user turn as the text, so the model
            // answers the text as it answered the examples.
            assert_eq!(asked.content, m.last().unwrap().content.replace("Hello", english));
            assert_eq!(&answered.content, rendering);
            // Not in the system turn as well.
            assert!(!m[0].content.contains(rendering.as_str()));
        }
        // An answer that gives an example back is no translation.
        let (english, rendering) = &ru.examples[0];
        assert!(ru.example_text().contains(english.as_str()));
        let check = crate::pipeline::checks::copied_check(rendering, "ru", "Prices rose.", &ru.example_text());
        assert!(!check.passed, "{check:?}");
        // A retry changes only the last turn: the opening's keys and
        // values are reused.
        let retry = p.translation_messages("Hello", "ru", Some("x")).unwrap();
        assert_eq!(retry[..m.len() - 1], m[..m.len() - 1]);
    }

    #[test]
    fn russian_quotations_and_dashes_are_punctuated_as_russian_writes_them() {
        let p = Prompts::load(None, None).unwrap();
        let ru = p.language("ru").unwrap();
        let en = "\"We will go,\" he said. \"It is over.\" Nearly 4,000 firms.";
        let typeset = |text: &str| ru.typeset(text, "ru", en).0;
        assert_eq!(
            typeset(r#""Мы пойдём," - сказал он. "Всё кончено." Почти 4,000 фирм."#),
            "«Мы пойдём», — сказал он. «Всё кончено». Почти 4 000 фирм."
        );
        assert_eq!(typeset("«Всё кончено.» — сказал он, «и точка.»"), "«Всё кончено», — сказал он, «и точка».");
        // A currency sign before English groups: named for four thousand.
        assert_eq!(ru.typeset("За $4,000.", "ru", "For $4,000.").0, "За 4 000 долларов.");
        // Left alone: an ellipsis, a question, a closing mark with nothing
        // before it, a hyphen inside a word or a range.
        for text in
            ["«Голоса...» — сказал он.", "«Кто?» — спросил он.", "«Газпром» — компания, 12-15 см, северо-запад, 2 - 1."]
        {
            assert_eq!(typeset(text), text);
        }
        // Chinese has its own: no spaced groups, no separator under ten thousand.
        let zh = p.language("zh").unwrap();
        assert_eq!(zh.typeset("近2,000家公司，4,000家。", "zh", en).0, "近2000家公司，4000家。");
    }

    #[test]
    fn a_folder_overrides_one_file() {
        let folder = tempfile::tempdir().unwrap();
        let dir = folder.path();
        std::fs::write(
            dir.join("summarize.toml"),
            "system = \"S\"\nuser = \"U {{ article }}\"\nretry = \"R\"\ncombine = \"C\"\n",
        )
        .unwrap();
        let p = Prompts::load(Some(dir), None).unwrap();
        assert_eq!(p.summary_messages("a", false, None).unwrap()[1].content, "U a");
        assert!(p.language("zh").is_ok());
        std::fs::write(dir.join("translate.toml"), "system = \"{% if\"").unwrap();
        let err = Prompts::load(Some(dir), None).unwrap_err();
        assert!(format!("{err:#}").contains("translate.toml"), "{err:#}");
    }
}
