#!/usr/bin/env python3
"""K-quant files of the default model, Proxima against llama.cpp on each (issue 19).

For each type it makes the file with llama.cpp's `llama-quantize --allow-requantize` from the default model (the
mix llama.cpp chooses: rows of 576 cannot hold 256-value super-blocks, so many tensors fall back to Q5_0 and
others), then for each prompt compares the prompt's token ids and the greedy continuation of `proxima generate`
with llama-server's on the same prompt ids, twice: on the file itself, where llama.cpp's kernels quantise
activations to 8 bits (a loose reference, as on Q4_1: ../shared/golden/README.md), and on the same file expanded
to F32 by llama-quantize (the same dequantised weights in fp32 math: the exact reference for Proxima, which runs
these types on an fp32 copy). The report gives how many leading tokens agree, per prompt.

    bench/peers/llamacpp.sh                    # builds llama-quantize and llama-server (first run ≈ 12 min)
    python3 bench/kquants.py [--types Q4_K_M,Q6_K] [--tokens 32]

Markdown to stdout.
"""

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import DEFAULT_MODEL, DEFAULT_PROXIMA, OUT, llama_binaries  # noqa: E402
from server import free_port  # noqa: E402

PROMPTS = ["What is the capital of France?", "Write a haiku about rivers.", "How do I boil an egg?",
           "Name three prime numbers.", "Why is the sky blue?"]


def proxima(binary, model, prompt, tokens):
    out = subprocess.run([binary, "generate", "--model", model, "--prompt", prompt, "--temperature", "0",
                          "--max-tokens", str(tokens), "--json", "--threads", "2"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def llama_completion(base, prompt_ids, tokens):
    body = {"prompt": prompt_ids, "n_predict": tokens, "temperature": 0, "top_k": 1, "cache_prompt": False,
            "return_tokens": True, "ignore_eos": False}
    request = urllib.request.Request(base + "/completion", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=300) as response:
        return json.loads(response.read())


def llama_tokenize(base, text):
    request = urllib.request.Request(base + "/apply-template", method="POST", headers={"Content-Type": "application/json"},
                                     data=json.dumps({"messages": [{"role": "user", "content": text}]}).encode())
    with urllib.request.urlopen(request, timeout=60) as response:
        rendered = json.loads(response.read())["prompt"]
    request = urllib.request.Request(base + "/tokenize", method="POST", headers={"Content-Type": "application/json"},
                                     data=json.dumps({"content": rendered, "add_special": False, "parse_special": True}).encode())
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())["tokens"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--types", default="Q4_K_M,Q5_K_M,Q6_K,Q3_K_M")
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--model", default=str(DEFAULT_MODEL))
    parser.add_argument("--proxima", default=str(DEFAULT_PROXIMA))
    parser.add_argument("--out", default=str(OUT / "kquants"))
    args = parser.parse_args()
    paths, _ = llama_binaries(None, ["llama-quantize", "llama-server"])
    os.makedirs(args.out, exist_ok=True)
    print(f"| file | prompt ids equal | greedy tokens agreeing (of {args.tokens}) with llama.cpp on the same file expanded to F32 | with llama.cpp on the file |")
    print("| --- | --- | --- | --- |")
    for qtype in args.types.split(","):
        path = os.path.join(args.out, f"SmolLM2-135M-Instruct.{qtype}.gguf")
        expanded = os.path.join(args.out, f"SmolLM2-135M-Instruct.{qtype}-as-F32.gguf")
        for source, target, kind in [(args.model, path, qtype), (path, expanded, "F32")]:
            if not os.path.exists(target):
                subprocess.run([str(paths["llama-quantize"]), "--allow-requantize", source, target, kind], check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        mine = [proxima(args.proxima, path, prompt, args.tokens) for prompt in PROMPTS]
        same_ids, columns = True, []
        for reference in [expanded, path]:
            with LlamaServer(paths["llama-server"], reference) as base:
                agreeing = []
                for prompt, reply in zip(PROMPTS, mine):
                    same_ids &= llama_tokenize(base, prompt) == reply["prompt_token_ids"]
                    theirs = llama_completion(base, reply["prompt_token_ids"], args.tokens)["tokens"]
                    n = 0
                    while n < min(len(theirs), len(reply["token_ids"])) and theirs[n] == reply["token_ids"][n]:
                        n += 1
                    agreeing.append(f"{n}/{max(len(theirs), len(reply['token_ids']))}")
                columns.append(", ".join(agreeing))
        print(f"| {qtype} | {'yes' if same_ids else 'NO'} | {columns[0]} | {columns[1]} |")
        os.remove(expanded)   # 0.5 GB each


class LlamaServer:
    def __init__(self, binary, model, extra=()):
        self.port = free_port()
        self.process = subprocess.Popen([str(binary), "-m", model, "--port", str(self.port), "-t", "2", "-c", "2048", "--no-warmup", *extra],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def __enter__(self):
        base = f"http://127.0.0.1:{self.port}"
        for _ in range(600):
            try:
                with urllib.request.urlopen(base + "/health", timeout=2) as r:
                    if r.status == 200:
                        return base
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("llama-server did not start")

    def __exit__(self, *_):
        self.process.terminate()
        self.process.wait(timeout=30)


if __name__ == "__main__":
    main()
