"""A `proxima serve` for the live tests (pages_test.py, openwebui_bridge_test.py): the release binary on the
default model, a fresh database and policies folder in a temporary directory, a user key and an admin key,
learning by operator only, with small phases and a small gate so that a phase takes seconds."""

import os
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time
import urllib.request

USER_KEY = "live-user-key"
ADMIN_KEY = "live-admin-key"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    def __init__(self, binary, model):
        self.folder = tempfile.mkdtemp(prefix="proxima-live-")
        self.db = os.path.join(self.folder, "proxima.sqlite")
        config = os.path.join(self.folder, "proxima.yaml")
        with open(config, "w") as f:
            f.write(f"""
auth:
  user_keys: [{USER_KEY}]
  admin_keys: [{ADMIN_KEY}]
chat:
  max_tokens_default: 24
learner:
  automatic: false
  gate_threshold: 0
  gate_prompt_count: 4
  gate_max_tokens: 12
  steps: 10
  batch_size: 2
  ensemble: 1
  rank: 4
  targets: [q, v]
  learning_rate: 1.0e-4
  policies_dir: {self.folder}/policies
""")
        port = free_port()
        self.log_path = os.path.join(self.folder, "serve.log")
        log = open(self.log_path, "w")
        self.process = subprocess.Popen([os.path.abspath(binary), "serve", "--config", config, "--model", os.path.abspath(model),
                                         "--port", str(port), "--db", self.db], stdout=log, stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{port}"
        self.ok = False
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"proxima serve exited with {self.process.returncode}:\n" + open(self.log_path).read())
            try:
                with urllib.request.urlopen(self.base + "/ready", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        self.process.kill()
        raise SystemExit("proxima serve did not become ready in 120 s:\n" + open(self.log_path).read())

    def query(self, sql, *arguments):
        with sqlite3.connect(self.db) as c:
            return c.execute(sql, arguments).fetchall()

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        if self.ok:
            shutil.rmtree(self.folder, ignore_errors=True)
        else:
            print(f"kept {self.folder} (server log: {self.log_path})")
