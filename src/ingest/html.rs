//! The main content of an HTML news page.
//!
//! We use `dom_smoothie`, a maintained Rust port of Mozilla's Readability
//! (the algorithm behind Firefox's reader view), because it scores the
//! page's blocks to find the story instead of relying on site-specific
//! selectors, reads the title, date and canonical URL from the page's
//! metadata, and, unlike the older `readability` crate, needs no HTTP
//! client. The text it gives is cleaned afterwards like any scraped text.

use crate::InputError;

/// What we take from an HTML page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HtmlArticle {
    pub title: Option<String>,
    pub url: Option<String>,
    pub date: Option<String>,
    /// The main content as text, one paragraph per block element.
    pub text: String,
}

/// Extracts the main content of `html`, read from `source`.
pub fn extract(html: &str, source: &str) -> Result<HtmlArticle, InputError> {
    let config = dom_smoothie::Config { text_mode: dom_smoothie::TextMode::Formatted, ..Default::default() };
    let no_content = |why: String| {
        InputError::new(
            source,
            format!("no article content found in this HTML page ({why}); give the article as text instead"),
        )
    };
    let document = dom_query::Document::from(html);
    // Readability takes the URL only from JSON-LD; most pages give it as
    // the canonical link or the Open Graph URL.
    let page_url = ["link[rel=canonical]", "meta[property='og:url']"].iter().find_map(|selector| {
        let node = document.select(selector);
        node.attr("href").or_else(|| node.attr("content")).map(|v| v.to_string())
    });
    let mut readability = dom_smoothie::Readability::with_document(document, None, Some(config))
        .map_err(|e| no_content(e.to_string()))?;
    let article = readability.parse().map_err(|e| no_content(e.to_string()))?;
    let non_empty = |s: Option<String>| s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    Ok(HtmlArticle {
        title: non_empty(Some(article.title)),
        url: non_empty(article.url).or(non_empty(page_url)),
        date: non_empty(article.published_time),
        text: article.text_content.to_string(),
    })
}
