#!/usr/bin/env python3
"""make_families.py: tiny Qwen2, Qwen3 and Llama-3 GGUF files with llama.cpp's and PyTorch's answers on them.

For each family it builds a small model with random weights in transformers (Qwen2ForCausalLM with q/k/v biases;
Qwen3ForCausalLM with per-head q/k norms, a head dim wider than the embedding over the heads and an untied output;
LlamaForCausalLM with `rope_scaling` type llama3 and an untied output), a byte-level BPE vocabulary trained by
`tokenizers` with the family's pre-tokenizer pattern (prompts/train.jsonl as the corpus) plus the family's special
tokens, and its real chat template (llama.cpp's copy under models/templates). It writes `<family>.gguf` (F32, the
tensor and metadata names llama.cpp's converter uses; Llama's q and k rows permuted as the converter permutes them,
Qwen's left in Hugging Face order) and `<family>.json`:

- chats: for a few conversations, the prompt llama-server renders from the file's template (its own Jinja engine;
  without the leading BOS, which it adds when tokenizing), the token ids llama-server gives that text, the greedy continuation llama-server generates from those ids, and
  PyTorch's fp32 log-probability of every continuation token under the transformers model, and the gap between the
  two likeliest tokens at each step (where it is tiny, fp32 rounding may pick either);
- texts: token ids llama-server gives plain texts (digits, contractions, line breaks, Unicode).

    bench/peers/llamacpp.sh                          # llama-server (first build ≈ 12 min)
    bench/peers/torch_env.sh                         # a venv with torch, transformers, tokenizers, gguf
    bench/.peers/torch-venv/bin/python Tests/ServiceTests/Fixtures/families/make_families.py

Deterministic for given package versions (recorded in each JSON); the Swift test is FamilyGoldenTests.
"""

import json
import os
import sys
import time
from importlib.metadata import version

import gguf
import numpy as np
import torch
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM, Qwen3Config,
                          Qwen3ForCausalLM)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "bench"))
from common import llama_binaries  # noqa: E402
from kquants import LlamaServer, llama_completion  # noqa: E402

TEMPLATES = os.path.join(REPO, "bench", ".peers", "src", "llama_cpp_python-0.3.36", "vendor", "llama.cpp", "models", "templates")

LLAMA3 = (r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
          r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2 = LLAMA3.replace(r"\p{N}{1,3}", r"\p{N}")

FAMILIES = {
    "qwen2": dict(arch="qwen2", pre="qwen2", pattern=QWEN2, template="Qwen-Qwen2.5-7B-Instruct.jinja",
                  specials=[("<|endoftext|>", 3), ("<|im_start|>", 3), ("<|im_end|>", 3)], bos=None, eos="<|im_end|>",
                  hf=lambda v: Qwen2ForCausalLM(Qwen2Config(
                      vocab_size=v, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, max_position_embeddings=512, rope_theta=1_000_000.0, rms_norm_eps=1e-6,
                      tie_word_embeddings=True))),
    "qwen3": dict(arch="qwen3", pre="qwen2", pattern=QWEN2, template="Qwen-Qwen3-0.6B.jinja",
                  specials=[("<|endoftext|>", 3), ("<|im_start|>", 3), ("<|im_end|>", 3), ("<think>", 4), ("</think>", 4)],
                  bos=None, eos="<|im_end|>",
                  hf=lambda v: Qwen3ForCausalLM(Qwen3Config(
                      vocab_size=v, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, head_dim=32, max_position_embeddings=512, rope_theta=1_000_000.0,
                      rms_norm_eps=1e-6, tie_word_embeddings=False))),
    "llama3": dict(arch="llama", pre="llama-bpe", pattern=LLAMA3, template="meta-llama-Llama-3.2-3B-Instruct.jinja",
                   specials=[("<|begin_of_text|>", 3), ("<|end_of_text|>", 3), ("<|start_header_id|>", 3),
                             ("<|end_header_id|>", 3), ("<|eot_id|>", 3)], bos="<|begin_of_text|>", eos="<|eot_id|>",
                   hf=lambda v: LlamaForCausalLM(LlamaConfig(
                       vocab_size=v, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                       num_key_value_heads=2, max_position_embeddings=512, rope_theta=500_000.0, rms_norm_eps=1e-5,
                       tie_word_embeddings=False,
                       # Scaled so that the prompts' positions reach every band of the llama3 rule (factor 1, smoothed, 4).
                       rope_scaling={"rope_type": "llama3", "factor": 4.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                     "original_max_position_embeddings": 64}))),
}

CHATS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [{"role": "system", "content": "You answer in one line."}, {"role": "user", "content": "Name 3 prime numbers."}],
    [{"role": "user", "content": "Hi!"}, {"role": "assistant", "content": "Hello. How can I help?"},
     {"role": "user", "content": "Tell me about rivers, in 2 sentences."}],
]
TEXTS = ["In 2024, 1234 apples cost $5.99!", "I'LL go; you'd stay.\n\n  Next line\tand tabs",
         "naïve café — 東京 🙂", "<|im_start|>not special in plain text<|im_end|>"]
CONTINUATION = 12
VOCAB = 400


def train_vocabulary(pattern, specials):
    corpus = [json.loads(line)["prompt"] for line in open(os.path.join(REPO, "prompts", "train.jsonl"), encoding="utf-8")]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(pattern), behavior="isolated"),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=VOCAB, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                        show_progress=False))
    state = json.loads(tok.to_str())
    vocab = sorted(state["model"]["vocab"].items(), key=lambda kv: kv[1])
    tokens = [t for t, _ in vocab] + [s for s, _ in specials]
    types = [1] * len(vocab) + [kind for _, kind in specials]
    merges = [m if isinstance(m, str) else " ".join(m) for m in state["model"]["merges"]]
    return tokens, types, merges


def randomize(model, seed):
    """Weights large enough that the next-token distribution is peaked (HF's 0.02 init leaves it near uniform)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.3 * torch.randn(p.shape, generator=g))
            elif "embed_tokens" in name:
                p.copy_(torch.randn(p.shape, generator=g))
            elif "lm_head" in name:
                p.copy_(torch.randn(p.shape, generator=g) * (4 / p.shape[1] ** 0.5))
            else:
                p.copy_(torch.randn(p.shape, generator=g) * (1.5 / p.shape[1] ** 0.5))


def rope_theta(config):
    """RoPE's base (transformers 5 keeps it in rope_parameters)."""
    return getattr(config, "rope_theta", None) or config.rope_parameters["rope_theta"]


def rope_type(config):
    """The RoPE variant ("default", "llama3", …) however transformers keeps it."""
    parameters = getattr(config, "rope_parameters", None) or getattr(config, "rope_scaling", None) or {}
    return parameters.get("rope_type", "default")


def llama_permute(w, heads):
    """llama.cpp's converter's q/k row order for Llama: each head's two halves interleaved."""
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def write_gguf(path, spec, model, tokens, types, merges, template):
    c = model.config
    head_dim = getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads
    w = gguf.GGUFWriter(path, spec["arch"])
    w.add_name(f"tiny-{spec['arch']}")
    w.add_context_length(c.max_position_embeddings)
    w.add_embedding_length(c.hidden_size)
    w.add_block_count(c.num_hidden_layers)
    w.add_feed_forward_length(c.intermediate_size)
    w.add_head_count(c.num_attention_heads)
    w.add_head_count_kv(c.num_key_value_heads)
    w.add_key_length(head_dim)
    w.add_value_length(head_dim)
    w.add_rope_dimension_count(head_dim)
    w.add_rope_freq_base(rope_theta(c))
    w.add_layer_norm_rms_eps(c.rms_norm_eps)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(spec["pre"])
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    if spec["bos"]:
        w.add_bos_token_id(tokens.index(spec["bos"]))
    w.add_eos_token_id(tokens.index(spec["eos"]))
    w.add_add_bos_token(spec["bos"] is not None)
    w.add_chat_template(template)

    sd = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}

    def put(name, array):
        w.add_tensor(name, np.ascontiguousarray(array, dtype=np.float32))

    put("token_embd.weight", sd["model.embed_tokens.weight"])
    if spec["arch"] == "llama" and rope_type(c) == "llama3":
        inv = model.model.rotary_emb.inv_freq.double()
        plain = 1.0 / (rope_theta(c) ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
        put("rope_freqs.weight", (plain / inv).float().numpy())
    for i in range(c.num_hidden_layers):
        p, b = f"model.layers.{i}.", f"blk.{i}."
        q, k = sd[p + "self_attn.q_proj.weight"], sd[p + "self_attn.k_proj.weight"]
        if spec["arch"] == "llama":
            q, k = llama_permute(q, c.num_attention_heads), llama_permute(k, c.num_key_value_heads)
        put(b + "attn_norm.weight", sd[p + "input_layernorm.weight"])
        put(b + "attn_q.weight", q)
        put(b + "attn_k.weight", k)
        put(b + "attn_v.weight", sd[p + "self_attn.v_proj.weight"])
        if spec["arch"] == "qwen2":
            for x in "qkv":
                put(b + f"attn_{x}.bias", sd[p + f"self_attn.{x}_proj.bias"])
        if spec["arch"] == "qwen3":
            put(b + "attn_q_norm.weight", sd[p + "self_attn.q_norm.weight"])
            put(b + "attn_k_norm.weight", sd[p + "self_attn.k_norm.weight"])
        put(b + "attn_output.weight", sd[p + "self_attn.o_proj.weight"])
        put(b + "ffn_norm.weight", sd[p + "post_attention_layernorm.weight"])
        put(b + "ffn_gate.weight", sd[p + "mlp.gate_proj.weight"])
        put(b + "ffn_up.weight", sd[p + "mlp.up_proj.weight"])
        put(b + "ffn_down.weight", sd[p + "mlp.down_proj.weight"])
    put("output_norm.weight", sd["model.norm.weight"])
    if not c.tie_word_embeddings:
        put("output.weight", sd["lm_head.weight"])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def post(base, path, body):
    import urllib.request
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def log_probs(model, prompt, continuation):
    """PyTorch's log-probability of each continuation token, and the gap between its two likeliest tokens there."""
    ids = torch.tensor([prompt + continuation])
    with torch.no_grad():
        logits = model(ids).logits[0].double()
    lp = torch.log_softmax(logits, dim=-1)
    rows = [lp[len(prompt) - 1 + i] for i in range(len(continuation))]
    top2 = [row.topk(2).values for row in rows]
    return [row[t].item() for row, t in zip(rows, continuation)], [(v[0] - v[1]).item() for v in top2]


def main():
    torch.manual_seed(0)
    paths, _ = llama_binaries(None, ["llama-server"])
    for seed, (family, spec) in enumerate(FAMILIES.items()):
        tokens, types, merges = train_vocabulary(spec["pattern"], spec["specials"])
        model = spec["hf"](len(tokens)).float().eval()
        randomize(model, seed)
        template = open(os.path.join(TEMPLATES, spec["template"]), encoding="utf-8").read()
        gguf_path = os.path.join(HERE, f"{family}.gguf")
        write_gguf(gguf_path, spec, model, tokens, types, merges, template)
        out = {"generator": "Tests/ServiceTests/Fixtures/families/make_families.py", "family": family,
               "template": spec["template"],
               "versions": {n: version(n) for n in ["torch", "transformers", "tokenizers", "gguf"]},
               "llama_cpp": "llama-server of bench/peers/llamacpp.sh (llama-cpp-python 0.3.36's llama.cpp)",
               "chats": [], "texts": []}
        # An fp32 KV cache (llama-server's default is f16) and no flash attention (its CPU kernel rounds to f16), so
        # that llama.cpp computes in fp32 throughout.
        with LlamaServer(paths["llama-server"], gguf_path, ["--cache-type-k", "f32", "--cache-type-v", "f32", "--flash-attn", "off"]) as base:
            rendered_on = time.strftime("%Y-%m-%d")
            for messages in CHATS:
                prompt = post(base, "/apply-template", {"messages": messages})["prompt"]
                # llama-server leaves the BOS out of the rendered text and adds it when tokenizing, as for a chat.
                ids = post(base, "/tokenize", {"content": prompt, "add_special": spec["bos"] is not None, "parse_special": True})["tokens"]
                continuation = llama_completion(base, ids, CONTINUATION)["tokens"]
                lps, gaps = log_probs(model, ids, continuation)
                out["chats"].append({"messages": messages, "rendered": prompt, "rendered_on": rendered_on, "prompt_ids": ids,
                                     "continuation_ids": continuation, "log_probs": lps, "top2_gaps": gaps})
            for text in TEXTS:
                ids = post(base, "/tokenize", {"content": text, "add_special": False, "parse_special": False})["tokens"]
                out["texts"].append({"text": text, "ids": ids})
        with open(os.path.join(HERE, f"{family}.json"), "w", encoding="utf-8") as f:
            json.dump(out, f, ensure_ascii=False, indent=1)
            f.write("\n")
        print(f"{family}: {len(tokens)} tokens, {os.path.getsize(gguf_path)} bytes, continuations "
              + "; ".join(str(len(c["continuation_ids"])) for c in out["chats"]))


if __name__ == "__main__":
    main()
