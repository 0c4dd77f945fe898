#!/usr/bin/env python3
"""make_quant_models.py: a tiny Llama-3-style model in every quantisation llama.cpp makes, with llama.cpp's answers.

The model (one block, width 256 so that rows hold whole 256-value K-quant super-blocks, tied embeddings, the
`llama-bpe` vocabulary and chat template of make_families.py) is written in F32 and quantised by llama.cpp's
`llama-quantize` to each type below (its own per-tensor mix, as users get it). Each file is then expanded back to
F32 by `llama-quantize` — the same dequantised weights — and llama-server (fp32 KV cache, no flash attention)
gives, for a few chats, the prompt's token ids and a 16-token greedy continuation on that expansion, with the
smallest gap between its two likeliest tokens (llama-server reports probabilities per piece of text, so the gap is
over the steps it reports). Writes tiny.<TYPE>.gguf and quants.json beside this script;
QuantGoldenTests decodes each file and compares.

    bench/peers/llamacpp.sh                          # llama-server and llama-quantize
    bench/.peers/torch-venv/bin/python Tests/LlamaTests/Fixtures/quants/make_quant_models.py
"""

import collections
import json
import os
import subprocess
import sys
import tempfile
import time

import gguf
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "families"))
from make_families import (CHATS, FAMILIES, TEMPLATES, LlamaConfig, LlamaForCausalLM, LlamaServer,  # noqa: E402
                           llama_binaries, post, randomize, train_vocabulary, write_gguf)

TYPES = ["Q2_K", "Q3_K_M", "Q4_K_M", "Q5_K_M", "Q6_K", "Q5_0", "Q5_1"]
CONTINUATION = 16


def main():
    paths, _ = llama_binaries(None, ["llama-server", "llama-quantize"])
    spec = dict(FAMILIES["llama3"])
    tokens, types, merges = train_vocabulary(spec["pattern"], spec["specials"])
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokens), hidden_size=256, intermediate_size=256, num_hidden_layers=1,
                                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                                         rope_theta=10_000.0, rms_norm_eps=1e-5, tie_word_embeddings=True)).float().eval()
    randomize(model, 7)
    with torch.no_grad():   # tied embeddings of N(0, 1) make the head's logits tens of nats apart: bring them to a few
        model.model.embed_tokens.weight.mul_(0.12)
    template = open(os.path.join(TEMPLATES, spec["template"]), encoding="utf-8").read()
    out = {"generator": "Tests/LlamaTests/Fixtures/quants/make_quant_models.py", "types": {}}
    with tempfile.TemporaryDirectory() as tmp:
        base = os.path.join(tmp, "tiny.F32.gguf")
        write_gguf(base, spec, model, tokens, types, merges, template)
        for qtype in TYPES:
            target = os.path.join(HERE, f"tiny.{qtype}.gguf")
            expanded = os.path.join(tmp, f"tiny.{qtype}-as-F32.gguf")
            subprocess.run([str(paths["llama-quantize"]), base, target, qtype], check=True, capture_output=True)
            subprocess.run([str(paths["llama-quantize"]), "--allow-requantize", target, expanded, "F32"], check=True, capture_output=True)
            mix = collections.Counter(t.tensor_type.name for t in gguf.GGUFReader(target).tensors)
            chats = []
            with LlamaServer(paths["llama-server"], expanded, ["--cache-type-k", "f32", "--cache-type-v", "f32", "--flash-attn", "off"]) as url:
                for messages in CHATS:
                    prompt = post(url, "/apply-template", {"messages": messages})["prompt"]
                    ids = post(url, "/tokenize", {"content": prompt, "add_special": True, "parse_special": True})["tokens"]
                    reply = post(url, "/completion", {"prompt": ids, "n_predict": CONTINUATION, "temperature": 0, "top_k": 1,
                                                      "cache_prompt": False, "return_tokens": True, "n_probs": 2,
                                                      "post_sampling_probs": False})
                    gaps = [p["top_logprobs"][0]["logprob"] - p["top_logprobs"][1]["logprob"] for p in reply["completion_probabilities"]]
                    chats.append({"messages": messages, "rendered_on": time.strftime("%Y-%m-%d"), "prompt_ids": ids, "continuation_ids": reply["tokens"], "min_gap": min(gaps)})
            out["types"][qtype] = {"tensor_types": dict(sorted(mix.items())), "chats": chats}
            print(f"{qtype}: {dict(mix)}, {os.path.getsize(target)} bytes, smallest top-2 gap "
                  f"{min(c['min_gap'] for c in chats):.4f}, continuations {[len(c['continuation_ids']) for c in chats]}")
    with open(os.path.join(HERE, "quants.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
