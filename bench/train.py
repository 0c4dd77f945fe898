#!/usr/bin/env python3
"""Training-step benchmark: Proxima (`proxima bench --train`) vs PyTorch + PEFT on the CPU (issue 4).

Both run one BPO/DPO training step of the same configuration on the same GGUF with the same threads, one
after the other (never at the same time; Proxima first): an ensemble of E=5 LoRA members (rank 16,
alpha 32, all seven linear projections q,k,v,o,gate,up,down of every layer), 16 pairs of synthetic token
ids (prompt 64, chosen and rejected responses 96 each), fp32 forward and backward through the whole model
per member, DPO loss (β 0.1) against constant reference log-probs (BPO: no reference forward), gradient
clipping at 1.0 and an AdamW step (lr 2e-4) per member. Each side times 1 warm-up step, then reports the
mean of 2 timed steps (wall clock).

The PyTorch side is bench/peers/torch_train_step.py, run with the venv that bench/peers/torch_env.sh
makes under bench/.peers/torch-venv (first run: ~1.5 min to install). Prints a Markdown report to stdout
(paste into docs/benchmarks.md) and writes bench/out/train-<UTC time>.json. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (BENCH, DEFAULT_MODEL, DEFAULT_PROXIMA, BenchError, check_model, check_proxima, cmdline,  # noqa: E402
                    fmt, fmt_ratio, loadavg, log, machine_info, now_utc, openblas_env, ratio, relpath,
                    repo_commit, report_tail, resolve, run_main, run_measured, tail, warn_if_busy, write_json)

TORCH_ENV = BENCH / "peers" / "torch_env.sh"
TORCH_STEP = BENCH / "peers" / "torch_train_step.py"
GOAL = 0.5  # issue 4: Proxima's step time ≤ 0.5 × PyTorch's


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(DEFAULT_MODEL), help="GGUF file (default: %(default)s)")
    p.add_argument("--threads", type=int, default=2, help="threads for both (default: 2)")
    p.add_argument("--proxima", default=str(DEFAULT_PROXIMA), help="proxima binary (default: %(default)s)")
    p.add_argument("--torch-python", default=None,
                   help="python with torch, transformers, peft and gguf (default: the venv of bench/peers/torch_env.sh)")
    p.add_argument("--attn", choices=["sdpa", "eager"], default="sdpa",
                   help="PyTorch attention implementation (default: sdpa)")
    p.add_argument("--micro-pairs", type=int, default=4,
                   help="PyTorch: pairs per forward/backward pass, gradients accumulated (default: 4)")
    p.add_argument("--skip-proxima", action="store_true", help="measure PyTorch only")
    p.add_argument("--skip-torch", action="store_true", help="measure Proxima only")
    p.add_argument("--check", action="store_true",
                   help="only check the PyTorch step on a tiny batch (loss formula, gradients, loss falls)")
    p.add_argument("--timeout", type=float, default=7200, help="seconds allowed per process (default: 7200)")
    p.add_argument("--no-json", action="store_true", help="do not write bench/out/train-*.json")
    a = p.parse_args(argv)
    if a.threads <= 0 or a.micro_pairs <= 0:
        p.error("--threads and --micro-pairs must be positive")
    if a.skip_proxima and a.skip_torch and not a.check:
        p.error("nothing to do with both --skip-proxima and --skip-torch")
    return a


def torch_python(given: str | None) -> Path:
    if given:
        return resolve(given)
    log(f"locating/installing the PyTorch venv with {relpath(TORCH_ENV)} (the first install downloads torch)")
    proc = subprocess.run(["bash", str(TORCH_ENV)], stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise BenchError(f"{relpath(TORCH_ENV)} failed with exit code {proc.returncode} (see its messages above)")
    kv = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    if "python" not in kv:
        raise BenchError(f"{relpath(TORCH_ENV)} did not report python=PATH")
    return Path(kv["python"])


def last_json(text: str, key: str) -> dict | None:
    """The last line of `text` that is a JSON object with `key`."""
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                continue
            if key in obj:
                return obj
    return None


def run_proxima(a, proxima: Path, model: Path, machine: dict) -> dict:
    env, coretype = openblas_env(machine)
    shown = {"OPENBLAS_CORETYPE": env["OPENBLAS_CORETYPE"]} if "OPENBLAS_CORETYPE" in env else {}
    cmd = [proxima, "bench", "--train", "--json", "--model", model, "--threads", a.threads]
    log(f"running {cmdline(cmd, shown)} (several minutes)")
    m = run_measured(cmd, env=env, timeout=a.timeout, label="proxima bench --train")
    if m.rc != 0:
        raise BenchError(f"proxima bench --train exited with {m.rc}:\n{tail(m.stderr + m.stdout)}")
    row = last_json(m.stdout, "train_step_seconds")
    if row is None:
        raise BenchError("proxima bench --train --json printed no line with train_step_seconds:\n"
                         f"{tail(m.stdout + m.stderr)}")
    if row.get("threads") not in (None, a.threads):
        raise BenchError(f"proxima bench ran with threads={row.get('threads')}, asked for {a.threads}")
    log(f"Proxima: {row['train_step_seconds']:.2f} s per step")
    return {"command": cmdline(cmd, shown), "openblas_coretype": coretype, "result": row,
            "wall_s": round(m.wall_s, 2), "max_rss_kib": m.max_rss_kib}


def torch_env(threads: int) -> dict[str, str]:
    """Threads pinned for OpenMP/MKL too; no hub access; no progress bars (the GGUF conversion's) in the output."""
    env = dict(os.environ)
    env.update({"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "HF_HUB_OFFLINE": "1",
                "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1", "TQDM_DISABLE": "1"})
    return env


def run_torch(a, python: Path, model: Path) -> dict:
    cmd = [python, TORCH_STEP, "--model", model, "--threads", a.threads, "--attn", a.attn,
           "--micro-pairs", a.micro_pairs]
    shown = {"OMP_NUM_THREADS": str(a.threads)}
    log(f"running {cmdline(cmd, shown)} (minutes per step on 2 cores; progress below)")
    m = run_measured(cmd, env=torch_env(a.threads), timeout=a.timeout, label="torch_train_step.py",
                     live_stderr=True)
    if m.rc != 0:
        raise BenchError(f"the PyTorch step exited with {m.rc} (its messages are above):\n{tail(m.stdout)}")
    row = last_json(m.stdout, "train_step_seconds")
    if row is None:
        raise BenchError(f"the PyTorch step printed no line with train_step_seconds:\n{tail(m.stdout)}")
    if not row.get("finite"):
        raise BenchError(f"the PyTorch step produced a non-finite loss: {row.get('losses')}")
    log(f"PyTorch: {row['train_step_seconds']:.2f} s per step")
    return {"command": cmdline(cmd, shown), "result": row, "wall_s": round(m.wall_s, 2),
            "max_rss_kib": m.max_rss_kib}


def run_check(a, python: Path, model: Path) -> int:
    cmd = [python, TORCH_STEP, "--model", model, "--threads", a.threads, "--attn", a.attn, "--check"]
    log(f"running {cmdline(cmd)}")
    m = run_measured(cmd, env=torch_env(a.threads), timeout=a.timeout, label="torch_train_step.py --check",
                     live_stderr=True)
    row = last_json(m.stdout, "check")
    if row is None:
        raise BenchError(f"the PyTorch check exited with {m.rc} and printed no result:\n{tail(m.stdout)}")
    print(json.dumps(row, indent=2))
    if row["check"] != "ok":
        raise BenchError("the PyTorch step failed its check: " + "; ".join(row["problems"]))
    return 0


def markdown(a, meta, px, pt) -> str:
    m = meta["machine"]
    pxs = px["result"]["train_step_seconds"] if px else None
    pts = pt["result"]["train_step_seconds"] if pt else None
    px_rss = px["max_rss_kib"] / 1024 if px and px["max_rss_kib"] else None
    pt_rss = pt["max_rss_kib"] / 1024 if pt and pt["max_rss_kib"] else None
    r = ratio(pxs, pts)
    v = pt["result"]["versions"] if pt else {}
    out = [f"### Training step: Proxima vs PyTorch + PEFT — {meta['date_utc']}", ""]
    out.append(f"- Machine: {m['cpu_model']}, {m['usable_cpus']} usable of {m['logical_cpus']} logical CPUs, "
               f"{m.get('mem_total_gib', '?')} GiB, kernel {m['kernel']}{', AVX-512' if m['avx512f'] else ''}; "
               f"load average at start {meta['loadavg_start']}, end {meta['loadavg_end']}")
    out.append(f"- Model: `{relpath(meta['model'])}`; threads {a.threads}; one step = E=5 LoRA members (rank 16, "
               "alpha 32, q,k,v,o,gate,up,down of every layer), 16 pairs, prompt 64 + chosen 96 / rejected 96 "
               "tokens, fp32 forward + backward per member, DPO β 0.1 against constant reference log-probs, "
               "clip 1.0, AdamW lr 2e-4; 1 warm-up step, then the mean of 2 timed steps")
    out.append(f"- Proxima: commit {meta['proxima_commit']}; "
               f"OPENBLAS_CORETYPE={px['openblas_coretype'] if px else 'n/a (not run)'}")
    if pt:
        res = pt["result"]
        out.append(f"- PyTorch: torch {v.get('torch')} ({v.get('blas')}, {v.get('cpu_capability')}), transformers "
                   f"{v.get('transformers')}, peft {v.get('peft')}, Python {v.get('python')}; {res['attn']} "
                   f"attention; chosen and rejected rows of {res['micro_pairs']} pairs per forward/backward "
                   f"({2 * res['micro_pairs']} sequences of {res['prompt_tokens'] + res['response_tokens'] - 1} "
                   "input tokens, gradients accumulated); logits for response positions only")
    out += ["", "| measure | Proxima | PyTorch + PEFT | Proxima / PyTorch | goal |", "|---|---:|---:|---:|---:|"]
    out.append(f"| seconds per training step | {fmt(pxs, 2)} | {fmt(pts, 2)} | {fmt_ratio(r)} | ≤ {GOAL:.2f}× |")
    out.append(f"| peak RSS, MiB | {fmt(px_rss, 0)} | {fmt(pt_rss, 0)} | {fmt_ratio(ratio(px_rss, pt_rss))} | |")
    out.append("")
    if pt:
        steps = ", ".join(f"{s:.1f}" for s in pt["result"]["step_seconds"])
        out.append(f"PyTorch step times (s, warm-up first): {steps}; model load {pt['result']['load_seconds']} s.")
    if r is not None:
        out.append(f"Goal {'met' if r <= GOAL else 'NOT met'}: Proxima takes {r:.2f}× PyTorch's step time "
                   f"(goal ≤ {GOAL}×).")
    out += report_tail(meta, [x["command"] for x in (px, pt) if x])
    return "\n".join(out)


def main(argv=None) -> int:
    a = parse_args(argv)
    t0 = now_utc()
    model = check_model(resolve(a.model))
    if a.check:
        return run_check(a, torch_python(a.torch_python), model)
    proxima = None if a.skip_proxima else check_proxima(resolve(a.proxima))
    python = None if a.skip_torch else torch_python(a.torch_python)
    machine = machine_info()
    meta = {"date_utc": t0.isoformat(), "machine": machine, "model": str(model), "threads": a.threads,
            "proxima_commit": repo_commit(), "loadavg_start": loadavg(),
            "command": "python3 bench/train.py " + " ".join(sys.argv[1:] if argv is None else argv)}
    warn_if_busy(meta["loadavg_start"])
    # Proxima first: the newer tool is the likelier to fail, and then nothing is wasted on the peer.
    px = None if a.skip_proxima else run_proxima(a, proxima, model, machine)
    pt = None if a.skip_torch else run_torch(a, python, model)
    meta["loadavg_end"] = loadavg()
    md = markdown(a, meta, px, pt)
    print(md)
    if not a.no_json:
        table = {"proxima_step_seconds": px and px["result"]["train_step_seconds"],
                 "torch_step_seconds": pt and pt["result"]["train_step_seconds"], "goal_ratio": GOAL}
        table["ratio"] = ratio(table["proxima_step_seconds"], table["torch_step_seconds"])
        path = write_json("train", t0, {"meta": meta, "table": table, "proxima": px, "torch": pt, "markdown": md})
        log(f"wrote {relpath(path)}")
    return 0


if __name__ == "__main__":
    run_main(main)
