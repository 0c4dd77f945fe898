#!/usr/bin/env python3
"""Soak: the service left alone to serve and learn (issue 15).

Starts `proxima serve` on a fresh data directory (learner on, phases only when this script asks), then for
--duration seconds:
  - --clients clients chat (streaming, temperature 1, short prompts from bench/prompts.jsonl), each pausing
    --think seconds on average between an answer and its next chat, and rate each answer: thumbs up/down on
    n=1 requests, an A/B choice on n=2 ones (every third request);
  - every --phase-every seconds, when no phase is queued or running and the last one ended --settle seconds
    ago, an operator phase (POST /admin/phases with --phase) is started over the pairs labelled so far;
  - every --long-every seconds a long prompt (--long-tokens words, near the context length) is sent, and one
    second later a short chat whose latency is recorded;
  - every --sample-every seconds the server's resident memory (VmRSS) and the data directory's size on disk.
It reports failed requests (any non-2xx, error event or broken stream: there must be none), time-to-first-
token p50/p99 while idle and while a phase runs (ratio), RSS and disk at each phase's end and --settle
seconds later, the short chats' latency beside long prompts; writes everything as JSON and CSV under bench/out/soak-<stamp>/ and plots RSS
and disk over time as SVG (no third-party packages). Python 3 standard library only; Markdown to stdout.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (DEFAULT_MODEL, DEFAULT_PROXIMA, api, OUT, BenchError, check_model, check_proxima, log,  # noqa: E402
                    machine_info, now_utc, openblas_env, percentile, run_main, stamp)
from server import DEFAULT_PROMPTS, Server, chat_stream, free_port, load_prompts  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(DEFAULT_MODEL))
    p.add_argument("--proxima", default=str(DEFAULT_PROXIMA))
    p.add_argument("--duration", type=float, default=3600, help="seconds of load (default 3600)")
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--max-tokens", type=int, default=48, help="max_tokens of the clients' chats (default 48)")
    p.add_argument("--think", type=float, default=3.0,
                   help="mean seconds a client waits after an answer before its next chat (exponential; default 3)")
    p.add_argument("--phase-every", type=float, default=240, help="seconds between phase triggers (default 240)")
    p.add_argument("--phase", default="{}", help="JSON body of POST /admin/phases (default: the learner's settings)")
    p.add_argument("--settle", type=float, default=10,
                   help="seconds after a phase ends before its memory is sampled again and the next may start "
                        "(the phase's last buffers are freed after its status is written; default 10)")
    p.add_argument("--long-every", type=float, default=600, help="seconds between long-prompt probes (default 600; 0: none)")
    p.add_argument("--long-tokens", type=int, default=7000, help="words in the long prompt, about a token each (default 7000)")
    p.add_argument("--sample-every", type=float, default=5)
    p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                   help="extra server environment, e.g. PROXIMA_LEARNER_KEEP_VERSIONS=3 (repeatable)")
    return p.parse_args(argv)


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def disk_mb(directory: Path) -> float:
    total = 0
    for root, _, files in os.walk(directory):
        for f in files:
            try:
                total += os.stat(os.path.join(root, f)).st_blocks * 512
            except OSError:
                pass
    return total / (1 << 20)


class Soak:
    def __init__(self, a, port: int, pid: int, data: Path, prompts: list[str]):
        self.a, self.port, self.pid, self.data, self.prompts = a, port, pid, data, prompts
        self.lock = threading.Lock()
        self.requests: list[dict] = []      # one per chat: t_send, ttft, e2e, error, kind
        self.feedback_failures: list[str] = []
        self.samples: list[dict] = []       # t, rss_mb, disk_mb, phase
        self.phases: list[dict] = []        # id, start, end, status, rss_end, disk_end, version
        self.long_probes: list[dict] = []
        self.phase_running = False
        self.t0 = time.monotonic()
        self.stop = threading.Event()

    def now(self) -> float:
        return time.monotonic() - self.t0

    # -- clients
    def client(self, index: int) -> None:
        rng = random.Random(index)
        n = 0
        while not self.stop.is_set():
            n += 1
            pair = n % 3 == 0
            body = {"messages": [{"role": "user", "content": rng.choice(self.prompts)}], "stream": True,
                    "max_tokens": self.a.max_tokens, "temperature": 1.0, "n": 2 if pair else 1,
                    "seed": rng.randrange(1 << 30)}
            rec = self.chat(body, "chat")
            if rec.get("error") is None and rec.get("response_id"):
                self.rate(rec, pair, rng, f"soak-{index}-{n}")
            if self.a.think > 0:
                self.stop.wait(rng.expovariate(1 / self.a.think))

    def chat(self, body: dict, kind: str) -> dict:
        t = self.now()
        rec = chat_stream(self.port, body, 600)
        out = {"t": t, "kind": kind, "phase": self.phase_running, "error": rec["error"],
               "ttft": None if rec["t_first"] is None else rec["t_first"] - rec["t_send"],
               "e2e": None if rec["t_end"] is None else rec["t_end"] - rec["t_send"],
               "response_id": rec.get("id"), "pair_id": rec.get("pair_id")}
        if out["error"] is None and (rec["t_end"] is None or rec["finish_reason"] is None):
            out["error"] = "stream ended without a finish reason"
        with self.lock:
            self.requests.append(out)
        if out["error"]:
            log(f"FAILED {kind} request at {t:.0f} s: {out['error']}")
        return out

    def rate(self, rec: dict, pair: bool, rng: random.Random, event: str) -> None:
        if pair and rec.get("pair_id"):
            body = {"pair_id": rec["pair_id"], "choice": rng.choice([0, 1, 0, 1, "tie"]), "event_id": event}
        else:
            body = {"response_id": rec["response_id"], "rating": rng.choice(["up", "down"]), "event_id": event}
        try:
            status, answer = api(self.port, "POST", "/v1/feedback", body, timeout=120)
            if status != 200:
                raise BenchError(f"HTTP {status}: {json.dumps(answer)[:200]}")
        except Exception as e:  # noqa: BLE001 - every failure counts
            with self.lock:
                self.feedback_failures.append(f"{self.now():.0f} s: {e}")
            log(f"FAILED feedback: {e}")

    # -- phases
    def operator(self) -> None:
        last_trigger = -1e9
        current = None
        settling, settled_at = None, 0.0   # the phase just ended, and when its memory is sampled again
        while not self.stop.is_set():
            try:
                if settling is not None:
                    if self.now() >= settled_at:
                        settling.update(rss_settled=rss_mb(self.pid), disk_settled=disk_mb(self.data))
                        log(f"phase {settling['id']} + {self.a.settle:.0f} s: RSS {settling['rss_settled']:.0f} MB, "
                            f"disk {settling['disk_settled']:.0f} MB")
                        settling = None
                elif current is not None:
                    status, phase = api(self.port, "GET", f"/admin/phases/{current['id']}", timeout=60)
                    if status == 200 and phase.get("status") not in ("queued", "running"):
                        current.update(end=self.now(), status=phase.get("status"), version=phase.get("version_id"),
                                       rss_end=rss_mb(self.pid), disk_end=disk_mb(self.data),
                                       seconds=(phase.get("metrics") or {}).get("seconds"))
                        log(f"phase {current['id']} {current['status']} at {current['end']:.0f} s: RSS "
                            f"{current['rss_end']:.0f} MB, disk {current['disk_end']:.0f} MB")
                        self.phases.append(current)
                        settling, settled_at = current, self.now() + self.a.settle
                        current = None
                        self.phase_running = False
                elif self.now() - last_trigger >= self.a.phase_every:
                    last_trigger = self.now()
                    status, phase = api(self.port, "POST", "/admin/phases", json.loads(self.a.phase), timeout=60)
                    if status == 202:
                        current = {"id": phase["id"], "start": self.now()}
                        self.phase_running = True
                        log(f"phase {phase['id']} started at {current['start']:.0f} s")
                    else:
                        log(f"phase not started ({status}: {json.dumps(phase)[:160]})")
            except Exception as e:  # noqa: BLE001
                log(f"operator: {e}")
            self.stop.wait(1)
        if current is not None:
            current.update(end=None, status="running at the end")
            self.phases.append(current)

    # -- probes and samples
    def long_prompts(self) -> None:
        if self.a.long_every <= 0:
            return
        common = "the cat sat on a mat and the dog ran far away from home to see what was new".split()
        words = " ".join(common[i % len(common)] for i in range(self.a.long_tokens))  # about a token a word
        while not self.stop.wait(self.a.long_every / 2 if not self.long_probes else self.a.long_every):
            started = self.now()
            long_thread = threading.Thread(target=self.chat, args=({
                "messages": [{"role": "user", "content": "Summarise: " + words}], "max_tokens": 8,
                "temperature": 0, "stream": True}, "long"))
            long_thread.start()
            time.sleep(1)
            short = self.chat({"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8,
                               "temperature": 0, "stream": True}, "short-beside-long")
            long_thread.join()
            long_rec = [r for r in self.requests if r["kind"] == "long"][-1]
            self.long_probes.append({"t": started, "short_e2e": short["e2e"], "short_ttft": short["ttft"],
                                     "long_e2e": long_rec["e2e"], "phase": short["phase"]})
            log(f"long prompt at {started:.0f} s: short chat {short['e2e']}, long {long_rec['e2e']}")

    def sampler(self) -> None:
        while not self.stop.is_set():
            self.samples.append({"t": self.now(), "rss_mb": rss_mb(self.pid), "disk_mb": disk_mb(self.data),
                                 "phase": self.phase_running})
            self.stop.wait(self.a.sample_every)

    def run(self) -> None:
        threads = [threading.Thread(target=self.client, args=(i,), daemon=True) for i in range(self.a.clients)]
        threads += [threading.Thread(target=f, daemon=True) for f in (self.operator, self.long_prompts, self.sampler)]
        for t in threads:
            t.start()
        end = self.t0 + self.a.duration
        while time.monotonic() < end:
            time.sleep(min(30, max(0.1, end - time.monotonic())))
            with self.lock:
                done = len(self.requests)
                failed = sum(1 for r in self.requests if r["error"])
            log(f"{self.now():.0f} s: {done} requests ({failed} failed), {len(self.phases)} phases, "
                f"RSS {rss_mb(self.pid) or 0:.0f} MB")
        self.stop.set()
        for t in threads:
            t.join(timeout=900)


def svg_plot(samples: list[dict], phases: list[dict], path: Path, duration: float) -> None:
    """RSS and disk (MB) over time; phases shaded."""
    w, h, left, right, top, bottom = 900, 420, 70, 70, 30, 50
    pw, ph = w - left - right, h - top - bottom
    t_max = max(duration, max((s["t"] for s in samples), default=1))
    rss_max = max((s["rss_mb"] or 0 for s in samples), default=1) * 1.1 or 1
    disk_max = max((s["disk_mb"] or 0 for s in samples), default=1) * 1.1 or 1

    def x(t):
        return left + pw * t / t_max

    def line(key, top_value, colour):
        pts = " ".join(f"{x(s['t']):.1f},{top + ph * (1 - (s[key] or 0) / top_value):.1f}" for s in samples)
        return f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{pts}"/>'

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
           f'<rect x="0" y="0" width="{w}" height="{h}" fill="white"/>']
    for p in phases:
        x0, x1 = x(p["start"]), x(p["end"] if p.get("end") is not None else t_max)
        out.append(f'<rect x="{x0:.1f}" y="{top}" width="{max(x1 - x0, 1):.1f}" height="{ph}" fill="#eee"/>')
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="black"/>')
    out.append(line("rss_mb", rss_max, "#c0392b"))
    out.append(line("disk_mb", disk_max, "#2471a3"))
    for i in range(5):
        y = top + ph * i / 4
        out.append(f'<text x="{left - 6}" y="{y + 4:.0f}" text-anchor="end" fill="#c0392b">{rss_max * (1 - i / 4):.0f}</text>')
        out.append(f'<text x="{left + pw + 6}" y="{y + 4:.0f}" fill="#2471a3">{disk_max * (1 - i / 4):.0f}</text>')
    for i in range(7):
        t = t_max * i / 6
        out.append(f'<text x="{x(t):.0f}" y="{top + ph + 18}" text-anchor="middle">{t / 60:.0f}</text>')
    out.append(f'<text x="{left + pw / 2}" y="{h - 10}" text-anchor="middle">minutes (grey: a phase runs)</text>')
    out.append(f'<text x="{left}" y="{top - 10}" fill="#c0392b">server RSS, MB</text>')
    out.append(f'<text x="{left + pw}" y="{top - 10}" text-anchor="end" fill="#2471a3">data directory on disk, MB</text>')
    out.append("</svg>")
    path.write_text("\n".join(out))


def fmt(v, digits=0):
    return "–" if v is None else f"{v:.{digits}f}"


def main(argv=None) -> int:
    a = parse_args(argv)
    model, proxima = check_model(Path(a.model)), check_proxima(Path(a.proxima))
    prompts = load_prompts(Path(DEFAULT_PROMPTS))
    started = now_utc()
    out_dir = OUT / f"soak-{stamp(started)}"
    data = out_dir / "data"
    data.mkdir(parents=True)
    machine = machine_info()
    env, _ = openblas_env(machine)
    env.update({"PROXIMA_LEARNER_AUTOMATIC": "false"})
    for kv in a.env:
        k, _, v = kv.partition("=")
        env[k] = v
    port = free_port()
    server = Server("proxima", [proxima, "serve", "--port", str(port), "--db", str(data / "proxima.sqlite"),
                                "--model", str(model)], env, out_dir / "serve.log", port,
                    env_shown={k: v for k, v in env.items() if k.startswith("PROXIMA_")})
    server.start(300)
    try:
        soak = Soak(a, port, server.proc.pid, data, prompts)
        soak.run()
    finally:
        server.stop()
    commit = subprocess.run(["git", "-C", str(Path(__file__).resolve().parent), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    reqs = [r for r in soak.requests if r["kind"] == "chat"]
    failed = [r for r in soak.requests if r["error"]]
    # Idle: no phase, after the first burst of every client at once (5 s); chats that began while a long prompt
    # was in flight are counted apart.
    windows = [(p["t"], p["t"] + (p.get("long_e2e") or 0)) for p in soak.long_probes]
    beside_long = lambda r: any(start <= r["t"] <= end for start, end in windows)  # noqa: E731
    timed = [r for r in reqs if r["ttft"] is not None]
    idle = [r["ttft"] for r in timed if not r["phase"] and r["t"] > 5 and not beside_long(r)]
    busy = [r["ttft"] for r in timed if r["phase"] and not beside_long(r)]
    during_long = [r["ttft"] for r in timed if beside_long(r)]
    result = {"args": vars(a), "commit": commit, "machine": machine, "date_utc": started.isoformat(),
              "requests": soak.requests, "feedback_failures": soak.feedback_failures, "samples": soak.samples,
              "phases": soak.phases, "long_probes": soak.long_probes}
    (out_dir / "soak.json").write_text(json.dumps(result, indent=1))
    with open(out_dir / "samples.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["t", "rss_mb", "disk_mb", "phase"])
        writer.writeheader()
        writer.writerows(soak.samples)
    svg_plot(soak.samples, soak.phases, out_dir / "memory-disk.svg", a.duration)

    p99_idle, p99_busy = percentile(idle, 99), percentile(busy, 99)
    print(f"### Soak — {started.isoformat()}, commit {commit}\n")
    print(f"- `bench/soak.py {' '.join(sys.argv[1:])}`: {a.clients} clients (think {a.think:.0f} s), {a.duration / 60:.0f} min, phases every "
          f"{a.phase_every:.0f} s (`{a.phase}`), "
          + (f"long prompts of {a.long_tokens} words every {a.long_every:.0f} s" if a.long_every > 0 else "no long prompts"))
    print(f"- {len(soak.requests)} chat requests, **{len(failed)} failed**; "
          f"{sum(1 for r in reqs if r['response_id'])} rated, {len(soak.feedback_failures)} feedback failures")
    print(f"- TTFT p50 / p99, ms: idle {fmt(percentile(idle, 50) and percentile(idle, 50) * 1000)} / "
          f"{fmt(p99_idle and p99_idle * 1000)} ({len(idle)}), during phases "
          f"{fmt(percentile(busy, 50) and percentile(busy, 50) * 1000)} / {fmt(p99_busy and p99_busy * 1000)} "
          f"({len(busy)}); p99 ratio {fmt(p99_busy / p99_idle if p99_idle and p99_busy else None, 2)} (idle: after the first "
          f"5 s; both outside long prompts)")
    if during_long:
        print(f"- TTFT while a long prompt was in flight, ms: p50 {fmt(percentile(during_long, 50) * 1000)}, p99 "
              f"{fmt(percentile(during_long, 99) * 1000)}, max {fmt(max(during_long) * 1000)} ({len(during_long)})")
    print(f"\n| phase | status | start, min | seconds | RSS at end, MB | RSS {a.settle:.0f} s later, MB | disk {a.settle:.0f} s later, MB |"
          "\n|---:|---|---:|---:|---:|---:|---:|")
    for p in soak.phases:
        print(f"| {p['id']} | {p.get('status')} | {p['start'] / 60:.1f} | {fmt(p.get('seconds'))} | "
              f"{fmt(p.get('rss_end'))} | {fmt(p.get('rss_settled'))} | {fmt(p.get('disk_settled'))} |")
    if soak.long_probes:
        print("\n| long prompt at, min | long request, s | short chat sent 1 s later, s | during a phase |\n|---:|---:|---:|---|")
        for p in soak.long_probes:
            print(f"| {p['t'] / 60:.1f} | {fmt(p['long_e2e'], 1)} | {fmt(p['short_e2e'], 2)} | {p['phase']} |")
    print(f"\nFiles: {out_dir.relative_to(OUT.parent.parent)}/ (soak.json, samples.csv, memory-disk.svg, serve.log)")
    return 1 if failed or soak.feedback_failures else 0


if __name__ == "__main__":
    run_main(main)
