#!/usr/bin/env python3
"""llama.cpp's side of `polybrief bench`: one timed run on given token ids.

Feeds exactly the prompt token ids it is given (no tokenizer, no chat
template) through llama-cpp-python, then decodes greedily (first maximum of
the logits) for a fixed number of tokens, end tokens or not, as polybrief's
`Llm::measure` does. Prefill and decode are timed separately, after an
untimed warm-up. Prints one JSON object:
{"prefill_tps", "decode_tps", "peak_rss_mb", "prompt_tokens", "new_tokens",
 "tokens"} where "tokens" are the greedy tokens decoded.

Set up llama-cpp-python with benches/setup_llama_cpp.sh.
"""

import argparse
import json
import sys
import time

import numpy as np
from llama_cpp import Llama


def peak_rss_mb():
    """The process's peak resident set (Linux VmHWM), as polybrief reports it."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="GGUF file")
    p.add_argument("--prompt-ids", required=True, help="comma-separated token ids")
    p.add_argument("--new-tokens", type=int, required=True)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--batch", type=int, default=512, help="prompt tokens per forward pass")
    args = p.parse_args()

    ids = [int(t) for t in args.prompt_ids.split(",") if t]
    if not ids:
        sys.exit("--prompt-ids: no token ids given")
    llm = Llama(
        model_path=args.model,
        n_ctx=len(ids) + args.new_tokens + 8,
        n_batch=args.batch,
        n_ubatch=args.batch,
        n_threads=args.threads,
        n_threads_batch=args.threads,
        verbose=False,
    )
    n_vocab = llm.n_vocab()

    def greedy():
        logits = np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(n_vocab,))
        return int(np.argmax(logits))

    # Warm-up: first-use costs (page faults of the mapped file, buffers)
    # stay out of the timings, as on polybrief's side.
    llm.eval(ids[:8])
    greedy()
    llm.reset()

    start = time.perf_counter()
    llm.eval(ids)
    token = greedy()
    prefill_s = time.perf_counter() - start

    tokens = []
    start = time.perf_counter()
    for _ in range(args.new_tokens):
        tokens.append(token)
        llm.eval([token])
        token = greedy()
    decode_s = time.perf_counter() - start

    print(
        json.dumps(
            {
                "prefill_tps": len(ids) / prefill_s,
                "decode_tps": args.new_tokens / decode_s,
                "peak_rss_mb": peak_rss_mb(),
                "prompt_tokens": len(ids),
                "new_tokens": args.new_tokens,
                "tokens": tokens,
            }
        )
    )


if __name__ == "__main__":
    main()
