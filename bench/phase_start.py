#!/usr/bin/env python3
"""Chat latency around the start of a learning phase (issue 15: "a phase start stalls chat").

Starts `proxima serve` alone on a temporary database (learner on, automatic phases off, the gate on 8
prompts and promoting every candidate), runs --earlier-phases phases to their end (each on --pairs new
labelled pairs), so the measured phase starts from a learned version; logs and labels --pairs pairs, then one client sends short greedy chats back to back: --before
seconds of them, then `POST /admin/phases` (the default phase settings unless --phase), then --after seconds
more. Reports the chats' latency p50 and maximum before the phase, and the maximum within the seconds after
it started (the phase's start: loading the serving version, building the ensemble, the first steps).
Python 3 standard library only; prints Markdown to stdout.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEFAULT_MODEL, DEFAULT_PROXIMA, log, machine_info, openblas_env, run_main  # noqa: E402
from learner_latency import call, label_pairs  # noqa: E402
from server import DEFAULT_PROMPTS, Server, free_port, load_prompts  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(DEFAULT_MODEL))
    p.add_argument("--proxima", default=str(DEFAULT_PROXIMA))
    p.add_argument("--pairs", type=int, default=16)
    p.add_argument("--before", type=float, default=5.0, help="seconds of chats before the phase (default 5)")
    p.add_argument("--after", type=float, default=10.0, help="seconds of chats after it started (default 10)")
    p.add_argument("--phase", default="{}", help="JSON body of POST /admin/phases (default: the learner's settings)")
    p.add_argument("--earlier-phases", type=int, default=1,
                   help="phases run to their end first (gate threshold 0: each is promoted), so the measured phase "
                        "starts from a learned version, as every phase after the first does (default 1)")
    a = p.parse_args(argv)
    prompts = load_prompts(Path(DEFAULT_PROMPTS))
    with tempfile.TemporaryDirectory(prefix="proxima-phase-start-") as tmp:
        port = free_port()
        env, _ = openblas_env(machine_info())
        env.update({"PROXIMA_LEARNER_AUTOMATIC": "false", "PROXIMA_LEARNER_GATE_PROMPT_COUNT": "8",
                    "PROXIMA_LEARNER_GATE_THRESHOLD": "0"})
        server = Server("proxima", [a.proxima, "serve", "--port", str(port), "--db", f"{tmp}/bench.sqlite",
                                    "--model", a.model], env, Path(tmp) / "serve.log", port)
        server.start(180)
        try:
            for k in range(a.earlier_phases):
                label_pairs(port, prompts, a.pairs, 32, tag=f"earlier-{k}")
                phase = call(port, "POST", "/admin/phases", json.loads(a.phase))
                while (status := call(port, "GET", f"/admin/phases/{phase['id']}")["status"]) in ("queued", "running"):
                    time.sleep(1)
                log(f"earlier phase {phase['id']}: {status}")
            label_pairs(port, prompts, a.pairs, 32)
            body = {"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8, "temperature": 0}
            samples: list[tuple[float, float]] = []   # (sent, seconds)
            t0 = time.monotonic()
            started_at = None
            while time.monotonic() - t0 < a.before + a.after:
                if started_at is None and time.monotonic() - t0 >= a.before:
                    call(port, "POST", "/admin/phases", json.loads(a.phase))
                    started_at = time.monotonic()
                    log("phase started")
                sent = time.monotonic()
                call(port, "POST", "/v1/chat/completions", body)
                samples.append((sent, time.monotonic() - sent))
            before = [s for t, s in samples if t < started_at]
            after = [s for t, s in samples if t >= started_at]
            print(f"| binary | chats before | p50 before, ms | max before, ms | chats after | max within {a.after:.0f} s after the start, ms |")
            print("|---|---:|---:|---:|---:|---:|")
            print(f"| `{a.proxima}` | {len(before)} | {1000 * statistics.median(before):.0f} | {1000 * max(before):.0f} | "
                  f"{len(after)} | {1000 * max(after):.0f} |")
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    run_main(main)
