#!/usr/bin/env python3
"""Reference values from the Python metrics that polybrief's must equal.

Needs `pip install sacrebleu==2.6.0 rouge-score==0.1.2` (rouge-score brings
NLTK, whose Porter stemmer it uses). Prints JSON to stdout:

  metrics_reference.py segments EVAL_DIR
      segment-level BLEU/chrF statistics and scores, ROUGE precision/recall/F1,
      and a few full-precision corpus scores, on a deterministic sample of the
      shared evaluation data (plus a few edge cases written here).
  metrics_reference.py stems EVAL_DIR
      {word: NLTK Porter stem} for every distinct rouge-score token of the
      SummEval texts and the WMT English sources.

Exit code 3 with a message on stderr when the packages are missing or of
another version. Used by tests/metrics_parity.rs.
"""

import json
import logging
import os
import random
import re
import sys

REQUIRED = "pip install sacrebleu==2.6.0 rouge-score==0.1.2"

try:
    from importlib.metadata import version

    import sacrebleu
    from sacrebleu.metrics import BLEU, CHRF
    from rouge_score import rouge_scorer, tokenize as rouge_tokenize
    from nltk.stem import porter
except ImportError as err:
    sys.stderr.write(f"missing Python package ({err}); run: {REQUIRED}\n")
    sys.exit(3)

for package, wanted in (("sacrebleu", "2.6.0"), ("rouge-score", "0.1.2")):
    if version(package) != wanted:
        sys.stderr.write(f"{package} is {version(package)}, need {wanted}; run: {REQUIRED}\n")
        sys.exit(3)

SEED = 20251203
# sacrebleu warns about sentence BLEU without effective order; expected here.
logging.getLogger("sacrebleu").setLevel(logging.ERROR)
ROUGE_TYPES = ["rouge1", "rouge2", "rougeL", "rougeLsum"]

# The WMT folders: (folder, target language, reference files).
WMT = [
    ("wmt21-news/en-zh", "zh", ["ref.A.zh", "ref.B.zh"]),
    ("wmt21-news/en-ru", "ru", ["ref.A.ru", "ref.B.ru"]),
    ("wmt22-general/en-zh", "zh", ["ref.A.zh", "ref.B.zh"]),
    ("wmt22-general/en-ru", "ru", ["ref.A.ru"]),
]

# Cases the shared data may not reach: empty and odd segments.
EDGE_CASES = [
    ("", ["a reference"]),
    ("a hypothesis", [""]),
    ("x", ["x"]),
    ("AT&amp;T &quot;quoted&quot; &lt;tag&gt; <skipped> end-\nline", ["AT&T \"quoted\" <tag> end line"]),
    ("1,000.50 dollars -- 3-4 (a) [b] {c} 'd' e.g. U.S.", ["1,000.50 dollars - 3 - 4 a b c d e.g. U.S."]),
    ("\u3000全角　空格\u2001em\u1680ogham\x1cseparator\xa0nbsp ", ["全角 空格 em ogham separator nbsp"]),
    ("“引号”……—破折号 𠀀扩展B ⺀部首", ["“引号” … — 破折号 𠀀 扩展B ⺀ 部首"]),
    ("the the the the the the", ["the cat is on the mat", "there is a cat on the mat"]),
]


def exact(x):
    """A float as the shortest decimal that reads back to the same bits
    (JSON readers may round numbers; a string keeps every bit)."""
    return repr(float(x))


def read_lines(path):
    with open(path, encoding="utf-8", newline="") as f:
        text = f.read()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def sentence_per_line(text):
    # How the shared SummEval ROUGE-Lsum values were made.
    return re.sub(r"([.!?]) ", "\\1\n", text)


def bleu_stats(bleu, hyp, refs):
    stats = bleu._extract_corpus_statistics([hyp], [[r] for r in refs])[0]
    return [int(x) for x in stats]


def chrf_stats(chrf, hyp, refs):
    return [int(x) for x in chrf._extract_corpus_statistics([hyp], [[r] for r in refs])[0]]


def translation_cases(eval_dir, rng):
    cases = []
    corpus = []
    for folder, lang, ref_files in WMT:
        base = os.path.join(eval_dir, folder)
        refs = [read_lines(os.path.join(base, f)) for f in ref_files]
        systems = sorted(os.listdir(os.path.join(base, "systems")))
        outputs = {s: read_lines(os.path.join(base, "systems", s)) for s in systems}
        tokenize = "zh" if lang == "zh" else "13a"
        bleu = BLEU(tokenize=tokenize)
        bleu_eff = BLEU(tokenize=tokenize, effective_order=True)
        chrf = CHRF()
        picks = [(rng.choice(systems), rng.randrange(len(refs[0]))) for _ in range(150)]
        segments = [(outputs[s][i], [r[i] for r in refs[:k]]) for s, i in picks for k in (1, len(refs))]
        segments += EDGE_CASES
        for hyp, seg_refs in segments:
            cases.append({
                "tokenize": tokenize,
                "hyp": hyp,
                "refs": seg_refs,
                "bleu_stats": bleu_stats(bleu, hyp, seg_refs),
                "bleu": exact(bleu.sentence_score(hyp, seg_refs).score),
                "bleu_effective_order": exact(bleu_eff.sentence_score(hyp, seg_refs).score),
                "chrf_stats": chrf_stats(chrf, hyp, seg_refs),
                "chrf": exact(chrf.sentence_score(hyp, seg_refs).score),
            })
        for system in systems[:1]:
            for k in sorted({1, len(refs)}):
                streams = refs[:k]
                b = BLEU(tokenize=tokenize).corpus_score(outputs[system], streams)
                corpus.append({
                    "folder": folder,
                    "tokenize": tokenize,
                    "system": system,
                    "refs": ref_files[:k],
                    "bleu": exact(b.score),
                    "bleu_counts": list(b.counts),
                    "bleu_totals": list(b.totals),
                    "bleu_bp": exact(b.bp),
                    "chrf": exact(CHRF().corpus_score(outputs[system], streams).score),
                })
    return cases, corpus


def rouge_cases(eval_dir, rng):
    base = os.path.join(eval_dir, "summeval-cnndm")
    refs = [read_lines(os.path.join(base, "ref.original.txt"))]
    refs += [read_lines(os.path.join(base, f"ref.crowd{i}.txt")) for i in range(1, 11)]
    systems = sorted(os.listdir(os.path.join(base, "systems")))
    outputs = {s: read_lines(os.path.join(base, "systems", s)) for s in systems}
    scorers = {stem: rouge_scorer.RougeScorer(ROUGE_TYPES, use_stemmer=stem) for stem in (True, False)}
    cases = []
    for n in range(120):
        system, doc = rng.choice(systems), rng.randrange(len(refs[0]))
        stemmer = n % 4 != 3
        split = n % 2 == 0
        nrefs = 1 if n % 3 else len(refs)
        hyp = outputs[system][doc]
        doc_refs = [r[doc] for r in refs[:nrefs]]
        cases.append(rouge_case(scorers[stemmer], stemmer, split, hyp, doc_refs))
    for hyp, case_refs in EDGE_CASES:
        cases.append(rouge_case(scorers[True], True, False, hyp, case_refs))
        cases.append(rouge_case(scorers[True], True, True, hyp, case_refs))
    return cases


def rouge_case(scorer, stemmer, split, hyp, refs):
    prep = sentence_per_line if split else (lambda t: t)
    if len(refs) == 1:
        scores = scorer.score(prep(refs[0]), prep(hyp))
    else:
        scores = scorer.score_multi([prep(r) for r in refs], prep(hyp))
    return {
        "stemmer": stemmer,
        "sentence_per_line": split,
        "hyp": hyp,
        "refs": refs,
        "scores": {t: [exact(x) for x in scores[t]] for t in ROUGE_TYPES},
    }


def stems(eval_dir):
    base = os.path.join(eval_dir, "summeval-cnndm")
    files = [os.path.join(base, f) for f in sorted(os.listdir(base)) if f.endswith(".txt")]
    files += [os.path.join(base, "systems", f) for f in sorted(os.listdir(os.path.join(base, "systems")))]
    files += [os.path.join(eval_dir, folder, "source.en") for folder, _, _ in WMT]
    words = set()
    for path in files:
        with open(path, encoding="utf-8") as f:
            words.update(rouge_tokenize.tokenize(f.read(), None))
    stemmer = porter.PorterStemmer()
    return {w: stemmer.stem(w) for w in sorted(words)}


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("segments", "stems"):
        sys.stderr.write("usage: metrics_reference.py segments|stems EVAL_DIR\n")
        sys.exit(2)
    mode, eval_dir = sys.argv[1], sys.argv[2]
    if mode == "stems":
        out = stems(eval_dir)
    else:
        rng = random.Random(SEED)
        translation, corpus = translation_cases(eval_dir, rng)
        out = {"translation": translation, "corpus": corpus, "rouge": rouge_cases(eval_dir, rng)}
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
