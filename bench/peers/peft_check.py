#!/usr/bin/env python3
"""Loads a version Proxima published with PEFT and checks that it is the policy the server served.

For a learned version vN of a Proxima database: the base model comes from the GGUF through transformers
(dequantised to fp32), the version's adapter directory (adapter_model.safetensors + adapter_config.json)
through `peft.PeftModel.from_pretrained`; then, for samples the server logged while vN was serving, the
log-probs of every generated token given the prompt are computed in PyTorch and compared with the behavior
log-probs Proxima recorded. Also reports the same comparison with the adapter disabled, to show the adapter
is what makes them agree. Exit 0 when the worst per-token difference is within --tolerance (default 2e-3
nats, issue 2's exactness bound), 1 otherwise.

Run with the venv of bench/peers/torch_env.sh, e.g.
  python_env=$(bench/peers/torch_env.sh | sed -n 's/^python=//p')
  $python_env bench/peers/peft_check.py --db data/proxima.sqlite --version v3
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import struct
import sys
import warnings
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")  # no progress bars from the GGUF conversion
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import peft  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from peft import PeftModel  # noqa: E402
from transformers import AutoModelForCausalLM  # noqa: E402

warnings.filterwarnings("ignore", category=FutureWarning)
REPO = Path(__file__).resolve().parents[2]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", required=True, help="the Proxima database")
    p.add_argument("--version", help="the learned version (default: the serving one)")
    p.add_argument("--policies", help="the policies directory (default: policies/ beside the database)")
    p.add_argument("--model", default=str(REPO / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"))
    p.add_argument("--samples", type=int, default=6, help="logged samples to check (default: 6)")
    p.add_argument("--tolerance", type=float, default=2e-3, help="nats per token (default: 2e-3)")
    p.add_argument("--threads", type=int, default=2)
    return p.parse_args()


def ints(blob: bytes) -> list[int]:
    return list(struct.unpack(f"<{len(blob) // 4}i", blob))


def floats(blob: bytes) -> list[float]:
    return list(struct.unpack(f"<{len(blob) // 4}f", blob))


def token_logprobs(model, prompt: list[int], response: list[int]) -> torch.Tensor:
    ids = torch.tensor([prompt + response])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0, len(prompt) - 1:-1].float()
    return torch.log_softmax(logits, dim=-1).gather(1, torch.tensor(response)[:, None])[:, 0]


def main() -> int:
    a = parse_args()
    torch.set_num_threads(a.threads)
    db = sqlite3.connect(f"file:{os.path.abspath(a.db)}?mode=ro", uri=True)
    version = a.version or db.execute("SELECT id FROM policy_versions WHERE status = 'serving'").fetchone()[0]
    row = db.execute("SELECT adapter_path FROM policy_versions WHERE id = ?", (version,)).fetchone()
    if row is None or row[0] is None:
        sys.exit(f"peft_check: {version} is not a learned version of {a.db}")
    policies = Path(a.policies) if a.policies else Path(a.db).resolve().parent / "policies"
    adapter_dir = (policies / row[0]).parent
    samples = db.execute(
        "SELECT r.prompt_token_ids, s.token_ids, s.logprobs FROM samples s JOIN requests r ON r.id = s.request_id "
        "WHERE r.policy_version = ? AND length(s.token_ids) > 0 ORDER BY r.created_at DESC, s.sample_index LIMIT ?",
        (version, a.samples)).fetchall()
    if not samples:
        sys.exit(f"peft_check: no logged samples of {version}")
    print(f"[peft-check] torch {torch.__version__}, transformers {transformers.__version__}, peft {peft.__version__}; "
          f"{version} from {adapter_dir}", file=sys.stderr)
    d, name = os.path.split(os.path.abspath(a.model))
    base = AutoModelForCausalLM.from_pretrained(d, gguf_file=name, dtype=torch.float32)
    model = PeftModel.from_pretrained(base, str(adapter_dir)).eval()
    worst, worst_base, tokens = 0.0, 0.0, 0
    for prompt, response, logprobs in samples:
        prompt, response, recorded = ints(prompt), ints(response), torch.tensor(floats(logprobs))
        worst = max(worst, (token_logprobs(model, prompt, response) - recorded).abs().max().item())
        with model.disable_adapter():
            worst_base = max(worst_base, (token_logprobs(model, prompt, response) - recorded).abs().max().item())
        tokens += len(response)
    ok = worst <= a.tolerance
    print(json.dumps({"version": version, "samples": len(samples), "tokens": tokens,
                      "max_abs_diff_with_adapter": worst, "max_abs_diff_base_only": worst_base,
                      "tolerance": a.tolerance, "ok": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
