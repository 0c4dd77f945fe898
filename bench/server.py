#!/usr/bin/env python3
"""Serving benchmark: `proxima serve` vs llama.cpp's `llama-server`, over the OpenAI chat API.

Each server is started alone (never both at once) on a free loopback port with the same GGUF, warmed up,
then driven by 1, 4 and 8 concurrent clients. Every client sends --requests-per-client streaming
`POST /v1/chat/completions` requests back to back (prompts from bench/prompts.jsonl, max_tokens 128,
the same temperature/top_p/seed per request for both servers, stream_options.include_usage).

Per concurrency level it reports
  aggregate tok/s   completion tokens of all requests / wall time from the first request sent to the last
                    response finished. Tokens come from the final `usage` chunk when the server sends one,
                    else from counting SSE chunks that carry content.
  TTFT p50 / p99    time from sending the request to the first SSE chunk with non-empty delta.content.
and each server's peak RSS (VmHWM from /proc/PID/status, read before it is stopped).

Prints a Markdown report to stdout and writes bench/out/server-<UTC time>.json (plus the server logs).
Python 3 standard library only.
"""

from __future__ import annotations

import argparse
import http.client
import json
import shlex
import sqlite3
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (BENCH, DEFAULT_MODEL, DEFAULT_PROXIMA, OUT, BenchError, check_model, check_proxima,  # noqa: E402
                    cmdline, fmt, fmt_ratio, int_list, llama_binaries, loadavg, log, machine_info, median,
                    now_utc, openblas_env, percentile, ratio, relpath, repo_commit, report_tail, resolve,
                    run_main, stamp, tail, terminate, warn_if_busy, write_json)

DEFAULT_PROMPTS = BENCH / "prompts.jsonl"
WARMUP_PROMPT = "Say hello in one short sentence."


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(DEFAULT_MODEL), help="GGUF file (default: %(default)s)")
    p.add_argument("--threads", type=int, default=2, help="compute threads for llama-server (default: 2)")
    p.add_argument("--clients", type=int_list, default=[1, 4, 8], help="concurrency levels (default: 1,4,8)")
    p.add_argument("--requests-per-client", type=int, default=4,
                   help="requests each client sends back to back per level (default: 4)")
    p.add_argument("--max-tokens", type=int, default=128, help="max_tokens per request (default: 128)")
    p.add_argument("--temperature", type=float, default=1.0, help="temperature (default: 1.0; 0 = greedy)")
    p.add_argument("--top-p", type=float, default=1.0, help="top_p (default: 1.0)")
    p.add_argument("--seed", type=int, default=1234, help="base seed; request k uses seed+k (default: 1234)")
    p.add_argument("--extra-body", default="{}",
                   help="JSON object merged into every request body, e.g. '{\"top_k\": 0, \"min_p\": 0}'")
    p.add_argument("--prompts", default=str(DEFAULT_PROMPTS), help="JSONL with {\"prompt\": ...} per line")
    p.add_argument("--warmup", type=int, default=8,
                   help="concurrent warm-up requests (max_tokens 16) before measuring (default: 8)")
    p.add_argument("--proxima", default=str(DEFAULT_PROXIMA), help="proxima binary (default: %(default)s)")
    p.add_argument("--proxima-args", default="",
                   help="extra arguments for `proxima serve` (e.g. '--config FILE'); Proxima's thread count "
                        "comes from its own configuration")
    p.add_argument("--llama-bin-dir", default=None,
                   help="directory with llama-server (default: build/find it with bench/peers/llamacpp.sh)")
    p.add_argument("--llama-parallel", type=int, default=8, help="llama-server -np (default: 8)")
    p.add_argument("--llama-ctx-per-slot", type=int, default=512,
                   help="context per llama-server slot; -c = np × this (default: 512)")
    p.add_argument("--llama-args", default="", help="extra arguments for llama-server")
    p.add_argument("--skip-proxima", action="store_true", help="measure llama-server only")
    p.add_argument("--skip-llama", action="store_true", help="measure Proxima only")
    p.add_argument("--ready-timeout", type=float, default=180, help="seconds to wait for /health (default: 180)")
    p.add_argument("--request-timeout", type=float, default=600, help="seconds per request (default: 600)")
    p.add_argument("--no-json", action="store_true", help="do not write bench/out/server-*.json")
    a = p.parse_args(argv)
    if a.skip_proxima and a.skip_llama:
        p.error("nothing to do with both --skip-proxima and --skip-llama")
    if a.max_tokens <= 0 or a.requests_per_client <= 0 or a.threads <= 0:
        p.error("--max-tokens, --requests-per-client and --threads must be positive")
    try:
        a.extra = json.loads(a.extra_body)
        assert isinstance(a.extra, dict)
    except Exception:
        p.error("--extra-body must be a JSON object")
    return a


def load_prompts(path: Path) -> list[str]:
    if not path.is_file():
        raise BenchError(f"prompts file not found: {path}")
    prompts = []
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                prompts.append(json.loads(line)["prompt"])
            except Exception as e:
                raise BenchError(f"{path}:{i}: expected a JSON object with a \"prompt\" string ({e})")
    if not prompts:
        raise BenchError(f"no prompts in {path}")
    return prompts


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------------------
# HTTP client

def http_get(port: int, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def chat_stream(port: int, body: dict, timeout: float) -> dict:
    """One streaming chat completion. Returns timings (seconds, monotonic), token counts, the response id and
    the pair id (Proxima's chunks carry them)."""
    rec = {"t_send": time.monotonic(), "t_first": None, "t_end": None, "content_chunks": 0,
           "usage_completion_tokens": None, "finish_reason": None, "error": None, "chars": 0}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        payload = json.dumps(body).encode()
        conn.request("POST", "/v1/chat/completions", body=payload,
                     headers={"Content-Type": "application/json", "Accept": "text/event-stream"})
        r = conn.getresponse()
        if r.status != 200:
            rec["error"] = f"HTTP {r.status}: {r.read()[:300].decode('utf-8', 'replace')}"
            return rec
        done = False
        while True:
            line = r.readline()
            if not line:
                break
            line = line.strip()
            if not line.startswith(b"data:"):
                continue
            data = line[5:].strip()
            if data == b"[DONE]":
                done = True
                break
            try:
                obj = json.loads(data)
            except json.JSONDecodeError:
                rec["error"] = f"bad SSE data: {data[:200]!r}"
                break
            if "error" in obj:
                rec["error"] = f"error event: {json.dumps(obj['error'])[:300]}"
                break
            rec.setdefault("id", obj.get("id"))
            if isinstance(obj.get("proxima"), dict) and obj["proxima"].get("pair_id"):
                rec["pair_id"] = obj["proxima"]["pair_id"]
            for ch in obj.get("choices") or []:
                content = (ch.get("delta") or {}).get("content")
                if content:
                    if rec["t_first"] is None:
                        rec["t_first"] = time.monotonic()
                    rec["content_chunks"] += 1
                    rec["chars"] += len(content)
                if ch.get("finish_reason"):
                    rec["finish_reason"] = ch["finish_reason"]
            usage = obj.get("usage")
            if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
                rec["usage_completion_tokens"] = usage["completion_tokens"]
        rec["t_end"] = time.monotonic()
        if not done and rec["error"] is None:
            rec["error"] = "stream ended without data: [DONE]"
    except (OSError, http.client.HTTPException) as e:
        rec["error"] = f"{type(e).__name__}: {e}"
    finally:
        conn.close()
    return rec


def request_body(a, model_id: str, prompt: str, seed: int, max_tokens: int) -> dict:
    body = {"model": model_id, "messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens,
            "temperature": a.temperature, "top_p": a.top_p, "seed": seed, "n": 1, "stream": True,
            "stream_options": {"include_usage": True}}
    body.update(a.extra)
    return body


def run_level(a, port: int, model_id: str, prompts: list[str], clients: int) -> dict:
    results: list[list[dict]] = [[] for _ in range(clients)]
    barrier = threading.Barrier(clients)

    def client(c: int):
        barrier.wait()
        for i in range(a.requests_per_client):
            k = c * a.requests_per_client + i
            body = request_body(a, model_id, prompts[k % len(prompts)], a.seed + k, a.max_tokens)
            rec = chat_stream(port, body, a.request_timeout)
            rec["client"], rec["index"] = c, k
            results[c].append(rec)

    threads = [threading.Thread(target=client, args=(c,), daemon=True) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    recs = [r for rs in results for r in rs]
    ok = [r for r in recs if r["error"] is None]
    if not ok:
        raise BenchError(f"all {len(recs)} requests failed at {clients} clients; first error: {recs[0]['error']}")
    t0 = min(r["t_send"] for r in recs)
    t1 = max(r["t_end"] for r in ok)
    for r in ok:
        r["tokens"] = r["usage_completion_tokens"] if r["usage_completion_tokens"] is not None else r["content_chunks"]
    tokens = sum(r["tokens"] for r in ok)
    ttft = [(r["t_first"] - r["t_send"]) * 1000 for r in ok if r["t_first"] is not None]
    e2e = [(r["t_end"] - r["t_send"]) * 1000 for r in ok]
    per_stream = [(r["tokens"] - 1) / (r["t_end"] - r["t_first"]) for r in ok
                  if r["t_first"] is not None and r["tokens"] > 1 and r["t_end"] > r["t_first"]]
    level = {
        "clients": clients, "requests": len(recs), "failed": len(recs) - len(ok),
        "errors": sorted({r["error"] for r in recs if r["error"]})[:5],
        "wall_s": t1 - t0, "completion_tokens": tokens, "aggregate_tps": tokens / (t1 - t0),
        "mean_tokens_per_request": tokens / len(ok),
        "ttft_ms_p50": percentile(ttft, 50), "ttft_ms_p99": percentile(ttft, 99),
        "ttft_ms_max": max(ttft) if ttft else None,
        "e2e_ms_p50": percentile(e2e, 50), "e2e_ms_p99": percentile(e2e, 99),
        "per_stream_decode_tps_median": median(per_stream),
        "token_count_source": ("usage" if all(r["usage_completion_tokens"] is not None for r in ok)
                               else "sse-chunks" if all(r["usage_completion_tokens"] is None for r in ok)
                               else "mixed"),
        "finish_reasons": {fr: sum(1 for r in ok if r["finish_reason"] == fr)
                           for fr in sorted({str(r["finish_reason"]) for r in ok})},
        "requests_detail": [{k: (round(v - t0, 4) if k.startswith("t_") and v is not None else v)
                             for k, v in r.items()} for r in recs],
    }
    return level


# ---------------------------------------------------------------------------------------------------------
# server processes

class Server:
    def __init__(self, name: str, cmd: list, env: dict | None, log_path: Path, port: int, env_shown=None):
        self.name, self.cmd, self.env, self.log_path, self.port = name, cmd, env, log_path, port
        self.env_shown = env_shown or {}
        self.proc: subprocess.Popen | None = None
        self._log = None

    def start(self, ready_timeout: float):
        log(f"starting {self.name}: {cmdline(self.cmd, self.env_shown)}")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")
        try:
            self.proc = subprocess.Popen([str(c) for c in self.cmd], stdout=self._log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=self.env)
        except OSError as e:
            raise BenchError(f"cannot start {self.name}: {e}")
        t0 = time.monotonic()
        last = "no answer"
        while True:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.name} exited with code {self.proc.returncode} before it was ready; "
                                 f"log {relpath(self.log_path)}:\n{self.log_tail()}")
            try:
                status, body = http_get(self.port, "/health", timeout=2)
                last = f"/health answered {status}: {body[:120]!r}"
                if status == 200:
                    rstatus, rbody = http_get(self.port, "/ready", timeout=2)
                    if rstatus in (200, 404):  # llama-server has no /ready
                        break
                    last = f"/ready answered {rstatus}: {rbody[:120]!r}"
            except (OSError, http.client.HTTPException) as e:
                last = f"{type(e).__name__}: {e}"
            if time.monotonic() - t0 > ready_timeout:
                self.stop()
                raise BenchError(f"{self.name} was not ready within {ready_timeout:.0f} s (last: {last}); "
                                 f"log {relpath(self.log_path)}:\n{self.log_tail()}")
            time.sleep(0.25)
        self.startup_s = time.monotonic() - t0
        log(f"{self.name} ready after {self.startup_s:.1f} s on port {self.port}")

    def model_id(self) -> str:
        try:
            status, body = http_get(self.port, "/v1/models")
            if status == 200:
                data = json.loads(body).get("data") or []
                if data and data[0].get("id"):
                    return data[0]["id"]
        except Exception:
            pass
        return "default"

    def memory(self) -> dict:
        out = {}
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith(("VmHWM:", "VmRSS:")):
                    k, v = line.split(":", 1)
                    out[k] = int(v.split()[0])  # KiB
        except OSError:
            pass
        return {"peak_rss_kib": out.get("VmHWM"), "rss_kib": out.get("VmRSS")}

    def stop(self):
        if self.proc is not None:
            terminate(self.proc)
        if self._log:
            self._log.close()
            self._log = None

    def log_tail(self, n: int = 30) -> str:
        try:
            return tail(self.log_path.read_text(errors="replace"), n) or "    (the log is empty)"
        except OSError:
            return "    (no log)"


def pair_lengths(db: Path, since_ms: int) -> dict | None:
    """What the pairs of the requests logged since `since_ms` cost: their visible and hidden tokens, and the decode
    steps they took (a pair's stream ends when its longer sample does) per visible token."""
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        rows = con.execute(
            "SELECT r.id, s.sample_index, length(s.token_ids) / 4 FROM requests r JOIN samples s ON s.request_id = r.id "
            "WHERE r.pair_id IS NOT NULL AND r.n = 1 AND r.created_at >= ?", (since_ms,)).fetchall()
        con.close()
    except sqlite3.Error as e:
        log(f"proxima: could not read the pairs from {db}: {e}")
        return None
    pairs: dict[str, dict[int, int]] = {}
    for rid, index, n in rows:
        pairs.setdefault(rid, {})[index] = n
    full = [p for p in pairs.values() if len(p) == 2]
    visible = sum(p[0] for p in full)
    if not visible:
        return None
    return {"pairs": len(full), "visible_tokens": visible, "hidden_tokens": sum(p[1] for p in full),
            "steps_per_visible_token": sum(max(p[0], p[1]) for p in full) / visible}


def bench_server(a, srv: Server, prompts: list[str], db: Path | None = None) -> dict:
    srv.start(a.ready_timeout)
    try:
        model_id = srv.model_id()
        log(f"{srv.name}: model id {model_id!r}; warm-up")
        first = chat_stream(srv.port, request_body(a, model_id, WARMUP_PROMPT, a.seed, 16), a.request_timeout)
        if first["error"]:
            raise BenchError(f"{srv.name}: warm-up request failed: {first['error']}\n{srv.log_tail()}")
        usage_supported = first["usage_completion_tokens"] is not None
        if not usage_supported:
            log(f"{srv.name}: no usage in the stream (stream_options.include_usage); counting SSE content chunks")
        if a.warmup > 0:
            recs = [None] * a.warmup

            def w(i):
                recs[i] = chat_stream(srv.port, request_body(a, model_id, prompts[i % len(prompts)], a.seed + 10_000 + i,
                                                             16), a.request_timeout)
            ts = [threading.Thread(target=w, args=(i,), daemon=True) for i in range(a.warmup)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            bad = [r["error"] for r in recs if r["error"]]
            if bad:
                raise BenchError(f"{srv.name}: {len(bad)} warm-up requests failed, first: {bad[0]}")
        levels = []
        for c in a.clients:
            log(f"{srv.name}: {c} concurrent client(s) × {a.requests_per_client} requests")
            since_ms = int(time.time() * 1000) - 1
            lv = run_level(a, srv.port, model_id, prompts, c)
            if db is not None:
                lv["pairs"] = pair_lengths(db, since_ms)
            log(f"{srv.name}: {c} clients: {lv['aggregate_tps']:.1f} tok/s, TTFT p50 {lv['ttft_ms_p50']:.0f} ms, "
                f"p99 {lv['ttft_ms_p99']:.0f} ms, {lv['failed']} failed")
            levels.append(lv)
        mem = srv.memory()
    finally:
        srv.stop()
    return {"command": cmdline(srv.cmd, srv.env_shown), "model_id": model_id, "startup_s": srv.startup_s,
            "usage_in_stream": usage_supported, "levels": levels, **mem, "log": relpath(srv.log_path)}


# ---------------------------------------------------------------------------------------------------------
# report

def markdown(a, meta, px, ll) -> str:
    m = meta["machine"]
    out = [f"### Serving: `proxima serve` vs `llama-server` — {meta['date_utc']}", ""]
    out.append(f"- Machine: {m['cpu_model']}, {m['usable_cpus']} usable of {m['logical_cpus']} logical CPUs, "
               f"{m.get('mem_total_gib', '?')} GiB{', AVX-512' if m['avx512f'] else ''}; load average at start "
               f"{meta['loadavg_start']}, end {meta['loadavg_end']}")
    out.append(f"- Model: `{relpath(meta['model'])}`; llama-server threads {a.threads}, -np {a.llama_parallel}, "
               f"-c {a.llama_parallel * a.llama_ctx_per_slot}; Proxima commit {meta['proxima_commit']}, "
               f"OPENBLAS_CORETYPE={meta.get('openblas_coretype', 'n/a')}")
    if meta.get("llama_build_info"):
        bi = meta["llama_build_info"]
        out.append(f"- llama.cpp: {bi.get('source')} (vendored llama.cpp commit {bi.get('llama_cpp_commit')})")
    out.append(f"- Workload: streaming chat, max_tokens {a.max_tokens}, temperature {a.temperature}, top_p {a.top_p}, "
               f"seed {a.seed}+k, {a.requests_per_client} requests per client back to back, prompts "
               f"`{relpath(a.prompts)}`; extra body {json.dumps(a.extra)}; warm-up first")
    out.append("")
    out.append("| clients | requests | Proxima tok/s | llama-server tok/s | ratio | Proxima TTFT p50 / p99 ms | "
               "llama-server TTFT p50 / p99 ms | TTFT ratio p50 / p99 | tokens/request P / L |")
    out.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for c in a.clients:
        p = next((lv for lv in (px or {}).get("levels", []) if lv["clients"] == c), None)
        l = next((lv for lv in (ll or {}).get("levels", []) if lv["clients"] == c), None)
        g = lambda d, k: d.get(k) if d else None  # noqa: E731
        req = (p or l)["requests"]
        out.append(
            f"| {c} | {req} | {fmt(g(p, 'aggregate_tps'))} | {fmt(g(l, 'aggregate_tps'))} | "
            f"{fmt_ratio(ratio(g(p, 'aggregate_tps'), g(l, 'aggregate_tps')))} | "
            f"{fmt(g(p, 'ttft_ms_p50'), 0)} / {fmt(g(p, 'ttft_ms_p99'), 0)} | "
            f"{fmt(g(l, 'ttft_ms_p50'), 0)} / {fmt(g(l, 'ttft_ms_p99'), 0)} | "
            f"{fmt_ratio(ratio(g(p, 'ttft_ms_p50'), g(l, 'ttft_ms_p50')))} / "
            f"{fmt_ratio(ratio(g(p, 'ttft_ms_p99'), g(l, 'ttft_ms_p99')))} | "
            f"{fmt(g(p, 'mean_tokens_per_request'), 0)} / {fmt(g(l, 'mean_tokens_per_request'), 0)} |")
    prss = (px or {}).get("peak_rss_kib")
    lrss = (ll or {}).get("peak_rss_kib")
    out.append("")
    out.append(f"Peak RSS (VmHWM): Proxima {fmt(prss / 1024 if prss else None)} MiB, llama-server "
               f"{fmt(lrss / 1024 if lrss else None)} MiB ({fmt_ratio(ratio(prss, lrss))}). "
               "Throughput ratio: higher is better for Proxima; TTFT ratio: lower is better.")
    notes = []
    for name, r in (("Proxima", px), ("llama-server", ll)):
        if not r:
            continue
        src = {lv["token_count_source"] for lv in r["levels"]}
        failed = sum(lv["failed"] for lv in r["levels"])
        notes.append(f"{name}: tokens counted from {'/'.join(sorted(src))}"
                     + (f"; **{failed} requests failed** ({r['levels'][0]['errors'] or ''})" if failed else ""))
    if px:
        notes.append("Proxima also samples the hidden second response of each pair (unless turned off in its "
                     "config); only the visible response's tokens are counted.")
        costs = [(lv["clients"], lv["pairs"]) for lv in px["levels"] if lv.get("pairs")]
        if costs:
            notes.append("Proxima's pairs (from its database; a stream ends with its pair's longer sample, so a pair "
                         "takes max(visible, hidden) decode steps): " + "; ".join(
                             f"{c} client{'s' if c > 1 else ''}: visible {pc['visible_tokens']} / hidden "
                             f"{pc['hidden_tokens']} tokens, {pc['steps_per_visible_token']:.2f} steps per visible token"
                             for c, pc in costs))
    if notes:
        out.append("")
        out.extend(f"- {n}" for n in notes)
    out += report_tail(meta, [r["command"] for r in (ll, px) if r])
    return "\n".join(out)


def main(argv=None) -> int:
    a = parse_args(argv)
    t0 = now_utc()
    model = check_model(resolve(a.model))
    a.prompts = resolve(a.prompts)
    prompts = load_prompts(a.prompts)
    proxima = None if a.skip_proxima else check_proxima(resolve(a.proxima))
    bins, build_info = ({}, {}) if a.skip_llama else llama_binaries(a.llama_bin_dir, ["llama-server"])
    machine = machine_info()
    meta = {"date_utc": t0.isoformat(), "machine": machine, "model": str(model), "threads": a.threads,
            "clients": a.clients, "requests_per_client": a.requests_per_client, "max_tokens": a.max_tokens,
            "temperature": a.temperature, "top_p": a.top_p, "seed": a.seed, "extra_body": a.extra,
            "proxima_commit": repo_commit(), "llama_build_info": build_info, "loadavg_start": loadavg(),
            "command": "python3 bench/server.py " + " ".join(shlex.quote(x) for x in
                                                             (sys.argv[1:] if argv is None else argv))}
    warn_if_busy(meta["loadavg_start"])
    logs = OUT / "logs"
    ll = px = None
    # Proxima first: the newer server is the likelier to fail, and then nothing is wasted on the peer.
    if not a.skip_proxima:
        env, coretype = openblas_env(machine)
        meta["openblas_coretype"] = coretype
        shown = {"OPENBLAS_CORETYPE": env["OPENBLAS_CORETYPE"]} if "OPENBLAS_CORETYPE" in env else {}
        port = free_port()
        with tempfile.TemporaryDirectory(prefix="proxima-bench-") as tmp:
            db = Path(tmp) / "bench.sqlite"
            cmd = [proxima, "serve", "--host", "127.0.0.1", "--port", port, "--db", db,
                   "--model", model] + shlex.split(a.proxima_args)
            srv = Server("proxima", cmd, env, logs / f"server-{stamp(t0)}-proxima.log", port, shown)
            px = bench_server(a, srv, prompts, db=db)
    if not a.skip_llama:
        port = free_port()
        cmd = [bins["llama-server"], "-m", model, "-t", a.threads, "-tb", a.threads, "-np", a.llama_parallel,
               "-c", a.llama_parallel * a.llama_ctx_per_slot, "--host", "127.0.0.1", "--port", port,
               "--no-webui"] + shlex.split(a.llama_args)
        srv = Server("llama-server", cmd, None, logs / f"server-{stamp(t0)}-llama-server.log", port)
        ll = bench_server(a, srv, prompts)
    meta["loadavg_end"] = loadavg()
    md = markdown(a, meta, px, ll)
    print(md)
    if not a.no_json:
        path = write_json("server", t0, {"meta": meta, "proxima": px, "llama_server": ll, "markdown": md})
        log(f"wrote {relpath(path)}")
    return 0


if __name__ == "__main__":
    run_main(main)
