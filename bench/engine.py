#!/usr/bin/env python3
"""Engine benchmark: Proxima (`proxima bench`) vs llama.cpp (llama-bench, llama-batched-bench).

Same GGUF, same thread count, one tool after the other (never at the same time), in --reps rounds that
alternate the tools (Proxima, then llama.cpp, then Proxima again …), so that the machine's drift over the run
(this VM's speed wanders by 10–20 %) falls on both tools alike; the report gives each ratio from the medians
and the spread of the per-round ratios. Prints a Markdown report to stdout (paste into docs/benchmarks.md)
and writes bench/out/engine-<UTC time>.json.

What each number is (see bench/README.md for more):
  prefill P    tokens/s processing a P-token prompt in one batch, 1 sequence.
               Proxima: prefill_tps (prompt_tokens=P, streams=1). llama.cpp: llama-bench `pp P`.
  decode 1     tokens/s generating G tokens one at a time after a D-token prompt (D = --decode-depth,
               default 64; the prompt itself is not timed).
               Proxima: decode_tps (streams=1, prompt_tokens=D). llama.cpp: llama-bench `tg G @ dD`.
  decode S>1   aggregate tokens/s of S sequences decoded together, one token each per step, after a
               D-token prompt each. Proxima: decode_tps (streams=S, prompt_tokens=D).
               llama.cpp: llama-batched-bench S_TG (-npp D -ntg G -npl S); llama-bench has no
               multi-sequence option (its -pg is one sequence: prompt then generation).
  peak RSS     ru_maxrss of each process (what /usr/bin/time -v reports), max over repetitions.
Every number is the median over the --reps rounds (one repetition of each tool per round).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (DEFAULT_MODEL, DEFAULT_PROXIMA, BenchError, check_model, check_proxima, cmdline, fmt,  # noqa: E402
                    fmt_ratio, int_list, llama_binaries, loadavg, log, machine_info, median, now_utc,
                    openblas_env, ratio, relpath, repo_commit, report_tail, resolve, run_main, run_measured,
                    tail, warn_if_busy, write_json)

PROXIMA_FIELDS = ("prompt_tokens", "gen_tokens", "streams", "threads", "prefill_tps", "decode_tps")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(DEFAULT_MODEL), help="GGUF file (default: %(default)s)")
    p.add_argument("--threads", type=int, default=2, help="threads for both engines (default: 2)")
    p.add_argument("--prompt-tokens", type=int_list, default=[64, 256], help="prefill sizes (default: 64,256)")
    p.add_argument("--gen-tokens", type=int, default=128, help="tokens generated per stream (default: 128)")
    p.add_argument("--streams", type=int_list, default=[1, 2, 8], help="decode streams (default: 1,2,8)")
    p.add_argument("--decode-depth", type=int, default=None,
                   help="prompt tokens in the context before decode is timed (default: smallest --prompt-tokens)")
    p.add_argument("--reps", type=int, default=3,
                   help="rounds, each running each tool once; medians reported (default: 3)")
    p.add_argument("--proxima", default=str(DEFAULT_PROXIMA), help="proxima binary (default: %(default)s)")
    p.add_argument("--llama-bin-dir", default=None,
                   help="directory with llama-bench and llama-batched-bench (default: build/find them with "
                        "bench/peers/llamacpp.sh)")
    p.add_argument("--skip-proxima", action="store_true", help="measure llama.cpp only")
    p.add_argument("--skip-llama", action="store_true", help="measure Proxima only")
    p.add_argument("--timeout", type=float, default=1800, help="seconds allowed per process (default: 1800)")
    p.add_argument("--no-json", action="store_true", help="do not write bench/out/engine-*.json")
    a = p.parse_args(argv)
    if a.threads <= 0 or a.gen_tokens <= 0 or a.reps <= 0:
        p.error("--threads, --gen-tokens and --reps must be positive")
    if a.decode_depth is None:
        a.decode_depth = min(a.prompt_tokens)
    if a.decode_depth <= 0:
        p.error("--decode-depth must be positive (llama-batched-bench needs a prompt)")
    if a.skip_proxima and a.skip_llama:
        p.error("nothing to do with both --skip-proxima and --skip-llama")
    return a


# ---------------------------------------------------------------------------------------------------------
# llama.cpp

def parse_llama_bench_json(text: str, label: str) -> list[dict]:
    start = text.find("[")
    if start < 0:
        raise BenchError(f"{label}: no JSON array in its output:\n{tail(text)}")
    try:
        return json.loads(text[start:])
    except json.JSONDecodeError as e:
        raise BenchError(f"{label}: cannot parse its JSON output ({e}):\n{tail(text)}")


def parse_batched_jsonl(text: str) -> list[dict]:
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{") and '"speed_tg"' in line:
            rows.append(json.loads(line))
    return rows


def run_llama(a, bins: dict[str, Path], model: Path) -> dict:
    """One repetition of each llama.cpp measurement (one round)."""
    t, g, d = a.threads, a.gen_tokens, a.decode_depth
    res: dict = {"commands": [], "runs": {}}
    rss: dict[str, int] = {}

    # 1) prefill sizes and plain tg (depth 0), the flags the brief mirrors
    cmd_a = [bins["llama-bench"], "-m", model, "-t", t, "-p", ",".join(map(str, a.prompt_tokens)),
             "-n", g, "-r", 1, "-o", "json"]
    # 2) decode after a D-token prompt (the context is filled before the timer starts: "tg G @ dD")
    cmd_b = [bins["llama-bench"], "-m", model, "-t", t, "-p", 0, "-n", g, "-d", d, "-r", 1, "-o", "json"]
    tests = []
    for key, cmd in (("llama-bench", cmd_a), ("llama-bench-depth", cmd_b)):
        res["commands"].append(cmdline(cmd))
        log(f"running {cmdline(cmd)}")
        m = run_measured(cmd, timeout=a.timeout, label="llama-bench")
        if m.rc != 0:
            raise BenchError(f"llama-bench exited with {m.rc}:\n{tail(m.stderr + m.stdout)}")
        rows = parse_llama_bench_json(m.stdout, "llama-bench")
        tests += rows
        rss[key] = m.max_rss_kib
        res["runs"][key] = {"wall_s": round(m.wall_s, 2), "max_rss_kib": m.max_rss_kib, "results": rows}

    def pick(n_prompt, n_gen, n_depth):
        for r in tests:
            if r.get("n_prompt") == n_prompt and r.get("n_gen") == n_gen and r.get("n_depth", 0) == n_depth:
                samples = r.get("samples_ts") or [r.get("avg_ts")]
                return {"median_tps": median(samples), "avg_tps": r.get("avg_ts"),
                        "stddev_tps": r.get("stddev_ts"), "samples_tps": samples}
        return None

    res["prefill"] = {str(p): pick(p, 0, 0) for p in a.prompt_tokens}
    res["decode_depth0"] = pick(0, g, 0)
    res["decode_1"] = pick(0, g, d)
    first = tests[0] if tests else {}
    res["build_commit"] = first.get("build_commit")
    res["build_number"] = first.get("build_number")
    res["cpu_info"] = first.get("cpu_info")
    res["backends"] = first.get("backends")
    res["flash_attn"] = first.get("flash_attn")
    res["n_batch"] = first.get("n_batch")
    res["n_ubatch"] = first.get("n_ubatch")

    # 3) several sequences decoded together: llama-batched-bench (one measurement per process)
    per_seq = -(-(d + g) // 256) * 256
    ctx = max(a.streams) * per_seq
    cmd_c = [bins["llama-batched-bench"], "-m", model, "-t", t, "-tb", t, "-c", ctx,
             "-npp", d, "-ntg", g, "-npl", ",".join(map(str, a.streams)), "--output-format", "jsonl"]
    res["commands"].append(cmdline(cmd_c))
    log("running llama-batched-bench")
    m = run_measured(cmd_c, timeout=a.timeout, label="llama-batched-bench")
    if m.rc != 0:
        raise BenchError(f"llama-batched-bench exited with {m.rc}:\n{tail(m.stderr + m.stdout)}")
    rows = parse_batched_jsonl(m.stdout + "\n" + m.stderr)
    got = {r["pl"] for r in rows}
    missing = [s for s in a.streams if s not in got]
    if missing:
        raise BenchError(f"llama-batched-bench produced no result for -npl {missing} (context {ctx} too "
                         f"small?):\n{tail(m.stderr + m.stdout)}")
    rss["llama-batched-bench"] = m.max_rss_kib or 0
    res["runs"]["llama-batched-bench"] = {"results": rows, "max_rss_kib": rss["llama-batched-bench"]}
    res["decode_streams"] = {str(r["pl"]): {"median_tps": r["speed_tg"], "samples_tps": [r["speed_tg"]]}
                             for r in rows if r["pl"] in a.streams}
    res["max_rss_kib"] = rss
    return res


# ---------------------------------------------------------------------------------------------------------
# Proxima

def parse_proxima_lines(text: str) -> list[dict]:
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue
        if all(k in obj for k in ("prompt_tokens", "streams")) and ("prefill_tps" in obj or "decode_tps" in obj):
            rows.append(obj)
    return rows


def run_proxima(a, proxima: Path, model: Path, machine: dict) -> dict:
    """One `proxima bench` run (one round)."""
    env, coretype = openblas_env(machine)
    env_shown = {"OPENBLAS_CORETYPE": env["OPENBLAS_CORETYPE"]} if "OPENBLAS_CORETYPE" in env else {}
    cmd = [proxima, "bench", "--model", model, "--prompt-tokens", ",".join(map(str, a.prompt_tokens)),
           "--gen-tokens", a.gen_tokens, "--streams", ",".join(map(str, a.streams)),
           "--threads", a.threads, "--json"]
    res: dict = {"commands": [cmdline(cmd, env_shown)], "openblas_coretype": coretype, "runs": []}
    log(f"running proxima bench: {cmdline(cmd, env_shown)}")
    m = run_measured(cmd, env=env, timeout=a.timeout, label="proxima bench")
    if m.rc != 0:
        raise BenchError(f"proxima bench exited with {m.rc}:\n{tail(m.stderr + m.stdout)}")
    rows = parse_proxima_lines(m.stdout)
    if not rows:
        raise BenchError("proxima bench --json printed no result lines (expected one JSON object per line "
                         f"with {', '.join(PROXIMA_FIELDS)}):\n{tail(m.stdout + m.stderr)}")
    bad = [r for r in rows if r.get("threads") not in (None, a.threads)]
    if bad:
        raise BenchError(f"proxima bench ran with threads={bad[0].get('threads')}, asked for {a.threads}")
    rss = m.max_rss_kib or 0
    res["runs"].append({"wall_s": round(m.wall_s, 2), "max_rss_kib": m.max_rss_kib, "results": rows})

    def collect(pred, field):
        return [float(r[field]) for r in rows if pred(r) and isinstance(r.get(field), (int, float))]

    def prefill(p):
        v = collect(lambda r: r["prompt_tokens"] == p and r["streams"] == 1, "prefill_tps")
        if not v:  # accept a prefill figure reported on a multi-stream line if no 1-stream line has it
            v = collect(lambda r: r["prompt_tokens"] == p, "prefill_tps")
        return {"median_tps": median(v), "samples_tps": v} if v else None

    def decode(s):
        cands = [r for r in rows
                 if r["streams"] == s and r.get("gen_tokens") in (None, a.gen_tokens)
                 and isinstance(r.get("decode_tps"), (int, float))]
        if not cands:
            return None
        depths = sorted({r["prompt_tokens"] for r in cands})
        depth = a.decode_depth if a.decode_depth in depths else depths[0]
        v = [float(r["decode_tps"]) for r in cands if r["prompt_tokens"] == depth]
        return {"median_tps": median(v), "samples_tps": v, "prompt_tokens": depth}

    res["prefill"] = {str(p): prefill(p) for p in a.prompt_tokens}
    res["decode_streams"] = {str(s): decode(s) for s in a.streams}
    res["max_rss_kib"] = rss
    return res


def merge_rounds(rounds: list[dict]) -> dict:
    """One result from the rounds of one tool: samples pooled, medians over them, the largest RSS."""
    out = copy.deepcopy(rounds[0])
    out["rounds"] = rounds

    def pooled(get):
        entries = [get(r) for r in rounds]
        if any(e is None for e in entries):
            return None
        samples = [x for e in entries for x in e["samples_tps"]]
        merged = dict(entries[0], samples_tps=samples, median_tps=median(samples))
        for k in ("avg_tps", "stddev_tps"):
            merged.pop(k, None)
        return merged

    for key in ("prefill", "decode_streams"):
        if isinstance(out.get(key), dict):
            out[key] = {k: pooled(lambda r, k=k: r[key].get(k)) for k in out[key]}
    for key in ("decode_depth0", "decode_1"):
        if key in out:
            out[key] = pooled(lambda r, key=key: r.get(key))
    rss = [r.get("max_rss_kib") for r in rounds]
    if all(isinstance(v, dict) for v in rss):
        out["max_rss_kib"] = {k: max((v.get(k) or 0) for v in rss) for k in rss[0]}
    elif all(isinstance(v, (int, float)) for v in rss):
        out["max_rss_kib"] = max(rss)
    out["commands"] = [c + f"   # once per round, {len(rounds)} rounds" for c in rounds[0].get("commands", [])]
    return out


# ---------------------------------------------------------------------------------------------------------
# report

def val(d, *keys):
    for k in keys:
        if d is None:
            return None
        d = d.get(k) if isinstance(d, dict) else None
    return d


def build_rows(a, px, ll):
    rows = []
    for p in a.prompt_tokens:
        rows.append({"metric": f"prefill, {p}-token prompt (tok/s)",
                     "proxima": val(px, "prefill", str(p), "median_tps"),
                     "llama": val(ll, "prefill", str(p), "median_tps"),
                     "llama_source": f"llama-bench pp{p}", "goal": 2.0, "higher_is_better": True})
    for s in a.streams:
        pxv = val(px, "decode_streams", str(s), "median_tps")
        if s == 1:
            llv, src = val(ll, "decode_1", "median_tps"), f"llama-bench tg{a.gen_tokens} @ d{a.decode_depth}"
        else:
            llv = val(ll, "decode_streams", str(s), "median_tps")
            src = f"llama-batched-bench S_TG, npp {a.decode_depth}, ntg {a.gen_tokens}, npl {s}"
        name = (f"decode, 1 stream, {a.gen_tokens} tokens (tok/s)" if s == 1 else
                f"decode, {s} streams batched, {a.gen_tokens} tokens each (total tok/s)")
        rows.append({"metric": name, "proxima": pxv, "llama": llv, "llama_source": src, "goal": 1.5,
                     "higher_is_better": True})
    px_rss = val(px, "max_rss_kib")
    ll_rss = val(ll, "max_rss_kib")
    rows.append({"metric": "peak RSS, MiB (lower is better)",
                 "proxima": px_rss / 1024 if px_rss else None,
                 "llama": max(ll_rss.get(k) or 0 for k in ("llama-bench", "llama-bench-depth")) / 1024
                 if ll_rss else None,
                 "llama_source": "llama-bench (max of its runs)", "goal": None, "higher_is_better": False})
    if ll_rss and ll_rss.get("llama-batched-bench"):
        rows.append({"metric": f"peak RSS, MiB, {max(a.streams)}-stream decode (lower is better)",
                     "proxima": px_rss / 1024 if px_rss else None,
                     "llama": ll_rss["llama-batched-bench"] / 1024,
                     "llama_source": "llama-batched-bench", "goal": None, "higher_is_better": False})
    for r in rows:
        r["ratio"] = ratio(r["proxima"], r["llama"])
    return rows


def markdown(a, meta, rows, px, ll) -> str:
    m = meta["machine"]
    out = []
    out.append(f"### Engine: Proxima vs llama.cpp — {meta['date_utc']}")
    out.append("")
    out.append(f"- Machine: {m['cpu_model']}, {m['usable_cpus']} usable of {m['logical_cpus']} logical CPUs, "
               f"{m.get('mem_total_gib', '?')} GiB, kernel {m['kernel']}"
               f"{', AVX-512' if m['avx512f'] else ''}; load average at start {meta['loadavg_start']}, "
               f"end {meta['loadavg_end']}")
    out.append(f"- Model: `{relpath(meta['model'])}`; threads {a.threads}; {a.reps} rounds alternating the tools "
               f"(one repetition of each per round), median")
    out.append(f"- Proxima: commit {meta['proxima_commit']}; "
               f"OPENBLAS_CORETYPE={px['openblas_coretype'] if px else 'n/a (not run)'}")
    if ll:
        bi = meta.get("llama_build_info") or {}
        out.append(f"- llama.cpp: {bi.get('source', '?')} (vendored llama.cpp commit "
                   f"{bi.get('llama_cpp_commit', ll.get('build_commit'))}; binaries report build "
                   f"{ll.get('build_commit')}/{ll.get('build_number')}), backend {ll.get('backends')}, "
                   f"flash_attn {ll.get('flash_attn')}, n_batch {ll.get('n_batch')}, n_ubatch {ll.get('n_ubatch')}")
    out.append("")
    out.append("| measure | Proxima | llama.cpp | Proxima / llama.cpp | per-round ratios | goal | llama.cpp figure |")
    out.append("|---|---:|---:|---:|---|---:|---|")
    for r in rows:
        goal = f"≥ {r['goal']:.1f}×" if r["goal"] else ""
        rounds = ", ".join(fmt_ratio(x) for x in r.get("round_ratios", []))
        out.append(f"| {r['metric']} | {fmt(r['proxima'])} | {fmt(r['llama'])} | {fmt_ratio(r['ratio'])} | "
                   f"{rounds} | {goal} | {r['llama_source']} |")
    out.append("")
    if ll and ll.get("decode_depth0"):
        d0 = ll["decode_depth0"]["median_tps"]
        b1 = val(ll, "decode_streams", "1", "median_tps")
        out.append(f"llama.cpp cross-checks: llama-bench tg{a.gen_tokens} with an empty context (its default "
                   f"test) {fmt(d0)} tok/s; llama-batched-bench 1 stream {fmt(b1)} tok/s.")
    if px:
        depths = {s: val(px, "decode_streams", str(s), "prompt_tokens") for s in a.streams}
        if any(v is not None and v != a.decode_depth for v in depths.values()):
            out.append(f"Note: Proxima decode figures came from lines with prompt_tokens {depths} "
                       f"(wanted {a.decode_depth}).")
    out += report_tail(meta, (ll or {}).get("commands", []) + (px or {}).get("commands", []))
    return "\n".join(out)


def main(argv=None) -> int:
    a = parse_args(argv)
    t0 = now_utc()
    model = check_model(resolve(a.model))
    proxima = None if a.skip_proxima else check_proxima(resolve(a.proxima))
    bins, build_info = ({}, {}) if a.skip_llama else llama_binaries(a.llama_bin_dir,
                                                                   ["llama-bench", "llama-batched-bench"])
    machine = machine_info()
    meta = {"date_utc": t0.isoformat(), "machine": machine, "model": str(model), "threads": a.threads,
            "prompt_tokens": a.prompt_tokens, "gen_tokens": a.gen_tokens, "streams": a.streams,
            "decode_depth": a.decode_depth, "reps": a.reps, "proxima_commit": repo_commit(),
            "llama_build_info": build_info, "loadavg_start": loadavg(),
            "command": "python3 bench/engine.py " + " ".join(sys.argv[1:] if argv is None else argv)}
    warn_if_busy(meta["loadavg_start"])
    # Rounds of one repetition each, alternating the tools; Proxima first in each round (the newer tool is
    # the likelier to fail, and then nothing is wasted on the peer).
    px_rounds, ll_rounds = [], []
    for i in range(a.reps):
        log(f"round {i + 1}/{a.reps}")
        px_rounds.append(None if a.skip_proxima else run_proxima(a, proxima, model, machine))
        ll_rounds.append(None if a.skip_llama else run_llama(a, bins, model))
    px = None if a.skip_proxima else merge_rounds(px_rounds)
    ll = None if a.skip_llama else merge_rounds(ll_rounds)
    meta["loadavg_end"] = loadavg()
    rows = build_rows(a, px, ll)
    if px and ll:
        per_round = [build_rows(a, p, l) for p, l in zip(px_rounds, ll_rounds)]
        for i, r in enumerate(rows):
            r["round_ratios"] = [rr[i]["ratio"] for rr in per_round]
    md = markdown(a, meta, rows, px, ll)
    print(md)
    if not a.no_json:
        path = write_json("engine", t0, {"meta": meta, "table": rows, "proxima": px, "llama_cpp": ll,
                                          "markdown": md})
        log(f"wrote {relpath(path)}")
    return 0


if __name__ == "__main__":
    run_main(main)
