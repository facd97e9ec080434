//! The encoder-decoder models against `transformers`, on the tiny random models that
//! `tests/tools/make_seq2seq_fixtures.py` makes: the fixtures are loaded by the code that loads
//! real models ([`Seq2Seq::load`] on a folder of hub files), and must give the reference token
//! ids exactly, encoder outputs and logits within 1e-4, and greedy and beam-search outputs
//! exactly, one by one and as one padded batch.

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use polybrief::seq2seq::{Seq2Seq, Seq2SeqTokenizer};
use serde_json::Value;

const TOLERANCE: f32 = 1e-4;

fn fixture(family: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seq2seq").join(family)
}

fn reference(family: &str) -> Value {
    let text = std::fs::read_to_string(fixture(family).join("reference.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect()
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "different sizes");
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// Token ids of every text equal `transformers`' tokenizer.
fn check_tokenizer(model: &Seq2Seq, r: &Value) {
    let texts = r["texts"].as_array().unwrap();
    for (text, single) in texts.iter().zip(r["single"].as_array().unwrap()) {
        let text = text.as_str().unwrap();
        assert_eq!(model.tokenizer().encode(text), ids(&single["input_ids"]), "ids of {text:?}");
    }
    let texts = r["tokenizer_texts"].as_array().unwrap();
    for (text, expected) in texts.iter().zip(r["tokenizer_ids"].as_array().unwrap()) {
        let text = text.as_str().unwrap();
        assert_eq!(model.tokenizer().encode(text), ids(expected), "ids of {text:?}");
    }
}

/// Encoder outputs and the logits of the first decoder steps, for each text alone.
fn check_forward(model: &Seq2Seq, r: &Value) -> (f32, f32) {
    let (mut worst_enc, mut worst_logits) = (0f32, 0f32);
    let dev = Device::Cpu;
    for single in r["single"].as_array().unwrap() {
        let input = ids(&single["input_ids"]);
        let n = input.len();
        let x = Tensor::from_vec(input, (1, n), &dev).unwrap();
        let mask = Tensor::ones((1, n), candle_core::DType::U8, &dev).unwrap();
        let enc = model.model().encode(&x, &mask).unwrap();
        let enc_v: Vec<f32> = enc.flatten_all().unwrap().to_vec1().unwrap();
        let d = max_diff(&enc_v, &floats(&single["encoder_output"]));
        assert!(d < TOLERANCE, "encoder output differs by {d}");
        worst_enc = worst_enc.max(d);

        let dec = ids(&single["decoder_input_ids"]);
        let m = dec.len();
        let mut state = model.model().start(&enc, &mask).unwrap();
        let y = Tensor::from_vec(dec, (1, m), &dev).unwrap();
        let logits = model.model().decode(&y, &mut state).unwrap();
        let v: Vec<f32> = logits.flatten_all().unwrap().to_vec1().unwrap();
        let d = max_diff(&v, &floats(&single["logits"]));
        assert!(d < TOLERANCE, "logits differ by {d}");
        worst_logits = worst_logits.max(d);
    }
    (worst_enc, worst_logits)
}

/// The generation config of the model with the reference run's beam settings on top.
fn configs(model: &Seq2Seq, r: &Value) -> (polybrief::seq2seq::GenerationConfig, polybrief::seq2seq::GenerationConfig) {
    let mut greedy = model.generation_config().clone();
    greedy.num_beams = 1;
    let mut beam = model.generation_config().clone();
    let s = &r["settings"];
    if let Some(n) = s["num_beams"].as_u64() {
        beam.num_beams = n as usize;
    }
    if let Some(x) = s["length_penalty"].as_f64() {
        beam.length_penalty = x;
    }
    if let Some(n) = s["no_repeat_ngram_size"].as_u64() {
        beam.no_repeat_ngram_size = n as usize;
    }
    if let Some(n) = s["min_length"].as_u64() {
        beam.min_length = n as usize;
    }
    (greedy, beam)
}

/// A batched reference row is the single output followed by fill tokens.
fn assert_padded_row(row: &[u32], ours: &[u32], what: &str) {
    assert!(row.len() >= ours.len(), "{what}: reference row shorter than ours");
    assert_eq!(&row[..ours.len()], ours, "{what}");
    let fill = &row[ours.len()..];
    assert!(fill.windows(2).all(|w| w[0] == w[1]), "{what}: reference row tail {fill:?} is not padding");
}

fn check_generation(model: &Seq2Seq, r: &Value) {
    let (greedy_cfg, beam_cfg) = configs(model, r);
    let singles = r["single"].as_array().unwrap();
    let inputs: Vec<Vec<u32>> = singles.iter().map(|s| ids(&s["input_ids"])).collect();
    for (input, single) in inputs.iter().zip(singles) {
        let greedy = model.generate_ids(std::slice::from_ref(input), &greedy_cfg).unwrap();
        assert_eq!(greedy[0], ids(&single["greedy"]), "greedy output of {input:?}");
        let beam = model.generate_ids(std::slice::from_ref(input), &beam_cfg).unwrap();
        assert_eq!(beam[0], ids(&single["beam"]), "beam output of {input:?}");
    }
    let greedy = model.generate_ids(&inputs, &greedy_cfg).unwrap();
    let beam = model.generate_ids(&inputs, &beam_cfg).unwrap();
    for (i, row) in r["batched"]["greedy"].as_array().unwrap().iter().enumerate() {
        assert_padded_row(&ids(row), &greedy[i], &format!("batched greedy row {i}"));
    }
    for (i, row) in r["batched"]["beam"].as_array().unwrap().iter().enumerate() {
        assert_padded_row(&ids(row), &beam[i], &format!("batched beam row {i}"));
    }
}

fn check_decoding(model: &Seq2Seq, r: &Value) {
    for (single, text) in r["single"].as_array().unwrap().iter().zip(r["decoded"].as_array().unwrap()) {
        assert_eq!(model.tokenizer().decode(&ids(&single["greedy"])), text.as_str().unwrap());
    }
}

#[test]
fn marian_tokenizer_matches_transformers() {
    let r = reference("marian");
    let model = Seq2Seq::load(&fixture("marian")).unwrap();
    check_tokenizer(&model, &r);
    let Seq2SeqTokenizer::Marian(tok) = model.tokenizer() else { panic!("not a Marian tokenizer") };
    for (text, expected) in r["target_texts"].as_array().unwrap().iter().zip(r["target_ids"].as_array().unwrap()) {
        assert_eq!(tok.encode_target(text.as_str().unwrap()), ids(expected), "target ids of {text}");
    }
    for (expected_ids, text) in r["target_ids"].as_array().unwrap().iter().zip(r["target_decoded"].as_array().unwrap())
    {
        assert_eq!(tok.decode(&ids(expected_ids)), text.as_str().unwrap());
    }
    check_decoding(&model, &r);
    assert_eq!(tok.language_token("zh").as_deref(), Some(">>cmn_Hans<<"));
    assert_eq!(tok.language_token("ru"), None);
}

#[test]
fn marian_forward_matches_transformers() {
    let r = reference("marian");
    let model = Seq2Seq::load(&fixture("marian")).unwrap();
    let (enc, logits) = check_forward(&model, &r);
    eprintln!("marian: max |diff| encoder {enc:e}, logits {logits:e}");
}

#[test]
fn marian_generation_matches_transformers() {
    let r = reference("marian");
    let model = Seq2Seq::load(&fixture("marian")).unwrap();
    check_generation(&model, &r);
}

#[test]
fn bart_tokenizer_matches_transformers() {
    let r = reference("bart");
    let model = Seq2Seq::load(&fixture("bart")).unwrap();
    check_tokenizer(&model, &r);
    check_decoding(&model, &r);
}

#[test]
fn bart_forward_matches_transformers() {
    let r = reference("bart");
    let model = Seq2Seq::load(&fixture("bart")).unwrap();
    let (enc, logits) = check_forward(&model, &r);
    eprintln!("bart: max |diff| encoder {enc:e}, logits {logits:e}");
}

#[test]
fn bart_generation_matches_transformers() {
    let r = reference("bart");
    let model = Seq2Seq::load(&fixture("bart")).unwrap();
    check_generation(&model, &r);
}

#[test]
fn t5_tokenizer_matches_transformers() {
    let r = reference("t5");
    let model = Seq2Seq::load(&fixture("t5")).unwrap();
    check_tokenizer(&model, &r);
    check_decoding(&model, &r);
}

#[test]
fn t5_forward_matches_transformers() {
    let r = reference("t5");
    let model = Seq2Seq::load(&fixture("t5")).unwrap();
    let (enc, logits) = check_forward(&model, &r);
    eprintln!("t5: max |diff| encoder {enc:e}, logits {logits:e}");
}

#[test]
fn t5_generation_matches_transformers() {
    let r = reference("t5");
    let model = Seq2Seq::load(&fixture("t5")).unwrap();
    check_generation(&model, &r);
}

#[test]
fn marian_loads_pytorch_weights_when_there_is_no_safetensors() {
    let r = reference("marian");
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixture("marian")).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() != "model.safetensors" {
            std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    let model = Seq2Seq::load(dir.path()).unwrap();
    check_forward(&model, &r);
    check_generation(&model, &r);
}
