//! `polybrief eval` driven as a user would, on the shared evaluation data;
//! expected numbers come from the shared tables (rouge-score, sacrebleu).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const EVAL: &str = "../shared/eval";

fn eval_path(rel: &str) -> String {
    Path::new(EVAL).join(rel).to_string_lossy().into_owned()
}

fn polybrief(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_polybrief")).args(args).output().expect("run polybrief")
}

fn stdout_of(args: &[&str]) -> String {
    let out = polybrief(args);
    assert!(out.status.success(), "polybrief {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn json_of(args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&stdout_of(args)).expect("valid JSON on stdout")
}

/// The row of `system` in a shared TSV table, as (column name, value).
fn table_row(table: &str, system: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(eval_path(table)).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let row = lines.map(|l| l.split('\t').collect::<Vec<_>>()).find(|r| r[0] == system).unwrap();
    header.iter().zip(row).map(|(h, v)| (h.to_string(), v.to_string())).collect()
}

fn column(row: &[(String, String)], name: &str) -> String {
    row.iter().find(|(h, _)| h == name).unwrap().1.clone()
}

fn two_decimals(value: &serde_json::Value) -> String {
    format!("{:.2}", value.as_f64().expect("a number"))
}

/// A scratch folder under the target dir, fresh for each test.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("eval_cli-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn summaries_json_equals_shared_table() {
    let out = json_of(&[
        "eval",
        "summaries",
        "--hyp",
        &eval_path("summeval-cnndm/systems/M22.txt"),
        "--ref",
        &eval_path("summeval-cnndm/ref.original.txt"),
        "--format",
        "json",
    ]);
    let row = table_row("summeval-cnndm/rouge_vs_original_ref.tsv", "M22");
    for (key, col) in [("rouge1", "R1"), ("rouge2", "R2"), ("rougeL", "RL"), ("rougeLsum", "RLsum")] {
        assert_eq!(two_decimals(&out[key]["f"]), column(&row, col), "{key}");
        let (p, r) = (out[key]["p"].as_f64().unwrap(), out[key]["r"].as_f64().unwrap());
        assert!((0.0..=100.0).contains(&p) && (0.0..=100.0).contains(&r));
    }
    assert_eq!(out["documents"], 100);
}

#[test]
fn summaries_with_eleven_references_take_the_best() {
    let mut args = vec![
        "eval".to_string(),
        "summaries".into(),
        "--format".into(),
        "json".into(),
        "--hyp".into(),
        eval_path("summeval-cnndm/systems/M9.txt"),
        "--ref".into(),
        eval_path("summeval-cnndm/ref.original.txt"),
    ];
    for i in 1..=10 {
        args.push("--ref".into());
        args.push(eval_path(&format!("summeval-cnndm/ref.crowd{i}.txt")));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = json_of(&args);
    let row = table_row("summeval-cnndm/rouge_vs_11refs_max.tsv", "M9");
    for (key, col) in [("rouge1", "R1"), ("rouge2", "R2"), ("rougeL", "RL"), ("rougeLsum", "RLsum")] {
        assert_eq!(two_decimals(&out[key]["f"]), column(&row, col), "{key}");
    }
}

#[test]
fn translations_json_equals_shared_tables() {
    // Chinese, two references (zh tokenizer).
    let dir = "wmt21-news/en-zh";
    let out = json_of(&[
        "eval",
        "translations",
        "--hyp",
        &eval_path(&format!("{dir}/systems/NiuTrans.zh")),
        "--ref",
        &eval_path(&format!("{dir}/ref.A.zh")),
        "--ref",
        &eval_path(&format!("{dir}/ref.B.zh")),
        "--lang",
        "zh",
        "--format",
        "json",
    ]);
    let row = table_row(&format!("{dir}/sacrebleu_refA+B.tsv"), "NiuTrans");
    assert_eq!(two_decimals(&out["bleu"]), column(&row, "BLEU"));
    assert_eq!(two_decimals(&out["chrf"]), column(&row, "chrF"));
    assert_eq!(out["bleu_signature"].as_str().unwrap(), column(&row, "signature_bleu"));

    // Russian, one reference (13a tokenizer).
    let dir = "wmt22-general/en-ru";
    let out = json_of(&[
        "eval",
        "translations",
        "--hyp",
        &eval_path(&format!("{dir}/systems/Online-W.ru")),
        "--ref",
        &eval_path(&format!("{dir}/ref.A.ru")),
        "--lang",
        "ru",
        "--format",
        "json",
    ]);
    let row = table_row(&format!("{dir}/sacrebleu_refA.tsv"), "Online-W");
    assert_eq!(two_decimals(&out["bleu"]), column(&row, "BLEU"));
    assert_eq!(two_decimals(&out["chrf"]), column(&row, "chrF"));
    assert_eq!(out["segments"], 2037);
}

#[test]
fn tables_print_the_scores() {
    let text = stdout_of(&[
        "eval",
        "summaries",
        "--hyp",
        &eval_path("summeval-cnndm/systems/M0.txt"),
        "--ref",
        &eval_path("summeval-cnndm/ref.original.txt"),
    ]);
    let row = table_row("summeval-cnndm/rouge_vs_original_ref.tsv", "M0");
    let rouge1 = text.lines().find(|l| l.starts_with("rouge1 ")).expect("a rouge1 line");
    assert!(rouge1.trim_end().ends_with(&column(&row, "R1")), "{text}");
    let lsum = text.lines().find(|l| l.starts_with("rougeLsum ")).expect("a rougeLsum line");
    assert!(lsum.trim_end().ends_with(&column(&row, "RLsum")), "{text}");

    let dir = "wmt21-news/en-ru";
    let text = stdout_of(&[
        "eval",
        "translations",
        "--hyp",
        &eval_path(&format!("{dir}/systems/Manifold.ru")),
        "--ref",
        &eval_path(&format!("{dir}/ref.A.ru")),
        "--lang",
        "ru",
    ]);
    let row = table_row(&format!("{dir}/sacrebleu_refA.tsv"), "Manifold");
    let bleu_line = text.lines().find(|l| l.starts_with("BLEU ")).expect("a BLEU line");
    assert!(bleu_line.contains(&column(&row, "BLEU")), "{text}");
    let chrf_line = text.lines().find(|l| l.starts_with("chrF ")).expect("a chrF line");
    assert!(chrf_line.contains(&column(&row, "chrF")), "{text}");
}

#[test]
fn compare_ranks_all_systems_and_marks_ours() {
    // Ours is a copy of M17 outside the systems folder: it must appear once,
    // marked, beside all 16 systems, ranked by ROUGE-1.
    let dir = scratch("compare");
    let ours = dir.join("our-summaries.txt");
    std::fs::copy(eval_path("summeval-cnndm/systems/M17.txt"), &ours).unwrap();
    let common = [
        "eval",
        "summaries",
        "--hyp",
        ours.to_str().unwrap(),
        "--ref",
        &eval_path("summeval-cnndm/ref.original.txt"),
        "--compare",
        &eval_path("summeval-cnndm/systems"),
    ];
    let out = json_of(&[&common[..], &["--format", "json"]].concat());
    let rows = out["compare"].as_array().unwrap();
    assert_eq!(rows.len(), 17);
    let f1: Vec<f64> = rows.iter().map(|r| r["rouge1"]["f"].as_f64().unwrap()).collect();
    assert!(f1.windows(2).all(|w| w[0] >= w[1]), "not sorted: {f1:?}");
    let marked: Vec<&serde_json::Value> = rows.iter().filter(|r| r["ours"] == true).collect();
    assert_eq!(marked.len(), 1);
    assert_eq!(marked[0]["system"], "our-summaries");
    assert_eq!(marked[0]["rouge1"]["f"], rows.iter().find(|r| r["system"] == "M17").unwrap()["rouge1"]["f"]);
    // The table ranks the same way; the marked line is ours.
    let table = row_order_in_table(&stdout_of(&common));
    let json_order: Vec<String> = rows.iter().map(|r| r["system"].as_str().unwrap().to_string()).collect();
    assert_eq!(table.iter().map(|(name, _)| name.clone()).collect::<Vec<_>>(), json_order);
    assert_eq!(
        table.iter().filter(|(_, marked)| *marked).map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["our-summaries"]
    );

    // Translations rank by BLEU; the system itself is not listed twice.
    let dir = "wmt21-news/en-ru";
    let out = json_of(&[
        "eval",
        "translations",
        "--hyp",
        &eval_path(&format!("{dir}/systems/NiuTrans.ru")),
        "--ref",
        &eval_path(&format!("{dir}/ref.A.ru")),
        "--lang",
        "ru",
        "--compare",
        &eval_path(&format!("{dir}/systems")),
        "--format",
        "json",
    ]);
    let rows = out["compare"].as_array().unwrap();
    assert_eq!(rows.len(), 9);
    let bleu: Vec<f64> = rows.iter().map(|r| r["bleu"].as_f64().unwrap()).collect();
    assert!(bleu.windows(2).all(|w| w[0] >= w[1]), "not sorted: {bleu:?}");
    let table = std::fs::read_to_string(eval_path(&format!("{dir}/sacrebleu_refA.tsv"))).unwrap();
    for row in rows {
        let system = row["system"].as_str().unwrap();
        let expected = table_row(&format!("{dir}/sacrebleu_refA.tsv"), system);
        assert_eq!(two_decimals(&row["bleu"]), column(&expected, "BLEU"), "{system}\n{table}");
        assert_eq!(row["ours"] == true, system == "NiuTrans");
    }
}

/// (system, marked) for each data line of a `--compare` table.
fn row_order_in_table(text: &str) -> Vec<(String, bool)> {
    text.lines()
        .skip(2) // title and column header
        .map(|line| {
            let marked = line.starts_with('*');
            let name = line[1..].split_whitespace().next().unwrap().to_string();
            (name, marked)
        })
        .collect()
}

#[test]
fn misaligned_or_missing_inputs_exit_2_naming_the_file() {
    let dir = scratch("errors");
    let short = dir.join("short-ref.txt");
    let refs = std::fs::read_to_string(eval_path("summeval-cnndm/ref.original.txt")).unwrap();
    std::fs::write(&short, refs.lines().take(99).collect::<Vec<_>>().join("\n") + "\n").unwrap();
    let out = polybrief(&[
        "eval",
        "summaries",
        "--hyp",
        &eval_path("summeval-cnndm/systems/M0.txt"),
        "--ref",
        short.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("short-ref.txt") && stderr.contains("99 lines") && stderr.contains("100"), "{stderr}");

    let empty = dir.join("empty.ru");
    std::fs::write(&empty, "").unwrap();
    let out = polybrief(&[
        "eval",
        "translations",
        "--hyp",
        empty.to_str().unwrap(),
        "--ref",
        &eval_path("wmt21-news/en-ru/ref.A.ru"),
        "--lang",
        "ru",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("empty.ru") && stderr.contains("empty"), "{stderr}");

    let missing = dir.join("no-such-file.zh");
    let out = polybrief(&[
        "eval",
        "translations",
        "--hyp",
        &eval_path("wmt21-news/en-zh/systems/NiuTrans.zh"),
        "--ref",
        missing.to_str().unwrap(),
        "--lang",
        "zh",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-file.zh"));

    // A compare folder holding a file of the wrong length names that file.
    let systems = dir.join("systems");
    std::fs::create_dir(&systems).unwrap();
    std::fs::copy(&short, systems.join("truncated.txt")).unwrap();
    let out = polybrief(&[
        "eval",
        "summaries",
        "--hyp",
        &eval_path("summeval-cnndm/systems/M0.txt"),
        "--ref",
        &eval_path("summeval-cnndm/ref.original.txt"),
        "--compare",
        systems.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("truncated.txt"));
}
