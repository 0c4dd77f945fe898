"""The multi-process test: PostgreSQL, two serving replicas, a learner and a standby learner on loopback, each
process with a folder (a disk) of its own, the release binary on the default model.

8 clients chat and give feedback through both replicas while the test
  1. runs a phase started through replica A on the learner: both replicas serve the new version within 2 s,
     with zero failed requests so far;
  2. rolls back through replica B: replica A serves the old version within 2 s, and a request pinned to the
     new version (`model@vN`) is served it on both replicas; then, from a folder of their own, `proxima train`
     publishes a version, `proxima import-adapter` registers its PEFT adapter, `proxima policies list` sees the
     files of every version, and `proxima policies activate` makes the imported version serve on both replicas
     (which fetch its files from the database);
  3. lists the processes (`/admin/replicas`): four, one learner;
  4. kills replica A with SIGKILL in the middle of a request;
  5. kills the learner with SIGKILL in the middle of a phase: the standby takes over, the dead phase is failed,
     its pairs train the next phase;
  6. restarts PostgreSQL: the replica reconnects and serves again;
and checks that every acknowledged chat completion and feedback event is in the database.

Usage: cluster_test.py --binary .build/release/proxima --model MODEL.gguf --database ADMIN_URL [--pg-ctl "CMD"]
(ADMIN_URL: a server where the test may create a database; CMD: the pg_ctl command of that server, needed for
step 6 — ops/test starts a throwaway server and passes both).
"""

import argparse
import http.client
import json
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

from live_server import free_port

USER_KEY = "cluster-user-key"
ADMIN_KEY = "cluster-admin-key"
CONFIG = """
auth:
  user_keys: [{user}]
  admin_keys: [{admin}]
chat:
  max_tokens_default: 8
threads: 1
learner:
  automatic: false
  gate_threshold: 0
  gate_prompt_count: 2
  gate_max_tokens: 6
  steps: 2
  batch_size: 2
  ensemble: 1
  rank: 2
  targets: [q, v]
  learning_rate: 1.0e-4
  policies_dir: {folder}/policies
"""


def fail(message):
    raise SystemExit("cluster test FAILED: " + message)


def call(base, path, body=None, key=USER_KEY, timeout=60, method=None):
    """(status, JSON body or text) of one request; status 0 when the connection failed."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method or ("POST" if data is not None else "GET"),
                                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
    except (OSError, http.client.HTTPException) as e:   # refused, reset, cut mid-body (a killed process)
        return 0, str(e)


def wait_until(what, condition, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return time.time()
        time.sleep(0.05)
    fail(f"{what}: not within {timeout} s")


class Process:
    """One `proxima serve` with its own folder."""

    def __init__(self, name, role, binary, model, database, root):
        self.name, self.role = name, role
        self.folder = os.path.join(root, name)
        os.makedirs(self.folder)
        config = os.path.join(self.folder, "proxima.yaml")
        with open(config, "w") as f:
            f.write(CONFIG.format(user=USER_KEY, admin=ADMIN_KEY, folder=self.folder))
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(self.folder, "serve.log")
        self.process = subprocess.Popen(
            [binary, "serve", "--config", config, "--model", model, "--port", str(self.port), "--role", role,
             "--database", database],
            stdout=open(self.log_path, "w"), stderr=subprocess.STDOUT, cwd=self.folder)

    def wait_ready(self, timeout=120):
        def ready():
            if self.process.poll() is not None:
                fail(f"{self.name} exited with {self.process.returncode}:\n{self.log()}")
            return call(self.base, "/ready", timeout=2)[0] == 200
        wait_until(f"{self.name} ready", ready, timeout)

    def version(self):
        status, body = call(self.base, "/ready", timeout=2)
        return body.get("policy_version") if status == 200 else None

    def log(self):
        return open(self.log_path).read()[-4000:]

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


class Clients:
    """8 threads, each chatting (a pair) through one of the replicas and choosing one of the two answers."""

    def __init__(self, replicas, count=8):
        self.replicas = replicas
        self.lock = threading.Lock()
        self.completions, self.events = set(), set()     # acknowledged: 200 answers
        self.failures = []                               # (time, replica, what, status)
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(k,), daemon=True) for k in range(count)]
        for t in self.threads:
            t.start()

    def run(self, k):
        n = 0
        while not self.stopping.is_set():
            replica = self.replicas[(k + n) % len(self.replicas)]
            n += 1
            if replica.process.poll() is not None:
                time.sleep(0.05)
                continue
            status, chat = call(replica.base, "/v1/chat/completions", {
                "messages": [{"role": "user", "content": f"Client {k} asks question {n}: name a colour."}],
                "n": 2, "max_tokens": 6, "seed": k * 1000 + n})
            if status != 200:
                self.failure(replica, "chat", status)
                continue
            with self.lock:
                self.completions.add(chat["id"])
            event = f"cluster-{k}-{n}"
            status, body = call(replica.base, "/v1/feedback", {"pair_id": chat["proxima"]["pair_id"],
                                                               "choice": n % 2, "event_id": event})
            if status != 200:
                self.failure(replica, "feedback", status)
                continue
            with self.lock:
                self.events.add(event)

    def failure(self, replica, what, status):
        with self.lock:
            self.failures.append((time.time(), replica.name, what, status))
        time.sleep(0.1)

    def failures_since(self, start):
        with self.lock:
            return [f for f in self.failures if f[0] >= start]

    def acknowledged(self):
        with self.lock:
            return set(self.completions), set(self.events)

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=120)


def psql(url, sql):
    out = subprocess.run(["psql", url, "-Atc", sql], check=True, capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line]


def check_acknowledged_are_stored(url, clients):
    completions, events = clients.acknowledged()
    stored_requests = set(psql(url, "SELECT id FROM requests"))
    stored_events = set(psql(url, "SELECT event_id FROM feedback"))
    lost = (completions - stored_requests) | (events - stored_events)
    if lost:
        fail(f"{len(lost)} acknowledged events are not in the database, e.g. {sorted(lost)[:5]}")
    print(f"  every acknowledged event is stored: {len(completions)} chat completions, {len(events)} feedback events")


def phase_status(replica, phase_id):
    status, body = call(replica.base, f"/admin/phases/{phase_id}", key=ADMIN_KEY, timeout=5)
    return body if status == 200 else {}


def main():
    arguments = argparse.ArgumentParser()
    arguments.add_argument("--binary", required=True)
    arguments.add_argument("--model", required=True)
    arguments.add_argument("--database", required=True, help="admin URL of a PostgreSQL server")
    arguments.add_argument("--pg-ctl", default="", help="the server's pg_ctl command (for the restart step)")
    options = arguments.parse_args()
    if not options.pg_ctl and os.environ.get("CI"):
        fail("--pg-ctl is required in CI (the PostgreSQL restart must not be skipped)")

    name = f"proxima_cluster_{random.randrange(1 << 30)}"
    psql(options.database, f"CREATE DATABASE {name}")
    url = options.database.rsplit("/", 1)[0] + "/" + name
    root = tempfile.mkdtemp(prefix="proxima-cluster-")
    binary, model = os.path.abspath(options.binary), os.path.abspath(options.model)
    processes = []
    clients = None
    started = time.time()
    ok = False
    try:
        learner = Process("learner", "learner", binary, model, url, root)
        processes.append(learner)
        learner.wait_ready()            # the first learner migrates the schema and takes the lock
        a = Process("replica-a", "replica", binary, model, url, root)
        b = Process("replica-b", "replica", binary, model, url, root)
        standby = Process("standby", "learner", binary, model, url, root)
        processes += [a, b, standby]
        for p in processes:
            p.wait_ready()
        status, body = call(learner.base, "/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]})
        if status != 421:
            fail(f"the learner answered chat with {status}, not 421: {body}")
        print(f"  four processes ready in {time.time() - started:.1f} s; the learner refuses chat (421)")

        clients = Clients([a, b])
        wait_until("16 acknowledged feedback events", lambda: len(clients.acknowledged()[1]) >= 16, 120)

        # 1. A phase started through replica A runs on the learner; both replicas swap to its result.
        status, phase = call(a.base, "/admin/phases", {}, key=ADMIN_KEY)
        if status != 202:
            fail(f"starting a phase through replica A: {status} {phase}")
        wait_until("the phase succeeds", lambda: phase_status(a, phase["id"]).get("status") in ("succeeded", "failed", "rejected"), 180)
        finished = phase_status(a, phase["id"])
        if finished["status"] != "succeeded":
            fail(f"the phase ended {finished['status']}: {finished.get('error')}\n{learner.log()}")
        new = finished["result_version"]
        seen = time.time()
        swapped = wait_until(f"both replicas serve {new}", lambda: a.version() == new and b.version() == new, 2)
        if clients.failures_since(started):
            fail(f"failed requests before any fault: {clients.failures_since(started)[:5]}")
        print(f"  phase {phase['id']} ran on the learner; both replicas served {new} {swapped - seen:.2f} s after it "
              f"was seen succeeded; 0 failed requests")

        # 2. A rollback through replica B reaches replica A.
        status, body = call(b.base, "/admin/policies/v0/activate", {}, key=ADMIN_KEY)
        if status != 200:
            fail(f"rollback through replica B: {status} {body}")
        t = time.time()
        swapped = wait_until("replica A serves v0", lambda: a.version() == "v0", 2)
        print(f"  rollback through replica B reached replica A in {swapped - t:.2f} s")
        status, models = call(a.base, "/v1/models")
        pinned = next((m["id"] for m in models["data"] if m["id"].endswith("@" + new)), None) if status == 200 else None
        for replica in (a, b):
            status, body = call(replica.base, "/v1/chat/completions", {"model": pinned, "max_tokens": 4,
                                                                        "messages": [{"role": "user", "content": "hi"}]})
            if status != 200 or body["proxima"]["policy_version"] != new:
                fail(f"a request pinned to {pinned} on {replica.name}: {status} {body}")
        print(f"  requests pinned to {pinned} served it on both replicas while v0 serves")

        # 2b. The offline commands work on the shared database too, from a folder of their own: `train` publishes a
        # version there and in the database; `import-adapter` registers that version's PEFT adapter as another;
        # `policies list` finds v1's files in the database (this disk has none); `policies activate` makes the
        # imported version serve, and the replicas fetch its files from the database.
        cli_config = os.path.join(root, "cli.yaml")
        with open(cli_config, "w") as f:
            # the commands' phase settings (train) and ensemble shape (import-adapter) come from the configuration
            f.write("learner:\n  policies_dir: cli-policies\n  steps: 1\n  batch_size: 2\n  ensemble: 1\n  rank: 4\n")
        def cli(*arguments):
            run = subprocess.run([binary, *arguments, "--config", cli_config, "--database", url], cwd=root,
                                 capture_output=True, text=True, timeout=300)
            if run.returncode != 0:
                fail(f"proxima {' '.join(arguments)}: exit {run.returncode}: {run.stderr}")
            return run.stdout
        cli("train", "--model", model, "--threads", "1")
        trained_files = next(os.path.join(d, name) for d in [os.path.join(root, "cli-policies")] for name in os.listdir(d))
        imported_line = cli("import-adapter", trained_files, "--model", model)
        listing = {line.split("  ")[0]: line for line in cli("policies", "list").splitlines()}
        trained, imported = list(listing)[-2:]
        if (not listing.get("v0", "").endswith("base model") or not listing.get(new, "").endswith("in the database")
                or trained in ("v0", new) or not listing[trained].endswith("intact") or not listing[imported].endswith("intact")
                or not imported_line.startswith(f"{imported}: imported from")):
            fail(f"proxima import-adapter said {imported_line!r}; proxima policies list --database: expected v0 as the base "
                 f"model, {new} in the database and the trained and imported versions on this disk:\n" + "\n".join(listing.values()))
        cli("policies", "activate", imported)
        t = time.time()
        swapped = wait_until(f"both replicas serve {imported}", lambda: a.version() == imported and b.version() == imported, 30)
        print(f"  proxima train, import-adapter, policies list|activate --database: {trained} trained offline, its adapter "
              f"imported as {imported}, served by both replicas {swapped - t:.2f} s after the activation (files fetched "
              f"from the database)")

        # 3. The processes list themselves.
        def listed():
            status, body = call(a.base, "/admin/replicas", key=ADMIN_KEY, timeout=5)
            return body["data"] if status == 200 else []
        wait_until("four processes listed", lambda: len(listed()) == 4, 15)
        learners = [p["address"] for p in listed() if p["is_learner"]]
        if learners != [learner.base]:
            fail(f"/admin/replicas names {learners} as the learner, not {learner.base}")
        print("  /admin/replicas lists 4 processes, one learner")

        # 4. Replica A killed in the middle of a request: nothing acknowledged is lost.
        inflight = threading.Thread(target=call, args=(a.base, "/v1/chat/completions",
                                                       {"messages": [{"role": "user", "content": "Tell a long story."}],
                                                        "max_tokens": 200, "stream": True}), daemon=True)
        inflight.start()
        time.sleep(0.5)
        a.kill()
        check_acknowledged_are_stored(url, clients)
        print("  replica A killed (SIGKILL) mid-request")

        # 5. The learner killed in the middle of a phase: the standby takes over and the phase is failed.
        status, long_phase = call(b.base, "/admin/phases", {"steps": 400}, key=ADMIN_KEY)
        if status != 202:
            fail(f"starting a long phase through replica B: {status} {long_phase}")
        wait_until("the long phase runs", lambda: phase_status(b, long_phase["id"]).get("status") == "running", 60)
        learner.kill()
        killed = time.time()
        wait_until("the dead learner's phase is failed",
                   lambda: phase_status(b, long_phase["id"]).get("status") == "failed", 30)
        took_over = time.time()
        if "this process is the learner now" not in standby.log():
            fail("the standby did not say it took over:\n" + standby.log())
        status, next_phase = call(b.base, "/admin/phases", {}, key=ADMIN_KEY)
        if status != 202:
            fail(f"a phase after the takeover: {status} {next_phase} (the dead phase's pairs should be available)")
        wait_until("the standby runs the next phase",
                   lambda: phase_status(b, next_phase["id"]).get("status") in ("succeeded", "failed", "rejected"), 180)
        after = phase_status(b, next_phase["id"])
        if after["status"] != "succeeded":
            fail(f"the phase after the takeover ended {after['status']}: {after.get('error')}\n{standby.log()}")
        print(f"  learner killed (SIGKILL) mid-phase: the standby took over and failed the phase {took_over - killed:.1f} s "
              f"later; phase {next_phase['id']} trained {after['pairs_used']} pairs on it")

        # 6. PostgreSQL restarted: replica B reconnects and serves again.
        if options.pg_ctl:
            # The restarted server inherits pg_ctl's output: never a pipe this test would wait on.
            subprocess.run(shlex.split(options.pg_ctl) + ["restart", "-m", "fast", "-w"], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            restarted = time.time()
            wait_until("replica B serves after the restart",
                       lambda: call(b.base, "/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}],
                                                                      "max_tokens": 4})[0] == 200, 60)
            print(f"  PostgreSQL restarted: replica B served chat again {time.time() - restarted:.1f} s later")
        else:
            print("  PostgreSQL restart skipped (no --pg-ctl)")

        clients.stop()
        check_acknowledged_are_stored(url, clients)
        unexpected = [f for f in clients.failures if f[1] != "replica-a" and f[3] not in (503,)]
        if unexpected:
            fail(f"requests to the surviving replica failed other than with 503 during the restart: {unexpected[:5]}")
        print(f"cluster test passed in {time.time() - started:.0f} s")
        ok = True
    finally:
        if clients:
            clients.stop()
        for p in processes:
            p.stop()
        if not ok:
            for p in processes:
                print(f"--- {p.name} log (tail) ---\n{p.log()}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
        try:
            psql(options.database, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        except subprocess.CalledProcessError:
            pass


if __name__ == "__main__":
    main()
