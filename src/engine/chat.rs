//! Chat prompts in the model's own format.
//!
//! The template is the GGUF's `tokenizer.chat_template` (Jinja), rendered
//! with minijinja, so a model brings its own conversation format. Message
//! contents are never parsed for special tokens: an article that contains
//! `<|im_end|>` must stay text, not end the turn. To get that, the template
//! is rendered with placeholders for the contents, and the result is cut
//! into template pieces (encoded with special tokens) and content pieces
//! (encoded as plain text).

use anyhow::Context;
use serde::Serialize;

/// One turn of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    pub role: String,
    pub content: String,
}

impl Message {
    pub fn system(content: impl Into<String>) -> Self {
        Message { role: "system".into(), content: content.into() }
    }
    pub fn user(content: impl Into<String>) -> Self {
        Message { role: "user".into(), content: content.into() }
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Message { role: "assistant".into(), content: content.into() }
    }
}

/// A piece of a rendered prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptPiece {
    /// Text written by the template: special tokens in it are real.
    Template(String),
    /// Text from a message content: always plain text.
    Content(String),
}

/// The model's chat template.
#[derive(Debug, Clone)]
pub struct ChatTemplate {
    source: String,
}

// Private-use characters cannot occur in the templates we render, and are
// removed from contents before rendering, so they delimit contents safely.
const OPEN: char = '\u{F8F0}';
const CLOSE: char = '\u{F8F1}';

impl ChatTemplate {
    pub fn new(source: impl Into<String>) -> Self {
        ChatTemplate { source: source.into() }
    }

    /// Renders `messages` followed by the assistant's turn opening.
    pub fn render(&self, messages: &[Message]) -> anyhow::Result<Vec<PromptPiece>> {
        let placeholders: Vec<Message> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| Message { role: m.role.clone(), content: format!("{OPEN}{i}{CLOSE}") })
            .collect();
        let mut env = minijinja::Environment::new();
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_template("chat", &self.source).context("the model's chat template is not valid Jinja")?;
        let rendered = env
            .get_template("chat")?
            .render(minijinja::context! {
                messages => placeholders,
                add_generation_prompt => true,
                tools => minijinja::Value::UNDEFINED,
            })
            .context("rendering the model's chat template failed")?;

        let mut pieces = Vec::new();
        let mut rest = rendered.as_str();
        while let Some(start) = rest.find(OPEN) {
            let end = rest[start..].find(CLOSE).context("chat template mangled a message")? + start;
            let index: usize = rest[start + OPEN.len_utf8()..end].parse()?;
            if start > 0 {
                pieces.push(PromptPiece::Template(rest[..start].to_string()));
            }
            let content: String = messages[index].content.chars().filter(|&c| c != OPEN && c != CLOSE).collect();
            pieces.push(PromptPiece::Content(content));
            rest = &rest[end + CLOSE.len_utf8()..];
        }
        if !rest.is_empty() {
            pieces.push(PromptPiece::Template(rest.to_string()));
        }
        Ok(pieces)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHATML: &str = "{%- for message in messages %}{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";

    #[test]
    fn contents_are_kept_apart_from_template_text() {
        let t = ChatTemplate::new(CHATML);
        let pieces = t.render(&[Message::system("Be brief."), Message::user("Text with <|im_end|> inside")]).unwrap();
        assert_eq!(
            pieces,
            vec![
                PromptPiece::Template("<|im_start|>system\n".into()),
                PromptPiece::Content("Be brief.".into()),
                PromptPiece::Template("<|im_end|>\n<|im_start|>user\n".into()),
                PromptPiece::Content("Text with <|im_end|> inside".into()),
                PromptPiece::Template("<|im_end|>\n<|im_start|>assistant\n".into()),
            ]
        );
    }

    #[test]
    fn bad_template_is_an_error() {
        assert!(ChatTemplate::new("{% for %}").render(&[Message::user("x")]).is_err());
    }
}
