#!/usr/bin/env python3
"""Store benchmark: one `proxima serve` on SQLite vs the same on PostgreSQL (--database), side by side.

Each server is started alone on a free loopback port with the same GGUF and the learner off (a serving
replica), then driven by --clients concurrent clients:
  chat          --chat-per-client non-streaming chat completions each (max_tokens --max-tokens, the pair
                sampled and logged as always): requests/s and completion tokens/s over the wall time.
  feedback      one thumb per logged response, posted by the same clients: feedback events/s (each is one
                committed write transaction before the 200).
PostgreSQL: --postgres names a server (an admin URL such as ops/lib.sh's test server prints); a fresh database
is created there with psql for the run. Prints a Markdown report and writes bench/out/store-<UTC time>.json.
Python 3 standard library only.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (DEFAULT_MODEL, DEFAULT_PROXIMA, api, check_model, check_proxima, fmt, fmt_ratio, loadavg, log,  # noqa: E402
                    machine_info, now_utc, ratio, repo_commit, resolve, run_main, terminate, warn_if_busy, write_json)


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(proxima: Path, model: Path, workdir: Path, database: str | None) -> tuple[subprocess.Popen, int]:
    port = free_port()
    (workdir / "proxima.yaml").write_text("db: data/proxima.sqlite\n")
    cmd = [str(proxima), "serve", "--config", "proxima.yaml", "--port", str(port), "--model", str(model)]
    if database:
        cmd += ["--database", database]
    env = dict(os.environ, PROXIMA_LEARNER_ENABLED="false")
    proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=open(workdir / "log", "w"), stderr=subprocess.STDOUT)
    for _ in range(600):
        try:
            if api(port, "GET", "/ready", timeout=2)[0] == 200:
                return proc, port
        except OSError:
            pass
        time.sleep(0.1)
    terminate(proc)
    raise SystemExit(f"proxima did not become ready; see {workdir / 'log'}")


def drive(port: int, clients: int, per_client: int, max_tokens: int) -> dict:
    ids: list[str] = []
    tokens = [0]
    lock = threading.Lock()

    def chat(k: int) -> None:
        for i in range(per_client):
            status, body = api(port, "POST", "/v1/chat/completions", {
                "model": "proxima", "messages": [{"role": "user", "content": f"Say something about the number {k * 1000 + i}."}],
                "max_tokens": max_tokens, "temperature": 1, "seed": k * 1000 + i})
            assert status == 200, body
            with lock:
                ids.append(body["id"])
                tokens[0] += body["usage"]["completion_tokens"]

    def thumbs(chunk: list[str]) -> None:
        for i, response in enumerate(chunk):
            status, body = api(port, "POST", "/v1/feedback", {"response_id": response, "rating": "up" if i % 2 else "down"})
            assert status == 200, body

    def run(target, args_list) -> float:
        threads = [threading.Thread(target=target, args=(a,)) for a in args_list]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return time.perf_counter() - t0

    chat_seconds = run(chat, range(clients))
    feedback_seconds = run(thumbs, [ids[k::clients] for k in range(clients)])
    return {"requests": len(ids), "completion_tokens": tokens[0], "chat_seconds": chat_seconds,
            "chat_requests_per_s": len(ids) / chat_seconds, "chat_tokens_per_s": tokens[0] / chat_seconds,
            "feedback_seconds": feedback_seconds, "feedback_per_s": len(ids) / feedback_seconds}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(DEFAULT_MODEL))
    p.add_argument("--proxima", default=str(DEFAULT_PROXIMA))
    p.add_argument("--postgres", required=True, help="admin URL of a PostgreSQL server, postgres://user@host:port/postgres")
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--chat-per-client", type=int, default=25)
    p.add_argument("--max-tokens", type=int, default=8)
    args = p.parse_args()
    model, proxima = check_model(resolve(args.model)), check_proxima(resolve(args.proxima))
    started = now_utc()
    load = loadavg()
    warn_if_busy(load)
    name = f"proxima_bench_{int(time.time())}"
    subprocess.run(["psql", args.postgres, "-qc", f"CREATE DATABASE {name}"], check=True)
    admin = urlparse(args.postgres)
    database = admin._replace(path="/" + name).geturl()
    results = {}
    for label, url in (("SQLite", None), ("PostgreSQL", database)):
        with tempfile.TemporaryDirectory(prefix="proxima-store-bench-") as tmp:
            log(f"{label}: starting proxima serve")
            proc, port = start(proxima, model, Path(tmp), url)
            try:
                results[label] = drive(port, args.clients, args.chat_per_client, args.max_tokens)
            finally:
                terminate(proc)
    subprocess.run(["psql", args.postgres, "-qc", f"DROP DATABASE {name}"], check=False)
    s, g = results["SQLite"], results["PostgreSQL"]
    lines = [f"{started.strftime('%Y-%m-%dT%H:%MZ')}, commit {repo_commit()}; load average {load[0]:.1f} at the start. "
             f"{args.clients} clients, {args.chat_per_client} chat completions each (max_tokens {args.max_tokens}, pairs "
             f"sampled and logged), then one thumb per response; the learner off.", "",
             "| measure | SQLite | PostgreSQL | PostgreSQL / SQLite |", "|---|---:|---:|---:|"]
    for key, what in (("feedback_per_s", "feedback events/s"), ("chat_requests_per_s", "chat completions/s"),
                      ("chat_tokens_per_s", "completion tokens/s")):
        lines.append(f"| {what} | {fmt(s[key])} | {fmt(g[key])} | {fmt_ratio(ratio(g[key], s[key]))} |")
    command = "python3 bench/store.py " + " ".join(sys.argv[1:])
    lines += ["", "```", command, "```"]
    print("\n".join(lines))
    path = write_json("store", started, {"meta": {"machine": machine_info(), "command": command, "loadavg_start": load},
                                         "results": results})
    log(f"wrote {path}")


if __name__ == "__main__":
    run_main(main)
