"""The PyTorch + PEFT side of bench/train.py: times one BPO/DPO training step of a LoRA ensemble on the CPU,
the configuration `proxima bench --train` runs. Needs the venv of bench/peers/torch_env.sh (torch,
transformers, peft, gguf); bench/train.py runs it with that venv's python. The last stdout line is one JSON
object (`train_step_seconds` and what was run); progress goes to stderr.

One step, for each of E members: activate its PEFT adapter, forward the chosen and rejected rows of every
pair through the whole model (fp32, base frozen; prompt + response − 1 input tokens per row, the last
response token is only a target), log-probs of the response tokens only (logits computed for those
positions alone, via transformers' `logits_to_keep`), DPO loss against constant reference log-probs (BPO:
no reference forward), backward, clip the member's gradient norm to 1.0, AdamW step. Micro-batches of
--micro-pairs pairs accumulate gradients (the loss is the mean over all pairs, as in Proxima).

Token ids and reference log-probs follow Proxima's TrainBenchmark.swift exactly.

  python torch_train_step.py --model GGUF [--threads 2] [--attn sdpa|eager] [--micro-pairs 4]
  python torch_train_step.py --model GGUF --check     # cheap correctness check of the step (tiny sizes)
"""

import argparse
import json
import math
import os
import sys
import time
import warnings

import peft
import torch
import torch.nn.functional as F
import transformers
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
# PEFT 0.21 still calls transformers' deprecated alias; the warning is noise in the benchmark's output.
warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)


def log(msg):
    print(f"[torch] {msg}", file=sys.stderr, flush=True)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="GGUF file")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--attn", choices=["sdpa", "eager"], default="sdpa", help="attention implementation")
    p.add_argument("--ensemble", type=int, default=5)
    p.add_argument("--rank", type=int, default=16)
    p.add_argument("--pairs", type=int, default=16)
    p.add_argument("--prompt-tokens", type=int, default=64)
    p.add_argument("--response-tokens", type=int, default=96)
    p.add_argument("--micro-pairs", type=int, default=4, help="pairs per forward/backward pass (default 4)")
    p.add_argument("--steps", type=int, default=2, help="timed steps after one warm-up step (default 2)")
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--beta", type=float, default=0.1)
    p.add_argument("--check", action="store_true",
                   help="instead of timing: check the step on a tiny batch (loss at step 0 = softplus(-β·h) "
                        "from an independent full-logits forward; loss falls over a few steps)")
    return p.parse_args(argv)


def load_model(path, attn):
    d, name = os.path.split(os.path.abspath(path))
    return AutoModelForCausalLM.from_pretrained(d, gguf_file=name, dtype=torch.float32, attn_implementation=attn)


def add_members(model, e, rank):
    """E LoRA adapters m0..m{E-1} (PEFT's default init: A Kaiming-uniform from seed 1000+i, B zero)."""
    cfg = LoraConfig(r=rank, lora_alpha=2 * rank, target_modules=TARGETS, lora_dropout=0.0, bias="none")
    torch.manual_seed(1000)
    model = get_peft_model(model, cfg, adapter_name="m0")
    for i in range(1, e):
        torch.manual_seed(1000 + i)
        model.add_adapter(f"m{i}", cfg)
    names = [f"m{i}" for i in range(e)]
    params = {n: [p for k, p in model.named_parameters() if f".{n}." in k] for n in names}
    return model, names, params


def synthetic_batch(vocab, pairs, prompt, response):
    """Proxima's TrainBenchmark token ids; rows 0..P-1 chosen, P..2P-1 rejected, each prompt + response."""
    tok = lambda i: 100 + (i * 7919) % (vocab - 100)  # noqa: E731
    chosen = [[tok(j + 1000 * p) for j in range(prompt)] + [tok(j * 3 + 17 * p) for j in range(response)]
              for p in range(pairs)]
    rejected = [[tok(j + 1000 * p) for j in range(prompt)] + [tok(j * 5 + 31 * p) for j in range(response)]
                for p in range(pairs)]
    return torch.tensor(chosen), torch.tensor(rejected)


def response_logprobs(model, ids, response):
    """Summed log-probs of the last `response` tokens of each row; logits only at the positions predicting them."""
    out = model(input_ids=ids[:, :-1], logits_to_keep=response, use_cache=False)
    logits = out.logits  # [rows, response, vocab]
    targets = ids[:, -response:]
    lp = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, dim=-1)
    return lp.sum(-1)


def dpo_loss(pc, pr, rc, rr, beta):
    """Per pair: softplus(−β·((π_c − ref_c) − (π_r − ref_r)))."""
    return F.softplus(-beta * ((pc - rc) - (pr - rr)))


class Trainer:
    def __init__(self, model, names, params, a):
        self.model, self.names, self.params, self.a = model, names, params, a
        self.opts = {n: torch.optim.AdamW(params[n], lr=a.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
                     for n in names}

    def step(self, chosen, rejected, ref_c, ref_r):
        """One step of every member; returns the mean loss per member (before its update)."""
        a, n_pairs, losses = self.a, chosen.shape[0], []
        for name in self.names:
            self.model.set_adapter(name)
            opt = self.opts[name]
            opt.zero_grad(set_to_none=True)
            total = 0.0
            for s in range(0, n_pairs, a.micro_pairs):
                e = min(s + a.micro_pairs, n_pairs)
                lp = response_logprobs(self.model, torch.cat([chosen[s:e], rejected[s:e]]), a.response_tokens)
                loss = dpo_loss(lp[: e - s], lp[e - s:], ref_c[s:e], ref_r[s:e], a.beta).sum() / n_pairs
                loss.backward()
                total += loss.item()
            torch.nn.utils.clip_grad_norm_(self.params[name], 1.0)
            opt.step()
            losses.append(total)
        return losses


def check(model, a):
    """Tiny batch: the step-0 loss equals softplus(−β·h) computed from base log-probs of an independent
    full-logits forward (adapters off), only the active member gets gradients, and the loss falls."""
    a.pairs, a.prompt_tokens, a.response_tokens, a.micro_pairs, a.ensemble = 2, 8, 8, 1, 2
    chosen, rejected = synthetic_batch(model.config.vocab_size, a.pairs, a.prompt_tokens, a.response_tokens)
    model, names, params = add_members(model, a.ensemble, a.rank)
    with torch.no_grad(), model.disable_adapter():
        def full(ids):
            lsm = model(input_ids=ids).logits[:, :-1].log_softmax(-1)
            return lsm.gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)[:, -a.response_tokens:].sum(-1).double()
        base_c, base_r = full(chosen), full(rejected)
    ref_c, ref_r = base_c + 0.5, base_r - 0.5  # h = β·(−0.5 − 0.5) at step 0
    expected = F.softplus(-a.beta * ((base_c - ref_c) - (base_r - ref_r))).mean().item()
    trainer = Trainer(model, names, params, a)
    history = [trainer.step(chosen, rejected, ref_c.float(), ref_r.float()) for _ in range(6)]
    log(f"expected step-0 loss {expected:.6f} (h = {-a.beta:.3f}); per-member loss by step: {history}")
    problems = []
    if any(abs(l0 - expected) > 1e-4 for l0 in history[0]):
        problems.append(f"step-0 loss {history[0]} != softplus(-β·h) = {expected:.6f}")
    if any(not (history[-1][m] < history[0][m] - 1e-3) for m in range(a.ensemble)):
        problems.append("the loss did not fall over 5 steps")
    model.set_adapter(names[0])
    for n in names:
        for p in params[n]:
            p.grad = None
    response_logprobs(model, chosen, a.response_tokens).sum().backward()
    if any(p.grad is None for p in params[names[0]]) or any(p.grad is not None for p in params[names[1]]):
        problems.append("gradients did not go to the active member only")
    print(json.dumps({"check": "failed" if problems else "ok", "problems": problems,
                      "expected_step0_loss": expected, "losses": history}), flush=True)
    return 1 if problems else 0


def main(argv=None):
    a = parse_args(argv)
    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    model = load_model(a.model, a.attn)
    load_s = time.perf_counter() - t0
    log(f"loaded {a.model} in {load_s:.1f} s ({a.attn} attention, {torch.get_num_threads()} threads)")
    if a.check:
        return check(model, a)
    model, names, params = add_members(model, a.ensemble, a.rank)
    per_member = sum(p.numel() for p in params[names[0]])
    chosen, rejected = synthetic_batch(model.config.vocab_size, a.pairs, a.prompt_tokens, a.response_tokens)
    ref_c = torch.full((a.pairs,), -200.0)
    ref_r = torch.full((a.pairs,), -210.0)
    trainer = Trainer(model, names, params, a)
    times, losses = [], []
    for s in range(a.steps + 1):
        t = time.perf_counter()
        l = trainer.step(chosen, rejected, ref_c, ref_r)
        times.append(time.perf_counter() - t)
        losses.append(sum(l) / len(l))
        log(f"training step {s}: {times[-1]:.2f} s (loss {losses[-1]:.4f}){' — warm-up' if s == 0 else ''}")
    print(json.dumps({
        "train_step_seconds": sum(times[1:]) / a.steps, "step_seconds": times, "losses": losses,
        "ensemble": a.ensemble, "rank": a.rank, "pairs": a.pairs, "prompt_tokens": a.prompt_tokens,
        "response_tokens": a.response_tokens, "micro_pairs": a.micro_pairs, "threads": torch.get_num_threads(),
        "attn": a.attn, "trainable_params_per_member": per_member, "load_seconds": round(load_s, 2),
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "peft": peft.__version__, "python": sys.version.split()[0],
                     "blas": "MKL" if torch.backends.mkl.is_available() else "other",
                     "cpu_capability": torch.backends.cpu.get_cpu_capability()},
        "finite": all(math.isfinite(x) for x in losses)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
