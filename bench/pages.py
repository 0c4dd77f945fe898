#!/usr/bin/env python3
"""The browser pages (issue 18): how fast `/` and `/dashboard` load from a warm server in headless Chromium, and
whether an open dashboard (polling the admin routes) changes chat latency.

    bash -c 'source ops/lib.sh && ensure_live_venv'    # Chromium, chromedriver, selenium (as ops/test-live)
    .venv-live/bin/python bench/pages.py [--loads 20] [--rounds 4] [--requests 8]

Load time: navigation start to the load event (Navigation Timing), each page loaded `--loads` times after one
warm-up load. Chat latency: non-streamed completions of 32 tokens with a pair (temperature 0.7, seeds fixed),
timed by the client, in `--rounds` alternating blocks of `--requests`: without a browser, then with the chat page
and the dashboard open in two Chromium windows. Markdown to stdout.
"""

import argparse
import json
import os
import statistics
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "Tests", "Live"))

from live_server import ADMIN_KEY, USER_KEY, LiveServer  # noqa: E402
from pages_test import browser  # noqa: E402


def load_times(driver, url, loads):
    driver.get(url)  # warm-up
    times = []
    for _ in range(loads):
        driver.get(url)
        times.append(driver.execute_script(
            "const n = performance.getEntriesByType('navigation')[0]; return n.loadEventEnd - n.startTime;"))
    return times


def chat_ms(server, seed):
    body = {"messages": [{"role": "user", "content": "Tell me about rivers."}], "max_tokens": 32, "temperature": 0.7, "seed": seed}
    request = urllib.request.Request(server.base + "/v1/chat/completions", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": "Bearer " + USER_KEY})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=300) as response:
        answer = json.loads(response.read())
    assert answer["usage"]["completion_tokens"] > 0
    return (time.perf_counter() - started) * 1000


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build/release/proxima"))
    parser.add_argument("--model", default=os.path.join(ROOT, "models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    parser.add_argument("--loads", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--requests", type=int, default=8)
    args = parser.parse_args()
    load_start = os.getloadavg()[0]
    server = LiveServer(args.binary, args.model)
    chat_page, dashboard = browser("/usr/bin/chromium", "/usr/bin/chromedriver"), browser("/usr/bin/chromium", "/usr/bin/chromedriver")
    try:
        chat_page.get(server.base + "/")
        chat_page.execute_script("localStorage.setItem('proxima.key', JSON.stringify(arguments[0]));"
                                 "localStorage.setItem('proxima.admin-key', arguments[1]);", USER_KEY, ADMIN_KEY)
        dashboard.get(server.base + "/")
        dashboard.execute_script("localStorage.setItem('proxima.admin-key', arguments[0]);", ADMIN_KEY)
        loads = {"/": load_times(chat_page, server.base + "/", args.loads),
                 "/dashboard": load_times(dashboard, server.base + "/dashboard", args.loads)}
        latency = {"no browser": [], "chat page and dashboard open": []}
        seed = 0
        for _ in range(args.rounds):
            chat_page.get("about:blank")
            dashboard.get("about:blank")
            for _ in range(args.requests):
                latency["no browser"].append(chat_ms(server, seed))
                seed += 1
            chat_page.get(server.base + "/")
            dashboard.get(server.base + "/dashboard")
            time.sleep(1)
            for _ in range(args.requests):
                latency["chat page and dashboard open"].append(chat_ms(server, seed))
                seed += 1
        server.ok = True
    finally:
        chat_page.quit()
        dashboard.quit()
        server.stop()
    load_end = os.getloadavg()[0]

    print(f"Load average {load_start:.2f} at start, {load_end:.2f} at end (2 cores).\n")
    print("| page | loads | median | max |")
    print("| --- | --- | --- | --- |")
    for page, times in loads.items():
        print(f"| `{page}` | {len(times)} | {statistics.median(times):.0f} ms | {max(times):.0f} ms |")
    print()
    base = statistics.median(latency["no browser"])
    print("| chat, 32 tokens with a pair | requests | median | p90 | vs no browser |")
    print("| --- | --- | --- | --- | --- |")
    for condition, times in latency.items():
        p90 = statistics.quantiles(times, n=10)[-1]
        print(f"| {condition} | {len(times)} | {statistics.median(times):.0f} ms | {p90:.0f} ms | {statistics.median(times) / base:.3f}× |")


if __name__ == "__main__":
    main()
