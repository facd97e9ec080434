//! `--summarizer` and `--translator` end to end: without hub access the
//! store's error names the sources it tried; with the tiny fixture models
//! imported (`models import`) under test manifests, `brief`, `summarize`
//! and `translate` run them, and their files are pinned at import.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

fn fixture(family: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seq2seq").join(family)
}

/// The binary in a private cache, with a hub endpoint where nothing listens.
fn isolated(cache: &Path, models_dir: Option<&Path>, args: &[&str]) -> Command {
    let mut cmd = polybrief(args);
    cmd.env("POLYBRIEF_CACHE", cache)
        .env("HF_ENDPOINT", "http://127.0.0.1:9")
        .env("HF_HOME", cache.join("hf"))
        .env("XDG_CONFIG_HOME", cache.join("config"))
        .env_remove("POLYBRIEF_MODEL")
        .env_remove("POLYBRIEF_OFFLINE");
    match models_dir {
        Some(d) => cmd.env("POLYBRIEF_MODELS_DIR", d),
        None => cmd.env_remove("POLYBRIEF_MODELS_DIR"),
    };
    cmd
}

/// A manifest for a fixture model: its files unpinned, a hub source that
/// cannot be reached.
fn manifest(id: &str, family: &str, task: &str, languages: &str, files: &[&str]) -> String {
    let mut s = format!(
        "id = \"{id}\"\nfamily = \"{family}\"\nformat = \"safetensors\"\ntasks = [\"{task}\"]\n\
         languages = [{languages}]\nlicence = \"MIT\"\ndescription = \"tiny random {family}\"\n"
    );
    for f in files {
        s += &format!("[[files]]\nname = \"{f}\"\n");
    }
    s + "[[sources]]\nkind = \"hf-hub\"\nrepo = \"polybrief-tests/nothing\"\nrevision = \"main\"\n"
}

#[test]
fn translator_without_hub_access_names_the_sources_tried() {
    let cache = tempfile::tempdir().unwrap();
    let article = cache.path().join("a.txt");
    std::fs::write(&article, "The council opened the northern road on Monday. It cost 3 million euros.\n").unwrap();
    let out = run(&mut isolated(
        cache.path(),
        None,
        &["brief", "--translator", "opus-mt-en-ru", "--langs", "ru", article.to_str().unwrap()],
    ));
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("could not fetch"), "{err}");
    assert!(err.contains("sources tried"), "{err}");
    assert!(err.contains("hf-hub Helsinki-NLP/opus-mt-en-ru@"), "{err}");
}

#[test]
fn imported_fixture_models_summarize_and_translate() {
    let cache = tempfile::tempdir().unwrap();
    let models = cache.path().join("manifests");
    std::fs::create_dir_all(&models).unwrap();
    let marian_files =
        ["model.safetensors", "config.json", "generation_config.json", "source.spm", "target.spm", "vocab.json"];
    let bart_files = ["model.safetensors", "config.json", "generation_config.json", "vocab.json", "merges.txt"];
    std::fs::write(
        models.join("tiny-marian.toml"),
        manifest("tiny-marian", "marian", "translate", "\"zh\"", &marian_files),
    )
    .unwrap();
    std::fs::write(models.join("tiny-bart.toml"), manifest("tiny-bart", "bart", "summarize", "", &bart_files)).unwrap();

    for (id, family) in [("tiny-marian", "marian"), ("tiny-bart", "bart")] {
        let out = run(&mut isolated(
            cache.path(),
            Some(&models),
            &["models", "import", id, fixture(family).to_str().unwrap()],
        ));
        assert!(out.status.success(), "import {id}: {}", stderr(&out));
        assert!(stderr(&out).contains("pins.lock"), "import says where pins go: {}", stderr(&out));
        let lock = std::fs::read_to_string(cache.path().join("models").join(id).join("pins.lock")).unwrap();
        let weights = std::fs::read(fixture(family).join("model.safetensors")).unwrap();
        let line = lock.lines().find(|l| l.starts_with("model.safetensors ")).expect("weights pinned");
        assert_eq!(line.split_whitespace().nth(1).unwrap(), weights.len().to_string());
        let out = run(&mut isolated(cache.path(), Some(&models), &["models", "verify", id]));
        assert!(out.status.success(), "verify {id}: {}", stdout(&out));
    }
    // A changed file no longer matches the pin recorded at import.
    let bad = cache.path().join("bad-marian");
    std::fs::create_dir_all(&bad).unwrap();
    for f in marian_files {
        std::fs::copy(fixture("marian").join(f), bad.join(f)).unwrap();
    }
    std::fs::write(bad.join("vocab.json"), "{}").unwrap();
    let out =
        run(&mut isolated(cache.path(), Some(&models), &["models", "import", "tiny-marian", bad.to_str().unwrap()]));
    assert!(!out.status.success(), "a file unlike its recorded pin is refused");

    let article = cache.path().join("a.txt");
    std::fs::write(&article, "The council opened the northern road on Monday. Three students counted the boats.\n\nThe museum painted a wooden tower.\n").unwrap();
    let a = article.to_str().unwrap();
    let out = run(&mut isolated(
        cache.path(),
        Some(&models),
        &[
            "--offline",
            "--summarizer",
            "tiny-bart",
            "--translator",
            "tiny-marian",
            "brief",
            "--langs",
            "zh",
            "--format",
            "json",
            a,
        ],
    ));
    let brief: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("JSON brief ({e}): {}", stderr(&out)));
    assert_eq!(brief["task_models"]["summary"], "tiny-bart");
    assert_eq!(brief["task_models"]["zh"], "tiny-marian");
    assert!(!brief["summary"].as_str().unwrap().is_empty());
    assert!(!brief["translations"]["zh"].as_str().unwrap().is_empty(), "{brief}");

    let out = run(&mut isolated(
        cache.path(),
        Some(&models),
        &["--offline", "--translator", "tiny-marian", "translate", "--to", "zh", a],
    ));
    assert!(out.status.success(), "translate: {}", stderr(&out));
    // Two paragraphs in, two out.
    assert_eq!(stdout(&out).trim().split("\n\n").count(), 2, "{}", stdout(&out));
    let out =
        run(&mut isolated(cache.path(), Some(&models), &["--offline", "--summarizer", "tiny-bart", "summarize", a]));
    assert!(out.status.success(), "summarize: {}", stderr(&out));
    assert!(!stdout(&out).trim().is_empty());

    // A translator for none of the requested languages is bad input.
    let out = run(&mut isolated(
        cache.path(),
        Some(&models),
        &["--offline", "--translator", "tiny-marian", "translate", "--to", "ru", a],
    ));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("translates into zh"), "{}", stderr(&out));
}
