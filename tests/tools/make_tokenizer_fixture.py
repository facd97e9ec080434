#!/usr/bin/env python3
"""Reference token ids from llama.cpp for tests/tokenizer_parity.rs.

Writes tests/fixtures/tokenizer/llama_cpp_ids.jsonl: one JSON record per text with the ids that
llama.cpp (through llama-cpp-python) gives it: `llm.tokenize(text, add_bos=False, special=...)`.

The eval texts are third-party data and stay out of the repository: a record names them by path
(relative to the project root) and 1-based line number, or by path alone for a whole file. Only the
edge and random strings made here for the purpose are stored literally (`text`). A record may carry
`wrap`, a chat-template frame in which `{text}` stands for the referenced text.

Run from the project root (needs ../shared/eval and the GGUF):
    pip install llama-cpp-python   # builds llama.cpp from source
    python3 tests/tools/make_tokenizer_fixture.py [path/to/model.gguf]

The fixture in the repository was made with llama-cpp-python 0.3.36 (its version is also written in the
fixture's first record) and /work/dl/q05.gguf (qwen2.5-coder-0.5b-instruct q4_k_m).
"""

import json
import os
import random
import sys

import llama_cpp
from llama_cpp import Llama

EVAL = "../shared/eval"
OUT = "tests/fixtures/tokenizer/llama_cpp_ids.jsonl"

CHAT = (
    "<|im_start|>system\nYou are a news editor. Summarize the article in three sentences.<|im_end|>\n"
    "<|im_start|>user\n{text}<|im_end|>\n<|im_start|>assistant\n"
)

# Strings chosen to hit every branch of the qwen2 pre-tokenizer and the special-token cutting.
EDGE = [
    "",
    " ",
    "a",
    "1,234.56",
    "$1,234,567.89 and 3.14e-10 or -42% (¼ + ½ = ¾), 2²=4, Ⅻ, ١٢٣, ４２",
    "12345678901234567890",
    "don't DON'T It's it’s we'll WE'LL they're THEY'RE I've I'M he'd y'all 'twas o'clock",
    "'s 'S ''s 'x '",
    "two  spaces,   three,    four.     ",
    "   leading spaces and trailing   ",
    "tabs\there\t\tand\t\t\tthere\t",
    "line one\nline two\n\nafter a blank line\n\n\n",
    "windows\r\nline ends\r\n\r\nand a lone\rreturn",
    " \n \n  \n\t\n",
    "punctuation!!! ??? ... --- ***\n... and more:\n\n",
    "emoji 😀👍🏽 family 👨‍👩‍👧‍👦 flag 🇨🇳🇷🇺 heart ❤️ keycap 1️⃣",
    "Mixed scripts: Москва2024, 北京2025年12月3日, GPT-4o和Qwen2.5很好, Привет,мир!",
    "Китай и Россия обсудили Украину — «консенсус» по Японии, 3 декабря 2025 г.",
    "中国外交部长王毅表示，北京和莫斯科必须“继续协调与合作”。（路透社）",
    "日本語のテキスト、カタカナとひらがな。한국어 문장입니다.",
    "Arabic: مرحبا بالعالم. Hindi: नमस्ते दुनिया। Thai: สวัสดีชาวโลก",
    "combining: e\u0301te\u0301 cafe\u0301, precomposed: été café",
    "no-break\u00a0space, ideographic\u3000space, thin\u2009space, zero\u200bwidth, nel\u0085next",
    "\ufeffbyte order mark, soft\u00adhyphen, control \x07\x1b[0m chars",
    "private use \ue000\uf8ff and rare letters 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𠀀𠀁",
    "URL https://example.com/path?q=1&r=two#frag and mail someone@example.org",
    "fn main() {\n    println!(\"{}\", x + 1);\n}\n",
    "def f(x):\n\treturn x ** 2  # square\n",
    "U.S. officials met on Dec. 2 at 10:30 a.m. (GMT+3); e.g., the U.K.-based firm.",
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n",
    "text<|endoftext|>more<|im_end|><|im_start|>",
    "<|im_start|><|im_start|>  <|im_end|>\n\n<|endoftext|>",
    "almost special: <|im_start <im_end|> <|im_end |> <|IM_END|>",
    "<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call>",
    "<|fim_prefix|>def <|fim_suffix|> pass<|fim_middle|>",
    "[PAD151665] is an unused token",
    # Letters and digits new in Unicode 16 (Garay, Cyrillic U+1C89): llama.cpp's tables are 15.1.
    "Garay 𐵀*c 𐵀𐵀/m and digits 𐵀𐵁 Ᲊᲊ new Cyrillic",
]

# Random strings over small pools of tricky characters (spaces of all kinds, contractions, marks,
# numbers of every script, emoji, unassigned and private-use code points, pieces of special tokens).
RANDOM_POOLS = [
    " \t\n\r\u00a0\u3000\u2009\u0085\u200b\u2028",
    "abcXYZ'sStTdDmMlLrReEvV0123456789",
    ".,;:!?-()[]{}\"'`~@#$%^&*_+=<>/\\|",
    "éèçñüßøåÆŒЖжЩщЁёДд",
    "中国北京人的了是。，、“”《》",
    "🙂👍🏽🇨🇳❤️\u200d👨",
    "\u0301\u0308\u0903\u093e\u0e31",
    "²³¼Ⅻ١٢४５",
    "\u0378\u0380\ue000\U000f0000\U00010d40\U00011f04\U0001e4d0\U0002b739",
]
RANDOM_SPECIALS = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<tool_call>", "<|im_sta", "|>"]


def random_texts(count, seed):
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(1, 40)):
            if rng.random() < 0.03:
                parts.append(rng.choice(RANDOM_SPECIALS))
            else:
                ch = rng.choice(rng.choice(RANDOM_POOLS))
                parts.append(ch * (rng.randint(1, 4) if rng.random() < 0.2 else 1))
        texts.append("".join(parts))
    return texts

# (path under ../shared/eval, how many lines, language) picked at an even stride through the file.
SAMPLES = [
    ("wmt22-general/en-zh/source.en", 60, "en"),
    ("wmt21-news/en-zh/source.en", 60, "en"),
    ("wmt22-general/en-zh/ref.A.zh", 50, "zh"),
    ("wmt21-news/en-zh/ref.A.zh", 40, "zh"),
    ("wmt22-general/en-zh/systems/HuaweiTSC.zh", 30, "zh"),
    ("wmt22-general/en-ru/ref.A.ru", 50, "ru"),
    ("wmt21-news/en-ru/ref.A.ru", 40, "ru"),
    ("wmt21-news/en-ru/systems/Facebook-AI.ru", 30, "ru"),
]


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return f.read().split("\n")


def strided(n_lines, count):
    """`count` distinct 1-based line numbers spread evenly over a file, starting at line 1."""
    step = n_lines / count
    return [int(i * step) + 1 for i in range(count)]


def main():
    model = sys.argv[1] if len(sys.argv) > 1 else "/work/dl/q05.gguf"
    llm = Llama(model_path=model, vocab_only=True, verbose=False)

    def ids(text, special):
        return llm.tokenize(text.encode("utf-8"), add_bos=False, special=special)

    records = []
    for path, count, _lang in SAMPLES:
        rel = f"{EVAL}/{path}"
        lines = read_lines(rel)
        if lines[-1] == "":
            lines.pop()
        for n in strided(len(lines), count):
            # Alternate the flag: eval text holds no special tokens, so both must agree with llama.cpp.
            special = n % 2 == 0
            records.append({"source": rel, "line": n, "special": special, "ids": ids(lines[n - 1], special)})

    # Whole SummEval articles (one per line), some also inside the chat frame the engine will use.
    articles = f"{EVAL}/summeval-cnndm/articles.txt"
    lines = read_lines(articles)
    for n in range(1, 101, 10):
        records.append({"source": articles, "line": n, "special": False, "ids": ids(lines[n - 1], False)})
        if n % 20 == 1:
            wrapped = CHAT.replace("{text}", lines[n - 1])
            records.append({"source": articles, "line": n, "special": True, "wrap": CHAT, "ids": ids(wrapped, True)})

    # The scraped seed page as a whole file: blank lines, page furniture and all.
    seed = f"{EVAL}/seed/cna-china-russia-2025-12-03.txt"
    with open(seed, encoding="utf-8") as f:
        text = f.read()
    records.append({"source": seed, "special": False, "ids": ids(text, False)})
    records.append({"source": seed, "special": True, "wrap": CHAT, "ids": ids(CHAT.replace("{text}", text), True)})

    for text in EDGE:
        for special in (False, True):
            r = {"text": text, "special": special, "ids": ids(text, special)}
            if special:
                # llama.cpp's rendering without control tokens (`Specials::Skip` on our side).
                r["detokenized_plain"] = llm.detokenize(r["ids"], special=False).decode("utf-8", "replace")
            records.append(r)

    for i, text in enumerate(random_texts(200, seed=7)):
        records.append({"text": text, "special": i % 2 == 1, "ids": ids(text, i % 2 == 1)})

    header = {
        "made_by": "tests/tools/make_tokenizer_fixture.py",
        "llama_cpp_python": llama_cpp.__version__,
        "model": llm.metadata.get("general.name", os.path.basename(model)),
        "n_vocab": llm.n_vocab(),
        "token_eos": llm.token_eos(),
        "call": "Llama(model_path, vocab_only=True).tokenize(text.encode('utf-8'), add_bos=False, special=special)",
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        f.write(json.dumps(header, ensure_ascii=False) + "\n")
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"{len(records)} records -> {OUT} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()
