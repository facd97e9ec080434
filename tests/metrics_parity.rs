//! Our ROUGE, BLEU, chrF and Porter stemmer against the Python reference
//! implementations: the shared tables (printed precision, every row), and
//! segment-level values computed at test time by
//! `tests/tools/metrics_reference.py` (rouge-score 0.1.2, sacrebleu 2.6.0).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use polybrief::eval::rouge::sentence_per_line;
use polybrief::eval::{porter, Bleu, BleuTokenizer, Chrf, Rouge};

const EVAL: &str = "../shared/eval";

fn eval_path(rel: &str) -> PathBuf {
    Path::new(EVAL).join(rel)
}

fn read_lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    if lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    lines
}

/// A shared TSV table: header names and rows, keyed by the first column.
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn read(path: &Path) -> Table {
        let lines = read_lines(path);
        let split = |l: &String| l.split('\t').map(str::to_string).collect::<Vec<_>>();
        Table { header: split(&lines[0]), rows: lines[1..].iter().map(split).collect() }
    }

    fn column(&self, name: &str) -> usize {
        self.header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name}"))
    }
}

// ---------------------------------------------------------------- ROUGE tables

/// Mean F1 x 100 per ROUGE type over the documents, as the tables print.
fn mean_rouge_f(rouge: &Rouge, hyps: &[String], refs: &[Vec<String>]) -> [f64; 4] {
    rouge.score_documents(hyps, refs).by_name().map(|(_, score)| score.fmeasure * 100.0)
}

fn check_rouge_table(table_file: &str, ref_files: &[String]) {
    let table = Table::read(&eval_path(&format!("summeval-cnndm/{table_file}")));
    let refs: Vec<Vec<String>> =
        ref_files.iter().map(|f| read_lines(&eval_path(&format!("summeval-cnndm/{f}")))).collect();
    let rouge = Rouge::new(true);
    let columns = ["R1", "R2", "RL", "RLsum"].map(|c| table.column(c));
    let mut mismatches = Vec::new();
    for row in &table.rows {
        let hyps = read_lines(&eval_path(&format!("summeval-cnndm/systems/{}.txt", row[0])));
        assert_eq!(hyps.len().to_string(), row[table.column("n")]);
        let ours = mean_rouge_f(&rouge, &hyps, &refs);
        for (k, &col) in columns.iter().enumerate() {
            let printed = format!("{:.2}", ours[k]);
            if printed != row[col] {
                mismatches.push(format!(
                    "{} {}: ours {printed} ({}), table {}",
                    row[0], table.header[col], ours[k], row[col]
                ));
            }
        }
    }
    assert_eq!(table.rows.len(), 16);
    assert!(mismatches.is_empty(), "{table_file}:\n{}", mismatches.join("\n"));
}

#[test]
fn rouge_equals_summeval_table_original_reference() {
    check_rouge_table("rouge_vs_original_ref.tsv", &["ref.original.txt".to_string()]);
}

#[test]
fn rouge_equals_summeval_table_best_of_11_references() {
    let mut refs = vec!["ref.original.txt".to_string()];
    refs.extend((1..=10).map(|i| format!("ref.crowd{i}.txt")));
    check_rouge_table("rouge_vs_11refs_max.tsv", &refs);
}

#[test]
fn rouge_is_fast() {
    // 16 systems x 100 documents x 4 types, one reference each.
    let refs = vec![read_lines(&eval_path("summeval-cnndm/ref.original.txt"))];
    let systems: Vec<Vec<String>> = std::fs::read_dir(eval_path("summeval-cnndm/systems"))
        .unwrap()
        .map(|e| read_lines(&e.unwrap().path()))
        .collect();
    let rouge = Rouge::new(true);
    let start = std::time::Instant::now();
    for hyps in &systems {
        mean_rouge_f(&rouge, hyps, &refs);
    }
    let elapsed = start.elapsed();
    eprintln!("ROUGE, {} systems x 100 documents: {elapsed:?}", systems.len());
    assert!(elapsed.as_secs_f64() < 1.0, "took {elapsed:?}");
}

// ------------------------------------------------------- BLEU and chrF tables

/// Every `sacrebleu_*.tsv` of one WMT folder: BLEU and chrF of every row.
fn check_sacrebleu_tables(folder: &str, lang: &str) {
    let dir = eval_path(folder);
    let tokenizer = BleuTokenizer::for_language(lang);
    let mut tables: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("sacrebleu_"))
        .collect();
    tables.sort();
    assert!(!tables.is_empty(), "no sacrebleu tables in {}", dir.display());
    let mut mismatches = Vec::new();
    let mut rows_checked = 0;
    for table_path in &tables {
        let name = table_path.file_stem().unwrap().to_string_lossy().to_string();
        // sacrebleu_refA, sacrebleu_refA+B, sacrebleu_refA_news-only
        let spec = name.strip_prefix("sacrebleu_ref").unwrap();
        let (letters, news_only) = match spec.strip_suffix("_news-only") {
            Some(letters) => (letters, true),
            None => (spec, false),
        };
        let keep: Vec<bool> = if news_only {
            read_lines(&dir.join("docids.tsv")).iter().map(|l| l.split('\t').nth(1) == Some("news")).collect()
        } else {
            Vec::new()
        };
        let select = |lines: Vec<String>| -> Vec<String> {
            if news_only {
                assert_eq!(lines.len(), keep.len());
                lines.into_iter().zip(&keep).filter(|(_, &k)| k).map(|(l, _)| l).collect()
            } else {
                lines
            }
        };
        let refs: Vec<Vec<String>> =
            letters.split('+').map(|l| select(read_lines(&dir.join(format!("ref.{l}.{lang}"))))).collect();
        let table = Table::read(table_path);
        let (bleu_col, chrf_col, seg_col) = (table.column("BLEU"), table.column("chrF"), table.column("segments"));
        let sig_col = table.column("signature_bleu");
        let bleu = Bleu::new(tokenizer);
        for row in &table.rows {
            let hyps = select(read_lines(&dir.join(format!("systems/{}.{lang}", row[0]))));
            assert_eq!(hyps.len().to_string(), row[seg_col], "{name} {}", row[0]);
            assert_eq!(bleu.signature(refs.len()), row[sig_col]);
            let ours_bleu = bleu.corpus_score(&hyps, &refs).score;
            let ours_chrf = Chrf::new().corpus_score(&hyps, &refs);
            for (metric, ours, col) in [("BLEU", ours_bleu, bleu_col), ("chrF", ours_chrf, chrf_col)] {
                let printed = format!("{ours:.2}");
                if printed != row[col] {
                    mismatches.push(format!("{name} {} {metric}: ours {printed} ({ours}), table {}", row[0], row[col]));
                }
            }
            rows_checked += 1;
        }
    }
    eprintln!("{folder}: {rows_checked} rows in {} tables", tables.len());
    assert!(mismatches.is_empty(), "{folder}:\n{}", mismatches.join("\n"));
}

#[test]
fn bleu_chrf_equal_wmt21_en_zh_tables() {
    check_sacrebleu_tables("wmt21-news/en-zh", "zh");
}

#[test]
fn bleu_chrf_equal_wmt21_en_ru_tables() {
    check_sacrebleu_tables("wmt21-news/en-ru", "ru");
}

#[test]
fn bleu_chrf_equal_wmt22_en_zh_tables() {
    check_sacrebleu_tables("wmt22-general/en-zh", "zh");
}

#[test]
fn bleu_chrf_equal_wmt22_en_ru_tables() {
    check_sacrebleu_tables("wmt22-general/en-ru", "ru");
}

// ------------------------------------------- Python reference, computed now

/// Runs the reference script; fails (never skips) when Python or its
/// packages are missing.
fn python_reference(mode: &str) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/metrics_reference.py");
    let output = Command::new("python3").arg(&script).args([mode, EVAL]).output().unwrap_or_else(|e| {
        panic!("cannot run python3 ({e}); install Python 3 and run: pip install sacrebleu==2.6.0 rouge-score==0.1.2")
    });
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{} {mode} failed ({}): {stderr}\nThe reference needs: pip install sacrebleu==2.6.0 rouge-score==0.1.2",
        script.display(),
        output.status
    );
    serde_json::from_slice(&output.stdout).expect("reference script printed invalid JSON")
}

fn strings(value: &serde_json::Value) -> Vec<String> {
    value.as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

fn ints(value: &serde_json::Value) -> Vec<u64> {
    value.as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect()
}

/// Floats must agree within 1e-9; the count of bit-identical ones is
/// reported (same operations in the same order should give the same bits).
#[derive(Default)]
struct FloatTally {
    compared: usize,
    identical: usize,
}

impl FloatTally {
    fn close(&mut self, ours: f64, theirs: &serde_json::Value) -> bool {
        // The script writes floats as Python repr strings: exact bits.
        let theirs: f64 = theirs.as_str().and_then(|t| t.parse().ok()).expect("a float written as a string");
        self.compared += 1;
        if ours.to_bits() == theirs.to_bits() {
            self.identical += 1;
        }
        (ours - theirs).abs() <= 1e-9
    }
}

#[test]
fn segments_equal_python_reference() {
    let reference = python_reference("segments");
    let mut failures = Vec::new();
    let mut floats = FloatTally::default();

    let translation = reference["translation"].as_array().unwrap();
    for case in translation {
        let hyp = case["hyp"].as_str().unwrap();
        let refs = strings(&case["refs"]);
        let tokenizer = if case["tokenize"] == "zh" { BleuTokenizer::Zh } else { BleuTokenizer::Mteval13a };
        let bleu = Bleu::new(tokenizer);
        let stats = bleu.segment_stats(hyp, &refs);
        let mut flat = vec![stats.sys_len, stats.ref_len];
        flat.extend(stats.correct);
        flat.extend(stats.total);
        if flat != ints(&case["bleu_stats"]) {
            failures.push(format!("BLEU stats {hyp:?} {refs:?}: ours {flat:?}, sacrebleu {}", case["bleu_stats"]));
        }
        let sentence = bleu.score_from_stats(&stats).score;
        if !floats.close(sentence, &case["bleu"]) {
            failures.push(format!("sentence BLEU {hyp:?}: ours {sentence}, sacrebleu {}", case["bleu"]));
        }
        let effective = bleu.clone().with_effective_order(true).sentence_score(hyp, &refs).score;
        if !floats.close(effective, &case["bleu_effective_order"]) {
            failures.push(format!(
                "sentence BLEU (eff) {hyp:?}: ours {effective}, sacrebleu {}",
                case["bleu_effective_order"]
            ));
        }
        let chrf = Chrf::new().segment_stats(hyp, &refs);
        let flat: Vec<u64> = (0..6).flat_map(|n| [chrf.hyp[n], chrf.reference[n], chrf.matched[n]]).collect();
        if flat != ints(&case["chrf_stats"]) {
            failures.push(format!("chrF stats {hyp:?} {refs:?}: ours {flat:?}, sacrebleu {}", case["chrf_stats"]));
        }
        if !floats.close(chrf.score(), &case["chrf"]) {
            failures.push(format!("sentence chrF {hyp:?}: ours {}, sacrebleu {}", chrf.score(), case["chrf"]));
        }
    }

    let corpus = reference["corpus"].as_array().unwrap();
    for case in corpus {
        let dir = eval_path(case["folder"].as_str().unwrap());
        let hyps = read_lines(&dir.join("systems").join(case["system"].as_str().unwrap()));
        let refs: Vec<Vec<String>> = strings(&case["refs"]).iter().map(|f| read_lines(&dir.join(f))).collect();
        let tokenizer = if case["tokenize"] == "zh" { BleuTokenizer::Zh } else { BleuTokenizer::Mteval13a };
        let bleu = Bleu::new(tokenizer).corpus_score(&hyps, &refs);
        let chrf = Chrf::new().corpus_score(&hyps, &refs);
        let what = format!("{} {} {:?}", case["folder"], case["system"], case["refs"]);
        if !floats.close(bleu.score, &case["bleu"]) || !floats.close(bleu.bp, &case["bleu_bp"]) {
            failures.push(format!("corpus BLEU {what}: ours {bleu:?}, sacrebleu {}", case["bleu"]));
        }
        if bleu.counts.to_vec() != ints(&case["bleu_counts"]) || bleu.totals.to_vec() != ints(&case["bleu_totals"]) {
            failures.push(format!("corpus BLEU counts {what}: ours {bleu:?}"));
        }
        if !floats.close(chrf, &case["chrf"]) {
            failures.push(format!("corpus chrF {what}: ours {chrf}, sacrebleu {}", case["chrf"]));
        }
    }

    let rouge_cases = reference["rouge"].as_array().unwrap();
    for case in rouge_cases {
        let rouge = Rouge::new(case["stemmer"].as_bool().unwrap());
        let split = case["sentence_per_line"].as_bool().unwrap();
        let prep = |t: &str| {
            if split {
                sentence_per_line(t)
            } else {
                t.to_string()
            }
        };
        let hyp = prep(case["hyp"].as_str().unwrap());
        let refs: Vec<String> = strings(&case["refs"]).iter().map(|r| prep(r)).collect();
        let ours = rouge.score(&hyp, &refs);
        for (name, score) in ours.by_name() {
            let theirs = &case["scores"][name];
            let agree = floats.close(score.precision, &theirs[0])
                && floats.close(score.recall, &theirs[1])
                && floats.close(score.fmeasure, &theirs[2]);
            if !agree {
                failures.push(format!("{name} {hyp:?} vs {} refs: ours {score:?}, rouge-score {theirs}", refs.len()));
            }
        }
    }

    eprintln!(
        "compared {} translation segments, {} corpus scores, {} ROUGE cases; {} of {} floats bit-identical",
        translation.len(),
        corpus.len(),
        rouge_cases.len(),
        floats.identical,
        floats.compared
    );
    assert!(translation.len() > 1000 && !corpus.is_empty() && rouge_cases.len() > 100);
    assert!(failures.is_empty(), "{} differences:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn porter_stems_equal_nltk_on_every_word_of_the_data() {
    let reference = python_reference("stems");
    let stems: HashMap<String, String> = serde_json::from_value(reference).unwrap();
    let mut differences: Vec<String> = stems
        .iter()
        .filter(|(word, theirs)| porter::stem(word) != **theirs)
        .map(|(word, theirs)| format!("{word}: ours {}, NLTK {theirs}", porter::stem(word)))
        .collect();
    differences.sort();
    eprintln!("compared {} distinct words", stems.len());
    assert!(stems.len() > 10_000);
    assert!(differences.is_empty(), "{} differences:\n{}", differences.len(), differences.join("\n"));
}
