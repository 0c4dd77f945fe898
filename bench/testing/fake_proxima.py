#!/usr/bin/env python3
"""A stand-in for `.build/release/proxima` that speaks the two interfaces the bench scripts rely on, so the
scripts can be tested before (or without) the real binary. Numbers it prints are made up.

  fake_proxima.py bench [--model PATH] [--prompt-tokens 64,256] [--gen-tokens 128] [--streams 1,2,8]
                        [--threads N] [--json]
      one JSON object per line and configuration: prompt_tokens, gen_tokens, streams, threads,
      prefill_tps, decode_tps (decode_tps = tokens of all streams together).
  fake_proxima.py bench --train [--model PATH] [--threads N] [--json]
      progress lines, then one JSON object with train_step_seconds (as `proxima bench --train --json`).
  fake_proxima.py serve [--port P] [--host H] [--db PATH] [--model PATH] [--config FILE]
      GET /health, GET /ready, GET /v1/models, POST /v1/chat/completions (stream or not, with
      stream_options.include_usage). A token takes --token-ms (default 5) per decode step shared by all
      running requests, like a batched engine.

Usage with the bench: python3 bench/engine.py --proxima bench/testing/fake_proxima.py
                      python3 bench/train.py --proxima bench/testing/fake_proxima.py --skip-torch
                      python3 bench/server.py --proxima bench/testing/fake_proxima.py
"""

import argparse
import json
import os
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def cmd_bench(argv):
    p = argparse.ArgumentParser(prog="proxima bench")
    p.add_argument("--model")
    p.add_argument("--prompt-tokens", default="64,256")
    p.add_argument("--gen-tokens", type=int, default=128)
    p.add_argument("--streams", default="1,2,8")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--json", action="store_true")
    p.add_argument("--train", action="store_true")
    a = p.parse_args(argv)
    if a.model and not os.path.isfile(a.model):
        print(f"error: model file not found: {a.model}", file=sys.stderr)
        return 1
    ballast = bytearray(64 << 20)  # something to show up in peak RSS
    ballast[::4096] = b"x" * len(ballast[::4096])
    if a.train:
        print(f"model fake, {a.threads} threads, OpenBLAS fake", flush=True)
        if a.json:  # the real binary prints only the JSON line with --json; a stray line tests the parser
            print("training step 0: 0.10 s (loss 0.6931) — warm-up", flush=True)
        print(json.dumps({"train_step_seconds": 12.345, "ensemble": 5, "rank": 16, "pairs": 16,
                          "prompt_tokens": 64, "response_tokens": 96, "threads": a.threads}), flush=True)
        return 0
    prompts = [int(x) for x in a.prompt_tokens.split(",")]
    streams = [int(x) for x in a.streams.split(",")]
    for pt in prompts:
        for s in streams:
            time.sleep(0.05)
            row = {"prompt_tokens": pt, "gen_tokens": a.gen_tokens, "streams": s, "threads": a.threads,
                   "prefill_tps": 900.0 - pt, "decode_tps": 200.0 * s ** 0.8 - pt / 10}
            if a.json:
                print(json.dumps(row), flush=True)
            else:
                print(f"prompt {pt} streams {s}: prefill {row['prefill_tps']:.1f} tok/s, "
                      f"decode {row['decode_tps']:.1f} tok/s")
    return 0


class Engine:
    """Decode steps at a fixed period; every running request gets one token per step."""

    def __init__(self, token_ms):
        self.period = token_ms / 1000
        self.cond = threading.Condition()
        self.step = 0
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while True:
            time.sleep(self.period)
            with self.cond:
                self.step += 1
                self.cond.notify_all()

    def wait_step(self):
        with self.cond:
            s = self.step
            self.cond.wait_for(lambda: self.step > s)


WORDS = "The quick brown fox jumps over the lazy dog and keeps running through the field".split()


def make_handler(engine, model_id):
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def send_json(self, code, obj):
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path in ("/health", "/ready"):
                self.send_json(200, {"status": "ok"})
            elif self.path == "/v1/models":
                self.send_json(200, {"object": "list", "data": [{"id": model_id, "object": "model"}]})
            else:
                self.send_json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

        def do_POST(self):
            if self.path != "/v1/chat/completions":
                return self.send_json(404, {"error": {"message": "not found"}})
            n = int(self.headers.get("Content-Length", 0))
            try:
                req = json.loads(self.rfile.read(n))
                msgs = req["messages"]
            except Exception as e:
                return self.send_json(400, {"error": {"message": f"bad request: {e}"}})
            max_tokens = int(req.get("max_tokens") or req.get("max_completion_tokens") or 16)
            prompt_tokens = sum(len(m.get("content", "").split()) for m in msgs) + 10
            cid = "chatcmpl-" + uuid.uuid4().hex[:12]
            base = {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()), "model": model_id}
            time.sleep(0.01)  # "prefill"
            if not req.get("stream"):
                for _ in range(max_tokens):
                    engine.wait_step()
                text = " ".join(WORDS[i % len(WORDS)] for i in range(max_tokens))
                return self.send_json(200, {
                    "id": cid, "object": "chat.completion", "model": model_id,
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                 "finish_reason": "length"}],
                    "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": max_tokens,
                              "total_tokens": prompt_tokens + max_tokens}})
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()

            def sse(obj):
                data = b"data: " + (obj if isinstance(obj, bytes) else json.dumps(obj).encode()) + b"\n\n"
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            sse({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                      "finish_reason": None}]})
            for i in range(max_tokens):
                engine.wait_step()
                sse({**base, "choices": [{"index": 0, "delta": {"content": WORDS[i % len(WORDS)] + " "},
                                          "finish_reason": None}]})
            sse({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]})
            if (req.get("stream_options") or {}).get("include_usage"):
                sse({**base, "choices": [], "usage": {"prompt_tokens": prompt_tokens,
                                                      "completion_tokens": max_tokens,
                                                      "total_tokens": prompt_tokens + max_tokens}})
            sse(b"[DONE]")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

    return H


def cmd_serve(argv):
    p = argparse.ArgumentParser(prog="proxima serve")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--db")
    p.add_argument("--model")
    p.add_argument("--config")
    p.add_argument("--token-ms", type=float, default=5.0)
    p.add_argument("--startup-s", type=float, default=0.5)
    a = p.parse_args(argv)
    time.sleep(a.startup_s)  # "loading the model"
    engine = Engine(a.token_ms)
    srv = ThreadingHTTPServer((a.host, a.port), make_handler(engine, "fake-smollm2"))
    srv.daemon_threads = True
    print(f"fake proxima listening on {a.host}:{a.port}", file=sys.stderr, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ("bench", "serve"):
        print("usage: fake_proxima.py bench|serve ...", file=sys.stderr)
        return 2
    return cmd_bench(sys.argv[2:]) if sys.argv[1] == "bench" else cmd_serve(sys.argv[2:])


if __name__ == "__main__":
    import signal
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sys.exit(main())
