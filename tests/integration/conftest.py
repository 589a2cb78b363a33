"""Fixtures that start real aiotel processes on loopback ports."""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).parent))


def aiotel_bin() -> str:
    return os.environ.get("AIOTEL_BIN", str(ROOT / "target" / "debug" / "aiotel"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Merged into every test config (aiotel merges repeated --config files as the
# Collector does): the health check that tells a test when aiotel is ready,
# and self-metrics on a port of the test's own.
COMMON = """
extensions:
  health_check: {endpoint: "127.0.0.1:HEALTH_PORT"}
service:
  extensions: [health_check]
  telemetry: {metrics: {address: "127.0.0.1:METRICS_PORT"}}
"""


class Aiotel:
    """One aiotel process with a config written from a template."""

    def __init__(self, workdir: Path, name: str, config: str, env=None):
        self.workdir = workdir
        self.name = name
        self.health_port = free_port()
        self.metrics_port = free_port()
        self.config_path = workdir / f"{name}.yaml"
        self.config_path.write_text(config)
        self.common_path = workdir / f"{name}.common.yaml"
        self.common_path.write_text(
            COMMON.replace("HEALTH_PORT", str(self.health_port)).replace("METRICS_PORT", str(self.metrics_port))
        )
        self.log_path = workdir / f"{name}.log"
        self.env = dict(os.environ, **(env or {}))
        self.proc = None

    def args(self, *before):
        """The command line: any configs given first, then the test's, then the common one."""
        cfgs = [*before, self.config_path, self.common_path]
        return [aiotel_bin()] + [a for c in cfgs for a in ("--config", str(c))]

    def start(self, wait=True):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self.args(),
            stdout=self.log,
            stderr=self.log,
            env=self.env,
        )
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}/", timeout=1) as r:
                    if r.status == 200:
                        return
            except Exception:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"{self.name} not ready:\n{self.log_path.read_text()}")

    def metrics(self) -> dict:
        """Self-metrics as {name{labels}: value}."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as r:
            text = r.read().decode()
        out = {}
        for line in text.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
        return out

    def metric_sum(self, name: str, **labels) -> float:
        total = 0.0
        for k, v in self.metrics().items():
            base, _, rest = k.partition("{")
            if base != name:
                continue
            if all(f'{lk}="{lv}"' in rest for lk, lv in labels.items()):
                total += v
        return total

    def stop(self, sig=signal.SIGTERM, timeout=60) -> int:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise
        return self.proc.returncode if self.proc else 0

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def workdir():
    with tempfile.TemporaryDirectory(prefix="aiotel-test-") as d:
        yield Path(d)


@pytest.fixture
def spawn(workdir):
    started = []

    def _spawn(name, config, env=None, wait=True):
        a = Aiotel(workdir, name, config, env)
        started.append(a)
        return a.start(wait=wait)

    yield _spawn
    for a in reversed(started):
        if a.proc and a.proc.poll() is None:
            a.proc.kill()
            a.proc.wait()


def read_jsonl(path: Path) -> list:
    if not path.exists():
        return []
    return [json.loads(l) for l in path.read_text().splitlines() if l.strip()]


def wait_until(fn, timeout=30, interval=0.1, what="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise TimeoutError(f"timed out waiting for {what}; last value: {last!r}")
