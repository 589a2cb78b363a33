"""A real Prometheus server (Debian's `prometheus`) on a free loopback port,
with its TSDB in the test's temp dir, and PromQL over its HTTP API."""

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

from conftest import free_port, wait_until


def prometheus_bin() -> str:
    path = shutil.which("prometheus")
    # The peer is installed by tests/run.sh; a missing one is a failure, never a skip.
    assert path, "the prometheus server is not installed (tests/run.sh installs it)"
    return path


class Prometheus:
    def __init__(self, workdir: Path, scrape_targets=(), remote_write=False, port=None, name="prom", ca_file=None, features=()):
        self.port = port or free_port()
        self.dir = workdir / name
        self.dir.mkdir(exist_ok=True)
        lines = ["global:", "  scrape_interval: 1s", "  evaluation_interval: 1s", "scrape_configs:"]
        if not scrape_targets:
            lines[-1] = "scrape_configs: []"
        for job, target in scrape_targets:
            lines += [
                f"  - job_name: {job}",
                # Keep the job and instance labels the exporter sets from the OTLP resource.
                "    honor_labels: true",
                "    scrape_interval: 1s",
                "    scrape_timeout: 1s",
                f"    static_configs: [{{targets: ['{target}']}}]",
            ]
            if ca_file:
                lines += ["    scheme: https", f"    tls_config: {{ca_file: '{ca_file}', server_name: localhost}}"]
        (self.dir / "prometheus.yml").write_text("\n".join(lines) + "\n")
        self.args = [
            prometheus_bin(),
            f"--config.file={self.dir / 'prometheus.yml'}",
            f"--storage.tsdb.path={self.dir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--log.level=warn",
        ]
        if remote_write:
            self.args.append("--web.enable-remote-write-receiver")
        for f in features:
            self.args.append(f"--enable-feature={f}")
        self.log_path = self.dir / "prometheus.log"
        self.proc = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=self.log)

        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError(f"prometheus exited:\n{self.log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as r:
                    return r.status == 200
            except Exception:
                return False

        wait_until(ready, timeout=60, what="prometheus ready")
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def query(self, promql: str) -> list:
        """An instant query's result vector as [(labels, value)]."""
        q = urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(f"{self.url}/api/v1/query?{q}", timeout=10) as r:
            body = json.load(r)
        assert body["status"] == "success", body
        res = body["data"]["result"]
        if body["data"]["resultType"] == "scalar":
            return [({}, float(res[1]))]
        return [(s["metric"], float(s["value"][1])) for s in res]

    def value(self, promql: str):
        """The single value of a query, or None while it has no result."""
        res = self.query(promql)
        assert len(res) <= 1, res
        return res[0][1] if res else None

    def wait_value(self, promql: str, expected: float, timeout=60, tol=1e-9):
        last = []

        def ok():
            v = self.value(promql)
            last[:] = [v]
            return v is not None and abs(v - expected) <= tol

        try:
            wait_until(ok, timeout=timeout, interval=0.5, what=f"{promql} == {expected}")
        except TimeoutError:
            raise AssertionError(f"{promql}: expected {expected}, last {last}")

    def exemplars(self, promql: str, seconds=600) -> list:
        """Exemplars of the last `seconds`, as [(series labels, exemplar labels, value)]."""
        now = time.time()
        q = urllib.parse.urlencode({"query": promql, "start": now - seconds, "end": now + 60})
        with urllib.request.urlopen(f"{self.url}/api/v1/query_exemplars?{q}", timeout=10) as r:
            body = json.load(r)
        assert body["status"] == "success", body
        return [(s["seriesLabels"], e["labels"], float(e["value"])) for s in body["data"] for e in s["exemplars"]]

    def targets_health(self):
        with urllib.request.urlopen(f"{self.url}/api/v1/targets", timeout=10) as r:
            body = json.load(r)
        return [(t["labels"].get("job"), t["health"], t.get("lastError")) for t in body["data"]["activeTargets"]]


def start_prometheus(request, workdir, **kw):
    p = Prometheus(workdir, **kw).start()
    request.addfinalizer(p.stop)
    return p
