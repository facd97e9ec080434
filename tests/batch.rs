//! Batches that never lose work: 30 articles with 3 broken ones, killed
//! midway and resumed (issue: articles as they come).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;

const PLACES: [&str; 10] = ["Oslo", "Lima", "Accra", "Hanoi", "Quito", "Riga", "Dakar", "Perth", "Malmo", "Cusco"];

/// 30 short articles, of which 3 cannot be read (empty, binary, blank).
fn write_batch(dir: &Path) -> Vec<String> {
    let mut good = Vec::new();
    for i in 0..30 {
        let id = format!("article-{i:02}");
        let path = dir.join(format!("{id}.txt"));
        match i {
            7 => std::fs::write(&path, "").unwrap(),
            15 => std::fs::write(&path, [0u8, 159, 146, 150, 0, 0, 1, 2]).unwrap(),
            23 => std::fs::write(&path, " \n \n").unwrap(),
            _ => {
                let place = PLACES[i % PLACES.len()];
                let text = format!(
                    "{place} opens new library\n\nThe city of {place} opened a public library with {} books on Monday, the mayor said.",
                    1000 + i * 10
                );
                std::fs::write(&path, text).unwrap();
                good.push(id);
            }
        }
    }
    good
}

fn briefs_in(out: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(out)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json") && !n.ends_with(".error.json") && !n.starts_with('.'))
        .collect();
    names.sort();
    names
}

fn assert_no_partial_files(out: &Path) {
    for entry in std::fs::read_dir(out).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        assert!(!name.ends_with(".tmp"), "partial file left: {name}");
        let text = std::fs::read_to_string(entry.path()).unwrap();
        serde_json::from_str::<serde_json::Value>(&text)
            .unwrap_or_else(|e| panic!("{name} is not complete JSON ({e}): {text}"));
    }
}

#[test]
fn batch_with_broken_articles_survives_a_kill_and_resumes() {
    let _lock = model_lock();
    let dir = temp_dir("batch");
    let input = dir.join("in");
    let out = dir.join("out");
    std::fs::create_dir_all(&input).unwrap();
    let good = write_batch(&input);
    let args = [
        "--model",
        FAST_MODEL,
        "brief",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--format",
        "json",
        "--langs",
        "",
        "--resume",
    ];

    // First run: killed once 10 briefs are on disk.
    let mut child =
        polybrief(&args).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(1200);
    while (if out.exists() { briefs_in(&out).len() } else { 0 }) < 10 {
        assert!(Instant::now() < deadline, "no 10 briefs in 20 minutes");
        assert!(child.try_wait().unwrap().is_none(), "batch ended before 10 briefs");
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let first: Vec<(String, std::time::SystemTime)> = briefs_in(&out)
        .into_iter()
        .map(|n| {
            let t = std::fs::metadata(out.join(&n)).unwrap().modified().unwrap();
            (n, t)
        })
        .collect();
    assert!(first.len() >= 10 && first.len() < 27);
    assert_no_partial_files(&out);

    // Second run: finishes the rest, redoes nothing.
    let second = run(&mut polybrief(&args));
    let log = stderr(&second);
    assert_eq!(second.status.code(), Some(2), "3 bad inputs make exit code 2: {log}");
    assert_no_partial_files(&out);
    let expected: Vec<String> = good.iter().map(|id| format!("{id}.json")).collect();
    assert_eq!(briefs_in(&out), expected);
    for (name, modified) in &first {
        let now = std::fs::metadata(out.join(name)).unwrap().modified().unwrap();
        assert_eq!(&now, modified, "{name} was briefed again");
        let id = name.trim_end_matches(".json");
        assert!(log.contains(&format!("{id}: skipped")), "{id} not reported skipped: {log}");
    }
    for broken in ["article-07", "article-15", "article-23"] {
        let record: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join(format!("{broken}.error.json"))).unwrap()).unwrap();
        assert_eq!(record["id"], broken);
        assert!(!record["error"].as_str().unwrap().is_empty());
    }
    for name in &expected {
        let brief: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join(name)).unwrap()).unwrap();
        assert!(!brief["summary"].as_str().unwrap().is_empty(), "{name}: empty summary");
    }
}
