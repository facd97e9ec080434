//! Our tokenizer against llama.cpp: the ids llama-cpp-python gave for 651 texts (360 English, Chinese
//! and Russian eval sentences, whole articles bare and in the chat frame, hand-written edge strings and
//! random strings of tricky characters; `tests/tools/make_tokenizer_fixture.py`) must be ours to the
//! last id, and decoding must give every text back.
//!
//! The GGUF is the small model from the cache (`polybrief models pull --all`); only its metadata is read.
//! Eval texts are read from `../shared/eval`, where the fixture points; they are never copied here.

mod common;

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Instant;

use polybrief::engine::tokenizer::{Specials, TokenStream, Tokenizer};
use serde_json::Value;

const FIXTURE: &str = "tests/fixtures/tokenizer/llama_cpp_ids.jsonl";

/// Loaded once for all tests: reading the GGUF header and building the tokenizer take about a second.
fn tokenizer() -> &'static Tokenizer {
    static TOKENIZER: OnceLock<Tokenizer> = OnceLock::new();
    TOKENIZER.get_or_init(|| common::gguf_tokenizer(common::FAST_MODEL))
}

/// One fixture record with its text fetched.
struct Case {
    /// Where the text comes from, for messages.
    name: String,
    text: String,
    special: bool,
    ids: Vec<u32>,
    record: Value,
}

/// The fixture's header and its cases, texts read from the eval files they reference.
fn cases() -> &'static (Value, Vec<Case>) {
    static CASES: OnceLock<(Value, Vec<Case>)> = OnceLock::new();
    CASES.get_or_init(read_cases)
}

fn read_cases() -> (Value, Vec<Case>) {
    let fixture = std::fs::read_to_string(FIXTURE).expect("fixture missing: run tests/tools/make_tokenizer_fixture.py");
    let mut lines = fixture.lines();
    let header: Value = serde_json::from_str(lines.next().expect("empty fixture")).unwrap();
    let mut files: HashMap<String, String> = HashMap::new();
    let cases = lines
        .map(|line| {
            let record: Value = serde_json::from_str(line).unwrap();
            let (name, mut text) = match (record.get("text"), record.get("source")) {
                (Some(text), _) => (format!("{:?}", text.as_str().unwrap()), text.as_str().unwrap().to_string()),
                (None, Some(source)) => {
                    let source = source.as_str().unwrap();
                    let file = files.entry(source.to_string()).or_insert_with(|| {
                        std::fs::read_to_string(source).unwrap_or_else(|e| {
                            panic!("cannot read eval text {source} ({e}): is ../shared/eval there?")
                        })
                    });
                    match record.get("line").and_then(Value::as_u64) {
                        None => (source.to_string(), file.clone()),
                        Some(n) => {
                            let text = file.split('\n').nth(n as usize - 1).expect("line beyond end of file");
                            (format!("{source}:{n}"), text.to_string())
                        }
                    }
                }
                (None, None) => panic!("fixture record without text or source: {line}"),
            };
            if let Some(frame) = record.get("wrap").and_then(Value::as_str) {
                text = frame.replace("{text}", &text);
            }
            let ids = record["ids"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
            Case { name, text, special: record["special"].as_bool().unwrap(), ids, record }
        })
        .collect();
    (header, cases)
}

/// Ids with the text of each token, for reading a mismatch.
fn spelled(tok: &Tokenizer, ids: &[u32]) -> String {
    ids.iter().map(|&id| format!("{id}:{:?}", tok.decode(&[id]))).collect::<Vec<_>>().join(" ")
}

#[test]
fn ids_equal_llama_cpp() {
    let tok = tokenizer();
    let (header, cases) = cases();
    assert!(cases.len() >= 300, "fixture has only {} cases", cases.len());

    let mut mismatches = Vec::new();
    for case in cases {
        let ours = tok.encode(&case.text, case.special);
        if ours != case.ids {
            let first_diff = ours.iter().zip(&case.ids).take_while(|(a, b)| a == b).count();
            mismatches.push(format!(
                "{} (parse_special={}), first difference at token {first_diff}:\n  llama.cpp: {}\n  ours:      {}",
                case.name,
                case.special,
                spelled(tok, &case.ids[first_diff.saturating_sub(3)..(first_diff + 8).min(case.ids.len())]),
                spelled(tok, &ours[first_diff.saturating_sub(3)..(first_diff + 8).min(ours.len())]),
            ));
        }
    }
    let n_ids: usize = cases.iter().map(|c| c.ids.len()).sum();
    eprintln!(
        "{} texts, {n_ids} ids, compared with llama-cpp-python {}: {} mismatches",
        cases.len(),
        header["llama_cpp_python"],
        mismatches.len()
    );
    assert!(
        mismatches.is_empty(),
        "{} of {} texts tokenized differently from llama.cpp; first ones:\n{}",
        mismatches.len(),
        cases.len(),
        mismatches.iter().take(5).cloned().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn vocabulary_and_end_tokens_match_llama_cpp() {
    let tok = tokenizer();
    let (header, _) = cases();
    assert_eq!(tok.vocab_size() as u64, header["n_vocab"].as_u64().unwrap());
    let eos = header["token_eos"].as_u64().unwrap() as u32;
    assert!(tok.eos_ids().contains(&eos), "eos_ids {:?} lack llama.cpp's eos {eos}", tok.eos_ids());
    for end in ["<|im_end|>", "<|endoftext|>"] {
        let id = tok.token_id(end).unwrap_or_else(|| panic!("{end} not in the vocabulary"));
        assert!(tok.eos_ids().contains(&id), "{end} ({id}) missing from eos_ids {:?}", tok.eos_ids());
        // The id names a token whose text is the name again.
        assert_eq!(tok.decode(&[id]), end);
    }
}

#[test]
fn decode_gives_every_text_back() {
    let tok = tokenizer();
    let (_, cases) = cases();
    let mut failures = Vec::new();
    for case in cases {
        let back = tok.decode(&tok.encode(&case.text, case.special));
        if back != case.text {
            failures.push(format!("{}: got {back:?}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} texts did not come back:\n{}",
        failures.len(),
        failures[..failures.len().min(5)].join("\n")
    );
}

#[test]
fn skipping_specials_renders_like_llama_cpp() {
    let tok = tokenizer();
    let (_, cases) = cases();
    let mut checked = 0;
    for case in cases {
        if let Some(plain) = case.record.get("detokenized_plain").and_then(Value::as_str) {
            assert_eq!(tok.decode_with(&case.ids, Specials::Skip), plain, "{}", case.name);
            checked += 1;
        }
    }
    assert!(checked > 20, "only {checked} records carry llama.cpp's plain rendering");
}

#[test]
fn stream_yields_the_decoded_text_in_whole_characters() {
    let tok = tokenizer();
    let (_, cases) = cases();
    let mut held_back = 0;
    for case in cases {
        for specials in [Specials::Render, Specials::Skip] {
            let mut stream = TokenStream::new(specials);
            let mut text = String::new();
            for &id in &case.ids {
                let piece = stream.push(tok, id);
                held_back += usize::from(piece.is_empty() && !tok.decode_with(&[id], specials).is_empty());
                text.push_str(&piece);
            }
            text.push_str(&stream.finish());
            assert_eq!(text, tok.decode_with(&case.ids, specials), "{}", case.name);
        }
    }
    // Chinese text is full of characters split over tokens: the stream must have held some back.
    assert!(held_back > 0);
}

#[test]
fn encoding_an_article_takes_milliseconds() {
    let tok = tokenizer();
    let (_, cases) = cases();
    let articles: Vec<&Case> = cases.iter().filter(|c| c.name.contains("articles.txt") && !c.special).collect();
    assert!(!articles.is_empty());
    // Warm up, then time each article.
    for c in &articles {
        tok.encode(&c.text, false);
    }
    let mut ids = 0;
    let start = Instant::now();
    for c in &articles {
        ids += tok.encode(&c.text, false).len();
    }
    let per_1000 = start.elapsed().as_secs_f64() * 1000.0 / (ids as f64 / 1000.0);
    eprintln!("encoded {} articles, {ids} tokens: {per_1000:.2} ms per 1000 tokens", articles.len());
    // Generous bound for a shared 2-core machine; a few ms is the expected figure.
    assert!(per_1000 < 50.0, "encoding took {per_1000:.1} ms per 1000 tokens");
}
