"""Helpers for the Prometheus-scrape tests: real peers and a flat view of OTLP/JSON metrics."""

import subprocess
import time
import urllib.request
from pathlib import Path


def wait_http(url: str, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except Exception:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer")


def start_node_exporter(port: int, log: Path) -> subprocess.Popen:
    """Debian's node-exporter with a few light collectors."""
    p = subprocess.Popen(
        ["/usr/bin/prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{port}",
         "--collector.disable-defaults", "--collector.cpu", "--collector.loadavg", "--collector.meminfo",
         "--collector.time"],
        stdout=open(log, "ab"), stderr=subprocess.STDOUT)
    wait_http(f"http://127.0.0.1:{port}/metrics")
    return p


def start_prometheus(port: int, workdir: Path) -> subprocess.Popen:
    """A Prometheus server that scrapes nothing; its own /metrics is the target."""
    cfg = workdir / "prometheus.yml"
    cfg.write_text("global: {scrape_interval: 1h}\nscrape_configs: []\n")
    p = subprocess.Popen(
        ["/usr/bin/prometheus", f"--config.file={cfg}", f"--storage.tsdb.path={workdir / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=open(workdir / "prometheus.log", "ab"), stderr=subprocess.STDOUT)
    wait_http(f"http://127.0.0.1:{port}/metrics")
    return p


def stop(p: subprocess.Popen):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def attrs(lst) -> dict:
    out = {}
    for a in lst or []:
        v = a.get("value", {})
        out[a["key"]] = next(iter(v.values()), None) if v else None
    return out


def points(lines: list) -> list:
    """Every data point in OTLP/JSON export lines, flattened with its resource and metric."""
    out = []
    for line in lines:
        for rm in line.get("resourceMetrics", []):
            res = attrs(rm.get("resource", {}).get("attributes"))
            for sm in rm.get("scopeMetrics", []):
                for m in sm.get("metrics", []):
                    for kind in ("gauge", "sum", "histogram", "summary"):
                        if kind in m:
                            data = m[kind]
                            for p in data.get("dataPoints", []):
                                out.append({"resource": res, "name": m["name"], "kind": kind,
                                            "temporality": data.get("aggregationTemporality"),
                                            "monotonic": data.get("isMonotonic", False),
                                            "attrs": attrs(p.get("attributes")), "point": p,
                                            "unit": m.get("unit", ""), "description": m.get("description", "")})
    return out


def value(p: dict):
    pt = p["point"]
    if "asDouble" in pt:
        return float(pt["asDouble"])
    if "asInt" in pt:
        return float(pt["asInt"])
    return None


def flags(p: dict) -> int:
    return int(p["point"].get("flags", 0))
