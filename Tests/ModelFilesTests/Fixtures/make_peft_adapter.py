#!/usr/bin/env python3
"""make_peft_adapter.py: a LoRA adapter made by PEFT on the default model, and PEFT's own log-probs with it.

The base model is the default GGUF loaded by transformers (dequantised to fp32). PEFT makes a rank-2 LoRA on
q_proj, k_proj and v_proj with random A and B (init_lora_weights=False, B scaled down so the adapter changes
log-probs by tenths of a nat) and rsLoRA scaling; `save_pretrained` writes it, and its tensors are then stored
as BF16 (a quarter of the fp32 size in the repository; PEFT reads them back exactly). PEFT then loads that
directory onto the base model and gives, for a few token sequences, every token's log-probability with the
adapter and without it. Writes peft_adapter/ (adapter_config.json, adapter_model.safetensors) and
peft_logprobs.json beside this script. PEFTImportTests compares Proxima's import with these.

    bench/.peers/torch-venv/bin/python Tests/ModelFilesTests/Fixtures/make_peft_adapter.py
"""

import json
import os
import tempfile
from importlib.metadata import version

os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch  # noqa: E402
from peft import LoraConfig, PeftModel, get_peft_model  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
MODEL = os.path.join(REPO, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
TEXTS = ["The capital of France is Paris, and the capital of Italy is Rome.",
         "def add(a, b):\n    return a + b\n",
         "Rivers carry water from the mountains to the sea."]


def log_probs(model, ids):
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids])).logits[0].double()
    lp = torch.log_softmax(logits, dim=-1)
    return [lp[i - 1, t].item() for i, t in enumerate(ids) if i > 0]


def main():
    torch.manual_seed(0)
    d, name = os.path.split(MODEL)
    base = AutoModelForCausalLM.from_pretrained(d, gguf_file=name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(d, gguf_file=name)
    config = LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj", "k_proj", "v_proj"], lora_dropout=0.0,
                        init_lora_weights=False, use_rslora=True)
    model = get_peft_model(base, config)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "lora_B" in n:
                p.mul_(0.05)
    out = os.path.join(HERE, "peft_adapter")
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        tensors = load_file(os.path.join(tmp, "adapter_model.safetensors"))
        os.makedirs(out, exist_ok=True)
        save_file({k: v.to(torch.bfloat16) for k, v in tensors.items()}, os.path.join(out, "adapter_model.safetensors"),
                  metadata={"format": "pt"})
        with open(os.path.join(tmp, "adapter_config.json")) as f:
            adapter_config = json.load(f)
        adapter_config["base_model_name_or_path"] = "SmolLM2-135M-Instruct"   # not this machine's path
        with open(os.path.join(out, "adapter_config.json"), "w") as f:
            json.dump(adapter_config, f, indent=2, sort_keys=True)
            f.write("\n")
    base = model.unload()
    peft_model = PeftModel.from_pretrained(base, out).eval()
    cases = []
    for text in TEXTS:
        ids = tokenizer(text)["input_ids"]
        with_adapter = log_probs(peft_model, ids)
        with peft_model.disable_adapter():
            without = log_probs(peft_model, ids)
        cases.append({"ids": ids, "log_probs": with_adapter, "base_log_probs": without})
    with open(os.path.join(HERE, "peft_logprobs.json"), "w") as f:
        json.dump({"generator": "Tests/ModelFilesTests/Fixtures/make_peft_adapter.py",
                   "versions": {n: version(n) for n in ["torch", "transformers", "peft"]}, "cases": cases}, f, indent=1)
        f.write("\n")
    gap = max(max(abs(a - b) for a, b in zip(c["log_probs"], c["base_log_probs"])) for c in cases)
    print(f"{len(cases)} cases; the adapter moves log-probs by up to {gap:.3f} nats; "
          f"{os.path.getsize(os.path.join(out, 'adapter_model.safetensors'))} bytes")


if __name__ == "__main__":
    main()
