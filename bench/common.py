"""Shared helpers for bench/engine.py, bench/server.py and bench/train.py (Python 3 standard library only)."""

from __future__ import annotations

import argparse
import datetime as _dt
import http.client
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
OUT = BENCH / "out"
DEFAULT_MODEL = REPO / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_PROXIMA = REPO / ".build" / "release" / "proxima"
PEER_SCRIPT = BENCH / "peers" / "llamacpp.sh"


class BenchError(Exception):
    """A failure the user can act on; printed as one clear message."""


def api(port: int, method: str, path: str, body: dict | None = None, timeout: float = 600) -> tuple[int, dict]:
    """One JSON request to a server on this machine: (HTTP status, the decoded body; {"raw": …} if not JSON)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=None if body is None else json.dumps(body),
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        data = r.read()
        try:
            return r.status, json.loads(data) if data else {}
        except json.JSONDecodeError:
            return r.status, {"raw": data[:300].decode("utf-8", "replace")}
    finally:
        conn.close()


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def run_main(main) -> None:
    try:
        sys.exit(main())
    except BenchError as e:
        print(f"\nbench: ERROR: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("\nbench: interrupted", file=sys.stderr)
        sys.exit(130)


def now_utc() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)


def stamp(t: _dt.datetime) -> str:
    return t.strftime("%Y%m%d-%H%M%SZ")


def resolve(p: str | os.PathLike) -> Path:
    """Paths given on the command line are relative to the current directory; defaults to the repo."""
    return Path(os.path.normpath(Path(p).expanduser().absolute()))


def check_model(model: Path) -> Path:
    if not model.is_file():
        hint = ""
        if model == DEFAULT_MODEL:
            hint = " The default model is fetched by the project's setup: run `ops/run --help` once (or ops/fetch-model)."
        raise BenchError(f"model file not found: {model}.{hint} Or pass --model PATH.")
    return model


def check_proxima(path: Path) -> Path:
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise BenchError(
            f"Proxima binary not found or not executable: {path}\n"
            "  Build it first: `ops/run --help` (sets up and builds release) or `swift build -c release`,\n"
            "  or pass --proxima PATH (or --skip-proxima to measure the peer alone).")
    return path


def llama_binaries(bin_dir: str | None, needed: list[str]) -> tuple[dict[str, Path], dict]:
    """Paths of the llama.cpp peer binaries: from --llama-bin-dir, or by running bench/peers/llamacpp.sh
    (which builds on first use and is instant afterwards). Returns (paths, build_info)."""
    paths: dict[str, Path] = {}
    info: dict = {}
    if bin_dir:
        d = resolve(bin_dir)
        for name in needed:
            paths[name] = d / name
        bi = d.parent / "build-info.json"
        if bi.is_file():
            info = json.loads(bi.read_text())
    else:
        log(f"locating/building llama.cpp with {PEER_SCRIPT.relative_to(REPO)} (first build takes a while)")
        proc = subprocess.run(["bash", str(PEER_SCRIPT)], stdout=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            raise BenchError(f"{PEER_SCRIPT} failed with exit code {proc.returncode} (see its messages above)")
        kv = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
        for name in needed:
            if name not in kv:
                raise BenchError(f"{PEER_SCRIPT} did not report a path for {name}")
            paths[name] = Path(kv[name])
        if "build-info" in kv and Path(kv["build-info"]).is_file():
            info = json.loads(Path(kv["build-info"]).read_text())
    for name, p in paths.items():
        if not (p.is_file() and os.access(p, os.X_OK)):
            raise BenchError(f"llama.cpp binary missing: {p} (run bench/peers/llamacpp.sh --rebuild)")
    return paths, info


def machine_info() -> dict:
    info: dict = {"hostname": platform.node(), "kernel": platform.release(), "python": platform.python_version()}
    model, flags = "unknown", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and model == "unknown":
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    info["cpu_model"] = model
    info["logical_cpus"] = os.cpu_count()
    try:
        info["usable_cpus"] = len(os.sched_getaffinity(0))
    except AttributeError:
        info["usable_cpus"] = os.cpu_count()
    info["avx2"] = "avx2" in flags
    info["avx512f"] = "avx512f" in flags
    info["avx512_vnni"] = "avx512_vnni" in flags
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["mem_total_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    try:
        info["hypervisor"] = "hypervisor" in flags
    except Exception:
        pass
    return info


def int_list(s: str) -> list[int]:
    """argparse type: comma-separated positive integers."""
    try:
        vals = [int(x) for x in s.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {s!r}")
    if not vals or any(v <= 0 for v in vals):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {s!r}")
    return vals


BUSY_LOAD = 0.5  # a 1-minute load average above this at the start makes a run's timings noisy


def is_busy(load: list[float]) -> bool:
    return bool(load) and load[0] > BUSY_LOAD


def warn_if_busy(load: list[float]) -> None:
    if is_busy(load):
        log(f"warning: load average {load} — the machine is busy, timings will be noisy")


def report_tail(meta: dict, commands: list[str]) -> list[str]:
    """A report's closing lines: the commands that ran (the script's first), then a warning when the machine
    was busy at the start."""
    out = ["", "Commands:", "", "```", meta["command"], *commands, "```"]
    load = meta["loadavg_start"]
    if is_busy(load):
        out += ["", f"**Warning:** the 1-minute load average was {load[0]} at the start: the machine was not "
                    "quiet, timings are noisy."]
    return out


def loadavg() -> list[float]:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return []


def repo_commit() -> str:
    try:
        sha = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short=12", "HEAD"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return sha + ("-dirty" if dirty else "") if sha else "unknown"
    except Exception:
        return "unknown"


def openblas_env(machine: dict, base: dict[str, str] | None = None) -> tuple[dict[str, str], str]:
    """Environment for Proxima: OPENBLAS_CORETYPE=SkylakeX when the CPU has AVX-512F (Debian's OpenBLAS
    otherwise picks its Haswell kernels here; see FACTS.md), unless the caller already set one."""
    env = dict(os.environ if base is None else base)
    if "OPENBLAS_CORETYPE" in env:
        return env, f"{env['OPENBLAS_CORETYPE']} (from the caller's environment)"
    if machine.get("avx512f"):
        env["OPENBLAS_CORETYPE"] = "SkylakeX"
        return env, "SkylakeX (set by the bench because the CPU has avx512f)"
    return env, "unset (CPU has no avx512f; OpenBLAS autodetects)"


def cmdline(cmd: list, env_extra: dict[str, str] | None = None) -> str:
    pre = " ".join(f"{k}={shlex.quote(v)}" for k, v in (env_extra or {}).items())
    body = " ".join(shlex.quote(relpath(c) if isinstance(c, Path) else str(c)) for c in cmd)
    return f"{pre} {body}".strip()


def relpath(p: Path | str) -> str:
    p = Path(p)
    try:
        return str(Path(os.path.normpath(p.absolute())).relative_to(REPO))
    except ValueError:
        return str(p)


class Measured:
    def __init__(self, rc, stdout, stderr, max_rss_kib, wall_s):
        self.rc, self.stdout, self.stderr, self.max_rss_kib, self.wall_s = rc, stdout, stderr, max_rss_kib, wall_s


def run_measured(cmd: list, *, env: dict | None = None, timeout: float = 1800, label: str = "",
                 live_stderr: bool = False) -> Measured:
    """Run a command to completion and return its output, wall time and peak RSS.

    Peak RSS comes from wait4()'s rusage (ru_maxrss, KiB on Linux) — the same number `/usr/bin/time -v`
    prints as "Maximum resident set size" — for the process itself (children of it are not counted).
    With live_stderr the command's stderr (its progress) goes straight to ours and is not captured."""
    label = label or Path(str(cmd[0])).name
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        try:
            proc = subprocess.Popen([str(c) for c in cmd], stdout=out, stderr=None if live_stderr else err, env=env,
                                    stdin=subprocess.DEVNULL)
        except OSError as e:
            raise BenchError(f"cannot start {label}: {e}")
        deadline = t0 + timeout
        status, usage = 0, None
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid == proc.pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                os.wait4(proc.pid, 0)
                proc.returncode = -9
                raise BenchError(f"{label} did not finish within {timeout:.0f} s and was killed")
            time.sleep(0.02)
        wall = time.monotonic() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        so = out.read().decode("utf-8", "replace")
        se = err.read().decode("utf-8", "replace")
    return Measured(proc.returncode, so, se, usage.ru_maxrss if usage else None, wall)


def tail(text: str, n: int = 25) -> str:
    lines = text.strip().splitlines()
    return "\n".join("    " + l for l in lines[-n:])


def median(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return None
    xs = sorted(xs)
    m = len(xs) // 2
    return xs[m] if len(xs) % 2 else (xs[m - 1] + xs[m]) / 2


def percentile(xs, q: float):
    """Linear-interpolated percentile (q in 0..100) of a non-empty list (like numpy's default)."""
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return None
    if len(xs) == 1:
        return xs[0]
    pos = (len(xs) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt(x, digits: int = 1) -> str:
    if x is None:
        return "—"
    return f"{x:,.{digits}f}"


def fmt_ratio(r) -> str:
    return "—" if r is None else f"{r:.2f}×"


def write_json(prefix: str, t: _dt.datetime, data: dict) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{prefix}-{stamp(t)}.json"
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def terminate(proc: subprocess.Popen, grace: float = 15.0) -> None:
    """Stop one process we started: SIGTERM, then SIGKILL after a grace period."""
    if proc.poll() is not None:
        return
    try:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass
