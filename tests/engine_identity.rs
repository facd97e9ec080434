//! Our Qwen2 engine gives exactly the greedy output of candle-transformers'
//! `quantized_qwen2` (the reference it was optimised from), the same output
//! for a prompt whatever was run before it, and the same output for each
//! conversation whether decoded alone or in a batch with others, with
//! drafted tokens or one token per step; beam search of one hypothesis is
//! greedy decoding (for replies that never repeat eight tokens, which beam
//! search bans).

mod common;

use candle_core::quantized::gguf_file;
use candle_core::{Device, Tensor};
use candle_transformers::models::quantized_qwen2::ModelWeights;
use polybrief::engine::{Conversation, GenerationOptions, Llm, Message, PromptCache};

const NEW_TOKENS: usize = 64;

/// Tokens up to and including the first end-of-turn token: what generation
/// returns. Past it the model is off its training distribution, near-ties
/// abound, and the two engines are not required to agree there.
fn until_end(tokens: Vec<u32>, ends: &[u32]) -> Vec<u32> {
    match tokens.iter().position(|t| ends.contains(t)) {
        Some(i) => tokens[..=i].to_vec(),
        None => tokens,
    }
}

fn reference_model(path: &std::path::Path) -> ModelWeights {
    let mut file = std::fs::File::open(path).unwrap();
    let content = gguf_file::Content::read(&mut file).unwrap();
    ModelWeights::from_gguf(content, &mut file, &Device::Cpu).unwrap()
}

fn reference_greedy(model: &mut ModelWeights, prompt: &[u32], n: usize) -> Vec<u32> {
    let device = Device::Cpu;
    model.clear_kv_cache();
    let argmax = |t: &Tensor| -> u32 {
        let v: Vec<f32> = t.squeeze(0).unwrap().to_vec1().unwrap();
        // First maximum, as candle's argmax sampler picks.
        let mut best = 0;
        for (i, x) in v.iter().enumerate() {
            if *x > v[best] {
                best = i;
            }
        }
        best as u32
    };
    let input = Tensor::new(prompt, &device).unwrap().unsqueeze(0).unwrap();
    let mut out = vec![argmax(&model.forward(&input, 0).unwrap())];
    while out.len() < n {
        let input = Tensor::new(&[*out.last().unwrap()], &device).unwrap().unsqueeze(0).unwrap();
        let pos = prompt.len() + out.len() - 1;
        out.push(argmax(&model.forward(&input, pos).unwrap()));
    }
    out
}

fn conversations() -> Vec<Vec<Message>> {
    let article = std::fs::read_to_string(common::seed_article()).unwrap();
    let article: String = article.chars().take(1500).collect();
    vec![
        vec![Message::system("You summarize news."), Message::user(format!("Summarize:\n{article}"))],
        vec![Message::user("Translate into Simplified Chinese: The ministers met in Helsinki on Tuesday to sign an agreement on a rail tunnel that would cost 13 billion euros.")],
        // Opened by a system turn and an example turn, as Russian
        // renderings are asked for: the opening is every turn but the last.
        vec![
            Message::system("You translate news into Russian."),
            Message::user("Translate into Russian: The talks ended on Monday."),
            Message::assistant("Переговоры завершились в понедельник."),
            Message::user("Translate into Russian: Prices rose 3.5 percent in March, the central bank said, the fastest rise in two years."),
        ],
    ]
}

fn prompts(llm: &Llm) -> Vec<Vec<u32>> {
    conversations().iter().map(|m| llm.encode_chat(m).unwrap()).collect()
}

/// Every conversation decoded together gives what it gives alone, also
/// after the others have finished (the replies have different lengths).
fn check_batch(llm: &mut Llm, id: &str) {
    let conversations = conversations();
    let options = GenerationOptions { max_new_tokens: 48, ..GenerationOptions::default() };
    let alone: Vec<_> = conversations.iter().map(|c| llm.generate(c, &options).unwrap()).collect();
    let batch: Vec<Conversation> = conversations.iter().cloned().map(Conversation::from).collect();
    let together = llm.generate_batch(&batch, &options).unwrap();
    assert_eq!(together.len(), alone.len());
    for (i, (a, t)) in alone.iter().zip(&together).enumerate() {
        assert_eq!(t.text, a.text, "{id}: conversation {i} changed when decoded in a batch");
        assert_eq!((t.generated_tokens, t.stop), (a.generated_tokens, a.stop), "{id}: conversation {i}");
    }
    // Drafted tokens (on by default) change the speed, not the reply: the
    // same conversations decoded one token per step.
    let plain = GenerationOptions { draft_tokens: 0, ..options.clone() };
    for (i, c) in conversations.iter().enumerate() {
        let one_by_one = llm.generate(c, &plain).unwrap();
        assert_eq!(one_by_one.text, alone[i].text, "{id}: conversation {i} changed with drafts");
        assert_eq!(one_by_one.drafted_tokens, 0);
    }
    // Beam search of one hypothesis is greedy decoding, batched or not;
    // a wider beam gives each conversation the same reply in a batch as
    // alone.
    let one_beam = llm.generate_beams(&batch, &options, 1).unwrap();
    for (i, (b, a)) in one_beam.iter().zip(&alone).enumerate() {
        assert_eq!(b.text, a.text, "{id}: conversation {i}: a beam of one is not greedy");
        assert_eq!((b.generated_tokens, b.stop), (a.generated_tokens, a.stop), "{id}: conversation {i}");
    }
    let wide = llm.generate_beams(&batch, &options, 3).unwrap();
    for (i, c) in batch.iter().enumerate() {
        let single = llm.generate_beams(std::slice::from_ref(c), &options, 3).unwrap().remove(0);
        assert_eq!(wide[i].text, single.text, "{id}: conversation {i}: beam search changed in a batch");
    }
    // Each with a width of its own, as a brief's Chinese and Russian
    // renderings are decoded: together as alone, and a width of 3 given
    // per conversation is the beam of 3 above.
    let own: Vec<Conversation> =
        batch.iter().zip([2, 5, 3]).map(|(c, w)| Conversation { beams: Some(w), ..c.clone() }).collect();
    let mixed = llm.generate_beams(&own, &options, 1).unwrap();
    for (i, c) in own.iter().enumerate() {
        let single = llm.generate_beams(std::slice::from_ref(c), &options, 1).unwrap().remove(0);
        assert_eq!(mixed[i].text, single.text, "{id}: conversation {i}: its own beam width changed in a batch");
    }
    assert_eq!(mixed[2].text, wide[2].text, "{id}: a conversation's own width of 3 is not a beam of 3");
    // The summary copies phrases of its article: some of it was drafted.
    assert!(alone[0].drafted_tokens > 0, "{id}: no drafted token kept in the summary");
    let lengths: std::collections::BTreeSet<usize> = alone.iter().map(|g| g.generated_tokens).collect();
    assert!(lengths.len() > 1, "{id}: the replies should end at different steps: {lengths:?}");

    // An opening (a system turn, with example turns or without) copied from
    // the previous prompt gives what computing it gives: the same
    // conversation right after itself (copied), in a fresh model with a
    // prompt cache folder (computed, then saved), and in another fresh
    // model with that folder (read back).
    for i in [0, 2] {
        let again = llm.generate(&conversations[i], &options).unwrap();
        assert_eq!(again.text, alone[i].text, "{id}: a copied opening changed conversation {i}");
    }
    let folder = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for run in ["computed", "read back"] {
        let mut fresh = Llm::load(&common::model_path(id)).unwrap();
        fresh.set_prompt_cache(PromptCache::new(folder.path(), id));
        for i in [0, 2] {
            let reply = fresh.generate(&conversations[i], &options).unwrap();
            assert_eq!(reply.text, alone[i].text, "{id}: an opening {run} changed conversation {i}");
        }
        // One file per opening; read back, it is not written again.
        use std::os::unix::fs::MetadataExt;
        let mut saved: Vec<(std::path::PathBuf, u64)> = std::fs::read_dir(folder.path())
            .unwrap()
            .flat_map(|build| std::fs::read_dir(build.unwrap().path()).unwrap())
            .map(|e| e.unwrap())
            .map(|e| (e.path(), e.metadata().unwrap().ino()))
            .collect();
        saved.sort();
        assert_eq!(saved.len(), 2, "{id}: {saved:?}");
        files.push(saved);
    }
    assert_eq!(files[0], files[1], "{id}: a saved opening was computed again");
}

fn check_model(id: &str) {
    let _lock = common::model_lock();
    let path = common::model_path(id);
    let mut llm = Llm::load(&path).unwrap();
    let prompts = prompts(&llm);
    let ends = llm.tokenizer().eos_ids().to_vec();
    let ours: Vec<Vec<u32>> =
        prompts.iter().map(|p| until_end(llm.greedy_tokens(p, NEW_TOKENS).unwrap(), &ends)).collect();
    // Again in another order: nothing of an earlier prompt may leak in.
    for (i, p) in prompts.iter().enumerate().rev() {
        let again = until_end(llm.greedy_tokens(p, NEW_TOKENS).unwrap(), &ends);
        assert_eq!(again, ours[i], "an earlier prompt changed prompt {i}");
    }
    check_batch(&mut llm, id);
    drop(llm);
    let mut reference = reference_model(&path);
    for (i, p) in prompts.iter().enumerate() {
        assert!(ours[i].len() >= 10, "prompt {i}: too short an answer to compare");
        let expected = until_end(reference_greedy(&mut reference, p, NEW_TOKENS), &ends);
        assert_eq!(ours[i], expected, "{id}: prompt {i} differs from candle-transformers");
    }
}

#[test]
fn small_model_matches_candle_transformers() {
    check_model(common::FAST_MODEL);
}

#[test]
fn default_model_matches_candle_transformers() {
    check_model("qwen2.5-coder-1.5b-instruct-q4_k_m");
}
