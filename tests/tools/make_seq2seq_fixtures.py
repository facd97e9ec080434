#!/usr/bin/env python3
"""Tiny random Marian, BART and T5 models and their reference outputs, from Python `transformers`.

No real weights of these families can be fetched here, so `tests/seq2seq_parity.rs` proves our Rust
code against tiny random models made by the reference implementation. For each family this script

* trains a tiny tokenizer on sentences made up below (SentencePiece unigram for Marian and T5,
  byte-level BPE for BART), saved in the files and layout the real hub repositories use
  (Marian: `source.spm`, `target.spm`, `vocab.json`; T5: `spiece.model`; BART: `vocab.json`,
  `merges.txt`), with `config.json`, `generation_config.json` and `model.safetensors`;
* writes `reference.json`: token ids of a set of texts, encoder outputs, the logits of the first
  decoder steps, greedy and beam-search generations (settings from the generation config), one by
  one and as one padded batch, and the decoded texts.

Usage: python3 tests/tools/make_seq2seq_fixtures.py [OUT_DIR]   (default tests/fixtures/seq2seq)
Requires: pip install torch transformers sentencepiece tokenizers
"""

import copy
import io
import json
import os
import random
import sys

import sentencepiece as spm
import torch
import transformers
from transformers import (
    BartConfig,
    BartForConditionalGeneration,
    BartTokenizer,
    GenerationConfig,
    MarianConfig,
    MarianMTModel,
    MarianTokenizer,
    T5Config,
    T5ForConditionalGeneration,
    T5Tokenizer,
)

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join("tests", "fixtures", "seq2seq")

# ---------------------------------------------------------------------------------------------
# Training sentences, made up for this script from small word lists.

SUBJECTS = ["The council", "A farmer", "The harbour master", "Our neighbour", "The old bridge",
            "A young engineer", "The city library", "Three students", "The night train",
            "A quiet village", "The weather office", "Local fishermen", "The museum", "A tired nurse"]
VERBS = ["opened", "closed", "repaired", "described", "visited", "announced", "painted", "measured",
         "rebuilt", "praised", "questioned", "moved", "counted", "welcomed"]
OBJECTS = ["the northern road", "a new school", "twelve small boats", "the river bank",
           "an empty warehouse", "the morning market", "a broken clock", "forty apple trees",
           "the winter festival", "a long report", "the main square", "2,500 visitors",
           "the budget for 2031", "a wooden tower"]
TAILS = ["on Monday.", "after the storm.", "before noon.", "with great care.", "last year.",
         "despite the rain!", "for the first time.", "in March 2029.", "— again.", "quickly?",
         "near the coast.", "by 7.5 percent."]

ZH_PARTS = ["市议会", "农民", "港口", "邻居", "老桥", "年轻的工程师", "图书馆", "三名学生", "夜班火车",
            "安静的村庄", "气象局", "渔民", "博物馆", "护士"]
ZH_VERBS = ["开放了", "关闭了", "修理了", "描述了", "访问了", "宣布了", "粉刷了", "测量了", "重建了", "称赞了"]
ZH_OBJECTS = ["北方的道路", "一所新学校", "十二条小船", "河岸", "空仓库", "早市", "坏掉的钟", "四十棵苹果树",
              "冬季节日", "长篇报告", "主广场", "两千五百名游客"]
ZH_TAILS = ["。", "，在星期一。", "，在暴风雨之后。", "，在中午之前。", "，去年。", "！", "？"]


def english_sentences(n, seed):
    rng = random.Random(seed)
    return [" ".join([rng.choice(SUBJECTS), rng.choice(VERBS), rng.choice(OBJECTS), rng.choice(TAILS)])
            for _ in range(n)]


def chinese_sentences(n, seed):
    rng = random.Random(seed)
    return ["".join([rng.choice(ZH_PARTS), rng.choice(ZH_VERBS), rng.choice(ZH_OBJECTS), rng.choice(ZH_TAILS)])
            for _ in range(n)]


# Texts whose outputs are recorded: plain, odd spacing, unknown characters, digits, punctuation,
# full-width forms (NFKC), an empty string, and (for Marian) the target-language token.
TEXTS = [
    "The council opened the northern road on Monday.",
    "A young engineer measured forty apple trees near the coast, and the museum welcomed 2,500 visitors.",
    "  Local   fishermen  repaired a broken clock!  ",
    "Ｔｈｅ ｎｉｇｈｔ train moved — quickly? ½ café Ω",
    "Zebra quartz jukebox vexed.",
    "",
]


def random_texts(n, seed):
    """Random strings for the tokenizers alone: words of the training sentences mixed with digits,
    punctuation, accented and full-width letters, CJK, emoji, tabs, newlines and runs of spaces."""
    rng = random.Random(seed)
    words = " ".join(SUBJECTS + VERBS + OBJECTS + TAILS + ZH_PARTS).split()
    odd = ["é", "ß", "Ω", "½", "Ａ", "ｂ", "１", "…", "–", "“", "”", "'s", "'ll", "\t", "\n", "   ", "😀",
           "中文", "Привет", "ﬁ", "\u00a0", "\u3000", "0.5", "1,000", "$", "%", "&", "<", ">"]
    out = []
    for _ in range(n):
        parts = [rng.choice(words) if rng.random() < 0.6 else rng.choice(odd) for _ in range(rng.randint(1, 12))]
        out.append("".join(p + (" " if rng.random() < 0.7 else "") for p in parts))
    return out


def spm_train(sentences, prefix, vocab_size, **extra):
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences),
        model_writer=buf,
        model_type="unigram",
        vocab_size=vocab_size,
        character_coverage=1.0,
        num_threads=1,
        hard_vocab_limit=False,
        minloglevel=2,
        **extra,
    )
    return buf.getvalue()


def tensor_list(t, digits=6):
    return [round(float(x), digits) for x in t.reshape(-1).tolist()]


def record(model, tok_ids, pad_id, start_ids, gen_cfg, settings):
    """Reference outputs of one model for a list of token-id lists."""
    model.eval()
    greedy_cfg = copy.deepcopy(gen_cfg)
    greedy_cfg.num_beams = 1
    greedy_cfg.do_sample = False
    beam_cfg = copy.deepcopy(gen_cfg)
    beam_cfg.update(**settings)
    beam_cfg.do_sample = False
    out = {"single": [], "batched": {}}
    with torch.no_grad():
        for ids in tok_ids:
            inp = torch.tensor([ids])
            enc = model.get_encoder()(input_ids=inp).last_hidden_state
            greedy = model.generate(inp, generation_config=greedy_cfg)
            beam = model.generate(inp, generation_config=beam_cfg)
            # Logits of the first decoder steps along the greedy path.
            steps = min(3, greedy.shape[1])
            dec = greedy[:, :steps]
            logits = model(input_ids=inp, decoder_input_ids=dec).logits[0]
            out["single"].append({
                "input_ids": ids,
                "encoder_output_shape": list(enc.shape),
                "encoder_output": tensor_list(enc),
                "decoder_input_ids": dec[0].tolist(),
                "logits_shape": list(logits.shape),
                "logits": tensor_list(logits),
                "greedy": greedy[0].tolist(),
                "beam": beam[0].tolist(),
            })
        # One right-padded batch of every text.
        width = max(len(i) for i in tok_ids)
        inp = torch.tensor([i + [pad_id] * (width - len(i)) for i in tok_ids])
        mask = torch.tensor([[1] * len(i) + [0] * (width - len(i)) for i in tok_ids])
        greedy = model.generate(inp, attention_mask=mask, generation_config=greedy_cfg)
        beam = model.generate(inp, attention_mask=mask, generation_config=beam_cfg)
        out["batched"] = {"greedy": greedy.tolist(), "beam": beam.tolist()}
    return out


def save(model, tokenizer_files, gen_cfg, reference, name):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    model.save_pretrained(d, safe_serialization=True)
    gen_cfg.save_pretrained(d)
    for fname, data in tokenizer_files.items():
        mode = "wb" if isinstance(data, bytes) else "w"
        with open(os.path.join(d, fname), mode) as f:
            f.write(data)
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump(reference, f, ensure_ascii=False, separators=(",", ":"))


def peaky(model, scale):
    """Random weights with a larger spread: decisions are far from ties, so float differences
    between implementations cannot flip a greedy or beam choice."""
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "embed_positions" in n and isinstance(model, MarianMTModel):
                continue  # Marian's fixed sinusoids stay as they are
            if p.dim() >= 2:
                p.copy_(torch.randn(p.shape, generator=g) * scale)
            elif "norm" not in n and "layer_norm" not in n:
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)


def eos_bias(model, eos, ids, gen):
    """Raises the end-of-sequence logit bias until greedy generations end at several different
    lengths, so that finishing early, padding after the end and beams ending apart are all tested."""
    model.eval()
    for bias in [0.0, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0]:
        with torch.no_grad():
            model.final_logits_bias[0, eos] = bias
            lengths = {model.generate(torch.tensor([i]), generation_config=gen, num_beams=1).shape[1]
                       for i in ids}
        if len(lengths) >= 3:
            return bias
    return bias


# ---------------------------------------------------------------------------------------------
def make_marian():
    en = english_sentences(400, 1)
    zh = chinese_sentences(300, 2)
    src = spm_train(en, "source", 160)
    tgt = spm_train(zh, "target", 200)
    sp_src = spm.SentencePieceProcessor(model_proto=src)
    sp_tgt = spm.SentencePieceProcessor(model_proto=tgt)
    # vocab.json as the opus-mt repositories have it: </s>, <unk>, language tokens, the pieces
    # of both models, and <pad> last (also the decoder's start token).
    vocab = {"</s>": 0, "<unk>": 1, ">>cmn_Hans<<": 2, ">>cmn_Hant<<": 3}
    for sp in (sp_src, sp_tgt):
        for i in range(sp.get_piece_size()):
            p = sp.id_to_piece(i)
            if p in ("<unk>", "<s>", "</s>"):
                continue
            vocab.setdefault(p, len(vocab))
    vocab["<pad>"] = len(vocab)
    n = len(vocab)
    d = os.path.join(OUT, "marian")
    os.makedirs(d, exist_ok=True)
    files = {"source.spm": src, "target.spm": tgt,
             "vocab.json": json.dumps(vocab, ensure_ascii=False, indent=2),
             "tokenizer_config.json": json.dumps({"source_lang": "en", "target_lang": "zh",
                                                  "model_max_length": 512})}
    for fname, data in files.items():
        with open(os.path.join(d, fname), "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
    tok = MarianTokenizer.from_pretrained(d)

    cfg = MarianConfig(
        vocab_size=n, decoder_vocab_size=n, d_model=32, encoder_layers=2, decoder_layers=2,
        encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64,
        max_position_embeddings=64, activation_function="swish", scale_embedding=True,
        pad_token_id=n - 1, eos_token_id=0, decoder_start_token_id=n - 1, forced_eos_token_id=0,
        share_encoder_decoder_embeddings=True, static_position_embeddings=True,
    )
    torch.manual_seed(0)
    model = MarianMTModel(cfg)
    peaky(model, 0.3)
    gen = GenerationConfig(
        bad_words_ids=[[n - 1]], decoder_start_token_id=n - 1, eos_token_id=0, forced_eos_token_id=0,
        max_length=20, num_beams=4, pad_token_id=n - 1, renormalize_logits=False,
    )
    ids = [tok(t)["input_ids"] for t in TEXTS]
    eos_bias(model, 0, ids, gen)
    texts = TEXTS + [">>cmn_Hans<< The museum painted a wooden tower.", ">>cmn_Hant<<  Three students"]
    ids = [tok(t)["input_ids"] for t in texts]
    ref = {"family": "marian", "transformers": transformers.__version__, "texts": texts,
           "settings": {"num_beams": 4}}
    ref.update(record(model, ids, n - 1, None, gen, {"num_beams": 4}))
    # Decoded texts of target pieces: the greedy outputs, and made-up Chinese through the target spm.
    ref["decoded"] = [tok.decode(s["greedy"], skip_special_tokens=True) for s in ref["single"]]
    ref["tokenizer_texts"] = random_texts(60, 11)
    ref["tokenizer_ids"] = [tok(t)["input_ids"] for t in ref["tokenizer_texts"]]
    zh_texts = chinese_sentences(5, 99)
    ref["target_texts"] = zh_texts
    ref["target_ids"] = [tok(text_target=t)["input_ids"] for t in zh_texts]
    ref["target_decoded"] = [tok.decode(i, skip_special_tokens=True) for i in ref["target_ids"]]
    save(model, {}, gen, ref, "marian")
    # The PyTorch pickle that opus-mt repositories have on main instead of safetensors.
    torch.save(model.state_dict(), os.path.join(OUT, "marian", "pytorch_model.bin"))


def make_bart():
    from tokenizers import ByteLevelBPETokenizer

    en = english_sentences(400, 3)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(en, vocab_size=400, min_frequency=2,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    d = os.path.join(OUT, "bart")
    os.makedirs(d, exist_ok=True)
    bpe.save_model(d)
    tok = BartTokenizer.from_pretrained(d)
    n = len(tok)
    cfg = BartConfig(
        vocab_size=n, d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
        decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=64,
        activation_function="gelu", scale_embedding=False, pad_token_id=1, bos_token_id=0,
        eos_token_id=2, decoder_start_token_id=2, forced_bos_token_id=0, forced_eos_token_id=2,
    )
    torch.manual_seed(0)
    model = BartForConditionalGeneration(cfg)
    peaky(model, 0.15)
    # As distilbart-cnn's: beams, a length penalty, no repeated trigram, min and max length.
    gen = GenerationConfig(
        bos_token_id=0, decoder_start_token_id=2, eos_token_id=2, forced_bos_token_id=0,
        forced_eos_token_id=2, pad_token_id=1, num_beams=4, length_penalty=2.0,
        no_repeat_ngram_size=3, min_length=6, max_length=24, early_stopping=True,
    )
    texts = TEXTS
    ids = [tok(t)["input_ids"] for t in texts]
    eos_bias(model, 2, ids, gen)
    ref = {"family": "bart", "transformers": transformers.__version__, "texts": texts,
           "settings": {"num_beams": 4}}
    ref.update(record(model, ids, 1, None, gen, {"num_beams": 4}))
    ref["decoded"] = [tok.decode(s["greedy"], skip_special_tokens=True) for s in ref["single"]]
    ref["tokenizer_texts"] = random_texts(60, 12)
    ref["tokenizer_ids"] = [tok(t)["input_ids"] for t in ref["tokenizer_texts"]]
    save(model, {}, gen, ref, "bart")


def make_t5():
    en = english_sentences(400, 5)
    proto = spm_train(en, "spiece", 180, pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
                      pad_piece="<pad>", eos_piece="</s>", unk_piece="<unk>")
    d = os.path.join(OUT, "t5")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "spiece.model"), "wb") as f:
        f.write(proto)
    tok = T5Tokenizer.from_pretrained(d, extra_ids=0, legacy=True)
    n = spm.SentencePieceProcessor(model_proto=proto).get_piece_size()
    # flan-t5's shape: gated GELU, untied head, relative attention buckets.
    cfg = T5Config(
        vocab_size=n, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_decoder_layers=2, num_heads=4,
        relative_attention_num_buckets=8, relative_attention_max_distance=20,
        feed_forward_proj="gated-gelu", tie_word_embeddings=False, pad_token_id=0, eos_token_id=1,
        decoder_start_token_id=0,
    )
    torch.manual_seed(0)
    model = T5ForConditionalGeneration(cfg)
    peaky(model, 0.15)
    gen = GenerationConfig(decoder_start_token_id=0, eos_token_id=1, pad_token_id=0, max_length=20)
    texts = ["summarize: " + t for t in TEXTS]
    ids = [tok(t)["input_ids"] for t in texts]
    settings = {"num_beams": 3, "length_penalty": 0.8, "no_repeat_ngram_size": 2, "min_length": 4}
    ref = {"family": "t5", "transformers": transformers.__version__, "texts": texts,
           "settings": settings}
    ref.update(record(model, ids, 0, None, gen, settings))
    ref["decoded"] = [tok.decode(s["greedy"], skip_special_tokens=True) for s in ref["single"]]
    ref["tokenizer_texts"] = random_texts(60, 13)
    ref["tokenizer_ids"] = [tok(t)["input_ids"] for t in ref["tokenizer_texts"]]
    save(model, {}, gen, ref, "t5")


if __name__ == "__main__":
    torch.set_num_threads(1)
    which = sys.argv[2:] or ["marian", "bart", "t5"]
    for family in which:
        {"marian": make_marian, "bart": make_bart, "t5": make_t5}[family]()
        print("wrote", os.path.join(OUT, family))
