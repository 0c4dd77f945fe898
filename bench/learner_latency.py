#!/usr/bin/env python3
"""Chat latency while a learning phase runs (issue 4, "the learner shares two cores with serving").

Starts `proxima serve` alone on a temporary database (learner on, automatic phases off), logs and labels
--pairs response pairs through the public API (chat, then `POST /v1/feedback` with an A/B choice), then
drives the same streaming chat load twice:

  idle          no phase runs;
  during phase  right after `POST /admin/phases` started a long phase (default E=5, rank 16, all seven
                targets, batch 16: the paper's settings), checking that the phase is `running` before and
                after the load and that it advanced (its step count is reported).

Each load is --clients clients sending --requests-per-client streaming requests back to back (prompts from
bench/prompts.jsonl, max_tokens --max-tokens). Reports time-to-first-token p50/p99 and aggregate tok/s for
both, the ratio during/idle and the goal (p99 TTFT during a phase ≤ 2× idle). Prints Markdown to stdout and
writes bench/out/learner-latency-<UTC time>.json. Python 3 standard library only.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (DEFAULT_MODEL, api, DEFAULT_PROXIMA, OUT, BenchError, check_model, check_proxima, fmt,  # noqa: E402
                    fmt_ratio, loadavg, log, machine_info, now_utc, openblas_env, ratio, relpath, repo_commit,
                    report_tail, resolve, run_main, stamp, warn_if_busy, write_json)
from server import DEFAULT_PROMPTS, Server, free_port, load_prompts, run_level  # noqa: E402

GOAL = 2.0  # issue 4: p99 time-to-first-token while a phase runs ≤ 2 × idle


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(DEFAULT_MODEL), help="GGUF file (default: %(default)s)")
    p.add_argument("--proxima", default=str(DEFAULT_PROXIMA), help="proxima binary (default: %(default)s)")
    p.add_argument("--prompts", default=str(DEFAULT_PROMPTS), help="JSONL with {\"prompt\": ...} per line")
    p.add_argument("--clients", type=int, default=4, help="concurrent chat clients (default: 4)")
    p.add_argument("--requests-per-client", type=int, default=8, help="requests per client per load (default: 8)")
    p.add_argument("--max-tokens", type=int, default=64, help="max_tokens per request (default: 64)")
    p.add_argument("--pairs", type=int, default=16, help="labelled pairs logged before the phase (default: 16)")
    p.add_argument("--phase", default='{"steps": 1000, "ensemble": 5, "rank": 16, "batch_size": 16}',
                   help="JSON body of POST /admin/phases (default: %(default)s)")
    p.add_argument("--ready-timeout", type=float, default=180, help="seconds to wait for /ready (default: 180)")
    p.add_argument("--request-timeout", type=float, default=600, help="seconds per request (default: 600)")
    p.add_argument("--no-json", action="store_true", help="do not write bench/out/learner-latency-*.json")
    a = p.parse_args(argv)
    if min(a.clients, a.requests_per_client, a.max_tokens, a.pairs) <= 0:
        p.error("--clients, --requests-per-client, --max-tokens and --pairs must be positive")
    # run_level (server.py) reads these.
    a.temperature, a.top_p, a.seed, a.extra = 1.0, 1.0, 1234, {}
    return a


def call(port: int, method: str, path: str, body: dict | None = None, timeout: float = 600) -> dict:
    """common.api, with any answer but 2xx raised as a BenchError."""
    status, answer = api(port, method, path, body, timeout)
    if status // 100 != 2:
        raise BenchError(f"{method} {path} answered {status}: {json.dumps(answer)[:300]}")
    return answer


def label_pairs(port: int, prompts: list[str], count: int, max_tokens: int, tag: str = "") -> None:
    for i in range(count):
        chat = call(port, "POST", "/v1/chat/completions",
                    {"messages": [{"role": "user", "content": prompts[i % len(prompts)]}], "n": 2,
                     "max_tokens": max_tokens, "temperature": 1.0, "seed": 100 + i + 1000 * len(tag)})
        call(port, "POST", "/v1/feedback", {"pair_id": chat["proxima"]["pair_id"], "choice": i % 2,
                                            "event_id": f"latency-bench-{tag}{i}"})
    log(f"logged and labelled {count} pairs")


def phase_state(port: int, phase_id: int) -> tuple[str, int]:
    p = call(port, "GET", f"/admin/phases/{phase_id}")
    return p.get("status", "?"), int((p.get("progress") or {}).get("step") or 0)


def summary(level: dict) -> dict:
    keys = ("requests", "failed", "ttft_ms_p50", "ttft_ms_p99", "ttft_ms_max", "e2e_ms_p50", "e2e_ms_p99",
            "aggregate_tps")
    return {k: level[k] for k in keys}


def markdown(a, meta, idle, busy) -> str:
    m = meta["machine"]
    r99 = ratio(busy["ttft_ms_p99"], idle["ttft_ms_p99"])
    out = [f"### Chat latency while a phase runs — {meta['date_utc']}", ""]
    out.append(f"- Machine: {m['cpu_model']}, {m['usable_cpus']} usable CPUs; load average at start "
               f"{meta['loadavg_start']}, end {meta['loadavg_end']}; Proxima commit {meta['proxima_commit']}")
    out.append(f"- Load: {a.clients} clients × {a.requests_per_client} streaming requests, max_tokens "
               f"{a.max_tokens}, temperature 1 (each request also samples its hidden pair); phase "
               f"`{a.phase}` over {a.pairs} labelled pairs, `{meta['phase_before']}` before the load, "
               f"`{meta['phase_after']}` after it")
    out += ["", "| | idle | during a phase | during / idle |", "|---|---:|---:|---:|"]
    for key, label, digits in (("ttft_ms_p50", "TTFT p50, ms", 0), ("ttft_ms_p99", "TTFT p99, ms", 0),
                               ("e2e_ms_p50", "end-to-end p50, ms", 0), ("aggregate_tps", "aggregate tok/s", 1)):
        out.append(f"| {label} | {fmt(idle[key], digits)} | {fmt(busy[key], digits)} | "
                   f"{fmt_ratio(ratio(busy[key], idle[key]))} |")
    out.append(f"| failed requests | {idle['failed']} | {busy['failed']} | |")
    out.append("")
    if r99 is not None:
        out.append(f"Goal {'met' if r99 <= GOAL else 'NOT met'}: p99 TTFT during a phase is {r99:.2f}× idle "
                   f"(goal ≤ {GOAL:.0f}×).")
    out += report_tail(meta, [])
    return "\n".join(out)


def main(argv=None) -> int:
    a = parse_args(argv)
    t0 = now_utc()
    model = check_model(resolve(a.model))
    proxima = check_proxima(resolve(a.proxima))
    prompts = load_prompts(resolve(a.prompts))
    machine = machine_info()
    meta = {"date_utc": t0.isoformat(), "machine": machine, "proxima_commit": repo_commit(),
            "loadavg_start": loadavg(), "command": "python3 bench/learner_latency.py " +
            " ".join(sys.argv[1:] if argv is None else argv)}
    warn_if_busy(meta["loadavg_start"])
    with tempfile.TemporaryDirectory(prefix="proxima-latency-") as tmp:
        port = free_port()
        env, _ = openblas_env(machine)
        env.update({"PROXIMA_LEARNER_AUTOMATIC": "false", "PROXIMA_LEARNER_KEEP_VERSIONS": "0"})
        cmd = [proxima, "serve", "--model", model, "--port", port, "--db", f"{tmp}/proxima.sqlite"]
        srv = Server("proxima serve", cmd, env, OUT / f"learner-latency-{stamp(t0)}.log", port,
                     {"PROXIMA_LEARNER_AUTOMATIC": "false"})
        srv.start(a.ready_timeout)
        try:
            model_id = srv.model_id()
            label_pairs(port, prompts, a.pairs, a.max_tokens)
            log("idle load")
            idle = run_level(a, port, model_id, prompts, a.clients)
            phase = call(port, "POST", "/admin/phases", json.loads(a.phase))
            deadline = time.monotonic() + 120
            while phase_state(port, phase["id"])[0] != "running":
                if time.monotonic() > deadline:
                    raise BenchError(f"phase {phase['id']} did not start running: {phase_state(port, phase['id'])}")
                time.sleep(0.2)
            time.sleep(2)  # past the phase's set-up, into its training steps
            meta["phase_before"] = "status %s, step %d" % phase_state(port, phase["id"])
            log(f"load during phase {phase['id']} ({meta['phase_before']})")
            busy = run_level(a, port, model_id, prompts, a.clients)
            meta["phase_after"] = "status %s, step %d" % phase_state(port, phase["id"])
            if not meta["phase_after"].startswith("status running"):
                raise BenchError(f"the phase was no longer running at the end of the load ({meta['phase_after']}): "
                                 "raise its steps in --phase")
        finally:
            srv.stop()
    meta["loadavg_end"] = loadavg()
    md = markdown(a, meta, idle, busy)
    print(md)
    if not a.no_json:
        path = write_json("learner-latency", t0, {"meta": meta, "idle": summary(idle), "during_phase": summary(busy),
                                                  "ttft_p99_ratio": ratio(busy["ttft_ms_p99"], idle["ttft_ms_p99"]),
                                                  "markdown": md})
        log(f"wrote {relpath(path)}")
    return 0


if __name__ == "__main__":
    run_main(main)
