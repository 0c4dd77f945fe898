"""KTO's loss and LoRA gradient in PyTorch + PEFT, written independently of Proxima, for
Tests/LearningTests/KTOGoldenTests.swift. Writes Tests/LearningTests/Fixtures/kto_golden.json.

The default model (GGUF, dequantised to fp32 by transformers), one LoRA (r 4, alpha 8, q_proj and v_proj,
A[i,j] = sin(0.01 i + 0.003 j)·0.01 and B[i,j] = cos(0.007 i + 0.002 j)·0.3, HF row order), four KTO
examples: prompt 1 with two responses (desirable, undesirable: a labelled pair), prompt 2 with a desirable
response, prompt 3 with an undesirable one. Reference = the base model (LoRA disabled). z0 = max(0, mean
over mismatched completions of log pi(y'|x) - log ref(y'|x)) without gradient, where each example group's
prompt takes the next group's first response (prompt 1 + response 2, prompt 2 + response 3, prompt 3 +
response 1a). v = lam_D sigmoid(beta (r - z0)) for desirable, lam_U sigmoid(beta (z0 - r)) for undesirable;
loss = mean over the four of (lam_y - v). beta 0.1, lam_D 1.0, lam_U 1.5.

  bench/.peers/torch-venv/bin/python Tests/LearningTests/Scripts/kto_golden.py --model models/SmolLM2-135M-Instruct.Q4_1.gguf
"""

import argparse
import json
import math
import os

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer

BETA, LAM_D, LAM_U = 0.1, 1.0, 1.5

p = argparse.ArgumentParser()
p.add_argument("--model", required=True)
p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "Fixtures", "kto_golden.json"))
args = p.parse_args()
torch.set_num_threads(2)
d, name = os.path.split(os.path.abspath(args.model))
tok = AutoTokenizer.from_pretrained(d, gguf_file=name)
model = AutoModelForCausalLM.from_pretrained(d, gguf_file=name, dtype=torch.float32, attn_implementation="eager")
model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], lora_dropout=0.0, bias="none"))
model.eval()
with torch.no_grad():
    for n, prm in model.named_parameters():
        if "lora_A" in n:
            i = torch.arange(prm.shape[0], dtype=torch.float64)[:, None]; j = torch.arange(prm.shape[1], dtype=torch.float64)[None, :]
            prm.copy_((torch.sin(i * 0.01 + j * 0.003) * 0.01).float())
        elif "lora_B" in n:
            i = torch.arange(prm.shape[0], dtype=torch.float64)[:, None]; j = torch.arange(prm.shape[1], dtype=torch.float64)[None, :]
            prm.copy_((torch.cos(i * 0.007 + j * 0.002) * 0.3).float())


def prompt_ids(text):
    return tok.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True, tokenize=True, return_dict=False)


def ids(text):
    return tok(text, add_special_tokens=False)["input_ids"]


prompts = [prompt_ids("What is the boiling point of water at sea level?"), prompt_ids("Name a colour."), prompt_ids("Say hello.")]
r1a, r1b = ids("Water boils at 100 degrees Celsius at sea level.<|im_end|>"), ids("Water boils at about 50 degrees.<|im_end|>")
r2, r3 = ids("Blue is a colour.<|im_end|>"), ids("Goodbye forever, I will not say it.<|im_end|>")
groups = [(prompts[0], [(r1a, True), (r1b, False)]), (prompts[1], [(r2, True)]), (prompts[2], [(r3, False)])]


def logp(prompt, response):
    x = torch.tensor([prompt + response[:-1]])
    logits = model(input_ids=x).logits[0, len(prompt) - 1:]
    return torch.log_softmax(logits.double(), -1).gather(1, torch.tensor(response)[:, None]).sum()


with torch.no_grad():
    mismatched = [(groups[i][0], groups[(i + 1) % 3][1][0][0]) for i in range(3)]
    pol_mm = [float(logp(pp, rr)) for pp, rr in mismatched]
    with model.disable_adapter():
        ref_mm = [float(logp(pp, rr)) for pp, rr in mismatched]
        ref = [float(logp(pp, rr)) for pp, rs in groups for rr, _ in rs]
z0_raw = sum(a - b for a, b in zip(pol_mm, ref_mm)) / 3
z0 = max(0.0, z0_raw)
terms, policies, k = [], [], 0
for pp, rs in groups:
    for rr, desirable in rs:
        lp = logp(pp, rr)
        policies.append(float(lp))
        r = lp - ref[k]
        v = LAM_D * torch.sigmoid(BETA * (r - z0)) if desirable else LAM_U * torch.sigmoid(BETA * (z0 - r))
        terms.append((LAM_D if desirable else LAM_U) - v)
        k += 1
loss = torch.stack(terms).mean()
loss.backward()
norms = {}
for n, prm in model.named_parameters():
    if "lora_" in n:
        layer = int(n.split(".layers.")[1].split(".")[0])
        proj = "q_proj" if "q_proj" in n else "v_proj"
        norms[f"{layer}.{proj}.{'A' if 'lora_A' in n else 'B'}"] = float(prm.grad.double().norm())
json.dump({
    "description": __doc__.strip().split("\n\n")[1],
    "beta": BETA, "desirable_weight": LAM_D, "undesirable_weight": LAM_U,
    "groups": [{"prompt": pp, "responses": [rr for rr, _ in rs], "desirable": [dd for _, dd in rs]} for pp, rs in groups],
    "policy_logps": policies, "reference_logps": ref, "mismatched_policy_logps": pol_mm, "mismatched_reference_logps": ref_mm,
    "z0_unclipped": z0_raw, "z0": z0, "loss": float(loss), "grad_l2": norms,
}, open(args.out, "w"), indent=1)
print(f"loss {float(loss):.6f} z0 {z0_raw:+.6f} policy {policies} ref {ref}")
